"""Cross-checks of our estimators against other maintained implementations.

R is the reference everywhere else (tests/fixtures/r); here the Cox model (Efron ties) and
the Kaplan–Meier curve are compared with lifelines' ``CoxPHFitter`` and
``KaplanMeierFitter`` on lifelines' bundled Rossi recidivism data (432 subjects, weekly
times with many ties), and the maximum-likelihood logistic fit with statsmodels'
``GLM(family=Binomial())`` on statsmodels' bundled Spector data and on a larger simulated
cohort. lifelines is a test dependency only (pyproject.toml, extra ``test``).
"""

from __future__ import annotations

import numpy as np
import pytest

from cohortpress.stats.coxph import fit_cox
from cohortpress.stats.kaplan_meier import kaplan_meier
from cohortpress.stats.logit import fit_logistic

lifelines = pytest.importorskip("lifelines")
sm = pytest.importorskip("statsmodels.api")

ROSSI_COVARIATES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


@pytest.fixture(scope="module")
def rossi():
    from lifelines.datasets import load_rossi

    return load_rossi()


def test_cox_efron_matches_lifelines_on_rossi(rossi):
    reference = lifelines.CoxPHFitter().fit(
        rossi, duration_col="week", event_col="arrest",
        fit_options={"precision": 1e-12, "step_size": 1.0})
    ours = fit_cox(rossi[ROSSI_COVARIATES].to_numpy(float), rossi["week"].to_numpy(float),
                   rossi["arrest"].to_numpy(float), ROSSI_COVARIATES, ties="efron")
    assert ours.converged
    summary = reference.summary.loc[ROSSI_COVARIATES]
    np.testing.assert_allclose(ours.coef, summary["coef"], rtol=1e-6)
    np.testing.assert_allclose(ours.se, summary["se(coef)"], rtol=1e-6)
    np.testing.assert_allclose(ours.p, summary["p"], rtol=1e-5)
    assert ours.loglik == pytest.approx(reference.log_likelihood_, rel=1e-9)
    # Guard against a reference that fits nothing: the Rossi estimates are well known.
    assert ours.coef[ROSSI_COVARIATES.index("prio")] == pytest.approx(0.0915, abs=1e-3)


@pytest.mark.parametrize("group", [None, 0, 1])
def test_kaplan_meier_matches_lifelines_on_rossi(rossi, group):
    data = rossi if group is None else rossi[rossi["fin"] == group]
    time, event = data["week"].to_numpy(float), data["arrest"].to_numpy(float)
    reference = lifelines.KaplanMeierFitter().fit(time, event, alpha=0.05)
    ours = kaplan_meier(time, event, conf_type="log-log", conf_level=0.95)
    # lifelines' curve starts at time 0 and has a row per distinct observed time.
    curve = reference.survival_function_.iloc[:, 0]
    at_times = curve.reindex(ours.time).to_numpy()
    assert not np.isnan(at_times).any()
    np.testing.assert_allclose(ours.surv, at_times, rtol=1e-12)
    assert ours.surv.min() < 0.9  # the curve really falls
    # Both use the log(-log S) transform of the Greenwood interval ("exponential Greenwood").
    limits = reference.confidence_interval_.reindex(ours.time).to_numpy()
    np.testing.assert_allclose(ours.conf_low, limits[:, 0], rtol=1e-9)
    np.testing.assert_allclose(ours.conf_high, limits[:, 1], rtol=1e-9)


def _logistic_weights(eta):
    p = 1.0 / (1.0 + np.exp(-eta))
    return p * (1.0 - p)


def _compare_with_glm(X, y, names):
    reference = sm.GLM(y, sm.add_constant(X, prepend=True),
                       family=sm.families.Binomial()).fit(tol=1e-14, maxiter=100)
    ours = fit_logistic(X, y, names, profile=False)
    assert ours.converged and not ours.separated
    np.testing.assert_allclose(ours.coef, reference.params, rtol=1e-8)
    # Standard errors follow R: glm.fit takes them from the weights of its last IRLS step,
    # one iteration behind the estimate (R's convergence rule stops there), while statsmodels
    # iterated to 1e-14 has its weights at the estimate; the two agree to that lag only.
    np.testing.assert_allclose(ours.se, reference.bse, rtol=2e-4)
    # ... and statsmodels' are those of the information matrix at the estimate.
    design = sm.add_constant(X, prepend=True)
    weights = _logistic_weights(design @ reference.params)
    information = design.T @ (design * weights[:, None])
    np.testing.assert_allclose(reference.bse, np.sqrt(np.diag(np.linalg.inv(information))),
                               rtol=1e-8)
    np.testing.assert_allclose(ours.z, reference.tvalues, rtol=2e-4)
    assert ours.deviance == pytest.approx(reference.deviance, rel=1e-10)
    assert ours.null_deviance == pytest.approx(reference.null_deviance, rel=1e-10)
    assert ours.aic == pytest.approx(reference.aic, rel=1e-10)


def test_logistic_matches_statsmodels_glm_on_spector():
    data = sm.datasets.spector.load_pandas().data
    names = ["GPA", "TUCE", "PSI"]
    _compare_with_glm(data[names].to_numpy(float), data["GRADE"].to_numpy(float), names)


def test_logistic_matches_statsmodels_glm_on_a_simulated_cohort():
    rng = np.random.default_rng(2024)
    n = 5000
    age = rng.normal(60.0, 12.0, n)
    stage = rng.integers(0, 3, n)
    X = np.column_stack([age, stage == 1, stage == 2, rng.integers(0, 2, n)]).astype(float)
    eta = -4.0 + 0.05 * age + 0.6 * (stage == 1) + 1.2 * (stage == 2) - 0.3 * X[:, 3]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    _compare_with_glm(X, y, ["age", "stage2", "stage3", "female"])
