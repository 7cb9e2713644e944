"""Weighted descriptive statistics for a survey- or IPT-weighted Table 1, as R ``survey``.

The weights are sampling or inverse-probability-of-treatment weights of a one-stage design
without strata or finite-population correction, R's ``svydesign(ids = ~1, weights = ~w)``.
Each estimator is the one ``survey`` 4.1 computes for such a design:

- counts and percentages, ``svytable``: the sum of the weights of each level;
- mean, ``svymean``: :math:`\\sum w x / \\sum w`;
- variance, ``svyvar``: :math:`\\frac{n}{n-1} \\sum w (x - \\bar x)^2 / \\sum w`, with
  :math:`n` the number of values with a non-zero weight;
- quantiles, ``svyquantile(qrule = "math")`` (its default): the smallest value at which
  the weighted distribution function reaches :math:`p`;
- standardised differences as ``tableone::svyCreateTableOne``: the means and variances
  above, and for a categorical variable Yang & Dalton's form on the weighted level shares
  (:func:`cohortpress.stats.comparisons.smd_categorical`).

The functions are written here rather than taken from statsmodels: its ``DescrStatsW``
computes a weighted variance with the divisor ``sum(w) - 1`` (frequency weights), not
``survey``'s, and the few lines of each estimator are easier to check against ``survey``'s
own code than a library's options. Design-based tests are in
:mod:`cohortpress.stats.survey`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import float_vector
from cohortpress.stats.comparisons import smd_categorical

__all__ = ["WeightedSummary", "check_weights", "weighted_counts", "weighted_mean",
           "weighted_variance", "weighted_quantile", "weighted_summary",
           "weighted_smd_continuous", "weighted_smd_categorical"]


@dataclass(frozen=True)
class WeightedSummary:
    """Weighted summary of the non-missing values of a continuous variable.

    Attributes
    ----------
    n, n_miss : int
        Number of non-missing and of missing values (patients, not weights).
    sum_weights, sum_weights_miss : float
        Sum of the weights of the non-missing and of the missing values.
    mean, sd : float
        Weighted mean and standard deviation (``svymean``, ``sqrt(svyvar)``).
    median, p25, p75 : float
        Weighted quantiles, ``svyquantile(qrule = "math")``.
    min, max : float
        Smallest and largest value with a non-zero weight.
    """

    n: int
    n_miss: int
    sum_weights: float
    sum_weights_miss: float
    mean: float
    sd: float
    median: float
    p25: float
    p75: float
    min: float
    max: float


def check_weights(weights, length: int | None = None) -> np.ndarray:
    """The weights as a float array: finite, non-negative and not all zero.

    Raises
    ------
    StatisticsError
        A missing, infinite or negative weight, no positive weight, or a length that is
        not ``length``.
    """
    w = float_vector(weights, "weights")
    if length is not None and len(w) != length:
        raise StatisticsError(f"weights: {len(w)} values for {length} observations")
    if not np.all(np.isfinite(w)):
        raise StatisticsError("weights must be finite numbers; some are missing or infinite")
    if np.any(w < 0):
        raise StatisticsError("weights must be >= 0; some are negative")
    if not np.any(w > 0):
        raise StatisticsError("weights: no observation has a positive weight")
    return w


def _values_and_weights(x, weights) -> tuple[np.ndarray, np.ndarray]:
    """Non-missing values with a positive weight, and those weights."""
    x = float_vector(x, "x")
    w = check_weights(weights, len(x))
    keep = ~np.isnan(x) & (w > 0)
    return x[keep], w[keep]


def weighted_counts(codes, n_levels: int, weights) -> tuple[np.ndarray, float]:
    """Sum of the weights of each level (``svytable``) and of the missing codes (-1).

    Parameters
    ----------
    codes : array_like of int
        Level codes ``0 .. n_levels - 1``; -1 for a missing value.
    n_levels : int
        Number of levels.
    weights : array_like of float
        One weight per code.

    Returns
    -------
    counts : ndarray of float, shape (n_levels,)
    missing : float
    """
    codes = np.asarray(codes, dtype=np.intp)
    w = check_weights(weights, len(codes))
    present = codes >= 0
    counts = np.bincount(codes[present], weights=w[present], minlength=n_levels)
    return counts[:n_levels].astype(float), float(w[~present].sum())


def weighted_mean(x, weights) -> float:
    """Weighted mean :math:`\\sum w x / \\sum w` (``svymean``) of the non-missing values."""
    x, w = _values_and_weights(x, weights)
    if len(x) == 0:
        raise StatisticsError("no value with a positive weight")
    return float(np.sum(w * x) / np.sum(w))


def weighted_variance(x, weights) -> float:
    """Weighted variance as ``survey::svyvar``.

    .. math:: s^2_w = \\frac{n}{n - 1}\\,\\frac{\\sum_i w_i (x_i - \\bar x_w)^2}{\\sum_i w_i}

    with :math:`n` the number of non-missing values with a positive weight; ``nan`` when
    :math:`n < 2`.
    """
    x, w = _values_and_weights(x, weights)
    n = len(x)
    if n < 2:
        return float("nan")
    mean = np.sum(w * x) / np.sum(w)
    return float(n / (n - 1) * np.sum(w * (x - mean) ** 2) / np.sum(w))


def weighted_quantile(x, weights, probability: float) -> float:
    """Weighted quantile, ``svyquantile(qrule = "math")``, survey's default rule.

    With the values sorted and :math:`W_k` the cumulative weight of the first :math:`k`,
    let :math:`k^*` be the last :math:`k` with :math:`W_k \\le p \\sum w` (1 if none). The
    quantile is :math:`x_{(k^*)}` when :math:`W_{k^*} = p \\sum w` exactly, and the next
    value :math:`x_{(k^* + 1)}` otherwise: the inverse of the weighted distribution
    function, without interpolation. One edge is survey's own and is kept so that the
    numbers match ``svyquantile``: when the smallest value alone carries more than
    :math:`p` of the weight, no :math:`W_k` is :math:`\\le p \\sum w`, :math:`k^* = 1`,
    and the result is the second smallest value, not the smallest.

    Parameters
    ----------
    x, weights : array_like of float
        Values (``NaN`` dropped) and their weights (zero weights dropped).
    probability : float
        In [0, 1].
    """
    x, w = _values_and_weights(x, weights)
    if len(x) == 0:
        raise StatisticsError("no value with a positive weight")
    if not 0 <= probability <= 1:
        raise StatisticsError(f"probability must be in [0, 1]; got {probability}")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cumulative = np.cumsum(w)
    total = cumulative[-1]
    below = np.flatnonzero(cumulative <= probability * total)
    low = below[-1] if below.size else 0
    high = min(low + 1, len(x) - 1)
    return float(x[low] if probability - cumulative[low] / total == 0 else x[high])


def weighted_summary(x, weights) -> WeightedSummary:
    """Weighted n, mean, SD, median, quartiles and range of a continuous column.

    Raises
    ------
    StatisticsError
        Invalid weights, or no non-missing value with a positive weight.
    """
    values = float_vector(x, "x")
    w = check_weights(weights, len(values))
    missing = np.isnan(values)
    kept, kept_w = _values_and_weights(values, w)
    if len(kept) == 0:
        raise StatisticsError("no value with a positive weight")
    return WeightedSummary(
        n=int((~missing).sum()), n_miss=int(missing.sum()),
        sum_weights=float(w[~missing].sum()), sum_weights_miss=float(w[missing].sum()),
        mean=weighted_mean(kept, kept_w), sd=float(np.sqrt(weighted_variance(kept, kept_w))),
        median=weighted_quantile(kept, kept_w, 0.5),
        p25=weighted_quantile(kept, kept_w, 0.25), p75=weighted_quantile(kept, kept_w, 0.75),
        min=float(kept.min()), max=float(kept.max()))


def weighted_smd_continuous(x1, w1, x2, w2) -> float:
    """Weighted standardised mean difference, as ``tableone::svyCreateTableOne``.

    .. math:: d = \\frac{\\bar x_{1,w} - \\bar x_{2,w}}{\\sqrt{(s^2_{1,w} + s^2_{2,w}) / 2}}

    with the weighted means and ``svyvar`` variances of :func:`weighted_variance`. Signed
    (group 1 minus group 2).

    Raises
    ------
    StatisticsError
        Fewer than 2 weighted values in a group, or no variation in either.
    """
    v1, v2 = weighted_variance(x1, w1), weighted_variance(x2, w2)
    if not (np.isfinite(v1) and np.isfinite(v2)):
        raise StatisticsError("a standardised difference needs 2 values with a positive "
                              "weight per group")
    pooled = np.sqrt((v1 + v2) / 2)
    if pooled == 0:
        raise StatisticsError("no variation in either group: the standardised difference "
                              "is not defined")
    return float((weighted_mean(x1, w1) - weighted_mean(x2, w2)) / pooled)


def weighted_smd_categorical(counts1, counts2) -> float:
    """Standardised difference of a categorical variable from weighted level counts.

    Yang & Dalton's multivariate form on the weighted shares, as ``tableone`` computes it
    from ``svytable``; see :func:`cohortpress.stats.comparisons.smd_categorical`.
    """
    return smd_categorical(counts1, counts2)
