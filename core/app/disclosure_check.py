"""``cohortpress validate`` under a disclosure rule: which sections will be mostly hidden.

Before any statistics, each section's categorical variables (the ones its options name) are
counted by its group — the cells its tables will hold (models are left out: their tables
show no such counts) — and a section whose non-empty cells
are mostly below ``min_count``, or whose patients are fewer than ``min_count``, is named with
the counts that say so (on the engine path, counted there). Continuous variables, survival and models are not counted: their
tables hold counts of the same groups (patients, events), which the group sizes already
show.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cohortpress.app.plan import Plan, collect_references

#: The share of a section's non-empty cells that, hidden, makes it "mostly hidden".
MOSTLY = 0.5
#: Built-in analyses whose tables show models, not counts of their variables' levels.
MODELS = frozenset({"cox", "logistic", "finegray"})


def disclosure_warnings(plan: Plan, cohort) -> list[str]:
    """One sentence per section the rule will largely suppress (none when it is off)."""
    from cohortpress.data.conditions import section_subset

    if plan.config.disclosure is None:
        return []
    rule = plan.config.disclosure.rule()
    warnings = []
    for planned in plan.sections:
        mine = (section_subset(cohort, planned.head.subset, f"section[{planned.index}]")
                if planned.head.subset else cohort)
        warning = _section_warning(planned, mine, rule)
        if warning:
            warnings.append(f"section '{planned.head.id}': {warning}")
    return warnings


def _section_warning(planned, cohort, rule) -> str:
    if 0 < cohort.n < rule.min_count:
        return (f"its {cohort.n} patients are fewer than the disclosure rule's min_count "
                f"({rule.min_count}): every count it shows will be hidden")
    if planned.analysis.name in MODELS:
        return ""
    by = _group_name(planned.options, cohort)
    engine = getattr(cohort, "engine", False)
    group = _engine_group(by, cohort) if engine else _group_codes(by, cohort)
    small = cells = 0
    for name in _categorical_names(planned.options, cohort, exclude=by):
        counts = _engine_cell_counts(cohort, name, group) if engine else \
            _cell_counts(cohort, name, group)
        cells += int((counts > 0).sum())
        small += int(((counts > 0) & (counts < rule.min_count)).sum())
    if cells and small / cells >= MOSTLY:
        return (f"{small} of its {cells} non-empty table cells count fewer than "
                f"{rule.min_count} patients: under the disclosure rule most of its tables "
                f"will show <{rule.min_count}")
    return ""


def _categorical_names(options: Any, cohort, exclude: str | None) -> list[str]:
    names = []
    for _, kind, name in collect_references(options, "section"):
        if kind != "variable" or name in names or name == exclude:
            continue
        try:
            if cohort.variable(name).kind in ("categorical", "binary"):
                names.append(name)
        except Exception:  # noqa: BLE001 - a name validate reports elsewhere
            continue
    return names


def _group_name(options: Any, cohort) -> str | None:
    """The section's grouping variable: ``by``, ``column`` or the cohort's group."""
    return getattr(options, "by", None) or getattr(options, "column", None) or cohort.group


def _group_codes(by: str | None, cohort) -> np.ndarray | None:
    """The codes of the grouping ``by`` (None: no grouping, or one validate reports)."""
    from cohortpress.data.grouping import group_cohort

    if not by:
        return None
    try:
        return np.asarray(group_cohort(cohort, by).codes)
    except Exception:  # noqa: BLE001 - the section's own check reports a bad grouping
        return None


def _cell_counts(cohort, name: str, group: np.ndarray | None) -> np.ndarray:
    """The counts of a categorical variable's levels (by group when there is one)."""
    codes = np.asarray(cohort.values(name).cat.codes, dtype=np.int64)
    n_levels = int(codes.max()) + 1 if len(codes) and codes.max() >= 0 else 0
    if group is None or not len(group):
        return np.bincount(codes[codes >= 0], minlength=n_levels)
    n_groups = int(group.max()) + 1 if group.max() >= 0 else 0
    keep = (codes >= 0) & (group >= 0)
    flat = codes[keep] * max(n_groups, 1) + group[keep]
    return np.bincount(flat, minlength=n_levels * max(n_groups, 1))


def _engine_group(by: str | None, cohort) -> str | None:
    """On the engine path: the grouping variable when it is categorical, else None."""
    if not by or by not in cohort.variables:
        return None
    return by if cohort.variables[by].kind in ("categorical", "binary") else None


def _engine_cell_counts(cohort, name: str, group: str | None) -> np.ndarray:
    """The non-empty cells' counts, from one grouped count in the engine (the rows path's
    empty cells are zeros, which no rule counts)."""
    column = cohort.column(name)
    keys = column if group is None else f"{column}, {cohort.column(group)}"
    known = f"{column} IS NOT NULL" + ("" if group is None else
                                       f" AND {cohort.column(group)} IS NOT NULL")
    found = cohort.query(f"SELECT count(*) AS n FROM {{cohort}} WHERE {known} "
                         f"GROUP BY {keys}")
    return found["n"].to_numpy(dtype=np.int64)
