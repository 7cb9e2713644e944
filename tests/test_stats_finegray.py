"""Fine–Gray regression against R cmprsk::crr (tests/fixtures/r/finegray.R).

Three cohorts the project never used elsewhere for this: survival's mgus2 (many ties), pbc
(death and transplant as each other's competing cause; a factor with a level where no
transplant occurs, so that crr does not converge) and a seeded simulation with integer
times and a three-level factor. Every model univariable and multivariable.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.finegray import fit_finegray, wald_test_terms

HERE = Path(__file__).parent
FIXTURE = json.loads((HERE / "fixtures" / "finegray.json").read_text())
RTOL = 1e-6


def cohort_frame(name: str) -> pd.DataFrame:
    cohort = FIXTURE[name]
    return pd.read_csv(HERE / "data" / cohort["file"],
                       dtype={factor: str for factor in cohort["factors"]})


def design(name: str, frame: pd.DataFrame, terms) -> np.ndarray:
    """The design columns crr was given: numeric terms as they are, factors as indicators
    of every level but the first."""
    factors = FIXTURE[name]["factors"]
    columns = []
    for term in np.atleast_1d(terms):
        if term in factors:
            columns += [(frame[term] == level).to_numpy(float) for level in factors[term][1:]]
        else:
            columns.append(frame[term].to_numpy(float))
    return np.column_stack(columns)


def cases():
    for name, cohort in FIXTURE.items():
        for model in cohort["models"]:
            terms = "+".join(np.atleast_1d(model["terms"]))
            yield pytest.param(name, model, id=f"{name}-{terms}-cause{model['cause']}")


def fit_of(name, model):
    frame = cohort_frame(name)
    return fit_finegray(frame["time"], frame["status"], design(name, frame, model["terms"]),
                        list(np.atleast_1d(model["columns"])), cause=model["cause"])


def close(ours, theirs, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(ours, float).ravel(),
                               np.asarray(theirs, float).ravel(), rtol=rtol, atol=0)


@pytest.mark.parametrize(("name", "model"), list(cases()))
def test_matches_crr(name, model):
    fit = fit_of(name, model)
    r = model["crr"]
    assert fit.converged == model["converged"]
    assert fit.n == model["n"]
    close(fit.coef, r["coef"])
    close(fit.se, r["se"])
    close(fit.z, r["z"])
    close(fit.p, r["p"])
    close(fit.var, r["var"])
    close(fit.naive_var, r["naive_var"])
    close(fit.loglik, r["loglik"])
    close(fit.loglik_null, r["loglik_null"])
    close(fit.lr_test.statistic, r["lr"])
    close(fit.lr_test.p_value, r["lr_p"])
    close(fit.wald_test.statistic, r["wald"])
    close(fit.wald_test.p_value, r["wald_p"])
    assert fit.shr == pytest.approx(np.exp(fit.coef), rel=1e-12)


def test_the_weighted_cox_route_gives_the_same_coefficients_without_ties_to_speak_of():
    """pbc has few tied times: survival::finegray + coxph(weights) agrees with crr (and
    with this fit) to about 1e-5 for death and 1.5e-4 for transplant. (With many ties
    between events and censorings, as in mgus2, finegray orders them differently and the
    two differ by up to 2%: crr is the reference.)"""
    for model in FIXTURE["pbc"]["models"]:
        if model["converged"]:
            close(fit_of("pbc", model).coef, model["finegray"]["coef"], rtol=2e-4)


def test_non_convergence_is_reported_with_its_reason():
    model = next(m for m in FIXTURE["pbc"]["models"] if not m["converged"])
    fit = fit_of("pbc", model)
    assert not fit.converged
    assert "did not converge in 10 Newton" in fit.reason


def test_any_competing_code_counts_as_competing_and_time_scale_does_not_matter():
    """crr treats every code other than the cause and 0 as competing, and the model uses
    only the order of the times."""
    frame = cohort_frame("mgus2")
    x = design("mgus2", frame, ["age", "sex"])
    base = fit_finegray(frame["time"], frame["status"], x, cause=1)
    recoded = np.where(frame["status"] == 2, 7, frame["status"])
    other = fit_finegray(np.sqrt(frame["time"]) * 3.0, recoded, x, cause=1)
    np.testing.assert_allclose(other.coef, base.coef, rtol=1e-12)
    np.testing.assert_allclose(other.se, base.se, rtol=1e-12)


def test_factor_wald_test_matches_r():
    """The Wald test of a factor's two columns, with crr's sandwich variance."""
    model = next(m for m in FIXTURE["sim"]["models"] if np.ndim(m["terms"]) == 1
                 and len(m["terms"]) == 2)
    fit = fit_of("sim", model)
    index = [0, 1]
    beta = np.asarray(model["crr"]["coef"])[index]
    var = np.asarray(model["crr"]["var"])[np.ix_(index, index)]
    expected = float(beta @ np.linalg.solve(var, beta))
    test = wald_test_terms(fit, ["armB", "armC"])
    assert test.statistic == pytest.approx(expected, rel=1e-8)
    assert test.df == 2


@pytest.mark.parametrize(("status", "x", "message"), [
    ([0, 2, 2, 0], [1.0, 2.0, 3.0, 4.0], "no events of the cause of interest"),
    ([1, 2, 1, 0], [1.0, 1.0, 1.0, 1.0], "covariate 'x1' is constant"),
])
def test_errors_say_what_is_wrong(status, x, message):
    with pytest.raises(StatisticsError, match=message):
        fit_finegray([1.0, 2.0, 3.0, 4.0], status, x)


def test_collinear_covariates_are_named():
    x = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [5.0, 10.0], [4.0, 8.0]])
    with pytest.raises(StatisticsError, match="collinear covariates: 'b'"):
        fit_finegray([1, 2, 3, 4, 5], [1, 2, 1, 0, 1], x, ["a", "b"])


def test_inputs_of_different_lengths_are_refused():
    with pytest.raises(StatisticsError, match="same length"):
        fit_finegray([1.0, 2.0], [1, 0, 1], [1.0, 2.0, 3.0])


def test_without_competing_events_it_is_the_breslow_cox_model():
    """No competing event: the risk sets carry no weights and the pseudo-likelihood is Cox's
    partial likelihood with Breslow ties (the variance still is crr's sandwich)."""
    from cohortpress.stats.coxph import fit_cox

    frame = cohort_frame("mgus2")
    x = design("mgus2", frame, ["age", "sex", "hgb"])
    status = np.where(frame["status"] == 2, 0, frame["status"])
    ours = fit_finegray(frame["time"], status, x, ["age", "sexM", "hgb"])
    cox = fit_cox(x, frame["time"].to_numpy(float), status, ["age", "sexM", "hgb"],
                  ties="breslow")
    np.testing.assert_allclose(ours.coef, cox.coef, rtol=1e-7)
    np.testing.assert_allclose(ours.naive_var, cox.var, rtol=1e-6)
    assert ours.n_competing == 0
