"""Table 1 tests against R (fixtures from tests/fixtures/r/comparisons.R), plus properties.

R values are stored with 15 significant digits, so agreement is checked to a relative 1e-9
(observed: 2e-12 or better).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.comparisons import (
    anova_oneway,
    chisq_test,
    fisher_test,
    kruskal_test,
    smd_categorical,
    smd_continuous,
    t_test,
    wilcoxon_rank_sum,
)
from cohortpress.stats.exact import fisher_exact_2x2, fisher_monte_carlo
from cohortpress.stats.exact_rxc import ExactTestTooCostly, fisher_exact_rxc

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "comparisons.json").read_text())
RTOL, ATOL = 1e-9, 1e-300


def cases_of(test: str) -> list[dict]:
    return [case for case in FIXTURE["cases"] if case["test"] == test]


def values(items) -> np.ndarray:
    """A jsonlite vector as floats (``NA`` arrives as ``null``)."""
    return np.array([np.nan if item is None else item for item in items], dtype=float)


def assert_close(actual, expected, rtol=RTOL):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=ATOL)


def by_id(case):
    return case["id"]


# --------------------------------------------------------------------------------------------
# Against R


@pytest.mark.parametrize("case", cases_of("fisher"), ids=by_id)
def test_fisher_matches_r(case):
    result = fisher_test(case["table"])
    assert result.method == "Fisher's exact test"
    assert result.note is None
    assert_close(result.p_value, case["expected"]["p_value"])


@pytest.mark.parametrize("case", cases_of("chisq"), ids=by_id)
def test_chisq_matches_r(case):
    result = chisq_test(case["table"], correct=case["correct"])
    expected = case["expected"]
    assert_close(result.statistic, expected["statistic"])
    assert result.df == expected["df"]
    assert_close(result.p_value, expected["p_value"])
    assert ("Yates" in result.method) == expected["yates"]


@pytest.mark.parametrize("case", cases_of("t"), ids=by_id)
def test_t_test_matches_r(case):
    result = t_test(values(case["x"]), values(case["y"]), equal_var=case["var_equal"])
    expected = case["expected"]
    assert_close(result.statistic, expected["statistic"])
    assert_close(result.df, expected["df"])
    assert_close(result.p_value, expected["p_value"])
    assert result.method == ("Two-sample t-test" if case["var_equal"]
                             else "Welch two-sample t-test")


@pytest.mark.parametrize("case", cases_of("wilcox"), ids=by_id)
def test_wilcoxon_matches_r(case):
    result = wilcoxon_rank_sum(values(case["x"]), values(case["y"]), exact=case["exact"],
                               correct=case["correct"])
    expected = case["expected"]
    assert_close(result.statistic, expected["statistic"])
    assert_close(result.p_value, expected["p_value"])
    assert (result.note == "exact p-value") == expected["exact"]
    assert result.method == "Wilcoxon rank-sum (Mann–Whitney U) test"


@pytest.mark.parametrize("case", cases_of("kruskal"), ids=by_id)
def test_kruskal_matches_r(case):
    result = kruskal_test([values(group) for group in case["groups"]])
    expected = case["expected"]
    assert_close(result.statistic, expected["statistic"])
    assert result.df == expected["df"]
    assert_close(result.p_value, expected["p_value"])


@pytest.mark.parametrize("case", cases_of("anova"), ids=by_id)
def test_anova_matches_r(case):
    result = anova_oneway([values(group) for group in case["groups"]])
    expected = case["expected"]
    assert_close(result.statistic, expected["statistic"])
    assert result.df == expected["df1"]
    assert f"on {expected['df1']} and {expected['df2']} degrees" in result.note
    assert_close(result.p_value, expected["p_value"])


@pytest.mark.parametrize("case", cases_of("smd_continuous") + cases_of("smd_categorical"),
                         ids=by_id)
def test_standardised_differences_match_r(case):
    if case["test"] == "smd_continuous":
        actual = smd_continuous(values(case["x"]), values(case["y"]))
    else:
        actual = smd_categorical(case["p1"], case["p2"])
    assert_close(actual, case["expected"]["value"])


def test_fixture_covers_the_brief():
    ids = {case["id"] for case in FIXTURE["cases"]}
    assert len(ids) == len(FIXTURE["cases"]) >= 25
    tables = [case["table"] for case in cases_of("fisher")]
    assert [[11, 17], [2, 2], [9, 3]] in tables
    assert [[11, 17], [2, 2], [9, 3], [3, 3]] in tables


# --------------------------------------------------------------------------------------------
# The published Table 1 values: which test gives them


def published_p(test, table, **options):
    return round(test(table, **options).p_value, 3)


def test_published_table1_values():
    assert published_p(fisher_test, [[8, 10], [17, 15]]) == 0.769
    assert published_p(fisher_test, [[16, 12], [9, 13]]) == 0.393
    assert published_p(fisher_test, [[9, 13], [16, 12]]) == 0.393
    assert published_p(chisq_test, [[16, 12], [9, 13]], correct=False) == 0.254
    assert published_p(fisher_test, [[11, 17], [2, 2], [9, 3]]) == 0.156


# --------------------------------------------------------------------------------------------
# Fisher: exact r x c against brute-force enumeration, symmetry, cost guard, Monte Carlo


def all_tables(row_margins, column_margins):
    """Every table with these margins (small ones only), by recursion over cells."""
    if len(row_margins) == 1:
        yield [list(column_margins)]
        return
    first, rest = row_margins[0], row_margins[1:]
    for row in itertools.product(*(range(min(first, c) + 1) for c in column_margins)):
        if sum(row) == first:
            left = [c - x for c, x in zip(column_margins, row)]
            for tail in all_tables(rest, left):
                yield [list(row)] + tail


def brute_force_fisher(table):
    table = np.asarray(table)
    rows, columns = table.sum(axis=1).tolist(), table.sum(axis=0).tolist()
    constant = (sum(math.lgamma(m + 1) for m in rows + columns)
                - math.lgamma(table.sum() + 1))

    def log_p(t):
        return constant - sum(math.lgamma(x + 1) for row in t for x in row)

    observed = log_p(table.tolist())
    return math.fsum(math.exp(lp) for lp in map(log_p, all_tables(rows, columns))
                     if lp <= observed + 3.45254e-7)


@pytest.mark.parametrize("shape", [(2, 3), (3, 3), (2, 5), (3, 4), (4, 2)])
def test_exact_rxc_matches_enumeration(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(4):
        table = rng.multinomial(int(rng.integers(8, 16)),
                                rng.dirichlet(np.ones(shape[0] * shape[1]))).reshape(shape)
        if min(table.sum(axis=0).min(), table.sum(axis=1).min()) == 0:
            continue
        assert_close(fisher_exact_rxc(table).p_value, brute_force_fisher(table), rtol=1e-12)


def test_exact_rxc_matches_enumeration_with_bounds_only(monkeypatch):
    """The bound used instead of the exact shortest path for tables with many rows."""
    import cohortpress.stats.exact_rxc as exact_rxc

    monkeypatch.setattr(exact_rxc, "_MAX_ROWS_EXACT_SHORTEST", 1)
    test_exact_rxc_matches_enumeration((3, 4))
    test_exact_rxc_matches_enumeration((2, 3))


def test_completion_bounds_hold_against_enumeration():
    from cohortpress.stats.exact import log_factorials
    from cohortpress.stats.exact_rxc import _completion_summary, _WorkBudget

    rng = np.random.default_rng(9)
    log_factorial = log_factorials(40)
    for n_rows, n_columns in [(2, 2), (3, 2), (2, 3), (3, 3), (2, 4), (4, 3)]:
        for _ in range(5):
            table = rng.multinomial(12, np.ones(n_rows * n_columns) / (n_rows * n_columns))
            table = table.reshape(n_rows, n_columns)
            rows, columns = np.sort(table.sum(axis=1)), table.sum(axis=0)
            scores = [-sum(math.lgamma(x + 1) for row in t for x in row)
                      for t in all_tables(rows.tolist(), columns.tolist())]
            longest, shortest, log_total = _completion_summary(
                rows[None, :], columns, log_factorial, _WorkBudget(10 ** 6))
            assert longest[0] >= max(scores) - 1e-12 and shortest[0] <= min(scores) + 1e-12
            if n_columns == 2:
                assert_close([longest[0], shortest[0]], [max(scores), min(scores)], rtol=1e-8)
            assert_close(log_total[0], math.log(math.fsum(map(math.exp, scores))), rtol=1e-12)


def test_exact_rxc_is_invariant_to_transposing_and_permuting():
    table = np.array([[5, 3, 6, 2], [4, 7, 3, 5], [6, 4, 8, 7]])
    reference = fisher_exact_rxc(table).p_value
    for variant in (table.T, table[::-1], table[:, [2, 0, 3, 1]]):
        assert_close(fisher_exact_rxc(variant).p_value, reference, rtol=1e-12)


def test_exact_rxc_agrees_with_the_2x2_rule():
    for table in ([[8, 10], [17, 15]], [[3, 0], [1, 4]], [[120, 80], [95, 105]]):
        assert_close(fisher_exact_rxc(table).p_value, fisher_exact_2x2(table).p_value,
                     rtol=1e-10)


@pytest.mark.parametrize("table", [
    [[35, 22, 28, 15], [20, 30, 25, 25]],    # 2x4, N = 200
    [[15, 8, 10], [9, 14, 11], [7, 10, 16]],  # 3x3, N = 100
])
def test_exact_rxc_is_fast_enough(table):
    start = time.perf_counter()
    fisher_exact_rxc(table)
    assert time.perf_counter() - start < 1.0


def test_exact_rxc_stops_at_the_work_limit():
    table = [[40, 50, 30, 40], [30, 40, 50, 40], [50, 30, 40, 40]]
    with pytest.raises(ExactTestTooCostly) as raised:
        fisher_exact_rxc(table, max_steps=10_000)
    assert raised.value.limit == 10_000
    assert isinstance(raised.value, StatisticsError)


def test_fisher_test_falls_back_to_monte_carlo_when_too_costly():
    table = [[11, 17], [2, 2], [9, 3], [3, 3]]
    result = fisher_test(table, max_steps=10, n_tables=20_000, seed=7)
    assert "20,000 simulated tables" in result.note and "seed 7" in result.note
    assert "exceed 10 steps" in result.note
    exact = fisher_exact_rxc(table).p_value
    assert abs(result.p_value - exact) < 4 * math.sqrt(exact * (1 - exact) / 20_000)


def test_monte_carlo_is_reproducible_and_follows_r_formula():
    table = [[5, 3, 6, 2], [4, 7, 3, 5], [6, 4, 8, 7]]
    first = fisher_monte_carlo(table, n_tables=5_000, seed=11)
    assert first == fisher_monte_carlo(table, n_tables=5_000, seed=11)
    assert first != fisher_monte_carlo(table, n_tables=5_000, seed=12)
    assert (first.p_value * 5_001) == pytest.approx(round(first.p_value * 5_001))
    assert first.note == "Monte Carlo p-value from 5,000 simulated tables (seed 11)"
    # The most extreme table possible: only itself (and ties) are as extreme.
    extreme = fisher_monte_carlo([[20, 0], [0, 20]], n_tables=999, seed=1)
    assert extreme.p_value == pytest.approx(1 / 1000)


def test_monte_carlo_tables_keep_the_margins():
    from cohortpress.stats.exact import _simulated_scores

    rng = np.random.default_rng(3)
    rows, columns = np.array([7, 0, 5, 9]), np.array([6, 10, 5])
    scores = _simulated_scores(rows, columns, 2_000, rng)
    # Every score is that of some table with these margins.
    possible = {round(-sum(math.lgamma(x + 1) for row in t for x in row), 9)
                for t in all_tables(rows.tolist(), columns.tolist())}
    assert {round(s, 9) for s in scores} <= possible


# --------------------------------------------------------------------------------------------
# Contingency-table edge cases


@pytest.mark.parametrize("test", [fisher_test, chisq_test])
def test_empty_levels_leave_too_few_rows(test):
    result = test([[0, 0], [3, 4]])
    assert math.isnan(result.p_value)
    assert result.note == "not computable: fewer than 2 non-empty rows (levels)"
    result = test([[0, 5], [0, 4], [0, 1]])
    assert "fewer than 2 non-empty columns (groups)" in result.note


def test_empty_rows_are_dropped():
    with_empty = [[3, 0, 2], [0, 0, 0], [1, 4, 2]]
    without = [[3, 0, 2], [1, 4, 2]]
    assert fisher_test(with_empty).p_value == fisher_test(without).p_value
    result = chisq_test(with_empty)
    assert result.p_value == chisq_test(without).p_value
    assert "empty rows or columns dropped (3x3 to 2x3)" in result.note
    assert result.df == 2


def test_chisq_flags_small_expected_counts():
    assert "4 of 4 expected counts below 5" in chisq_test([[3, 0], [1, 4]]).note
    assert chisq_test([[120, 80], [95, 105]]).note is None


@pytest.mark.parametrize("table", [
    [1, 2, 3], [[1, -2], [3, 4]], [[1.5, 2], [3, 4]], [[np.nan, 2], [3, 4]],
    [[0, 0], [0, 0]], np.zeros((0, 2)), [["a", "b"], ["c", "d"]],
])
def test_invalid_tables_are_refused(table):
    for test in (fisher_test, chisq_test):
        with pytest.raises(StatisticsError):
            test(table)


# --------------------------------------------------------------------------------------------
# Continuous tests: edge cases and properties


def test_missing_values_are_dropped():
    x = [1.2, np.nan, 3.4, 2.2, 5.0]
    y = [2.5, 4.1, np.nan, 6.3, 5.5]
    clean_x, clean_y = [1.2, 3.4, 2.2, 5.0], [2.5, 4.1, 6.3, 5.5]
    assert t_test(x, y) == t_test(clean_x, clean_y)
    assert wilcoxon_rank_sum(x, y) == wilcoxon_rank_sum(clean_x, clean_y)
    assert kruskal_test([x, y]) == kruskal_test([clean_x, clean_y])
    assert anova_oneway([x, y]) == anova_oneway([clean_x, clean_y])


def test_two_group_anova_is_the_pooled_t_test():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=14), rng.normal(0.5, size=19)
    anova, pooled = anova_oneway([x, y]), t_test(x, y, equal_var=True)
    assert_close(anova.statistic, pooled.statistic ** 2, rtol=1e-12)
    assert_close(anova.p_value, pooled.p_value, rtol=1e-10)


def test_exact_wilcoxon_distribution_is_symmetric_and_complete():
    from cohortpress.stats.comparisons import _rank_sum_counts

    counts = _rank_sum_counts(4, 6)
    assert counts.sum() == math.comb(10, 4)
    np.testing.assert_array_equal(counts, counts[::-1])
    assert wilcoxon_rank_sum([1, 2, 3], [4, 5, 6, 7]).p_value == pytest.approx(
        2 / math.comb(7, 3))


@pytest.mark.parametrize("call", [
    lambda: t_test([1.0], [2.0, 3.0]),
    lambda: t_test([1.0, 1.0], [1.0, 1.0]),
    lambda: t_test([[1.0, 2.0]], [2.0, 3.0]),
    lambda: t_test([1.0, np.inf], [2.0, 3.0]),
    lambda: wilcoxon_rank_sum([], [1.0]),
    lambda: kruskal_test([[1.0, 2.0]]),
    lambda: kruskal_test([[1.0, 2.0], [np.nan]]),
    lambda: anova_oneway([[1.0], [2.0]]),
    lambda: anova_oneway([[1.0, 1.0], [2.0, 2.0]]),
    lambda: smd_continuous([1.0], [2.0, 3.0]),
    lambda: smd_continuous([1.0, 1.0], [1.0, 1.0]),
    lambda: smd_categorical([1.0], [1.0]),
    lambda: smd_categorical([0.5, 0.5], [0.2, 0.3, 0.5]),
    lambda: smd_categorical([0.5, -0.5], [0.2, 0.8]),
])
def test_invalid_samples_are_refused(call):
    with pytest.raises(StatisticsError):
        call()


def test_all_tied_values_give_nan():
    assert math.isnan(wilcoxon_rank_sum([2.0, 2.0], [2.0, 2.0, 2.0]).p_value)
    result = kruskal_test([[1.0, 1.0], [1.0], [1.0, 1.0]])
    assert math.isnan(result.p_value) and "all values are tied" in result.note


def test_categorical_smd_properties():
    p1, p2 = np.array([0.2, 0.5, 0.3]), np.array([0.4, 0.4, 0.2])
    reference = smd_categorical(p1, p2)
    for order in ([1, 2, 0], [2, 0, 1]):
        assert_close(smd_categorical(p1[order], p2[order]), reference, rtol=1e-12)
    assert_close(smd_categorical([30, 70], [45, 55]),
                 abs(0.3 - 0.45) / math.sqrt((0.3 * 0.7 + 0.45 * 0.55) / 2), rtol=1e-12)
    assert smd_categorical([1, 0], [0, 1]) == math.inf
    assert smd_categorical([0, 5, 0], [0, 3, 0]) == 0.0
