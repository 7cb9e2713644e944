"""The restricted mean survival time in the survival analysis: whole builds against R
(tests/fixtures/r/rmst.R), the table from its records, the footnotes and methods, and the
options' errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohortpress import hookimpl
from cohortpress.api.blocks import Table
from cohortpress.api.results import Result
from cohortpress.api.sections import SectionContext
from cohortpress.app.build import Progress, build
from cohortpress.app.plugins import make_plugins
from cohortpress.kit.rmst_table import rmst_methods, rmst_tables
from cohortpress.testing import r_values, run_analysis

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "rmst.json").read_text())
REL = 1e-6

#: Two cohorts of R's survival package, their groups' names in R's order (code 0 first).
COHORTS = {"pbc_trt": ("trt", ["D-penicillamine", "Placebo"]),
           "veteran_trt": ("trt", ["Standard", "Test"])}


class _StubPdf:
    """The results file does not depend on the PDF: a placeholder keeps the build fast."""

    @hookimpl
    def cohortpress_render_pdf(self, html, output, settings):
        Path(output).write_bytes(b"%PDF-1.4\n% rmst test stub\n%%EOF\n")
        return True


def write_project(root: Path, name: str, section: str) -> Path:
    by, levels = COHORTS[name]
    data = FIXTURE[name]["data"]
    lines = ["id,time,status," + by]
    for k, (t, e, g) in enumerate(zip(data["time"], data["event"], data["group"])):
        lines.append(f"{k + 1},{t:.15g},{e},{levels[g]}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "cohort.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = root / "report.toml"
    config.write_text(f"""\
[report]
title = "RMST"

[cohort]
path = "cohort.csv"
id = "id"
group = "{by}"

[variables.{by}]
label = "Treatment"
levels = {json.dumps(levels)}

[endpoints.os]
label = "Overall survival"
time = "time"
time_unit = "days"
event = "status"

[[section]]
id = "survival"
title = "Survival"
analysis = "survival"
endpoints = ["os"]
figure = false
{section}
""", encoding="utf-8")
    return config


def build_results(root: Path, name: str, section: str):
    plugins = make_plugins(entry_points=False)
    plugins.manager.register(_StubPdf(), name="rmst_stub_pdf")
    outcome = build(write_project(root, name, section), root / "out",
                    progress=Progress(quiet=True), plugins=plugins)
    results = json.loads((root / "out" / "results.json").read_text(encoding="utf-8"))
    return outcome, results["results"]


def stat(records, context, stat_name, group_level=None):
    found = [r for r in records if r["context"] == context and r["stat_name"] == stat_name
             and r["group_level"] == group_level]
    assert len(found) == 1, (context, stat_name, group_level, found)
    return found[0]["stat"]


def assert_rel(ours, r_value):
    assert ours == pytest.approx(float(r_values(r_value)[0]), rel=REL, abs=0)


@pytest.fixture(scope="module")
def pbc_build(tmp_path_factory):
    return build_results(tmp_path_factory.mktemp("pbc"), "pbc_trt",
                         "rmst = true\nrmst_horizon = 1826.25")


def test_whole_build_matches_r(pbc_build):
    """config -> results.json on survival's pbc by treatment, tau = 5 years of days."""
    outcome, records = pbc_build
    case = FIXTURE["pbc_trt"]["cases"][1]
    assert case["tau"] == 1826.25
    _, levels = COHORTS["pbc_trt"]
    assert stat(records, "rmst", "horizon") == 1826.25
    assert stat(records, "rmst", "horizon.choice") == "stated"
    for k, level in enumerate(levels):
        assert_rel(stat(records, "rmst", "estimate", level), case["groups"]["rmean"][k])
        assert_rel(stat(records, "rmst", "std.error", level), case["groups"]["se"][k])
    assert_rel(stat(records, "rmst", "estimate"), case["overall"]["rmean"])
    assert_rel(stat(records, "rmst", "std.error"), case["overall"]["se"])
    assert stat(records, "rmst", "reference") == levels[0]
    expected = case["comparisons"][0]
    for context, names in (("rmst.diff", {"estimate": "diff", "std.error": "diff_se",
                                          "conf.low": "diff_low", "conf.high": "diff_high",
                                          "p.value": "diff_p"}),
                           ("rmst.ratio", {"estimate": "ratio", "std.error": "log_ratio_se",
                                           "conf.low": "ratio_low",
                                           "conf.high": "ratio_high", "p.value": "ratio_p"})):
        for ours, theirs in names.items():
            assert_rel(stat(records, context, ours, levels[1]), expected[theirs])


def test_default_horizon_is_stated(tmp_path):
    outcome, records = build_results(tmp_path, "veteran_trt", "rmst = true")
    assert stat(records, "rmst", "horizon") == FIXTURE["veteran_trt"]["default_tau"] == 553
    assert stat(records, "rmst", "horizon.choice") == "default"
    case = FIXTURE["veteran_trt"]["cases"][0]
    for k, level in enumerate(COHORTS["veteran_trt"][1]):
        assert_rel(stat(records, "rmst", "estimate", level), case["groups"]["rmean"][k])
        assert_rel(stat(records, "rmst", "std.error", level), case["groups"]["se"][k])
    section = next(s for s in outcome.sections if s.id == "survival")
    table = next(b for b in section.blocks if isinstance(b, Table) and b.name == "rmst")
    notes = [n.text for n in table.footnotes]
    assert "Overall survival: \u03c4 = 553 days, the smallest of the groups' last follow-up " \
           "times (the default)." in notes
    assert any("The restricted mean survival time (RMST) up to a horizon of 553 days, the "
               "smallest of the groups' last follow-up times, was estimated" in sentence
               for sentence in section.methods)


# --------------------------------------------------------------------------- tables


def round_trip(results) -> list[Result]:
    return [Result(**record.as_dict()) for record in results]


DEMO_CASES = {
    "by-stage": {"endpoints": ["os"], "by": "stage", "rmst": True, "figure": False},
    "by-sex-stated": {"endpoints": ["os"], "by": "sex", "rmst": True, "rmst_horizon": 2,
                      "conf_level": 0.9, "time_digits": 2, "figure": False},
    "ungrouped": {"endpoints": ["os"], "by": None, "rmst": True, "figure": False},
    "no-overall": {"endpoints": ["os"], "rmst": True, "overall": False, "figure": False},
}


def demo_section(options):
    analysis = make_plugins(entry_points=False).analysis("survival")
    from cohortpress.testing import load_demo_cohort

    cohort = load_demo_cohort()
    if "by" in options and options["by"] is None:
        options = {k: v for k, v in options.items() if k != "by"}
        cohort = _without_group(cohort)
    return run_analysis(analysis, options, cohort)


def _without_group(cohort):
    import dataclasses

    return dataclasses.replace(cohort, group=None) if dataclasses.is_dataclass(cohort) \
        else cohort


@pytest.mark.parametrize("case", sorted(DEMO_CASES))
def test_rmst_table_is_its_records(case):
    section = demo_section(DEMO_CASES[case])
    shown = [b for b in section.blocks if isinstance(b, Table) and b.name == "rmst"]
    assert len(shown) == 1
    rebuilt = rmst_tables(round_trip(section.results), DEMO_CASES[case].get("time_digits", 1))
    assert rebuilt == tuple(shown)
    assert rmst_methods(round_trip(section.results))[0] in section.methods


def test_more_than_two_groups_are_compared_with_the_first():
    section = demo_section(DEMO_CASES["by-stage"])
    records = [r for r in section.results if r.context == "rmst.diff"
               and r.stat_name == "estimate"]
    levels = [r.stat for r in section.results if r.context == "rmst"
              and r.stat_name == "row.label" and r.group_level is not None]
    assert [r.group_level for r in records] == levels[1:]
    reference = next(r.stat for r in section.results if r.context == "rmst"
                     and r.stat_name == "reference")
    assert reference == levels[0]
    table = next(b for b in section.blocks if isinstance(b, Table) and b.name == "rmst")
    assert any(f"Against {reference}, the first group" in n.text for n in table.footnotes)


def test_a_record_changed_changes_the_table():
    section = demo_section(DEMO_CASES["by-sex-stated"])
    records = round_trip(section.results)
    target = next(r for r in records if r.context == "rmst.diff" and r.stat_name == "p.value")
    changed = [Result(**{**r.as_dict(), "formatted": "0.999"}) if r is target else r
               for r in records]
    assert "0.999" in str(rmst_tables(changed, 2)[0].body)
    assert "0.999" not in str(rmst_tables(records, 2)[0].body)


def test_no_rmst_no_table_no_sentence():
    section = demo_section({"endpoints": ["os"], "figure": False})
    assert not any(r.context.startswith("rmst") for r in section.results)
    assert not any(isinstance(b, Table) and b.name == "rmst" for b in section.blocks)
    assert not any("restricted mean" in s for s in section.methods)


def test_methods_for_two_endpoints_name_each_horizon():
    records = []
    for name, label, horizon, choice in (("os", "Overall survival", 5.0, "stated"),
                                         ("pfs", "Progression-free survival", 2.5, "stated")):
        records += [Result("rmst", "label", label, variable=name),
                    Result("rmst", "horizon.choice", choice, variable=name),
                    Result("rmst", "horizon", horizon, variable=name,
                           formatted=f"{horizon:g} years")]
    sentence = rmst_methods(records)[0]
    assert sentence.startswith("The restricted mean survival time (RMST) up to a horizon of "
                               "5 years for overall survival and 2.5 years for "
                               "progression-free survival, set in advance, was estimated")
    assert sentence.endswith("normal confidence intervals.")


# --------------------------------------------------------------------------- errors


def test_horizon_beyond_a_groups_follow_up_is_refused_before_the_run(cp, tmp_path, capsys):
    config = write_project(tmp_path, "veteran_trt", "rmst = true\nrmst_horizon = 600")
    result = cp.run_cli(["validate", config], capsys)
    assert result.code == 2
    errors = [line for line in result.err_lines if "loaded" not in line]
    assert len(errors) == 1
    line = errors[0]
    assert "rmst_horizon 600 days is beyond the last follow-up of group 'Standard' of " \
           "endpoint 'os' (553 days)" in line
    assert "rmst_extend = true" in line and "Traceback" not in result.err


def test_extended_horizon_is_footnoted(tmp_path):
    outcome, records = build_results(tmp_path, "veteran_trt",
                                     "rmst = true\nrmst_horizon = 1200\nrmst_extend = true")
    case = FIXTURE["veteran_extended"]["cases"][0]
    for k, level in enumerate(COHORTS["veteran_trt"][1]):
        assert_rel(stat(records, "rmst", "estimate", level), case["groups"]["rmean"][k])
        assert_rel(stat(records, "rmst", "std.error", level), case["groups"]["se"][k])
        assert stat(records, "rmst", "extended", level) is True
    section = next(s for s in outcome.sections if s.id == "survival")
    table = next(b for b in section.blocks if isinstance(b, Table) and b.name == "rmst")
    assert any("carried forward" in n.text and "Standard 553.0 days" in n.text
               for n in table.footnotes)


@pytest.mark.parametrize(("keys", "key", "why"), [
    ("rmst_horizon = 365", "rmst_horizon", "applies only with rmst = true"),
    ("rmst_extend = true", "rmst_extend", "applies only with rmst = true"),
])
def test_detail_without_rmst_is_an_error(cp, tmp_path, capsys, keys, key, why):
    config = write_project(tmp_path, "veteran_trt", keys)
    result = cp.run_cli(["validate", config], capsys)
    assert result.code == 2
    assert f"section[0].{key}" in result.err and why in result.err


def test_rmst_on_a_competing_risks_endpoint_is_an_error(cp, tmp_path, capsys):
    project = cp.Project(tmp_path, cp.DEMO_TOML + """
[[section]]
id = "efs"
analysis = "survival"
title = "EFS"
endpoints = ["efs"]
rmst = true
""")
    result = cp.run_cli(["validate", project.config], capsys)
    assert result.code == 2
    assert "section[1].rmst" in result.err and "competing events" in result.err


def test_horizon_must_be_positive(cp, tmp_path, capsys):
    config = write_project(tmp_path, "veteran_trt", "rmst = true\nrmst_horizon = 0")
    result = cp.run_cli(["validate", config], capsys)
    assert result.code == 2 and "rmst_horizon" in result.err


def test_the_horizon_record_is_the_number_used():
    section = demo_section(DEMO_CASES["by-sex-stated"])
    horizon = next(r for r in section.results if r.context == "rmst" and r.stat_name == "horizon")
    assert horizon.stat == 2.0 and horizon.formatted == "2 years"
    estimates = [r.stat for r in section.results if r.context == "rmst"
                 and r.stat_name == "estimate"]
    assert all(0 < e <= 2.0 for e in estimates) and np.all(np.isfinite(estimates))


def test_ungrouped_default_horizon_is_the_last_follow_up():
    section = demo_section(DEMO_CASES["ungrouped"])
    table = next(b for b in section.blocks if isinstance(b, Table) and b.name == "rmst")
    assert [row.cells[0].text for row in table.body] == ["Overall survival, to 8.44 years",
                                                         "All patients"]
    assert any(n.text.endswith("the last follow-up time (the default).")
               for n in table.footnotes)
    assert any(", the last follow-up time, was estimated" in s for s in section.methods)
    assert not any(r.context in ("rmst.diff", "rmst.ratio") for r in section.results)
