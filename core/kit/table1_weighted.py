"""A weighted Table 1: survey or inverse-probability-of-treatment weights from a column.

With ``weights = "<column>"`` every count and percentage is a sum of weights, continuous
rows show weighted means, SDs and quantiles (:mod:`cohortpress.stats.weighted`, as R
``survey``), the SMD is the weighted one of ``tableone::svyCreateTableOne``, and the tests
are design-based (:mod:`cohortpress.stats.survey`): the Rao–Scott second-order corrected
chi-squared test for categorical and binary rows, the design-based t test (two groups) or
Wald F test (more) for continuous rows. The design is ``svydesign(ids = ~1, weights = ~w)``.

This module holds what :class:`~cohortpress.kit.table1_records.Table1Summariser` calls when
the section is weighted; it reads the cohort only through the arrays it is given.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from cohortpress.common.errors import DataError, StatisticsError
from cohortpress.common.formatting import fmt_n_percent, fmt_num, fmt_percent
from cohortpress.stats.common import TestResult

__all__ = ["WEIGHTED_TESTS", "cohort_weights", "weighted_tally", "weighted_continuous_test",
           "weighted_categorical_test", "weighted_continuous_smds", "weights_note",
           "count_text", "n_percent_text"]

#: The tests a weighted row may name: ``auto`` picks the design-based one.
WEIGHTED_TESTS = ("auto", "none")


def cohort_weights(cohort, column: str) -> np.ndarray:
    """The weights of a cohort's patients from ``column``, checked.

    Raises
    ------
    DataError
        One line naming the column: not a number column, or rows with a missing or
        negative weight (the first few named), or no positive weight.
    """
    info = cohort.variable(column)
    if info.kind != "continuous":
        raise DataError(f"weights column '{column}' is {info.kind}; weights must be numbers "
                        f">= 0", column=column)
    weights = cohort.values(column).to_numpy(dtype=float)
    missing = np.flatnonzero(~np.isfinite(weights))
    negative = np.flatnonzero(np.isfinite(weights) & (weights < 0))
    problems = []
    for what, rows in (("a missing", missing), ("a negative", negative)):
        if rows.size:
            names = ", ".join(cohort.row_names(rows[:3])) + (", ..." if rows.size > 3 else "")
            problems.append(f"{rows.size} {'row has' if rows.size == 1 else 'rows have'} "
                            f"{what} weight ({names})")
    if problems:
        raise DataError(f"weights column '{column}': {' and '.join(problems)}; weights must be "
                        f"numbers >= 0", column=column)
    if cohort.n and not np.any(weights > 0):
        raise DataError(f"weights column '{column}': no patient has a positive weight",
                        column=column)
    return weights


def weighted_tally(codes: np.ndarray, weights: np.ndarray,
                   n_levels: int) -> tuple[np.ndarray, float]:
    """The sum of the weights of each level and of the missing codes (-1)."""
    counts = np.bincount(codes[codes >= 0], weights=weights[codes >= 0], minlength=n_levels)
    return counts[:n_levels].astype(float), float(weights[codes < 0].sum())


def weighted_categorical_test(level_codes: np.ndarray, group_codes: np.ndarray,
                              weights: np.ndarray, left_out: set[int],
                              missing_as_level: bool) -> TestResult:
    """Rao–Scott test of a row's levels against the groups (patients with no group left
    out); ``left_out`` level codes leave the test, and with ``missing_as_level`` the
    unknown values are a level of their own."""
    from cohortpress.stats.survey import rao_scott_chisq

    rows = level_codes.copy()
    if missing_as_level:
        rows[rows < 0] = rows.max(initial=0) + 1
    for code in left_out:
        rows[level_codes == code] = -1
    return rao_scott_chisq(rows, group_codes, weights)


def weighted_continuous_test(samples: list[tuple[np.ndarray, np.ndarray]]) -> TestResult:
    """Design-based t test for two groups (``svyttest``), Wald F for more (``regTermTest``)."""
    from cohortpress.stats.survey import weighted_t_test, weighted_wald_test

    if len(samples) == 2:
        (x1, w1), (x2, w2) = samples
        return weighted_t_test(x1, w1, x2, w2).test
    return weighted_wald_test(samples)


def weighted_continuous_smds(samples: list[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """The weighted SMD of each pair of groups (groups with fewer than 2 values skipped)."""
    from cohortpress.stats.weighted import weighted_smd_continuous

    usable = [(x, w) for x, w in samples if np.sum(w > 0) > 1]
    values = []
    for (x1, w1), (x2, w2) in combinations(usable, 2):
        try:
            values.append(abs(weighted_smd_continuous(x1, w1, x2, w2)))
        except StatisticsError:
            values.append(float("nan"))
    return values


def count_text(n) -> str:
    """A count as printed: a patient count as it is, a sum of weights rounded to whole."""
    return str(n) if isinstance(n, (int, np.integer)) else fmt_num(float(n), 0)


def n_percent_text(n, denominator, digits: int = 0) -> str:
    """"n (%)" of a count or of a sum of weights (rounded to whole; the percentage from the
    unrounded sums)."""
    if isinstance(n, (int, np.integer)):
        return fmt_n_percent(n, denominator, digits)
    if not denominator:
        return f"{count_text(n)} (\u2013)"
    return f"{count_text(n)} ({fmt_percent(n, denominator, digits)}%)"


def weights_note(column_label: str, sums: list[tuple[str, float]]) -> str:
    """The footnote of a weighted table: what the weights change, and each group's sum of
    weights."""
    groups = "; ".join(f"{level} {fmt_num(total, 1)}" for level, total in sums)
    return (f"Weighted by {column_label} (sum of weights: {groups}): counts are sums of "
            f"weights, rounded; percentages, means, SDs, quantiles (the inverse of the "
            f"weighted distribution function, as R survey's svyquantile) and SMDs are "
            f"weighted; the tests are design-based.")
