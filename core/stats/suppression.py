"""Secondary suppression: hiding enough cells that no hidden count follows from the totals.

A table releases its cells and its margins. When a row shows its total and hides one cell,
the hidden cell is the total minus the others; so more cells must be hidden, or the totals
rounded (rounding alone often leaves a hidden cell a range of values; sometimes it does not).

A table is given here as counts and the sums that tie them (``total = part + part + ...``:
each row, each column, a missing-values row, a grand total), whatever its shape. Each
released count says what a reader knows of the true one: exactly it (shown), an interval
(rounded to ``round_to``: the counts that round to it), or only that it is at least 1 (hidden;
a 0 is always shown, so a hidden count is not 0). :func:`count_ranges` computes, by linear
programming, the smallest and largest value each count can take given all of that; the
sums are network constraints (a two-way table with its margins), whose linear programs have
integer optima, so the bounds are those of the integer problem. :func:`protect` hides, while
some hidden count has a single possible value, the smallest shown non-zero count of a sum
that pins it (a cell, or else the sum's total), as the classic cell-suppression heuristics
do, and checks again. This is written here rather than taken from sdcTable (R) or tau-Argus,
which are not Python packages, and because a report's tables are small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cohortpress.common.disclosure import (DisclosureRule, ReleasedCount, hide,
                                           release_count)

#: The reason logged for a count hidden by secondary suppression.
SECONDARY = "hidden so that a small count in the same row or column cannot be derived"


@dataclass(frozen=True)
class Sum:
    """``counts[total] == sum(counts[parts])``."""

    total: int
    parts: tuple[int, ...]


def known_interval(released: ReleasedCount, rule: DisclosureRule,
                   ceiling: int) -> tuple[int, int]:
    """The true counts a reader cannot tell apart from ``released``.

    Parameters
    ----------
    released : ReleasedCount
        The count as released.
    rule : DisclosureRule
        The rule it was released under.
    ceiling : int
        An upper bound for a hidden count (the table's grand total will do).
    """
    if released.suppressed:
        return 1, max(1, ceiling)
    value = released.value
    if released.action != "rounded" or value == 0:
        return value, value
    half_below = rule.round_to // 2  # counts that round up to value
    half_above = (rule.round_to - 1) // 2  # counts that round down to value
    # the smallest released value also stands for the counts from min_count up to it
    low = rule.min_count if value == _smallest(rule) else max(value - half_below,
                                                             rule.min_count)
    return low, value + half_above


def _smallest(rule: DisclosureRule) -> int:
    return -(-rule.min_count // rule.round_to) * rule.round_to


def count_ranges(released: Sequence[ReleasedCount], sums: Sequence[Sum],
                 rule: DisclosureRule) -> list[tuple[int, int]]:
    """The smallest and largest true value of each count, given what is released.

    Shown counts keep their interval; a hidden count's range comes from the sums.
    """
    from scipy.optimize import linprog

    ceiling = sum(r.value or 0 for r in released) + rule.min_count * len(released)
    bounds = [known_interval(r, rule, ceiling) for r in released]
    if not sums:
        return bounds
    a_eq = np.zeros((len(sums), len(released)))
    for row, s in enumerate(sums):
        a_eq[row, s.total] -= 1.0
        for part in s.parts:
            a_eq[row, part] += 1.0
    b_eq = np.zeros(len(sums))
    ranges = []
    for index, r in enumerate(released):
        if not r.suppressed:
            ranges.append(bounds[index])
            continue
        objective = np.zeros(len(released))
        objective[index] = 1.0
        low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        high = linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if low.status != 0 or high.status != 0:
            raise ValueError("the released counts are inconsistent with their sums")
        ranges.append((int(np.ceil(low.fun - 1e-7)), int(np.floor(-high.fun + 1e-7))))
    return ranges


def protect(counts: Sequence[int], sums: Sequence[Sum], rule: DisclosureRule,
            keep: frozenset[int] = frozenset()) -> list[ReleasedCount]:
    """Release ``counts`` under ``rule`` so that no hidden count follows from ``sums``.

    Parameters
    ----------
    counts : sequence of int
        The true counts: cells and the totals ``sums`` refer to.
    sums : sequence of Sum
        The additive structure a reader knows (rows, columns, totals).
    rule : DisclosureRule
    keep : set of int
        Counts never hidden for another's sake (released elsewhere too, such as a group's
        size in a header).

    Returns
    -------
    list of ReleasedCount
        One per count: the primary release, with further counts hidden (reason
        :data:`SECONDARY`) until every hidden count has at least two possible values.
    """
    released = [release_count(n, rule) for n in counts]
    if not any(r.suppressed for r in released):
        return released
    for _ in range(len(counts)):
        ranges = count_ranges(released, sums, rule)
        exposed = [i for i, r in enumerate(released) if r.suppressed
                   and ranges[i][0] == ranges[i][1]]
        if not exposed:
            return released
        chosen = _next_to_hide(exposed, released, counts, sums, keep)
        if chosen is None and keep:  # only a kept count is left: hide it rather than expose
            chosen = _next_to_hide(exposed, released, counts, sums)
        if chosen is None:
            raise ValueError("no count left to hide")  # every count is hidden already
        released[chosen] = hide(SECONDARY, rule)
    return released


def _next_to_hide(exposed: Sequence[int], released: list[ReleasedCount],
                  counts: Sequence[int], sums: Sequence[Sum],
                  keep: frozenset[int] = frozenset()) -> int | None:
    """The count to hide next, so that the ``exposed`` counts are no longer pinned.

    A sum in which an exposed count is the only hidden one pins it: hide one of that sum's
    other shown non-zero counts, preferring a cell to a total, one that shares a sum with
    another hidden count (which closes a cycle of hidden cells, the pattern no sum can
    resolve), then the smallest. When every exposed count is pinned by a chain of sums
    instead, the same preferences over the sums the first belongs to, then over the table.
    """
    def shown(i: int) -> bool:
        return not released[i].suppressed and counts[i] > 0 and i not in keep

    def members(s: Sum) -> tuple[int, ...]:
        return (*s.parts, s.total)

    totals = {s.total for s in sums}
    hidden = {i for i, r in enumerate(released) if r.suppressed}

    def best(pool_sums: list[Sum], exposed_one: int) -> int | None:
        others = hidden - {exposed_one}

        def key(i: int) -> tuple:
            joins = any(i in members(s) and others & set(members(s)) for s in sums)
            return (i in totals, not joins, counts[i], i)

        pool = {p for s in pool_sums for p in members(s) if p != exposed_one and shown(p)}
        return min(pool, key=key) if pool else None

    for one in exposed:
        alone = [s for s in sums if one in members(s)
                 and not (hidden - {one}) & set(members(s))]
        chosen = best(alone, one)
        if chosen is not None:
            return chosen
    first = exposed[0]
    chosen = best([s for s in sums if first in members(s)], first)
    if chosen is None:
        chosen = best([Sum(first, tuple(range(len(counts))))], first)
    return chosen


def grid_sums(n_rows: int, n_cols: int) -> tuple[list[Sum], int]:
    """The sums of an ``n_rows`` × ``n_cols`` table laid out row by row with a total column
    after each row and a total row at the end (``(n_rows + 1) * (n_cols + 1)`` counts).

    Returns the sums and the number of counts.
    """
    width = n_cols + 1

    def at(i: int, j: int) -> int:
        return i * width + j

    sums = [Sum(at(i, n_cols), tuple(at(i, j) for j in range(n_cols)))
            for i in range(n_rows + 1)]
    sums += [Sum(at(n_rows, j), tuple(at(i, j) for i in range(n_rows)))
             for j in range(n_cols + 1)]
    return sums, (n_rows + 1) * width
