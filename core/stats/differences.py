"""Differences between two groups with confidence intervals, for Table 1's difference column.

As gtsummary's ``add_difference`` shows them: for a continuous variable the difference in
means with Welch's interval (R ``t.test(x, y)``); for a binary one the difference in
proportions with the Wald interval, which is R's ``prop.test(c(k1, k2), c(n1, n2),
correct = FALSE)`` interval (no continuity correction). Weighted differences come from
:mod:`cohortpress.stats.survey`. Always group 1 minus group 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri
from scipy.stats import t as t_distribution

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import check_conf_level, float_vector

__all__ = ["WELCH_DIFFERENCE_METHOD", "WALD_DIFFERENCE_METHOD", "Difference",
           "mean_difference", "mean_difference_from_moments",
           "proportion_difference"]

WELCH_DIFFERENCE_METHOD = "difference in means, Welch's interval"
WALD_DIFFERENCE_METHOD = ("difference in proportions, Wald interval (prop.test without "
                          "continuity correction)")


@dataclass(frozen=True)
class Difference:
    """A difference between two groups (group 1 minus group 2) and its interval.

    Attributes
    ----------
    estimate, conf_low, conf_high : float
    conf_level : float
    method : str
        How the interval was computed, as a footnote states it.
    """

    estimate: float
    conf_low: float
    conf_high: float
    conf_level: float
    method: str


def mean_difference(x, y, conf_level: float = 0.95) -> Difference:
    """Difference in means with Welch's interval, as R ``t.test(x, y)$conf.int``.

    .. math:: \\bar x - \\bar y \\pm t_{\\nu, 1 - \\alpha/2}\\, \\sqrt{s_x^2/n_x + s_y^2/n_y},
              \\qquad \\nu = \\frac{(s_x^2/n_x + s_y^2/n_y)^2}
              {\\frac{(s_x^2/n_x)^2}{n_x - 1} + \\frac{(s_y^2/n_y)^2}{n_y - 1}}

    Raises
    ------
    StatisticsError
        Fewer than 2 values in a group, or no variation in either.
    """
    check_conf_level(conf_level)
    from cohortpress.stats.comparisons import sample_moments

    x, y = (_known(values, name) for values, name in ((x, "x"), (y, "y")))
    return mean_difference_from_moments(sample_moments(x), sample_moments(y), conf_level)


def mean_difference_from_moments(x, y, conf_level: float = 0.95) -> Difference:
    """:func:`mean_difference` from each group's size, mean and sum of squared deviations
    (:class:`~cohortpress.stats.aggregate_tests.Moments`), as the engine path computes them.

    Raises
    ------
    StatisticsError
        Fewer than 2 values in a group, or no variation in either.
    """
    check_conf_level(conf_level)
    if x.n < 2 or y.n < 2:
        raise StatisticsError(f"a difference in means needs 2 values per group (x: {x.n}, "
                              f"y: {y.n})")
    vx, vy = x.var / x.n, y.var / y.n
    se = np.sqrt(vx + vy)
    if se == 0:
        raise StatisticsError("no variation in either group: Welch's interval is not defined")
    df = (vx + vy) ** 2 / (vx ** 2 / (x.n - 1) + vy ** 2 / (y.n - 1))
    estimate = float(x.mean - y.mean)
    half = float(t_distribution.ppf(1 - (1 - conf_level) / 2, df) * se)
    return Difference(estimate, estimate - half, estimate + half, conf_level,
                      WELCH_DIFFERENCE_METHOD)


def proportion_difference(k1: float, n1: float, k2: float, n2: float,
                          conf_level: float = 0.95) -> Difference:
    """Difference in proportions with the Wald interval.

    .. math:: \\hat p_1 - \\hat p_2 \\pm z_{1-\\alpha/2}
              \\sqrt{\\hat p_1 (1 - \\hat p_1)/n_1 + \\hat p_2 (1 - \\hat p_2)/n_2},

    R's ``prop.test(c(k1, k2), c(n1, n2), correct = FALSE)$conf.int``, with the limits
    clipped to [-1, 1] as R clips them.

    Raises
    ------
    StatisticsError
        A group with no patients, or a count outside [0, n].
    """
    check_conf_level(conf_level)
    if n1 <= 0 or n2 <= 0:
        raise StatisticsError(f"a difference in proportions needs patients in both groups "
                              f"(n1 = {n1}, n2 = {n2})")
    if not (0 <= k1 <= n1 and 0 <= k2 <= n2):
        raise StatisticsError("counts must lie between 0 and the group's size")
    p1, p2 = k1 / n1, k2 / n2
    half = float(ndtri(1 - (1 - conf_level) / 2)
                 * np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2))
    estimate = float(p1 - p2)
    return Difference(estimate, max(estimate - half, -1.0), min(estimate + half, 1.0),
                      conf_level, WALD_DIFFERENCE_METHOD)


def _known(values, name: str) -> np.ndarray:
    array = float_vector(values, name)
    return array[~np.isnan(array)]
