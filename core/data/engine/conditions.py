"""The condition language (``cohort.filter``, a section's ``subset``) as SQL on the view.

A condition is evaluated by the same code as in memory
(:func:`cohortpress.data.conditions.evaluate`) on the distinct values of its variable in
the view, typed as the in-memory column is; the values for which it holds become
``column IN (...)``. (``EngineCohort`` annotations are names only: the cohort module calls
this one.) A continuous variable with more distinct values than
:data:`DISTINCT_LIMIT` is compared in SQL directly (the same IEEE comparisons of doubles).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cohortpress.common.errors import DataError
from cohortpress.config.schema import Condition
from cohortpress.data.cohort import VariableInfo
from cohortpress.data.conditions import ConditionError, describe_condition, evaluate
from cohortpress.data.engine.backend import double, in_list, quoted

#: A variable with at most this many distinct values is tested value by value in Python.
DISTINCT_LIMIT = 10_000
#: SQL operator of each comparison key.
OPERATORS = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def condition_sql(cond: Condition, info: VariableInfo, cohort: "EngineCohort") -> str:
    """SQL that holds for the rows of ``cohort`` where ``cond`` holds (never for a missing
    value unless the condition is on missingness).

    Raises ConditionError as :func:`~cohortpress.data.conditions.evaluate` does.
    """
    column = quoted(info.name)
    if cond.missing is not None:
        return f"{column} IS NULL" if cond.missing else f"{column} IS NOT NULL"
    found = cohort.query(f"SELECT DISTINCT {column} AS value FROM {{cohort}} "
                         f"WHERE {column} IS NOT NULL LIMIT {DISTINCT_LIMIT + 1}")["value"]
    if len(found) > DISTINCT_LIMIT:
        if info.kind != "continuous":
            raise ConditionError(f"'{info.name}' has more than {DISTINCT_LIMIT:,} distinct "
                                 f"values; the engine compares only a continuous variable "
                                 f"with so many")
        evaluate(cond, pd.Series(found.iloc[:1].astype(float)), info)  # its checks
        return continuous_sql(cond, column)
    if info.kind in ("categorical", "binary"):
        codes = [int(c) for c in found]
        series = pd.Series(pd.Categorical.from_codes(codes, categories=list(info.levels),
                                                     ordered=True))
        values: list = codes
    elif info.kind == "continuous":
        values = [float(v) for v in found]
        series = pd.Series(values, dtype=float)
    else:
        values = list(found)
        series = pd.Series(values, dtype=object)
    holds, _ = evaluate(cond, series, info)
    passing = [v for v, h in zip(values, np.asarray(holds, dtype=bool)) if h]
    if not passing:
        return "FALSE"
    return f"{column} IN {in_list(passing)}"


def continuous_sql(cond: Condition, column: str) -> str:
    """SQL of a comparison on a continuous column, holding where
    :func:`~cohortpress.data.conditions.evaluate` holds on a present value.

    A NaN in the config (TOML's ``nan``) is decided here, not left to the engine: Python
    never finds NaN equal, below or above anything (``ne = nan`` holds for every present
    value, ``in = [nan]`` for none), while DuckDB makes NaN equal to itself and larger
    than every number. Infinities are IEEE comparisons in both.
    """
    for key, operator in OPERATORS.items():
        value = getattr(cond, key)
        if value is not None:
            if math.isnan(float(value)):
                return f"{column} IS NOT NULL" if key == "ne" else "FALSE"
            return f"{column} {operator} {double(value)}"
    listed = cond.is_in if cond.is_in is not None else cond.not_in
    numbers = [double(v) for v in listed if not math.isnan(float(v))]
    if not numbers:  # in = [] (or only NaN) never holds, not_in = [] always does
        return "FALSE" if cond.is_in is not None else f"{column} IS NOT NULL"
    values = "(" + ", ".join(numbers) + ")"
    return f"{column} IN {values}" if cond.is_in is not None else f"NOT ({column} IN {values})"


def conditions_sql(conditions, cohort: "EngineCohort", key_of) -> tuple[str, str]:
    """``(SQL, words)`` of conditions that must all hold; ``key_of(i, field)`` is the key
    path an error names (``cohort.filter[0].variable``)."""
    clauses, texts = [], []
    for i, cond in enumerate(conditions):
        info = cohort.variables.get(cond.variable)
        if info is None:
            from cohortpress.common.suggest import did_you_mean

            raise DataError(f"unknown variable '{cond.variable}'"
                            f"{did_you_mean(cond.variable, list(cohort.variables))}",
                            key=key_of(i, "variable"))
        try:
            clauses.append(condition_sql(cond, info, cohort))
        except ConditionError as exc:
            raise DataError(str(exc), key=key_of(i, None)) from None
        texts.append(describe_condition(cond))
    return " AND ".join(f"({c})" for c in clauses), "; ".join(texts)


def engine_subset(cohort: "EngineCohort", conditions, section_key: str) -> "EngineCohort":
    """The patients a section's ``subset`` conditions select, as
    :func:`cohortpress.data.conditions.section_subset` does in memory."""
    where, text = conditions_sql(
        conditions, cohort,
        lambda i, field: f"{section_key}.subset[{i}]" + (f".{field}" if field else ""))
    narrowed = cohort.subset(where, text)
    if narrowed.n == 0:
        raise DataError("no patients left after the section's subset",
                        key=f"{section_key}.subset")
    return narrowed
