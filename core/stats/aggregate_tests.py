"""The tests and differences of a Table 1 as functions of small aggregates.

Every continuous test of Table 1 needs only a few numbers per group: the t tests, one-way
ANOVA, the standardised mean difference and Welch's interval need each group's size, mean
and sum of squared deviations (:class:`Moments`); the Wilcoxon rank-sum and Kruskal–Wallis
tests need each group's sum of average ranks and the tie sizes of the pooled sample
(:class:`RankSums`). :mod:`cohortpress.stats.comparisons` computes those aggregates from
arrays and calls these functions; the engine path (:mod:`cohortpress.data.engine`) computes
them in SQL and calls the same functions, so the two paths share every formula.

Each function reproduces the R function named in its docstring (``stats`` package).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.special import ndtr

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult
from cohortpress.stats.distributions import chi2_sf, f_sf, t_sf

__all__ = ["Moments", "RankSums", "WELCH_METHOD", "STUDENT_METHOD", "WILCOXON_METHOD",
           "KRUSKAL_METHOD", "ANOVA_METHOD", "WILCOXON_EXACT_MAX_N", "t_test_from_moments",
           "wilcoxon_from_statistic", "kruskal_from_rank_sums", "anova_from_moments",
           "smd_from_moments", "moments_from_deviation_sums", "tie_sum",
           "rank_sums_from_value_counts", "order_statistics_from_value_counts"]

WELCH_METHOD = "Welch two-sample t-test"
STUDENT_METHOD = "Two-sample t-test"
WILCOXON_METHOD = "Wilcoxon rank-sum (Mann–Whitney U) test"
KRUSKAL_METHOD = "Kruskal–Wallis test"
ANOVA_METHOD = "One-way ANOVA"

WILCOXON_EXACT_MAX_N = 50
"""R's rule: the exact Wilcoxon p-value is used when both samples have fewer observations."""

_WILCOXON_EXACT_MAX_WORK = 200_000_000
"""Beyond this many steps (``n (m + 1) m n'``) an explicitly requested exact p is not computed."""


@dataclass(frozen=True)
class Moments:
    """The size, mean and sum of squared deviations of one group's known values.

    Attributes
    ----------
    n : int
        Number of values.
    mean : float
        Their mean.
    sum_of_squares : float
        ``sum((x - mean)^2)``.
    """

    n: int
    mean: float
    sum_of_squares: float

    @property
    def var(self) -> float:
        """The variance (denominator ``n - 1``); 0 for a single value (as R's t.test
        treats a one-value group of the pooled test)."""
        return self.sum_of_squares / (self.n - 1) if self.n > 1 else 0.0


@dataclass(frozen=True)
class RankSums:
    """Average ranks over the pooled groups, summed by group.

    Attributes
    ----------
    sums : numpy.ndarray
        Each group's sum of (average) ranks of its values in the pooled sample.
    sizes : numpy.ndarray
        Each group's number of values.
    tie_sum : float
        ``sum(t^3 - t)`` over the groups of equal values (size ``t``) of the pooled sample.
    has_ties : bool
        Whether two values of the pooled sample are equal.
    """

    sums: np.ndarray
    sizes: np.ndarray
    tie_sum: float
    has_ties: bool


def moments_from_deviation_sums(n: int, first: float, sum_deviations: float,
                                sum_squared_deviations: float) -> tuple[float, float]:
    """The mean and ``sum((x - mean)^2)`` from the sums of deviations ``d = x - first`` about
    a first estimate of the mean (R's two-pass mean, ``first + sum(d)/n``; the sum of squares
    ``sum(d^2) - sum(d)^2/n`` about that refined mean).

    Parameters
    ----------
    n : int
        Number of values (at least 1).
    first : float
        The first pass's mean, ``sum(x)/n``.
    sum_deviations, sum_squared_deviations : float
        ``sum(d)`` and ``sum(d^2)``.
    """
    return (float(first + sum_deviations / n),
            float(sum_squared_deviations - sum_deviations ** 2 / n))


def tie_sum(tie_sizes: np.ndarray) -> float:
    """``sum(t^3 - t)`` over the groups of equal values (size ``t``, in value order)."""
    sizes = np.asarray(tie_sizes).astype(np.float64)
    return float(np.sum(sizes ** 3 - sizes))


def rank_sums_from_value_counts(counts: np.ndarray) -> RankSums:
    """:class:`RankSums` of some groups from each distinct value's count in each group.

    Parameters
    ----------
    counts : numpy.ndarray
        Shape ``(values, groups)``, rows in ascending order of the distinct values.

    Notes
    -----
    A value seen ``t`` times with ``b`` smaller values has the average rank
    ``b + (t + 1)/2``; twice the rank sums, ``sum c (2 b + t + 1)``, are whole numbers,
    summed exactly (Python integers beyond ``2^31`` observations, where ``int64`` could
    overflow). The tie sum is :func:`tie_sum` of the pooled counts in value order, as the
    in-memory path computes it from the sorted values.
    """
    counts = np.asarray(counts, dtype=np.int64)
    pooled = counts.sum(axis=1)
    counts, pooled = counts[pooled > 0], pooled[pooled > 0]
    if pooled.sum() > 2**31:
        counts, pooled = counts.astype(object), pooled.astype(object)
    below = np.cumsum(pooled) - pooled
    twice = (counts * (2 * below + pooled + 1)[:, None]).sum(axis=0)
    return RankSums(sums=np.array([float(v) / 2 for v in twice]),
                    sizes=np.array([int(v) for v in counts.sum(axis=0)]),
                    tie_sum=tie_sum(pooled),
                    has_ties=bool(len(pooled) and max(pooled) > 1))


def order_statistics_from_value_counts(values: np.ndarray, counts: np.ndarray,
                                       ranks) -> dict[int, float]:
    """``{rank: value}``: the order statistics of ``ranks`` (1-based) of a sample given as
    its distinct ``values`` in ascending order and their ``counts``; the value of rank
    ``r`` is the first one whose running count reaches ``r``."""
    upto = np.cumsum(np.asarray(counts, dtype=np.int64))
    return {int(r): float(values[int(np.searchsorted(upto, r, side="left"))]) for r in ranks}


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


def t_test_from_moments(x: Moments, y: Moments, equal_var: bool = False) -> TestResult:
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
    minimum = 1 if equal_var else 2
    if x.n < minimum or y.n < minimum or x.n + y.n < 3:
        raise StatisticsError(f"not enough observations for a t-test (x: {x.n}, y: {y.n})")
    share_x, share_y = x.var / x.n, y.var / y.n
    if equal_var:
        df = x.n + y.n - 2.0
        pooled = ((x.n - 1) * x.var + (y.n - 1) * y.var) / df
        standard_error = np.sqrt(pooled * (1 / x.n + 1 / y.n))
    else:
        standard_error = np.sqrt(share_x + share_y)
    if standard_error == 0 or \
            standard_error < 10 * np.finfo(float).eps * max(abs(x.mean), abs(y.mean)):
        raise StatisticsError("data are essentially constant: the t-test is not defined")
    if not equal_var:
        df = standard_error ** 4 / (share_x ** 2 / (x.n - 1) + share_y ** 2 / (y.n - 1))
    t = (x.mean - y.mean) / standard_error
    return TestResult(method=STUDENT_METHOD if equal_var else WELCH_METHOD,
                      p_value=float(2 * t_sf(abs(t), df)),
                      statistic=float(t), df=float(df))


def wilcoxon_from_statistic(w: float, n_x: int, n_y: int, tie_sum: float, has_ties: bool,
                            exact: bool | None = None, correct: bool = True) -> TestResult:
    """Wilcoxon rank-sum (Mann–Whitney U) test, two-sided, as R's ``wilcox.test(x, y)``,
    from ``W = sum of the ranks of x - n_x (n_x + 1) / 2`` and the tie sizes.

    The p-value is exact when ``exact`` is true, or ``None`` and both samples have fewer
    than 50 values, and there are no ties (and, unlike R, the sample sizes keep the exact
    distribution affordable: ``n (min(n_x, n_y) + 1) n_x n_y <= 2e8``). Otherwise the normal
    approximation is used:

    .. math::

        z = \\frac{W - n_x n_y / 2 - \\mathrm{sign}(W - n_x n_y / 2)\\, c}{\\sigma}, \\qquad
        \\sigma^2 = \\frac{n_x n_y}{12}\\left(n_x + n_y + 1
            - \\frac{\\sum_k (t_k^3 - t_k)}{(n_x + n_y)(n_x + n_y - 1)}\\right),

    with continuity correction ``c = 0.5`` if ``correct`` (else 0), tie-group sizes ``t_k``
    (``tie_sum`` is the sum), and ``p = 2 min(Phi(z), 1 - Phi(z))``.
    """
    if n_x == 0 or n_y == 0:
        raise StatisticsError(f"not enough observations for a rank-sum test "
                              f"(x: {n_x}, y: {n_y})")
    if exact is None:
        exact = n_x < WILCOXON_EXACT_MAX_N and n_y < WILCOXON_EXACT_MAX_N
    n = n_x + n_y
    too_large = n * (min(n_x, n_y) + 1) * n_x * n_y > _WILCOXON_EXACT_MAX_WORK
    if exact and not has_ties and not too_large:
        return TestResult(method=WILCOXON_METHOD, p_value=_wilcoxon_exact_p(w, n_x, n_y),
                          statistic=w, note="exact p-value")
    sigma = np.sqrt(n_x * n_y / 12 * (n + 1 - tie_sum / (n * (n - 1))))
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


def kruskal_from_rank_sums(ranks: RankSums) -> TestResult:
    """Kruskal–Wallis rank-sum test, as R's ``kruskal.test``, from rank sums.

    With average ranks over all ``n`` values, rank sums ``R_g`` and sizes ``n_g``,

    .. math:: H = \\frac{\\frac{12}{n(n+1)} \\sum_g R_g^2 / n_g - 3(n+1)}
                       {1 - \\sum_k (t_k^3 - t_k) / (n^3 - n)}, \\qquad df = k - 1,

    and ``p = P(chi2_df > H)``. If all values are tied, ``H`` is undefined: ``p`` is ``nan``.
    """
    sums = np.asarray(ranks.sums, dtype=float)
    sizes = np.asarray(ranks.sizes, dtype=float)
    if len(sizes) < 2:
        raise StatisticsError(f"at least 2 groups are needed; got {len(sizes)}")
    for index, size in enumerate(sizes):
        if size < 1:
            raise StatisticsError(f"group {index + 1} has 0 non-missing values; at least 1 "
                                  f"needed")
    n = int(sizes.sum())
    df = len(sizes) - 1
    tie_correction = 1 - ranks.tie_sum / (float(n) ** 3 - n)
    if tie_correction <= 0:
        return TestResult(method=KRUSKAL_METHOD, p_value=float("nan"), df=float(df),
                          note="not computable: all values are tied")
    statistic = float((12 * np.sum(sums ** 2 / sizes) / (n * (n + 1)) - 3 * (n + 1))
                      / tie_correction)
    return TestResult(method=KRUSKAL_METHOD, p_value=float(chi2_sf(statistic, df)),
                      statistic=statistic, df=float(df))


def anova_from_moments(groups: Sequence[Moments]) -> TestResult:
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
    if len(groups) < 2:
        raise StatisticsError(f"at least 2 groups are needed; got {len(groups)}")
    for index, group in enumerate(groups):
        if group.n < 1:
            raise StatisticsError(f"group {index + 1} has 0 non-missing values; at least 1 "
                                  f"needed")
    n, k = sum(g.n for g in groups), len(groups)
    if n <= k:
        raise StatisticsError(f"one-way ANOVA needs more observations ({n}) than groups ({k})")
    means = np.array([g.mean for g in groups])
    sizes = np.array([g.n for g in groups])
    grand_mean = np.sum(sizes * means) / n
    between = float(np.sum(sizes * (means - grand_mean) ** 2))
    within = float(sum(g.sum_of_squares for g in groups))
    if within == 0:
        raise StatisticsError("no variation within groups: the F test is not defined")
    statistic = (between / (k - 1)) / (within / (n - k))
    return TestResult(method=ANOVA_METHOD,
                      p_value=float(f_sf(statistic, k - 1, n - k)),
                      statistic=float(statistic), df=float(k - 1),
                      note=f"F on {k - 1} and {n - k} degrees of freedom")


def smd_from_moments(x: Moments, y: Moments) -> float:
    """Standardised mean difference (Cohen's d, average variance), signed ``x`` minus ``y``.

    .. math:: d = \\frac{\\bar x - \\bar y}{\\sqrt{(s_x^2 + s_y^2) / 2}}

    Raises
    ------
    StatisticsError
        Fewer than 2 values in a group, or no variation in either group.
    """
    if x.n < 2 or y.n < 2:
        raise StatisticsError(f"a standardised difference needs 2 values per group "
                              f"(x: {x.n}, y: {y.n})")
    pooled = np.sqrt((x.var + y.var) / 2)
    if pooled == 0:
        raise StatisticsError("no variation in either group: the standardised difference "
                              "is not defined")
    return float((x.mean - y.mean) / pooled)
