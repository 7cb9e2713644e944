"""A cross-table's counts on the engine path: one ``GROUP BY`` over the cohort's view.

The ``crosstab`` analysis is counts and a test of them, so it needs no rows: the engine
counts the patients per row level x column (codes, the missing code ``NULL``) and the
records, percentages and test are computed from that small table exactly as in memory
(:func:`cohortpress.kit.crosstab.crosstab_records` with a
:class:`~cohortpress.kit.crosstab.Tabulation`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cohortpress.data.engine.backend import quoted
from cohortpress.kit.crosstab import Tabulation

__all__ = ["engine_tabulation"]


def engine_tabulation(cohort, row: str, column: str, n_rows: int, n_cols: int) -> Tabulation:
    """The :class:`~cohortpress.kit.crosstab.Tabulation` of ``row`` by ``column`` in an
    engine cohort: patients per (row code, column code), those with no column value left
    out, those with no row value counted per column.

    One query returns at most ``(n_rows + 1) * n_cols`` rows, whatever the cohort's size.
    """
    r, c = quoted(row), quoted(column)
    by = r if row == column else f"{r}, {c}"
    found = cohort.query(f"SELECT CAST({r} AS INTEGER) AS row_code, "
                         f"CAST({c} AS INTEGER) AS col_code, count(*) AS n "
                         f"FROM {{cohort}} WHERE {c} IS NOT NULL GROUP BY {by}")
    counts = np.zeros((n_rows, n_cols), dtype=np.int64)
    missing_by_col = np.zeros(n_cols, dtype=np.int64)
    for row_code, col_code, n in zip(found["row_code"], found["col_code"], found["n"]):
        if pd.isna(row_code):
            missing_by_col[int(col_code)] += int(n)
        else:
            counts[int(row_code), int(col_code)] += int(n)
    return Tabulation(counts, missing_by_col)
