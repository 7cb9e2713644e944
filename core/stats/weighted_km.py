"""Weighted Kaplan–Meier curves with robust standard errors, as R ``survival``.

The curve of an IPT-weighted (or survey-weighted) cohort: R's
``survfit(Surv(time, event) ~ group, weights = w, robust = TRUE)``. The numbers at risk and
events are sums of weights, the estimate is the product-limit estimate on them, and the
standard error is the infinitesimal-jackknife (robust) one, which, unlike Greenwood's,
stays valid when the weights are estimated or are not frequencies. Each observation is its
own cluster (no ``id``).

lifelines gives weighted Kaplan–Meier point estimates but Greenwood-type variances on the
weights as counts, not the robust variance R reports, so the estimator is written here.
"""

from __future__ import annotations

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.event_times import (check_codes, check_time_event, compact_codes,
                                           fix_near_ties, read_only)
from cohortpress.stats.kaplan_meier import (KMFit, check_conf_type, confidence_limits,
                                            z_value)
from cohortpress.stats.weighted import check_weights

__all__ = ["weighted_kaplan_meier", "weighted_kaplan_meier_by_group"]


def weighted_kaplan_meier(time, event, weights, conf_type: str = "log",
                          conf_level: float = 0.95) -> KMFit:
    """Weighted Kaplan–Meier estimate with the robust (infinitesimal-jackknife) variance.

    With :math:`Y_j` and :math:`D_j` the weighted numbers at risk and events at the
    distinct times :math:`t_j` and :math:`h_j = D_j / Y_j`,
    :math:`\\hat S(t) = \\prod_{t_j \\le t} (1 - h_j)`. The influence of observation
    :math:`i` on :math:`\\log \\hat S(t)` is

    .. math:: U_i(t) = -\\sum_{t_j \\le t} \\frac{dN_i(t_j) - Y_i(t_j)\\, h_j}{Y_j - D_j},

    and the robust standard error of :math:`\\log \\hat S(t)` is
    :math:`\\sqrt{\\sum_i w_i^2 U_i(t)^2}`; that of :math:`\\hat S(t)` is
    :math:`\\hat S(t)` times it, which is what ``survfit(robust = TRUE)`` stores in
    ``std.err`` (it sets ``logse = FALSE``). It is accumulated in
    one pass: an observation still at risk at :math:`t` has :math:`U_i(t) = -A(t)`, with
    :math:`A(t) = \\sum_{t_j \\le t} h_j / (Y_j - D_j)`, and one whose time :math:`t_m \\le t`
    has passed keeps its value at :math:`t_m`. The limits are those of
    :func:`cohortpress.stats.kaplan_meier.kaplan_meier` on this standard error.

    Parameters
    ----------
    time, event : array_like
        As for :func:`~cohortpress.stats.kaplan_meier.kaplan_meier`.
    weights : array_like of float
        One weight per observation, >= 0.
    conf_type, conf_level
        As for :func:`~cohortpress.stats.kaplan_meier.kaplan_meier`.

    Returns
    -------
    KMFit
        ``n_risk``, ``n_event`` and ``n_censor`` are sums of weights; ``n`` is the number
        of observations; ``std_err_log`` and ``std_err`` are the robust ones.
    """
    time, event = check_time_event(time, event)
    w = check_weights(weights, len(time))
    z = z_value(conf_level)
    check_conf_type(conf_type)
    return _weighted_fit(fix_near_ties(time), event, w, conf_type, conf_level, z)


def weighted_kaplan_meier_by_group(time, event, weights, group, conf_type: str = "log",
                                   conf_level: float = 0.95) -> dict[int, KMFit]:
    """One weighted curve per group, as ``survfit(Surv(time, event) ~ group, weights = w,
    robust = TRUE)``; near-ties are merged on the pooled times, as survfit does.

    Returns
    -------
    dict of int to KMFit
        One fit per group code present, in ascending order of code.
    """
    time, event = check_time_event(time, event)
    w = check_weights(weights, len(time))
    codes, group_index = compact_codes(check_codes(group, "group", len(time)))
    z = z_value(conf_level)
    check_conf_type(conf_type)
    time = fix_near_ties(time)
    fits = {}
    for index, code in enumerate(codes):
        rows = group_index == index
        if not np.any(w[rows] > 0):
            raise StatisticsError(f"group {int(code)}: no observation has a positive weight")
        fits[int(code)] = _weighted_fit(time[rows], event[rows], w[rows], conf_type,
                                        conf_level, z)
    return fits


def _weighted_fit(time, event, w, conf_type, conf_level, z) -> KMFit:
    times, position = np.unique(time, return_inverse=True)
    n_times = len(times)
    events = np.bincount(position, weights=w * event, minlength=n_times)
    leaving = np.bincount(position, weights=w, minlength=n_times)
    at_risk = np.cumsum(leaving[::-1])[::-1]
    survivors = at_risk - events
    hazard = events / at_risk
    surv = np.cumprod(1 - hazard)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(events > 0, hazard / survivors, 0.0)
        own_event = np.where(events > 0, 1 / survivors, 0.0)
    cumulative = np.cumsum(step)
    # Observations whose time has passed: influence fixed at their own time.
    influence = cumulative[position] - event * own_event[position]
    with np.errstate(invalid="ignore"):
        finished = np.cumsum(np.bincount(position, weights=w ** 2 * influence ** 2,
                                         minlength=n_times))
        still_at_risk = np.cumsum(np.bincount(position, weights=w ** 2,
                                              minlength=n_times)[::-1])[::-1]
        still_at_risk = np.concatenate((still_at_risk[1:], [0.0]))
        variance = finished + cumulative ** 2 * still_at_risk
    std_err_log = np.sqrt(variance)
    std_err_log[~np.isfinite(cumulative)] = np.inf
    with np.errstate(invalid="ignore"):
        std_err = surv * std_err_log
    conf_low, conf_high = confidence_limits(surv, std_err_log, conf_type, z)
    censored = leaving - events
    return KMFit(time=read_only(times), n_risk=read_only(at_risk), n_event=read_only(events),
                 n_censor=read_only(censored), surv=read_only(surv),
                 std_err=read_only(std_err), std_err_log=read_only(std_err_log),
                 conf_low=read_only(conf_low), conf_high=read_only(conf_high),
                 conf_type=conf_type, conf_level=float(conf_level), n=int(len(time)))
