"""The statistics of Table 1 from aggregates (stats/aggregate_tests, the order-statistic
quartiles of stats/summaries): the same numbers as the array functions, which R checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from cohortpress.common.errors import StatisticsError
from cohortpress.stats import aggregate_tests as agg
from cohortpress.stats import comparisons
from cohortpress.stats.summaries import (continuous_summary, quantile_of_sorted, quartile_ranks,
                                         quartiles_from_order_statistics)


@pytest.mark.parametrize("quantile_type", range(1, 10))
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10, 11, 101])
def test_quartiles_read_only_the_ranks_they_name(quantile_type, n):
    values = np.sort(np.random.default_rng(n).normal(size=n).round(1))
    asked = []

    def ordered_at(rank):
        asked.append(rank)
        return values[rank - 1]

    median, p25, p75 = quartiles_from_order_statistics(ordered_at, n, quantile_type)
    assert set(asked) <= set(quartile_ranks(n, quantile_type))
    assert median == np.median(values)
    assert p25 == quantile_of_sorted(values, 0.25, quantile_type)
    assert p75 == quantile_of_sorted(values, 0.75, quantile_type)
    summary = continuous_summary(values, quantile_type)
    assert (summary.median, summary.p25, summary.p75) == (median, p25, p75)


def test_rank_sums_are_the_sums_of_average_ranks():
    rng = np.random.default_rng(3)
    samples = [rng.integers(0, 9, size=n).astype(float) for n in (7, 12, 5)]
    found = comparisons.rank_sums(samples)
    ranks = rankdata(np.concatenate(samples))
    bounds = np.cumsum([0] + [len(s) for s in samples])
    assert list(found.sums) == [ranks[a:b].sum() for a, b in zip(bounds[:-1], bounds[1:])]
    _, sizes = np.unique(np.concatenate(samples), return_counts=True)
    assert found.tie_sum == float(np.sum(sizes.astype(float) ** 3 - sizes))
    assert found.has_ties


def test_kruskal_from_rank_sums_is_kruskal_test():
    rng = np.random.default_rng(4)
    samples = [rng.normal(size=n).round(1) for n in (9, 14, 6)]
    assert agg.kruskal_from_rank_sums(comparisons.rank_sums(samples)) == \
        comparisons.kruskal_test(samples)


def test_wilcoxon_from_the_rank_sum_statistic():
    x, y = np.array([1.1, 2.5, 3.7, 0.2]), np.array([4.4, 5.1, 2.9, 6.0, 7.3])
    ranks = comparisons.rank_sums([x, y])
    w = ranks.sums[0] - len(x) * (len(x) + 1) / 2
    found = agg.wilcoxon_from_statistic(w, len(x), len(y), ranks.tie_sum, ranks.has_ties)
    assert found == comparisons.wilcoxon_rank_sum(x, y)
    assert found.note == "exact p-value"


def test_moments_from_deviation_sums_is_the_two_pass_mean():
    values = np.array([1e9 + 0.1, 1e9 + 0.2, 1e9 + 0.3])
    first = values.sum() / 3
    d = values - first
    mean, ss = agg.moments_from_deviation_sums(3, first, d.sum(), d @ d)
    assert mean == pytest.approx(1e9 + 0.2, rel=1e-15)
    assert ss == pytest.approx(0.02, rel=1e-6)


def test_tests_from_moments_refuse_what_the_array_tests_refuse():
    one = agg.Moments(1, 2.0, 0.0)
    two = agg.Moments(2, 3.0, 0.5)
    with pytest.raises(StatisticsError):
        agg.t_test_from_moments(one, two)
    with pytest.raises(StatisticsError):
        agg.smd_from_moments(one, two)
    with pytest.raises(StatisticsError):
        agg.anova_from_moments([agg.Moments(1, 1.0, 0.0), agg.Moments(1, 2.0, 0.0)])
    assert agg.t_test_from_moments(one, two, equal_var=True).df == 1.0
