"""The overview's numbers on the engine path: one query for the whole section.

The ``overview`` analysis shows patients per group and without one and, per endpoint, the
events and the shortest and longest follow-up overall and per group: counts and extremes,
which the engine computes exactly. One query gives them per group (patients without a
group in a row of their own); the overall figures are the sums of the counts and the
extremes of the extremes over those rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cohortpress.data.engine.backend import quoted
from cohortpress.data.grouping import grouping_variable
from cohortpress.kit.engine_grouping import EngineGrouping, counted_grouping

__all__ = ["FollowUp", "engine_overview"]


@dataclass(frozen=True)
class FollowUp:
    """One endpoint's events and range of follow-up among some patients (``shortest`` and
    ``longest`` ``None`` when there are none)."""

    events: int
    shortest: float | None
    longest: float | None


def engine_overview(cohort, names, by: str | None
                    ) -> tuple[EngineGrouping | None, dict[str, dict[str | None, FollowUp]]]:
    """The grouping by ``by`` (``None`` without one) and per endpoint in ``names`` its
    :class:`FollowUp` overall (key ``None``) and in each group (every level, a group
    without patients included), from one query of an engine cohort that returns a row per
    group."""
    columns = ["count(*) AS n"]
    for k, name in enumerate(names):
        endpoint = cohort.endpoint(name)
        columns += [f"sum(CASE WHEN {endpoint.status} = 1 THEN 1 ELSE 0 END) AS events_{k}",
                    f"min({endpoint.time}) AS shortest_{k}",
                    f"max({endpoint.time}) AS longest_{k}"]
    if by:
        grouping_variable(cohort, by)  # refuses one not categorical
    group = f"CAST({quoted(by)} AS INTEGER)" if by else "CAST(0 AS INTEGER)"
    grouping = f" GROUP BY {quoted(by)}" if by else ""
    table = cohort.query(f"SELECT {group} AS g, {', '.join(columns)} FROM {{cohort}}"
                         f"{grouping}")
    groups = counted_grouping(cohort, by, table["g"], table["n"]) if by else None
    levels = groups.levels if by else ()
    codes = [None if pd.isna(g) or not by else int(g) for g in table["g"]]
    found = {}
    for k, name in enumerate(names):
        rows = [FollowUp(int(events) if not pd.isna(events) else 0, _number(low),
                         _number(high))
                for events, low, high in zip(table[f"events_{k}"], table[f"shortest_{k}"],
                                             table[f"longest_{k}"])]
        per_group = {levels[code]: row for code, row in zip(codes, rows) if code is not None}
        found[name] = {None: _together(rows),
                       **{level: per_group.get(level, FollowUp(0, None, None))
                          for level in levels}}
    return groups, found


def _number(value) -> float | None:
    return None if pd.isna(value) else float(value)


def _together(parts: list[FollowUp]) -> FollowUp:
    """The :class:`FollowUp` of the patients of all ``parts``."""
    lows = [p.shortest for p in parts if p.shortest is not None]
    highs = [p.longest for p in parts if p.longest is not None]
    return FollowUp(sum(p.events for p in parts), min(lows) if lows else None,
                    max(highs) if highs else None)
