"""The logistic analysis's intercept, AUC (DeLong) and Hosmer-Lemeshow test against R.

R: tests/fixtures/r/logistic_extras.R on survival's pbc (death as the outcome), exported as
tests/data/r_cohorts/pbc_logistic.csv: glm with MASS's profile limits, pROC's ci.auc
(DeLong) and the statistic of ResourceSelection::hoslem.test (g = 10). Both the estimators
on their own and a whole build (config -> results.json) are compared, at 1e-6 relative.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from cohortpress.app.build import Progress, build
from cohortpress.common.errors import ConfigError, StatisticsError
from cohortpress.stats.logit import fit_logistic
from cohortpress.stats.logit.calibration import auc_delong, hosmer_lemeshow

HERE = Path(__file__).parent
FIXTURE = json.loads((HERE / "fixtures" / "logistic_extras.json").read_text())
CONFIG = HERE / "data" / "r_cohorts" / "pbc_logistic.toml"
Y = np.array(FIXTURE["y"], dtype=float)
MODELS = {"multivariable": FIXTURE["multivariable"], **FIXTURE["univariable"]}
RTOL = 1e-6


def close(ours, theirs, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=rtol,
                               atol=0)


@pytest.mark.parametrize("name", list(MODELS))
def test_auc_and_delong_interval_match_proc(name):
    model = MODELS[name]
    auc = auc_delong(Y, model["fitted"])
    close([auc.auc, auc.std_error, auc.conf_low, auc.conf_high],
          [model["auc"], model["auc_se"], model["auc_low"], model["auc_high"]])


def test_auc_depends_on_the_ranking_only():
    model = MODELS["multivariable"]
    risk = np.asarray(model["fitted"])
    assert auc_delong(Y, np.log(risk / (1 - risk))).auc == pytest.approx(model["auc"], 1e-12)


@pytest.mark.parametrize("name", ["multivariable", "age", "bili", "albumin"])
def test_hosmer_lemeshow_matches_hoslem_test(name):
    model = MODELS[name]
    hl = hosmer_lemeshow(Y, model["fitted"], 10)
    close([hl.test.statistic, hl.test.p_value, hl.test.df],
          [model["hl"]["statistic"], model["hl"]["p"], model["hl"]["df"]])
    assert hl.groups == model["hl"]["groups"]
    close(hl.observed, model["hl"]["observed"])
    close(hl.expected, model["hl"]["expected"])
    close(hl.size, model["hl"]["size"])


def test_hosmer_lemeshow_merges_coinciding_deciles():
    """Three distinct risks (edema alone) give hoslem.test's two groups, df still g - 2."""
    model = MODELS["edema"]
    hl = hosmer_lemeshow(Y, model["fitted"], 10)
    assert hl.groups == model["hl"]["groups"] == 2
    assert hl.test.df == 8
    close(hl.size, model["hl"]["size"])
    assert hl.test.statistic == pytest.approx(model["hl"]["statistic"], abs=1e-9)


def test_calibration_inputs_are_checked():
    with pytest.raises(StatisticsError, match="two patients"):
        auc_delong([1, 0, 0], [0.2, 0.3, 0.4])
    with pytest.raises(StatisticsError, match="strictly between"):
        hosmer_lemeshow([1, 0, 1, 0], [0.0, 0.3, 0.4, 0.5])
    with pytest.raises(StatisticsError, match="0/1"):
        auc_delong([2, 0, 1, 0], [0.1, 0.3, 0.4, 0.5])


def test_intercept_of_the_fit_matches_glm():
    model = MODELS["multivariable"]
    X = np.column_stack(model["x"])
    fit = fit_logistic(X, Y, model["columns"][1:], profile_method="mass")
    assert fit.names[0] == "(Intercept)"
    close([fit.coef[0], fit.se[0], fit.p[0], fit.profile_low[0], fit.profile_high[0]],
          [model["coef"][0], model["se"][0], model["p"][0], np.exp(model["profile_low"][0]),
           np.exp(model["profile_high"][0])])


# --------------------------------------------------------------------------- whole build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("pbc") / "report"
    outcome = build(CONFIG, out, progress=Progress(quiet=True))
    assert outcome.exit_code == 0
    records = json.loads((out / "results.json").read_text())["results"]
    return outcome, [r for r in records if r["section"] == "logit"]


def _stat(records, stat_name, variable, level=None, group_level="multivariable"):
    found = [r for r in records if r["stat_name"] == stat_name and r["variable"] == variable
             and r["variable_level"] == level and r["group_level"] == group_level]
    assert len(found) == 1, (stat_name, variable, level, group_level, found)
    return found[0]


def test_build_records_the_intercepts_as_r(built):
    _, records = built
    for name, model in MODELS.items():
        level, group_level = (None, "multivariable") if name == "multivariable" \
            else (name, "univariable")
        ours = [_stat(records, s, "(Intercept)", level, group_level)["stat"]
                for s in ("estimate", "std.error", "statistic", "p.value", "estimate.exp",
                          "conf.low", "conf.high", "conf.low.log", "conf.high.log")]
        theirs = [model["coef"][0], model["se"][0], model["z"][0], model["p"][0],
                  np.exp(model["coef"][0]), np.exp(model["profile_low"][0]),
                  np.exp(model["profile_high"][0]), model["profile_low"][0],
                  model["profile_high"][0]]
        close(ours[:5], theirs[:5])
        # The report's profile limits are the exact roots; R's confint interpolates MASS's
        # grid (test_intercept_of_the_fit_matches_glm checks that method at 1e-6).
        close(ours[5:], theirs[5:], rtol=1e-3)
    assert _stat(records, "term.type", "(Intercept)", group_level=None)["stat"] == "intercept"


def test_build_records_auc_and_hosmer_lemeshow_as_r(built):
    _, records = built
    model = MODELS["multivariable"]
    ours = [_stat(records, s, "dead")["stat"] for s in
            ("auc", "auc.std.error", "auc.conf.low", "auc.conf.high", "hl.statistic",
             "hl.p.value", "hl.df", "hl.groups")]
    close(ours, [model["auc"], model["auc_se"], model["auc_low"], model["auc_high"],
                 model["hl"]["statistic"], model["hl"]["p"], model["hl"]["df"],
                 model["hl"]["groups"]])
    assert _stat(records, "auc.conf.method", "dead")["stat"] == "DeLong"


def test_build_states_the_options_in_table_and_methods(built):
    outcome, _ = built
    section = outcome.sections[0]
    table = section.blocks[0]
    first = [cell.text for cell in table.body[0].cells]
    assert first[0] == "Intercept" and first[3].startswith("0.08 (")
    assert first[1] == ""  # several univariable models: no single intercept
    notes = " ".join(note.text for note in table.footnotes)
    assert "DeLong" in notes and "deciles of fitted risk" in notes and "Intercept:" in notes
    methods = " ".join(section.methods)
    assert "DeLong's variance" in methods and "Hosmer\u2013Lemeshow" in methods


def test_intercept_row_only_on_request(tmp_path):
    config = tomllib.loads(CONFIG.read_text())
    text = CONFIG.read_text().replace("intercept_row = true\nauc = true\n"
                                      "hosmer_lemeshow = true\n", "")
    assert text != CONFIG.read_text()
    path = tmp_path / "plain.toml"
    path.write_text(text.replace('path = "pbc_logistic.csv"',
                                 f'path = "{(CONFIG.parent / config["cohort"]["path"]).as_posix()}"'))
    outcome = build(path, tmp_path / "out", progress=Progress(quiet=True))
    section = outcome.sections[0]
    table = section.blocks[0]
    assert table.body[0].cells[0].text == "Age"
    assert "DeLong" not in " ".join(section.methods)
    records = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert any(r["variable"] == "(Intercept)" for r in records)
    assert not any(r["stat_name"] in ("auc", "hl.statistic") for r in records)


def test_auc_needs_the_multivariable_model(tmp_path):
    text = CONFIG.read_text().replace("intercept_row = true\n", "multivariable = false\n")
    path = tmp_path / "nomulti.toml"
    path.write_text(text.replace('path = "pbc_logistic.csv"',
                                 f'path = "{(CONFIG.parent / "pbc_logistic.csv").as_posix()}"'))
    with pytest.raises(ConfigError, match=r"section\[0\]\.auc.*multivariable = false"):
        build(path, tmp_path / "out", progress=Progress(quiet=True))
