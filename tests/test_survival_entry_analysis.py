"""Delayed entry in the survival analysis: pbc on the age scale (survival's pbc, entry = age
at randomisation, exit = age at death, transplant or last contact) and lung with a synthetic
entry, from the config to the records against R (tests/fixtures/r/survival_entry.R); the
footnotes, figure captions and methods that say entry was used; Gray's test refused; the
Fine–Gray analysis refusing an endpoint with entry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohortpress.api.blocks import Figure, Table
from cohortpress.common.errors import UserError
from cohortpress.testing import run_analysis

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "survival_entry.json").read_text())
REL = 1e-9
LEVELS = ["D-penicillamine", "Placebo"]


def pbc_project(cp, root: Path, extra: str = ""):
    data = FIXTURE["pbc_age"]["data"]
    lines = ["id,age_entry,age_exit,status,trt"]
    for k, (e, t, s, g) in enumerate(zip(data["entry"], data["time"], data["status"],
                                         data["trt"])):
        lines.append(f"{k + 1},{e!r},{t!r},{s},{LEVELS[g]}")
    toml = f"""
[report]
title = "Age scale"
[cohort]
path = "cohort.csv"
id = "id"
group = "trt"
[variables.trt]
label = "Treatment"
levels = {json.dumps(LEVELS)}
[variables.age_entry]
label = "Age at randomisation"
[endpoints.death]
label = "Death"
time = "age_exit"
time_unit = "years"
event = "status"
event_codes = [1]
censor_codes = [0, 2]
entry = "age_entry"
[endpoints.death_cr]
label = "Death or transplant"
time = "age_exit"
time_unit = "years"
event = "status"
event_codes = [1]
competing_codes = [2]
cause_labels = {{ "2" = "Transplant" }}
entry = "age_entry"
{extra}"""
    return cp.Project(root, toml=toml, csv="\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def pbc(cp, tmp_path_factory):
    return pbc_project(cp, tmp_path_factory.mktemp("pbc")).cohort()


def stat(section, context, name, group_level=None, level=None, variable=None):
    found = [r.stat for r in section.results if r.context == context and r.stat_name == name
             and r.group_level == group_level and r.variable_level == level
             and (variable is None or r.variable == variable)]
    assert len(found) == 1, (context, name, group_level, level, found)
    return found[0]


def close(ours, theirs, rel=REL):
    assert ours == pytest.approx(theirs, rel=rel, abs=1e-12)


@pytest.fixture(scope="module")
def km_section(pbc):
    return run_analysis("survival", {"endpoints": ["death"], "landmarks": [40, 50, 60, 70, 80],
                                     "rmst": True, "rmst_horizon": 70}, pbc)


def test_kaplan_meier_landmarks_medians_and_logrank_match_r(km_section):
    ref = FIXTURE["pbc_age"]
    for code, level in enumerate(LEVELS):
        curve = ref["km"]["groups"][code]
        close(stat(km_section, "survfit", "median", level), curve["median"])
        close(stat(km_section, "survfit", "median.conf.low", level), curve["median_low"])
    marks = ref["km"]["landmarks"]
    for k, t in enumerate(marks["time"]):
        close(stat(km_section, "survfit", "surv", None, float(t)), marks["surv"][k])
        close(stat(km_section, "survfit", "std.err", None, float(t)), marks["std_err"][k])
        assert stat(km_section, "survfit", "n.risk", None, float(t)) == marks["n_risk"][k]
    close(stat(km_section, "survdiff", "statistic"), ref["by_trt"]["logrank"]["score_test"])
    close(stat(km_section, "survdiff", "p.value"), ref["by_trt"]["logrank"]["p"])
    close(stat(km_section, "rmst", "estimate"), ref["km"]["rmst"]["rmean"])
    close(stat(km_section, "rmst", "std.error"), ref["km"]["rmst"]["se"])
    close(stat(km_section, "followup", "median"), ref["km"]["reverse_from_entry"]["median"])
    close(stat(km_section, "followup", "conf.low"), ref["km"]["reverse_from_entry"]["low"])
    assert stat(km_section, "followup", "origin") == "entry"
    assert stat(km_section, "survfit", "entry", variable="death") == "age_entry"
    assert stat(km_section, "survfit", "entry.label") == "Age at randomisation"


def test_tables_figures_and_methods_say_entry_was_used(km_section):
    note = ("Delayed entry at age at randomisation: patients counted at risk from entry "
            "(left truncation), as R's Surv(entry, exit, event).")
    tables = [b for b in km_section.blocks if isinstance(b, Table)]
    assert len(tables) == 2  # Kaplan-Meier and RMST
    for table in tables:
        assert note in [n.text for n in table.footnotes]
    figure = next(b for b in km_section.blocks if isinstance(b, Figure))
    assert figure.caption.endswith("Delayed entry at age at randomisation: patients at risk "
                                   "from entry.")
    methods = " ".join(km_section.methods)
    assert ("Death was analysed with delayed entry at age at randomisation; patients were "
            "counted at risk from entry (left truncation)") in methods
    assert "Median follow-up from entry was estimated" in methods
    notes = " ".join(n.text for n in tables[0].footnotes)
    assert "median follow-up from entry" in notes


def test_weighted_stratified_and_trend_tests_with_entry(cp, tmp_path):
    data = FIXTURE["lung"]["data"]
    lines = ["id,entry,time,event,sex,ecog"]
    for k, row in enumerate(zip(data["entry"], data["time"], data["event"], data["sex"],
                                data["ecog"])):
        lines.append(f"{k + 1},{row[0]},{row[1]},{row[2]},{['Male', 'Female'][row[3]]},"
                     f"{row[4]}")
    toml = """
[report]
title = "Lung"
[cohort]
path = "cohort.csv"
id = "id"
[variables.sex]
levels = ["Male", "Female"]
[variables.ecog]
kind = "categorical"
levels = [0, 1, 2]
[endpoints.os]
time = "time"
time_unit = "days"
event = "event"
entry = "entry"
"""
    cohort = cp.Project(tmp_path, toml=toml, csv="\n".join(lines) + "\n").cohort()
    ref = FIXTURE["lung"]
    fh = run_analysis("survival", {"endpoints": ["os"], "by": "sex", "rho": 0, "gamma": 1,
                                   "figure": False}, cohort)
    close(stat(fh, "survdiff", "statistic"), ref["by_sex"]["fh01"]["chisq"])
    stratified = run_analysis("survival", {"endpoints": ["os"], "by": "sex", "strata": "ecog",
                                           "figure": False}, cohort)
    close(stat(stratified, "survdiff", "statistic"),
          ref["by_sex_strata_ecog"]["logrank"]["score_test"])
    trend = run_analysis("survival", {"endpoints": ["os"], "by": "ecog", "test": "trend",
                                      "pairwise": True, "figure": False}, cohort)
    close(stat(trend, "survdiff", "statistic"), ref["by_ecog"]["trend"]["score_test"])
    pairs = [r.stat for r in trend.results if r.context == "survdiff.pairwise"
             and r.stat_name == "p.adjusted"]
    np.testing.assert_allclose(pairs, ref["by_ecog"]["pairs_holm"], rtol=REL)


def test_cumulative_incidence_with_entry_and_gray_refused(pbc):
    section = run_analysis("survival", {"endpoints": ["death_cr"], "landmarks": [45, 55, 65]},
                           pbc)
    ref = FIXTURE["pbc_age"]["cif"]
    for code, level in enumerate(LEVELS):
        for index, context in enumerate(("cuminc", "cuminc.cause2")):
            for k, t in enumerate((45, 55, 65)):
                close(stat(section, context, "estimate", level, float(t)),
                      ref["groups"][code]["landmark_estimate"][index][k])
                close(stat(section, context, "std.error", level, float(t)),
                      ref["groups"][code]["landmark_std_err"][index][k])
    data = FIXTURE["pbc_age"]["data"]
    entry, exit_ = np.array(data["entry"]), np.array(data["time"])
    assert stat(section, "cuminc", "n.risk", None, 55.0) == int(
        ((entry < 55) & (exit_ >= 55)).sum())
    assert not [r for r in section.results if r.stat_name == "p.value"]
    assert any("Gray's test is not given with delayed entry" in w for w in section.warnings)
    methods = " ".join(section.methods)
    assert "infinitesimal-jackknife variance" in methods and "Gray's test" not in methods
    assert "Death or transplant was analysed with delayed entry" in methods
    table = next(b for b in section.blocks if isinstance(b, Table))
    assert any("Delayed entry at age at randomisation" in n.text for n in table.footnotes)


def test_finegray_refuses_an_endpoint_with_entry(cp, tmp_path):
    project = pbc_project(cp, tmp_path, """
[[section]]
id = "fg"
analysis = "finegray"
endpoint = "death_cr"
covariates = ["trt"]
""")
    with pytest.raises(UserError) as caught:
        project.plan()
    line = caught.value.one_line()
    assert "delayed entry" in line and "age_entry" in line and "\n" not in line


def test_figure_risk_tables_count_patients_entered_and_followed(km_section, pbc):
    data = FIXTURE["pbc_age"]["data"]
    entry, exit_, trt = (np.array(data[k]) for k in ("entry", "time", "trt"))
    risk = [r for r in km_section.results if r.context == "risktable"
            and r.stat_name == "n.risk"]
    assert risk
    for r in risk:
        rows = trt == LEVELS.index(r.group_level)
        t = r.variable_level
        assert r.stat == int(((entry[rows] < t) & (exit_[rows] >= t)).sum()), r
    assert any(r.variable_level == 0.0 and r.stat == 0 for r in risk)  # nobody at age 0


def test_exact_risk_lookup_between_entries_and_exits():
    from cohortpress.kit.delayed_entry import exact_risk
    from cohortpress.kit.figures import Curve, at_risk

    time, entry = np.array([2.0, 3.0, 4.0, 5.0]), np.array([0.0, 2.5, 0.0, 3.0])
    points, n = exact_risk(time, entry)
    curve = Curve("x", time, np.ones(4), risk_time=points, risk_n=n)
    times = [0.0, 1.0, 2.0, 2.7, 3.0, 3.5, 4.5, 5.0, 6.0]
    expected = [int(((entry < t) & (time >= t)).sum()) for t in times]
    assert at_risk(curve, times) == expected


def test_overview_follow_up_counts_from_entry(pbc):
    section = run_analysis("overview", {"endpoints": ["death"]}, pbc)
    data = FIXTURE["pbc_age"]["data"]
    followup = np.array(data["time"]) - np.array(data["entry"])
    close(stat(section, "overview", "min", variable="death"), followup.min())
    close(stat(section, "overview", "max", variable="death"), followup.max())
