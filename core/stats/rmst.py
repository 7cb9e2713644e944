"""Restricted mean survival time (RMST): the area under the Kaplan–Meier curve to a horizon.

The estimate and its standard error are those R ``survival`` 3.5 prints as ``rmean`` and
``se(rmean)`` with ``print(survfit, rmean = tau)`` or ``summary(survfit, rmean = tau)$table``;
the comparisons between two groups (difference, and ratio on the log scale) are those
``survRM2::rmst2`` reports without covariates. The reference values come from
``tests/fixtures/r/rmst.R``. Written here rather than taken from a library: lifelines'
``restricted_mean_survival_time(return_variance=True)`` gives the variance of the restricted
time min(T, tau) itself, not the standard error of the estimate, and has no comparisons;
survival's formula is a few lines on the Kaplan–Meier curve this package already fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.special import ndtr, ndtri

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import check_conf_level
from cohortpress.stats.kaplan_meier import KMFit, kaplan_meier

__all__ = ["RMST", "RMSTContrast", "default_horizon", "rmst", "rmst_from_fit",
           "rmst_difference", "rmst_ratio"]


@dataclass(frozen=True)
class RMST:
    """A restricted mean survival time to a horizon.

    Attributes
    ----------
    horizon : float
        The horizon :math:`\\tau` (in the time unit of the data).
    estimate : float
        :math:`\\int_0^\\tau \\hat S(t)\\,dt`.
    std_err : float
        Its standard error (``se(rmean)`` of ``survival``).
    conf_low, conf_high : float
        Normal (Wald) confidence limits, estimate :math:`\\pm z` standard error, as
        ``survRM2::rmst2`` gives them.
    conf_level : float
        Coverage of the limits.
    last_time : float
        The last observed time (event or censoring) of the curve.
    extended : bool
        Whether the horizon lies beyond ``last_time``, the curve carried forward at its
        last value.
    """

    horizon: float
    estimate: float
    std_err: float
    conf_low: float
    conf_high: float
    conf_level: float
    last_time: float
    extended: bool


@dataclass(frozen=True)
class RMSTContrast:
    """A comparison of two restricted mean survival times (a group against a reference).

    Attributes
    ----------
    measure : {"difference", "ratio"}
        ``difference``: group minus reference; ``ratio``: group over reference.
    estimate : float
        The difference or the ratio.
    std_err : float
        Standard error of the difference, or of the log of the ratio.
    conf_low, conf_high : float
        Confidence limits (for the ratio, the log-scale limits exponentiated).
    statistic : float
        The Wald statistic :math:`z` (difference / SE, or log ratio / SE).
    p_value : float
        Two-sided p-value from the standard normal distribution.
    conf_level : float
        Coverage of the limits.
    """

    measure: str
    estimate: float
    std_err: float
    conf_low: float
    conf_high: float
    statistic: float
    p_value: float
    conf_level: float


def _z(conf_level: float) -> float:
    check_conf_level(conf_level)
    return float(ndtri(1.0 - (1.0 - conf_level) / 2.0))


def _check_horizon(horizon: float) -> float:
    value = float(horizon)
    if not np.isfinite(value) or value <= 0:
        raise StatisticsError(f"the RMST horizon must be a positive finite time, not {horizon!r}")
    return value


def rmst_from_fit(fit: KMFit, horizon: float, conf_level: float = 0.95, *,
                  extend: bool = False) -> RMST:
    """The restricted mean survival time of a Kaplan–Meier curve to ``horizon``.

    With the distinct times :math:`t_1 < \\dots < t_m \\le \\tau` of the curve (events and
    censorings), :math:`t_0 = 0` and :math:`t_{m+1} = \\tau`,

    .. math::

        \\widehat{\\mathrm{RMST}}(\\tau) = \\sum_{k=0}^{m} (t_{k+1} - t_k)\\,\\hat S(t_k),
        \\qquad
        \\widehat{\\operatorname{var}} = \\sum_{j=1}^{m} A_j^2\\,
        \\frac{d_j}{n_j (n_j - d_j)},

    where :math:`\\hat S(t_0) = 1`, :math:`A_j = \\int_{t_j}^{\\tau} \\hat S(t)\\,dt` is the
    area after :math:`t_j`, :math:`n_j` the number at risk and :math:`d_j` the events at
    :math:`t_j`; a time where everyone at risk has the event (:math:`n_j = d_j`) adds
    nothing, and a time equal to :math:`\\tau` adds nothing (:math:`A_j = 0`). This is
    ``survmean`` of R ``survival`` (what ``print.survfit`` shows as ``rmean`` and
    ``se(rmean)``), with the time origin 0.

    Parameters
    ----------
    fit : KMFit
        A Kaplan–Meier curve (:func:`~cohortpress.stats.kaplan_meier.kaplan_meier`).
    horizon : float
        :math:`\\tau`, > 0.
    conf_level : float
        Coverage of the normal confidence limits.
    extend : bool
        Allow a horizon beyond the curve's last time, the curve carried forward at its last
        value (as ``survival`` does without saying so).

    Returns
    -------
    RMST

    Raises
    ------
    StatisticsError
        If the horizon is not a positive finite time, the curve is empty, or the horizon
        lies beyond the last observed time and ``extend`` is false.
    """
    tau = _check_horizon(horizon)
    z = _z(conf_level)
    if fit.time.size == 0:
        raise StatisticsError("the RMST needs at least one observed time")
    last_time = float(fit.time[-1])
    if tau > last_time and not extend:
        raise StatisticsError(
            f"the RMST horizon {tau:g} is beyond the last follow-up time {last_time:g}; "
            f"choose a horizon up to {last_time:g} or allow the curve to be carried forward")
    keep = fit.time <= tau
    times, surv = fit.time[keep], fit.surv[keep]
    n_risk, n_event = fit.n_risk[keep].astype(float), fit.n_event[keep].astype(float)
    widths = np.diff(np.concatenate(([0.0], times, [tau])))
    rectangles = widths * np.concatenate(([1.0], surv))
    estimate = float(rectangles.sum())
    survivors = n_risk - n_event
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard_var = np.where(survivors > 0, n_event / (n_risk * survivors), 0.0)
    # A_j, the area after t_j, summed from tau backwards as survival does
    area_after = np.cumsum(rectangles[:0:-1])[::-1]
    variance = float(np.sum(area_after ** 2 * hazard_var))
    std_err = float(np.sqrt(variance))
    return RMST(horizon=tau, estimate=estimate, std_err=std_err,
                conf_low=estimate - z * std_err, conf_high=estimate + z * std_err,
                conf_level=conf_level, last_time=last_time, extended=tau > last_time)


def rmst(time, event, horizon: float, conf_level: float = 0.95, *,
         extend: bool = False, entry=None, counts=None) -> RMST:
    """The restricted mean survival time of ``(time, event)`` data to ``horizon``.

    Parameters
    ----------
    time : array_like of float
        Follow-up times, >= 0.
    event : array_like of {0, 1} or bool
        1 for an event, 0 for a censored time.
    horizon, conf_level, extend
        As for :func:`rmst_from_fit`.
    entry : array_like of float, optional
        Delayed entry (at risk on ``entry < t <= time``): the curve is R's
        ``survfit(Surv(entry, time, event) ~ 1)``, integrated from time 0 as its ``rmean``.
    counts : array_like of int, optional
        Patients each row stands for (from aggregates), as for
        :func:`~cohortpress.stats.kaplan_meier.kaplan_meier`.

    Returns
    -------
    RMST

    Raises
    ------
    StatisticsError
        For invalid data (as :func:`~cohortpress.stats.kaplan_meier.kaplan_meier`) or
        horizon (as :func:`rmst_from_fit`).
    """
    return rmst_from_fit(kaplan_meier(time, event, entry=entry, counts=counts), horizon,
                         conf_level,
                         extend=extend)


def default_horizon(last_times: Sequence[float]) -> float:
    """The default horizon: the smallest of the groups' last follow-up times.

    It is the longest horizon every group's curve reaches without being carried forward
    (``survRM2::rmst2``'s default too).

    Parameters
    ----------
    last_times : sequence of float
        Each group's largest observed time (event or censoring).

    Returns
    -------
    float

    Raises
    ------
    StatisticsError
        If there is no group, or the smallest last time is not positive.
    """
    if len(last_times) == 0:
        raise StatisticsError("the RMST horizon needs at least one group with follow-up")
    horizon = float(min(last_times))
    if not horizon > 0:
        raise StatisticsError(f"the RMST horizon would be {horizon:g}: a group has no "
                              f"follow-up beyond time 0")
    return horizon


def _check_same_horizon(reference: RMST, other: RMST) -> None:
    if reference.horizon != other.horizon:
        raise StatisticsError(f"RMSTs to different horizons ({reference.horizon:g} and "
                              f"{other.horizon:g}) cannot be compared")


def rmst_difference(reference: RMST, other: RMST, conf_level: float = 0.95) -> RMSTContrast:
    """``other`` minus ``reference``, with var = the sum of the two variances.

    Parameters
    ----------
    reference, other : RMST
        Estimates from independent groups to the same horizon.
    conf_level : float
        Coverage of the normal confidence limits.

    Returns
    -------
    RMSTContrast
        With a two-sided p-value of the Wald test of no difference.

    Raises
    ------
    StatisticsError
        If the horizons differ.
    """
    _check_same_horizon(reference, other)
    z = _z(conf_level)
    estimate = other.estimate - reference.estimate
    std_err = float(np.hypot(other.std_err, reference.std_err))
    statistic = estimate / std_err if std_err > 0 else float("nan")
    return RMSTContrast("difference", estimate, std_err, estimate - z * std_err,
                        estimate + z * std_err, statistic, _two_sided(statistic), conf_level)


def rmst_ratio(reference: RMST, other: RMST, conf_level: float = 0.95) -> RMSTContrast:
    """``other`` over ``reference``, on the log scale by the delta method.

    :math:`\\operatorname{se}(\\log r) = \\sqrt{v_1 / \\mu_1^2 + v_0 / \\mu_0^2}`, limits
    :math:`\\exp(\\log r \\pm z\\,\\operatorname{se})`.

    Parameters
    ----------
    reference, other : RMST
        Estimates from independent groups to the same horizon (both > 0, as every RMST to a
        positive horizon is).
    conf_level : float
        Coverage of the confidence limits.

    Returns
    -------
    RMSTContrast
        ``std_err`` and ``statistic`` on the log scale.

    Raises
    ------
    StatisticsError
        If the horizons differ.
    """
    _check_same_horizon(reference, other)
    z = _z(conf_level)
    log_ratio = float(np.log(other.estimate / reference.estimate))
    std_err = float(np.hypot(other.std_err / other.estimate,
                             reference.std_err / reference.estimate))
    statistic = log_ratio / std_err if std_err > 0 else float("nan")
    return RMSTContrast("ratio", float(np.exp(log_ratio)), std_err,
                        float(np.exp(log_ratio - z * std_err)),
                        float(np.exp(log_ratio + z * std_err)), statistic,
                        _two_sided(statistic), conf_level)


def _two_sided(statistic: float) -> float:
    return float(2.0 * ndtr(-abs(statistic))) if np.isfinite(statistic) else float("nan")
