"""The Kaplan–Meier figure's options (issue 24): the rows of the risk table
(``risk_table_rows``), the cumulative events ``fun = "event"``, and the risk table's
records checked against R's ``summary(survfit, times)`` on R survival's pbc."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cohortpress.kit import figures
from cohortpress.kit.records import Records
from cohortpress.testing import load_demo_cohort, run_analysis

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def drawn(monkeypatch):
    """What step_figure was asked to draw."""
    calls = []
    original = figures.step_figure

    def spy(curves, **kwargs):
        calls.append((curves, kwargs))
        return original(curves, **kwargs)

    monkeypatch.setattr(figures, "step_figure", spy)
    return calls


def test_the_risk_table_rows_are_the_ones_asked_for_and_come_from_the_records(drawn):
    section = run_analysis("survival", {"endpoints": ["os"], "risk_times": [0, 2, 4],
                                        "risk_table_rows": ["at_risk", "events", "censored"]})
    ((curves, kwargs),) = drawn
    rows = kwargs["risk_rows"]
    assert [r.title for r in rows] == ["Number at risk", "Cumulative events",
                                       "Cumulative censored"]
    records = Records(section.results)
    for row, stat in zip(rows, ("n.risk", "n.event.cum", "n.censor.cum")):
        for curve, numbers in zip(curves, row.numbers):
            assert numbers == [records.stat(context="risktable", stat_name=stat,
                                            variable="os", variable_level=t,
                                            group_level=curve.label) for t in (0.0, 2.0, 4.0)]


def test_by_default_the_table_has_the_numbers_at_risk_only(drawn):
    run_analysis("survival", {"endpoints": ["os"]})
    ((_, kwargs),) = drawn
    assert [r.title for r in kwargs["risk_rows"]] == ["Number at risk"]
    assert kwargs["style"] == "journal"


def test_fun_event_draws_one_minus_survival_and_says_so(drawn):
    section = run_analysis("survival", {"endpoints": ["os"], "fun": "event"})
    ((curves, kwargs),) = drawn
    assert kwargs["ylabel"] == "Cumulative events (%)"
    assert all(c.start == 0.0 and (c.y >= 0).all() for c in curves)
    records = Records(section.results)
    assert records.stat(context="survfit", stat_name="figure.fun", variable="os") == "event"
    (figure,) = [b for b in section.blocks if b.kind == "figure"]
    assert figure.caption.startswith("Cumulative events (1 \u2212 Kaplan\u2013Meier) of ")


def test_a_survival_figure_records_no_fun():
    section = run_analysis("survival", {"endpoints": ["os"]})
    assert Records(section.results).select(stat_name="figure.fun") == []


@pytest.mark.parametrize("option, key, why", [
    ("risk_table = false\nrisk_table_rows = [\"events\"]", "risk_table_rows",
     "applies to the risk table; risk_table = false"),
    ("fun = \"event\"", "fun", "applies to Kaplan\u2013Meier estimates; every endpoint of "
     "this section has competing events (cumulative incidence with Gray's test)"),
])
def test_figure_options_that_cannot_apply_are_refused(cp, tmp_path, capsys, option, key, why):
    endpoint = "os" if key == "risk_table_rows" else "efs"
    project = cp.Project(tmp_path / "p", toml=cp.DEMO_TOML + (
        f'[[section]]\nid = "s"\nanalysis = "survival"\nendpoints = ["{endpoint}"]\n'
        f'{option}\n'))
    result = cp.run_cli(["validate", project.config, "--quiet"], capsys)
    assert result.code == 2
    assert result.err_lines == [f"cohortpress: error: {project.config}: key "
                                f"'section[1].{key}': {why}"]


def test_the_risk_table_agrees_with_r_on_pbc():
    expected = json.loads((ROOT / "tests" / "fixtures" / "risktable_pbc.json").read_text())
    cohort = load_demo_cohort(ROOT / "examples" / "pbc" / "report.toml")
    section = run_analysis("survival", {"endpoints": ["os"], "by": "treatment",
                                        "risk_times": expected["times"]}, cohort=cohort)
    records = Records(section.results)
    for arm, columns in expected["groups"].items():
        for stat, values in columns.items():
            got = [records.stat(context="risktable", stat_name=stat, variable="os",
                                variable_level=float(t), group_level=arm)
                   for t in expected["times"]]
            assert got == values, (arm, stat)
