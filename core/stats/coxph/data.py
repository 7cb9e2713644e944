"""Cox model inputs: validation, sorting and the risk-set layout that every fit reuses.

Rows are sorted once by stratum and decreasing time, so every risk set is a prefix of its
stratum; near-equal times are merged as ``coxph(timefix = TRUE)`` does; constant and
collinear covariates are refused with a message naming them. With start times (delayed
entry, or several (start, stop] rows per subject) :mod:`.counting` adds the second order
that removes the rows not yet at risk.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import check_finite_columns, design_matrix
from cohortpress.stats.coxph.counting import (EntryLayout, check_intervals, entry_layout,
                                              merge_near_ties_pairs)
from cohortpress.stats.event_times import near_tied
from cohortpress.stats.linalg import gram_is_well_conditioned, raise_if_collinear

__all__ = ["CoxData", "prepare_cox_data", "kept_columns", "decreasing_time_order",
           "subset_time_order"]


@dataclass(frozen=True, eq=False)
class CoxData:
    """Cox model inputs sorted by stratum and *decreasing* time, with the tie structure.

    Rows are grouped into *time groups*: maximal runs of rows with the same stratum and
    time, events first. Sorting times in decreasing order makes every risk set a prefix of
    its stratum, so risk-set sums are cumulative sums read at the last row of a group, and
    the sums over a group's events are differences of cumulative sums. Covariates are
    stored transposed (one contiguous row per covariate), which makes the passes over the
    data faster.

    Attributes
    ----------
    xt1 : numpy.ndarray, shape (1 + p, n)
        A row of ones, then the covariates minus their column means (as coxph centres
        them), in sorted row order.
    time : numpy.ndarray
        Sorted times, after merging near-equal values.
    event : numpy.ndarray
        Sorted event indicator (bool).
    order : numpy.ndarray
        The sorting permutation of the input rows.
    group_of_row : numpy.ndarray
        Time group of each row.
    group_first_row, group_last_row : numpy.ndarray
        First and last row of each time group; the prefix of the stratum up to the last row
        is the group's risk set.
    stratum_group_start : numpy.ndarray
        First time group of each stratum.
    stratum_row_start : numpy.ndarray
        First row of each stratum.
    event_rows : numpy.ndarray
        Rows that are events, in sorted order.
    event_groups : numpy.ndarray
        The time groups that contain at least one event (``K`` of them).
    deaths : numpy.ndarray
        Number of events ``d_k`` at each of the ``K`` event times.
    event_slot : numpy.ndarray
        For each event, its position ``0..K-1`` in ``event_groups``.
    tied_slots : numpy.ndarray
        The ``T`` event times with more than one event (positions in ``event_groups``).
    tied_run_rows : numpy.ndarray
        The rows of the events at those times, time by time.
    tied_run_slot : numpy.ndarray
        For each of them, its tied time (``0..T-1``).
    tied_run_fraction : numpy.ndarray
        For each of them, ``j / d_k`` with ``j = 0..d_k-1`` its rank among the ``d_k`` events
        of its time; Efron's correction removes that share of the tied risk.
    x_event_sum : numpy.ndarray
        Sum of the centred covariates over the events.
    spread : numpy.ndarray
        Standard deviation of each covariate (within strata, divisor ``n``).
    names : tuple of str
        Column names.
    scratch : numpy.ndarray, shape (1 + p, n)
        Work space reused by every iteration (so a CoxData must not be shared between
        threads).
    entry : EntryLayout or None
        For counting-process data, the start times and where they fall (risk sets are
        then ``start < t <= time``); None when every row is at risk from time 0.
    """

    xt1: np.ndarray
    time: np.ndarray
    event: np.ndarray
    order: np.ndarray
    group_of_row: np.ndarray
    group_first_row: np.ndarray
    group_last_row: np.ndarray
    stratum_group_start: np.ndarray
    stratum_row_start: np.ndarray
    event_rows: np.ndarray
    event_groups: np.ndarray
    deaths: np.ndarray
    event_slot: np.ndarray
    tied_slots: np.ndarray
    tied_run_rows: np.ndarray
    tied_run_slot: np.ndarray
    tied_run_fraction: np.ndarray
    x_event_sum: np.ndarray
    spread: np.ndarray
    names: tuple[str, ...]
    scratch: np.ndarray
    entry: EntryLayout | None = None

    @property
    def xt(self) -> np.ndarray:
        """The centred covariates, shape (p, n)."""
        return self.xt1[1:]

    @property
    def n(self) -> int:
        return self.xt1.shape[1]

    @property
    def n_events(self) -> int:
        return self.event_rows.size

    @property
    def has_tied_events(self) -> bool:
        return self.tied_slots.size > 0


def decreasing_time_order(time, strata=None) -> np.ndarray:
    """The rows' order by stratum and decreasing time (stable among equal times): the sort
    that every model of one endpoint needs, done once and shared through
    :func:`subset_time_order` (the models of a section differ only in their complete cases).
    """
    time = np.asarray(time, dtype=float).ravel()
    if strata is None:
        return np.argsort(-time, kind="stable")
    return np.lexsort((-time, np.asarray(strata).ravel()))


def subset_time_order(order: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``order`` restricted to the rows of the boolean mask ``keep``, as positions among
    the kept rows (an order of all rows stays an order of any subset: O(n), no sort)."""
    position = np.cumsum(keep) - 1
    return position[order[keep[order]]]


def prepare_cox_data(X, time, event, names: Sequence[str], strata=None,
                     entry=None, time_order=None) -> CoxData:
    """Validate Cox model inputs, sort them and precompute the risk-set structure.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Design matrix, already dummy-coded, no intercept.
    time : array_like, shape (n,)
        Follow-up times.
    event : array_like, shape (n,)
        1 for an event, 0 for censored.
    names : sequence of str
        One name per column of ``X``.
    strata : array_like, shape (n,), optional
        Stratum labels (any values); risk sets are formed within strata.
    entry : array_like, shape (n,), optional
        Start times of counting-process rows ``(entry, time]``: a row is at risk at ``t``
        when ``entry < t <= time`` (R's ``Surv(entry, time, event)``).

    Returns
    -------
    CoxData

    Raises
    ------
    StatisticsError
        On missing or non-finite values, an event indicator other than 0/1, no events, a
        covariate that is constant (within every stratum) or columns that are collinear,
        or a start time not before its stop time.
    """
    x, time, event, names = _validated_arrays(X, time, event, names)
    if entry is not None:
        entry = np.asarray(entry, dtype=float).ravel()
        if entry.size != time.size:
            raise StatisticsError(f"entry has {entry.size} values for {time.size} rows")
        check_intervals(entry, time)
        entry, time = merge_near_ties_pairs(entry, time)
        check_intervals(entry, time)
    if not event.any():
        raise StatisticsError("the Cox model needs at least one event; there are none")
    stratum_codes = _stratum_codes(strata, time.size)
    _check_constant_columns(x, stratum_codes, names)
    order, sorted_time = _sort_order(time, event, stratum_codes, merge=entry is None,
                                     presorted=time_order if entry is None else None)
    sorted_strata = None if stratum_codes is None else stratum_codes[order]
    xt1 = np.empty((x.shape[1] + 1, x.shape[0]))
    xt1[0] = 1.0
    xt1[1:] = x.T[:, order]
    # Each covariate is centred on the mean of its own (contiguous) row, so a column gives
    # the same bits whichever other columns are in the model (see kept_columns).
    xt1[1:] -= xt1[1:].mean(axis=1, keepdims=True)
    stratum_changes = (np.zeros(time.size - 1, dtype=bool) if sorted_strata is None
                       else sorted_strata[1:] != sorted_strata[:-1])
    stratum_row_start = _run_starts(stratum_changes)
    gram = _check_collinearity(xt1[1:], stratum_row_start, names)
    spread = np.sqrt(np.diag(gram) / time.size)
    data = _build_layout(xt1, sorted_time, event[order], stratum_changes, stratum_row_start,
                         order, names, spread)
    if entry is None:
        return data
    return replace(data, entry=entry_layout(entry[order], sorted_time, stratum_row_start,
                                            data.group_first_row, data.stratum_group_start))


def _validated_arrays(X, time, event, names):
    x, names = design_matrix(X, names)
    n, p = x.shape
    if len(set(names)) != p:
        raise StatisticsError("design-matrix column names must be unique")
    if p == 0:
        raise StatisticsError("the Cox model needs at least one covariate")
    time = np.asarray(time, dtype=float).ravel()
    event = np.asarray(event, dtype=float).ravel()
    if time.size != n or event.size != n:
        raise StatisticsError(f"time ({time.size}), event ({event.size}) and the design "
                              f"matrix ({n} rows) must have the same length")
    for label, values in (("time", time), ("event", event)):
        if not np.isfinite(values).all():
            raise StatisticsError(f"{label} has missing or non-finite values")
    check_finite_columns(x, names)
    if not ((event == 0.0) | (event == 1.0)).all():
        raise StatisticsError("event must be coded 0 (censored) or 1 (event)")
    return x, time, event == 1.0, names


def _stratum_codes(strata, n: int) -> np.ndarray | None:
    if strata is None:
        return None
    labels = np.asarray(strata).ravel()
    if labels.size != n:
        raise StatisticsError(f"strata has {labels.size} values for {n} rows")
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise StatisticsError("strata has missing values")
    if labels.dtype.kind == "O" and any(label is None for label in labels):
        raise StatisticsError("strata has missing values")
    codes = np.unique(labels, return_inverse=True)[1].ravel()
    return codes if codes.max() > 0 else None


def _sort_order(time: np.ndarray, event: np.ndarray, stratum_codes: np.ndarray | None,
                merge: bool = True, presorted: np.ndarray | None = None):
    """Sort by stratum, decreasing (merged) time, events before censored rows of a time.

    Returns the order and the merged times in that order. Merging near ties maps times
    monotonically, so it keeps the sort; putting events first is then a stable sort of an
    almost sorted key, which costs little. ``merge`` is false when the times were merged
    already (with their start times). ``presorted``, an order by stratum and decreasing
    time given by the caller, replaces the first sort.
    """
    if presorted is not None:
        order = np.asarray(presorted)
        if order.size != time.size:
            raise StatisticsError(f"time_order has {order.size} rows for {time.size}")
    elif stratum_codes is None:
        order = np.argsort(-time)
    else:
        order = np.lexsort((-time, stratum_codes))
    sorted_time = time[order]
    if merge:
        sorted_time = _merge_near_ties(sorted_time, globally_sorted=stratum_codes is None)
    new_group = np.ones(time.size, dtype=bool)
    new_group[1:] = sorted_time[1:] != sorted_time[:-1]
    if stratum_codes is not None:
        sorted_strata = stratum_codes[order]
        new_group[1:] |= sorted_strata[1:] != sorted_strata[:-1]
    key = 2 * np.cumsum(new_group) + ~event[order]
    events_first = np.argsort(key, kind="stable")
    return order[events_first], sorted_time[events_first]


def _merge_near_ties(sorted_time: np.ndarray, globally_sorted: bool) -> np.ndarray:
    """Replace times closer than ``sqrt(machine eps)`` by the smallest of their run.

    The rule of ``survival::aeqSurv`` (coxph's ``timefix``): a gap ``dy <= tol`` or
    ``dy / mean(|y|) <= tol`` between consecutive distinct times ``y`` ties them.
    ``sorted_time`` is in decreasing order, within strata unless ``globally_sorted``.
    """
    if globally_sorted:
        changes = np.concatenate(([True], sorted_time[1:] != sorted_time[:-1]))
        distinct = sorted_time[changes][::-1]
    else:
        distinct = np.unique(sorted_time)
    if distinct.size < 2:
        return sorted_time
    tied = near_tied(np.diff(distinct), np.abs(distinct).mean())
    if not tied.any():
        return sorted_time
    cuts = distinct[np.concatenate(([True], ~tied))]
    return cuts[np.searchsorted(cuts, sorted_time, side="right") - 1]


def _check_constant_columns(x: np.ndarray, stratum_codes: np.ndarray | None,
                            names: tuple[str, ...]) -> None:
    """Raise if a column is constant (within every stratum: only variation within strata
    informs a stratified Cox model)."""
    if stratum_codes is None:
        constant = x.max(axis=0) == x.min(axis=0)
    else:
        constant = np.ones(x.shape[1], dtype=bool)
        for code in range(stratum_codes.max() + 1):
            rows = x[stratum_codes == code]
            constant &= rows.max(axis=0) == rows.min(axis=0)
    if constant.any():
        where = "within every stratum" if stratum_codes is not None else "in the data used"
        raise StatisticsError(
            "covariate(s) " + ", ".join(f"'{names[j]}'" for j in np.flatnonzero(constant))
            + f" constant {where}; the Cox model cannot estimate their effect")


def _check_collinearity(centred_xt: np.ndarray, stratum_row_start: np.ndarray,
                        names: tuple[str, ...]) -> np.ndarray:
    """Raise if covariates are collinear within strata; return their within-strata Gram matrix.

    ``centred_xt`` holds the sorted, globally centred covariates, one per row; each stratum
    is a contiguous block of columns.
    """
    if stratum_row_start.size == 1:
        gram = centred_xt @ centred_xt.T
    else:
        blocks = _within_strata_blocks(centred_xt, stratum_row_start)
        gram = sum(block @ block.T for block in blocks)
    if not gram_is_well_conditioned(gram):
        columns = (centred_xt if stratum_row_start.size == 1
                   else np.hstack(list(_within_strata_blocks(centred_xt, stratum_row_start))))
        raise_if_collinear(columns.T, names, gram)
    return gram


def _within_strata_blocks(xt: np.ndarray, stratum_row_start: np.ndarray):
    bounds = np.append(stratum_row_start, xt.shape[1])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        block = xt[:, lo:hi]
        yield block - block.mean(axis=1, keepdims=True)


def _run_starts(changes: np.ndarray) -> np.ndarray:
    """Positions where a new run starts, given ``changes[i]`` = "i differs from i-1"."""
    return np.flatnonzero(np.concatenate(([True], changes)))


def _build_layout(xt1, time, event, stratum_changes, stratum_row_start, order, names,
                  spread) -> CoxData:
    n = time.size
    group_starts = _run_starts((time[1:] != time[:-1]) | stratum_changes)
    group_sizes = np.diff(np.append(group_starts, n))
    group_of_row = np.repeat(np.arange(group_starts.size), group_sizes)

    event_rows = np.flatnonzero(event)
    group_of_event = group_of_row[event_rows]
    run_start = _run_starts(group_of_event[1:] != group_of_event[:-1])
    deaths = np.diff(np.append(run_start, event_rows.size))
    event_slot = np.repeat(np.arange(run_start.size), deaths)
    tied_slots = np.flatnonzero(deaths > 1)
    tied_deaths = deaths[tied_slots]
    in_tied_run = np.repeat(deaths > 1, deaths)
    tied_run_slot = np.repeat(np.arange(tied_slots.size), tied_deaths)
    rank_in_run = np.arange(tied_run_slot.size) - np.repeat(
        np.cumsum(tied_deaths) - tied_deaths, tied_deaths)
    return CoxData(
        xt1=xt1, time=time, event=event, order=order, group_of_row=group_of_row,
        group_first_row=group_starts, group_last_row=group_starts + group_sizes - 1,
        stratum_group_start=group_of_row[stratum_row_start],
        stratum_row_start=stratum_row_start,
        event_rows=event_rows, event_groups=group_of_event[run_start], deaths=deaths,
        event_slot=event_slot, tied_slots=tied_slots,
        tied_run_rows=event_rows[in_tied_run], tied_run_slot=tied_run_slot,
        tied_run_fraction=rank_in_run / tied_deaths[tied_run_slot],
        x_event_sum=xt1[1:, event_rows].sum(axis=1), spread=spread,
        names=names, scratch=np.empty_like(xt1))



def kept_columns(data: CoxData, keep: Sequence[int]) -> CoxData:
    """``data`` with covariates ``keep`` only (a sub-model on the same rows)."""
    xt1 = data.xt1[[0, *(1 + j for j in keep)]]
    names = tuple(data.names[j] for j in keep)
    gram = _check_collinearity(xt1[1:], data.stratum_row_start, names)
    return replace(data, xt1=xt1, names=names, x_event_sum=xt1[1:, data.event_rows].sum(axis=1),
                   spread=np.sqrt(np.diag(gram) / data.n), scratch=np.empty_like(xt1))


