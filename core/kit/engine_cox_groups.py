"""The Cox section's first two queries on the engine path, grouped by (stratum, group key).

Before the Newton scans, the section needs per model its complete cases, events and the
factor codes present (to lay out the design), then per stratum the sums, extremes and
cross-products of the design's columns (centring, constant and collinearity checks).
Asked directly, that is one aggregate per factor code, column and pair of columns over
every row. Here the rows are grouped by stratum and the scans' group key (event
indicator and every factor's code, :func:`~cohortpress.kit.engine_cox_scan.group_key_sql`):
within a group each factor column is one number, so the query aggregates only the
continuous columns and the factor parts are put back from the groups' codes -- a few
hundred groups, whatever the number of rows.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.kit.engine_cox_scan import decode_group_key
from cohortpress.stats.coxph.aggregate import model_moments, pair_indices

__all__ = ["GroupedRows", "profile_counts", "grouped_moments"]


class _Aggregates:
    """The aggregates of one query, each asked once however many models need it."""

    def __init__(self):
        self.names: dict[str, str] = {}

    def add(self, expression: str) -> str:
        return self.names.setdefault(expression, f"a{len(self.names)}")

    def sql(self) -> str:
        return ", ".join(f"{e} AS {name}" for e, name in self.names.items())


class GroupedRows:
    """One query's rows grouped by (stratum, group key), decoded.

    Attributes
    ----------
    stratum : numpy.ndarray of int
    event : numpy.ndarray of float
        1.0 for the groups of events (status 1), else 0.0.
    codes : numpy.ndarray, shape (G, F)
        Each factor's code per group, NaN when missing.
    """

    def __init__(self, cohort, factors: Sequence[str], stratum_sql: str, key_sql: str,
                 aggregates: _Aggregates):
        frame = cohort.query(f"SELECT {stratum_sql} AS s, {key_sql} AS k, {aggregates.sql()} "
                             f"FROM {{cohort}} GROUP BY {stratum_sql}, {key_sql}")
        frame = frame[frame["s"].notna()]
        self.frame = frame
        self.factors = list(factors)
        self.stratum = frame["s"].to_numpy(dtype=np.int64)
        self.event, self.codes = decode_group_key(cohort, self.factors,
                                                  frame["k"].to_numpy(dtype=np.int64))

    def values(self, name: str) -> np.ndarray:
        return self.frame[name].to_numpy(dtype=float, na_value=np.nan)

    def has_codes(self, variables: Sequence[str]) -> np.ndarray:
        """The groups where every factor of ``variables`` has a code."""
        valid = np.ones(self.stratum.size, dtype=bool)
        for v in variables:
            if v in self.factors:
                valid &= ~np.isnan(self.codes[:, self.factors.index(v)])
        return valid

    def indicator(self, pairs) -> np.ndarray:
        """Per group, the product of the indicators ``variable == code`` of ``pairs``."""
        out = np.ones(self.stratum.size)
        for variable, code in pairs:
            out *= self.codes[:, self.factors.index(variable)] == code
        return out


def _count_sql(condition: str) -> str:
    return "COUNT(*)" if condition == "TRUE" else f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def profile_counts(cohort, models: dict, interactions, factors: Sequence[str],
                   stratum_sql: str, key_sql: str) -> dict:
    """Per model, its complete cases, events, and the patients at each factor code (and
    each pair of codes of the multivariable model's factor interactions).

    ``models`` maps a model's key to ``(variables, condition)``, the condition selecting
    the rows whose *continuous* variables are known (factors are known in the groups
    whose codes are; the stratum in the groups with one). Returns the counts under the
    keys ``(model, "n")``, ``(model, "events")``, ``(model, variable, code)`` and
    ``("multi", (a, b), (code_a, code_b))``.
    """
    aggregates = _Aggregates()
    asked = {key: aggregates.add(_count_sql(condition))
             for key, (_, condition) in models.items()}
    groups = GroupedRows(cohort, factors, stratum_sql, key_sql, aggregates)
    out = {}
    for key, (variables, _) in models.items():
        count = np.where(groups.has_codes(variables),
                         np.nan_to_num(groups.values(asked[key])), 0.0)
        out[key, "n"] = int(count.sum())
        out[key, "events"] = int((count * groups.event).sum())
        for name in variables:
            info = cohort.variable(name)
            if info.kind not in ("categorical", "binary"):
                continue
            for code in range(len(info.levels)):
                out[key, name, code] = int((count * groups.indicator([(name, code)])).sum())
        if key == "multi":
            for a, b in interactions:
                ia, ib = cohort.variable(a), cohort.variable(b)
                if ia.kind == "continuous" or ib.kind == "continuous":
                    continue
                for i in range(len(ia.levels)):
                    for j in range(len(ib.levels)):
                        both = groups.indicator([(a, i), (b, j)])
                        out[key, (a, b), (i, j)] = int((count * both).sum())
    return out


def grouped_moments(cohort, designs: dict, factors: Sequence[str], stratum_sql: str,
                    key_sql: str) -> dict:
    """Per model, :func:`~cohortpress.stats.coxph.aggregate.model_moments` of its design
    columns (or the :class:`StatisticsError` saying why it cannot be fitted)."""
    aggregates = _Aggregates()
    asked = {key: _ask_moments(aggregates, design) for key, design in designs.items()}
    groups = GroupedRows(cohort, factors, stratum_sql, key_sql, aggregates)
    out = {}
    for key, design in designs.items():
        try:
            out[key] = model_moments(key, design.names, *_stratum_moments(groups, design,
                                                                          asked[key]),
                                     design.events)
        except StatisticsError as exc:
            out[key] = exc
    return out


def _ask_moments(aggregates: _Aggregates, design) -> dict:
    """The aggregates of a design's continuous columns over its complete cases."""
    condition = design.row_condition
    when = "" if condition == "TRUE" else f"WHEN {condition} "
    x = [design.expressions[j] for j, key in enumerate(design.keys) if key is None]

    def over_rows(function: str, expression: str) -> str:
        if not when:
            return f"{function}({expression})"
        return f"{function}(CASE {when}THEN {expression} END)"

    return dict(n=aggregates.add(_count_sql(condition)),
                sums=[aggregates.add(over_rows("SUM", e)) for e in x],
                low=[aggregates.add(over_rows("MIN", e)) for e in x],
                high=[aggregates.add(over_rows("MAX", e)) for e in x],
                cross=[aggregates.add(over_rows("SUM", f"{x[i]} * {x[j]}"))
                       for i, j in zip(*pair_indices(len(x)))])


def _stratum_moments(groups: GroupedRows, design, asked: dict):
    """Per stratum: rows, sums, packed cross-products, least and greatest values of the
    design's columns, and the columns' sums over the events (all strata together)."""
    p = len(design.names)
    continuous = [j for j, key in enumerate(design.keys) if key is None]
    valid = groups.has_codes(design.key_variables)
    count = np.where(valid, np.nan_to_num(groups.values(asked["n"])), 0.0)
    has = count > 0
    # Per group: each column's sum over the group's rows, and its least/greatest value.
    sums = np.empty((count.size, p))
    low = np.full((count.size, p), np.nan)
    high = np.full((count.size, p), np.nan)
    for j, key in enumerate(design.keys):
        if key is not None:
            value = groups.indicator(key)
            sums[:, j] = value * count
            low[has, j] = high[has, j] = value[has]
    for a, j in enumerate(continuous):
        sums[:, j] = np.where(valid, np.nan_to_num(groups.values(asked["sums"][a])), 0.0)
        low[has, j] = groups.values(asked["low"][a])[has]
        high[has, j] = groups.values(asked["high"][a])[has]
    cross = _cross(groups, design, asked, count, sums, valid)
    strata = np.unique(groups.stratum)
    per = [groups.stratum == s for s in strata]
    return (strata, np.array([count[m].sum() for m in per]),
            np.array([sums[m].sum(axis=0) for m in per]),
            np.array([cross[m].sum(axis=0) for m in per]),
            np.array([_extreme(np.nanmin, low[m & has]) for m in per]).reshape(-1, p),
            np.array([_extreme(np.nanmax, high[m & has]) for m in per]).reshape(-1, p),
            (sums * groups.event[:, None]).sum(axis=0))


def _extreme(function, values: np.ndarray) -> np.ndarray:
    if not values.shape[0]:
        return np.zeros(values.shape[1])
    return function(values, axis=0)


def _cross(groups: GroupedRows, design, asked: dict, count, sums, valid) -> np.ndarray:
    """Per group, the packed sums of the columns' products: a factor column is one number
    in a group, so its products are that number times the other column's sum."""
    p = len(design.names)
    continuous = [j for j, key in enumerate(design.keys) if key is None]
    position = {j: a for a, j in enumerate(continuous)}
    pairs = {pair: m for m, pair in enumerate(zip(*pair_indices(len(continuous))))}
    cross = np.empty((count.size, len(pair_indices(p)[0])))
    for m, (i, j) in enumerate(zip(*pair_indices(p))):
        if design.keys[i] is not None:
            cross[:, m] = groups.indicator(design.keys[i]) * sums[:, j]
        elif design.keys[j] is not None:
            cross[:, m] = groups.indicator(design.keys[j]) * sums[:, i]
        else:
            name = asked["cross"][pairs[tuple(sorted((position[i], position[j])))]]
            cross[:, m] = np.where(valid, np.nan_to_num(groups.values(name)), 0.0)
    return cross
