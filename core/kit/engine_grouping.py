"""Grouping the patients of an engine cohort: the group sizes counted in SQL.

:class:`EngineGrouping` is a :class:`~cohortpress.data.grouping.Grouping` without rows, for
the analyses that compute from aggregates (:mod:`cohortpress.data.engine`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cohortpress.data.engine.backend import quoted
from cohortpress.data.grouping import Grouping, group_cohort, grouping_variable

__all__ = ["EngineGrouping", "counted_grouping", "engine_grouping", "grouping_from_counts",
           "grouping_of", "groups_with_values"]


@dataclass(frozen=True, eq=False)
class EngineGrouping(Grouping):
    """A :class:`~cohortpress.data.grouping.Grouping` counted in the engine: sizes, no rows
    (``codes`` is empty and ``mask`` refused)."""

    missing: int = 0

    @property
    def n_missing(self) -> int:
        return self.missing

    @property
    def n_grouped(self) -> int:
        return int(sum(self.sizes))

    def mask(self, index: int) -> np.ndarray:
        raise TypeError("a grouping counted in the engine has no rows")


#: Group sizes counted, per backend spec (weakly: a spec can hold a whole data frame) by
#: (the cohort's rows, variable): the plan's checks and the section ask for the same sizes,
#: and on a registry each count is a scan (0.4 s at 10^7 rows). The section's worker is a
#: fork of the process that ran the checks, so it finds them here.
_COUNTED: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def engine_grouping(cohort, by: str | None) -> EngineGrouping:
    """:func:`~cohortpress.data.grouping.group_cohort` of an engine cohort: the group sizes
    from one ``count(*)``, counted once per cohort and variable (or taken from a query
    that counted them on the way, :func:`counted_grouping`)."""
    if by is None:
        return grouping_from_counts(cohort, None, [], [])
    grouping_variable(cohort, by)
    counted = _COUNTED.get(cohort.spec, {}).get((cohort.relation, by))
    if counted is None:
        column = quoted(by)
        found = cohort.query(f"SELECT CAST({column} AS INTEGER) AS code, count(*) AS n "
                             f"FROM {{cohort}} GROUP BY {column}")
        return counted_grouping(cohort, by, found["code"], found["n"])
    return grouping_from_counts(cohort, by, *counted)


def counted_grouping(cohort, by: str | None, codes, counts) -> EngineGrouping:
    """:func:`grouping_from_counts`, the counts kept for :func:`engine_grouping`: for a
    query that counts the patients per group of the whole cohort along with what it asks."""
    if by is not None:
        codes, counts = tuple(codes), tuple(counts)
        _COUNTED.setdefault(cohort.spec, {})[cohort.relation, by] = (codes, counts)
    return grouping_from_counts(cohort, by, codes, counts)


def grouping_from_counts(cohort, by: str | None, codes, counts) -> EngineGrouping:
    """The grouping by ``by`` (checked) from the patients per group code (``codes``: one
    per group present, NULL/NaN for a missing group; ``counts``: their patients), as a
    query grouping the whole view by the variable returns them."""
    empty = np.zeros(0, dtype=np.int64)
    if by is None:
        return EngineGrouping(None, "", ("Overall",), empty, (cohort.n,))
    info = cohort.variable(by)
    sizes = [0] * len(info.levels)
    missing = 0
    for code, n in zip(codes, counts):
        if pd.isna(code):
            missing = int(n)
        else:
            sizes[int(code)] = int(n)
    return EngineGrouping(by, info.label, tuple(info.levels), empty, tuple(sizes), missing)


def grouping_of(cohort, by: str | None) -> Grouping:
    """The grouping of an in-memory or an engine cohort."""
    if getattr(cohort, "engine", False):
        return engine_grouping(cohort, by)
    return group_cohort(cohort, by)


def groups_with_values(cohort, variable: str, groups: Grouping, levels) -> int:
    """How many of the groups ``levels`` (of ``groups``) have a known value of
    ``variable``, on either path."""
    wanted = [j for j, level in enumerate(groups.levels) if level in levels]
    if not getattr(cohort, "engine", False):
        known = cohort.values(variable).notna().to_numpy()
        return sum(1 for j in wanted if (known & groups.mask(j)).any())
    if groups.variable is None:
        found = cohort.query(f"SELECT count({quoted(variable)}) AS n FROM {{cohort}}")
        return int(bool(wanted) and found["n"].iloc[0] > 0)
    g = quoted(groups.variable)
    found = cohort.query(f"SELECT CAST({g} AS INTEGER) AS code FROM {{cohort}} "
                         f"WHERE {quoted(variable)} IS NOT NULL AND {g} IS NOT NULL "
                         f"GROUP BY {g}")
    return len(set(int(c) for c in found["code"]) & set(wanted))
