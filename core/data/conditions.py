"""The condition language: ``{variable = ..., eq/ne/lt/le/gt/ge/in/not_in/missing = ...}``.

Evaluating a condition on a column, describing it in words, and the two places the config
uses conditions to select patients: ``cohort.filter`` and a section's ``subset``.
(Derived ``flag`` and ``case`` variables evaluate conditions too, in
:mod:`cohortpress.data.derive`.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cohortpress.common.errors import DataError
from cohortpress.common.suggest import did_you_mean
from cohortpress.config.schema import Condition, Config
from cohortpress.data.cohort import Cohort, VariableInfo
from cohortpress.data.columns import as_text


def evaluate(cond: Condition, series: pd.Series, info: VariableInfo):
    """Evaluate a condition: (holds, known) boolean arrays; unknown where the value is missing."""
    present = series.notna().to_numpy()
    if cond.missing is not None:
        return (~present if cond.missing else present), np.ones(len(series), dtype=bool)
    _check_condition(cond, series, info)
    if info.kind in ("continuous",) or cond.lt is not None or cond.le is not None \
            or cond.gt is not None or cond.ge is not None:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float) \
            if info.kind != "date" else series.to_numpy()
    else:
        values = series.astype(object).to_numpy()
    with np.errstate(invalid="ignore"):
        if cond.eq is not None:
            holds = values == _coerce(cond.eq, info)
        elif cond.ne is not None:
            holds = values != _coerce(cond.ne, info)
        elif cond.lt is not None:
            holds = values < cond.lt
        elif cond.le is not None:
            holds = values <= cond.le
        elif cond.gt is not None:
            holds = values > cond.gt
        elif cond.ge is not None:
            holds = values >= cond.ge
        elif cond.is_in is not None:
            holds = pd.Series(values).isin([_coerce(v, info) for v in cond.is_in]).to_numpy()
        else:
            holds = ~pd.Series(values).isin([_coerce(v, info) for v in cond.not_in]).to_numpy()
    return np.asarray(holds, dtype=bool) & present, present


def _coerce(value: Any, info: VariableInfo):
    if info.kind == "continuous":
        return float(value)
    return as_text(value)


class ConditionError(ValueError):
    """A condition that cannot be evaluated on its variable (the caller adds the key)."""


def _check_condition(cond: Condition, series: pd.Series, info: VariableInfo) -> None:
    """Refuse a condition that would silently never (or always) hold.

    A word compared with a number, a number compared with a word, a value that is not a
    level of a categorical variable (``ne = 1`` where the levels are "Male" and "Female"
    would keep everyone), or a date compared with anything.
    """
    name = info.name
    if info.kind == "date":
        raise ConditionError(f"'{name}' is a date: a condition can only test whether it is "
                             f"missing; compare a [derived] date_diff instead")
    order = [k for k in ("lt", "le", "gt", "ge") if getattr(cond, k) is not None]
    if order and info.kind != "continuous":
        present = series.dropna().astype(object)
        numbers = pd.to_numeric(present.map(str), errors="coerce")
        if numbers.isna().any():
            bad = present[numbers.isna()].iloc[0]
            raise ConditionError(f"'{order[0]}' compares numbers, but '{name}' is {info.kind} "
                                 f"with the value '{bad}'")
        return
    values = [v for k in ("eq", "ne") if (v := getattr(cond, k)) is not None]
    values += list(cond.is_in or ()) + list(cond.not_in or ())
    for value in values:
        if info.kind == "continuous":
            try:
                float(value)
            except (TypeError, ValueError):
                raise ConditionError(f"'{name}' is continuous: compare it with a number, not "
                                     f"{value!r}") from None
        elif info.levels and as_text(value) not in info.levels:
            raise ConditionError(f"{as_text(value)!r} is not a level of '{name}' (levels: "
                                 f"{', '.join(map(repr, info.levels))}; conditions use the "
                                 f"displayed labels)")


def apply_filters(config: Config, frame: pd.DataFrame, infos: dict[str, VariableInfo]):
    """The rows ``cohort.filter`` keeps (all conditions hold), and the filter in words."""
    if not config.cohort.filter:
        return frame, ""
    keep = np.ones(len(frame), dtype=bool)
    texts = []
    for i, cond in enumerate(config.cohort.filter):
        if cond.variable not in frame.columns:
            raise DataError(f"unknown variable '{cond.variable}'"
                            f"{did_you_mean(cond.variable, list(frame.columns))}",
                            file=str(config.source), key=f"cohort.filter[{i}].variable")
        try:
            holds, _ = evaluate(cond, frame[cond.variable], infos[cond.variable])
        except ConditionError as exc:
            raise DataError(str(exc), file=str(config.source),
                            key=f"cohort.filter[{i}]") from None
        keep &= holds
        texts.append(describe_condition(cond))
    if not keep.any():
        raise DataError(f"no rows left after cohort.filter ({'; '.join(texts)})",
                        file=str(config.source), key="cohort.filter")
    return frame.loc[keep].reset_index(drop=True), "; ".join(texts)


def filter_unknowns(config: Config, frame: pd.DataFrame) -> tuple[tuple[str, int], ...]:
    """Per variable that ``cohort.filter`` compares with a value, the patients with an
    unknown value, whom the filter removes (no comparison holds for an unknown value).

    Conditions on missingness (``missing = ...``) are left out: they state what they do to
    unknown values. Call it with the frame before filtering; variables in the order of
    the conditions, each once.
    """
    counts: dict[str, int] = {}
    for cond in config.cohort.filter or ():
        if cond.missing is not None or cond.variable not in frame.columns:
            continue
        counts.setdefault(cond.variable, int(frame[cond.variable].isna().sum()))
    return tuple(counts.items())


def describe_condition(cond: Condition) -> str:
    """A condition in words, for the methods and the filter note: "age ≥ 1"."""
    for key, word in (("eq", "="), ("ne", "≠"), ("lt", "<"), ("le", "≤"), ("gt", ">"),
                      ("ge", "≥")):
        value = getattr(cond, key)
        if value is not None:
            return f"{cond.variable} {word} {value}"
    if cond.is_in is not None:
        return f"{cond.variable} in {list(cond.is_in)}"
    if cond.not_in is not None:
        return f"{cond.variable} not in {list(cond.not_in)}"
    return f"{cond.variable} {'missing' if cond.missing else 'present'}"


def section_subset(cohort: "Cohort", conditions, section_key: str) -> "Cohort":
    """The patients a section's ``subset`` conditions select (all must hold).

    ``section_key``: the section's key path in errors, ``section[1]`` as every other error
    names a section's keys. On the engine path (an
    :class:`~cohortpress.data.engine.cohort.EngineCohort`) the conditions become SQL.
    """
    if getattr(cohort, "engine", False):
        return cohort.section_subset(conditions, section_key)
    keep = np.ones(cohort.n, dtype=bool)
    for i, cond in enumerate(conditions):
        if cond.variable not in cohort.variables:
            raise DataError(f"unknown variable '{cond.variable}'",
                            key=f"{section_key}.subset[{i}].variable")
        try:
            holds, _ = evaluate(cond, cohort.values(cond.variable), cohort.variable(cond.variable))
        except ConditionError as exc:
            raise DataError(str(exc), key=f"{section_key}.subset[{i}]") from None
        keep &= holds
    if not keep.any():
        raise DataError("no patients left after the section's subset",
                        key=f"{section_key}.subset")
    return cohort.subset(keep, "; ".join(describe_condition(c) for c in conditions))
