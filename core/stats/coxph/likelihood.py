"""The Cox partial likelihood, its score and its information at one ``beta``, vectorised.

Rows come sorted by stratum and decreasing time (:mod:`.data`), so every risk set is a prefix
of its stratum and its sums are cumulative sums read at the last row of each distinct time;
Efron's tie correction is applied to all tied events at once; the information matrix is one
``X' diag(c) X`` product. One evaluation costs a few passes over the data. For
counting-process data the rows not yet entered are subtracted (:mod:`.counting`).

Notation: ``x_i`` covariate row, ``eta_i = x_i' beta``, ``w_i = exp(eta_i)``; at a distinct
event time ``t_k`` with ``d_k`` events, ``R_k`` is the set of rows still at risk
(time >= t_k and, with start times, start < t_k; same stratum) and ``D_k`` the rows that
fail there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cohortpress.stats.coxph.counting import minus_before_entry, not_yet_entered_sums
from cohortpress.stats.coxph.data import CoxData

__all__ = ["RiskSetTerms", "risk_set_terms", "event_mean_total", "score_vector",
           "weighted_information"]

#: Linear predictors above this are shifted (per stratum) before exponentiating; the partial
#: likelihood does not change when all risk scores of a stratum are multiplied by a constant.
_OVERFLOW_GUARD = 300.0


@dataclass(frozen=True, eq=False)
class RiskSetTerms:
    """The partial-likelihood pieces at one ``beta``, per event time.

    Event ``e`` at time ``t_k`` with tie fraction ``f_e`` (0 for Breslow) has denominator
    ``den_e = S0_k - f_e D0_k`` and risk-set mean ``mean_e = (S1_k - f_e D1_k) / den_e``,
    where ``(S0_k, S1_k)`` are the sums of ``(w, w x)`` over the risk set and ``(D0_k, D1_k)``
    over the events at ``t_k``. The score and information need only the sums, over the
    events of one time, of ``f^a / den^b``; without ties (or for Breslow) these are
    ``d_k / S0_k`` and ``d_k / S0_k^2``, and Efron's versions are kept for tied times only.

    Attributes
    ----------
    loglik : float
        ``sum_e eta_e - sum_e log(den_e)``.
    w : numpy.ndarray
        Risk scores ``exp(eta)`` of the sorted rows (rescaled per stratum if very large).
    at_risk : numpy.ndarray, shape (1 + p, K)
        ``(S0_k, S1_k)``.
    inv_den, inv_den_sq : numpy.ndarray, shape (K,)
        ``sum_e 1/den_e`` and ``sum_e 1/den_e^2``.
    dying : numpy.ndarray or None, shape (1 + p, T)
        ``(D0_k, D1_k)`` at the ``T`` tied event times (``CoxData.tied_slots``); None
        without Efron's correction.
    frac_inv_den, frac_inv_den_sq, frac_sq_inv_den_sq : numpy.ndarray or None, shape (T,)
        ``sum_e f_e/den_e``, ``sum_e f_e/den_e^2`` and ``sum_e f_e^2/den_e^2`` at the tied
        event times.
    """

    loglik: float
    w: np.ndarray
    at_risk: np.ndarray
    inv_den: np.ndarray
    inv_den_sq: np.ndarray
    dying: np.ndarray | None = None
    frac_inv_den: np.ndarray | None = None
    frac_inv_den_sq: np.ndarray | None = None
    frac_sq_inv_den_sq: np.ndarray | None = None


def risk_set_terms(data: CoxData, beta: np.ndarray, efron: bool) -> RiskSetTerms:
    """Compute the log partial likelihood and the risk-set sums at ``beta``.

    The Efron log partial likelihood is
    ``sum_k [ sum_{i in D_k} eta_i - sum_{j=0}^{d_k-1} log( S0_k - (j/d_k) D0_k ) ]``;
    Breslow drops the ``j/d_k`` term.
    """
    eta = _guard_overflow(beta @ data.xt, data.stratum_row_start)
    w = np.exp(eta)
    cumulative = np.multiply(data.xt1, w, out=data.scratch)
    _cumsum_within(cumulative, data.stratum_row_start, out=cumulative)
    at_risk = cumulative[:, data.group_last_row[data.event_groups]]
    if data.entry is not None:
        at_risk -= not_yet_entered_sums(data.entry, data.xt1 * w, data.stratum_row_start,
                                        data.event_groups)
    s0 = at_risk[0]
    log_den_sums = data.deaths * np.log(s0)
    terms = dict(w=w, at_risk=at_risk, inv_den=data.deaths / s0,
                 inv_den_sq=data.deaths / s0 ** 2)
    if efron and data.has_tied_events:
        terms.update(_efron_tie_sums(data, cumulative, s0, log_den_sums, terms))
    loglik = float(eta[data.event_rows].sum() - log_den_sums.sum())
    return RiskSetTerms(loglik=loglik, **terms)


def _efron_tie_sums(data: CoxData, cumulative: np.ndarray, s0: np.ndarray,
                    log_den_sums: np.ndarray, terms: dict) -> dict:
    """Efron's per-time sums at the tied event times (updating the Breslow ones in place).

    A time group's events are its first ``d_k`` rows, so ``D_k`` is the cumulative sum at
    the last of them minus the cumulative sum just before the group (zero at a stratum's
    start). The difference loses nothing that matters: its error is of the order of the
    rounding in the risk-set sum it is subtracted from.
    """
    slots = data.tied_slots
    first = data.group_first_row[data.event_groups[slots]]
    dying = cumulative[:, first + data.deaths[slots] - 1]
    continuing = ~np.isin(first, data.stratum_row_start)
    dying[:, continuing] -= cumulative[:, first[continuing] - 1]
    run_slot = data.tied_run_slot
    fraction = data.tied_run_fraction
    inv_den = 1.0 / (s0[slots][run_slot] - fraction * dying[0, run_slot])
    frac_inv_den = fraction * inv_den
    per_time = lambda values: np.bincount(run_slot, values, minlength=slots.size)  # noqa: E731
    log_den_sums[slots] = -per_time(np.log(inv_den))
    terms["inv_den"][slots] = per_time(inv_den)
    terms["inv_den_sq"][slots] = per_time(inv_den ** 2)
    return dict(dying=dying, frac_inv_den=per_time(frac_inv_den),
                frac_inv_den_sq=per_time(frac_inv_den * inv_den),
                frac_sq_inv_den_sq=per_time(frac_inv_den ** 2))


def _guard_overflow(eta: np.ndarray, stratum_row_start: np.ndarray) -> np.ndarray:
    if eta.max() <= _OVERFLOW_GUARD:
        return eta
    counts = np.diff(np.append(stratum_row_start, eta.size))
    return eta - np.repeat(np.maximum.reduceat(eta, stratum_row_start), counts)


def _cumsum_within(values: np.ndarray, segment_starts: np.ndarray,
                   out: np.ndarray | None = None) -> np.ndarray:
    """Cumulative sums along the last axis, restarting at each segment start.

    With times decreasing, this accumulates the smallest risk sets first, as coxph does.
    """
    if out is None:
        out = np.empty_like(values)
    bounds = np.append(segment_starts, values.shape[-1])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        np.cumsum(values[..., lo:hi], axis=-1, out=out[..., lo:hi])
    return out


def _reverse_cumsum_within(values: np.ndarray, segment_starts: np.ndarray) -> np.ndarray:
    """Sums from each position to the end of its segment (1-D)."""
    result = np.empty_like(values)
    bounds = np.append(segment_starts, values.size)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        result[lo:hi] = np.cumsum(values[lo:hi][::-1])[::-1]
    return result


def event_mean_total(data: CoxData, terms: RiskSetTerms,
                     time_weight: np.ndarray | None = None) -> np.ndarray:
    """``sum_e q_e mean_e = sum_k q_k (S1_k sum_e 1/den_e - D1_k sum_e f_e/den_e)``."""
    q = 1.0 if time_weight is None else time_weight
    total = terms.at_risk[1:] @ (q * terms.inv_den)
    if terms.dying is not None:
        q_tied = 1.0 if time_weight is None else time_weight[data.tied_slots]
        total -= terms.dying[1:] @ (q_tied * terms.frac_inv_den)
    return total


def score_vector(data: CoxData, terms: RiskSetTerms) -> np.ndarray:
    """The score ``U(beta) = sum_e (x_e - mean_e)``."""
    return data.x_event_sum - event_mean_total(data, terms)


def weighted_information(data: CoxData, terms: RiskSetTerms,
                         time_weight: np.ndarray | None = None) -> np.ndarray:
    """The observed information, optionally with a weight per event time.

    ``I = sum_e q_e [ (S2_k - f_e D2_k) / den_e - mean_e mean_e' ]`` with ``S2_k``, ``D2_k``
    the sums of ``w x x'`` over the risk set and the events of ``t_k``, and ``q_e`` the weight
    of the event's time (1 for the ordinary information; ``g(t)`` and ``g(t)^2`` give the
    blocks ``cox.zph`` needs).

    The second-moment part is never formed per event time: it equals ``X' diag(c) X`` with
    ``c_i = w_i (sum over event times k <= t_i in the stratum of q_k sum_e 1/den_e, minus
    q_k sum_e f_e/den_e at its own time if row i is an event)``, one matrix product in all.
    The mean part expands ``mean_e mean_e'`` into ``S1 S1'``, ``S1 D1'`` and ``D1 D1'`` with
    per-time weights.

    Parameters
    ----------
    data : CoxData
    terms : RiskSetTerms
    time_weight : numpy.ndarray, optional
        One weight per event time (length ``K``).

    Returns
    -------
    numpy.ndarray, shape (p, p)
    """
    q = np.ones(data.event_groups.size) if time_weight is None else time_weight
    per_group = np.zeros(data.group_last_row.size)
    per_group[data.event_groups] = q * terms.inv_den
    # Row i is in the risk set of every event time of its stratum at or before t_i: with
    # times decreasing, its own time group and all later groups of the stratum.
    from_here = _reverse_cumsum_within(per_group, data.stratum_group_start)
    row_weight = from_here[data.group_of_row]
    if data.entry is not None:
        row_weight = minus_before_entry(data.entry, from_here, row_weight)
    s1 = terms.at_risk[1:]
    mean_part = (s1 * (q * terms.inv_den_sq)) @ s1.T
    if terms.dying is not None:
        q_tied = q[data.tied_slots]
        row_weight[data.tied_run_rows] -= (q_tied * terms.frac_inv_den)[data.tied_run_slot]
        d1 = terms.dying[1:]
        cross = (s1[:, data.tied_slots] * (q_tied * terms.frac_inv_den_sq)) @ d1.T
        mean_part += (d1 * (q_tied * terms.frac_sq_inv_den_sq)) @ d1.T - cross - cross.T
    row_weight *= terms.w
    weighted_x = np.multiply(data.xt, row_weight, out=data.scratch[1:])
    return weighted_x @ data.xt.T - mean_part


