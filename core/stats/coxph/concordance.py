"""Harrell's concordance of a Cox model with its infinitesimal-jackknife standard error.

As ``survival::concordance(fit)`` (survival >= 3): a pair of rows of one stratum is
comparable when the one with the shorter time has an event (a censored time equal to an
event time counts as longer; two events at one time are not comparable); it is concordant
when that row has the larger linear predictor, discordant when the smaller, tied when they
are equal (counting one half). The standard error is the infinitesimal jackknife of
Somers' ``d = 2C - 1``, with the rows of a cluster summed. The pairs are counted with a
Fenwick tree over the ranks of the linear predictor, ``O(n log n)``. For counting-process
data ``(start, stop]`` an event is compared with the rows at risk at its time (start before
it), as survival's ``concordance`` does for ``Surv(start, stop, event)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cohortpress.common.errors import StatisticsError

__all__ = ["Concordance", "concordance"]


@dataclass(frozen=True)
class Concordance:
    """Harrell's C and the pair counts behind it.

    Attributes
    ----------
    concordance : float
        ``(concordant + tied / 2) / (concordant + discordant + tied)``.
    std_error : float
        ``sqrt(sum_i dC_i^2)``, ``dC_i`` the infinitesimal-jackknife influence of row ``i``
        (or of cluster ``i``).
    concordant, discordant, tied_x : int
        Comparable pairs by their order in the linear predictor (``tied_x``: equal).
    """

    concordance: float
    std_error: float
    concordant: int
    discordant: int
    tied_x: int


def concordance(time, event, risk, strata=None, cluster=None, entry=None) -> Concordance:
    """Harrell's concordance of ``risk`` (a higher value predicting an earlier event).

    Parameters
    ----------
    time, event : array_like, shape (n,)
        Follow-up times and 0/1 event indicators.
    risk : array_like, shape (n,)
        The linear predictor of the model.
    strata : array_like, optional
        Only rows of one stratum are compared.
    cluster : array_like, optional
        Rows of a cluster have their influences summed before squaring.
    entry : array_like, optional
        Start times of counting-process rows: a row is compared with the events in
        ``(entry, time]`` only.

    Returns
    -------
    Concordance
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    risk = np.asarray(risk, dtype=float)
    n = time.size
    strata = np.zeros(n, dtype=int) if strata is None else np.unique(
        np.asarray(strata), return_inverse=True)[1]
    if entry is not None:
        entry = np.asarray(entry, dtype=float)
    influence = np.zeros((n, 3))  # concordant, discordant, tied_x pairs of each row
    for stratum in np.unique(strata):
        rows = np.flatnonzero(strata == stratum)
        if entry is None:
            _count_stratum(time[rows], event[rows], risk[rows], rows, influence)
        else:
            _count_stratum_counting(entry[rows], time[rows], event[rows], risk[rows], rows,
                                    influence)
    # Every pair was counted once for each of its two rows.
    concordant, discordant, tied = influence.sum(axis=0) / 2.0
    pairs = concordant + discordant + tied
    if pairs == 0:
        raise StatisticsError("no comparable pair of patients: the concordance is undefined")
    somers = (concordant - discordant) / pairs
    dfbeta = ((influence[:, 0] - influence[:, 1]) - somers * influence.sum(axis=1)) / pairs
    if cluster is not None:
        _, codes = np.unique(np.asarray(cluster), return_inverse=True)
        dfbeta = np.bincount(codes, weights=dfbeta)
    std_error = math.sqrt(float(np.sum(dfbeta ** 2)) / 4.0)
    return Concordance((somers + 1.0) / 2.0, std_error, int(concordant), int(discordant),
                       int(tied))


class _Counts:
    """A Fenwick tree of how many values of each rank have been added so far."""

    def __init__(self, size: int):
        self.tree = [0] * (size + 1)
        self.added = 0

    def add(self, rank: int, count: int = 1) -> None:
        self.added += count
        tree = self.tree
        while rank < len(tree):
            tree[rank] += count
            rank += rank & -rank

    def up_to(self, rank: int) -> int:
        """How many added values have rank <= ``rank``."""
        total, tree = 0, self.tree
        while rank > 0:
            total += tree[rank]
            rank -= rank & -rank
        return total

    def below_equal_above(self, rank: int) -> tuple[int, int, int]:
        below = self.up_to(rank - 1)
        equal = self.up_to(rank) - below
        return below, equal, self.added - below - equal


def _count_stratum(time, event, risk, rows, influence) -> None:
    """Add each row's concordant, discordant and tied pairs within one stratum.

    Two sweeps over the distinct times with a Fenwick tree of the risk ranks: from the
    longest time down, each event meets the rows that outlive it (censored rows at its
    own time included); from the shortest up, each row meets the events before it.
    """
    ranks = np.unique(risk, return_inverse=True)[1] + 1
    order = np.lexsort((~event, time))  # increasing time; events first at a tie
    sorted_time = time[order]
    starts = np.flatnonzero(np.r_[True, sorted_time[1:] != sorted_time[:-1]])
    ends = np.r_[starts[1:], sorted_time.size]
    slices = [(order[a:b][event[order[a:b]]].tolist(), order[a:b][~event[order[a:b]]].tolist())
              for a, b in zip(starts, ends)]
    rank_of = ranks.tolist()
    concordant, discordant, tied = ([0] * time.size for _ in range(3))
    later = _Counts(int(ranks.max()))
    for dying, censored in reversed(slices):
        for j in censored:
            later.add(rank_of[j])
        for i in dying:
            below, equal, above = later.below_equal_above(rank_of[i])
            concordant[i] += below
            discordant[i] += above
            tied[i] += equal
        for i in dying:
            later.add(rank_of[i])
    earlier = _Counts(int(ranks.max()))
    for dying, censored in slices:
        for group in (dying, None, censored):
            if group is None:
                for i in dying:
                    earlier.add(rank_of[i])
                continue
            for j in group:
                below, equal, above = earlier.below_equal_above(rank_of[j])
                concordant[j] += above
                discordant[j] += below
                tied[j] += equal
    counts = np.column_stack([concordant, discordant, tied]).astype(float)
    influence[rows] += counts


def _count_stratum_counting(start, stop, event, risk, rows, influence) -> None:
    """Add each row's concordant, discordant and tied pairs for ``(start, stop]`` rows.

    An event at ``t`` meets the rows at risk just after it: ``start < t`` and ``stop > t``,
    or ``stop = t`` and censored. A row therefore meets the events at times in
    ``(start, stop)``, plus those at ``stop`` when it is censored. The first sweep runs
    down the times with a tree of the rows at risk (added at their stop, removed once an
    event time reaches their start); the second runs up the event times with a tree of the
    events, and a row's pairs are the tree at its stop less the tree at its start.
    """
    ranks = (np.unique(risk, return_inverse=True)[1] + 1).tolist()
    size = max(ranks)
    concordant, discordant, tied = ([0] * stop.size for _ in range(3))
    at_risk = _Counts(size)
    by_start = np.argsort(-start, kind="stable").tolist()
    start_list, next_out = start.tolist(), 0
    times = np.unique(stop)[::-1]
    slices = _rows_by_time(stop, event)
    for t in times.tolist():
        dying, censored = slices[t]
        for j in censored:
            at_risk.add(ranks[j])
        if dying:
            while next_out < len(by_start) and start_list[by_start[next_out]] >= t:
                at_risk.add(ranks[by_start[next_out]], -1)
                next_out += 1
            for i in dying:
                below, equal, above = at_risk.below_equal_above(ranks[i])
                concordant[i] += below
                discordant[i] += above
                tied[i] += equal
            for i in dying:
                at_risk.add(ranks[i])
    # Queries on the tree of events: (time, order, row, sign); order 0 = before the events
    # of that time are added, 2 = after them.
    queries = [(s, 2, j, -1) for j, s in enumerate(start_list)]
    queries += [(t, 0 if e else 2, j, 1) for j, (t, e) in enumerate(zip(stop.tolist(),
                                                                       event.tolist()))]
    queries.sort()
    events = sorted((t, i) for i, t in enumerate(stop.tolist()) if event[i])
    tree, k = _Counts(size), 0
    for t, order, j, sign in queries:
        while k < len(events) and (events[k][0] < t or (order == 2 and events[k][0] == t)):
            tree.add(ranks[events[k][1]])
            k += 1
        below, equal, above = tree.below_equal_above(ranks[j])
        concordant[j] += sign * above
        discordant[j] += sign * below
        tied[j] += sign * equal
    influence[rows] += np.column_stack([concordant, discordant, tied]).astype(float)


def _rows_by_time(stop, event) -> dict:
    """For each distinct time, the rows that have an event there and those censored."""
    slices: dict = {}
    for j, (t, e) in enumerate(zip(stop.tolist(), event.tolist())):
        dying, censored = slices.setdefault(t, ([], []))
        (dying if e else censored).append(j)
    return slices
