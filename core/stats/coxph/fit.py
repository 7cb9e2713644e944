"""Cox proportional hazards regression, fitted to match R ``survival::coxph``.

The partial likelihood is maximised by Newton--Raphson with the rules of survival's
``coxfit6``: start at beta = 0, stop when the relative change in log partial likelihood is
at most ``1e-9``, at most 20 iterations, and step-halving whenever an iteration lowers the
log-likelihood. The fit is then checked for infinite coefficients (monotone likelihood) and
reported with its Wald table and whole-model tests; :func:`lr_test_terms` tests groups of
terms by refitting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import scipy.linalg

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult, check_conf_level
from cohortpress.stats.coxph.data import CoxData, kept_columns, prepare_cox_data
from cohortpress.stats.coxph.likelihood import (RiskSetTerms, risk_set_terms, score_vector,
                                                weighted_information)
from cohortpress.stats.distributions import chi2_sf
from cohortpress.stats.linalg import solve_symmetric
from cohortpress.stats.wald import wald_table

__all__ = ["CoxFit", "fit_cox", "lr_test_terms", "wald_test_terms"]

TIES_METHODS = ("efron", "breslow")

#: survival::coxph.control() defaults.
CONVERGENCE_EPS = 1e-9
MAX_ITERATIONS = 20
INFINITE_TOLERANCE = math.sqrt(CONVERGENCE_EPS)

#: A coefficient whose log hazard ratio per standard deviation of its covariate exceeds this
#: is treated as infinite (a hazard ratio of e^10 = 22,000 per typical difference).
MAX_SCALED_COEFFICIENT = 10.0


@dataclass(frozen=True, eq=False)
class CoxFit:
    """A fitted Cox proportional hazards model.

    Attributes
    ----------
    names : tuple of str
        The covariate (design-matrix column) names.
    coef : numpy.ndarray
        Log hazard ratios ``beta``. For a term in ``separated``, the value where the iteration
        stopped (the true estimate is infinite).
    se : numpy.ndarray
        Standard errors, ``sqrt(diag(I(beta)^-1))`` with ``I`` the observed information.
    z, p : numpy.ndarray
        Wald statistics ``coef / se`` and two-sided p-values ``2 * Phi(-|z|)``; ``nan`` for
        separated terms.
    hr, conf_low, conf_high : numpy.ndarray
        Hazard ratios ``exp(coef)`` and their Wald limits ``exp(coef -/+ q * se)`` with
        ``q = Phi^-1((1 + conf_level) / 2)``; ``nan`` for separated terms.
    conf_level : float
        Confidence level of the limits.
    var : numpy.ndarray
        The covariance matrix ``I(beta)^-1``.
    loglik_null, loglik : float
        Log partial likelihood at ``beta = 0`` and at the estimate.
    lr_test, wald_test, score_test : TestResult
        Whole-model tests of ``beta = 0`` on ``p`` degrees of freedom:
        ``2 (loglik - loglik_null)``, ``beta' I(beta) beta`` and ``U(0)' I(0)^-1 U(0)``
        (the log-rank test when there is one binary covariate and ties are Breslow).
    n, n_events : int
        Rows and events used.
    ties : str
        ``"efron"`` or ``"breslow"``.
    iterations : int
        Newton--Raphson iterations, counted as R counts them (``fit$iter``).
    converged : bool
        Whether the iteration met the convergence rule with every coefficient finite.
    separated : tuple of str
        Covariates whose estimate is infinite (monotone likelihood).
    reason : str or None
        Why ``converged`` is false or ``separated`` is not empty.
    variance : str
        ``"model"`` (``I^-1``), ``"robust"`` (the sandwich of the rows' dfbeta residuals)
        or ``"cluster"`` (the same, summed within clusters); ``se``, ``z``, ``p``, the
        limits and ``wald_test`` use it, as coxph's do.
    naive_var : numpy.ndarray or None
        ``I(beta)^-1`` when ``variance`` is robust (coxph's ``naive.var``).
    robust_score_test : TestResult or None
        The robust score test of ``beta = 0`` (coxph's ``rscore``) when ``variance`` is robust.
    n_clusters : int or None
        The number of clusters of a ``"cluster"`` variance.
    """

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p: np.ndarray
    hr: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    conf_level: float
    var: np.ndarray
    loglik_null: float
    loglik: float
    lr_test: TestResult
    wald_test: TestResult
    score_test: TestResult
    n: int
    n_events: int
    ties: str
    iterations: int
    converged: bool
    separated: tuple[str, ...] = ()
    reason: str | None = None
    variance: str = "model"
    naive_var: np.ndarray | None = None
    robust_score_test: TestResult | None = None
    n_clusters: int | None = None



# ---------------------------------------------------------------------------------------
# Newton--Raphson
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _NewtonResult:
    beta: np.ndarray
    terms: RiskSetTerms
    score: np.ndarray
    information: np.ndarray
    loglik_null: float
    score_statistic: float
    iterations: int
    converged: bool


def _evaluate(data: CoxData, beta: np.ndarray, efron: bool):
    terms = risk_set_terms(data, beta, efron)
    return terms, score_vector(data, terms), weighted_information(data, terms)


def _newton_raphson(data: CoxData, efron: bool, max_iter: int, eps: float,
                    init: np.ndarray | None = None) -> _NewtonResult:
    """Maximise the partial likelihood with coxfit6's iteration and step-halving rules,
    from ``beta = 0`` or from ``init`` (then ``loglik_null`` and the score test are those at
    ``init``, not at 0)."""
    beta = np.zeros(data.xt.shape[0]) if init is None else np.array(init, dtype=float)
    terms, score, information = _evaluate(data, beta, efron)
    loglik_null = terms.loglik
    step = solve_symmetric(information, score)
    score_statistic = float(score @ step)
    best = (beta, terms, score, information)
    best_loglik = loglik_null
    candidate = beta + step
    halving = 0
    for iteration in range(1, max_iter + 1):
        terms, score, information = _evaluate(data, candidate, efron)
        finite = (math.isfinite(terms.loglik) and np.isfinite(score).all()
                  and np.isfinite(information).all())
        # coxfit6's |1 - old/new| <= eps, written so that a log-likelihood of 0 is allowed.
        if finite and abs(terms.loglik - best_loglik) <= eps * abs(terms.loglik):
            return _NewtonResult(candidate, terms, score, information, loglik_null,
                                 score_statistic, iteration, True)
        if not finite or terms.loglik < best_loglik:
            halving += 1
            candidate = (candidate + halving * best[0]) / (halving + 1.0)
        else:
            halving = 0
            best_loglik = terms.loglik
            best = (candidate, terms, score, information)
            candidate = candidate + solve_symmetric(information, score)
    beta, terms, score, information = best
    return _NewtonResult(beta, terms, score, information, loglik_null, score_statistic,
                         max_iter, False)


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------

def fit_cox(X, time, event, names: Sequence[str], ties: str = "efron", strata=None, *,
            conf_level: float = 0.95, max_iter: int = MAX_ITERATIONS,
            eps: float = CONVERGENCE_EPS, prepared: CoxData | None = None,
            robust: bool = False, cluster=None, entry=None) -> CoxFit:
    """Fit a Cox proportional hazards model by Newton--Raphson on the partial likelihood.

    Maximises ``l(beta) = sum_k [ sum_{i in D_k} x_i' beta - sum_{j=0}^{d_k-1}
    log( sum_{i in R_k} w_i - (j/d_k) sum_{i in D_k} w_i ) ]`` (Efron; Breslow without the
    ``j/d_k`` term), with ``w_i = exp(x_i' beta)`` and risk sets formed within strata.
    Matches ``survival::coxph(Surv(time, event) ~ X + strata(strata), ties = ties)``, and
    with ``entry`` ``coxph(Surv(entry, time, event) ~ ...)``: counting-process rows at risk
    over ``(entry, time]`` (delayed entry, or several rows per subject with time-varying
    covariates, then usually with ``cluster`` = the subject).

    Parameters
    ----------
    X : array_like, shape (n, p)
        Design matrix, dummy-coded by the caller, without an intercept.
    time : array_like, shape (n,)
        Follow-up times.
    event : array_like, shape (n,)
        1 = event, 0 = censored.
    names : sequence of str
        Column names of ``X``.
    ties : {"efron", "breslow"}
        Handling of tied event times.
    strata : array_like, shape (n,), optional
        Stratum labels; each stratum has its own baseline hazard.
    conf_level : float
        Confidence level of the hazard-ratio limits.
    max_iter : int
        Maximum Newton--Raphson iterations (coxph's ``iter.max``).
    eps : float
        Convergence tolerance on the relative change in log partial likelihood.
    prepared : CoxData, optional
        ``prepare_cox_data(X, time, event, names, strata)``, when the caller has it already
        (to reuse it for :func:`lr_test_terms` and ``cox_zph``); ``X``, ``time``, ``event``,
        ``names`` and ``strata`` are then not read again.
    robust : bool
        Report the robust sandwich variance ``D' D`` of the dfbeta residuals ``D`` (as
        ``coxph(..., robust = TRUE)``) instead of ``I^-1``.
    cluster : array_like, optional
        Cluster labels of the rows (input order): the robust variance with the rows of a
        cluster summed (as ``coxph(..., cluster = id)``); implies ``robust``.
    entry : array_like, shape (n,), optional
        Start times of the rows (each ``< time``); without it every row is at risk from 0.

    Returns
    -------
    CoxFit
        Separated (monotone-likelihood) terms are listed in ``separated`` with ``nan``
        hazard ratio, limits and p-value, and ``converged`` is false.

    Raises
    ------
    StatisticsError
        If there is no event, values are missing, a covariate is constant (within every
        stratum) or covariates are collinear.
    """
    ties = _checked_ties(ties)
    check_conf_level(conf_level)
    data = (prepared if prepared is not None
            else prepare_cox_data(X, time, event, names, strata, entry))
    fit = _fit_prepared(data, ties, conf_level, max_iter, eps)
    if robust or cluster is not None:
        fit = _with_robust_variance(fit, data, cluster)
    return fit


def _with_robust_variance(fit: CoxFit, data: CoxData, cluster) -> CoxFit:
    """The fit with coxph's robust (or clustered) variance in its Wald table and test."""
    from cohortpress.stats.coxph.robust import robust_variance

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        robust = robust_variance(data, fit.coef, fit.var, fit.ties == "efron", cluster)
    infinite = np.array([name in fit.separated for name in fit.names], dtype=bool)
    table = wald_table(fit.coef, robust.var, infinite, fit.conf_level)
    wald_test = fit.wald_test  # with an infinite coefficient: "not valid", as before
    if not infinite.any():
        df = float(fit.coef.size)
        wald = float(fit.coef @ solve_symmetric(robust.var, fit.coef))
        wald_test = TestResult("Wald test (robust variance)", float(chi2_sf(wald, df)), wald,
                               df)
    return replace(fit, se=table.se, z=table.z, p=table.p, hr=table.ratio,
                   conf_low=table.conf_low, conf_high=table.conf_high, var=robust.var,
                   wald_test=wald_test,
                   variance="robust" if cluster is None else "cluster", naive_var=fit.var,
                   robust_score_test=robust.score_test, n_clusters=robust.clusters)


def wald_test_terms(fit: CoxFit, columns: Sequence[str]) -> TestResult:
    """Wald test that the coefficients of ``columns`` are all zero, with the fit's variance.

    ``b' V^-1 b`` over those columns on ``len(columns)`` degrees of freedom; with a robust
    variance this is the test of a factor that stays valid under clustering (the
    likelihood-ratio test assumes independent rows).
    """
    position = {name: j for j, name in enumerate(fit.names)}
    index = np.array([position[str(name)] for name in columns])
    b = fit.coef[index]
    statistic = float(b @ solve_symmetric(fit.var[np.ix_(index, index)], b))
    method = "Wald test (robust variance)" if fit.variance != "model" else "Wald test"
    return TestResult(method, float(chi2_sf(statistic, index.size)), statistic,
                      float(index.size))


def lr_test_terms(X, time, event, names: Sequence[str], drop: Sequence[str],
                  ties: str = "efron", strata=None, *, full_fit: CoxFit | None = None,
                  prepared: CoxData | None = None, entry=None) -> TestResult:
    """Likelihood-ratio test for dropping a group of columns (e.g. all dummies of a factor).

    ``LR = 2 (l_full - l_reduced)`` on ``len(drop)`` degrees of freedom, where the reduced
    model is refitted without the columns in ``drop`` (the null model when nothing is
    left), starting from the full model's coefficients of the columns kept. Matches ``anova(reduced, full)`` and ``drop1(full, test = "Chisq")`` in R.

    Parameters
    ----------
    X, time, event, names, ties, strata, entry
        As for :func:`fit_cox`, describing the full model.
    drop : sequence of str
        Names of the columns to remove.
    full_fit : CoxFit, optional
        The already fitted full model, to save refitting it.
    prepared : CoxData, optional
        The full model's ``prepare_cox_data``: the reduced model keeps its sort order and
        tie structure (they depend on the rows only) and takes a subset of its centred
        covariates, which gives the same numbers as preparing the reduced model anew.

    Returns
    -------
    TestResult
    """
    names = tuple(str(name) for name in names)
    drop = tuple(str(name) for name in drop)
    unknown = [name for name in drop if name not in names]
    if unknown or not drop:
        raise StatisticsError("columns to drop must be a non-empty subset of the model's "
                              f"columns; unknown: {', '.join(unknown) or '(none given)'}")
    full = full_fit or fit_cox(X, time, event, names, ties, strata, prepared=prepared,
                               entry=entry)
    keep = [j for j, name in enumerate(names) if name not in drop]
    if keep:
        kept_names = [names[j] for j in keep]
        if prepared is not None:
            data = kept_columns(prepared, keep)
        else:
            x = np.asarray(X, dtype=float).reshape(len(time), -1)
            data = prepare_cox_data(x[:, keep], time, event, kept_names, strata, entry)
        # Warm start from the full fit's coefficients of the columns kept (as coxph's
        # init = ...): the same maximum in fewer Newton steps.
        usable = full.converged and not full.separated
        reduced = _fit_prepared(data, _checked_ties(ties), full.conf_level, MAX_ITERATIONS,
                                CONVERGENCE_EPS, init=full.coef[keep] if usable else None)
        reduced_loglik = reduced.loglik
        unreliable = bool(reduced.separated) or not reduced.converged
    else:
        reduced_loglik = full.loglik_null
        unreliable = False
    statistic = max(2.0 * (full.loglik - reduced_loglik), 0.0)
    df = len(drop)
    note = None
    if unreliable or full.separated or not full.converged:
        note = "a model did not converge or has an infinite coefficient; the test is approximate"
    return TestResult("Likelihood-ratio test", float(chi2_sf(statistic, df)),
                      statistic, float(df), note)


def _checked_ties(ties: str) -> str:
    ties = str(ties).lower()
    if ties not in TIES_METHODS:
        raise StatisticsError(f"ties must be one of {', '.join(TIES_METHODS)}, not '{ties}'")
    return ties


def _fit_prepared(data: CoxData, ties: str, conf_level: float, max_iter: int,
                  eps: float, init: np.ndarray | None = None) -> CoxFit:
    """The fit of prepared data; with ``init`` (a warm start, for the likelihood-ratio
    refits) only ``loglik``, ``coef``, ``converged`` and ``separated`` are meaningful: the
    null log-likelihood and the whole-model tests are taken at ``init``."""
    result = _newton_raphson(data, ties == "efron", max_iter, eps, init)
    var = solve_symmetric(result.information, np.eye(result.beta.size))
    infinite, reason = _infinite_coefficients(data, result, var)
    if not infinite.any():
        check_information(data, result.information, result.iterations)
    table = wald_table(result.beta, var, infinite, conf_level)
    return CoxFit(
        names=data.names, coef=result.beta, se=table.se, z=table.z, p=table.p, hr=table.ratio,
        conf_low=table.conf_low, conf_high=table.conf_high, conf_level=conf_level, var=var,
        loglik_null=result.loglik_null, loglik=result.terms.loglik,
        **_model_tests(result, infinite),
        n=data.n, n_events=data.n_events, ties=ties, iterations=result.iterations,
        converged=result.converged and not infinite.any(),
        separated=tuple(data.names[j] for j in np.flatnonzero(infinite)), reason=reason)


def check_information(data, information: np.ndarray, iterations: int) -> None:
    """Raise if the information matrix at the estimate is singular.

    ``data`` needs ``n_events``, ``spread`` and ``names``: a :class:`CoxData`, or the
    aggregate fit's model (:mod:`cohortpress.stats.coxph.aggregate`).

    That happens when covariates carry no information within the risk sets of the events
    (say, every event is alone in its risk set), which the rank check of the whole design
    cannot see; coxph then reports NA coefficients.
    """
    try:
        scipy.linalg.cho_factor(information)
        return
    except (np.linalg.LinAlgError, ValueError):
        pass
    scale = data.n_events * data.spread ** 2
    empty = np.diag(information) <= 1e-10 * scale
    detail = (" no information on " + ", ".join(f"'{data.names[j]}'" for j in np.flatnonzero(empty))
              if empty.any() else " covariates are collinear within the risk sets")
    raise StatisticsError("the Cox model cannot be estimated: the information matrix is "
                          f"singular after {iterations} iteration(s);{detail} (no variation "
                          "among the subjects at risk at the event times)")


def _model_tests(result: _NewtonResult, infinite: np.ndarray) -> dict[str, TestResult]:
    """Likelihood-ratio, Wald and score tests of ``beta = 0``, as coxph reports them."""
    df = float(result.beta.size)
    lr = 2.0 * (result.terms.loglik - result.loglik_null)
    wald = float(result.beta @ result.information @ result.beta)
    if infinite.any():
        wald_test = TestResult("Wald test", math.nan, wald, df,
                               "not valid: a coefficient is infinite")
        lr_note = "log-likelihood at the last iterate; its supremum is not attained"
    else:
        wald_test = TestResult("Wald test", float(chi2_sf(wald, df)), wald, df)
        lr_note = None
    return dict(
        lr_test=TestResult("Likelihood-ratio test", float(chi2_sf(lr, df)), lr, df,
                           lr_note),
        wald_test=wald_test,
        score_test=TestResult("Score (log-rank) test",
                              float(chi2_sf(result.score_statistic, df)),
                              result.score_statistic, df))


def _infinite_coefficients(data: CoxData, result: _NewtonResult, var: np.ndarray):
    """Flag coefficients that diverge (monotone likelihood) and say why.

    Three symptoms, any of which flags a coefficient ``j``:

    * coxph's rule: after convergence the one-step Newton increment ``|U' V|_j`` is still
      larger than ``max(eps, sqrt(eps) |beta_j|)`` -- the likelihood flattened out before the
      coefficient did;
    * ``|beta_j|`` times the standard deviation of its covariate (within strata) exceeds
      ``MAX_SCALED_COEFFICIENT``;
    * the iteration ran out with a linear predictor above 500 (coxph's warning), which
      flags the coefficients that are still moving.
    """
    return infinite_coefficients(data.names, data.spread, result.beta, result.score, var,
                                 result.converged, result.iterations,
                                 lambda beta: np.abs(beta @ data.xt).max())


def infinite_coefficients(names, spread, beta, score, var, converged: bool, iterations: int,
                          max_abs_eta):
    """The rule of :func:`_infinite_coefficients` on the fit's pieces: ``max_abs_eta(beta)``
    gives the largest ``|x' beta|`` (computed from the rows here, read from the scan by
    :mod:`cohortpress.stats.coxph.aggregate`). Returns the flags and the reason, or None."""
    increment = np.abs(score @ var)
    flagged = ~np.isfinite(increment) | (np.abs(beta) * spread > MAX_SCALED_COEFFICIENT)
    if converged:
        flagged |= (increment > CONVERGENCE_EPS) & (increment > INFINITE_TOLERANCE * np.abs(beta))
    elif max_abs_eta(beta) > 500:
        flagged |= increment > INFINITE_TOLERANCE * np.abs(beta)
    if flagged.any():
        values = ", ".join(f"'{names[j]}' = {beta[j]:.3g}" for j in np.flatnonzero(flagged))
        return flagged, ("monotone likelihood: the estimate of " + values
                         + " (where the iteration stopped) is infinite, typically because "
                         "a category has no events or only events; its hazard ratio "
                         "cannot be estimated -- merge sparse categories or use a "
                         "penalised model")
    if not converged:
        return flagged, (f"no convergence in {iterations} iterations; the results "
                         "are those of the last improving step")
    return flagged, None
