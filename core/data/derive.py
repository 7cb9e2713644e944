"""Derived variables (``[derived]``): cut, recode, flag, case, date_diff, transform, kmt2a.

Each is computed from variables already typed (or derived before it, in dependency order)
and becomes a column of the cohort with its own :class:`~cohortpress.data.cohort.VariableInfo`.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from cohortpress.common.errors import DataError
from cohortpress.common.suggest import did_you_mean
from cohortpress.config.schema import (CaseDerived, Condition, Config, CutDerived,
                                       DateDiffDerived, FlagDerived, Kmt2aDerived,
                                       RecodeDerived, TransformDerived)
from cohortpress.data.cohort import VariableInfo
from cohortpress.data.columns import YES_WORDS, ColumnTyper, as_text, map_distinct, natural_key
from cohortpress.data.conditions import ConditionError, evaluate
from cohortpress.data.endpoints import DAYS_PER_UNIT


def derived_sources(spec) -> list[str]:
    """The variables a derived variable is computed from."""
    if isinstance(spec, (CutDerived, RecodeDerived, TransformDerived, Kmt2aDerived)):
        return [spec.source]
    if isinstance(spec, DateDiffDerived):
        return [spec.start, spec.end]
    if isinstance(spec, FlagDerived):
        return [c.variable for c in spec.when]
    if isinstance(spec, CaseDerived):
        return [c.variable for case in spec.cases for c in case.when]
    return []  # pragma: no cover


def derivation_order(config: Config, wanted: set[str]) -> list[str]:
    """Derived variables in dependency order; a cycle is a config error."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]):
        if name not in config.derived:
            return
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            cycle = " -> ".join((*path, name))
            raise DataError(f"derived variables depend on each other in a cycle: {cycle}",
                            file=str(config.source), key=f"derived.{name}")
        state[name] = "active"
        for source in derived_sources(config.derived[name]):
            visit(source, (*path, name))
        state[name] = "done"
        order.append(name)

    for name in config.derived:
        if name in wanted:
            visit(name, ())
    return order


class Deriver:
    """Adds derived variables one by one to a typed frame and its variables' metadata.

    ``frame`` and ``infos`` grow with each :meth:`derive`; the ``typer`` names rows (and
    patient ids) in messages.
    """

    def __init__(self, config: Config, frame: pd.DataFrame, infos: dict[str, VariableInfo],
                 typer: ColumnTyper):
        self.config = config
        self.frame = frame
        self.infos = infos
        self.typer = typer

    def source(self, name: str, key: str, kinds: tuple[str, ...] | None = None) -> pd.Series:
        if name not in self.frame.columns:
            raise DataError(f"unknown variable '{name}'"
                            f"{did_you_mean(name, list(self.frame.columns))}",
                            file=str(self.config.source), key=key)
        if kinds and self.infos[name].kind not in kinds:
            raise DataError(f"variable '{name}' is {self.infos[name].kind}, needs "
                            f"{' or '.join(kinds)}", file=str(self.config.source), key=key)
        return self.frame[name]

    def derive(self, name: str) -> None:
        spec = self.config.derived[name]
        key = f"derived.{name}"
        method = getattr(self, f"_{spec.type}")
        series, kind, levels = method(spec, key)
        info = derived_info(name, spec, kind, levels)
        if kind in ("categorical", "binary"):
            values = pd.Series(pd.Categorical(series, categories=levels, ordered=True),
                               index=self.frame.index)
        else:
            values = series
        self.frame = self.frame.assign(**{name: values})
        self.infos = {**self.infos, name: info}

    def _cut(self, spec: CutDerived, key: str):
        source = self.source(spec.source, f"{key}.source", ("continuous",))
        binned = pd.cut(source, bins=spec.breaks, labels=spec.labels, right=spec.right,
                        include_lowest=True)
        outside = binned.isna() & source.notna()
        if outside.any():
            pos = int(np.flatnonzero(outside.to_numpy())[0])
            raise DataError(f"value {source.iloc[pos]} of '{spec.source}' is outside the "
                            f"breaks {spec.breaks}", file=str(self.config.source),
                            key=f"{key}.breaks", column=spec.source,
                            row=self.typer.where(pos))
        return binned.astype(object), "categorical", list(spec.labels)

    def _recode(self, spec: RecodeDerived, key: str):
        source = self.source(spec.source, f"{key}.source")
        text = map_distinct(source.astype(object), as_text)
        mapped = map_distinct(text, lambda v: spec.mapping.get(v, spec.other if spec.other
                                                               is not None else v))
        levels = spec.levels or _ordered_unique(
            [*spec.mapping.values(), *sorted(mapped.dropna().unique(), key=natural_key)])
        unknown = set(mapped.dropna().unique()) - set(levels)
        if unknown:
            raise DataError(f"recoded values {sorted(unknown)} are not among levels {levels}",
                            file=str(self.config.source), key=f"{key}.levels")
        return mapped, "categorical", levels

    def _flag(self, spec: FlagDerived, key: str):
        holds, known = self._all(spec.when, f"{key}.when")
        values = pd.Series(np.where(holds, spec.yes, spec.no), index=self.frame.index,
                           dtype=object).where(known)
        return values, "binary", [spec.no, spec.yes]

    def _case(self, spec: CaseDerived, key: str):
        result = pd.Series(np.nan, index=self.frame.index, dtype=object)
        decided = np.zeros(len(self.frame), dtype=bool)
        undecidable = np.zeros(len(self.frame), dtype=bool)
        for i, case in enumerate(spec.cases):
            holds, known = self._all(case.when, f"{key}.cases[{i}].when")
            take = holds & known & ~decided & ~undecidable
            result[take] = case.value
            decided |= take
            if spec.unknown == "missing":
                undecidable |= ~known & ~decided
        if spec.default is not None:
            result[~decided & ~undecidable] = spec.default
        levels = spec.levels or _ordered_unique(
            [c.value for c in spec.cases] + ([spec.default] if spec.default else []))
        return result, "categorical", levels

    def _date_diff(self, spec: DateDiffDerived, key: str):
        start = self.source(spec.start, f"{key}.start", ("date",))
        end = self.source(spec.end, f"{key}.end", ("date",))
        days = (end - start).dt.days.astype(float)
        return days / DAYS_PER_UNIT[spec.in_unit], "continuous", None

    def _kmt2a(self, spec: Kmt2aDerived, key: str):
        from cohortpress.data.cytogenetics import parse_kmt2a_many

        source = self.source(spec.source, f"{key}.source")
        texts = source.astype(object).where(source.notna(), None).tolist()
        findings = parse_kmt2a_many(texts, spec.kind, deletion_counts=spec.deletion_counts)
        labels = {"rearranged": spec.positive, "not rearranged": spec.negative}
        values = pd.Series([labels.get(f.status) for f in findings], index=self.frame.index,
                           dtype=object)
        return values, "binary", [spec.negative, spec.positive]

    def _transform(self, spec: TransformDerived, key: str):
        source = self.source(spec.source, f"{key}.source", ("continuous",))
        if spec.function == "scale":
            return source / spec.per, "continuous", None
        if spec.function == "sqrt":
            bad = source < 0
        else:
            bad = source <= 0
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{spec.function} of {source.iloc[pos]} is undefined",
                            file=str(self.config.source), key=f"{key}.function",
                            column=spec.source, row=self.typer.where(pos))
        function = {"log": np.log, "log2": np.log2, "log10": np.log10, "sqrt": np.sqrt}
        return function[spec.function](source), "continuous", None

    def _all(self, conditions: list[Condition], key: str):
        holds = np.ones(len(self.frame), dtype=bool)
        known = np.ones(len(self.frame), dtype=bool)
        for i, cond in enumerate(conditions):
            series = self.source(cond.variable, f"{key}[{i}].variable")
            try:
                h, k = evaluate(cond, series, self.infos[cond.variable])
            except ConditionError as exc:
                raise DataError(str(exc), file=str(self.config.source),
                                key=f"{key}[{i}]") from None
            holds &= h
            known &= k
        return holds, known


def derived_info(name: str, spec, kind: str, levels: list[str] | None) -> VariableInfo:
    """The metadata of derived variable ``name`` of ``kind`` (with its ``levels``); shared
    with the engine path (:mod:`cohortpress.data.engine.derive`) so that both give the same."""
    label = spec.label or name
    if kind in ("categorical", "binary"):
        positive = next((lv for lv in levels if lv.lower() in YES_WORDS), levels[-1])
        return VariableInfo(name, label, kind, tuple(levels), unit=spec.unit,
                            missing_label=spec.missing_label, positive=positive, derived=True)
    return VariableInfo(name, label, kind, unit=spec.unit, missing_label=spec.missing_label,
                        derived=True)


def _ordered_unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i is not None))
