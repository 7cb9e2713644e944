"""Fisher's exact test at registry scale: the 2x2 test evaluates only the support points whose
density does not underflow, and the Monte Carlo test scores tables without a table of
``log(k!)`` up to ``N``; both must give bit-identical p-values to the full computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.special import gammaln

from cohortpress.stats import exact, exact_rxc
from cohortpress.stats.exact import fisher_exact_2x2, fisher_monte_carlo, log_factorials
from cohortpress.stats.exact_rxc import ExactTestTooCostly


def full_enumeration_2x2(table) -> float:
    """The 2x2 p-value over the whole support (the computation before the window)."""
    counts = np.asarray(table, dtype=np.int64)
    m, n = (int(v) for v in counts.sum(axis=0))
    k, x = int(counts[0].sum()), int(counts[0, 0])
    lo, hi = max(0, k - n), min(k, m)
    support = np.arange(lo, hi + 1)
    log_factorial = log_factorials(m + n)
    log_d = -(log_factorial[support] + log_factorial[m - support]
              + log_factorial[k - support] + log_factorial[n - k + support])
    d = np.exp(log_d - log_d.max())
    d /= d.sum()
    return min(1.0, float(d[d <= d[x - lo] * (1 + exact.RELATIVE_TOLERANCE_2X2)].sum()))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 2000), st.integers(0, 2000), st.integers(0, 2**32))
def test_padded_sum_is_numpys_sum_of_the_padded_array(size, before, after, seed):
    rng = np.random.default_rng(seed)
    values = rng.random(size) * 10.0 ** rng.integers(-20, 6, size)
    padded = np.concatenate([np.zeros(before), values, np.zeros(after)])
    assert exact._padded_sum(values, before, padded.size) == padded.sum()


def test_padded_sum_over_long_runs_of_zeros():
    rng = np.random.default_rng(5)
    for before, size, after in [(0, 100_000, 0), (123_457, 40_001, 9), (1, 777, 300_000)]:
        values = rng.random(size) * 10.0 ** rng.integers(-30, 0, size)
        padded = np.concatenate([np.zeros(before), values, np.zeros(after)])
        assert exact._padded_sum(values, before, padded.size) == padded.sum()


tables_2x2 = st.tuples(*[st.integers(0, 40_000)] * 4).filter(lambda t: sum(t) > 0)


@settings(max_examples=60, deadline=None)
@given(tables_2x2, st.sampled_from([1, 3, 12]))
def test_windowed_2x2_is_bit_identical_to_the_whole_support(cells, scale):
    table = np.array(cells, dtype=np.int64).reshape(2, 2) * scale
    assert fisher_exact_2x2(table).p_value == full_enumeration_2x2(table)


@pytest.mark.parametrize("table", [
    [[5_000, 5_020], [4_990, 5_010]],            # no association, support of 10^4
    [[25_000, 24_500], [25_100, 25_400]],        # small p, tails underflow on both sides
    [[30_000, 29_000], [20_000, 21_000]],        # p far below the smallest double
    [[1, 60_000], [0, 59_000]],                  # the observed table at the support's end
    [[200_000, 1], [3, 150_000]],                # observed far outside the window: p = 0
])
def test_windowed_2x2_on_large_tables(table):
    assert fisher_exact_2x2(table).p_value == full_enumeration_2x2(table)


def test_window_leaves_out_only_zero_densities():
    m, n, k = 400_000, 350_000, 300_000
    lo, hi = max(0, k - n), min(k, m)
    first, last = exact._support_window(m, n, k, lo, hi)
    assert lo < first < last < hi and last - first < 20_000
    log_d = exact._log_density_2x2(np.arange(lo, hi + 1), m, n, k)
    outside = np.r_[log_d[:first - lo], log_d[last - lo + 1:]]
    assert np.all(np.exp(outside - log_d.max()) == 0.0)


def test_2x2_at_registry_size_is_fast():
    import time
    table = [[25_000_000, 24_990_000], [25_003_000, 25_007_000]]
    started = time.process_time()
    p = fisher_exact_2x2(table).p_value
    assert time.process_time() - started < 0.5 and 0.0 < p < 1.0


@pytest.mark.parametrize("table", [
    [[3, 1, 4], [1, 5, 9], [2, 6, 5]],
    [[120, 95], [80, 101], [60, 77], [30, 41]],
    [[0, 0, 0], [12, 3, 7], [4, 9, 2]],
])
def test_monte_carlo_without_a_factorial_table_is_identical(table, monkeypatch):
    on_demand = fisher_monte_carlo(table, n_tables=25_000, seed=3).p_value
    lookup = log_factorials(int(np.sum(table)))  # the table of log(k!) used before
    monkeypatch.setattr(exact, "log_factorial", lambda counts: lookup[counts])
    assert on_demand == fisher_monte_carlo(table, n_tables=25_000, seed=3).p_value


def test_log_factorial_entries_are_gammaln_of_k_plus_one():
    k = np.array([0, 1, 2, 17, 1_000, 123_456])
    assert np.array_equal(log_factorials(123_456)[k], gammaln(k.astype(np.float64) + 1.0))


def test_monte_carlo_memory_does_not_grow_with_n(monkeypatch):
    def no_table(n):
        raise AssertionError(f"a table of log(k!) up to {n} was built")

    monkeypatch.setattr(exact, "log_factorials", no_table)
    table = [[25_000_000, 24_990_000], [25_003_000, 25_007_000], [10, 30]]
    result = fisher_monte_carlo(table, n_tables=2_000, seed=1)
    assert 0.0 < result.p_value <= 1.0


# The exact r x c test at large N


rxc_tables = [
    [[3, 1, 4], [1, 5, 9], [2, 6, 5]],
    [[12, 5, 7, 7], [5, 12, 2, 9], [9, 3, 8, 4]],
    [[20, 14], [9, 17], [11, 10], [4, 12]],
    [[0, 7, 2], [8, 0, 3]],
]


@pytest.mark.parametrize("table", rxc_tables)
def test_rxc_first_step_cost_is_the_first_charge(table, monkeypatch):
    charges = []
    original = exact_rxc._WorkBudget.spend

    def record(self, steps):
        charges.append(int(steps))
        original(self, steps)

    monkeypatch.setattr(exact_rxc._WorkBudget, "spend", record)
    exact_rxc.fisher_exact_rxc(table)
    counts = np.asarray(table)
    if counts.shape[0] > counts.shape[1]:
        counts = counts.T
    cost = exact_rxc._first_step_cost(counts.sum(axis=1), int(np.sort(counts.sum(axis=0))[0]))
    assert charges[0] == cost and charges[1] == cost  # the check, then the algorithm


@pytest.mark.parametrize("table", rxc_tables + [[[4_000, 3_900], [4_100, 3_950], [10, 40]]])
def test_rxc_stops_up_front_exactly_where_the_algorithm_would(table, monkeypatch):
    counts = np.asarray(table)
    if counts.shape[0] > counts.shape[1]:
        counts = counts.T
    cost = exact_rxc._first_step_cost(counts.sum(axis=1), int(np.sort(counts.sum(axis=0))[0]))

    def outcome(max_steps):
        try:
            return exact_rxc.fisher_exact_rxc(table, max_steps=max_steps).p_value
        except ExactTestTooCostly as error:
            return str(error)

    with_check = [outcome(limit) for limit in (cost - 1, cost, cost + 1)]
    monkeypatch.setattr(exact_rxc, "_first_step_cost", lambda rows, total: 0)
    assert with_check == [outcome(limit) for limit in (cost - 1, cost, cost + 1)]
    assert "more than" in with_check[0]


@pytest.mark.parametrize("table", rxc_tables)
def test_rxc_log_factorials_on_demand_are_identical(table, monkeypatch):
    from_table = exact_rxc.fisher_exact_rxc(table).p_value
    monkeypatch.setattr(exact_rxc, "_LOG_FACTORIAL_TABLE_MAX", 0)
    assert exact_rxc.fisher_exact_rxc(table).p_value == from_table


def test_rxc_at_registry_size_gives_up_at_once():
    import time
    table = [[12_500_000, 12_490_000], [12_500_300, 12_500_700], [12_499_000, 12_501_000]]
    started = time.process_time()
    with pytest.raises(ExactTestTooCostly):
        exact_rxc.fisher_exact_rxc(table)
    assert time.process_time() - started < 0.1


# Rank sums and order statistics from a table of distinct values and counts


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(2, 4), st.integers(1, 40))
def test_rank_sums_from_value_counts_match_the_rows(seed, n_groups, n_distinct):
    from cohortpress.stats.aggregate_tests import rank_sums_from_value_counts
    from cohortpress.stats.comparisons import _average_ranks, tie_sum

    rng = np.random.default_rng(seed)
    values = rng.integers(0, n_distinct, size=300).astype(float)
    group = rng.integers(0, n_groups, size=300)
    distinct, row = np.unique(values, return_inverse=True)
    counts = np.zeros((len(distinct), n_groups), dtype=np.int64)
    np.add.at(counts, (row, group), 1)
    found = rank_sums_from_value_counts(counts)
    ranks, sizes = _average_ranks(values)
    assert list(found.sums) == [ranks[group == k].sum() for k in range(n_groups)]
    assert list(found.sizes) == [int((group == k).sum()) for k in range(n_groups)]
    assert found.tie_sum == tie_sum(sizes) and found.has_ties == bool((sizes > 1).any())


def test_order_statistics_from_value_counts():
    from cohortpress.stats.aggregate_tests import order_statistics_from_value_counts

    values = np.array([1.5, 2.0, 7.25])
    sample = np.repeat(values, [2, 3, 1])
    ranks = range(1, 7)
    assert order_statistics_from_value_counts(values, [2, 3, 1], ranks) == \
        {r: float(sample[r - 1]) for r in ranks}
