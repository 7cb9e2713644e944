"""Cumulative incidence with delayed entry: Aalen–Johansen, as R's multi-state ``survfit``.

``cmprsk::cuminc``, the reference of :mod:`cohortpress.stats.competing`, has no delayed entry.
With an entry time the reference is ``survfit(Surv(entry, time, factor(status)) ~ 1,
id = id)``: the same Aalen–Johansen estimate on the risk sets :math:`entry < t \\le time`,
with near-identical times merged as ``aeqSurv`` does, and the standard error ``survfit``
reports for a multi-state curve, the infinitesimal jackknife. ``cuminc``'s Aalen-type
variance has no reference with delayed entry, so it is not used here. Written here because
no maintained Python library computes this variance for left-truncated data. Reference
values: ``tests/fixtures/r/survival_entry.R``.
"""

from __future__ import annotations

import numpy as np

from cohortpress.stats.event_times import (at_risk_from_counts, check_entry, entered_later,
                                           tabulate_by_time)

__all__ = ["aalen_johansen_with_entry"]


def aalen_johansen_with_entry(time: np.ndarray, status: np.ndarray, entry,
                              cause: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The incidence of ``cause`` and its infinitesimal-jackknife variance, with entry.

    With :math:`Y(s)` at risk (:math:`e_i < s \\le x_i`), :math:`d_k(s)` events of cause
    :math:`k` and :math:`d(s)` of any cause at the distinct times :math:`s`,
    :math:`\\lambda_k = d_k / Y`, :math:`\\lambda = d / Y`, the all-cause survival
    :math:`S(s) = \\prod_{u \\le s} (1 - \\lambda(u))` and
    :math:`F_k(t) = \\sum_{s \\le t} S(s^-) \\lambda_k(s)`. The influence of subject
    :math:`i` (the derivative with respect to its case weight) is carried forward in time,

    .. math::

        U^F_i(s) = U^F_i(s^-) + \\lambda_k(s)\\, U^S_i(s^-)
                   + S(s^-) \\frac{dN_{ik}(s) - Y_i(s) \\lambda_k(s)}{Y(s)}, \\qquad
        U^S_i(s) = (1 - \\lambda(s))\\, U^S_i(s^-)
                   - S(s^-) \\frac{dN_i(s) - Y_i(s) \\lambda(s)}{Y(s)},

    and :math:`\\widehat{\\operatorname{Var}} F_k(t) = \\sum_i U^F_i(t)^2`, the
    ``std.err`` of ``survfit`` squared. It costs one pass over the subjects per event time.

    Parameters
    ----------
    time, status : ndarray
        Checked exit times and status codes (0 censored, 1, 2, ... the causes).
    entry : array_like of float
        Entry times, each before its exit time.
    cause : int
        The status code whose incidence is estimated; every other non-zero code competes.

    Returns
    -------
    times : ndarray
        The distinct times (near-ties merged) of the cause's events, where the curve jumps.
    incidence, variance : ndarray
        :math:`\\hat F_k` and its variance just after each of those times.
    last_time : float
        The largest exit time.
    """
    entry, time = check_entry(entry, time, timefix=True)
    label = np.where(status == 0, 0, np.where(status == cause, 1, 2))
    times, counts = tabulate_by_time(time, label, 3, timefix=False)
    later = entered_later(times, entry, np.zeros(time.size, dtype=np.intp), 1)[:, 0]
    at_risk = at_risk_from_counts(counts.sum(axis=1), later).astype(float)
    events, any_cause = counts[:, 1].astype(float), (counts[:, 1] + counts[:, 2]).astype(float)
    incidence = np.zeros(times.size)
    variance = np.zeros(times.size)
    influence_f = np.zeros(time.size)
    influence_s = np.zeros(time.size)
    surv, total = 1.0, 0.0
    for row in np.flatnonzero(any_cause > 0):
        s = times[row]
        in_risk = (entry < s) & (time >= s)
        exits_here = time == s
        hazard_k, hazard = events[row] / at_risk[row], any_cause[row] / at_risk[row]
        event_k = (exits_here & (label == 1)).astype(float)
        event_any = (exits_here & (label > 0)).astype(float)
        influence_f += (hazard_k * influence_s
                        + surv * (event_k - in_risk * hazard_k) / at_risk[row])
        influence_s = ((1 - hazard) * influence_s
                       - surv * (event_any - in_risk * hazard) / at_risk[row])
        total += surv * hazard_k
        surv *= 1 - hazard
        incidence[row] = total
        variance[row] = influence_f @ influence_f
    jumps = events > 0
    return times[jumps], incidence[jumps], variance[jumps], float(times[-1])
