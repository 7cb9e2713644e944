"""Counting-process Cox models, (start, stop] rows, against R.

R: tests/fixtures/r/cox_counting.R, on survival's heart (Stanford transplant: two rows per
transplanted patient, transplant time-varying; model and cluster = id variance), cgd
(recurrent infections, strata and cluster = id) and lung with a synthetic entry time (delayed
entry, robust). Both tie methods: coefficients, model and robust SEs, the LR, Wald, score and
robust score tests, concordance(fit) with its standard error, and cox.zph. 1e-6 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.coxph import (concordance, cox_zph, fit_cox, lr_test_terms,
                                     prepare_cox_data)
from cohortpress.stats.coxph.robust import score_residuals

HERE = Path(__file__).parent
FIXTURE = json.loads((HERE / "fixtures" / "cox_counting.json").read_text())
CASES = {case["name"]: case for case in FIXTURE["cases"]}
RTOL = 1e-6


def close(ours, theirs, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=rtol,
                               atol=0)


def _fit(case, ties, **kwargs):
    X = np.column_stack(case["x"])
    return fit_cox(X, case["time"], case["event"], case["columns"], ties, case["strata"],
                   cluster=case["cluster"], entry=case["entry"], **kwargs)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("name", list(CASES))
def test_counting_process_fit_matches_coxph(name, ties):
    case = CASES[name]
    r = case["fits"][ties]
    fit = _fit(case, ties)
    close(fit.coef, r["coef"])
    close(fit.se, r["se"])
    close(fit.z, r["z"])
    close(fit.p, r["p"])
    close(fit.conf_low, r["conf_low"])
    close(fit.conf_high, r["conf_high"])
    close([fit.loglik_null, fit.loglik], r["loglik"])
    close([fit.lr_test.statistic, fit.lr_test.p_value], [r["lr"]["statistic"], r["lr"]["p"]])
    close([fit.score_test.statistic, fit.score_test.p_value],
          [r["score"]["statistic"], r["score"]["p"]])
    close([fit.wald_test.statistic, fit.wald_test.p_value],
          [r["wald"]["statistic"], r["wald"]["p"]])
    assert (fit.n, fit.n_events) == (r["n"], r["n_events"])
    if case["robust"]:
        close(np.sqrt(np.diag(fit.naive_var)), r["naive_se"])
        close([fit.robust_score_test.statistic, fit.robust_score_test.p_value],
              [r["robust_score"]["statistic"], r["robust_score"]["p"]])
        assert fit.n_clusters == len(set(case["cluster"]))


def test_one_row_per_subject_robust_equals_cluster_by_row():
    """lung_entry was fitted in R with cluster = row (coxph asks for an id on (start, stop]
    data); robust = True without a cluster is the same variance."""
    case = CASES["lung_entry"]
    X = np.column_stack(case["x"])
    fit = fit_cox(X, case["time"], case["event"], case["columns"], "efron",
                  entry=case["entry"], robust=True)
    close(fit.se, case["fits"]["efron"]["se"])
    assert fit.variance == "robust"


@pytest.mark.parametrize("name", list(CASES))
def test_counting_process_concordance_matches_r(name):
    case = CASES[name]
    r = case["fits"]["efron"]
    X = np.column_stack(case["x"])
    fit = _fit(case, "efron")
    c = concordance(case["time"], case["event"], X @ fit.coef, case["strata"],
                    case["cluster"], entry=case["entry"])
    assert [c.concordant, c.discordant, c.tied_x] == r["concordance_counts"]
    close([c.concordance, c.std_error], [r["concordance"], r["concordance_se"]])


@pytest.mark.parametrize("transform", ["km", "identity"])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("name", list(CASES))
def test_counting_process_zph_matches_r(name, ties, transform):
    case = CASES[name]
    r = case["fits"][ties]["zph"][transform]
    X = np.column_stack(case["x"])
    fit = _fit(case, ties)
    zph = cox_zph(fit, X, case["time"], case["event"], case["strata"], transform=transform,
                  entry=case["entry"])
    close(list(zph.chisq) + [zph.global_test.statistic], r["chisq"])
    close(list(zph.p) + [zph.global_test.p_value], r["p"])


def test_score_residuals_add_up_to_the_score_and_reuse_of_prepared_data():
    case = CASES["heart"]
    X = np.column_stack(case["x"])
    prepared = prepare_cox_data(X, case["time"], case["event"], case["columns"],
                                entry=case["entry"])
    fit = fit_cox(None, None, None, case["columns"], prepared=prepared)
    close(fit.coef, case["fits"]["efron"]["coef"])
    residuals = score_residuals(prepared, fit.coef, True)
    np.testing.assert_allclose(residuals.sum(axis=0), 0.0, atol=1e-8)
    # Dropping a column keeps the entry layout: the same test as refitting from scratch.
    reduced = fit_cox(X[:, :3], case["time"], case["event"], case["columns"][:3],
                      entry=case["entry"])
    test = lr_test_terms(None, None, None, case["columns"], ["transplant"],
                         full_fit=fit, prepared=prepared)
    close([test.statistic], [2 * (fit.loglik - reduced.loglik)])


def test_entry_zero_gives_the_ordinary_fit():
    case = CASES["lung_entry"]
    X = np.column_stack(case["x"])
    plain = fit_cox(X, case["time"], case["event"], case["columns"])
    zero = fit_cox(X, case["time"], case["event"], case["columns"],
                   entry=np.zeros(len(case["time"])))
    close(zero.coef, plain.coef, rtol=1e-10)
    close(zero.se, plain.se, rtol=1e-10)


def test_interval_that_does_not_advance_is_refused():
    with pytest.raises(StatisticsError, match=r"start \(entry\) time not before .*rows 2"):
        fit_cox(np.array([[0.0], [1.0], [0.0]]), [5, 3, 4], [1, 0, 1], ["x"],
                entry=[0, 3, 1])
