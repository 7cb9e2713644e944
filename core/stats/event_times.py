"""Survival inputs: checks, near-tie merging and the per-time counting table.

Shared by :mod:`cohortpress.stats.kaplan_meier`, :mod:`cohortpress.stats.logrank` and
:mod:`cohortpress.stats.competing`. Like R ``survival`` (``timefix=TRUE``), times closer than
about 1.5e-8 (absolutely, or relative to the mean time) are treated as ties; see
:func:`fix_near_ties`.

Delayed entry (left truncation): a subject with entry time :math:`e` and exit time :math:`x`
is at risk at :math:`t` when :math:`e < t \\le x`, as in R's ``Surv(entry, exit, event)``.
:func:`check_entry` validates the entry times and merges near-ties over entry and exit times
together (as ``aeqSurv`` does for counting-process data); :func:`entered_later` counts, at
each time of a counting table, the subjects not yet entered, to subtract from those not yet
exited.
"""

from __future__ import annotations

import numpy as np

from cohortpress.common.errors import StatisticsError

__all__ = ["R_TOLERANCE", "fix_near_ties", "check_landmarks", "read_only", "check_time_event",
           "check_time", "check_codes", "compact_codes", "tabulate_by_time", "check_entry",
           "entered_later", "at_risk_from_counts", "check_counts", "total"]

#: survival's aeqSurv() and survmean() both use sqrt(machine epsilon) as their tolerance.
R_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def fix_near_ties(time) -> np.ndarray:
    """Merge near-identical times, as ``survival::aeqSurv`` (``timefix=TRUE``).

    Sort the distinct times :math:`y_1 < y_2 < \\dots`; a gap
    :math:`\\delta_i = y_{i+1} - y_i` is a tie when :math:`\\delta_i \\le \\tau` or
    :math:`\\delta_i / \\bar{|y|} \\le \\tau`, with :math:`\\tau = \\sqrt{\\epsilon}
    \\approx 1.5 \\times 10^{-8}`. Each run of tied times is replaced by its smallest time.
    This keeps floating-point noise (e.g. times computed as date differences / 365.25)
    from splitting what are really ties.

    Parameters
    ----------
    time : ndarray of float
        Checked times.

    Returns
    -------
    ndarray of float
        The times, with near-ties merged (the input itself when there are none).
    """
    distinct, position = np.unique(time, return_inverse=True)
    starts = _near_tie_run_starts(distinct)
    if starts.size == distinct.size:
        return time
    starts_run = np.zeros(distinct.size, dtype=bool)
    starts_run[starts] = True
    run_of_distinct = np.cumsum(starts_run) - 1
    return distinct[starts][run_of_distinct[position.reshape(time.shape)]]

def check_landmarks(times) -> np.ndarray:
    """Validate landmark times: one or more finite numbers >= 0, as a flat array."""
    try:
        landmarks = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError):
        raise StatisticsError("landmark times must be numbers") from None
    if landmarks.ndim != 1 or landmarks.size == 0:
        raise StatisticsError("give at least one landmark time, as a flat list")
    if not np.isfinite(landmarks).all() or (landmarks < 0).any():
        raise StatisticsError("landmark times must be finite and >= 0")
    return landmarks


def read_only(values) -> np.ndarray:
    """The values as an array that cannot be modified (results are frozen dataclasses)."""
    values = np.asarray(values)
    values.flags.writeable = False
    return values


def check_time_event(time, event) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert survival data.

    Parameters
    ----------
    time : array_like of float
        Follow-up times: finite and >= 0.
    event : array_like of {0, 1} or bool
        Event indicator.

    Returns
    -------
    time : ndarray of float64
    event : ndarray of intp
        Values 0 and 1.

    Raises
    ------
    StatisticsError
        When the input is empty, not one-dimensional, of different lengths, has missing,
        infinite or negative times, or event codes other than 0 and 1.
    """
    time = check_time(time)
    event = check_codes(event, "event", len(time), n_codes=2,
                        meaning="0 (censored) or 1 (event)")
    return time, event


def check_time(time, name: str = "time") -> np.ndarray:
    """Validate follow-up times: a non-empty flat array of finite numbers >= 0."""
    try:
        values = np.asarray(time, dtype=float)
    except (TypeError, ValueError):
        raise StatisticsError(f"{name} must be numeric") from None
    if values.ndim != 1:
        raise StatisticsError(f"{name} must be one-dimensional; got shape {values.shape}")
    if values.size == 0:
        raise StatisticsError("no observations")
    if np.isnan(values).any():
        raise StatisticsError(f"{name} has {int(np.isnan(values).sum())} missing (NaN) values")
    if np.isinf(values).any():
        raise StatisticsError(f"{name} has infinite values")
    if (values < 0).any():
        raise StatisticsError(f"{name} has {int((values < 0).sum())} negative values")
    return values


def check_codes(values, name: str, length: int, *, n_codes: int | None = None,
                meaning: str | None = None) -> np.ndarray:
    """Validate integer codes (event, status, group or strata).

    Parameters
    ----------
    values : array_like of int, bool or integral float
        The codes.
    name : str
        Argument name, for messages.
    length : int
        Required length (that of ``time``).
    n_codes : int, optional
        When given, codes must lie in ``0 .. n_codes - 1``.
    meaning : str, optional
        What the allowed codes mean, for the message.

    Returns
    -------
    ndarray of intp
    """
    codes = np.asarray(values)
    if codes.ndim != 1:
        raise StatisticsError(f"{name} must be one-dimensional; got shape {codes.shape}")
    if codes.size != length:
        raise StatisticsError(
            f"{name} has {codes.size} values but time has {length}; lengths must match")
    if codes.dtype.kind == "b":
        codes = codes.astype(np.intp)
    elif codes.dtype.kind == "f":
        if np.isnan(codes).any():
            raise StatisticsError(f"{name} has missing (NaN) values")
        if np.isinf(codes).any():
            raise StatisticsError(f"{name} has infinite values")
        if (codes != np.floor(codes)).any():
            raise StatisticsError(f"{name} must hold integer codes")
    elif codes.dtype.kind not in "iu":
        raise StatisticsError(f"{name} must hold integer codes, not {codes.dtype} values")
    if codes.size and codes.min() < 0:
        raise StatisticsError(f"{name} codes must be >= 0; found {codes.min():g}")
    if n_codes is not None and codes.size and codes.max() >= n_codes:
        bad = np.unique(codes[codes >= n_codes])[:5]
        raise StatisticsError(
            f"{name} must be coded {meaning}; found {', '.join(f'{b:g}' for b in bad)}")
    return codes.astype(np.intp, copy=False)


def compact_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes present, ascending, and each observation's position among them.

    Parameters
    ----------
    codes : ndarray of intp
        Checked non-negative codes.

    Returns
    -------
    present : ndarray of intp
        Distinct codes, ascending.
    index : ndarray of intp
        ``present[index] == codes``.
    """
    largest = int(codes.max())
    if largest >= codes.size:  # sparse codes: sorting is cheaper than a lookup table
        present, index = np.unique(codes, return_inverse=True)
        return present, index.reshape(codes.shape)
    present = np.flatnonzero(np.bincount(codes, minlength=largest + 1))
    lookup = np.zeros(largest + 1, dtype=np.intp)
    lookup[present] = np.arange(present.size)
    return present, lookup[codes]


def check_counts(counts, length: int, *, entry=None) -> np.ndarray | None:
    """Validate frequencies: how many patients each row (a distinct time x label) stands for.

    Statistics from aggregates (the engine path, :mod:`cohortpress.data.engine`) pass one
    row per distinct time, group and status with its number of patients; every estimator
    here depends on the data only through such counts, so a row with count ``c`` is the
    same as ``c`` identical rows. Delayed entry is per patient and is refused with counts.

    Parameters
    ----------
    counts : array_like of int, or None
        Positive integer counts, one per row; None: every row is one patient.
    length : int
        The number of rows (that of ``time``).
    entry : array_like, optional
        Delayed entry given with the counts (refused).

    Returns
    -------
    ndarray of int64 or None
    """
    if counts is None:
        return None
    if entry is not None:
        raise StatisticsError("delayed entry needs one row per patient, not counts")
    values = np.asarray(counts)
    if values.ndim != 1 or values.size != length:
        raise StatisticsError(f"counts must be one value per row ({length}); got shape "
                              f"{values.shape}")
    if values.dtype.kind not in "iu" or (values.size and values.min() < 1):
        raise StatisticsError("counts must be positive integers")
    return values.astype(np.int64, copy=False)


def total(counts, length: int, mask=None) -> int:
    """Patients in the rows ``mask`` selects (all rows by default): the rows themselves, or
    the sum of their ``counts``."""
    if counts is None:
        return int(length if mask is None else np.count_nonzero(mask))
    return int(np.sum(counts if mask is None else counts[mask]))


def tabulate_by_time(time, labels, n_labels: int, *, timefix: bool = True, counts=None,
                     scale: float | None = None):
    """Count observations by distinct time and label, sorting the data once.

    Parameters
    ----------
    time : ndarray of float
        Checked times.
    labels : ndarray of intp
        A code per observation in ``0 .. n_labels - 1`` (e.g. ``2 * group + event``).
    n_labels : int
        Number of possible labels.
    timefix : bool
        Merge near-identical times first, as :func:`fix_near_ties`.
    counts : ndarray of int64, optional
        Patients per row (:func:`check_counts`); default one each.
    scale : float, optional
        The mean absolute distinct time ``timefix`` measures gaps against; default: that of
        ``time``. A time-ordered piece of a larger table (:mod:`cohortpress.stats.km_stream`)
        passes the whole table's, so that its near-ties merge as the whole table's do.

    Returns
    -------
    times : ndarray of float, shape (T,)
        Distinct times, ascending.
    counts : ndarray of int64, shape (T, n_labels)
        Number of observations with each label at each time.
    """
    # Input already in time order (the engine's tables, the in-memory section's sorted
    # patients) is used as it is: no argsort and no sorted copies of the three arrays.
    order = None if _ascending(time) else np.argsort(time)
    sorted_time = time if order is None else time[order]
    starts_run = np.empty(sorted_time.size, dtype=bool)
    starts_run[0] = True
    np.not_equal(sorted_time[1:], sorted_time[:-1], out=starts_run[1:])
    if timefix:
        distinct_rows = np.flatnonzero(starts_run)
        kept = _near_tie_run_starts(sorted_time[distinct_rows], scale)
        if kept.size < distinct_rows.size:
            starts_run[:] = False
            starts_run[distinct_rows[kept]] = True
        del distinct_rows, kept
    cells = np.cumsum(starts_run)
    cells -= 1
    n_times = int(cells[-1]) + 1
    cells *= n_labels
    cells += labels if order is None else labels[order]
    if counts is None:
        table = np.bincount(cells, minlength=n_times * n_labels)
    else:  # float sums of integers below 2**53 are exact: the same table as row by row
        weights = (counts if order is None else counts[order]).astype(float)
        table = np.bincount(cells, weights=weights, minlength=n_times * n_labels)
        del weights, cells
        table = np.rint(table, out=table).astype(np.int64)
    return sorted_time[starts_run], table.reshape(n_times, n_labels)


def _ascending(values: np.ndarray) -> bool:
    """Whether ``values`` (without NaN) are in ascending order, ties allowed."""
    return values.size < 2 or bool(np.all(values[1:] >= values[:-1]))


def near_tied(gaps: np.ndarray, scale: float) -> np.ndarray:
    """``aeqSurv``'s rule: which gaps between consecutive distinct times tie them -- a gap
    of at most :data:`R_TOLERANCE`, or of at most that times ``scale``, the mean absolute
    distinct time. The one statement of the rule for every estimator that merges times."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (gaps <= R_TOLERANCE) | (gaps / scale <= R_TOLERANCE)


def _near_tie_run_starts(distinct: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Indices of the distinct times that start a run of near-ties (``aeqSurv``'s cuts),
    gaps measured against ``scale`` (default: the mean absolute distinct time)."""
    gaps = np.diff(distinct)
    if gaps.size == 0:
        return np.arange(distinct.size)
    tied = near_tied(gaps, np.mean(np.abs(distinct)) if scale is None else scale)
    return np.flatnonzero(np.concatenate(([True], ~tied)))


def check_entry(entry, time, *, timefix: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Validate entry times against checked exit times; merge near-ties over both.

    Parameters
    ----------
    entry : array_like of float
        Entry times: finite, >= 0 and each before its exit time.
    time : ndarray of float
        Checked exit times.
    timefix : bool
        Merge near-identical times over entry and exit times together, as ``aeqSurv``
        does for ``Surv(entry, exit, event)``.

    Returns
    -------
    entry, time : ndarray of float
        The (fixed) entry and exit times.

    Raises
    ------
    StatisticsError
        When the entry times are invalid, of another length, or not before the exit.
    """
    values = check_time(entry, "entry")
    if values.size != time.size:
        raise StatisticsError(
            f"entry has {values.size} values but time has {time.size}; lengths must match")
    if timefix:
        both = fix_near_ties(np.concatenate((values, time)))
        values, time = both[:values.size], both[values.size:]
    if (values >= time).any():
        raise StatisticsError(f"{int((values >= time).sum())} entry times are not before "
                              "their exit time")
    return values, time


def entered_later(times: np.ndarray, entry: np.ndarray, labels: np.ndarray,
                  n_labels: int) -> np.ndarray:
    """Subjects with each label whose entry is at or after each time (not yet at risk).

    Parameters
    ----------
    times : ndarray of float, shape (T,)
        Distinct times, ascending (from :func:`tabulate_by_time`).
    entry : ndarray of float
        Checked entry times.
    labels : ndarray of intp
        A code per subject in ``0 .. n_labels - 1`` (e.g. its group).
    n_labels : int

    Returns
    -------
    ndarray of int64, shape (T, n_labels)
    """
    later = np.zeros((times.size, n_labels), dtype=np.int64)
    for label in range(n_labels):
        entries = np.sort(entry[labels == label])
        later[:, label] = entries.size - np.searchsorted(entries, times, side="left")
    return later


def at_risk_from_counts(exits: np.ndarray, later: np.ndarray | None = None) -> np.ndarray:
    """Numbers at risk at each time of a counting table (rows ascending in time).

    Those who have not exited before the time (a reverse cumulative sum of ``exits``,
    events and censorings by row), less ``later``, those who have not entered yet
    (:func:`entered_later`; none without delayed entry).
    """
    at_risk = np.cumsum(exits[::-1], axis=0)[::-1]
    return at_risk if later is None else at_risk - later
