"""Logistic regression: maximum likelihood as R ``glm(family = binomial)``, or Firth's.

Puts the parts together: the design and its separation check (:mod:`.design`), glm's IRLS
(:mod:`.irls`), the exact (penalised) maxima for tests and Firth fits (:mod:`.likelihood`)
and the profile limits (:mod:`.profile`). Separated terms are flagged instead of reported
with an enormous odds ratio. Intervals and per-coefficient p-values of Firth fits use the
penalised profile likelihood, as R's ``logistf`` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult, check_conf_level
from cohortpress.stats.distributions import chi2_sf
from cohortpress.stats.logit.design import Design, infinite_directions, prepare_design
from cohortpress.stats.logit.irls import (GLM_MAX_ITERATIONS, binomial_deviance,
                                          covariance_from_weights, glm_irls)
from cohortpress.stats.logit.likelihood import State, drop_statistic, exact_optimum
from cohortpress.stats.logit.profile import mass_profile_limits, profile_limits
from cohortpress.stats.wald import wald_table

__all__ = ["LogisticFit", "fit_logistic", "lr_test_terms"]


@dataclass(frozen=True, eq=False)
class LogisticFit:
    """A fitted logistic regression.

    Attributes
    ----------
    names : tuple of str
        Coefficient names; ``"(Intercept)"`` first when the model has one.
    coef, se : numpy.ndarray
        Log odds ratios and standard errors ``sqrt(diag(I^-1))``.
    z, p : numpy.ndarray
        Wald statistics and two-sided p-values; ``nan`` for separated terms.
    odds_ratio : numpy.ndarray
        ``exp(coef)``; ``nan`` for separated terms.
    conf_low, conf_high : numpy.ndarray
        Wald limits of the odds ratio, ``exp(coef -/+ q se)``.
    profile_low, profile_high : numpy.ndarray
        Profile (penalised, for Firth) likelihood limits of the odds ratio: the values of
        ``exp(b_j)`` where ``2 (l(b_hat) - max_{b: b_j fixed} l(b)) = q^2``. ``nan`` when not
        computed or when the model is separated; ``0`` or ``inf`` when unbounded.
    p_lr : numpy.ndarray
        Likelihood-ratio p-value of each coefficient (``b_j = 0`` against free), the
        p-value ``logistf`` reports for Firth fits; ``nan`` when not computed.
    conf_level : float
        Confidence level of the limits.
    var : numpy.ndarray
        Covariance matrix ``I^-1``.
    deviance, null_deviance : float
        ``-2 l(b_hat)`` and the same for the intercept-only model (binary outcome, so the
        saturated log-likelihood is 0). For Firth fits ``l`` is the unpenalised part.
    df_residual, df_null : int
        ``n - p`` and ``n - 1`` (``n`` without an intercept).
    aic : float
        ``deviance + 2 p``; ``nan`` for Firth fits.
    loglik : float
        ``l(b_hat)``.
    penalised_loglik : float or None
        ``l*(b_hat)`` for Firth fits.
    lr_test : TestResult
        Likelihood-ratio (penalised, for Firth) test of all coefficients but the intercept.
    n, n_events : int
        Rows and rows with outcome 1.
    iterations : int
        IRLS iterations (R's ``fit$iter``), or Newton iterations for Firth.
    converged : bool
        The iteration converged and no coefficient is infinite.
    separated : tuple of str
        Coefficients whose maximum-likelihood estimate is infinite (empty for Firth fits).
    reason : str or None
        Why ``converged`` is false, ``separated`` is not empty, or intervals are missing.
    method : str
        ``"maximum likelihood"`` or ``"Firth penalised likelihood"``.
    """

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p: np.ndarray
    odds_ratio: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    profile_low: np.ndarray
    profile_high: np.ndarray
    p_lr: np.ndarray
    conf_level: float
    var: np.ndarray
    deviance: float
    null_deviance: float
    df_residual: int
    df_null: int
    aic: float
    loglik: float
    penalised_loglik: float | None
    lr_test: TestResult
    n: int
    n_events: int
    iterations: int
    converged: bool
    separated: tuple[str, ...]
    reason: str | None
    method: str




PROFILE_METHODS = ("exact", "mass")


def fit_logistic(X, y, names: Sequence[str], firth: bool = False, *, intercept: bool = True,
                 conf_level: float = 0.95, profile: bool = True,
                 profile_method: str = "exact") -> LogisticFit:
    """Fit a logistic regression of ``y`` on ``X``.

    ``logit P(y_i = 1) = b_0 + x_i' b``, estimated by maximum likelihood (as
    ``glm(y ~ X, family = binomial)``) or, with ``firth=True``, by maximising Firth's
    penalised log-likelihood ``l(b) + 0.5 log det(X' W X)``.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Design matrix, dummy-coded by the caller, *without* an intercept column.
    y : array_like, shape (n,)
        Outcome coded 0/1.
    names : sequence of str
        Column names of ``X``.
    firth : bool
        Use Firth's penalised likelihood.
    intercept : bool
        Add an intercept (named ``"(Intercept)"``, first).
    conf_level : float
        Confidence level of the intervals.
    profile : bool
        Compute profile-likelihood intervals and likelihood-ratio p-values per
        coefficient (2 root searches and 1 constrained fit per coefficient).
    profile_method : {"exact", "mass"}
        ``"exact"`` solves for the limits to about 1e-12; ``"mass"`` reproduces R's
        ``confint()`` (MASS's grid and spline interpolation) digit for digit, which differs
        from the exact limits by up to about 1e-3 relative. Maximum likelihood only.

    Returns
    -------
    LogisticFit

    Raises
    ------
    StatisticsError
        On missing values, an outcome that is not 0/1 or does not vary, a constant or
        collinear column, or fewer rows than coefficients.
    """
    check_conf_level(conf_level)
    if profile_method not in PROFILE_METHODS or (firth and profile_method != "exact"):
        raise StatisticsError(f"profile_method must be one of {', '.join(PROFILE_METHODS)} "
                              "('exact' only with firth=True)")
    design = prepare_design(X, y, names, intercept)
    infinite = infinite_directions(design)
    if firth:
        return _fit_firth(design, infinite, conf_level, profile)
    return _fit_maximum_likelihood(design, infinite, conf_level,
                                   profile_method if profile else None)


def lr_test_terms(X, y, names: Sequence[str], drop: Sequence[str], firth: bool = False, *,
                  intercept: bool = True) -> TestResult:
    """Likelihood-ratio test for setting a group of coefficients to zero.

    ``LR = 2 (l(b_hat) - max_{b: b_drop = 0} l(b))`` on ``len(drop)`` degrees of freedom;
    for maximum likelihood this is ``drop1(fit, test = "Chisq")`` for a factor's dummies,
    for Firth fits the penalised likelihood-ratio test of logistf (penalty from the full
    design).

    Parameters
    ----------
    X, y, names, firth, intercept
        As for :func:`fit_logistic`.
    drop : sequence of str
        The columns to test.

    Returns
    -------
    TestResult
    """
    design = prepare_design(X, y, names, intercept)
    position = {name: j for j, name in enumerate(design.names)}
    drop = [str(name) for name in drop]
    unknown = [name for name in drop if name not in position]
    if unknown or not drop:
        raise StatisticsError("columns to drop must be a non-empty subset of the model's "
                              f"columns; unknown: {', '.join(unknown) or '(none given)'}")
    method = "Penalised likelihood-ratio test" if firth else "Likelihood-ratio test"
    df = float(len(drop))
    if not firth and infinite_directions(design).any():
        return TestResult(method, math.nan, None, df,
                          "not computed: the model is separated (infinite estimates)")
    best, var, _, converged = exact_optimum(design, firth)
    statistic = drop_statistic(design, best, var, np.array([position[n] for n in drop]), firth)
    note = None if converged else "the fit did not converge; the test is approximate"
    return TestResult(method, float(chi2_sf(statistic, df)), statistic, df, note)


def _null_test(design: Design, best: State, var: np.ndarray, firth: bool) -> TestResult:
    slopes = np.arange(1 if design.has_intercept else 0, design.x.shape[1])
    method = "Penalised likelihood-ratio test" if firth else "Likelihood-ratio test"
    if slopes.size == 0:
        return TestResult(method, math.nan, None, 0.0, "the model has only an intercept")
    statistic = drop_statistic(design, best, var, slopes, firth)
    return TestResult(method, float(chi2_sf(statistic, slopes.size)), statistic,
                      float(slopes.size))


def _per_coefficient_profiles(design, best, var, firth, conf_level, limits=None):
    """Profile limits (log-odds scale) and likelihood-ratio p-value of every coefficient.

    ``limits(j)`` overrides the exact profile limits (used for MASS's method).
    """
    p_columns = best.beta.size
    low, high, p_lr = (np.empty(p_columns) for _ in range(3))
    for j in range(p_columns):
        if limits is None:
            low[j], high[j] = profile_limits(design, best, var, j, firth, conf_level)
        else:
            low[j], high[j] = limits(j)
        statistic = drop_statistic(design, best, var, np.array([j]), firth)
        p_lr[j] = chi2_sf(statistic, 1)
    return low, high, p_lr


def _null_deviance(design: Design) -> float:
    mean = design.y.mean() if design.has_intercept else 0.5
    return binomial_deviance(design.y, np.full(design.y.size, mean))


def _fit_maximum_likelihood(design: Design, infinite: np.ndarray, conf_level: float,
                            profile_method: str | None) -> LogisticFit:
    irls = glm_irls(design.x, design.y)
    var = covariance_from_weights(design.x, irls.last_weights)
    deviance = binomial_deviance(design.y, irls.mu)
    nan = np.full(irls.coef.size, np.nan)
    profile_low, profile_high, p_lr = nan, nan.copy(), nan.copy()
    reason = _separation_reason(design, infinite) if infinite.any() else None
    if infinite.any():
        # The likelihood's supremum is reached only in the limit, where the deviance still
        # has a finite value: the likelihood-ratio test stays valid (R's anova of the glm
        # fits agrees to 1e-8), while Wald statistics do not.
        slopes = irls.coef.size - (1 if design.has_intercept else 0)
        statistic = max(_null_deviance(design) - deviance, 0.0)
        lr_test = TestResult("Likelihood-ratio test",
                             float(chi2_sf(statistic, slopes)) if slopes else math.nan,
                             statistic, float(slopes),
                             "the maximum likelihood is reached in the limit (separation)")
    else:
        best, exact_var, _, _ = exact_optimum(design, False, start=irls.coef)
        lr_test = _null_test(design, best, exact_var, False)
        if profile_method is not None:
            se = np.sqrt(np.diag(var))
            mass = None if profile_method == "exact" else (
                lambda j: mass_profile_limits(design, irls, se, j, conf_level))
            profile_low, profile_high, p_lr = _per_coefficient_profiles(
                design, best, exact_var, False, conf_level, mass)
        if not irls.converged:
            reason = f"glm's IRLS did not converge in {GLM_MAX_ITERATIONS} iterations"
    p_columns = irls.coef.size
    return _assemble(
        design, irls.coef, var, infinite, conf_level, profile_low, profile_high, p_lr,
        deviance=deviance, aic=deviance + 2.0 * p_columns, penalised_loglik=None,
        lr_test=lr_test, iterations=irls.iterations,
        converged=irls.converged and not infinite.any(), reason=reason,
        method="maximum likelihood")


def _fit_firth(design: Design, infinite: np.ndarray, conf_level: float,
               profile: bool) -> LogisticFit:
    best, var, iterations, converged = exact_optimum(design, True)
    nan = np.full(best.beta.size, np.nan)
    profile_low, profile_high, p_lr = nan, nan.copy(), nan.copy()
    if profile:
        profile_low, profile_high, p_lr = _per_coefficient_profiles(
            design, best, var, True, conf_level)
    reason = None
    if not converged:
        reason = f"Firth's iteration did not converge in {iterations} iterations"
    elif infinite.any():
        reason = ("the data are separated ("
                  + ", ".join(f"'{design.names[j]}'" for j in np.flatnonzero(infinite))
                  + " infinite by maximum likelihood); the Firth estimates are finite")
    return _assemble(
        design, best.beta, var, np.zeros(best.beta.size, dtype=bool), conf_level,
        profile_low, profile_high, p_lr, deviance=-2.0 * best.loglik, aic=math.nan,
        penalised_loglik=best.objective, lr_test=_null_test(design, best, var, True),
        iterations=iterations, converged=converged, reason=reason,
        method="Firth penalised likelihood")


def _separation_reason(design: Design, infinite: np.ndarray) -> str:
    names = ", ".join(f"'{design.names[j]}'" for j in np.flatnonzero(infinite))
    return (f"separation: the maximum-likelihood estimate of {names} is infinite (some "
            "combination of covariates predicts the outcome perfectly); odds ratios and "
            "intervals of those terms are not reported, and profile intervals are not "
            "computed -- use Firth's penalised likelihood (firth=True)")


def _assemble(design: Design, coef, var, infinite, conf_level, profile_low, profile_high,
              p_lr, *, deviance, aic, penalised_loglik, lr_test, iterations, converged,
              reason, method) -> LogisticFit:
    table = wald_table(coef, var, infinite, conf_level)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        profile_low, profile_high = np.exp(profile_low), np.exp(profile_high)
    n = design.y.size
    return LogisticFit(
        names=design.names, coef=coef, se=table.se, z=table.z, p=table.p,
        odds_ratio=table.ratio, conf_low=table.conf_low, conf_high=table.conf_high,
        profile_low=profile_low, profile_high=profile_high, p_lr=p_lr,
        conf_level=conf_level, var=var, deviance=deviance,
        null_deviance=_null_deviance(design), df_residual=n - coef.size,
        df_null=n - 1 if design.has_intercept else n, aic=aic, loglik=-0.5 * deviance,
        penalised_loglik=penalised_loglik, lr_test=lr_test, n=n,
        n_events=int(design.y.sum()), iterations=iterations, converged=converged,
        separated=tuple(design.names[j] for j in np.flatnonzero(infinite)), reason=reason,
        method=method)
