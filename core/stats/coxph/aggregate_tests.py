"""Tests of Cox models fitted from per-time sums (:mod:`.aggregate`): the likelihood-ratio
test of a group of terms from the full fit and its refit, and ``cox.zph`` from the sums at
the final ``beta`` -- the numbers of :func:`~cohortpress.stats.coxph.lr_test_terms` and
:func:`~cohortpress.stats.coxph.cox_zph` without the rows.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult
from cohortpress.stats.coxph.aggregate import AggregateFit, merged_groups, unpack
from cohortpress.stats.coxph.fit import CoxFit
from cohortpress.stats.coxph.zph import TRANSFORMS, ZphResult
from cohortpress.stats.distributions import chi2_sf

__all__ = ["lr_test_aggregated", "cox_zph_aggregated", "zph_result"]


def lr_test_aggregated(full: CoxFit, reduced: CoxFit | StatisticsError | None,
                       df: int) -> TestResult:
    """The likelihood-ratio test of :func:`~cohortpress.stats.coxph.lr_test_terms` from the
    full fit and the refit without the tested columns (None: nothing left, the null model).

    Raises
    ------
    StatisticsError
        The refit's, when it could not be estimated (as the in-memory refit raises).
    """
    if isinstance(reduced, StatisticsError):
        raise reduced
    if reduced is None:
        reduced_loglik, unreliable = full.loglik_null, False
    else:
        reduced_loglik = reduced.loglik
        unreliable = bool(reduced.separated) or not reduced.converged
    statistic = max(2.0 * (full.loglik - reduced_loglik), 0.0)
    note = None
    if unreliable or full.separated or not full.converged:
        note = "a model did not converge or has an infinite coefficient; the test is approximate"
    return TestResult("Likelihood-ratio test", float(chi2_sf(statistic, df)), statistic,
                      float(df), note)


def cox_zph_aggregated(fitted: AggregateFit, *, transform: str = "km",
                       groups: Mapping[str, Sequence[str]] | None = None) -> ZphResult:
    """``cox.zph`` (survival 3.x score test) from the sums at the final ``beta``.

    As :func:`~cohortpress.stats.coxph.cox_zph`: ``g(t)`` is 1 minus the Kaplan--Meier
    estimate of all strata pooled just before ``t`` (``km``), ``t``, ``log t`` or the average
    rank of ``t`` among the rows, centred at its mean over the events; the score of the
    ``x g(t)`` terms and the ``2p x 2p`` information come from the same per-time sums as
    the fit, the events' unweighted sums from the scan at ``beta = 0``.
    """
    if transform not in TRANSFORMS:
        raise StatisticsError(f"transform must be one of {', '.join(TRANSFORMS)}, "
                              f"not '{transform}'")
    fit, terms, layout = fitted.fit, fitted.terms, fitted.layout
    if fitted.model.start is not None:
        raise StatisticsError("cox.zph from aggregates needs the fit started at 0")
    g_group = _transformed_time(layout, transform)
    events = terms.event_groups
    deaths = layout.deaths[events].astype(float)
    g = g_group[events]
    g = g - (deaths @ g) / deaths.sum()
    x_events = merged_groups(fitted.start_sums.d1, layout)[events]  # exp(0) = 1: sums of x
    p = len(fit.names)
    score = x_events.T @ g - (terms.s1.T @ (g * terms.inv_den)
                              - terms.d1.T @ (g * terms.frac_inv_den))
    blocks = [_weighted_information(terms, q, p) for q in (np.ones_like(g), g, g ** 2)]
    information = np.block([[blocks[0], blocks[1]], [blocks[1], blocks[2]]])
    return zph_result(fit, score, information, transform, groups)


def zph_result(fit: CoxFit, score: np.ndarray, information: np.ndarray, transform: str,
               groups: Mapping[str, Sequence[str]] | None) -> ZphResult:
    """The per-term and global tests of ``cox.zph`` from the score of the ``x g(t)`` terms
    and the ``2p x 2p`` information (``g`` centred)."""
    from cohortpress.stats.coxph.zph import _method, _score_statistic, _term_columns

    p = len(fit.names)
    term_names, term_columns = _term_columns(fit.names, groups)
    chisq = np.array([_score_statistic(score, information, p, columns)
                      for columns in term_columns])
    df = np.array([float(len(columns)) for columns in term_columns])
    global_chisq = _score_statistic(score, information, p, np.arange(p))
    return ZphResult(names=term_names, chisq=chisq, df=df, p=chi2_sf(chisq, df),
                     global_test=TestResult(_method(transform),
                                            float(chi2_sf(global_chisq, p)), global_chisq,
                                            float(p)),
                     transform=transform)


def _weighted_information(terms, q: np.ndarray, p: int) -> np.ndarray:
    """The information with weight ``q_k`` on event time ``k`` (as
    :func:`.likelihood.weighted_information`)."""
    second = unpack(terms.s2.T @ (q * terms.inv_den) - terms.d2.T @ (q * terms.frac_inv_den), p)
    s1, d1 = terms.s1, terms.d1
    mean_part = (s1.T * (q * terms.inv_den_sq)) @ s1
    cross = (s1.T * (q * terms.frac_inv_den_sq)) @ d1
    mean_part += (d1.T * (q * terms.frac_sq_inv_den_sq)) @ d1 - cross - cross.T
    return second - mean_part


def _transformed_time(layout, transform: str) -> np.ndarray:
    """``g(t)`` of each merged group."""
    time = layout.time
    if transform == "identity":
        return time.astype(float)
    if transform == "log":
        if (time <= 0).any():
            raise StatisticsError("the log transform needs positive times")
        return np.log(time)
    distinct, index = np.unique(time, return_inverse=True)
    index = index.ravel()
    counts = np.bincount(index, layout.count.astype(float), minlength=distinct.size)
    if transform == "rank":
        below = np.cumsum(counts) - counts
        return (below + (counts + 1.0) / 2.0)[index]
    deaths = np.bincount(index, layout.deaths.astype(float), minlength=distinct.size)
    at_risk = np.cumsum(counts[::-1])[::-1]
    survival_after = np.cumprod(1.0 - deaths / at_risk)
    survival_before = np.concatenate(([1.0], survival_after[:-1]))
    return 1.0 - survival_before[index]
