"""Counting-process (start, stop] data for the Cox model: delayed entry and long format.

A row observed over ``(start, stop]`` is at risk at time ``t`` when ``start < t <= stop``.
:mod:`.data` sorts rows by decreasing stop time, so "stop >= t" is a prefix of the stratum;
the rows that have not yet entered ("start >= t") are a prefix of the stratum in a second
order, by decreasing start. A risk-set sum is then the first cumulative sum minus the second
(the way survival's ``agreg`` keeps its running sums), and a row's sum over the event times
it is at risk for is a sum over event times ``<= stop`` minus one over times ``<= start``.
This module builds those indices once and applies them; without start times none of it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.event_times import near_tied

__all__ = ["EntryLayout", "entry_layout", "merge_near_ties_pairs", "not_yet_entered_sums",
           "minus_before_entry"]


@dataclass(frozen=True, eq=False)
class EntryLayout:
    """Where each row's start time falls in the stop-time layout of :mod:`.data`.

    Attributes
    ----------
    entry : numpy.ndarray
        Start times of the rows, in the (stop-time) sorted row order.
    rows_by_entry : numpy.ndarray
        Sorted-row positions ordered by stratum (as the rows are) and decreasing start time.
    cut_of_group : numpy.ndarray
        For each time group ``g`` with time ``t_g``, the position in ``rows_by_entry`` of the
        last row of its stratum with start ``>= t_g`` (those rows are not yet at risk), or
        -1 when there is none.
    group_at_entry : numpy.ndarray
        For each sorted row, the first time group of its stratum with time ``<= start``
        (groups run in decreasing time, so it and every later group of the stratum are
        before the row entered), or -1 when there is none.
    """

    entry: np.ndarray
    rows_by_entry: np.ndarray
    cut_of_group: np.ndarray
    group_at_entry: np.ndarray


def merge_near_ties_pairs(entry: np.ndarray, stop: np.ndarray):
    """Merge start and stop times closer than ``sqrt(machine eps)``, as ``aeqSurv`` does.

    survival's rule for ``Surv(start, stop, event)`` pools both columns: a gap ``dy <= tol``
    or ``dy / mean(|y|) <= tol`` between consecutive distinct values ties them to the
    smaller. Returns the merged ``(entry, stop)``.
    """
    distinct = np.unique(np.concatenate((entry, stop)))
    if distinct.size < 2:
        return entry, stop
    tied = near_tied(np.diff(distinct), np.abs(distinct).mean())
    if not tied.any():
        return entry, stop
    cuts = distinct[np.concatenate(([True], ~tied))]
    merge = lambda values: cuts[np.searchsorted(cuts, values, side="right") - 1]  # noqa: E731
    return merge(entry), merge(stop)


def check_intervals(entry: np.ndarray, stop: np.ndarray) -> None:
    """Raise unless every row has a finite start strictly before its stop time."""
    if not np.isfinite(entry).all():
        raise StatisticsError("start (entry) time has missing or non-finite values")
    bad = np.flatnonzero(entry >= stop)
    if bad.size:
        rows = ", ".join(str(i + 1) for i in bad[:5]) + (" ..." if bad.size > 5 else "")
        raise StatisticsError(f"{bad.size} row(s) have a start (entry) time not before "
                              f"their stop time (rows {rows}); each interval must be "
                              "(start, stop] with start < stop")


def entry_layout(sorted_entry: np.ndarray, sorted_time: np.ndarray,
                 stratum_row_start: np.ndarray, group_first_row: np.ndarray,
                 stratum_group_start: np.ndarray) -> EntryLayout:
    """Index the start times against the stop-time layout (one pass per stratum).

    ``sorted_entry`` and ``sorted_time`` are in the row order of :mod:`.data` (stratum, then
    decreasing stop time); ``group_first_row`` and ``stratum_group_start`` describe its
    time groups.
    """
    n = sorted_time.size
    n_groups = group_first_row.size
    row_bounds = np.append(stratum_row_start, n)
    group_bounds = np.append(stratum_group_start, n_groups)
    rows_by_entry = np.empty(n, dtype=np.intp)
    cut_of_group = np.empty(n_groups, dtype=np.intp)
    group_at_entry = np.empty(n, dtype=np.intp)
    for s in range(stratum_row_start.size):
        lo, hi = row_bounds[s], row_bounds[s + 1]
        g_lo, g_hi = group_bounds[s], group_bounds[s + 1]
        by_entry = lo + np.argsort(-sorted_entry[lo:hi], kind="stable")
        rows_by_entry[lo:hi] = by_entry
        # Rows not yet entered at t: start >= t, a prefix of the decreasing starts.
        group_time = sorted_time[group_first_row[g_lo:g_hi]]
        entered_after = np.searchsorted(-sorted_entry[by_entry], -group_time, side="right")
        cut_of_group[g_lo:g_hi] = np.where(entered_after > 0, lo + entered_after - 1, -1)
        # Event times at or before a row's start: groups with time <= start.
        first = np.searchsorted(-group_time, -sorted_entry[lo:hi], side="left")
        group_at_entry[lo:hi] = np.where(first < g_hi - g_lo, g_lo + first, -1)
    return EntryLayout(entry=sorted_entry, rows_by_entry=rows_by_entry,
                       cut_of_group=cut_of_group, group_at_entry=group_at_entry)


def not_yet_entered_sums(layout: EntryLayout, weighted: np.ndarray,
                         stratum_row_start: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sums of ``weighted`` (columns = sorted rows) over the rows of each of ``groups``'
    strata whose start is at or after the group's time; zero where there are none."""
    by_entry = weighted[..., layout.rows_by_entry]
    bounds = np.append(stratum_row_start, by_entry.shape[-1])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        np.cumsum(by_entry[..., lo:hi], axis=-1, out=by_entry[..., lo:hi])
    cut = layout.cut_of_group[groups]
    sums = np.zeros(weighted.shape[:-1] + (groups.size,))
    has = cut >= 0
    sums[..., has] = by_entry[..., cut[has]]
    return sums


def minus_before_entry(layout: EntryLayout, from_here: np.ndarray,
                       per_row: np.ndarray) -> np.ndarray:
    """``per_row`` (a sum over the event times ``<= stop`` of each sorted row, read from
    ``from_here``, the per-group sums over that group and the earlier times of its stratum)
    less the part at times ``<= start``."""
    at = layout.group_at_entry
    has = at >= 0
    per_row = per_row.copy()
    per_row[..., has] -= from_here[..., at[has]]
    return per_row
