"""The robust (sandwich) variance of a Cox fit, per subject or grouped by cluster.

``coxph(..., robust = TRUE)`` and ``coxph(..., cluster = id)`` replace the model variance
``I^-1`` by ``D' D``, where ``D`` holds each row's dfbeta (its score residual times
``I^-1``), summed within clusters when there are clusters (Lin and Wei, JASA 1989). The score
residuals follow survival's Efron form: the ``d`` tied events of one time are ``d``
pseudo-events whose risk sets lose ``j/d`` of the dying rows' weight. Vectorised over event
times with cumulative sums in the layout of :mod:`.data`; written here because lifelines'
robust variance does not follow coxph's Efron residuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult
from cohortpress.stats.coxph.counting import minus_before_entry, not_yet_entered_sums
from cohortpress.stats.coxph.data import CoxData
from cohortpress.stats.distributions import chi2_sf
from cohortpress.stats.linalg import solve_symmetric

__all__ = ["RobustVariance", "score_residuals", "robust_variance"]


def _cumsum_within(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sums along the last axis, restarting at each of ``starts``."""
    total = np.cumsum(values, axis=-1)
    before = np.zeros_like(total)
    offsets = np.concatenate([starts, [values.shape[-1]]])
    for first, end in zip(offsets[:-1], offsets[1:]):
        if first > 0:
            before[..., first:end] = total[..., first - 1:first]
    return total - before


def _by_group(group: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray:
    """Sums of ``values`` (last axis: one per pseudo-event) by time group."""
    out = np.zeros(values.shape[:-1] + (n_groups,))
    np.add.at(out.T, group, values.T)
    return out


def _from_here(values: np.ndarray, stratum_group_start: np.ndarray) -> np.ndarray:
    """For each time group, the sum of ``values`` over it and the later groups of its
    stratum (the earlier times: groups run in decreasing time)."""
    n_groups = values.shape[-1]
    bounds = np.concatenate([stratum_group_start, [n_groups]])
    ends = np.repeat(bounds[1:], np.diff(bounds))
    reversed_sum = np.cumsum(values[..., ::-1], axis=-1)[..., ::-1]
    tail = np.concatenate([reversed_sum, np.zeros(values.shape[:-1] + (1,))], axis=-1)
    return reversed_sum - tail[..., ends]


def score_residuals(data: CoxData, beta: np.ndarray, efron: bool) -> np.ndarray:
    """Score residuals of every row at ``beta``, in the rows' input order.

    Row ``i`` gets ``delta_i (x_i - a_k) - w_i sum_k sum_j c_ijk (x_i - m_kj) / den_kj``
    over the event times ``t_k <= t_i`` of its stratum (and after the row's start, for
    counting-process data), where the ``j``-th of the ``d_k``
    pseudo-events at ``t_k`` has ``den_kj = S0_k - f_j D0_k``, mean
    ``m_kj = (S1_k - f_j D1_k) / den_kj``, ``f_j = j / d_k`` (0 for Breslow), ``a_k`` is the
    average of the ``m_kj`` and ``c_ijk = 1 - f_j`` for a row that dies at ``t_k``, 1
    otherwise. They add up to the score vector ``U(beta)``; R's
    ``residuals(fit, type = "score")``.

    Returns
    -------
    numpy.ndarray, shape (n, p)
    """
    xt = data.xt
    eta = beta @ xt
    w = np.exp(eta - eta.max())
    weighted = data.xt1 * w
    at_risk = _cumsum_within(weighted, data.stratum_row_start)[:, data.group_last_row]
    if data.entry is not None:
        at_risk -= not_yet_entered_sums(data.entry, weighted, data.stratum_row_start,
                                        np.arange(data.group_first_row.size))
    # Sums over each time group's events: the group's rows are events first.
    event_weighted = np.where(data.event, 1.0, 0.0) * weighted
    dying = np.add.reduceat(event_weighted, data.group_first_row, axis=1)
    groups = data.event_groups
    deaths = data.deaths.astype(int)
    slot = np.repeat(np.arange(groups.size), deaths)
    rank = np.arange(slot.size) - np.repeat(np.cumsum(deaths) - deaths, deaths)
    frac = rank / np.repeat(deaths, deaths) if efron else np.zeros(slot.size)
    s = at_risk[:, groups][:, slot] - frac * dying[:, groups][:, slot]
    den = s[0]
    mean = s[1:] / den
    p = xt.shape[0]
    n_groups = data.group_first_row.size
    # Per time group: sum_j 1/den, sum_j m/den, their f-weighted parts and sum_j m / d.
    hazard = _by_group(groups[slot], n_groups, 1.0 / den)
    hazard_mean = _by_group(groups[slot], n_groups, mean / den)
    tie_hazard = _by_group(groups[slot], n_groups, frac / den)
    tie_hazard_mean = _by_group(groups[slot], n_groups, frac * mean / den)
    event_mean = _by_group(groups[slot], n_groups, mean / np.repeat(deaths, deaths))
    # Rows are sorted by decreasing time within strata: the event times at or before a
    # row's time are its own group and the groups after it in its stratum.
    hazard_from_here = _from_here(hazard, data.stratum_group_start)
    hazard_mean_from_here = _from_here(hazard_mean, data.stratum_group_start)
    cum_hazard = hazard_from_here[data.group_of_row]
    cum_hazard_mean = hazard_mean_from_here[:, data.group_of_row]
    if data.entry is not None:
        # A (start, stop] row is at risk only at the event times after its start.
        cum_hazard = minus_before_entry(data.entry, hazard_from_here, cum_hazard)
        cum_hazard_mean = minus_before_entry(data.entry, hazard_mean_from_here,
                                             cum_hazard_mean)
    risk_part = w * (xt * cum_hazard - cum_hazard_mean)
    # A row that dies at its time carries only 1 - f_j of each pseudo-event there.
    own = data.group_of_row
    died = data.event.astype(float)
    risk_part -= died * w * (xt * tie_hazard[own] - tie_hazard_mean[:, own])
    event_part = died * (xt - event_mean[:, own])
    sorted_residuals = (event_part - risk_part).T
    residuals = np.empty((data.n, p))
    residuals[data.order] = sorted_residuals
    return residuals


@dataclass(frozen=True)
class RobustVariance:
    """The sandwich variance of a Cox fit and the robust score test.

    Attributes
    ----------
    var : numpy.ndarray
        ``D' D`` with ``D`` the dfbeta residuals (summed by cluster).
    score_test : TestResult
        The robust score test of ``beta = 0``: ``U' (S' S)^-1 U`` with ``S`` the score
        residuals at ``beta = 0`` (summed by cluster) and ``U`` their sum (coxph's
        ``rscore``).
    clusters : int or None
        The number of clusters, or None for the per-row (robust) variance.
    """

    var: np.ndarray
    score_test: TestResult
    clusters: int | None = None


def _collapse(values: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    if cluster is None:
        return values
    _, codes = np.unique(cluster, return_inverse=True)
    out = np.zeros((codes.max() + 1, values.shape[1]))
    np.add.at(out, codes, values)
    return out


def robust_variance(data: CoxData, beta: np.ndarray, naive_var: np.ndarray, efron: bool,
                    cluster=None) -> RobustVariance:
    """The robust variance ``D' D`` of a fit at ``beta``, as coxph's ``robust``/``cluster``.

    Parameters
    ----------
    data : CoxData
    beta : numpy.ndarray
        The estimate.
    naive_var : numpy.ndarray
        ``I(beta)^-1``, the model-based variance.
    efron : bool
        Efron's tie handling (else Breslow).
    cluster : array_like, optional
        Cluster labels of the rows in input order; rows of a cluster are summed before the
        cross-product.

    Returns
    -------
    RobustVariance
    """
    if cluster is not None:
        cluster = np.asarray(cluster)
        if cluster.shape != (data.n,):
            raise StatisticsError(f"cluster has {cluster.size} values for {data.n} rows")
    dfbeta = _collapse(score_residuals(data, beta, efron) @ naive_var, cluster)
    null_scores = _collapse(score_residuals(data, np.zeros_like(beta), efron), cluster)
    u = null_scores.sum(axis=0)
    statistic = float(u @ solve_symmetric(null_scores.T @ null_scores, u))
    df = float(beta.size)
    test = TestResult("Robust score test", float(chi2_sf(statistic, df)), statistic, df)
    return RobustVariance(dfbeta.T @ dfbeta, test,
                          None if cluster is None else int(dfbeta.shape[0]))
