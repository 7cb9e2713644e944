"""Tests for a trend across ordered levels: Cochran–Armitage and linear-by-linear association.

Both take a contingency table of counts (rows = the ordered levels, columns = the groups)
and scores for the levels (``1..k`` by default). They are a few lines of closed-form
algebra, so they are written here rather than taken from a library: scipy has no
Cochran–Armitage test, and statsmodels' ``Table.test_ordinal_association`` gives the
linear-by-linear statistic as a z but with its own default scores; writing both here keeps
them exactly R's (checked in ``tests/test_table1_gtsummary.py``).
"""

from __future__ import annotations

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult
from cohortpress.stats.distributions import chi2_sf
from cohortpress.stats.exact import as_contingency_table

COCHRAN_ARMITAGE_METHOD = "Cochran–Armitage test for trend"
LINEAR_BY_LINEAR_METHOD = "Linear-by-linear association test"


def _scores(scores, n_levels: int, name: str) -> np.ndarray:
    if scores is None:
        return np.arange(1, n_levels + 1, dtype=float)
    array = np.asarray(scores, dtype=float)
    if array.shape != (n_levels,) or not np.all(np.isfinite(array)):
        raise StatisticsError(f"{name} must be {n_levels} finite numbers; got {list(array)}")
    return array


def cochran_armitage_test(table, scores=None) -> TestResult:
    """Cochran–Armitage test for a trend in proportions, as R's ``prop.trend.test``.

    With ``x_i`` the counts of the first group at level ``i``, ``n_i`` the level's total,
    ``p = sum x / N`` and level scores ``s_i``,

    .. math::

        X^2 = \\frac{\\left(\\sum_i x_i (s_i - \\bar s)\\right)^2}
                   {p (1 - p) \\sum_i n_i (s_i - \\bar s)^2}, \\qquad
        \\bar s = \\frac{\\sum_i n_i s_i}{N},

    on 1 degree of freedom (the regression sum of squares R computes with
    ``lm(x/n ~ score, weights = n / p / (1 - p))``). Levels with no patients carry no weight.

    Parameters
    ----------
    table : array_like
        ``k x 2`` counts: the ordered levels by the two groups.
    scores : array_like, optional
        The level scores; default ``1..k``.

    Returns
    -------
    TestResult
        ``statistic`` is ``X^2`` and ``df`` 1; the p-value is ``nan`` (with a note) when
        all patients share a level or a group.
    """
    counts = as_contingency_table(table)
    if counts.shape[1] != 2:
        raise StatisticsError(f"the Cochran–Armitage test compares two groups; the table has "
                              f"{counts.shape[1]} columns")
    s = _scores(scores, counts.shape[0], "scores")
    x, n = counts[:, 0].astype(float), counts.sum(axis=1).astype(float)
    total = n.sum()
    p = x.sum() / total if total else float("nan")
    centred = s - (n @ s) / total if total else s
    spread = n @ centred ** 2
    if not total or p in (0.0, 1.0) or spread == 0:
        return TestResult(method=COCHRAN_ARMITAGE_METHOD, p_value=float("nan"),
                          note="not computable: one level or one group holds every patient")
    statistic = float((x @ centred) ** 2 / (p * (1 - p) * spread))
    return TestResult(method=COCHRAN_ARMITAGE_METHOD, p_value=float(chi2_sf(statistic, 1)),
                      statistic=statistic, df=1.0, note=_scores_note(scores, s))


def linear_by_linear_test(table, row_scores=None, column_scores=None) -> TestResult:
    """Linear-by-linear association test (Agresti's ``M^2``), as ``coin::lbl_test``.

    ``M^2 = (N - 1) r^2``, with ``r`` the Pearson correlation of the row and column scores
    over the ``N`` patients of the table, on 1 degree of freedom.

    Parameters
    ----------
    table : array_like
        ``k x g`` counts: the ordered levels by the ordered groups.
    row_scores, column_scores : array_like, optional
        Default ``1..k`` and ``1..g``.

    Returns
    -------
    TestResult
        ``statistic`` is ``M^2`` and ``df`` 1; ``nan`` (with a note) when a margin has a
        single non-empty category.
    """
    counts = as_contingency_table(table).astype(float)
    u = _scores(row_scores, counts.shape[0], "row scores")
    v = _scores(column_scores, counts.shape[1], "column scores")
    total = counts.sum()
    rows, columns = counts.sum(axis=1), counts.sum(axis=0)
    u_centred = u - (rows @ u) / total if total else u
    v_centred = v - (columns @ v) / total if total else v
    su, sv = rows @ u_centred ** 2, columns @ v_centred ** 2
    if total < 2 or su == 0 or sv == 0:
        return TestResult(method=LINEAR_BY_LINEAR_METHOD, p_value=float("nan"),
                          note="not computable: one level or one group holds every patient")
    r = float(u_centred @ counts @ v_centred / np.sqrt(su * sv))
    statistic = (total - 1) * r ** 2
    note = _scores_note(row_scores, u)
    if column_scores is None:
        note += f"; groups scored 1 to {len(v)}"
    return TestResult(method=LINEAR_BY_LINEAR_METHOD, p_value=float(chi2_sf(statistic, 1)),
                      statistic=float(statistic), df=1.0, note=note)


def _scores_note(given, scores: np.ndarray) -> str:
    """What the level scores were, for the footnote and the results file."""
    if given is None:
        return f"levels scored 1 to {len(scores)}"
    return "levels scored " + ", ".join(f"{value:g}" for value in scores)
