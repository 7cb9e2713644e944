"""Tests of cohortpress.stats.logit (logistic regression).

Maximum-likelihood reference values come from R 4.2 ``glm(family = binomial)``, MASS's
``confint`` and an exact uniroot-based profile (tests/fixtures/r/glm_binomial.R, stored in
tests/fixtures/glm_binomial.json).

R's logistf is not available, so Firth's method is checked against (a) the closed form for
a single binary covariate -- the estimates equal the log odds of the 2x2 table with 1/2
added to every cell, because the hat values of a saturated model are ``1/m`` within each
covariate pattern -- and (b) an independent maximisation of ``l(b) + 0.5 log det I(b)``
written here with scipy's derivative-free Nelder--Mead, plus central-difference gradients.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
from scipy import special, stats

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.logit import detect_separation, fit_logistic, lr_test_terms

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "glm_binomial.json").read_text())
CASES = {case["name"]: case for case in FIXTURE["cases"]}
REGULAR = [name for name, case in CASES.items() if "profile_exact_low" in case]
Q975 = stats.norm.ppf(0.975)


def data_of(case):
    return np.column_stack(case["x"]).astype(float), np.asarray(case["y"], dtype=float)


def fit_case(name, **options):
    case = CASES[name]
    X, y = data_of(case)
    return fit_logistic(X, y, case["columns"], **options)


def assert_close(actual, expected, rtol=1e-8, atol=1e-10):
    np.testing.assert_allclose(np.asarray(actual, dtype=float),
                               np.asarray(expected, dtype=float), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------
# Maximum likelihood against R
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exact_fits():
    return {name: fit_case(name) for name in REGULAR}


@pytest.mark.parametrize("name", REGULAR)
def test_estimates_match_glm(name, exact_fits):
    case, fit = CASES[name], exact_fits[name]
    assert fit.names == tuple(case["names"])
    assert_close(fit.coef, case["coef"])
    assert_close(fit.se, case["se"])
    assert_close(fit.z, case["z"])
    assert_close(fit.p, case["p"], rtol=1e-7, atol=1e-15)
    assert_close(np.log(fit.conf_low), case["wald_low"])
    assert_close(np.log(fit.conf_high), case["wald_high"])
    assert_close(fit.odds_ratio, np.exp(case["coef"]))
    assert fit.iterations == case["iter"]
    assert fit.converged and fit.separated == () and fit.reason is None


@pytest.mark.parametrize("name", REGULAR)
def test_deviances_and_aic_match_glm(name, exact_fits):
    case, fit = CASES[name], exact_fits[name]
    assert_close([fit.deviance, fit.null_deviance, fit.aic, fit.loglik],
                 [case["deviance"], case["null_deviance"], case["aic"], case["loglik"]],
                 rtol=1e-12)
    assert (fit.df_residual, fit.df_null) == (case["df_residual"], case["df_null"])
    lr = case["null_deviance"] - case["deviance"]
    assert_close(fit.lr_test.statistic, lr, rtol=1e-8)
    assert fit.lr_test.df == len(case["columns"])


@pytest.mark.parametrize("name", REGULAR)
def test_profile_limits_are_the_exact_roots(name, exact_fits):
    """Against R's uniroot(tol = 1e-12) on fully converged constrained glm fits."""
    case, fit = CASES[name], exact_fits[name]
    assert_close(np.log(fit.profile_low), case["profile_exact_low"], rtol=1e-9, atol=1e-9)
    assert_close(np.log(fit.profile_high), case["profile_exact_high"], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", REGULAR)
def test_exact_profile_limits_are_within_masss_interpolation_error(name, exact_fits):
    """MASS interpolates a spline through a grid of the profile: off by up to 3e-3 relative."""
    case, fit = CASES[name], exact_fits[name]
    assert_close(np.log(fit.profile_low), case["profile_mass_low"], rtol=3e-3, atol=1e-3)
    assert_close(np.log(fit.profile_high), case["profile_mass_high"], rtol=3e-3, atol=1e-3)


@pytest.mark.parametrize("name", REGULAR)
def test_mass_profile_method_reproduces_confint(name):
    case = CASES[name]
    fit = fit_case(name, profile_method="mass")
    assert_close(np.log(fit.profile_low), case["profile_mass_low"], rtol=1e-9, atol=1e-9)
    assert_close(np.log(fit.profile_high), case["profile_mass_high"], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", [n for n in REGULAR if CASES[n]["drop_tests"]])
def test_term_tests_match_drop1(name, exact_fits):
    case = CASES[name]
    X, y = data_of(case)
    fit = exact_fits[name]
    for reference in case["drop_tests"]:
        columns = np.atleast_1d(reference["columns"]).tolist()
        result = lr_test_terms(X, y, case["columns"], columns)
        assert_close(result.statistic, reference["statistic"], rtol=1e-7)
        assert_close(result.p_value, reference["p"], rtol=1e-6, atol=1e-300)
        assert result.df == reference["df"]
        if len(columns) == 1:
            j = fit.names.index(columns[0])
            assert_close(fit.p_lr[j], reference["p"], rtol=1e-6)


def test_profile_false_skips_the_profiles():
    fit = fit_case("mtcars", profile=False)
    assert np.isnan(fit.profile_low).all() and np.isnan(fit.p_lr).all()
    assert_close(fit.coef, CASES["mtcars"]["coef"])


def test_without_intercept_the_null_model_is_p_one_half():
    case = CASES["simulated"]
    X, y = data_of(case)
    fit = fit_logistic(X, y, case["columns"], intercept=False, profile=False)
    assert fit.names == tuple(case["columns"])
    assert fit.null_deviance == pytest.approx(2 * len(y) * math.log(2), rel=1e-12)
    assert fit.df_null == len(y)


# ---------------------------------------------------------------------------------------
# Separation
# ---------------------------------------------------------------------------------------

def test_quasi_complete_separation_is_flagged():
    case = CASES["quasi_separation"]
    fit = fit_case("quasi_separation")
    assert fit.separated == ("flag",)
    assert not fit.converged and "separation" in fit.reason and "'flag'" in fit.reason
    flag = fit.names.index("flag")
    assert math.isnan(fit.odds_ratio[flag]) and math.isnan(fit.conf_high[flag])
    assert math.isnan(fit.p[flag]) and np.isnan(fit.profile_low).all()
    # The finite coefficient keeps R's value: the IRLS follows glm's exact path.
    z_column = fit.names.index("z")
    assert_close(fit.coef[z_column], case["coef"][z_column], rtol=1e-7)
    assert_close(fit.z[z_column], case["z"][z_column], rtol=1e-6)
    assert fit.iterations == case["iter"]


def test_complete_separation_flags_every_coefficient():
    case = CASES["complete_separation"]
    assert any("0 or 1" in w for w in case["warnings"])
    fit = fit_case("complete_separation")
    assert fit.separated == ("(Intercept)", "z", "w")
    assert np.isnan(fit.odds_ratio).all()
    X, y = data_of(case)
    assert math.isnan(lr_test_terms(X, y, case["columns"], ["w"]).p_value)


@pytest.mark.parametrize("name", REGULAR)
def test_no_separation_is_reported_for_overlapping_data(name):
    case = CASES[name]
    X, y = data_of(case)
    assert detect_separation(X, y, case["columns"]) == ()


def test_separation_of_a_sparse_dummy_is_detected():
    rng = np.random.default_rng(4)
    n = 200
    group = rng.integers(0, 3, n)
    x = rng.normal(size=n)
    y = (rng.random(n) < special.expit(0.5 * x)).astype(float)
    y[group == 2] = 0.0   # no events in level 2
    X = np.column_stack([group == 1, group == 2, x]).astype(float)
    assert detect_separation(X, y, ["g1", "g2", "x"]) == ("g2",)


# ---------------------------------------------------------------------------------------
# Firth
# ---------------------------------------------------------------------------------------

def penalised_loglik(beta, design, y):
    eta = design @ beta
    weights = special.expit(eta) * special.expit(-eta)
    information = design.T @ (design * weights[:, None])
    return np.sum(y * eta - np.logaddexp(0.0, eta)) + 0.5 * np.linalg.slogdet(information)[1]


@pytest.mark.parametrize("table", [(7, 0, 3, 10), (12, 5, 4, 9), (0, 8, 6, 6)])
def test_firth_with_one_binary_covariate_adds_one_half_to_each_cell(table):
    events_exposed, others_exposed, events_unexposed, others_unexposed = table
    exposed = np.repeat([1.0, 1.0, 0.0, 0.0], table)
    y = np.repeat([1.0, 0.0, 1.0, 0.0], table)
    fit = fit_logistic(exposed, y, ["exposed"], firth=True)
    a, b, c, d = (count + 0.5 for count in table)
    assert fit.coef[0] == pytest.approx(math.log(c / d), abs=1e-9)
    assert fit.coef[1] == pytest.approx(math.log(a * d / (b * c)), abs=1e-9)
    assert fit.converged and fit.separated == ()
    assert fit.method == "Firth penalised likelihood" and math.isnan(fit.aic)


@pytest.fixture(scope="module")
def separated_sample():
    rng = np.random.default_rng(3)
    n = 40
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)]).astype(float)
    y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(float)
    y[X[:, 1] == 1] = 1.0   # quasi-complete separation on the binary column
    return X, y


def test_firth_estimates_maximise_the_penalised_likelihood(separated_sample):
    X, y = separated_sample
    design = np.column_stack([np.ones(len(y)), X])
    fit = fit_logistic(X, y, ["x", "g"], firth=True)
    assert detect_separation(X, y, ["x", "g"]) == ("g",)
    assert np.isfinite(fit.coef).all() and "separated" in fit.reason
    direct = scipy.optimize.minimize(
        lambda b: -penalised_loglik(b, design, y), np.zeros(3), method="Nelder-Mead",
        options=dict(xatol=1e-10, fatol=1e-14, maxiter=20000, maxfev=40000))
    assert_close(fit.coef, direct.x, atol=2e-6, rtol=0)
    assert fit.penalised_loglik == pytest.approx(-direct.fun, abs=1e-10)
    step = 1e-5
    gradient = [(penalised_loglik(fit.coef + step * e, design, y)
                 - penalised_loglik(fit.coef - step * e, design, y)) / (2 * step)
                for e in np.eye(3)]
    assert np.abs(gradient).max() < 1e-7


def test_firth_profile_limits_drop_the_penalised_likelihood_by_the_quantile(separated_sample):
    X, y = separated_sample
    design = np.column_stack([np.ones(len(y)), X])
    fit = fit_logistic(X, y, ["x", "g"], firth=True)
    for j in range(3):
        for limit in (np.log(fit.profile_low[j]), np.log(fit.profile_high[j])):
            others = [k for k in range(3) if k != j]

            def negative(free, limit=limit, j=j, others=others):
                beta = np.empty(3)
                beta[j], beta[others] = limit, free
                return -penalised_loglik(beta, design, y)

            constrained = scipy.optimize.minimize(
                negative, fit.coef[others], method="Nelder-Mead",
                options=dict(xatol=1e-10, fatol=1e-14, maxiter=20000, maxfev=40000))
            drop = 2 * (fit.penalised_loglik + constrained.fun)
            assert drop == pytest.approx(Q975 ** 2, abs=1e-6)
    low, high = np.log(fit.profile_low), np.log(fit.profile_high)
    assert (low < fit.coef).all() and (fit.coef < high).all()


def test_firth_likelihood_ratio_tests(separated_sample):
    X, y = separated_sample
    design = np.column_stack([np.ones(len(y)), X])
    fit = fit_logistic(X, y, ["x", "g"], firth=True)
    test = lr_test_terms(X, y, ["x", "g"], ["g"], firth=True)
    assert test.method == "Penalised likelihood-ratio test"
    assert test.p_value == pytest.approx(fit.p_lr[2], rel=1e-10)
    at_zero = scipy.optimize.minimize(
        lambda free: -penalised_loglik(np.array([free[0], free[1], 0.0]), design, y),
        fit.coef[:2], method="Nelder-Mead",
        options=dict(xatol=1e-10, fatol=1e-14, maxiter=20000, maxfev=40000))
    assert test.statistic == pytest.approx(2 * (fit.penalised_loglik + at_zero.fun), abs=1e-6)


# ---------------------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------------------

def test_bad_outcomes_and_columns_are_refused():
    X, y = data_of(CASES["simulated"])
    names = CASES["simulated"]["columns"]
    with pytest.raises(StatisticsError, match="0/1"):
        fit_logistic(X, y * 2, names)
    with pytest.raises(StatisticsError, match="every row"):
        fit_logistic(X, np.ones_like(y), names)
    with pytest.raises(StatisticsError, match="'k'.*collinear with the intercept"):
        fit_logistic(np.column_stack([X, np.full(len(y), 3.0)]), y, names + ["k"])
    with pytest.raises(StatisticsError, match="'sum' is a linear combination of 'x1', 'x2'"):
        fit_logistic(np.column_stack([X, X[:, 0] + X[:, 1]]), y, names + ["sum"])
    with_nan = X.copy()
    with_nan[0, 2] = np.nan
    with pytest.raises(StatisticsError, match="'x3'"):
        fit_logistic(with_nan, y, names)
    with pytest.raises(StatisticsError, match="profile_method"):
        fit_logistic(X, y, names, firth=True, profile_method="mass")
