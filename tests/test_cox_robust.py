"""Cox robust and clustered (sandwich) variance and Harrell's concordance against R.

R: tests/fixtures/r/cox_robust.R, on survival's rats (cluster = litter), lung (robust, and
cluster = institution) and colon (two events per patient: cluster = id, strata = event
type), both tie methods: coxph's robust standard errors, Wald and robust score tests, the
naive variance, a robust Wald test per factor and concordance(fit) with its standard error.
A whole build of tests/data/r_cohorts/rats.toml is compared too. Tolerance 1e-6 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohortpress.app.build import Progress, build
from cohortpress.common.errors import StatisticsError
from cohortpress.stats.coxph import (concordance, fit_cox, prepare_cox_data,
                                     wald_test_terms)
from cohortpress.stats.coxph.robust import score_residuals

HERE = Path(__file__).parent
FIXTURE = json.loads((HERE / "fixtures" / "cox_robust.json").read_text())
CASES = {case["name"]: case for case in FIXTURE["cases"]}
CONFIG = HERE / "data" / "r_cohorts" / "rats.toml"
RTOL = 1e-6


def close(ours, theirs, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=rtol,
                               atol=0)


def _fit(case, ties, **kwargs):
    X = np.column_stack(case["x"])
    return fit_cox(X, case["time"], case["event"], case["columns"], ties, case["strata"],
                   robust=case["cluster"] is None, cluster=case["cluster"], **kwargs)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("name", list(CASES))
def test_robust_variance_matches_coxph(name, ties):
    case = CASES[name]
    r = case["fits"][ties]
    fit = _fit(case, ties)
    close(fit.coef, r["coef"])
    close(fit.se, r["se"])
    close(np.sqrt(np.diag(fit.naive_var)), r["naive_se"])
    close(fit.z, r["z"])
    close(fit.p, r["p"])
    close(fit.conf_low, r["conf_low"])
    close(fit.conf_high, r["conf_high"])
    close([fit.wald_test.statistic, fit.wald_test.p_value],
          [r["wald"]["statistic"], r["wald"]["p"]])
    close([fit.robust_score_test.statistic, fit.robust_score_test.p_value],
          [r["robust_score"]["statistic"], r["robust_score"]["p"]])
    # The likelihood-ratio test does not change with the variance.
    close([fit.lr_test.statistic], [r["lr"]["statistic"]])
    assert fit.variance == ("robust" if case["cluster"] is None else "cluster")
    if case["cluster"] is not None:
        assert fit.n_clusters == len(set(case["cluster"]))
    tests = r["term_tests"]  # an empty named list comes out of jsonlite as []
    for test in (tests.values() if isinstance(tests, dict) else tests):
        ours = wald_test_terms(fit, test["columns"])
        close([ours.statistic, ours.p_value], [test["statistic"], test["p"]])
        assert ours.method == "Wald test (robust variance)"


@pytest.mark.parametrize("name", list(CASES))
def test_concordance_matches_r(name):
    case = CASES[name]
    r = case["fits"]["efron"]
    X = np.column_stack(case["x"])
    fit = _fit(case, "efron")
    c = concordance(case["time"], case["event"], X @ fit.coef, case["strata"],
                    case["cluster"])
    close([c.concordance, c.std_error], [r["concordance"], r["concordance_se"]])
    assert [c.concordant, c.discordant, c.tied_x] == r["fit_concordance"][:3]


def test_score_residuals_add_up_to_the_score_and_vanish_at_the_estimate():
    case = CASES["colon_cluster_id_strata"]
    X = np.column_stack(case["x"])
    data = prepare_cox_data(X, case["time"], case["event"], case["columns"], case["strata"])
    fit = fit_cox(None, None, None, case["columns"], prepared=data)
    total = score_residuals(data, fit.coef, True).sum(axis=0)
    assert np.abs(total).max() < 1e-6
    at_zero = score_residuals(data, np.zeros(X.shape[1]), True).sum(axis=0)
    assert np.abs(at_zero).max() > 1.0


def test_model_variance_by_default():
    case = CASES["lung_robust"]
    X = np.column_stack(case["x"])
    fit = fit_cox(X, case["time"], case["event"], case["columns"])
    assert fit.variance == "model" and fit.naive_var is None
    close(fit.se, case["fits"]["efron"]["naive_se"])
    assert wald_test_terms(fit, ["ecog1", "ecog2+"]).method == "Wald test"


def test_concordance_without_comparable_pairs():
    with pytest.raises(StatisticsError, match="no comparable pair"):
        concordance([1.0, 2.0], [0, 0], [0.1, 0.2])


# --------------------------------------------------------------------------- whole build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("rats") / "report"
    outcome = build(CONFIG, out, progress=Progress(quiet=True))
    assert outcome.exit_code == 0
    return outcome, json.loads((out / "results.json").read_text())["results"]


def _records(records, section, **where):
    return [r for r in records if r["section"] == section and r["context"] == "coxph"
            and all(r[k] == v for k, v in where.items())]


def _one(records, section, **where):
    found = _records(records, section, **where)
    assert len(found) == 1, (section, where, found)
    return found[0]["stat"]


@pytest.mark.parametrize("section, case, ties", [("cox_cluster", "rats_cluster_litter", "efron"),
                                                 ("cox_robust", "rats_robust", "breslow")])
def test_build_matches_coxph(built, section, case, ties):
    _, records = built
    multi = CASES[case]["fits"][ties]
    for j, (variable, level) in enumerate([("rx", "drug"), ("sex", "m")]):
        ours = [_one(records, section, variable=variable, variable_level=level,
                     group_level="multivariable", stat_name=s)
                for s in ("estimate", "std.error", "statistic", "p.value", "conf.low",
                          "conf.high")]
        close(ours, [multi["coef"][j], multi["se"][j], multi["z"][j], multi["p"][j],
                     multi["conf_low"][j], multi["conf_high"][j]])
        uni = CASES[f"{case}_{variable}"]["fits"][ties]
        ours = [_one(records, section, variable=variable, variable_level=level,
                     group_level="univariable", stat_name=s)
                for s in ("estimate", "std.error", "p.value", "conf.low", "conf.high")]
        close(ours, [uni["coef"][0], uni["se"][0], uni["p"][0], uni["conf_low"][0],
                     uni["conf_high"][0]])
    model = dict(variable="tumour", group="model", group_level="multivariable")
    close([_one(records, section, stat_name=s, **model) for s in
           ("wald.statistic", "wald.p.value", "robust.score.statistic",
            "robust.score.p.value", "lr.statistic", "concordance", "concordance.std.error")],
          [multi["wald"]["statistic"], multi["wald"]["p"], multi["robust_score"]["statistic"],
           multi["robust_score"]["p"], multi["lr"]["statistic"], multi["concordance"],
           multi["concordance_se"]])
    about = dict(variable="tumour", group=None)
    expected = "cluster" if section == "cox_cluster" else "robust"
    assert _one(records, section, stat_name="variance", **about) == expected
    if section == "cox_cluster":
        assert _one(records, section, stat_name="cluster", **about) == "litter"
        assert _one(records, section, stat_name="n.cluster", **model) == 100


def test_build_states_the_variance_and_concordance(built):
    outcome, _ = built
    for section, words in (("cox_cluster", "clustered by litter"),
                           ("cox_robust", "robust (sandwich) variance.")):
        found = next(s for s in outcome.sections if s.id == section)
        notes = " ".join(n.text for n in found.blocks[0].footnotes)
        assert words in notes
        assert "Harrell's concordance (C) of the multivariable model: 0.764 (SE 0.03" in notes
    methods = " ".join(m for s in outcome.sections for m in s.methods)
    assert "grouped by litter (as R's coxph with cluster = litter)" in methods
    assert "robust = TRUE" in methods and "infinitesimal-jackknife" in methods


def test_build_tests_a_factor_by_the_robust_wald_test(tmp_path):
    """lung clustered by institution: the three-level ECOG factor's p is R's robust Wald."""
    out = tmp_path / "lung"
    outcome = build(HERE / "data" / "r_cohorts" / "lung.toml", out, progress=Progress(quiet=True))
    assert outcome.exit_code == 0
    records = json.loads((out / "results.json").read_text())["results"]
    r = CASES["lung_cluster_inst"]["fits"]["efron"]
    section = "cox_inst"
    names = [("age", None), ("sex", "f"), ("ecog", "E1"), ("ecog", "E2+")]
    for j, (variable, level) in enumerate(names):
        close([_one(records, section, variable=variable, variable_level=level,
                    group_level="multivariable", stat_name=s)
               for s in ("estimate", "std.error", "p.value", "conf.low", "conf.high")],
              [r["coef"][j], r["se"][j], r["p"][j], r["conf_low"][j], r["conf_high"][j]])
    close([_one(records, section, variable="ecog", group_level="multivariable",
                stat_name="p.value.term")], [r["term_tests"]["ecog"]["p"]])
    assert _one(records, section, variable="ecog", group_level="multivariable",
                stat_name="method.term") == "Wald test (robust variance)"
    model = dict(variable="os", group="model", group_level="multivariable")
    close([_one(records, section, stat_name=s, **model) for s in
           ("concordance", "concordance.std.error", "robust.score.statistic")],
          [r["concordance"], r["concordance_se"], r["robust_score"]["statistic"]])
    assert _one(records, section, stat_name="n.cluster", **model) == 18
    notes = " ".join(n.text for n in outcome.sections[0].blocks[0].footnotes)
    assert "p: Wald test (robust variance). Ties" in notes
    assert "clustered by institution" in notes


def test_separated_fit_keeps_the_robust_variance_for_its_other_terms():
    """A covariate with no events in one level: its HR is flagged, the others' SEs stay
    robust (the table's footnote says so for the whole model)."""
    case = CASES["rats_cluster_litter"]
    time = np.asarray(case["time"], float)
    event = np.asarray(case["event"])
    protected = (np.arange(time.size) % 4 == 0).astype(float)
    event = np.where(protected == 1, 0, event)
    X = np.column_stack([np.column_stack(case["x"]), protected])
    names = [*case["columns"], "protected"]
    fit = fit_cox(X, time, event, names, cluster=case["cluster"])
    naive = fit_cox(X, time, event, names)
    assert fit.separated == ("protected",) and fit.variance == "cluster"
    assert np.isnan(fit.p[2]) and np.isfinite(fit.se[:2]).all()
    assert not np.allclose(fit.se[:2], naive.se[:2], rtol=1e-3)
    assert fit.wald_test.note == naive.wald_test.note
