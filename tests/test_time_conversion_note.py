"""The survival table states a conversion of times only where one happened, and which.

results.json records, per endpoint, the unit of the data (``time.unit.data``: days, months,
years, or ``dates``) next to the unit shown (``time.unit``); the footnote is made from those
two records alone.
"""

from __future__ import annotations

import pytest

from cohortpress.kit.records import Records
from cohortpress.kit.survival_table import SurvivalLayout, survival_tables

DATES = ('[endpoints.dfs]\nlabel = "Disease-free survival"\nstart = "dx"\n'
         'events = ["relapse", "death"]\nlast_contact = "last"\nunit = "{unit}"\n')


def _section(cp, tmp_path, toml: str, endpoints: list[str]):
    from cohortpress.app.load import load_cohort
    from cohortpress.app.run import analyse, section_context

    body = ", ".join(f'"{name}"' for name in endpoints)
    project = cp.Project(tmp_path / "p", toml=toml + f'[[section]]\nid = "s"\n'
                                                     f'analysis = "survival"\n'
                                                     f'endpoints = [{body}]\n')
    plan = project.plan()
    planned = plan.sections[-1]
    return analyse(planned, load_cohort(plan), section_context(planned, plan.config))


def _notes(section) -> list[str]:
    table = next(b for b in section.blocks if hasattr(b, "footnotes"))
    return [note.text for note in table.footnotes]


def _os(cp, time_unit: str, unit: str) -> str:
    return cp.DEMO_TOML.replace('time_unit = "months"\nunit = "years"',
                                f'time_unit = "{time_unit}"\nunit = "{unit}"')


CONVERTED = "Times converted from"


@pytest.mark.parametrize("time_unit, unit, note", [
    ("months", "months", None),
    ("days", "days", None),
    ("years", "years", None),
    ("months", "years", "Times converted from months to years of 365.25 days."),
    ("days", "months", "Times converted from days to months of 365.25/12 days."),
    ("days", "years", "Times converted from days to years of 365.25 days."),
    ("months", "days", "Times converted from months of 365.25/12 days to days."),
])
def test_a_time_column_is_noted_only_when_converted(cp, tmp_path, time_unit, unit, note):
    section = _section(cp, tmp_path, _os(cp, time_unit, unit), ["os"])
    records = Records(section.results)
    assert records.stat(context="survfit", stat_name="time.unit.data", variable="os") \
        == time_unit
    assert records.stat(context="survfit", stat_name="time.unit", variable="os") == unit
    notes = _notes(section)
    conversions = [n for n in notes if "365.25" in n or n.startswith(CONVERTED)]
    assert conversions == ([note] if note else []), notes


@pytest.mark.parametrize("unit, note", [
    ("days", None),
    ("months", "Time from dates in months of 365.25/12 days."),
    ("years", "Time from dates in years of 365.25 days."),
])
def test_dates_are_noted_in_the_unit_shown(cp, tmp_path, unit, note):
    section = _section(cp, tmp_path, cp.DEMO_TOML + DATES.format(unit=unit), ["dfs"])
    assert Records(section.results).stat(context="survfit", stat_name="time.unit.data",
                                         variable="dfs") == "dates"
    conversions = [n for n in _notes(section) if "365.25" in n or "dates" in n]
    assert conversions == ([note] if note else [])


def test_endpoints_converted_differently_are_each_named(cp, tmp_path):
    toml = _os(cp, "months", "months") + DATES.format(unit="years")
    section = _section(cp, tmp_path, toml, ["os", "dfs"])
    conversions = [n for n in _notes(section) if "365.25" in n]
    # os is shown in the months of its data: only dfs is named.
    assert conversions == ["Disease-free survival: time from dates in years of 365.25 days."]


def test_two_conversions_to_one_unit_are_each_named(cp, tmp_path):
    toml = _os(cp, "months", "years") + DATES.format(unit="years")
    section = _section(cp, tmp_path, toml, ["os", "dfs"])
    conversions = [n for n in _notes(section) if "365.25" in n]
    assert conversions == ["Overall survival: times converted from months to years of 365.25 "
                           "days.",
                           "Disease-free survival: time from dates in years of 365.25 days."]


def test_the_note_comes_from_the_records_alone(cp, tmp_path):
    section = _section(cp, tmp_path, _os(cp, "days", "months"), ["os"])
    layout = SurvivalLayout(caption=None, landmarks=())
    rebuilt = survival_tables(section.results, layout)[0]
    assert "Times converted from days to months of 365.25/12 days." in \
        [n.text for n in rebuilt.footnotes]
    without = [r for r in section.results if r.stat_name != "time.unit.data"]
    assert not [n for n in survival_tables(without, layout)[0].footnotes if "365.25" in n.text]


def test_one_conversion_shared_by_every_endpoint_is_said_once(cp, tmp_path):
    toml = _os(cp, "months", "years") + DATES.format(unit="years").replace(
        'start = "dx"\nevents = ["relapse", "death"]\nlast_contact = "last"',
        'time = "os_months"\ntime_unit = "months"\nevent = "os_status"\n'
        'event_codes = ["dead"]\ncensor_codes = ["alive"]')
    section = _section(cp, tmp_path, toml, ["os", "dfs"])
    conversions = [n for n in _notes(section) if "365.25" in n]
    assert conversions == ["Times converted from months to years of 365.25 days."]
