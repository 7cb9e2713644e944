"""Competing risks: cumulative incidence (Aalen–Johansen) and Gray's test, as ``cmprsk``.

Status codes: 0 censored, 1 the event of interest, 2, 3, ... one code per competing cause.
The incidence of any cause ``k`` is estimated with every other cause competing (``cause=2``
gives the first competing cause's incidence), as ``cuminc`` does for a status with several
failure codes. The estimates, their variances and Gray's test match R
``cmprsk::cuminc`` 2.2 (its Fortran routines ``cinc`` and ``crstm``), and the landmark
estimates match ``cmprsk::timepoints``. Reference values: ``tests/fixtures/r/cuminc.R``.
Unlike ``survival``, ``cmprsk`` does not merge near-identical times, and neither do we.
With delayed entry the incidence follows R ``survival`` instead (see
:mod:`cohortpress.stats.competing_entry`); Gray's test has no delayed entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import ndtri

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult, check_conf_level
from cohortpress.stats.distributions import chi2_sf
from cohortpress.stats.competing_entry import aalen_johansen_with_entry
from cohortpress.stats.event_times import (
    check_codes,
    check_counts,
    check_landmarks,
    check_time,
    compact_codes,
    read_only,
    tabulate_by_time,
    total,
)

__all__ = [
    "CIFit",
    "CIFLandmarks",
    "GrayTestResult",
    "cumulative_incidence",
    "cif_at",
    "gray_test",
]

_STATUS_MEANING = "0 (censored), 1 (event of interest) or 2, 3, ... (competing causes)"


@dataclass(frozen=True, eq=False)
class CIFit:
    """A cumulative incidence curve, a step function that jumps at the cause's event times.

    Attributes
    ----------
    time : ndarray
        Distinct times at which the event of interest occurs, ascending.
    estimate : ndarray
        :math:`\\hat F(t)` just after each time.
    variance : ndarray
        The variance of :math:`\\hat F(t)` at each time, as ``cuminc`` (see
        :func:`cumulative_incidence`).
    last_time : float
        The largest follow-up time: the curve is defined up to here.
    n : int
        Number of observations.
    cause : int
        The status code of the event of interest.
    """

    time: np.ndarray
    estimate: np.ndarray
    variance: np.ndarray
    last_time: float
    n: int
    cause: int


@dataclass(frozen=True, eq=False)
class CIFLandmarks:
    """Cumulative incidence at chosen times, with standard errors and confidence limits.

    Attributes
    ----------
    time : ndarray
        The requested times, sorted ascending.
    estimate, std_err : ndarray
        :math:`\\hat F(t)` and the square root of its variance; ``nan`` past the last
        follow-up time (``cmprsk::timepoints`` gives ``NA`` there).
    conf_low, conf_high : ndarray
        log(-log) confidence limits; ``nan`` where :math:`\\hat F(t)` is 0 or 1.
    conf_level : float
        Coverage of the limits.
    """

    time: np.ndarray
    estimate: np.ndarray
    std_err: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    conf_level: float


@dataclass(frozen=True, eq=False)
class GrayTestResult:
    """Gray's K-sample test of cumulative incidence curves.

    Attributes
    ----------
    test : TestResult
        Chi-square statistic on k - 1 df and its p-value.
    groups : ndarray of int
        The group codes present, ascending.
    score : ndarray, shape (k - 1,)
        Scores of all groups but the last, summed over strata.
    variance : ndarray, shape (k - 1, k - 1)
        Their estimated covariance matrix, summed over strata.
    rho : float
        Exponent of the weight :math:`(1 - \\hat F(t^-))^{\\rho}`.
    cause : int
        The status code of the event of interest.
    """

    test: TestResult
    groups: np.ndarray
    score: np.ndarray
    variance: np.ndarray
    rho: float
    cause: int


def cumulative_incidence(time, status, cause: int = 1, *, entry=None, counts=None) -> CIFit:
    """Aalen–Johansen cumulative incidence of one cause, with ``cuminc``'s variance.

    With :math:`n_i` at risk, :math:`d_{1i}` events of interest and :math:`d_{2i}`
    competing events at the distinct times :math:`t_i`, :math:`d_i = d_{1i} + d_{2i}`, and
    :math:`\\hat S` the all-cause Kaplan–Meier estimate,

    .. math::

        \\hat F(t) = \\sum_{t_i \\le t} \\hat S(t_{i-1}) \\frac{d_{1i}}{n_i}.

    The variance is ``cuminc``'s estimate of the asymptotic variance of Aalen (1978), a
    Greenwood-type (delta-method) estimator with a correction for tied events, computed
    as ``cmprsk``'s routine ``cinc`` does. With :math:`\\hat S_i^- = \\hat S(t_{i-1})`,
    :math:`\\hat S_i = \\hat S(t_i)`, :math:`F_i = \\hat F(t_i)` and the tie corrections
    :math:`c_{ki} = 1 - (d_{ki} - 1)/(n_i - 1)` (1 when :math:`d_{ki} \\le 1`), let

    .. math::

        a_{ki} = (\\hat S_i^-)^2 c_{ki} d_{ki} / n_i^2, \\qquad
        v_1 = \\sum_{t_i \\le t} \\Big[\\Big(1 + \\frac{F_i}{\\hat S_i}\\Big)^2 a_{1i}
              + \\frac{F_i^2}{\\hat S_i^2} a_{2i}\\Big],

    .. math::

        v_2 = \\sum_{t_i \\le t} \\Big[\\frac{1}{\\hat S_i}\\Big(1 + \\frac{F_i}{\\hat S_i}\\Big)
              a_{1i} + \\frac{F_i}{\\hat S_i^2} a_{2i}\\Big], \\qquad
        v_3 = \\sum_{t_i \\le t} \\frac{a_{1i} + a_{2i}}{\\hat S_i^2},

    (terms with :math:`\\hat S_i = 0` dropped: :math:`1/\\hat S_i` read as 0 in the
    event-of-interest terms, the competing term omitted). Then
    :math:`\\widehat{\\operatorname{Var}} \\hat F(t) = v_1 + F^2 v_3 - 2 F v_2`, evaluated,
    like ``cuminc``, at the events of interest: between them the variance stays at its
    value at the last one.

    Parameters
    ----------
    time : array_like of float
        Follow-up times, >= 0.
    status : array_like of int
        0 censored, 1 event of interest, 2, 3, ... one code per competing cause.
    cause : int
        Which cause's incidence to estimate (a status code >= 1); every other non-zero
        code is a competing event for it.
    entry : array_like of float, optional
        Delayed entry: at risk on ``entry < t <= time``. The estimate is then R
        ``survfit``'s Aalen–Johansen and the variance its infinitesimal jackknife
        (:func:`~cohortpress.stats.competing_entry.aalen_johansen_with_entry`), since
        ``cuminc`` has no delayed entry.
    counts : array_like of int, optional
        Patients each row stands for (one row per distinct time and status, from
        aggregates); default one each. Not with ``entry``.

    Returns
    -------
    CIFit
    """
    time, status = _check_competing_data(time, status, cause)
    counts = check_counts(counts, time.size, entry=entry)
    if entry is not None:
        times, incidence, variance, last = aalen_johansen_with_entry(time, status, entry, cause)
        return CIFit(time=read_only(times), estimate=read_only(incidence),
                     variance=read_only(variance), last_time=last, n=int(time.size),
                     cause=int(cause))
    times, table = tabulate_by_time(time, _recode(status, cause), 3, timefix=False,
                                    counts=counts)
    at_risk = np.cumsum(table.sum(axis=1)[::-1])[::-1].astype(float)
    events, competing = table[:, 1].astype(float), table[:, 2].astype(float)
    surv_after = np.cumprod((at_risk - events - competing) / at_risk)
    surv_before = np.concatenate(([1.0], surv_after))[:-1]
    incidence = np.cumsum(surv_before * events / at_risk)
    variance = _gray_cif_variance(at_risk, events, competing, surv_before, surv_after,
                                  incidence)
    jumps = events > 0
    return CIFit(time=read_only(times[jumps]), estimate=read_only(incidence[jumps]),
                 variance=read_only(variance[jumps]), last_time=float(times[-1]),
                 n=total(counts, time.size), cause=int(cause))


def cif_at(fit: CIFit, times, conf_level: float = 0.95) -> CIFLandmarks:
    """Cumulative incidence at landmark times with a log(-log) confidence interval.

    Estimates and variances are those of ``cmprsk::timepoints``: the values at the last
    event of interest at or before :math:`t` (0 before the first), ``nan`` beyond the
    last follow-up time. ``cmprsk`` reports no interval; we use the transform
    conventional for a cumulative incidence, :math:`\\log(-\\log \\hat F)`, whose delta-method
    standard error is :math:`\\sigma = \\operatorname{se}(\\hat F) / |\\hat F \\log \\hat F|`:

    .. math::

        \\hat F^{\\exp(\\pm z \\operatorname{se}(\\hat F) / (\\hat F \\log \\hat F))},

    the ``-`` sign giving the lower limit. It stays inside (0, 1), unlike
    :math:`\\hat F \\pm z\\,\\operatorname{se}`.

    Parameters
    ----------
    fit : CIFit
    times : array_like of float
        Landmark times, >= 0; returned sorted ascending.
    conf_level : float
        Coverage, in (0, 1).

    Returns
    -------
    CIFLandmarks
    """
    check_conf_level(conf_level)
    landmarks = np.sort(check_landmarks(times))
    row = np.searchsorted(fit.time, landmarks, side="right")  # 0: before the first event
    beyond = landmarks > fit.last_time
    estimate = np.concatenate(([0.0], fit.estimate))[row]
    variance = np.concatenate(([0.0], fit.variance))[row]
    estimate[beyond] = np.nan
    variance[beyond] = np.nan
    std_err = np.sqrt(variance)
    conf_low, conf_high = _log_minus_log_limits(estimate, std_err, conf_level)
    return CIFLandmarks(time=read_only(landmarks), estimate=read_only(estimate),
                        std_err=read_only(std_err), conf_low=read_only(conf_low),
                        conf_high=read_only(conf_high), conf_level=float(conf_level))


def gray_test(time, status, group, cause: int = 1, rho: float = 0.0,
              strata=None, *, counts=None) -> GrayTestResult:
    """Gray's test that a cause's cumulative incidence is the same in all groups.

    Gray (1988): at each failure time the groups' subdistribution hazards are compared
    with weight :math:`(1 - \\hat F(t^-))^{\\rho}`, :math:`\\hat F` the pooled incidence of
    the cause. The scores of all groups but the last, :math:`s`, and their covariance
    :math:`V` (Gray's asymptotic estimate, as ``cmprsk``'s routine ``crstm``) are summed
    over strata, and :math:`s' V^{-1} s` is compared with chi-square on k - 1 df. Matches
    ``cuminc(time, status, group, strata, rho)$Tests``.

    Parameters
    ----------
    time : array_like of float
        Follow-up times, >= 0.
    status : array_like of int
        0 censored, 1 event of interest, 2, 3, ... one code per competing cause.
    group : array_like of int
        Group codes.
    cause : int
        The cause whose incidence is compared (a status code >= 1); every other non-zero
        code is a competing event for it.
    rho : float
        Weight exponent; 0 (the default, as ``cuminc``) weighs all times equally,
        positive values emphasise early differences.
    strata : array_like of int, optional
        Stratum codes for a stratified test.
    counts : array_like of int, optional
        Patients each row stands for (rows per distinct time, status, group and stratum,
        from aggregates); default one each.

    Returns
    -------
    GrayTestResult
        The p-value is the chi-square upper tail computed directly (``cuminc`` prints
        ``1 - pchisq``, which differs only below about 1e-15).

    Raises
    ------
    StatisticsError
        For invalid input, fewer than two groups, or a singular variance matrix (for
        instance when no event of interest occurred).
    """
    time, status = _check_competing_data(time, status, cause)
    counts = check_counts(counts, time.size)
    codes, group_index = compact_codes(check_codes(group, "group", len(time)))
    if codes.size < 2:
        raise StatisticsError("Gray's test needs at least two groups; found one")
    if not (isinstance(rho, (int, float, np.number)) and np.isfinite(rho) and rho >= 0):
        raise StatisticsError(f"rho must be a finite number >= 0; got {rho!r}")
    if strata is None:
        stratum_index, n_strata = np.zeros(len(time), dtype=np.intp), 1
    else:
        stratum_codes, stratum_index = compact_codes(check_codes(strata, "strata", len(time)))
        n_strata = stratum_codes.size
    k = codes.size
    labels = group_index * 3 + _recode(status, cause)
    score, variance = np.zeros(k - 1), np.zeros((k - 1, k - 1))
    for stratum in range(n_strata):
        rows = stratum_index == stratum
        _, table = tabulate_by_time(time[rows], labels[rows], 3 * k, timefix=False,
                                    counts=None if counts is None else counts[rows])
        stratum_score, stratum_variance = _gray_stratum(table.reshape(-1, k, 3), rho)
        score += stratum_score
        variance += stratum_variance
    statistic = _quadratic_form(score, variance)
    test = TestResult(method="Gray's test", p_value=float(chi2_sf(statistic, k - 1)),
                      statistic=statistic, df=float(k - 1), note=_gray_note(rho, n_strata))
    return GrayTestResult(test=test, groups=codes, score=score, variance=variance,
                          rho=float(rho), cause=int(cause))


# ----------------------------------------------------------------------------------------
# Internals


def _check_competing_data(time, status, cause) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(cause, bool) or not isinstance(cause, (int, np.integer)) or cause < 1:
        raise StatisticsError(f"cause must be a status code >= 1; got {cause!r}")
    time = check_time(time)
    status = check_codes(status, "status", len(time), meaning=_STATUS_MEANING)
    return time, status


def _recode(status, cause) -> np.ndarray:
    """0 censored, 1 the cause of interest, 2 any other cause."""
    return np.where(status == 0, 0, np.where(status == cause, 1, 2))


def _gray_cif_variance(at_risk, events, competing, surv_before, surv_after, incidence):
    """``cinc``'s running variance, as defined in :func:`cumulative_incidence`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse_surv = np.where(surv_after > 0, 1 / surv_after, 0.0)
        event_term = _tie_corrected(events, at_risk) * surv_before**2 / at_risk**2
        competing_term = np.where(
            (competing > 0) & (surv_after > 0),
            _tie_corrected(competing, at_risk) * surv_before**2 / at_risk**2 * inverse_surv**2,
            0.0)
    event_factor = 1 + inverse_surv * incidence
    v1 = np.cumsum(event_factor**2 * event_term + incidence**2 * competing_term)
    v2 = np.cumsum(inverse_surv * event_factor * event_term + incidence * competing_term)
    v3 = np.cumsum(inverse_surv**2 * event_term + competing_term)
    return v1 + incidence**2 * v3 - 2 * incidence * v2


def _tie_corrected(count, at_risk):
    """:math:`c\\,d`, with :math:`c = 1 - (d - 1)/(n - 1)` for :math:`d > 1` tied events."""
    correction = np.where(count > 1, 1 - (count - 1) / np.maximum(at_risk - 1, 1), 1.0)
    return correction * count


class _StratumEstimates(NamedTuple):
    """Per failure time (rows) and group (columns) quantities of Gray's test, one stratum."""

    at_risk: np.ndarray  # n_k
    events: np.ndarray  # events of interest, d_1k
    competing: np.ndarray  # competing events, d_2k
    in_risk: np.ndarray  # n_k > 0
    surv_before: np.ndarray  # all-cause Kaplan-Meier S_k(t-)
    surv_after: np.ndarray  # S_k(t)
    incidence_before: np.ndarray  # F_k(t-)
    weighted_risk: np.ndarray  # h_k = n_k / S_k(t-)
    total_weighted_risk: np.ndarray  # R = sum_k h_k
    total_events: np.ndarray  # d_1 = sum_k d_1k
    pooled_before: np.ndarray  # pooled F(t-)
    pooled_after: np.ndarray  # pooled F(t) = F(t-) + d_1 / R
    weight: np.ndarray  # (1 - F(t-))^rho


def _gray_stratum(counts, rho):
    """Scores and covariance of one stratum, as ``cmprsk``'s routine ``crst``.

    ``counts`` is (time, group, status). Notation follows Gray (1988): per group, the
    all-cause Kaplan–Meier :math:`S_k` and the cause's incidence :math:`F_k`; pooled,
    :math:`R = \\sum_k n_k / S_k(t^-)` and the pooled incidence :math:`F`.
    """
    k = counts.shape[1]
    if not counts[:, :, 1:].any():
        return np.zeros(k - 1), np.zeros((k - 1, k - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        estimates = _stratum_estimates(counts, rho)
        return _gray_score(estimates)[: k - 1], _gray_covariance(estimates)


def _stratum_estimates(counts, rho) -> _StratumEstimates:
    at_risk = np.cumsum(counts.sum(axis=2)[::-1], axis=0)[::-1].astype(float)
    failure_rows = counts[:, :, 1:].sum(axis=(1, 2)) > 0
    at_risk = at_risk[failure_rows]
    events = counts[failure_rows, :, 1].astype(float)
    competing = counts[failure_rows, :, 2].astype(float)
    in_risk = at_risk > 0
    surv_after = np.cumprod(
        np.where(in_risk, (at_risk - events - competing) / at_risk, 1.0), axis=0)
    surv_before = _lagged(surv_after, 1.0)
    incidence_after = np.cumsum(np.where(in_risk, surv_before * events / at_risk, 0.0), axis=0)
    weighted_risk = np.where(in_risk, at_risk / surv_before, 0.0)
    total_weighted_risk = weighted_risk.sum(axis=1)
    total_events = events.sum(axis=1)
    pooled_after = np.cumsum(total_events / total_weighted_risk)
    pooled_before = _lagged(pooled_after, 0.0)
    return _StratumEstimates(
        at_risk=at_risk, events=events, competing=competing, in_risk=in_risk,
        surv_before=surv_before, surv_after=surv_after,
        incidence_before=_lagged(incidence_after, 0.0), weighted_risk=weighted_risk,
        total_weighted_risk=total_weighted_risk, total_events=total_events,
        pooled_before=pooled_before, pooled_after=pooled_after,
        weight=(1 - pooled_before) ** rho)


def _gray_score(e: _StratumEstimates) -> np.ndarray:
    """Scores :math:`\\sum_t w(t)\\,(d_{1k} - d_1 Q_k / \\sum_j Q_j)`.

    Here :math:`Q_k = n_k (1 - F_k(t^-)) / S_k(t^-)` and :math:`d_1 = \\sum_k d_{1k}`.
    """
    share = np.where(e.in_risk, e.at_risk * (1 - e.incidence_before) / e.surv_before, 0.0)
    expected = e.total_events[:, None] * share / share.sum(axis=1)[:, None]
    return e.weight @ np.where(e.in_risk, e.events - expected, 0.0)


def _gray_covariance(e: _StratumEstimates) -> np.ndarray:
    """Gray's covariance of the first k - 1 scores (``crst``'s accumulation, vectorised)."""
    k = e.at_risk.shape[1]
    h, total_h = e.weighted_risk, e.total_weighted_risk
    # a(t) = w (diag(h) - h h' / R); c(t) accumulates a(t) dF(t) / (1 - F(t-))
    a = e.weight[:, None, None] * (
        h[:, :, None] * np.eye(k) - h[:, :, None] * h[:, None, :] / total_h[:, None, None])
    c = np.cumsum(
        a * (e.total_events / (total_h * (1 - e.pooled_before)))[:, None, None], axis=0)
    a, c = a[:, : k - 1, :], c[:, : k - 1, :]
    remaining = (1 - e.pooled_after)[:, None]

    # events of interest
    t4 = np.where(e.surv_after > 0, 1 - remaining / e.surv_after, 1.0)
    n_events = e.total_events[:, None]
    tie = np.where(n_events > 1, 1 - (n_events - 1) / (total_h[:, None] * e.surv_before - 1),
                   1.0)
    t3 = np.where(e.in_risk & (n_events > 0),
                  tie * e.surv_before * n_events / (total_h[:, None] * e.at_risk), 0.0)
    u = a - t4[:, None, :] * c
    v3 = (t4**2 * t3).sum(axis=0)
    v2 = np.einsum("tik,tk->ik", u, t4 * t3)
    covariance = np.einsum("tik,tjk,tk->ij", u, u, t3)

    # competing events
    has_competing = (e.surv_after > 0) & (e.competing > 0)
    t4 = np.where(has_competing, remaining / e.surv_after, 0.0)
    t3 = np.where(has_competing,
                  _tie_corrected(e.competing, e.at_risk) * e.surv_before**2 / e.at_risk**2, 0.0)
    u = t4[:, None, :] * c
    v3 += (t4**2 * t3).sum(axis=0)
    v2 -= np.einsum("tik,tk->ik", u, t4 * t3)
    covariance += np.einsum("tik,tjk,tk->ij", u, u, t3)

    final_c = c[-1]
    return covariance + (final_c * v3) @ final_c.T + final_c @ v2.T + v2 @ final_c.T


def _lagged(values, first):
    """Values at the previous row (the left-continuous version), ``first`` on row 0."""
    lagged = np.empty_like(values)
    lagged[0] = first
    lagged[1:] = values[:-1]
    return lagged


def _quadratic_form(score, variance) -> float:
    try:
        statistic = float(score @ np.linalg.solve(variance, score))
    except np.linalg.LinAlgError:
        raise StatisticsError(
            "no test: Gray's variance matrix is singular (too few events of interest)") from None
    if not np.isfinite(statistic):
        raise StatisticsError("no test: Gray's statistic is not finite")
    return statistic


def _log_minus_log_limits(estimate, std_err, conf_level):
    z = ndtri(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        defined = (estimate > 0) & (estimate < 1)
        log_estimate = np.log(np.where(defined, estimate, np.nan))
        shift = z * std_err / (estimate * log_estimate)
        return estimate ** np.exp(-shift), estimate ** np.exp(shift)


def _gray_note(rho, n_strata) -> str | None:
    parts = []
    if rho:
        parts.append(f"weight (1 - F(t-))^{rho:g}")
    if n_strata > 1:
        parts.append(f"stratified over {n_strata} strata")
    return "; ".join(parts) or None
