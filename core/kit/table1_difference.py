"""The difference column of a two-group Table 1 (``add_difference = true``), as gtsummary's
``add_difference``: records first, then the cell text from the records alone.

Per row, group 1 minus group 2 with a 95% interval: a continuous row the difference in means
(Welch's interval, R ``t.test``), a binary row the difference in proportions (Wald interval,
R ``prop.test(correct = FALSE)``), shown in percentage points; a categorical row with more
than two levels has no single difference, and shows its SMD (Yang & Dalton), as gtsummary
does. In a weighted table the differences are design-based (``svyttest`` on the values or
on the level's indicator). The interval's method is recorded and stated in a footnote.
"""

from __future__ import annotations

import numpy as np

from cohortpress.api.results import Result
from cohortpress.common.errors import StatisticsError
from cohortpress.common.formatting import fmt_num
from cohortpress.kit.records import Records

__all__ = ["DIFFERENCE_HEADER", "WEIGHTED_MEAN_METHOD", "WEIGHTED_PROPORTION_METHOD",
           "SMD_METHOD", "continuous_difference", "proportion_difference_of",
           "difference_records", "difference_text", "difference_cell_text",
           "difference_footnote"]

DIFFERENCE_HEADER = "Difference (95% CI)"
WEIGHTED_MEAN_METHOD = "difference in weighted means, design-based interval (svyttest)"
WEIGHTED_PROPORTION_METHOD = ("difference in weighted proportions, design-based interval "
                              "(svyttest on the level's indicator)")
SMD_METHOD = "standardised mean difference (Yang & Dalton), no interval"


def continuous_difference(x1, x2, w1=None, w2=None):
    """Difference in means of two groups (weighted when weights are given), or ``None``
    when it cannot be computed (too few values, no variation)."""
    from cohortpress.stats.differences import Difference, mean_difference
    from cohortpress.stats.survey import weighted_t_test

    try:
        if w1 is None:
            return mean_difference(x1, x2)
        test = weighted_t_test(x1, w1, x2, w2)
    except StatisticsError:
        return None
    return Difference(test.estimate, test.conf_low, test.conf_high, 0.95, WEIGHTED_MEAN_METHOD)


def proportion_difference_of(in_level1, in_level2, w1=None, w2=None):
    """Difference in the proportion of a level between two groups, from boolean arrays of
    the patients with a known value (weighted when weights are given), or ``None``."""
    from cohortpress.stats.differences import Difference, proportion_difference

    try:
        if w1 is None:
            return proportion_difference(int(np.sum(in_level1)), len(in_level1),
                                         int(np.sum(in_level2)), len(in_level2))
        difference = continuous_difference(np.asarray(in_level1, float),
                                           np.asarray(in_level2, float), w1, w2)
    except StatisticsError:
        return None
    if difference is None:
        return None
    return Difference(difference.estimate, difference.conf_low, difference.conf_high, 0.95,
                      WEIGHTED_PROPORTION_METHOD)


def difference_records(variable: str, by: str, difference, kind: str,
                       digits: int) -> list[Result]:
    """The ``difference`` records of a row: ``estimate``, ``conf.low``, ``conf.high``,
    ``conf.level``, ``method`` and ``scale`` (``mean`` or ``proportion``); for a
    categorical row (``difference`` its SMD) ``estimate``, ``method`` and ``scale``
    ``smd``."""
    if difference is None:
        return [Result("difference", "not.computed", "too few values or no variation",
                       variable=variable, group=by)]
    if kind == "categorical":
        return [Result("difference", "estimate", difference, variable=variable, group=by,
                       formatted=f"{fmt_num(difference, 2)} (SMD)"),
                Result("difference", "method", SMD_METHOD, variable=variable, group=by),
                Result("difference", "scale", "smd", variable=variable, group=by)]
    scale = "proportion" if kind == "binary" else "mean"
    text = difference_text(difference.estimate, difference.conf_low, difference.conf_high,
                           scale, digits)
    where = dict(variable=variable, group=by)
    return [Result("difference", "estimate", difference.estimate, formatted=text, **where),
            Result("difference", "conf.low", difference.conf_low, **where),
            Result("difference", "conf.high", difference.conf_high, **where),
            Result("difference", "conf.level", difference.conf_level, **where),
            Result("difference", "method", difference.method, **where),
            Result("difference", "scale", scale, **where)]


def difference_text(estimate: float, low: float, high: float, scale: str,
                    digits: int) -> str:
    """``-0.4 (-2.1 to 1.3)``; proportions in percentage points, ``-3.6% (-10.7% to 3.5%)``."""
    if scale == "proportion":
        return (f"{fmt_num(100 * estimate, 1)}% ({fmt_num(100 * low, 1)}% to "
                f"{fmt_num(100 * high, 1)}%)")
    return f"{fmt_num(estimate, digits)} ({fmt_num(low, digits)} to {fmt_num(high, digits)})"


def difference_cell_text(records: Records, variable: str, by: str | None) -> str:
    """The difference column's text of a row, from its records: the difference with its
    interval, a categorical row's SMD, or a dash."""
    where = dict(context="difference", variable=variable, group=by)
    if records.stat(stat_name="not.computed", **where) is not None:
        return "\u2013"
    estimate = records.one(stat_name="estimate", **where)
    return "" if estimate is None else estimate.formatted


def difference_footnote(records: Records, by: str | None, groups: list[str]) -> str | None:
    """What the difference column shows: which group minus which, and each method used."""
    methods = records.distinct("stat", context="difference", stat_name="method", group=by)
    if not methods and not records.select(context="difference", group=by):
        return None
    shown = "; ".join(methods)
    first, second = (groups + ["", ""])[:2]
    return (f"Difference: {first} minus {second}, with its 95% confidence interval "
            f"(proportions in percentage points){'; ' + shown if shown else ''}.")
