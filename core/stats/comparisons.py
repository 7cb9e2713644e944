"""Hypothesis tests and standardised differences for "Table 1" (characteristics by group).

Each test reproduces the R function named in its docstring (``stats`` package, R 4.2): same
statistic, degrees of freedom and two-sided p-value. Inputs are 1-D arrays of values per group
(``NaN`` is dropped) or a 2-D contingency table of counts (rows = levels, columns = groups).

Contingency tables: all-zero rows and columns are dropped before testing (an empty level or
group carries no information on association; R's ``fisher.test`` gives the same p-value
without them, while ``chisq.test`` returns ``NaN``). If fewer than 2 rows or 2 columns remain,
the p-value is ``nan`` and ``note`` says why, where R stops with an error.
"""

from __future__ import annotations

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult, float_vector
from cohortpress.stats.aggregate_tests import (  # noqa: F401 (the method names, re-exported)
    ANOVA_METHOD, KRUSKAL_METHOD, STUDENT_METHOD, WELCH_METHOD, WILCOXON_EXACT_MAX_N,
    WILCOXON_METHOD, Moments, RankSums, _rank_sum_counts, anova_from_moments,
    kruskal_from_rank_sums, smd_from_moments, t_test_from_moments, tie_sum,
    wilcoxon_from_statistic)
from cohortpress.stats.distributions import chi2_sf
from cohortpress.stats.exact import (DEFAULT_MONTE_CARLO_SEED, DEFAULT_MONTE_CARLO_TABLES,
                                     FISHER_METHOD, as_contingency_table, drop_empty_margins,
                                     fisher_exact_2x2, fisher_monte_carlo)
from cohortpress.stats.exact_rxc import DEFAULT_MAX_STEPS, ExactTestTooCostly, fisher_exact_rxc

CHISQ_METHOD = "Pearson's chi-squared test"
CHISQ_YATES_METHOD = "Pearson's chi-squared test with Yates' continuity correction"

# --------------------------------------------------------------------------------------------
# Input handling


def _sample(values, name: str) -> np.ndarray:
    """A 1-D float array of the non-missing values; ``NaN`` dropped, infinities refused."""
    array = float_vector(values, name)
    array = array[~np.isnan(array)]
    if np.isinf(array).any():
        raise StatisticsError(f"{name} contains infinite values")
    return array


def _samples(groups, minimum_size: int = 1) -> list[np.ndarray]:
    """Validated samples of a k-group test: at least 2 groups, each with ``minimum_size``."""
    samples = [_sample(group, f"group {index + 1}") for index, group in enumerate(groups)]
    if len(samples) < 2:
        raise StatisticsError(f"at least 2 groups are needed; got {len(samples)}")
    for index, sample in enumerate(samples):
        if len(sample) < minimum_size:
            raise StatisticsError(f"group {index + 1} has {len(sample)} non-missing values; "
                                  f"at least {minimum_size} needed")
    return samples


def _average_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks 1..n with ties given their average rank (R's ``rank``), and the tie-group sizes."""
    order = np.argsort(values)
    sizes = _tie_sizes(values[order])
    starts = np.cumsum(sizes) - sizes
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(starts + (sizes + 1) / 2, sizes)
    return ranks, sizes


def _tie_sizes(ordered: np.ndarray) -> np.ndarray:
    """Sizes of the groups of equal values in a sorted array."""
    boundaries = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    return np.diff(np.concatenate(([0], boundaries, [len(ordered)])))


def _rank_sum_statistic(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """R's ``W`` for ``x`` and the tie-group sizes of the pooled sample, from sorts only.

    ``W = sum of the (average) ranks of x - n_x (n_x + 1) / 2
    = sum_i [#(y < x_i) + #(y = x_i) / 2]`` (the Mann–Whitney ``U`` of ``x``): two sorts and
    binary searches, cheaper than ranking the pooled sample for a million values.
    """
    ordered_x, ordered_y = np.sort(x), np.sort(y)
    below = np.searchsorted(ordered_y, ordered_x, side="left").sum()
    not_above = np.searchsorted(ordered_y, ordered_x, side="right").sum()
    pooled = np.sort(np.concatenate((ordered_x, ordered_y)), kind="stable")  # merges two runs
    return (int(below) + int(not_above)) / 2, _tie_sizes(pooled)


def _not_computable(method: str, counts: np.ndarray) -> TestResult:
    n_rows, n_columns = counts.shape
    which = "rows (levels)" if n_rows < 2 else "columns (groups)"
    return TestResult(method=method, p_value=float("nan"),
                      note=f"not computable: fewer than 2 non-empty {which}")


# --------------------------------------------------------------------------------------------
# Contingency tables


def fisher_test(table, *, max_steps: int = DEFAULT_MAX_STEPS,
                n_tables: int = DEFAULT_MONTE_CARLO_TABLES,
                seed: int = DEFAULT_MONTE_CARLO_SEED) -> TestResult:
    """Fisher's exact test, two-sided, as R's ``fisher.test``.

    A 2x2 table (after dropping empty rows and columns) uses the hypergeometric rule of
    :func:`~cohortpress.stats.exact.fisher_exact_2x2`; a larger one the exact
    Fisher–Freeman–Halton p-value of :func:`~cohortpress.stats.exact_rxc.fisher_exact_rxc`. When
    that would take more than ``max_steps``, the p-value is simulated instead
    (:func:`~cohortpress.stats.exact.fisher_monte_carlo`) and ``note`` says so.

    Parameters
    ----------
    table : array_like
        2-D table of non-negative integer counts (rows = levels, columns = groups).
    max_steps : int, optional
        Work limit of the exact r x c computation.
    n_tables, seed : int, optional
        Number of simulated tables and random seed of the Monte Carlo fallback.

    Returns
    -------
    TestResult
        ``method="Fisher's exact test"``, ``statistic=None``.
    """
    counts = drop_empty_margins(as_contingency_table(table))
    if min(counts.shape) < 2:
        return _not_computable(FISHER_METHOD, counts)
    if counts.shape == (2, 2):
        return fisher_exact_2x2(counts)
    try:
        return fisher_exact_rxc(counts, max_steps=max_steps)
    except ExactTestTooCostly:
        simulated = fisher_monte_carlo(counts, n_tables=n_tables, seed=seed)
    return TestResult(method=FISHER_METHOD, p_value=simulated.p_value,
                      note=f"{simulated.note}; the exact computation would exceed "
                           f"{max_steps:,} steps",
                      monte_carlo_tables=simulated.monte_carlo_tables, seed=simulated.seed)


def chisq_test(table, correct: bool = True) -> TestResult:
    """Pearson's chi-squared test of independence, as R's ``chisq.test``.

    With expected counts ``E_ij = R_i C_j / N``,

    .. math:: X^2 = \\sum_{ij} \\frac{(|O_{ij} - E_{ij}| - Y)^2}{E_{ij}}, \\qquad
              df = (r - 1)(c - 1),

    and ``p = P(chi2_df > X^2)``. Yates' correction ``Y = min(0.5, min_ij |O_ij - E_ij|)``
    applies to 2x2 tables when ``correct`` is true (otherwise ``Y = 0``); the method name
    mentions it only when ``Y > 0``, as R's does.

    Parameters
    ----------
    table : array_like
        2-D table of non-negative integer counts (rows = levels, columns = groups).
    correct : bool, optional
        Apply Yates' continuity correction to 2x2 tables.

    Returns
    -------
    TestResult
        ``statistic`` is ``X^2``; ``note`` flags expected counts below 5 and dropped empty
        rows or columns.
    """
    raw = as_contingency_table(table)
    counts = drop_empty_margins(raw)
    if min(counts.shape) < 2:
        return _not_computable(CHISQ_METHOD, counts)
    n_total = counts.sum()
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / n_total
    deviation = np.abs(counts - expected)
    yates = min(0.5, float(deviation.min())) if correct and counts.shape == (2, 2) else 0.0
    statistic = float(np.sum((deviation - yates) ** 2 / expected))
    df = (counts.shape[0] - 1) * (counts.shape[1] - 1)
    notes = []
    if counts.shape != raw.shape:
        notes.append(f"empty rows or columns dropped ({raw.shape[0]}x{raw.shape[1]} to "
                     f"{counts.shape[0]}x{counts.shape[1]})")
    n_small = int(np.count_nonzero(expected < 5))
    if n_small:
        notes.append(f"{n_small} of {expected.size} expected counts below 5: "
                     f"the chi-squared approximation may be poor")
    return TestResult(method=CHISQ_YATES_METHOD if yates > 0 else CHISQ_METHOD,
                      p_value=float(chi2_sf(statistic, df)),
                      statistic=statistic, df=float(df), note="; ".join(notes) or None)


# --------------------------------------------------------------------------------------------
# Two samples


def t_test(x, y, equal_var: bool = False) -> TestResult:
    """Two-sample t-test, two-sided, as R's ``t.test`` (``var.equal = equal_var``): the
    groups' :func:`sample_moments`, then
    :func:`~cohortpress.stats.aggregate_tests.t_test_from_moments` (formulas there).

    Raises
    ------
    StatisticsError
        Too few observations (Welch: 2 per group; pooled: 1 per group and 3 in all), or data
        essentially constant (``se < 10 eps max(|x̄|, |ȳ|)``), as in R.
    """
    return t_test_from_moments(sample_moments(_sample(x, "x")),
                               sample_moments(_sample(y, "y")), equal_var)


def wilcoxon_rank_sum(x, y, exact: bool | None = None, correct: bool = True) -> TestResult:
    """Wilcoxon rank-sum (Mann–Whitney U) test, two-sided, as R's ``wilcox.test(x, y)``:
    ``W`` and the tie sizes of the pooled sample from sorts, then
    :func:`~cohortpress.stats.aggregate_tests.wilcoxon_from_statistic` (the exact and the
    normal p-values, and when each is used, are described there).

    Returns
    -------
    TestResult
        ``statistic`` is ``W``; ``note`` says whether the p-value is exact or approximate.
    """
    x, y = _sample(x, "x"), _sample(y, "y")
    if len(x) == 0 or len(y) == 0:
        raise StatisticsError(f"not enough observations for a rank-sum test "
                              f"(x: {len(x)}, y: {len(y)})")
    w, tie_sizes = _rank_sum_statistic(x, y)
    return wilcoxon_from_statistic(w, len(x), len(y), tie_sum(tie_sizes),
                                   bool((tie_sizes > 1).any()), exact, correct)


# --------------------------------------------------------------------------------------------
# k samples


def kruskal_test(groups) -> TestResult:
    """Kruskal–Wallis rank-sum test, as R's ``kruskal.test``: :func:`rank_sums` of the
    groups, then :func:`~cohortpress.stats.aggregate_tests.kruskal_from_rank_sums`
    (formula there).

    Parameters
    ----------
    groups : sequence of array_like
        The values of each group (at least 2 groups, each non-empty).
    """
    return kruskal_from_rank_sums(rank_sums(_samples(groups)))


def rank_sums(samples) -> RankSums:
    """Average ranks (R's ``rank``) of the pooled samples, summed by sample, and the ties.

    Parameters
    ----------
    samples : sequence of numpy.ndarray
        Known values of each group.
    """
    values = np.concatenate(samples)
    ranks, tie_sizes = _average_ranks(values)
    group_of = np.repeat(np.arange(len(samples)), [len(s) for s in samples])
    return RankSums(sums=np.bincount(group_of, weights=ranks, minlength=len(samples)),
                    sizes=np.bincount(group_of, minlength=len(samples)),
                    tie_sum=tie_sum(tie_sizes), has_ties=bool((tie_sizes > 1).any()))


def anova_oneway(groups) -> TestResult:
    """One-way analysis of variance F test, as R's ``anova(lm(y ~ group))`` / ``aov``: the
    groups' :func:`sample_moments`, then
    :func:`~cohortpress.stats.aggregate_tests.anova_from_moments` (formula there).

    Raises
    ------
    StatisticsError
        Fewer than 2 groups, an empty group, no residual degrees of freedom (``n = k``), or
        no variation within groups.
    """
    return anova_from_moments([sample_moments(s) for s in _samples(groups)])


# --------------------------------------------------------------------------------------------
# Standardised differences


def smd_continuous(x, y) -> float:
    """Standardised mean difference of a continuous variable (Cohen's d, average variance),
    signed ``x`` minus ``y``: :func:`~cohortpress.stats.aggregate_tests.smd_from_moments` of
    the groups' :func:`sample_moments`.

    Raises
    ------
    StatisticsError
        Fewer than 2 values in a group, or no variation in either group.
    """
    return smd_from_moments(sample_moments(_sample(x, "x")), sample_moments(_sample(y, "y")))


def sample_moments(values: np.ndarray) -> Moments:
    """The size, mean and sum of squared deviations of known values (``numpy.mean`` and the
    sum ``numpy.var`` takes)."""
    if len(values) == 0:
        return Moments(0, float("nan"), 0.0)
    mean = np.mean(values)
    return Moments(len(values), float(mean), float(np.sum((values - mean) ** 2)))


def smd_categorical(p1, p2) -> float:
    """Standardised difference of a categorical variable (Yang & Dalton, 2012).

    With the level proportions of the two groups, the first level dropped as reference,
    ``T = p1[1:]`` and ``C = p2[1:]``,

    .. math:: d = \\sqrt{(T - C)^\\top S^{-1} (T - C)}, \\qquad
              S_{kk} = \\frac{T_k (1 - T_k) + C_k (1 - C_k)}{2}, \\quad
              S_{kl} = -\\frac{T_k T_l + C_k C_l}{2}.

    For two levels this is ``|p1 - p2| / sqrt((p1 (1 - p1) + p2 (1 - p2)) / 2)``. Levels
    absent from both groups are ignored; the result does not depend on the reference level.
    When ``S`` is singular in the direction of ``T - C`` (groups that are separated, e.g. all
    of one group in a level the other never takes), ``d`` is ``inf``.

    Parameters
    ----------
    p1, p2 : array_like
        Proportions (or counts, which are normalised) of each level in each group.

    Returns
    -------
    float
        ``d >= 0``.
    """
    first, second = (_level_proportions(p, name) for p, name in ((p1, "p1"), (p2, "p2")))
    if len(first) != len(second):
        raise StatisticsError(f"p1 and p2 must have one value per level; got {len(first)} "
                              f"and {len(second)}")
    observed = (first > 0) | (second > 0)
    first, second = first[observed][1:], second[observed][1:]
    if len(first) == 0:
        return 0.0
    covariance = (np.diag(first) - np.outer(first, first)
                  + np.diag(second) - np.outer(second, second)) / 2
    difference = first - second
    solution, *_ = np.linalg.lstsq(covariance, difference, rcond=None)
    if not np.allclose(covariance @ solution, difference, rtol=0, atol=1e-12):
        return float("inf")
    return float(np.sqrt(max(0.0, difference @ solution)))


def _level_proportions(values, name: str) -> np.ndarray:
    try:
        proportions = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise StatisticsError(f"{name} must contain numbers") from None
    if (proportions.ndim != 1 or len(proportions) < 2 or not np.all(np.isfinite(proportions))
            or np.any(proportions < 0) or proportions.sum() <= 0):
        raise StatisticsError(f"{name} must give non-negative proportions or counts for "
                              f"at least 2 levels")
    return proportions / proportions.sum()
