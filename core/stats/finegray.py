"""Fine–Gray proportional subdistribution-hazards regression, fitted as R ``cmprsk::crr``.

The model (Fine and Gray, 1999) puts the covariates on the hazard of the cumulative
incidence of one cause. Patients who failed from a competing cause stay in the risk sets
after their failure, weighted by the inverse-probability-of-censoring weight
``G(t-) / G(t_j-)``, with ``G`` the Kaplan–Meier estimate of the censoring distribution
(censored observations are its events). The coefficients maximise the weighted Breslow-type
pseudo partial likelihood; their variance is crr's sandwich ``H^-1 Sigma H^-1``, whose
``Sigma`` sums each patient's score residual and the term for the estimated censoring
distribution (Fine and Gray, 1999, section 3).

Why this module and not a library: no maintained Python library fits the Fine–Gray model
(lifelines, statsmodels and scikit-survival have none). Weighting the data as R's
``survival::finegray`` does and fitting a weighted Cox model reproduces crr's coefficients
but not its variance: a weighted Cox model gives the naive or the ordinary robust variance,
neither of which has the term for the estimated censoring distribution, and the project's
own Cox code takes no case weights. The pseudo-likelihood and the sandwich are short sums
over the risk sets, computed here with cumulative sums (``O(n p^2)``), following crr's
definitions step for step so that the numbers agree with R to rounding:

* ties: all events of interest at one time share one risk set (Breslow), as crr;
* the censoring Kaplan–Meier is evaluated just before each time, ``G(t-)``;
* Newton–Raphson from ``beta = 0`` with crr's rules: converged when
  ``max |score_j| max(|beta_j|, 1) < 1e-6 max(|loglik|, 1)``, at most 10 iterations, and the
  step halved (up to 20 times) until the pseudo-likelihood rises by at least ``1e-4`` of the
  step's predicted rise;
* one censoring group (crr's ``cengroup`` is not offered).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import (TestResult, check_conf_level, check_finite_columns,
                                      design_matrix)
from cohortpress.stats.distributions import chi2_sf
from cohortpress.stats.linalg import raise_if_collinear
from cohortpress.stats.wald import wald_table

__all__ = ["FineGrayFit", "fit_finegray", "wald_test_terms"]

#: cmprsk::crr defaults (``gtol``, ``maxiter``) and its line search.
GRADIENT_TOLERANCE = 1e-6
MAX_ITERATIONS = 10
MAX_HALVINGS = 20
ARMIJO = 1e-4

WALD_METHOD = "Wald test (robust variance)"
PSEUDO_LR_METHOD = "Pseudo likelihood-ratio test"


@dataclass(frozen=True, eq=False)
class FineGrayFit:
    """A fitted Fine–Gray model.

    Attributes
    ----------
    names : tuple of str
        Design-column names.
    coef : numpy.ndarray
        Log subdistribution hazard ratios.
    se, z, p : numpy.ndarray
        Robust (sandwich) standard errors, ``coef / se`` and two-sided normal p-values.
    shr, conf_low, conf_high : numpy.ndarray
        Subdistribution hazard ratios ``exp(coef)`` and Wald limits ``exp(coef -/+ q se)``.
    conf_level : float
    var : numpy.ndarray
        crr's sandwich covariance ``H^-1 Sigma H^-1`` (``crr(...)$var``).
    naive_var : numpy.ndarray
        ``H^-1``, the inverse of the pseudo-likelihood's information (``crr(...)$invinf``).
    loglik, loglik_null : float
        Log pseudo-likelihood at the estimate and at ``beta = 0``.
    wald_test : TestResult
        Global Wald test of ``beta = 0`` with the robust variance, ``p`` degrees of freedom.
    lr_test : TestResult
        crr's pseudo likelihood-ratio test ``2 (loglik - loglik_null)`` on ``p`` degrees of
        freedom (as ``summary.crr`` prints it; the weights make it only approximately
        chi-squared).
    n, n_events, n_competing, n_censored : int
        Patients, events of interest, competing events and censored observations.
    iterations : int
        Newton–Raphson steps taken.
    converged : bool
    reason : str or None
        Why the fit did not converge.
    separated : tuple of str
        Always empty (kept for the regression kit, which reads it from every fit).
    """

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p: np.ndarray
    shr: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    conf_level: float
    var: np.ndarray
    naive_var: np.ndarray
    loglik: float
    loglik_null: float
    wald_test: TestResult
    lr_test: TestResult
    n: int
    n_events: int
    n_competing: int
    n_censored: int
    iterations: int
    converged: bool
    reason: str | None = None
    separated: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Data:
    """The inputs sorted by time, with the censoring distribution and the tie structure."""

    x: np.ndarray          # (n, p), centred
    event: np.ndarray      # bool, event of interest
    competing: np.ndarray  # bool
    censored: np.ndarray   # bool
    start: np.ndarray      # first row of each distinct time
    inverse: np.ndarray    # distinct-time index of each row
    deaths: np.ndarray     # events of interest at each distinct time
    censorings: np.ndarray  # censored observations at each distinct time
    at_risk: np.ndarray    # rows with time >= each distinct time
    g_before: np.ndarray   # censoring KM just before each distinct time, G(t-)


def _prepare(time, status, X, names, cause) -> tuple[_Data, tuple[str, ...]]:
    if names is None:
        width = np.asarray(X).shape[1] if np.ndim(X) == 2 else 1
        names = [f"x{j + 1}" for j in range(width)]
    x, names = design_matrix(X, names)
    time = np.asarray(time, dtype=float)
    status = np.asarray(status)
    if time.shape != (x.shape[0],) or status.shape != (x.shape[0],):
        raise StatisticsError("time, status and the covariates must have the same length")
    if not np.all(np.isfinite(time)):
        raise StatisticsError("missing or non-finite follow-up times")
    check_finite_columns(x, names)
    if np.any(time < 0):
        raise StatisticsError("times must not be negative")
    order = np.argsort(time, kind="stable")
    time, status, x = time[order], status[order], x[order]
    event = status == cause
    censored = status == 0
    if not event.any():
        raise StatisticsError(f"no events of the cause of interest (code {cause}): "
                              f"the model cannot be fitted")
    for j, name in enumerate(names):
        if np.ptp(x[:, j]) == 0:
            raise StatisticsError(f"covariate '{name}' is constant: it has no effect to "
                                  f"estimate")
    x = x - x.mean(axis=0)
    raise_if_collinear(x, names)
    distinct, start, inverse = np.unique(time, return_index=True, return_inverse=True)
    n_times = distinct.size
    at_risk = x.shape[0] - start
    censorings = np.bincount(inverse, weights=censored, minlength=n_times)
    deaths = np.bincount(inverse, weights=event, minlength=n_times)
    g_after = np.cumprod(1.0 - censorings / at_risk)
    g_before = np.concatenate(([1.0], g_after[:-1]))
    if distinct[0] == 0.0:
        # crr reads the censoring curve at t (1 - 1e-14): at t = 0 that is G(0), after the
        # censorings at time 0, not G(0-).
        g_before[0] = g_after[0]
    data = _Data(x, event, ~event & ~censored, censored, start, inverse, deaths, censorings,
                 at_risk, g_before)
    return data, names


@dataclass(frozen=True)
class _RiskSums:
    """``S0``, ``S1`` (and ``S2``) of the weighted risk set at every distinct time."""

    risk: np.ndarray  # exp(x beta) per row
    s0: np.ndarray
    s1: np.ndarray
    s2: np.ndarray | None
    b0: np.ndarray    # competing rows before each time: sum r / G(t_j-)
    b1: np.ndarray


def _exclusive_cumsum(values: np.ndarray) -> np.ndarray:
    out = np.zeros((values.shape[0] + 1, *values.shape[1:]))
    np.cumsum(values, axis=0, out=out[1:])
    return out


def _risk_sums(data: _Data, beta: np.ndarray, second: bool) -> _RiskSums:
    """Risk-set sums: rows still under observation count with weight 1, rows that failed
    from a competing cause earlier with ``G(t-) / G(t_j-)``."""
    with np.errstate(over="ignore"):
        risk = np.exp(data.x @ beta)
    x = data.x
    g_row = data.g_before[data.inverse]
    competing_weight = np.where(data.competing, risk / g_row, 0.0)

    def at_times(per_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shape = (-1,) + (1,) * (per_row.ndim - 1)
        weighted = per_row * risk.reshape(shape)
        later = np.cumsum(weighted[::-1], axis=0)[::-1][data.start]
        earlier = _exclusive_cumsum(per_row * competing_weight.reshape(shape))[data.start]
        return later + data.g_before.reshape(shape) * earlier, earlier

    s0, b0 = at_times(np.ones(x.shape[0]))
    s1, b1 = at_times(x)
    s2 = at_times(np.einsum("ij,ik->ijk", x, x))[0] if second else None
    return _RiskSums(risk, s0, s1, s2, b0, b1)


def _objective(data: _Data, beta: np.ndarray, sums: _RiskSums) -> float:
    """Minus the log pseudo-likelihood (crr minimises it)."""
    fails = data.deaths > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-(data.x[data.event] @ beta).sum()
                     + (data.deaths[fails] * np.log(sums.s0[fails])).sum())


def _derivatives(data: _Data, beta: np.ndarray):
    """Minus the log pseudo-likelihood, its gradient and its Hessian at ``beta``."""
    sums = _risk_sums(data, beta, second=True)
    fails = data.deaths > 0
    d, s0 = data.deaths[fails], sums.s0[fails]
    mean = sums.s1[fails] / s0[:, None]
    gradient = -data.x[data.event].sum(axis=0) + (d[:, None] * mean).sum(axis=0)
    hessian = np.einsum("k,kij->ij", d / s0, sums.s2[fails]) - \
        np.einsum("k,ki,kj->ij", d, mean, mean)
    return _objective(data, beta, sums), gradient, hessian, sums


def _newton(data: _Data, p: int):
    """crr's Newton–Raphson with its line search: (beta, minus the log pseudo-likelihood,
    its Hessian and risk-set sums at beta, iterations, converged, reason)."""
    beta = np.zeros(p)
    for iteration in range(MAX_ITERATIONS + 1):
        value, gradient, hessian, sums = _derivatives(data, beta)
        if np.max(np.abs(gradient) * np.maximum(np.abs(beta), 1.0)) < \
                max(abs(value), 1.0) * GRADIENT_TOLERANCE:
            return beta, value, hessian, sums, iteration, True, None
        if iteration == MAX_ITERATIONS:
            return beta, value, hessian, sums, iteration, False, (
                f"the Fine\u2013Gray model did not converge in {MAX_ITERATIONS} "
                f"Newton\u2013Raphson iterations")
        try:
            step = -np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            raise StatisticsError("the pseudo-likelihood's information matrix is singular: "
                                  "a covariate cannot be estimated from these data") from None
        predicted = ARMIJO * float(step @ gradient)
        for halving in range(MAX_HALVINGS + 1):
            candidate = beta + step
            trial = _objective(data, candidate, _risk_sums(data, candidate, second=False))
            if np.isfinite(trial) and trial <= value + predicted * 0.5 ** halving:
                break
            step = step * 0.5
        else:
            return beta, value, hessian, sums, iteration, False, (
                "the Fine\u2013Gray model did not converge: step halving failed to raise "
                "the pseudo-likelihood")
        beta = candidate
    raise AssertionError("unreachable")


def _score_residuals(data: _Data, sums: _RiskSums) -> np.ndarray:
    """Each row's score residual ``eta_i`` plus its censoring term ``psi_i`` (crr's
    ``crrvv``), whose cross-products make the middle of the sandwich."""
    x, risk = data.x, sums.risk
    fails = data.deaths > 0
    per_time = np.where(fails, data.deaths / np.where(fails, sums.s0, 1.0), 0.0)
    mean = sums.s1 / sums.s0[:, None]
    # eta: dN_i (x_i - xbar) minus the weighted compensator over every event time.
    c0 = np.cumsum(per_time)[data.inverse]
    c1 = np.cumsum(per_time[:, None] * mean, axis=0)[data.inverse]
    g_per_time = per_time * data.g_before
    later0 = _after(g_per_time)
    later1 = _after(g_per_time[:, None] * mean)
    row_mean = mean[data.inverse]
    eta = np.where(data.event[:, None], x - row_mean, 0.0)
    eta -= risk[:, None] * (x * c0[:, None] - c1)
    g_row = data.g_before[data.inverse]
    weight = np.where(data.competing, risk / g_row, 0.0)
    eta -= weight[:, None] * (x * later0[data.inverse][:, None] - later1[data.inverse])
    # psi: the integral of q(u) / Y(u) against each row's censoring martingale.
    from_here0 = later0 + g_per_time
    from_here1 = later1 + g_per_time[:, None] * mean
    q = sums.b1 * from_here0[:, None] - sums.b0[:, None] * from_here1
    compensator = np.cumsum((data.censorings / data.at_risk ** 2)[:, None] * q, axis=0)
    psi = -compensator[data.inverse]
    psi += np.where(data.censored[:, None], (q / data.at_risk[:, None])[data.inverse], 0.0)
    return eta + psi


def _after(values: np.ndarray) -> np.ndarray:
    """Sums over the later distinct times (strictly after each one)."""
    total = np.cumsum(values[::-1], axis=0)[::-1]
    return np.concatenate((total[1:], np.zeros_like(total[:1])), axis=0)


def fit_finegray(time, status, X, names: Sequence[str] | None = None, *, cause=1,
                 conf_level: float = 0.95) -> FineGrayFit:
    """Fit the Fine–Gray model of ``cause`` as ``cmprsk::crr(time, status, X,
    failcode = cause, cencode = 0)``.

    Parameters
    ----------
    time : array_like, shape (n,)
        Follow-up time, non-negative.
    status : array_like, shape (n,)
        0 censored, ``cause`` the event of interest, any other code a competing event.
    X : array_like, shape (n,) or (n, p)
        Covariates (design columns), complete.
    names : sequence of str, optional
        Column names (default ``x1``, ``x2``...).
    cause : int, default 1
        The code of the event of interest.
    conf_level : float, default 0.95

    Returns
    -------
    FineGrayFit

    Raises
    ------
    StatisticsError
        No event of interest, a constant or collinear covariate, a singular information
        matrix, or bad inputs.
    """
    check_conf_level(conf_level)
    data, names = _prepare(time, status, X, names, cause)
    p = len(names)
    beta, value, hessian, sums, iterations, converged, reason = _newton(data, p)
    try:
        naive = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        raise StatisticsError("the pseudo-likelihood's information matrix is singular: a "
                              "covariate cannot be estimated from these data") from None
    residuals = _score_residuals(data, sums)
    var = naive @ (residuals.T @ residuals) @ naive.T
    var = (var + var.T) / 2.0
    table = wald_table(beta, var, np.zeros(p, dtype=bool), conf_level)
    null = _objective(data, np.zeros(p), _risk_sums(data, np.zeros(p), second=False))
    lr = 2.0 * (null - value)
    wald = float(beta @ np.linalg.solve(var, beta))
    return FineGrayFit(
        names=names, coef=beta, se=table.se, z=table.z, p=table.p, shr=table.ratio,
        conf_low=table.conf_low, conf_high=table.conf_high, conf_level=conf_level, var=var,
        naive_var=naive, loglik=-value, loglik_null=-null,
        wald_test=TestResult(WALD_METHOD, float(chi2_sf(wald, p)), wald, float(p)),
        lr_test=TestResult(PSEUDO_LR_METHOD, float(chi2_sf(lr, p)), lr, float(p)),
        n=int(data.x.shape[0]), n_events=int(data.event.sum()),
        n_competing=int(data.competing.sum()), n_censored=int(data.censored.sum()),
        iterations=iterations, converged=converged, reason=reason)


def wald_test_terms(fit: FineGrayFit, columns: Sequence[str]) -> TestResult:
    """The Wald test that the coefficients of ``columns`` are all zero, with the robust
    variance (a factor's test: crr has no likelihood to refit against)."""
    index = [fit.names.index(c) for c in columns]
    beta = fit.coef[index]
    statistic = float(beta @ np.linalg.solve(fit.var[np.ix_(index, index)], beta))
    return TestResult(WALD_METHOD, float(chi2_sf(statistic, len(index))), statistic,
                      float(len(index)))
