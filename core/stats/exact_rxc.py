"""Fisher's exact test for an r x c table, computed exactly by a network algorithm.

The two-sided p-value sums the probabilities of all tables with the observed margins whose
log-probability is at most the observed one plus ``3.45254e-7`` (R's FEXACT tolerance).
The network algorithm (Mehta & Patel, 1983) fills columns in one at a time; a node is the
sorted vector of row margins still to fill, so partial tables that agree on it share their
completions, and partial tables at one node with the same probability so far are merged.
For each node reached, bounds on the largest and smallest probability of any completion,
and the total probability of all completions (closed form), settle most partial tables at
once: all completions count, none count, or the node is expanded further. With two columns
left the bounds are exact, and the last step is a sorted look-up instead of an expansion.
Work is counted, and the computation stops when a limit is reached
(:class:`ExactTestTooCostly`), leaving the caller to fall back to
:func:`cohortpress.stats.exact.fisher_monte_carlo`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult
from cohortpress.stats.exact import (FISHER_METHOD, as_contingency_table, log_factorial,
                                      log_factorials)

__all__ = ["LOG_TOLERANCE_RXC", "DEFAULT_MAX_STEPS", "ExactTestTooCostly", "fisher_exact_rxc"]

LOG_TOLERANCE_RXC = 3.45254e-7
"""R ``fisher.test`` (r x c, FEXACT ``tol``): tables with ``log P <= log P_obs + tol`` count."""

DEFAULT_MAX_STEPS = 10_000_000
"""Default work limit of the exact r x c algorithm (at most about 1 s and 300 MB)."""

_MERGE_TOLERANCE = 1e-9
"""Partial log-probabilities closer than this at one node are treated as one (rounding only)."""

_CHUNK_ARCS = 1 << 20
"""Arcs followed per vectorised block, to bound memory."""


class ExactTestTooCostly(StatisticsError):
    """The exact r x c computation would exceed its work limit.

    Parameters
    ----------
    message : str
        One-line explanation.
    limit : int
        The work limit, in elementary steps, that would have been exceeded.
    """

    def __init__(self, message: str, limit: int):
        super().__init__(message)
        self.limit = limit

# --------------------------------------------------------------------------------------------
# r x c, exact: network algorithm


class _WorkBudget:
    """Counts elementary steps (arcs, transitions, look-ups) and stops beyond a limit."""

    def __init__(self, limit: int):
        self.limit = int(limit)
        self.used = 0

    def spend(self, steps: int) -> None:
        self.used += int(steps)
        if self.used > self.limit:
            raise ExactTestTooCostly(
                f"the exact Fisher test needs more than {self.limit:,} network steps", self.limit)


def _positions_within_groups(group_sizes: np.ndarray) -> np.ndarray:
    """``0, 1, ..., size - 1`` for each group in turn, concatenated."""
    starts = np.cumsum(group_sizes) - group_sizes
    return np.arange(int(group_sizes.sum())) - np.repeat(starts, group_sizes)


def _bounded_compositions(total: int, upper: np.ndarray,
                          budget: _WorkBudget) -> tuple[np.ndarray, np.ndarray]:
    """All vectors ``x`` with ``sum(x) = total`` and ``0 <= x <= upper[i]``, for every row ``i``.

    Built one position at a time; each partial vector kept can still be completed, so no
    intermediate array is larger than the result, and the budget is charged before each one.

    Returns
    -------
    owner : ndarray, shape (E,)
        Row of ``upper`` each vector belongs to (non-decreasing).
    parts : ndarray, shape (E, r)
        The vectors.
    """
    n_owners, width = upper.shape
    capacity_from = np.cumsum(upper[:, ::-1], axis=1)[:, ::-1]
    owner = np.arange(n_owners)
    remaining = np.full(n_owners, total, dtype=np.int64)
    parts: list[np.ndarray] = []
    for position in range(width - 1):
        low = np.maximum(0, remaining - capacity_from[owner, position + 1])
        high = np.minimum(upper[owner, position], remaining)
        n_choices = high - low + 1
        budget.spend(int(n_choices.sum()))
        source = np.repeat(np.arange(len(owner)), n_choices)
        value = low[source] + _positions_within_groups(n_choices)
        owner = owner[source]
        remaining = remaining[source] - value
        parts = [part[source] for part in parts] + [value]
    parts.append(remaining)
    return owner, np.column_stack(parts)


def _sort_rows(states: np.ndarray) -> np.ndarray:
    """Each row sorted ascending, by column-wise compare-exchange (fast for few columns)."""
    columns = [states[:, j] for j in range(states.shape[1])]
    for end in range(len(columns) - 1, 0, -1):
        for j in range(end):
            columns[j], columns[j + 1] = (np.minimum(columns[j], columns[j + 1]),
                                          np.maximum(columns[j], columns[j + 1]))
    return np.column_stack(columns)


def _index_nodes(states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``states`` (in key order) and, for each row, its distinct row's index."""
    width = states.shape[1]
    base = int(states.max()) + 1
    n_keys = base ** width
    if n_keys >= 2 ** 62:
        distinct, inverse = np.unique(states, axis=0, return_inverse=True)
        return distinct, inverse.ravel()
    keys = np.zeros(len(states), dtype=np.int64)
    for column in range(width):
        keys = keys * base + states[:, column]
    if n_keys > 4 * len(keys) + 1024:
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        return states[first], inverse.ravel()
    present = np.zeros(n_keys, dtype=bool)
    present[keys] = True
    distinct_keys = np.flatnonzero(present)
    rank = np.cumsum(present) - 1
    digits = []
    for _ in range(width):
        distinct_keys, digit = np.divmod(distinct_keys, base)
        digits.append(digit)
    return np.column_stack(digits[::-1]), rank[keys]


# --------------------------------------------------------------------------------------------
# Bounds on the completions of a node. A node is a vector ``r`` of remaining row margins
# (all nodes of one stage share the remaining column margins ``c``). Its completions are the
# tables with margins ``r`` and ``c``; their score is ``-sum(log x!)``. An upper bound on the
# largest score ("longest path") and a lower bound on the smallest ("shortest path") decide
# whether all, none or some of the completions are at most as probable as the observed table.
# With two columns left both are exact; with more, valid bounds computed in closed form.

_BOUND_SLACK = 1e-9
"""Added to bounds computed by long sums, so that rounding cannot make them invalid."""

_MAX_ROWS_EXACT_SHORTEST = 12


def _two_column_longest(nodes: np.ndarray, first_total: int, log_factorial: np.ndarray,
                        budget: _WorkBudget) -> np.ndarray:
    """Largest score over the two-column completions of each node, exactly.

    With ``x_i`` in the first column, the score ``sum_i h_i(x_i)``,
    ``h_i(x) = -log x! - log (r_i - x)!``, is separable and concave, so under
    ``sum x_i = first_total`` the greedy allocation is optimal: the maximum is
    ``sum_i h_i(0)`` plus the ``first_total`` largest gains
    ``h_i(x + 1) - h_i(x) = log(r_i - x) - log(x + 1)``, ``x = 0..r_i - 1``.
    """
    n_nodes = len(nodes)
    n_left = int(nodes[0].sum())
    at_zero = -log_factorial[nodes].sum(axis=1)
    if first_total in (0, n_left):
        return at_zero
    budget.spend(n_nodes * n_left)
    sizes = nodes.ravel()
    step = _positions_within_groups(sizes)
    gains = (np.log(np.repeat(sizes, sizes) - step) - np.log1p(step)).reshape(n_nodes, n_left)
    largest = np.partition(gains, n_left - first_total, axis=1)[:, n_left - first_total:]
    return at_zero + largest.sum(axis=1) + _BOUND_SLACK


def _two_column_shortest(nodes: np.ndarray, first_total: int, second_total: int,
                         log_factorial: np.ndarray, budget: _WorkBudget) -> np.ndarray:
    """Smallest score over the two-column completions of each node.

    The score is concave on the polytope ``{sum x_i = first_total, 0 <= x_i <= r_i}``, so its
    minimum is at a vertex: rows in a set ``S`` wholly in the first column, one row ``j``
    split, the rest wholly in the second. Relative to ``-sum_i log r_i!`` such a vertex costs
    ``log C(r_j, first_total - r(S))``. Beyond ``_MAX_ROWS_EXACT_SHORTEST`` rows, the general
    lower bound is used instead.
    """
    n_nodes, width = nodes.shape
    if width > _MAX_ROWS_EXACT_SHORTEST:
        return _shortest_lower_bound(nodes, np.array([first_total, second_total]), log_factorial)
    budget.spend(n_nodes * (2 ** width) * width)
    in_first = ((np.arange(2 ** width)[:, None] >> np.arange(width)) & 1).astype(bool)
    split_amount = first_total - nodes @ in_first.T.astype(np.int64)
    cost = np.where(split_amount == 0, 0.0, np.inf)
    for row in range(width):
        row_total = nodes[:, row:row + 1]
        feasible = ~in_first[:, row] & (split_amount >= 0) & (split_amount <= row_total)
        amount = np.where(feasible, split_amount, 0)
        split_cost = (log_factorial[row_total] - log_factorial[amount]
                      - log_factorial[row_total - amount])
        cost = np.minimum(cost, np.where(feasible, split_cost, np.inf))
    return -log_factorial[nodes].sum(axis=1) + cost.min(axis=1) - _BOUND_SLACK


def _longest_upper_bound(nodes: np.ndarray, columns: np.ndarray,
                         log_factorial: np.ndarray) -> np.ndarray:
    """Upper bound on the largest score of each node's completions (Lagrangian dual).

    For any multipliers, ``max sum -log x_ij!`` under the margin constraints is at most
    ``sum_ij max_{x >= 0} (x log mu_ij - log x!) + n log n - sum r log r - sum c log c`` with
    ``mu_ij = r_i c_j / n``; each cell's maximum is at ``x = floor(mu_ij)``. The bound is
    exact when every ``mu_ij`` is whole, and within a few units otherwise.
    """
    n_left = nodes[0].sum()
    mu = nodes[:, :, None] * columns[None, None, :] / n_left
    mode = np.floor(mu).astype(np.int64)
    cell = xlogy(mode, mu) - log_factorial[mode]
    constant = xlogy(n_left, n_left) - xlogy(columns, columns).sum()
    return cell.sum(axis=(1, 2)) - xlogy(nodes, nodes).sum(axis=1) + constant + _BOUND_SLACK


def _greedy_log_factorial_sum(amount: np.ndarray, caps_descending: np.ndarray,
                              log_factorial: np.ndarray) -> np.ndarray:
    """``max sum_j log x_j!`` under ``sum_j x_j = amount``, ``0 <= x_j <= caps``, per row.

    Filling the largest caps first is optimal: its vector of cell counts majorizes every other
    feasible one, and ``sum log x!`` is Schur-convex. ``caps_descending`` has one row of caps
    per row of ``amount`` (shape ``(m, k)`` against ``(m, q)``).
    """
    filled_before = np.cumsum(caps_descending, axis=1)
    filled_log = np.cumsum(log_factorial[caps_descending], axis=1)
    n_full = (filled_before[:, None, :] <= amount[:, :, None]).sum(axis=2)
    previous = np.maximum(n_full - 1, 0)
    rows = np.arange(len(amount))[:, None]
    full_total = np.where(n_full > 0, filled_before[rows, previous], 0)
    full_log = np.where(n_full > 0, filled_log[rows, previous], 0.0)
    return full_log + log_factorial[amount - full_total]


def _shortest_lower_bound(nodes: np.ndarray, columns: np.ndarray,
                          log_factorial: np.ndarray) -> np.ndarray:
    """Lower bound on the smallest score of each node's completions.

    Two relaxations, each solved exactly by :func:`_greedy_log_factorial_sum`: keep only the
    row sums (with the column totals as caps on the cells), or only the column sums (with the
    row totals as caps). Either gives ``min sum -log x! >= -sum max(...)``; the larger is kept.
    """
    n_nodes = len(nodes)
    column_caps = np.tile(np.sort(columns)[::-1], (n_nodes, 1))
    by_rows = -_greedy_log_factorial_sum(nodes, column_caps, log_factorial).sum(axis=1)
    column_totals = np.tile(columns, (n_nodes, 1))
    by_columns = -_greedy_log_factorial_sum(column_totals, nodes[:, ::-1],
                                            log_factorial).sum(axis=1)
    return np.maximum(by_rows, by_columns) - _BOUND_SLACK


def _completion_summary(nodes: np.ndarray, columns: np.ndarray, log_factorial: np.ndarray,
                        budget: _WorkBudget) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(longest, shortest, log_total)`` of each node with remaining column margins ``columns``.

    ``log_total = log(n!) - sum_i log(r_i!) - sum_j log(c_j!)`` is the log of the sum of
    ``prod 1/x!`` over all completions (their hypergeometric probabilities sum to one).
    """
    log_total = (log_factorial[nodes.sum(axis=1)] - log_factorial[nodes].sum(axis=1)
                 - log_factorial[columns].sum())
    if len(columns) == 2:
        first, second = (int(total) for total in columns)
        return (_two_column_longest(nodes, first, log_factorial, budget),
                _two_column_shortest(nodes, first, second, log_factorial, budget), log_total)
    budget.spend(nodes.size * len(columns))
    return (_longest_upper_bound(nodes, columns, log_factorial),
            _shortest_lower_bound(nodes, columns, log_factorial), log_total)


# --------------------------------------------------------------------------------------------
# The frontier: partial tables, grouped by node and by score so far.


class _Frontier:
    """Partial tables after some columns, as ``(node, past, weight)`` entries.

    Attributes
    ----------
    nodes : ndarray, shape (m, r)
        Distinct nodes (sorted remaining row margins) that the entries reach.
    node : ndarray of int
        Each entry's node, an index into ``nodes``.
    past : ndarray of float
        Each entry's score so far, ``-sum(log x!)`` over the filled columns.
    weight : ndarray of float
        How many partial tables the entry stands for.
    """

    def __init__(self, nodes, node, past, weight):
        self.nodes, self.node, self.past, self.weight = nodes, node, past, weight

    def merged(self) -> "_Frontier":
        """Entries at the same node with the same past score (up to rounding) combined."""
        order = np.lexsort((self.past, self.node))
        node, past, weight = self.node[order], self.past[order], self.weight[order]
        starts_group = np.ones(len(node), dtype=bool)
        starts_group[1:] = (node[1:] != node[:-1]) | (np.diff(past) > _MERGE_TOLERANCE)
        starts = np.flatnonzero(starts_group)
        return _Frontier(self.nodes, node[starts], past[starts], np.add.reduceat(weight, starts))


def _arc_chunks(n_arcs: np.ndarray) -> list[np.ndarray]:
    """Entry indices split into blocks of about ``_CHUNK_ARCS`` arcs at most."""
    block = np.cumsum(n_arcs) // _CHUNK_ARCS
    return np.split(np.arange(len(n_arcs)), np.flatnonzero(np.diff(block)) + 1)


def _advance(frontier: _Frontier, column_total: int, columns_after: np.ndarray,
             threshold: float, log_norm: float, log_factorial: np.ndarray,
             budget: _WorkBudget) -> tuple[float, _Frontier]:
    """Fill in one more column; return the probability settled and the new frontier.

    Arcs are generated for the frontier's nodes only. A partial table with score ``past``
    reaching a child is settled when ``past + longest <= threshold`` (every completion counts:
    it adds ``weight * exp(log_norm + past + log_total)``) or when ``past + shortest >
    threshold`` (none counts); otherwise it joins the new frontier.
    """
    owner, column = _bounded_compositions(column_total, frontier.nodes, budget)
    children, arc_child = _index_nodes(_sort_rows(frontier.nodes[owner] - column))
    arc_score = -log_factorial[column].sum(axis=1)
    longest, shortest, log_total = _completion_summary(children, columns_after, log_factorial,
                                                       budget)
    arc_offsets = np.concatenate(([0], np.cumsum(np.bincount(owner,
                                                             minlength=len(frontier.nodes)))))
    first_arc = arc_offsets[frontier.node]
    n_arcs = arc_offsets[frontier.node + 1] - first_arc
    budget.spend(int(n_arcs.sum()))
    settled = 0.0
    kept = []
    for chunk in _arc_chunks(n_arcs):
        source = np.repeat(chunk, n_arcs[chunk])
        arc = np.repeat(first_arc[chunk], n_arcs[chunk]) + _positions_within_groups(n_arcs[chunk])
        child = arc_child[arc]
        past = frontier.past[source] + arc_score[arc]
        weight = frontier.weight[source]
        all_count = past + longest[child] <= threshold
        settled += float(np.sum(weight[all_count] * np.exp(
            log_norm + past[all_count] + log_total[child[all_count]])))
        undecided = ~all_count & (past + shortest[child] <= threshold)
        kept.append((child[undecided], past[undecided], weight[undecided]))
    child, past, weight = (np.concatenate(parts) for parts in zip(*kept))
    reached, node = np.unique(child, return_inverse=True)
    return settled, _Frontier(children[reached], node.ravel(), past, weight)


def _count_at_most(sorted_rows: np.ndarray, row: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Number of entries ``<= query[k]`` in ``sorted_rows[row[k]]``, for every ``k``.

    Rows are sorted ascending (padded with ``inf``); a branchless binary search runs on all
    queries at once, in ``log2(width)`` vectorised steps.
    """
    width = sorted_rows.shape[1]
    count = np.zeros(len(query), dtype=np.int64)
    step = 1 << (width.bit_length() - 1)
    while step:
        candidate = count + step
        probe = sorted_rows[row, np.minimum(candidate, width) - 1]
        count = np.where((candidate <= width) & (probe <= query), candidate, count)
        step >>= 1
    return count


def _sum_pairs_at_most(sorted_side, query_side, n_groups: int, limit: float, log_offset: float,
                       budget: _WorkBudget) -> float:
    """Sum of ``w_s w_q exp(log_offset + v_s + v_q)`` over same-group pairs with
    ``v_s + v_q <= limit``.

    Each side is ``(group, value, weight)``. The first side is sorted by value within groups,
    laid out one group per row, and accumulated as ``w exp(v - max_group v)``, smallest first
    (one row per group keeps tiny partial sums exact); each query then needs one binary search.
    """
    group, value, weight = sorted_side
    order = np.lexsort((value, group))
    group, value, weight = group[order], value[order], weight[order]
    sizes = np.bincount(group, minlength=n_groups)
    width = int(sizes.max())
    query_group, query_value, query_weight = query_side
    budget.spend(n_groups * width + len(query_value) * width.bit_length())
    slot = (group, _positions_within_groups(sizes))
    padded_values = np.full((n_groups, width), np.inf)
    padded_values[slot] = value
    group_max = np.full(n_groups, -np.inf)
    group_max[sizes > 0] = value[(np.cumsum(sizes) - 1)[sizes > 0]]
    cumulative = np.zeros((n_groups, width))
    cumulative[slot] = weight * np.exp(value - group_max[group])
    np.cumsum(cumulative, axis=1, out=cumulative)
    count = _count_at_most(padded_values, query_group, limit - query_value)
    mass = np.where(count > 0, cumulative[query_group, np.maximum(count - 1, 0)], 0.0)
    with np.errstate(under="ignore"):
        scale = np.exp(log_offset + query_value + group_max[query_group])
    return float(np.sum(query_weight * mass * scale))


def _settle_last_two_columns(frontier: _Frontier, first_total: int, threshold: float,
                             log_norm: float, log_factorial: np.ndarray,
                             budget: _WorkBudget) -> float:
    """Probability of the counted completions of frontier entries with two columns left.

    A completion is then fixed by its next column, so the counted pairs (entry, completion)
    are those of one node with ``past + score <= threshold``; the side with fewer values per
    node is sorted and the other searched in it (:func:`_sum_pairs_at_most`).
    """
    owner, column = _bounded_compositions(first_total, frontier.nodes, budget)
    score = -(log_factorial[column].sum(axis=1)
              + log_factorial[frontier.nodes[owner] - column].sum(axis=1))
    completions = (owner, score, np.ones(len(score)))
    entries = (frontier.node, frontier.past, frontier.weight)
    n_nodes = len(frontier.nodes)
    if np.bincount(frontier.node, minlength=n_nodes).max() < np.bincount(owner).max():
        completions, entries = entries, completions
    return _sum_pairs_at_most(completions, entries, n_nodes, threshold, log_norm, budget)


def _tail_probability(row_margins: np.ndarray, column_margins: np.ndarray, threshold: float,
                      log_norm: float, log_factorial: np.ndarray, budget: _WorkBudget) -> float:
    """Sum of the probabilities of all tables whose score ``-sum(log x!)`` is ``<= threshold``.

    Columns are filled in one at a time from the root (nothing filled) to the point where two
    are left, which :func:`_settle_last_two_columns` finishes.
    """
    frontier = _Frontier(np.sort(row_margins)[None, :], np.zeros(1, dtype=np.int64),
                         np.zeros(1), np.ones(1))
    total = 0.0
    n_columns = len(column_margins)
    for index in range(n_columns - 2):
        settled, frontier = _advance(frontier, int(column_margins[index]),
                                     column_margins[index + 1:], threshold, log_norm,
                                     log_factorial, budget)
        total += settled
        if len(frontier.node) == 0:
            return total
        if index < n_columns - 3:  # before the last look-ups, merging does not pay
            frontier = frontier.merged()
    return total + _settle_last_two_columns(frontier, int(column_margins[-2]), threshold,
                                            log_norm, log_factorial, budget)


_LOG_FACTORIAL_TABLE_MAX = 1_000_000
"""Up to this ``N`` the ``log(k!)`` are looked up in a table; beyond, computed when needed."""


class _LogFactorialOnDemand:
    """``log(k!)`` for the counts indexed, ``gammaln(k + 1.0)``: the very entries of
    :func:`~cohortpress.stats.exact.log_factorials`, without its ``N + 1`` values (800 MB at
    ``N = 10^8``)."""

    def __getitem__(self, counts):
        return log_factorial(counts)


def _log_factorial_lookup(n_total: int):
    """A table of ``log(k!)``, ``k = 0..n_total``, or for a large ``n_total`` an object
    indexed the same way that computes the entries asked for."""
    if n_total <= _LOG_FACTORIAL_TABLE_MAX:
        return log_factorials(n_total)
    return _LogFactorialOnDemand()


def _first_step_cost(row_margins: np.ndarray, column_total: int) -> int:
    """The steps the network's first charge asks for: the choices of the first cell of the
    first column (:func:`_bounded_compositions` at the root node, position 0).

    Charged up front on a budget of its own, it stops a table whose first step alone
    exceeds the limit (a large ``N`` spread over few rows) before any work, with the same
    decision and message the algorithm would reach.
    """
    rows = np.sort(row_margins)
    low = max(0, column_total - int(rows[1:].sum()))
    high = min(int(rows[0]), column_total)
    return high - low + 1


def fisher_exact_rxc(table, *, max_steps: int = DEFAULT_MAX_STEPS) -> TestResult:
    """Exact two-sided Fisher–Freeman–Halton test for an r x c table.

    .. math:: p = \\sum_{y:\\, \\log P(y) \\le \\log P(x) + 3.45254 \\times 10^{-7}} P(y)

    over all tables ``y`` with the margins of the observed table ``x`` (R's FEXACT rule),
    computed exactly by a network algorithm (see the module docstring); no simulation.

    Parameters
    ----------
    table : array_like
        r x c table of non-negative integer counts, ``r, c >= 2``. All-zero rows or columns
        are allowed and do not change the p-value.
    max_steps : int, optional
        Work limit, in elementary steps (arcs generated, partial tables moved on, look-ups;
        some tens of millions a second). Beyond it the computation stops with
        :class:`ExactTestTooCostly`, so that the caller can fall back to
        :func:`~cohortpress.stats.exact.fisher_monte_carlo`. The check comes before each step's arrays are allocated,
        so the limit bounds memory as well as time.

    Returns
    -------
    TestResult
        ``method="Fisher's exact test"``, ``statistic=None``.

    Raises
    ------
    ExactTestTooCostly
        If the work limit would be exceeded.
    StatisticsError
        If the table is invalid.
    """
    counts = as_contingency_table(table)
    if min(counts.shape) < 2:
        raise StatisticsError(
            f"Fisher's exact test needs at least 2 rows and 2 columns; got shape {counts.shape}")
    if counts.shape[0] > counts.shape[1]:
        counts = counts.T  # nodes are vectors over the shorter dimension
    row_margins = counts.sum(axis=1)
    column_margins = np.sort(counts.sum(axis=0))
    n_total = int(counts.sum())
    _WorkBudget(max_steps).spend(_first_step_cost(row_margins, int(column_margins[0])))
    log_factorial = _log_factorial_lookup(n_total)
    observed_score = -log_factorial[counts].sum()
    log_norm = (log_factorial[row_margins].sum() + log_factorial[column_margins].sum()
                - log_factorial[n_total])
    p_value = _tail_probability(row_margins, column_margins, observed_score + LOG_TOLERANCE_RXC,
                                log_norm, log_factorial, _WorkBudget(max_steps))
    return TestResult(method=FISHER_METHOD, p_value=float(min(1.0, max(0.0, p_value))))


