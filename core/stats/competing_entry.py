"""Cumulative incidence with delayed entry: Aalen–Johansen, as R's multi-state ``survfit``.

``cmprsk::cuminc``, the reference of :mod:`cohortpress.stats.competing`, has no delayed entry.
With an entry time the reference is ``survfit(Surv(entry, time, factor(status)) ~ 1,
id = id)``: the same Aalen–Johansen estimate on the risk sets :math:`entry < t \\le time`,
with near-identical times merged as ``aeqSurv`` does, and the standard error ``survfit``
reports for a multi-state curve, the infinitesimal jackknife. ``cuminc``'s Aalen-type
variance has no reference with delayed entry, so it is not used here. Written here because
no maintained Python library computes survfit's jackknife variance for left-truncated data
(lifelines' Aalen–Johansen fitter takes entry times, but its variance is another estimator). Reference
values: ``tests/fixtures/r/survival_entry.R``.
"""

from __future__ import annotations

from typing import NamedTuple

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
    ``std.err`` of ``survfit`` squared. The subjects' influences are not carried one by one:
    see :class:`_Steps` and :func:`_variance`, which need a few sorts, O(n log n).

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
    rows = (counts[:, 1] + counts[:, 2]) > 0  # the times with an event of any cause
    if not rows.any():
        return np.empty(0), np.empty(0), np.empty(0), float(times[-1])
    steps = _Steps.of(times[rows], at_risk[rows], counts[rows, 1].astype(float),
                      (counts[rows, 1] + counts[rows, 2]).astype(float))
    variance = _variance(steps, entry, time, label)
    jumps = counts[rows, 1] > 0
    return (times[rows][jumps], steps.incidence[jumps], variance[jumps],
            float(times[-1]))


class _Steps(NamedTuple):
    """Per event time (any cause): the estimate and the pieces of the influence.

    With :math:`V_i = U^S_i / S` and :math:`R_i = U^F_i - F V_i`, a subject at risk gets
    the same increments at each event time, :math:`c = d / (Y (Y - d))` to :math:`V_i` and
    :math:`a = -S(s^-) \\lambda_k / Y - F(s) c` to :math:`R_i`, and one who has an event
    there gets ``jump_v`` :math:`= -1/(Y - d)` and ``jump_r`` :math:`= S(s^-) [\\text{cause }
    k] / Y + F(s) / (Y - d)` besides. From the time the survival reaches 0 (everyone at
    risk has an event) nothing changes any more: there only :math:`S(s^-) g_i` is added.
    """

    times: np.ndarray
    incidence: np.ndarray
    a: np.ndarray
    c: np.ndarray
    jump_r_cause: np.ndarray  # for an event of the cause
    jump_r_other: np.ndarray  # for an event of another cause
    jump_v: np.ndarray

    @classmethod
    def of(cls, times, at_risk, events_k, events_any) -> "_Steps":
        hazard_k, hazard = events_k / at_risk, events_any / at_risk
        surv_after = np.cumprod(1 - hazard)
        surv_before = np.concatenate(([1.0], surv_after[:-1]))
        incidence = np.cumsum(surv_before * hazard_k)
        alive = at_risk > events_any  # false from the time S reaches 0
        ended = np.cumsum(~alive) > 0
        last = ended & (np.cumsum(ended) == 1)  # the time S reaches 0, if any
        with np.errstate(divide="ignore", invalid="ignore"):
            survivors = np.where(alive, at_risk - events_any, np.inf)
            c = np.where(ended, 0.0, events_any / (at_risk * survivors))
            jump_v = np.where(ended, 0.0, -1.0 / survivors)
            to_f = np.where(ended, 0.0, incidence / survivors)
        live = ~ended | last
        a = np.where(live, -surv_before * hazard_k / at_risk - incidence * c, 0.0)
        jump_r_cause = np.where(live, surv_before / at_risk + to_f, 0.0)
        jump_r_other = np.where(live, to_f, 0.0)
        return cls(times, incidence, a, c, jump_r_cause, jump_r_other, jump_v)


def _variance(steps: _Steps, entry, time, label) -> np.ndarray:
    """:math:`\\sum_i (R_i + F V_i)^2` at each event time, from sums over the subjects at
    risk there (whose :math:`R_i, V_i` are cumulative increments since their entry) and
    over those who have left (whose values are fixed): one pass over sorted times."""
    n_rows = steps.times.size
    a_cum = np.concatenate(([0.0], np.cumsum(steps.a)))
    c_cum = np.concatenate(([0.0], np.cumsum(steps.c)))
    first_after_entry = np.searchsorted(steps.times, entry, side="right")
    first_at_exit = np.searchsorted(steps.times, time, side="left")
    through_exit = np.searchsorted(steps.times, time, side="right")
    a_entry, c_entry = a_cum[first_after_entry], c_cum[first_after_entry]
    # left at an event time of their own: the jumps of that time
    own = (label > 0) & (first_at_exit < through_exit)
    where = np.minimum(first_at_exit, n_rows - 1)
    jump_r = np.where(label == 1, steps.jump_r_cause[where], steps.jump_r_other[where])
    r_final = a_cum[through_exit] - a_entry + np.where(own, jump_r, 0.0)
    v_final = c_cum[through_exit] - c_entry + np.where(own, steps.jump_v[where], 0.0)

    def running(values, start, stop=None):
        """Per event time, the sum of ``values`` over subjects counted from row ``start``
        (up to before row ``stop``)."""
        added = np.bincount(start, weights=values, minlength=n_rows + 1)
        if stop is not None:
            added -= np.bincount(stop, weights=values, minlength=n_rows + 1)
        return np.cumsum(added)[:n_rows]

    at_risk = first_after_entry <= first_at_exit
    enter, leave = first_after_entry[at_risk], first_at_exit[at_risk]
    ae, ce = a_entry[at_risk], c_entry[at_risk]
    m = running(np.ones(ae.size), enter, leave)
    sum_a, sum_c = running(ae, enter, leave), running(ce, enter, leave)
    sum_aa, sum_ac, sum_cc = (running(ae * ae, enter, leave), running(ae * ce, enter, leave),
                              running(ce * ce, enter, leave))
    left_rr = running(r_final ** 2, first_at_exit)
    left_rv = running(r_final * v_final, first_at_exit)
    left_vv = running(v_final ** 2, first_at_exit)
    f = steps.incidence
    k = a_cum[1:] + f * c_cum[1:]
    staying = (m * k ** 2 - 2 * k * (sum_a + f * sum_c)
               + sum_aa + 2 * f * sum_ac + f ** 2 * sum_cc)
    return staying + left_rr + 2 * f * left_rv + f ** 2 * left_vv
