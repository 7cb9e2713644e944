"""The cox analysis on counting-process data: a long-format cohort (``cohort.rows =
"intervals"``, several (start, stop] rows per patient) and delayed entry, against R.

R: tests/fixtures/r/cox_counting.R. survival's heart (the Stanford transplant data, transplant
time-varying) is built with robust = true (clustered by patient, as coxph(..., cluster =
id)) and with the model variance; lung with a synthetic entry time with robust = true. The
rules a long-format cohort must keep, and the analyses that refuse one, are tested too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohortpress.app.build import Progress, build
from cohortpress.common.errors import ConfigError, DataError

HERE = Path(__file__).parent
COHORTS = HERE / "data" / "r_cohorts"
FIXTURE = json.loads((HERE / "fixtures" / "cox_counting.json").read_text())
CASES = {case["name"]: case for case in FIXTURE["cases"]}
RTOL = 1e-6


def close(ours, theirs, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=rtol,
                               atol=0)


def _build(config: Path, out: Path):
    outcome = build(config, out, progress=Progress(quiet=True))
    assert outcome.exit_code == 0
    return outcome, json.loads((out / "results.json").read_text())["results"]


@pytest.fixture(scope="module")
def heart(tmp_path_factory):
    return _build(COHORTS / "heart.toml", tmp_path_factory.mktemp("heart") / "report")


def _one(records, section, **where):
    found = [r for r in records if r["section"] == section and r["context"] == "coxph"
             and all(r[k] == v for k, v in where.items())]
    assert len(found) == 1, (section, where, found)
    return found[0]["stat"]


HEART_TERMS = [("age", None), ("year", None), ("surgery", "1"), ("transplant", "1")]


@pytest.mark.parametrize("section, case, ties", [("cox_by_patient", "heart_cluster", "efron"),
                                                 ("cox_model_se", "heart", "breslow")])
def test_long_format_build_matches_coxph(heart, section, case, ties):
    _, records = heart
    r = CASES[case]["fits"][ties]
    for j, (variable, level) in enumerate(HEART_TERMS):
        close([_one(records, section, variable=variable, variable_level=level,
                    group_level="multivariable", stat_name=s)
               for s in ("estimate", "std.error", "statistic", "p.value", "conf.low",
                         "conf.high")],
              [r["coef"][j], r["se"][j], r["z"][j], r["p"][j], r["conf_low"][j],
               r["conf_high"][j]])
    model = dict(variable="death", group="model", group_level="multivariable")
    close([_one(records, section, stat_name=s, **model)
           for s in ("lr.statistic", "wald.statistic", "wald.p.value", "score.statistic",
                     "concordance", "concordance.std.error")],
          [r["lr"]["statistic"], r["wald"]["statistic"], r["wald"]["p"],
           r["score"]["statistic"], r["concordance"], r["concordance_se"]])
    if section == "cox_by_patient":
        close([_one(records, section, stat_name="robust.score.statistic", **model)],
              [r["robust_score"]["statistic"]])
        assert _one(records, section, stat_name="n.cluster", **model) == 103
        assert _one(records, section, stat_name="cluster", variable="death",
                    group=None) == "patient"
    # cox.zph on counting-process data, per term (the km transform, as the analysis runs it)
    zph = {r["variable"]: r["stat"] for r in records if r["section"] == section
           and r["context"] == "cox.zph" and r["stat_name"] == "statistic"}
    close([zph[v] for v, _ in HEART_TERMS] + [zph["GLOBAL"]], r["zph"]["km"]["chisq"])


def test_long_format_counts_patients_not_rows(heart):
    outcome, records = heart
    about = dict(variable="death", group=None)
    assert _one(records, "cox_by_patient", stat_name="n.intervals", **about) == 172
    assert _one(records, "cox_by_patient", stat_name="n.patients", **about) == 103
    assert _one(records, "cox_by_patient", stat_name="entry", **about) == "tstart"
    counts = {(r["stat_name"], r["stat"]) for r in records if r["section"] == "cox_by_patient"
              and r["stat_name"] in ("nobs", "n.event")}
    assert counts == {("nobs", 103), ("n.event", 75)}
    section = next(s for s in outcome.sections if s.id == "cox_by_patient")
    notes = " ".join(f.text for f in section.blocks[0].footnotes)
    assert "103 patients contributed 172 (start, stop] intervals" in notes
    assert "variance clustered by patient" in notes
    methods = " ".join(m for s in outcome.sections for m in s.methods)
    assert "coxph(Surv(start, stop, event)" in methods
    assert "grouped by patient (as R's coxph with cluster = patient)" in methods


def test_recurrent_events_build_matches_coxph(tmp_path):
    """cgd: several infections per patient, strata, robust = true clustered by patient."""
    outcome, records = _build(COHORTS / "cgd.toml", tmp_path / "cgd")
    r = CASES["cgd_cluster"]["fits"]["efron"]
    names = [("treat", "rIFN-g"), ("age", None), ("inherit", "autosomal"), ("steroids", "1")]
    for j, (variable, level) in enumerate(names):
        close([_one(records, "cox_recurrent", variable=variable, variable_level=level,
                    group_level="multivariable", stat_name=s)
               for s in ("estimate", "std.error", "p.value", "conf.low", "conf.high")],
              [r["coef"][j], r["se"][j], r["p"][j], r["conf_low"][j], r["conf_high"][j]])
    model = dict(variable="infection", group="model", group_level="multivariable")
    close([_one(records, "cox_recurrent", stat_name=s, **model)
           for s in ("robust.score.statistic", "wald.statistic", "concordance",
                     "concordance.std.error")],
          [r["robust_score"]["statistic"], r["wald"]["statistic"], r["concordance"],
           r["concordance_se"]])
    counts = {(x["stat_name"], x["stat"]) for x in records if x["stat_name"] in ("nobs",
                                                                                  "n.event")}
    assert counts == {("nobs", 128), ("n.event", 76)}
    notes = " ".join(f.text for f in outcome.sections[0].blocks[0].footnotes)
    assert "128 patients contributed 203 (start, stop] intervals" in notes
    assert "a patient may have several events" in notes
    assert "recurrent events" in " ".join(outcome.sections[0].methods)


def test_delayed_entry_build_matches_coxph(tmp_path):
    outcome, records = _build(COHORTS / "lung_entry.toml", tmp_path / "lung")
    r = CASES["lung_entry"]["fits"]["efron"]
    names = [("age", None), ("sex", "f"), ("ecog", "E1"), ("ecog", "E2+")]
    for j, (variable, level) in enumerate(names):
        close([_one(records, "cox_entry", variable=variable, variable_level=level,
                    group_level="multivariable", stat_name=s)
               for s in ("estimate", "std.error", "p.value", "conf.low", "conf.high")],
              [r["coef"][j], r["se"][j], r["p"][j], r["conf_low"][j], r["conf_high"][j]])
    model = dict(variable="os", group="model", group_level="multivariable")
    close([_one(records, "cox_entry", stat_name=s, **model)
           for s in ("lr.statistic", "concordance", "concordance.std.error")],
          [r["lr"]["statistic"], r["concordance"], r["concordance_se"]])
    notes = " ".join(f.text for f in outcome.sections[0].blocks[0].footnotes)
    assert "Delayed entry: each patient is at risk from the entry time (entry)" in notes
    assert "Surv(entry, time, event)" in " ".join(outcome.sections[0].methods)


# --------------------------------------------------------------------------- the rules

TOML = ('[report]\ntitle = "t"\n[cohort]\npath = "cohort.csv"\nid = "pid"\n'
        'rows = "intervals"\n'
        '[endpoints.os]\nentry = "t0"\ntime = "t1"\ntime_unit = "days"\nevent = "e"\n'
        '[[section]]\nid = "cox"\nanalysis = "cox"\nendpoint = "os"\ncovariates = ["x"]\n')
GOOD = "pid,t0,t1,e,x\nA,0,10,0,1\nA,10,20,1,2\nB,0,15,0,1\nC,0,5,1,3\n"


def _cohort(cp, tmp_path, csv, toml=TOML):
    return cp.Project(tmp_path / "p", toml=toml, csv=csv).cohort()


def test_a_long_format_cohort_loads_with_repeated_ids(cp, tmp_path):
    cohort = _cohort(cp, tmp_path, GOOD)
    assert cohort.intervals and not cohort.recurrent and cohort.n == 4


@pytest.mark.parametrize("csv, words", [
    ("pid,t0,t1,e,x\nA,0,10,0,1\nA,5,20,1,2\nB,0,15,0,1\n",
     ["endpoint 'os': patient A has overlapping intervals (0, 10] and (5, 20]", "1 overlap"]),
    ("pid,t0,t1,e,x\nA,0,10,1,1\nA,10,20,1,2\nB,0,15,0,1\n",
     ["patient A has an event at the end of (0, 10], which is not their last interval",
      "cohort.recurrent = true"]),
    ("pid,t0,t1,e,x\nA,0,10,0,1\n,10,20,1,2\n",
     ["patient id is missing in 1 row(s)", "column 'pid'"]),
])
def test_broken_intervals_are_one_line_errors(cp, tmp_path, csv, words):
    with pytest.raises(DataError) as info:
        _cohort(cp, tmp_path, csv)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_recurrent_events_are_accepted_when_declared(cp, tmp_path):
    toml = TOML.replace('rows = "intervals"\n', 'rows = "intervals"\nrecurrent = true\n')
    cohort = _cohort(cp, tmp_path, "pid,t0,t1,e,x\nA,0,10,1,1\nA,10,20,1,2\nB,0,15,0,1\n",
                     toml)
    assert cohort.recurrent


def test_a_gap_between_intervals_is_accepted(cp, tmp_path):
    cohort = _cohort(cp, tmp_path, "pid,t0,t1,e,x\nA,0,10,0,1\nA,12,20,1,2\nB,0,15,0,1\n")
    np.testing.assert_array_equal(cohort.endpoint("os").entry, [0, 12, 0])


def test_an_endpoint_without_entry_is_refused(cp, tmp_path):
    toml = TOML.replace('entry = "t0"\n', "")
    with pytest.raises(DataError, match=r"endpoint 'os' has no entry column, but "
                                        r"cohort.rows = \"intervals\""):
        _cohort(cp, tmp_path, GOOD, toml)


def test_intervals_need_an_id_and_recurrent_needs_intervals(cp, tmp_path):
    with pytest.raises(ConfigError, match="needs id"):
        cp.Project(tmp_path / "a", toml=TOML.replace('id = "pid"\n', ""), csv=GOOD).plan()
    with pytest.raises(ConfigError, match="recurrent applies only"):
        cp.Project(tmp_path / "b", toml=TOML.replace('rows = "intervals"\n', "recurrent = true\n"),
                   csv=GOOD).plan()


@pytest.mark.parametrize("analysis, extra", [("demographics", 'variables = ["x"]\n'),
                                             ("survival", 'endpoints = ["os"]\n')])
def test_analyses_that_count_rows_as_patients_refuse_a_long_format_cohort(cp, tmp_path,
                                                                         analysis, extra):
    toml = TOML + f'[[section]]\nid = "other"\nanalysis = "{analysis}"\n{extra}'
    with pytest.raises(ConfigError) as info:
        cp.Project(tmp_path / "p", toml=toml, csv=GOOD).plan()
    message = str(info.value)
    assert f"the analysis '{analysis}' counts one row per patient" in message
    assert "only cox can run" in message and "section[1].analysis" in message


def test_long_format_cli_error_is_one_line_exit_2(cp, tmp_path, capsys):
    project = cp.Project(tmp_path / "p", toml=TOML, csv="pid,t0,t1,e,x\nA,0,10,0,1\nA,5,20,1,2\n")
    result = cp.run_cli(["build", project.config, "--output", project.out], capsys)
    assert result.code == 2
    errors = [line for line in result.err.splitlines() if "overlapping" in line]
    assert len(errors) == 1 and "Traceback" not in result.err
    assert "cohort.csv" in errors[0] and "column 't0'" in errors[0]
