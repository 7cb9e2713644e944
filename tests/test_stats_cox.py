"""Tests of cohortpress.stats.coxph (the Cox fit and cox.zph).

Reference values come from R 4.2 / survival 3.5.3 (tests/fixtures/r/cox_models.R, stored in
tests/fixtures/cox_models.json); the risk-set algebra is also checked against a plain
loop-per-event-time implementation written here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.coxph import cox_zph, fit_cox, lr_test_terms, prepare_cox_data
from cohortpress.stats.coxph.likelihood import risk_set_terms, score_vector, weighted_information

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "cox_models.json").read_text())
CASES = {case["name"]: case for case in FIXTURE["cases"]}
REGULAR = [name for name in CASES if name != "monotone"]
TIES = ("efron", "breslow")


def data_of(case):
    return (np.column_stack(case["x"]).astype(float), np.asarray(case["time"], dtype=float),
            np.asarray(case["event"], dtype=float), case["strata"])


def fit_case(case, ties, **options):
    X, time_, event, strata = data_of(case)
    return fit_cox(X, time_, event, case["columns"], ties=ties, strata=strata, **options)


def assert_close(actual, expected, rtol=1e-8, atol=1e-10):
    np.testing.assert_allclose(np.asarray(actual, dtype=float),
                               np.asarray(expected, dtype=float), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------
# Against R's coxph
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("name", REGULAR)
def test_coefficients_match_coxph(name, ties):
    case, reference = CASES[name], CASES[name]["fits"][ties]
    fit = fit_case(case, ties)
    assert fit.names == tuple(case["columns"])
    assert_close(fit.coef, reference["coef"])
    assert_close(fit.se, reference["se"])
    assert_close(fit.z, reference["z"])
    assert_close(fit.p, reference["p"], rtol=1e-7, atol=1e-14)
    assert_close(fit.conf_low, reference["conf_low"])
    assert_close(fit.conf_high, reference["conf_high"])
    assert_close(fit.hr, np.exp(reference["coef"]))
    assert fit.converged and fit.separated == () and fit.reason is None


@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("name", REGULAR)
def test_likelihood_and_model_tests_match_coxph(name, ties):
    reference = CASES[name]["fits"][ties]
    fit = fit_case(CASES[name], ties)
    assert_close([fit.loglik_null, fit.loglik], reference["loglik"], rtol=1e-12)
    assert fit.iterations == reference["iter"]
    assert (fit.n, fit.n_events) == (reference["n"], reference["n_events"])
    for ours, key in ((fit.lr_test, "lr"), (fit.wald_test, "wald"), (fit.score_test, "score")):
        assert_close(ours.statistic, reference[key]["statistic"])
        assert_close(ours.p_value, reference[key]["p"], rtol=1e-7, atol=1e-15)
        assert ours.df == reference[key]["df"]


@pytest.mark.parametrize("name", [n for n in REGULAR if CASES[n]["drop_tests"]])
def test_dropping_a_factor_matches_anova(name):
    case = CASES[name]
    X, time_, event, strata = data_of(case)
    for reference in case["drop_tests"]:
        result = lr_test_terms(X, time_, event, case["columns"], reference["columns"],
                               ties=reference["ties"], strata=strata)
        assert_close(result.statistic, reference["statistic"])
        assert_close(result.p_value, reference["p"], rtol=1e-7)
        assert result.df == reference["df"]


def test_dropping_every_column_compares_with_the_null_model():
    case = CASES["ovarian"]
    X, time_, event, _ = data_of(case)
    fit = fit_case(case, "efron")
    result = lr_test_terms(X, time_, event, case["columns"], case["columns"], full_fit=fit)
    assert_close(result.statistic, fit.lr_test.statistic, rtol=1e-12)


@pytest.mark.parametrize("ties", TIES)
def test_monotone_likelihood_is_flagged(ties):
    case = CASES["monotone"]
    reference = case["fits"][ties]
    assert any("infinite" in w for w in np.atleast_1d(reference["warnings"]))
    fit = fit_case(case, ties)
    assert fit.separated == ("flag",)
    assert not fit.converged
    assert "monotone likelihood" in fit.reason and "'flag'" in fit.reason
    assert math.isnan(fit.hr[0]) and math.isnan(fit.p[0]) and math.isnan(fit.conf_high[0])
    assert math.isnan(fit.wald_test.p_value) and fit.wald_test.note
    # Same iterations as coxph, so even the runaway coefficient agrees with R's.
    assert fit.iterations == reference["iter"]
    assert_close(fit.coef, reference["coef"], rtol=1e-6)
    assert_close(fit.z[1], reference["z"][1], rtol=1e-6)
    assert_close(fit.loglik, reference["loglik"][1], rtol=1e-12)


# ---------------------------------------------------------------------------------------
# Against R's cox.zph
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("name", list(CASES))
def test_cox_zph_matches_r(name, ties):
    case, reference = CASES[name], CASES[name]["fits"][ties]["zph"]
    X, time_, event, strata = data_of(case)
    fit = fit_case(case, ties)
    result = cox_zph(fit, X, time_, event, strata)
    assert result.names + ("GLOBAL",) == tuple(reference["names"])
    chisq = np.append(result.chisq, result.global_test.statistic)
    p = np.append(result.p, result.global_test.p_value)
    assert_close(chisq, reference["chisq"], atol=1e-9)
    assert_close(p, reference["p"], rtol=1e-7, atol=1e-9)
    assert_close(np.append(result.df, result.global_test.df), reference["df"])


@pytest.mark.parametrize("variant", CASES["lung"]["zph_variants"],
                         ids=lambda v: f"{v['transform']}-terms{v['terms']}")
def test_cox_zph_transforms_and_terms_match_r(variant):
    case = CASES["lung"]
    X, time_, event, strata = data_of(case)
    fit = fit_case(case, "efron")
    groups = None
    if variant["terms"]:
        groups = {term: np.atleast_1d(columns).tolist()
                  for term, columns in variant["groups"].items()}
    result = cox_zph(fit, X, time_, event, strata, transform=variant["transform"],
                     groups=groups)
    reference = variant["table"]
    assert result.names + ("GLOBAL",) == tuple(reference["names"])
    assert_close(np.append(result.chisq, result.global_test.statistic), reference["chisq"],
                 atol=1e-9)
    assert_close(np.append(result.df, result.global_test.df), reference["df"])
    first = result.test(result.names[0])
    assert (first.statistic, first.p_value) == (result.chisq[0], result.p[0])
    assert variant["transform"] in result.global_test.method


def test_cox_zph_rejects_other_data_and_unknown_transform():
    case = CASES["ovarian"]
    X, time_, event, _ = data_of(case)
    fit = fit_case(case, "efron")
    with pytest.raises(StatisticsError, match="not those the model was fitted to"):
        cox_zph(fit, X[:-1], time_[:-1], event[:-1])
    with pytest.raises(StatisticsError, match="transform"):
        cox_zph(fit, X, time_, event, transform="sqrt")
    with pytest.raises(StatisticsError, match="exactly one term"):
        cox_zph(fit, X, time_, event, groups={"age": ["age"]})


# ---------------------------------------------------------------------------------------
# The vectorised risk-set algebra against a plain loop
# ---------------------------------------------------------------------------------------

def loop_partial_likelihood(X, time_, event, strata, beta, efron):
    """Log partial likelihood, score and information, one event time at a time."""
    eta = X @ beta
    w = np.exp(eta)
    p = X.shape[1]
    loglik, score, information = 0.0, np.zeros(p), np.zeros((p, p))
    for stratum in np.unique(strata):
        in_stratum = strata == stratum
        for t in np.unique(time_[in_stratum & (event == 1)]):
            at_risk = in_stratum & (time_ >= t)
            dying = in_stratum & (time_ == t) & (event == 1)
            d = int(dying.sum())
            s0, d0 = w[at_risk].sum(), w[dying].sum()
            s1, d1 = w[at_risk] @ X[at_risk], w[dying] @ X[dying]
            s2 = (X[at_risk] * w[at_risk, None]).T @ X[at_risk]
            d2 = (X[dying] * w[dying, None]).T @ X[dying]
            loglik += eta[dying].sum()
            score += X[dying].sum(axis=0)
            for j in range(d):
                share = j / d if efron else 0.0
                den = s0 - share * d0
                mean = (s1 - share * d1) / den
                loglik -= math.log(den)
                score -= mean
                information += (s2 - share * d2) / den - np.outer(mean, mean)
    return loglik, score, information


@pytest.mark.parametrize("efron", [True, False])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_risk_set_sums_match_a_loop_over_event_times(seed, efron):
    rng = np.random.default_rng(seed)
    n = 120
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n), rng.integers(0, 3, n)])
    time_ = rng.integers(1, 12, n).astype(float)   # many ties
    event = rng.integers(0, 2, n).astype(float)
    strata = rng.integers(0, 3, n)
    beta = rng.normal(scale=0.5, size=3)
    data = prepare_cox_data(X, time_, event, ["a", "b", "c"], strata)
    terms = risk_set_terms(data, beta, efron)
    loglik, score, information = loop_partial_likelihood(X, time_, event, strata, beta, efron)
    assert terms.loglik == pytest.approx(loglik, rel=1e-12)
    assert_close(score_vector(data, terms), score, rtol=1e-10, atol=1e-10)
    assert_close(weighted_information(data, terms), information, rtol=1e-10, atol=1e-10)


def test_result_does_not_depend_on_row_order_or_strata_labels():
    case = CASES["heavy_ties_strata"]
    X, time_, event, strata = data_of(case)
    fit = fit_case(case, "efron")
    order = np.random.default_rng(0).permutation(len(time_))
    labels = np.where(np.asarray(strata) == 0, "north", "south")[order]
    shuffled = fit_cox(X[order], time_[order], event[order], case["columns"], strata=labels)
    assert_close(shuffled.coef, fit.coef, rtol=1e-12, atol=1e-14)
    assert_close(shuffled.se, fit.se, rtol=1e-12)


def test_near_equal_times_are_tied_as_coxph_timefix_does():
    case = CASES["heavy_ties"]
    X, time_, event, _ = data_of(case)
    jittered = time_ * (1.0 + 1e-12 * (np.arange(len(time_)) % 3))
    exact = fit_cox(X, time_, event, case["columns"])
    fuzzy = fit_cox(X, jittered, event, case["columns"])
    assert_close(fuzzy.coef, exact.coef, rtol=1e-12, atol=1e-14)


def test_conf_level_sets_the_wald_limits():
    fit = fit_case(CASES["ovarian"], "efron", conf_level=0.9)
    assert_close(fit.conf_low, np.exp(fit.coef - 1.6448536269514722 * fit.se), rtol=1e-12)
    assert fit.conf_level == 0.9


# ---------------------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------------------

def lung():
    return data_of(CASES["lung"])


def test_constant_covariate_is_named():
    X, time_, event, _ = lung()
    X = np.column_stack([X, np.full(len(time_), 2.0)])
    with pytest.raises(StatisticsError, match="'const'.*constant"):
        fit_cox(X, time_, event, CASES["lung"]["columns"] + ["const"])


def test_covariate_constant_within_every_stratum_is_named():
    case = CASES["veteran_strata"]
    X, time_, event, strata = data_of(case)
    stratum_level = np.asarray(strata, dtype=float) * 10.0
    with pytest.raises(StatisticsError, match="'level'.*within every stratum"):
        fit_cox(np.column_stack([X, stratum_level]), time_, event,
                case["columns"] + ["level"], strata=strata)


def test_collinear_columns_are_named():
    X, time_, event, _ = lung()
    names = CASES["lung"]["columns"]
    combination = 2.0 * X[:, 0] - X[:, 1]
    with pytest.raises(StatisticsError, match="'combo' is a linear combination of 'age', 'sex'"):
        fit_cox(np.column_stack([X, combination]), time_, event, names + ["combo"])


def test_no_events_and_bad_values_are_refused():
    X, time_, event, _ = lung()
    names = CASES["lung"]["columns"]
    with pytest.raises(StatisticsError, match="at least one event"):
        fit_cox(X, time_, np.zeros_like(event), names)
    with_nan = X.copy()
    with_nan[3, 1] = np.nan
    with pytest.raises(StatisticsError, match="'sex'"):
        fit_cox(with_nan, time_, event, names)
    with pytest.raises(StatisticsError, match="0 .* or 1"):
        fit_cox(X, time_, event * 2, names)
    with pytest.raises(StatisticsError, match="same length"):
        fit_cox(X, time_[:-1], event, names)
    with pytest.raises(StatisticsError, match="ties"):
        fit_cox(X, time_, event, names, ties="exact")


# ---------------------------------------------------------------------------------------
# Scale (its speed is measured in benchmarks/, not asserted here)
# ---------------------------------------------------------------------------------------

def test_a_large_simulated_cohort_recovers_the_true_coefficients():
    rng = np.random.default_rng(42)
    n = 200_000
    X = rng.normal(size=(n, 6))
    X[:, 3] = rng.integers(0, 2, n)
    beta = np.array([0.3, -0.2, 0.1, 0.5, -0.3, 0.05])
    event_time = rng.exponential(1.0 / np.exp(X @ beta))
    censor_time = rng.exponential(1.5, n)
    time_ = np.minimum(event_time, censor_time)
    event = (event_time <= censor_time).astype(float)
    fit = fit_cox(X, time_, event, [f"x{j}" for j in range(6)], ties="efron")
    assert fit.converged
    assert np.abs(fit.coef - beta).max() < 0.02


def test_covariate_without_information_in_the_risk_sets_is_refused():
    # The only event is alone in its risk set, so the partial likelihood ignores x.
    with pytest.raises(StatisticsError, match="no information on 'x'"):
        fit_cox(np.array([[0.0], [1.0], [2.0]]), [1, 2, 3], [0, 0, 1], ["x"])


# --------------------------------------------------------------------------- prepared data


@pytest.mark.parametrize("with_strata", [False, True])
def test_reusing_the_prepared_data_changes_no_number(with_strata):
    """The section prepares each model once and reuses it for the LR refits and cox.zph:
    bit for bit what preparing them anew gives."""
    from cohortpress.stats.coxph import cox_zph, fit_cox, lr_test_terms, prepare_cox_data

    rng = np.random.default_rng(11)
    n = 3000
    level = rng.integers(0, 3, n)
    X = np.column_stack([level == 1, level == 2, rng.normal(size=n), rng.integers(0, 2, n),
                         rng.gamma(2.0, size=n)]).astype(float)
    names = ["stage2", "stage3", "age", "sex", "crp"]
    time = np.round(rng.exponential(5.0, n) * 52) / 52  # weekly: many ties
    event = (rng.random(n) < 0.6).astype(float)
    strata = rng.integers(0, 3, n) if with_strata else None
    prepared = prepare_cox_data(X, time, event, names, strata)
    fit = fit_cox(X, time, event, names, strata=strata)
    reused = fit_cox(None, None, None, names, prepared=prepared)
    np.testing.assert_array_equal(reused.coef, fit.coef)
    np.testing.assert_array_equal(reused.var, fit.var)
    for drop in (["stage2", "stage3"], ["age"], ["sex", "crp"], ["stage2", "stage3", "age", "sex"]):
        anew = lr_test_terms(X, time, event, names, drop, strata=strata, full_fit=fit)
        again = lr_test_terms(X, time, event, names, drop, strata=strata, full_fit=fit,
                              prepared=prepared)
        assert again == anew
    # The sub-model's data are those of preparing it anew, whatever columns are kept.
    from cohortpress.stats.coxph.data import kept_columns

    for keep in ([2], [0, 1], [2, 3, 4], [4]):
        kept = kept_columns(prepared, keep)
        anew = prepare_cox_data(X[:, keep], time, event, [names[j] for j in keep], strata)
        for field in ("xt1", "x_event_sum", "spread", "order", "event_rows"):
            np.testing.assert_array_equal(getattr(kept, field), getattr(anew, field))
    # A factor and one covariate: dropping the factor leaves a single column.
    small = ["stage2", "stage3", "age"]
    fit_small = fit_cox(X[:, :3], time, event, small, strata=strata)
    prepared_small = prepare_cox_data(X[:, :3], time, event, small, strata)
    assert lr_test_terms(X[:, :3], time, event, small, ["stage2", "stage3"], strata=strata,
                         full_fit=fit_small, prepared=prepared_small) == \
        lr_test_terms(X[:, :3], time, event, small, ["stage2", "stage3"], strata=strata,
                      full_fit=fit_small)
    groups = {"stage": ["stage2", "stage3"], "age": ["age"], "sex": ["sex"], "crp": ["crp"]}
    zph = cox_zph(fit, X, time, event, strata, groups=groups)
    zph_again = cox_zph(fit, X, time, event, strata, groups=groups, prepared=prepared)
    np.testing.assert_array_equal(zph_again.chisq, zph.chisq)
    assert zph_again.global_test == zph.global_test
