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

import functools

import numpy as np
from scipy.special import ndtr

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult, float_vector
from cohortpress.stats.distributions import chi2_sf, f_sf, t_sf
from cohortpress.stats.exact import (DEFAULT_MONTE_CARLO_SEED, DEFAULT_MONTE_CARLO_TABLES,
                                     FISHER_METHOD, as_contingency_table, drop_empty_margins,
                                     fisher_exact_2x2, fisher_monte_carlo)
from cohortpress.stats.exact_rxc import DEFAULT_MAX_STEPS, ExactTestTooCostly, fisher_exact_rxc

CHISQ_METHOD = "Pearson's chi-squared test"
CHISQ_YATES_METHOD = "Pearson's chi-squared test with Yates' continuity correction"
WELCH_METHOD = "Welch two-sample t-test"
STUDENT_METHOD = "Two-sample t-test"
WILCOXON_METHOD = "Wilcoxon rank-sum (Mann–Whitney U) test"
KRUSKAL_METHOD = "Kruskal–Wallis test"
ANOVA_METHOD = "One-way ANOVA"

WILCOXON_EXACT_MAX_N = 50
"""R's rule: the exact Wilcoxon p-value is used when both samples have fewer observations."""

_WILCOXON_EXACT_MAX_WORK = 200_000_000
"""Beyond this many steps (``n (m + 1) m n'``) an explicitly requested exact p is not computed."""


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


def _tie_sum(tie_sizes: np.ndarray) -> float:
    """``sum(t^3 - t)`` over tie groups of size ``t``."""
    sizes = tie_sizes.astype(np.float64)
    return float(np.sum(sizes ** 3 - sizes))


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
    """Two-sample t-test, two-sided, as R's ``t.test`` (``var.equal = equal_var``).

    .. math:: t = \\frac{\\bar x - \\bar y}{se}

    Welch (default): ``se^2 = s_x^2/n_x + s_y^2/n_y`` and
    ``df = se^4 / ((s_x^2/n_x)^2/(n_x - 1) + (s_y^2/n_y)^2/(n_y - 1))``.
    Pooled: ``se^2 = s_p^2 (1/n_x + 1/n_y)``, ``s_p^2 = ((n_x-1) s_x^2 + (n_y-1) s_y^2)/df``,
    ``df = n_x + n_y - 2``. ``p = 2 P(T_df > |t|)``.

    Raises
    ------
    StatisticsError
        Too few observations (Welch: 2 per group; pooled: 1 per group and 3 in all), or data
        essentially constant (``se < 10 eps max(|x̄|, |ȳ|)``), as in R.
    """
    x, y = _sample(x, "x"), _sample(y, "y")
    minimum = 1 if equal_var else 2
    if len(x) < minimum or len(y) < minimum or len(x) + len(y) < 3:
        raise StatisticsError(f"not enough observations for a t-test "
                              f"(x: {len(x)}, y: {len(y)})")
    mean_x, mean_y = float(np.mean(x)), float(np.mean(y))
    var_x = float(np.var(x, ddof=1)) if len(x) > 1 else 0.0
    var_y = float(np.var(y, ddof=1)) if len(y) > 1 else 0.0
    share_x, share_y = var_x / len(x), var_y / len(y)
    if equal_var:
        df = len(x) + len(y) - 2.0
        pooled = ((len(x) - 1) * var_x + (len(y) - 1) * var_y) / df
        standard_error = np.sqrt(pooled * (1 / len(x) + 1 / len(y)))
    else:
        standard_error = np.sqrt(share_x + share_y)
    if standard_error == 0 or \
            standard_error < 10 * np.finfo(float).eps * max(abs(mean_x), abs(mean_y)):
        raise StatisticsError("data are essentially constant: the t-test is not defined")
    if not equal_var:
        df = standard_error ** 4 / (share_x ** 2 / (len(x) - 1) + share_y ** 2 / (len(y) - 1))
    t = (mean_x - mean_y) / standard_error
    return TestResult(method=STUDENT_METHOD if equal_var else WELCH_METHOD,
                      p_value=float(2 * t_sf(abs(t), df)),
                      statistic=float(t), df=float(df))


@functools.lru_cache(maxsize=32)
def _rank_sum_counts(n_small: int, n_large: int) -> np.ndarray:
    """How many ways ``U = 0..n_small * n_large`` arise for samples of these sizes, no ties.

    ``ways[j, s]`` counts the subsets of size ``j`` of the ranks seen so far with sum ``s``;
    adding rank ``k`` gives ``ways[j, s] += ways[j - 1, s - k]``. Then
    ``U = s - n_small (n_small + 1) / 2`` for ``j = n_small``. Additions only, so the
    floating-point counts keep full relative precision (they reach about ``1e28``).
    """
    smallest = n_small * (n_small + 1) // 2
    ways = np.zeros((n_small + 1, smallest + n_small * n_large + 1))
    ways[0, 0] = 1.0
    for rank in range(1, n_small + n_large + 1):
        ways[1:, rank:] = ways[1:, rank:] + ways[:-1, :-rank]
    counts = ways[n_small, smallest:]
    counts.flags.writeable = False
    return counts


def _wilcoxon_exact_p(w: float, n_x: int, n_y: int) -> float:
    """R's two-sided exact p: ``min(1, 2 P(W >= w))`` if ``w > n_x n_y / 2``, else
    ``min(1, 2 P(W <= w))``, with ``W``'s null distribution from :func:`_rank_sum_counts`."""
    counts = _rank_sum_counts(min(n_x, n_y), max(n_x, n_y))
    w = int(round(w))
    if w > n_x * n_y / 2:
        tail = counts[w:].sum()
    else:
        tail = counts[:w + 1].sum()
    return float(min(1.0, 2 * tail / counts.sum()))


def wilcoxon_rank_sum(x, y, exact: bool | None = None, correct: bool = True) -> TestResult:
    """Wilcoxon rank-sum (Mann–Whitney U) test, two-sided, as R's ``wilcox.test(x, y)``.

    ``W = sum of the ranks of x - n_x (n_x + 1) / 2`` (ties get average ranks). The p-value is
    exact when ``exact`` is true, or ``None`` and both samples have fewer than 50 values, and
    there are no ties (and, unlike R, the sample sizes keep the exact distribution affordable:
    ``n (min(n_x, n_y) + 1) n_x n_y <= 2e8``). Otherwise the normal approximation is used:

    .. math::

        z = \\frac{W - n_x n_y / 2 - \\mathrm{sign}(W - n_x n_y / 2)\\, c}{\\sigma}, \\qquad
        \\sigma^2 = \\frac{n_x n_y}{12}\\left(n_x + n_y + 1
            - \\frac{\\sum_k (t_k^3 - t_k)}{(n_x + n_y)(n_x + n_y - 1)}\\right),

    with continuity correction ``c = 0.5`` if ``correct`` (else 0), tie-group sizes ``t_k``,
    and ``p = 2 min(Phi(z), 1 - Phi(z))``.

    Returns
    -------
    TestResult
        ``statistic`` is ``W``; ``note`` says whether the p-value is exact or approximate.
    """
    x, y = _sample(x, "x"), _sample(y, "y")
    if len(x) == 0 or len(y) == 0:
        raise StatisticsError(f"not enough observations for a rank-sum test "
                              f"(x: {len(x)}, y: {len(y)})")
    n_x, n_y = len(x), len(y)
    w, tie_sizes = _rank_sum_statistic(x, y)
    if exact is None:
        exact = n_x < WILCOXON_EXACT_MAX_N and n_y < WILCOXON_EXACT_MAX_N
    has_ties = bool((tie_sizes > 1).any())
    n = n_x + n_y
    too_large = n * (min(n_x, n_y) + 1) * n_x * n_y > _WILCOXON_EXACT_MAX_WORK
    if exact and not has_ties and not too_large:
        return TestResult(method=WILCOXON_METHOD, p_value=_wilcoxon_exact_p(w, n_x, n_y),
                          statistic=w, note="exact p-value")
    sigma = np.sqrt(n_x * n_y / 12 * (n + 1 - _tie_sum(tie_sizes) / (n * (n - 1))))
    centred = w - n_x * n_y / 2
    note = "normal approximation" + (" with continuity correction" if correct else "")
    if exact:
        note += ("; exact p-value not available with ties" if has_ties
                 else "; exact p-value too costly for these sample sizes")
    if sigma == 0:
        return TestResult(method=WILCOXON_METHOD, p_value=float("nan"), statistic=w,
                          note="not computable: all values are tied")
    z = (centred - (np.sign(centred) * 0.5 if correct else 0.0)) / sigma
    return TestResult(method=WILCOXON_METHOD, p_value=float(2 * ndtr(-abs(z))), statistic=w,
                      note=note)


# --------------------------------------------------------------------------------------------
# k samples


def kruskal_test(groups) -> TestResult:
    """Kruskal–Wallis rank-sum test, as R's ``kruskal.test``.

    With average ranks over all ``n`` values, rank sums ``R_g`` and sizes ``n_g``,

    .. math:: H = \\frac{\\frac{12}{n(n+1)} \\sum_g R_g^2 / n_g - 3(n+1)}
                       {1 - \\sum_k (t_k^3 - t_k) / (n^3 - n)}, \\qquad df = k - 1,

    and ``p = P(chi2_df > H)``. If all values are tied, ``H`` is undefined: ``p`` is ``nan``.

    Parameters
    ----------
    groups : sequence of array_like
        The values of each group (at least 2 groups, each non-empty).
    """
    samples = _samples(groups)
    values = np.concatenate(samples)
    n = len(values)
    ranks, tie_sizes = _average_ranks(values)
    group_of = np.repeat(np.arange(len(samples)), [len(s) for s in samples])
    rank_sums = np.bincount(group_of, weights=ranks)
    sizes = np.bincount(group_of)
    df = len(samples) - 1
    tie_correction = 1 - _tie_sum(tie_sizes) / (float(n) ** 3 - n)
    if tie_correction <= 0:
        return TestResult(method=KRUSKAL_METHOD, p_value=float("nan"), df=float(df),
                          note="not computable: all values are tied")
    statistic = float((12 * np.sum(rank_sums ** 2 / sizes) / (n * (n + 1)) - 3 * (n + 1))
                      / tie_correction)
    return TestResult(method=KRUSKAL_METHOD, p_value=float(chi2_sf(statistic, df)),
                      statistic=statistic, df=float(df))


def anova_oneway(groups) -> TestResult:
    """One-way analysis of variance F test, as R's ``anova(lm(y ~ group))`` / ``aov``.

    .. math:: F = \\frac{\\sum_g n_g (\\bar y_g - \\bar y)^2 / (k - 1)}
                       {\\sum_g \\sum_i (y_{gi} - \\bar y_g)^2 / (n - k)},

    ``p = P(F_{k-1, n-k} > F)``. ``df`` holds ``k - 1``; ``note`` gives ``n - k``.

    Raises
    ------
    StatisticsError
        Fewer than 2 groups, an empty group, no residual degrees of freedom (``n = k``), or
        no variation within groups.
    """
    samples = _samples(groups)
    n, k = sum(len(s) for s in samples), len(samples)
    if n <= k:
        raise StatisticsError(f"one-way ANOVA needs more observations ({n}) than groups ({k})")
    means = np.array([s.mean() for s in samples])
    sizes = np.array([len(s) for s in samples])
    grand_mean = np.sum(sizes * means) / n
    between = float(np.sum(sizes * (means - grand_mean) ** 2))
    within = float(sum(np.sum((s - m) ** 2) for s, m in zip(samples, means)))
    if within == 0:
        raise StatisticsError("no variation within groups: the F test is not defined")
    statistic = (between / (k - 1)) / (within / (n - k))
    return TestResult(method=ANOVA_METHOD,
                      p_value=float(f_sf(statistic, k - 1, n - k)),
                      statistic=float(statistic), df=float(k - 1),
                      note=f"F on {k - 1} and {n - k} degrees of freedom")


# --------------------------------------------------------------------------------------------
# Standardised differences


def smd_continuous(x, y) -> float:
    """Standardised mean difference of a continuous variable (Cohen's d, average variance).

    .. math:: d = \\frac{\\bar x - \\bar y}{\\sqrt{(s_x^2 + s_y^2) / 2}}

    Signed (``x`` minus ``y``); Table 1 usually shows ``|d|``.

    Raises
    ------
    StatisticsError
        Fewer than 2 values in a group, or no variation in either group.
    """
    x, y = _sample(x, "x"), _sample(y, "y")
    if len(x) < 2 or len(y) < 2:
        raise StatisticsError(f"a standardised difference needs 2 values per group "
                              f"(x: {len(x)}, y: {len(y)})")
    pooled = np.sqrt((np.var(x, ddof=1) + np.var(y, ddof=1)) / 2)
    if pooled == 0:
        raise StatisticsError("no variation in either group: the standardised difference "
                              "is not defined")
    return float((np.mean(x) - np.mean(y)) / pooled)


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
