"""Descriptive summaries for "Table 1", vectorised for columns of millions of rows.

Continuous values are summarised as R would: ``mean``, ``sd``, ``median`` and the quartiles of
``quantile(type = 7)``, R's default, or of any of R's nine quantile types
(:func:`quantile_of_sorted`; type 2 is SAS's default and gtsummary's). Categorical values are integer codes, counted with
``numpy.bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.aggregate_tests import moments_from_deviation_sums
from cohortpress.stats.common import float_vector


@dataclass(frozen=True)
class ContinuousSummary:
    """Summary of the non-missing values of a continuous variable.

    Attributes
    ----------
    n, n_miss : int
        Number of non-missing and of missing (``NaN``) values.
    mean, sd : float
        Mean and standard deviation (denominator ``n - 1``; ``nan`` when ``n = 1``).
    median, p25, p75 : float
        Median and quartiles (R's ``quantile`` type 7).
    min, max : float
        Smallest and largest value.
    """

    n: int
    n_miss: int
    mean: float
    sd: float
    median: float
    p25: float
    p75: float
    min: float
    max: float


@dataclass(frozen=True)
class CategoricalCounts:
    """Counts of the levels of a categorical variable.

    Attributes
    ----------
    counts : tuple of int
        Count of each level, in level order.
    n, n_miss : int
        Number of non-missing and of missing values.
    """

    counts: tuple[int, ...]
    n: int
    n_miss: int

    @property
    def proportions(self) -> tuple[float, ...]:
        """Share of each level among the non-missing values (``nan`` if there are none)."""
        return tuple(count / self.n if self.n else float("nan") for count in self.counts)


def _mean_and_sum_of_squares(values: np.ndarray) -> tuple[float, float]:
    """Mean and ``sum((x - mean)^2)`` from one pass of deviations ``d = x - s/n``
    (:func:`~cohortpress.stats.aggregate_tests.moments_from_deviation_sums`, which the engine
    path calls with the same sums computed in SQL)."""
    n = len(values)
    first = values.sum() / n
    deviations = values - first
    return moments_from_deviation_sums(n, first, deviations.sum(), deviations @ deviations)


def _quantile_type7(ordered_at, n: int, probability: float) -> float:
    """R's ``quantile(type = 7)``: ``h = 1 + (n - 1) p``; ``(1 - f) x[lo] + f x[hi]``.

    ``ordered_at(k)`` is the ``k``-th smallest value, 1-based.

    ``numpy.quantile(method="linear")`` is the same estimator and agrees to a few ulps
    (``tests/test_stats_summaries.py`` checks 1e-12), but it is not used: it partitions its
    own copy of the data, so the summary would sort twice (once more for R's median), and
    at a million rows that made it about 1.5 times slower than reading the quartiles from
    the one partial sort :func:`continuous_summary` does anyway. The weights are written as
    R writes them, which numpy's interpolation does not do bit for bit.
    """
    index = 1 + (n - 1) * probability
    low, high = int(np.floor(index)), int(np.ceil(index))
    at_low = ordered_at(low)
    fraction = index - low
    if index > low and ordered_at(high) != at_low:
        return float((1 - fraction) * at_low + fraction * ordered_at(high))
    return float(at_low)


def _quartile_ranks(n: int) -> list[int]:
    """1-based order statistics needed for the quartiles and the median."""
    ranks = {(n + 1) // 2, (n + 2) // 2}
    for probability in (0.25, 0.75):
        index = 1 + (n - 1) * probability
        ranks.update((int(np.floor(index)), int(np.ceil(index))))
    return sorted(ranks)


#: R's ``quantile`` types 4 to 9 as ``(a, b)``: ``h = a + p (n + 1 - a - b)`` (1-based).
_CONTINUOUS_TYPES = {4: (0.0, 1.0), 5: (0.5, 0.5), 6: (0.0, 0.0), 7: (1.0, 1.0),
                     8: (1 / 3, 1 / 3), 9: (3 / 8, 3 / 8)}
#: R's tolerance for a position that is a whole number up to rounding.
_FUZZ = 4 * np.finfo(float).eps


def quantile_of_sorted(ordered: np.ndarray, probability: float, quantile_type: int = 7) -> float:
    """R's ``quantile(x, probability, type = quantile_type)`` of sorted values.

    Hyndman and Fan's nine definitions, as R computes them. Types 1–3 are step functions of
    ``n p`` (``n p - 1/2`` for type 3): with ``j = floor(n p)`` and ``g = n p - j``, type 1
    takes ``x[j + 1]`` when ``g > 0`` else ``x[j]``, type 2 the same but the mean of
    ``x[j]`` and ``x[j + 1]`` when ``g = 0``, type 3 the nearest even order statistic.
    Types 4–9 interpolate linearly at ``h = a + p (n + 1 - a - b)`` between ``x[floor(h)]``
    and ``x[floor(h) + 1]`` (``a, b``: 0, 1; 1/2, 1/2; 0, 0; 1, 1; 1/3, 1/3; 3/8, 3/8).
    Positions within R's fuzz (``4 eps``) of a whole number count as whole, and positions
    outside ``1..n`` take the extreme values, as in R.

    Parameters
    ----------
    ordered : numpy.ndarray
        The non-missing values, sorted ascending (at least one).
    probability : float
        In [0, 1].
    quantile_type : int
        1 to 9.

    Returns
    -------
    float
    """
    low, high, weight = quantile_position(len(ordered), probability, quantile_type)
    return quantile_from_order_statistics(ordered[low - 1], ordered[high - 1], weight)


def quantile_position(n: int, probability: float, quantile_type: int = 7
                      ) -> tuple[int, int, float]:
    """Where R's ``quantile(type = quantile_type)`` of ``n`` sorted values reads: the ranks
    (1-based, clamped to ``1..n``) of the two order statistics it combines and the weight
    of the second (:func:`quantile_of_sorted` describes the rule). The engine path fetches
    those two order statistics and calls :func:`quantile_from_order_statistics`."""
    if quantile_type in (1, 2, 3):
        position = n * probability - (0.5 if quantile_type == 3 else 0.0)
        j = int(np.floor(position + _FUZZ))
        if quantile_type == 1:
            weight = 1.0 if position > j else 0.0
        elif quantile_type == 2:
            weight = 1.0 if position > j else 0.5
        else:
            weight = 1.0 if (position != j or j % 2 == 1) else 0.0
    else:
        a, b = _CONTINUOUS_TYPES[quantile_type]
        position = a + probability * (n + 1 - a - b)
        j = int(np.floor(position + _FUZZ))
        weight = position - j
        if abs(weight) < _FUZZ:
            weight = 0.0
    # R pads x as (x1, x1, x..., xn, xn) and reads x[j + 2], x[j + 3] (1-based): order
    # statistics j and j + 1, clamped to 1..n.
    return min(max(j, 1), n), min(max(j + 1, 1), n), weight


def quantile_from_order_statistics(low: float, high: float, weight: float) -> float:
    """R's combination of the two order statistics a quantile reads
    (:func:`quantile_position`)."""
    if weight == 1:
        return float(high)
    if 0 < weight < 1 and low != high:
        return float((1 - weight) * low + weight * high)
    return float(low)


def quartile_ranks(n: int, quantile_type: int = 7) -> list[int]:
    """The order statistics (1-based ranks) :func:`quartiles_from_order_statistics` reads
    for ``n`` values."""
    if quantile_type == 7:
        return _quartile_ranks(n)
    ranks = {(n + 1) // 2, (n + 2) // 2}
    for probability in (0.25, 0.75):
        ranks.update(quantile_position(n, probability, quantile_type)[:2])
    return sorted(ranks)


def quartiles_from_order_statistics(ordered_at, n: int, quantile_type: int = 7
                                    ) -> tuple[float, float, float]:
    """R's median and the quartiles of ``quantile_type`` from order statistics:
    ``ordered_at(k)`` is the ``k``-th smallest of the ``n`` values (1-based), asked only at
    the ranks :func:`quartile_ranks` gives. The in-memory summary reads them from a partial
    sort, the engine path from its table of distinct values and their counts."""
    middle = (n + 1) // 2
    median = ordered_at(middle) if n % 2 else (ordered_at(middle) + ordered_at(middle + 1)) / 2
    if quantile_type == 7:
        p25, p75 = _quantile_type7(ordered_at, n, 0.25), _quantile_type7(ordered_at, n, 0.75)
    else:
        p25, p75 = (quantile_from_order_statistics(ordered_at(low), ordered_at(high), weight)
                    for low, high, weight in (quantile_position(n, p, quantile_type)
                                              for p in (0.25, 0.75)))
    return float(median), p25, p75


def summary_from_aggregates(n: int, n_miss: int, mean: float, sum_of_squares: float,
                            median: float, p25: float, p75: float, smallest: float,
                            largest: float) -> ContinuousSummary:
    """A :class:`ContinuousSummary` from its aggregates (the SD from the sum of squared
    deviations, ``nan`` for one value), as :func:`continuous_summary` and the engine path
    build it."""
    sd = float(np.sqrt(max(0.0, sum_of_squares) / (n - 1))) if n > 1 else float("nan")
    return ContinuousSummary(n=n, n_miss=n_miss, mean=mean, sd=sd, median=float(median),
                             p25=p25, p75=p75, min=smallest, max=largest)


def continuous_summary(values, quantile_type: int = 7) -> ContinuousSummary:
    """Summarise a continuous column: n, missing, mean, sd, median, quartiles, range.

    .. math::

        \\bar x = \\frac{1}{n}\\sum_i x_i, \\qquad
        s = \\sqrt{\\frac{1}{n-1}\\sum_i (x_i - \\bar x)^2}, \\qquad
        Q(p) = (1 - f)\\, x_{(\\lfloor h \\rfloor)} + f\\, x_{(\\lceil h \\rceil)},
        \\; h = 1 + (n - 1)p, \\; f = h - \\lfloor h \\rfloor

    (R's type 7); the median is R's ``median`` (mean of the two middle values when ``n`` is
    even) whatever the quantile type. One in-place partial sort (``numpy.partition``) finds
    the order statistics needed; another quantile type sorts the values
    (:func:`quantile_of_sorted`).

    Parameters
    ----------
    values : array_like
        1-D numbers; ``NaN`` marks a missing value.
    quantile_type : int, optional
        R's ``quantile`` type (1 to 9) of the quartiles ``p25`` and ``p75``; default 7.

    Returns
    -------
    ContinuousSummary

    Raises
    ------
    StatisticsError
        If there is no non-missing value, a value is infinite, or the quantile type is not
        1 to 9.
    """
    if quantile_type not in range(1, 10):
        raise StatisticsError(f"quantile type must be 1 to 9 (as R's quantile); "
                              f"got {quantile_type}")
    array = float_vector(values)
    missing = np.isnan(array)
    present = array[~missing]  # a copy: partitioned in place below
    n = len(present)
    if n == 0:
        raise StatisticsError("no non-missing values to summarise")
    smallest, largest = float(present.min()), float(present.max())
    if np.isinf(smallest) or np.isinf(largest):
        raise StatisticsError("values contain infinities")
    mean, sum_of_squares = _mean_and_sum_of_squares(present)
    present.partition([rank - 1 for rank in _quartile_ranks(n)])

    def ordered_at(rank: int) -> float:
        return present[rank - 1]

    if quantile_type != 7:
        present.sort()
    median, p25, p75 = quartiles_from_order_statistics(ordered_at, n, quantile_type)
    return summary_from_aggregates(int(n), int(missing.sum()), mean, sum_of_squares, median,
                                   p25, p75, smallest, largest)


def _codes(codes, name: str, n_levels: int) -> np.ndarray:
    """Integer codes with ``-1`` for missing (negative integers or ``NaN`` on input)."""
    array = np.asarray(codes)
    if array.ndim != 1:
        raise StatisticsError(f"{name} must be a 1-D array; got {array.ndim} dimensions")
    if np.issubdtype(array.dtype, np.floating):
        missing = np.isnan(array)
        if np.any(array[~missing] != np.round(array[~missing])):
            raise StatisticsError(f"{name} must be whole numbers")
        array = np.where(missing, -1, array).astype(np.int64)
    elif not np.issubdtype(array.dtype, np.integer):
        raise StatisticsError(f"{name} must be integer codes")
    if n_levels < 1:
        raise StatisticsError(f"the number of levels must be at least 1; got {n_levels}")
    if len(array) and array.max() >= n_levels:
        raise StatisticsError(f"{name} has code {int(array.max())}, beyond the "
                              f"{n_levels} levels (codes run from 0)")
    return array


def categorical_counts(codes, n_levels: int) -> CategoricalCounts:
    """Count the levels of a categorical column.

    Parameters
    ----------
    codes : array_like of int
        Level codes ``0 .. n_levels - 1``; a negative code (or ``NaN`` in a float array)
        marks a missing value.
    n_levels : int
        Number of levels (levels with no observation get a count of 0).

    Returns
    -------
    CategoricalCounts
    """
    array = _codes(codes, "codes", n_levels)
    present = array[array >= 0]
    counts = np.bincount(present, minlength=n_levels)
    return CategoricalCounts(counts=tuple(int(c) for c in counts), n=len(present),
                             n_miss=len(array) - len(present))


def contingency_table(codes, group_codes, n_levels: int, n_groups: int) -> np.ndarray:
    """Cross-tabulate level codes by group codes (rows = levels, columns = groups).

    A pair counts only when both codes are present (non-negative). One ``numpy.bincount`` on
    ``code * n_groups + group``.

    Returns
    -------
    numpy.ndarray
        ``int64`` array of shape ``(n_levels, n_groups)``, ready for the tests in
        :mod:`cohortpress.stats.comparisons`.
    """
    levels = _codes(codes, "codes", n_levels)
    groups = _codes(group_codes, "group codes", n_groups)
    if len(levels) != len(groups):
        raise StatisticsError(f"codes and group codes differ in length "
                              f"({len(levels)} and {len(groups)})")
    both = (levels >= 0) & (groups >= 0)
    cells = np.bincount(levels[both] * n_groups + groups[both], minlength=n_levels * n_groups)
    return cells.reshape(n_levels, n_groups)
