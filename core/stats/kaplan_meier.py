"""Kaplan–Meier estimation, landmark estimates and median survival, as R's ``survival``.

Every number matches R ``survival`` 3.5: ``survfit(Surv(time, event) ~ 1, conf.type=)`` for
the curve, ``summary(fit, times=, extend=TRUE)`` for landmark estimates and
``summary(fit)$table`` (what ``print.survfit`` shows) for the median and its confidence
interval. The reference values are produced by ``tests/fixtures/r/survival_km.R``.

Like ``survfit`` (``timefix=TRUE``), times closer than about 1.5e-8 (absolutely, or relative
to the mean time) are treated as ties; see :func:`~cohortpress.stats.event_times.fix_near_ties`.
The input checks and the per-time counting table live in :mod:`cohortpress.stats.event_times`.

With ``entry`` (delayed entry, left truncation) a subject is at risk on
:math:`entry < t \\le time`, as ``survfit(Surv(entry, time, event) ~ 1)``; the curve still
starts at 1 at time 0 and has a row at each exit time, as R's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import check_conf_level
from cohortpress.stats.event_times import (R_TOLERANCE, at_risk_from_counts, check_codes,
                                           check_counts, check_entry, check_landmarks,
                                           check_time_event,
                                           compact_codes, entered_later, read_only,
                                           tabulate_by_time)

__all__ = [
    "CONF_TYPES",
    "KMFit",
    "KMLandmarks",
    "KMMedian",
    "kaplan_meier",
    "kaplan_meier_by_group",
    "km_at",
    "km_median",
    "reverse_km_median_followup",
    "check_conf_type",
    "confidence_limits",
    "z_value",
]

CONF_TYPES = ("log", "log-log", "plain")

@dataclass(frozen=True, eq=False)
class KMFit:
    """A Kaplan–Meier curve, one row per distinct time (event or censoring).

    Attributes
    ----------
    time : ndarray
        Distinct observed times, ascending.
    n_risk : ndarray
        Number at risk just before each time (subjects with time >= t and, with delayed
        entry, entry < t).
    n_event : ndarray
        Events at each time.
    n_censor : ndarray
        Censorings at each time.
    surv : ndarray
        Survival estimate :math:`S(t)`, right-continuous.
    std_err : ndarray
        Greenwood standard error of :math:`S(t)` (``std.err`` of ``summary.survfit``);
        ``nan`` where :math:`S(t) = 0`.
    std_err_log : ndarray
        Greenwood standard error of :math:`-\\log S(t)` (``survfit``'s own ``std.err``);
        ``inf`` where :math:`S(t) = 0`.
    conf_low, conf_high : ndarray
        Pointwise confidence limits; ``nan`` where R gives ``NA`` (e.g. where
        :math:`S(t) = 0`, or :math:`S(t) = 1` for ``"log-log"``).
    conf_type : str
        ``"log"``, ``"log-log"`` or ``"plain"``.
    conf_level : float
        Coverage of the confidence limits, e.g. 0.95.
    n : int
        Number of observations.
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray
    std_err_log: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    conf_type: str
    conf_level: float
    n: int


@dataclass(frozen=True, eq=False)
class KMLandmarks:
    """Kaplan–Meier estimates at chosen times, as ``summary(fit, times=, extend=TRUE)``.

    Attributes
    ----------
    time : ndarray
        The requested times, sorted ascending (as R sorts them).
    n_risk : ndarray
        Number at risk at each time (subjects with time >= t); 0 past the last time.
    n_event, n_censor : ndarray
        Events and censorings in the interval since the previous requested time (the
        first interval starts at time 0 and includes it).
    surv, std_err, conf_low, conf_high : ndarray
        The curve's values at each time (carried forward past the last observed time).
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray


@dataclass(frozen=True, eq=False)
class KMMedian:
    """A median from a Kaplan–Meier curve and its confidence interval.

    Attributes
    ----------
    median : float
        Median time; ``nan`` when the curve never reaches 0.5.
    conf_low, conf_high : float
        Confidence limits; ``nan`` when the corresponding confidence curve never reaches 0.5.
    conf_level : float
        Coverage of the interval.
    """

    median: float
    conf_low: float
    conf_high: float
    conf_level: float


def kaplan_meier(time, event, conf_type: str = "log", conf_level: float = 0.95, *,
                 timefix: bool = True, entry=None, counts=None) -> KMFit:
    """Kaplan–Meier estimate with Greenwood standard errors and pointwise intervals.

    With :math:`n_i` at risk and :math:`d_i` events at the distinct times
    :math:`t_1 < t_2 < \\dots`,

    .. math::

        \\hat S(t) = \\prod_{t_i \\le t} \\frac{n_i - d_i}{n_i}, \\qquad
        \\widehat{\\operatorname{se}}\\{-\\log \\hat S(t)\\} = \\sigma(t) =
        \\Big(\\sum_{t_i \\le t} \\frac{d_i}{n_i (n_i - d_i)}\\Big)^{1/2},

    and :math:`\\widehat{\\operatorname{se}}\\{\\hat S(t)\\} = \\hat S(t)\\,\\sigma(t)`.
    With :math:`z = \\Phi^{-1}(1 - (1 - \\text{conf\\_level})/2)` the limits are, as in
    ``survfit(conf.type=)``:

    - ``"log"`` (R's default): :math:`\\hat S e^{\\pm z\\sigma}`, the upper limit capped at 1;
    - ``"log-log"``: :math:`\\hat S^{\\exp(\\pm z\\sigma / \\log \\hat S)}` (undefined where
      :math:`\\hat S` is 0 or 1);
    - ``"plain"``: :math:`\\hat S (1 \\pm z\\sigma)`, clipped to [0, 1].

    Parameters
    ----------
    time : array_like of float
        Follow-up times, >= 0.
    event : array_like of {0, 1} or bool
        1 for an event, 0 for a censored time.
    conf_type : {"log", "log-log", "plain"}
        Scale of the pointwise confidence limits.
    conf_level : float
        Coverage, in (0, 1).
    timefix : bool
        Treat near-identical times as ties, as ``survfit`` does by default
        (see :func:`~cohortpress.stats.event_times.fix_near_ties`).
    entry : array_like of float, optional
        Delayed entry: each subject is at risk from just after its entry time (before its
        exit time), as ``Surv(entry, time, event)``. Default: at risk from 0.
    counts : array_like of int, optional
        Patients each row stands for (one row per distinct time and event, from
        aggregates); default one each. Not with ``entry``.

    Returns
    -------
    KMFit

    Raises
    ------
    StatisticsError
        For invalid input: lengths differ, negative or missing times, event codes other
        than 0/1, an unknown ``conf_type`` or a ``conf_level`` outside (0, 1).
    """
    time, event = check_time_event(time, event)
    counts = check_counts(counts, time.size, entry=entry)
    z = z_value(conf_level)
    check_conf_type(conf_type)
    if entry is None:
        times, table = tabulate_by_time(time, event, 2, timefix=timefix, counts=counts)
        return _fit_from_counts(times, table[:, 1], table[:, 0], conf_type, conf_level, z)
    entry, time = check_entry(entry, time, timefix=timefix)
    times, counts = tabulate_by_time(time, event, 2, timefix=False)
    later = entered_later(times, entry, np.zeros(time.size, dtype=np.intp), 1)[:, 0]
    return _fit_from_counts(times, counts[:, 1], counts[:, 0], conf_type, conf_level, z,
                            later=later, n=time.size)


def kaplan_meier_by_group(time, event, group, conf_type: str = "log",
                          conf_level: float = 0.95, *, timefix: bool = True,
                          entry=None) -> dict[int, KMFit]:
    """One Kaplan–Meier curve per group, as ``survfit(Surv(time, event) ~ group)``.

    The data are sorted once for all groups. Near-ties are fixed on the pooled times, as
    ``survfit`` does for a formula with groups, so a group's times can differ from those
    of :func:`kaplan_meier` run on that group alone when two times differ by less than the
    tolerance of :func:`~cohortpress.stats.event_times.fix_near_ties`.

    Parameters
    ----------
    time, event, conf_type, conf_level, timefix, entry
        As for :func:`kaplan_meier`.
    group : array_like of int
        Group codes (non-negative integers).

    Returns
    -------
    dict of int to KMFit
        One fit per group code present in the data, in ascending order of code.
    """
    time, event = check_time_event(time, event)
    codes, group_index = compact_codes(check_codes(group, "group", len(time)))
    z = z_value(conf_level)
    check_conf_type(conf_type)
    if entry is not None:
        entry, time = check_entry(entry, time, timefix=timefix)
        timefix = False
    times, counts = tabulate_by_time(time, group_index * 2 + event, 2 * codes.size,
                                     timefix=timefix)
    later = (None if entry is None
             else entered_later(times, entry, group_index, codes.size))
    fits = {}
    for index, code in enumerate(codes):
        n_censor, n_event = counts[:, 2 * index], counts[:, 2 * index + 1]
        rows = (n_censor + n_event) > 0
        fits[int(code)] = _fit_from_counts(
            times[rows], n_event[rows], n_censor[rows], conf_type, conf_level, z,
            later=None if later is None else later[rows, index],
            n=int((group_index == index).sum()))
    return fits


def km_at(fit: KMFit, times) -> KMLandmarks:
    """Estimates at landmark times, as ``summary(fit, times=times, extend=TRUE)``.

    For a landmark :math:`t` the survival, standard error and limits are those of the last
    distinct time :math:`\\le t` (before the first one: survival 1, standard error 0 and
    limits 1, from the row ``survfit0`` adds at time 0); the number at risk is
    the number of subjects with time :math:`\\ge t`; events and censorings are counted in
    :math:`(t_{prev}, t]`, where :math:`t_{prev}` is the previous landmark (for the first
    landmark, the interval is :math:`[0, t]`).

    Parameters
    ----------
    fit : KMFit
    times : array_like of float
        Landmark times, >= 0; returned sorted ascending, as R does.

    Returns
    -------
    KMLandmarks
    """
    landmarks = np.sort(check_landmarks(times))
    curve = _with_time_zero(fit)
    row = np.maximum(np.searchsorted(curve.time, landmarks, side="right"), 1) - 1
    at_risk_row = np.searchsorted(curve.time, landmarks, side="left")
    n_risk_padded = np.append(curve.n_risk, 0)
    return KMLandmarks(
        time=read_only(landmarks),
        n_risk=read_only(n_risk_padded[at_risk_row]),
        n_event=read_only(_counts_between(curve.n_event, curve.time, landmarks)),
        n_censor=read_only(_counts_between(curve.n_censor, curve.time, landmarks)),
        surv=read_only(curve.surv[row]),
        std_err=read_only(curve.std_err[row]),
        conf_low=read_only(curve.conf_low[row]),
        conf_high=read_only(curve.conf_high[row]),
    )


def km_median(fit: KMFit) -> KMMedian:
    """Median survival and its confidence interval, as ``print.survfit`` reports them.

    The median is the first time at which :math:`\\hat S(t) \\le 0.5`. When the curve equals
    0.5 (within :math:`\\sqrt{\\epsilon}`) over an interval, the median is the midpoint of
    that interval: the mean of the time it reaches 0.5 and the time it next drops. The
    lower (upper) limit is the same rule applied to the lower (upper) confidence curve,
    the method of Brookmeyer and Crowley.

    Parameters
    ----------
    fit : KMFit

    Returns
    -------
    KMMedian
        ``nan`` for any quantity whose curve never reaches 0.5.
    """
    return KMMedian(
        median=_first_time_at_or_below_half(fit.surv, fit.time),
        conf_low=_first_time_at_or_below_half(fit.conf_low, fit.time),
        conf_high=_first_time_at_or_below_half(fit.conf_high, fit.time),
        conf_level=fit.conf_level,
    )


def reverse_km_median_followup(time, event, conf_type: str = "log", conf_level: float = 0.95,
                               *, timefix: bool = True, entry=None, counts=None) -> KMMedian:
    """Median follow-up by the reverse Kaplan–Meier method, with its confidence interval.

    Censoring is treated as the event and events as censored (Schemper and Smith, 1996):
    the result is :func:`km_median` of ``kaplan_meier(time, 1 - event)``, which is R's
    ``survfit(Surv(time, 1 - event) ~ 1)`` (``Surv(entry, time, 1 - event)`` with delayed
    entry). As in that call, subjects with an event at a time when others are censored
    count as at risk at that time.

    Parameters
    ----------
    time, event, conf_type, conf_level, timefix, entry, counts
        As for :func:`kaplan_meier`.

    Returns
    -------
    KMMedian
        ``nan`` median when fewer than half the subjects are censored by the end.
    """
    time, event = check_time_event(time, event)
    reverse_fit = kaplan_meier(time, 1 - event, conf_type, conf_level, timefix=timefix,
                               entry=entry, counts=counts)
    return km_median(reverse_fit)


# ----------------------------------------------------------------------------------------
# Kaplan–Meier internals


def _fit_from_counts(times, n_event, n_censor, conf_type, conf_level, z, *, later=None,
                     n=None) -> KMFit:
    n_risk = at_risk_from_counts(n_event + n_censor, later)
    risk = n_risk.astype(float)
    deaths = n_event.astype(float)
    surv = np.cumprod((risk - deaths) / risk)
    with np.errstate(divide="ignore"):
        # d / (n (n - d)) is infinite when the last subjects all die: R's std.err is Inf there.
        std_err_log = np.sqrt(np.cumsum(deaths / (risk * (risk - deaths))))
    with np.errstate(invalid="ignore"):
        std_err = surv * std_err_log
    conf_low, conf_high = confidence_limits(surv, std_err_log, conf_type, z)
    return KMFit(
        time=read_only(times), n_risk=read_only(n_risk), n_event=read_only(n_event),
        n_censor=read_only(n_censor), surv=read_only(surv), std_err=read_only(std_err),
        std_err_log=read_only(std_err_log), conf_low=read_only(conf_low),
        conf_high=read_only(conf_high), conf_type=conf_type, conf_level=float(conf_level),
        n=int(n_risk[0]) if n is None else int(n),
    )


def confidence_limits(surv, std_err_log, conf_type, z):
    """Pointwise limits as ``survival:::survfit_confint`` with ``logse=TRUE``: of the
    survival ``surv`` with ``std_err_log`` the standard error of its log and ``z`` the
    normal quantile of the level (:func:`z_value`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            half_width = std_err_log * surv * z
            return np.maximum(surv - half_width, 0.0), np.minimum(surv + half_width, 1.0)
        if conf_type == "log":
            log_surv = np.log(np.where(surv == 0, np.nan, surv))
            return (np.exp(log_surv - z * std_err_log),
                    np.minimum(np.exp(log_surv + z * std_err_log), 1.0))
        undefined = (surv == 0) | (surv == 1)
        log_surv = np.log(np.where(undefined, np.nan, surv))
        shift = z * std_err_log / log_surv
        log_minus_log = np.log(-log_surv)
        return (np.exp(-np.exp(log_minus_log - shift)), np.exp(-np.exp(log_minus_log + shift)))


def _with_time_zero(fit: KMFit) -> KMFit:
    """The curve with a row for time 0 (S = 1, limits 1) unless it starts at 0 (``survfit0``)."""
    if fit.time.size and fit.time[0] == 0:
        return fit

    def prepend(values, first):
        return np.concatenate(([first], values))

    return KMFit(
        time=prepend(fit.time, 0.0), n_risk=prepend(fit.n_risk, fit.n_risk[0]),
        n_event=prepend(fit.n_event, 0), n_censor=prepend(fit.n_censor, 0),
        surv=prepend(fit.surv, 1.0), std_err=prepend(fit.std_err, 0.0),
        std_err_log=prepend(fit.std_err_log, 0.0), conf_low=prepend(fit.conf_low, 1.0),
        conf_high=prepend(fit.conf_high, 1.0), conf_type=fit.conf_type,
        conf_level=fit.conf_level, n=fit.n,
    )


def _counts_between(counts, curve_times, landmarks):
    """Counts in (previous landmark, landmark], the first interval starting at time 0."""
    cumulative = np.concatenate(([0], np.cumsum(counts)))
    up_to_landmark = cumulative[np.searchsorted(curve_times, landmarks, side="right")]
    return np.diff(up_to_landmark, prepend=0)


def _first_time_at_or_below_half(curve, times) -> float:
    """R's ``minmin``: first time the curve is <= 0.5, averaging over an exact-0.5 plateau."""
    kept = ~np.isnan(curve) & (curve < 0.5 + R_TOLERANCE)
    if not kept.any():
        return float("nan")
    values, at = curve[kept], times[kept]
    if abs(values[0] - 0.5) < R_TOLERANCE:
        lower = np.flatnonzero(values < values[0])
        if lower.size:
            return float((at[0] + at[lower[0]]) / 2)
    return float(at[0])


def check_conf_type(conf_type: str) -> None:
    """Refuse a ``conf_type`` other than :data:`CONF_TYPES`."""
    if conf_type not in CONF_TYPES:
        raise StatisticsError(
            f"conf_type must be one of {', '.join(CONF_TYPES)}; got {conf_type!r}")


def z_value(conf_level: float) -> float:
    """The two-sided normal quantile of a checked ``conf_level``."""
    check_conf_level(conf_level)
    return float(ndtri(1 - (1 - conf_level) / 2))
