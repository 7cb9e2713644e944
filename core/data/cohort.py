"""From a cohort file and the config to a typed :class:`Cohort`.

Steps, in order: read only the columns the report uses (through the reader hook), check
patient ids, type every column from its ``[variables]`` metadata (missing codes, levels,
display labels, dates), compute ``[derived]`` variables, apply ``cohort.filter``, and build
the ``[endpoints]``. Every problem is a :class:`~cohortpress.common.errors.DataError` naming the
file, the column, and the row (and patient id) at fault.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from cohortpress.config.schema import (CaseDerived, Condition, Config, CutDerived, DateDiffDerived,
                                EndpointSettings, FlagDerived, Kmt2aDerived, RecodeDerived,
                                TransformDerived, VariableSettings)
from cohortpress.common.errors import DataError

DAYS_PER_UNIT = {"days": 1.0, "months": 365.25 / 12.0, "years": 365.25}
YES_WORDS = ("yes", "y", "1", "true", "present", "positive")


@dataclass(frozen=True)
class VariableInfo:
    """Metadata of one cohort variable.

    ``levels`` are the display labels in order (categorical and binary only);
    ``positive`` is the level a binary row counts.
    """

    name: str
    label: str
    kind: str
    levels: tuple[str, ...] = ()
    unit: str | None = None
    missing_label: str = "Unknown"
    reference: str | None = None
    positive: str | None = None
    derived: bool = False

    def label_with_unit(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


@dataclass(frozen=True, eq=False)
class Endpoint:
    """A time-to-event endpoint, aligned with the cohort's rows.

    Attributes
    ----------
    time : ndarray of float
        Time from start to event or censoring, in ``unit``.
    event : ndarray of int
        1 for the event of interest, 0 censored (a competing event counts as 0 here).
    status : ndarray of int
        0 censored, 1 event of interest, 2 competing event (equals ``event`` when the
        endpoint has no competing events).
    """

    name: str
    label: str
    unit: str
    time: np.ndarray
    event: np.ndarray
    status: np.ndarray
    has_competing: bool = False
    definition: str = ""


@dataclass(frozen=True, eq=False)
class Cohort:
    """The typed cohort every analysis receives.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per patient: categorical variables as ordered ``pandas.Categorical`` of their
        display labels, continuous as float, dates as datetime64; missing values as NA.
    variables : mapping of str to VariableInfo
    endpoints : mapping of str to Endpoint
    id_column, group : str or None
        The patient-id column and the default grouping variable.
    source : Path
        The cohort file; ``sha256`` its digest, for the provenance appendix.
    """

    data: pd.DataFrame
    variables: Mapping[str, VariableInfo]
    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)
    id_column: str | None = None
    group: str | None = None
    source: Path = Path("cohort")
    sha256: str = ""
    n_rows_read: int = 0
    filter_text: str = ""

    @property
    def n(self) -> int:
        return len(self.data)

    def variable(self, name: str) -> VariableInfo:
        try:
            return self.variables[name]
        except KeyError:
            raise DataError(f"unknown variable '{name}'{_suggest(name, self.variables)}") from None

    def label(self, name: str) -> str:
        return self.variable(name).label

    def values(self, name: str) -> pd.Series:
        self.variable(name)
        return self.data[name]

    def endpoint(self, name: str) -> Endpoint:
        try:
            return self.endpoints[name]
        except KeyError:
            raise DataError(f"unknown endpoint '{name}'{_suggest(name, self.endpoints)}") from None

    def subset(self, keep: np.ndarray, description: str) -> "Cohort":
        """The patients where ``keep`` is true, with endpoints cut to match."""
        from dataclasses import replace

        endpoints = {name: replace(ep, time=ep.time[keep], event=ep.event[keep],
                                   status=ep.status[keep])
                     for name, ep in self.endpoints.items()}
        text = "; ".join(t for t in (self.filter_text, description) if t)
        return replace(self, data=self.data.loc[keep].reset_index(drop=True),
                       endpoints=endpoints, filter_text=text)

    def row_names(self, positions: Iterable[int]) -> list[str]:
        """Patient ids (or 1-based row numbers) of rows by position, for messages."""
        if self.id_column:
            ids = self.data[self.id_column].astype(str).to_numpy()
            return [ids[i] for i in positions]
        return [f"row {i + 1}" for i in positions]


# --------------------------------------------------------------------------- entry point


def needed_columns(config: Config, references: Iterable[str]) -> set[str]:
    """The file columns a build needs: variables used by sections, derivations, endpoints."""
    # Every derived variable is computed (and so checked), whether a section uses it or not.
    names = set(references) | set(config.variables) | set(config.derived)
    for opt in (config.cohort.id, config.cohort.group):
        if opt:
            names.add(opt)
    names |= {c.variable for c in config.cohort.filter}
    names |= {c.variable for head in config.section for c in head.subset}
    for ep in config.endpoints.values():
        names |= {n for n in (ep.time, ep.event, ep.start, ep.last_contact) if n}
        names |= set(ep.events) | set(ep.competing)
    # Replace derived names by their sources, transitively.
    columns: set[str] = set()
    stack = list(names)
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        spec = config.derived.get(name)
        if spec is None:
            columns.add(name)
        else:
            stack.extend(derived_sources(spec))
    return columns


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


def build_cohort(config: Config, raw_data: pd.DataFrame, *, file_labels: Mapping[str, str] = {},
                 sha256: str = "", used: Iterable[str] = ()) -> Cohort:
    """Type, derive, filter and build endpoints from the raw table read from the file."""
    file = str(config.cohort.path)
    data = raw_data.reset_index(drop=True)
    if len(data) == 0:
        raise DataError("the cohort has no rows", file=file)
    id_column = config.cohort.id
    if id_column:
        _check_ids(data, id_column, file)
    typer = _Typer(config, data, file, file_labels, id_column)
    roles = _column_roles(config)
    columns: dict[str, pd.Series] = {}
    infos: dict[str, VariableInfo] = {}
    for name in data.columns:
        settings = config.variables.get(name, VariableSettings())
        series, info = typer.type_column(name, settings, roles.get(name))
        columns[name] = series
        infos[name] = info
    frame = pd.DataFrame(columns)
    deriver = _Deriver(config, frame, infos, typer)
    for name in _derivation_order(config, set(used) | set(config.derived)):
        deriver.derive(name)
    frame, infos = deriver.frame, deriver.infos
    _check_level_counts(config, infos, [*used, config.cohort.group], file)
    frame, filter_text = _apply_filters(config, frame, infos, typer)
    if config.cohort.group:
        _check_group(config, frame, infos, file)
    endpoints = {name: _build_endpoint(name, spec, frame, infos, typer)
                 for name, spec in config.endpoints.items()}
    return Cohort(data=frame, variables=infos, endpoints=endpoints, id_column=id_column,
                  group=config.cohort.group, source=config.cohort.path, sha256=sha256,
                  n_rows_read=len(raw_data), filter_text=filter_text)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- typing


def _column_roles(config: Config) -> dict[str, str]:
    """Columns whose kind the config implies: endpoint dates and times."""
    roles: dict[str, str] = {}
    for ep in config.endpoints.values():
        for col in (ep.start, ep.last_contact, *ep.events, *ep.competing):
            if col:
                roles[col] = "date"
        if ep.time:
            roles[ep.time] = "continuous"
        if ep.event:
            roles[ep.event] = "text"
    if config.cohort.id:
        roles[config.cohort.id] = "text"
    for spec in config.derived.values():
        if isinstance(spec, Kmt2aDerived):
            roles.setdefault(spec.source, "text")
    return roles


def _check_level_counts(config: Config, infos: Mapping[str, VariableInfo],
                        names: Iterable[str | None], file: str) -> None:
    """A categorical variable a section uses may have at most ``cohort.max_levels`` levels.

    Thousands of "levels" mean free text, or numbers with a stray word among them: a table
    with a row per value would be useless (and slow to lay out).
    """
    limit = config.cohort.max_levels
    for name in dict.fromkeys(n for n in names if n):
        info = infos.get(name)
        if info is None or info.kind not in ("categorical", "binary"):
            continue
        if len(info.levels) > limit:
            where = f"derived.{name}" if info.derived else f"variables.{name}"
            raise DataError(f"{len(info.levels)} distinct values, more than cohort.max_levels "
                            f"= {limit} for a categorical variable; set {where}.kind = "
                            f"\"text\" if it is free text (or \"continuous\" if it is a "
                            f"number), or raise cohort.max_levels", file=file, column=name)


def _check_ids(data: pd.DataFrame, column: str, file: str) -> None:
    ids = data[column]
    missing = ids.isna()
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0]) + 1
        raise DataError("patient id is missing", file=file, column=column, row=row)
    if ids.is_unique:  # the usual case, found with one hash table (duplicated() needs more)
        return
    dup = ids.duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())[:2] + 1
        raise DataError(f"duplicate patient id '{ids.iloc[rows[0] - 1]}' (rows "
                        f"{rows[0]} and {rows[1]})", file=file, column=column)


def _natural_key(text: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def _as_text(value: Any) -> str:
    """A level as text: integral floats lose their '.0' (99.0 read from Excel is '99')."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _distinct(series: pd.Series):
    """``(codes, distinct values)`` of a column when mapping per distinct value is exact
    and pays; None otherwise.

    A million-row column of codes has a handful of distinct values: factorising it (in C)
    and calling a function once per distinct value is several times faster than once per
    row. Exact for numeric and boolean NumPy columns and object columns holding only
    strings; not for other columns (mixed Python objects from Excel, where 1, 1.0 and True
    are equal keys but print differently), nor worth it for short columns or mostly unique
    ones such as patient ids (judged on the first 10,000 rows).
    """
    dtype = series.dtype
    if len(series) < 1000 or not isinstance(dtype, np.dtype):
        return None
    if dtype.kind not in "biuf" and not (
            dtype == object and pd.api.types.infer_dtype(series, skipna=True) in
            ("string", "empty")):
        return None
    head = series.iloc[:10_000]
    if len(pd.unique(head)) > len(head) // 2:
        return None
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def _take_distinct(series: pd.Series, codes: np.ndarray, mapped: list) -> pd.Series:
    """Rows take their distinct value's result; missing rows keep their value."""
    results = np.empty(len(mapped), dtype=object)
    results[:] = mapped
    if len(codes) and codes.min() >= 0:
        values = results[codes]
    else:
        values = series.to_numpy(dtype=object, copy=True)
        present = codes >= 0
        values[present] = results[codes[present]]
    return pd.Series(values, index=series.index, name=series.name, dtype=object)


def _map_distinct(series: pd.Series, function, *, na_action: str | None = "ignore") -> pd.Series:
    """``series.map(function, na_action=...)``, calling ``function`` once per distinct value
    where that is exact (see :func:`_distinct`); missing values are left as they are, as
    ``map`` leaves them."""
    found = _distinct(series)
    if found is None:
        return series.map(function, na_action=na_action)
    codes, uniques = found
    return _take_distinct(series, codes, [function(v) for v in uniques])


class _Typer:
    """Types raw columns according to their metadata; errors name file, column and row."""

    def __init__(self, config: Config, data: pd.DataFrame, file: str,
                 file_labels: Mapping[str, str], id_column: str | None):
        self.config = config
        self.file = file
        self.file_labels = file_labels
        self.raw = data
        self.id_column = id_column

    def where(self, position: int) -> str:
        if self.id_column:  # patient ids as text only when a message needs one
            return f"{position + 1} (patient {self.raw[self.id_column].iloc[position]!s})"
        return str(position + 1)

    def fail(self, message: str, column: str, position: int | None = None) -> DataError:
        row = None if position is None else self.where(position)
        return DataError(message, file=self.file, column=column, row=row)

    def type_column(self, name: str, settings: VariableSettings, role: str | None):
        series = self._apply_missing(_strip_text(self.raw[name]), settings)
        kind = settings.kind or role or self._infer_kind(series, settings)
        label = settings.label or self.file_labels.get(name) or name
        if kind == "continuous":
            values = self._numeric(series, name)
            return values, VariableInfo(name, label, kind, unit=settings.unit,
                                        missing_label=settings.missing_label)
        if kind == "date":
            fmt = settings.date_format or self.config.cohort.date_format
            return self.dates(series, name, fmt), VariableInfo(
                name, label, kind, missing_label=settings.missing_label)
        if kind == "text":
            return series, VariableInfo(name, label, kind, missing_label=settings.missing_label)
        return self._categorical(name, series, settings, kind, label)

    def _apply_missing(self, series: pd.Series, settings: VariableSettings) -> pd.Series:
        if not settings.missing:
            return series
        codes = {_as_text(m) for m in settings.missing}
        as_text = _map_distinct(series, _as_text)
        return series.mask(as_text.isin(codes))

    def _infer_kind(self, series: pd.Series, settings: VariableSettings) -> str:
        if settings.levels is not None:
            return "categorical"
        present = series.dropna()
        if present.empty:
            return "categorical"
        if pd.api.types.is_datetime64_any_dtype(series):
            return "date"
        numeric = pd.to_numeric(present, errors="coerce")
        if numeric.notna().all():
            distinct = set(numeric.unique().tolist())
            return "categorical" if distinct <= {0, 1} else "continuous"
        return "categorical"

    def _numeric(self, series: pd.Series, name: str) -> pd.Series:
        values = pd.to_numeric(series, errors="coerce")
        bad = values.isna() & series.notna()
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise self.fail(f"'{series.iloc[pos]}' is not a number (declare it in "
                            f"variables.{name}.missing if it is a missing-value code)", name, pos)
        values = values.astype(float)
        infinite = np.isinf(values.to_numpy())
        if infinite.any():
            pos = int(np.flatnonzero(infinite)[0])
            raise self.fail(f"'{series.iloc[pos]}' is not a finite number", name, pos)
        return values

    def dates(self, series: pd.Series, name: str, fmt: str | None) -> pd.Series:
        if pd.api.types.is_datetime64_any_dtype(series):
            return series
        present = series.notna()
        text = series.where(present)
        try:
            parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce")
        except (ValueError, TypeError):
            parsed = pd.Series(pd.NaT, index=series.index)
        bad = parsed.isna() & present
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            expected = f"the format '{fmt}'" if fmt else "an ISO date (YYYY-MM-DD)"
            raise self.fail(f"'{series.iloc[pos]}' is not {expected}; set "
                            f"variables.{name}.date_format or cohort.date_format (e.g. "
                            f"\"%d/%m/%Y\"); one format per column", name, pos)
        return parsed

    def _categorical(self, name: str, series: pd.Series, settings: VariableSettings,
                     kind: str, label: str):
        found = _distinct(series)
        if found is not None:
            # Per distinct value: its text, in order of first appearance, as below.
            row_codes, uniques = found
            texts = [_as_text(v) for v in uniques]
            present_texts = list(dict.fromkeys(texts))
        if settings.levels is not None:
            codes = [_as_text(level) for level in settings.levels]
            if found is None or not set(present_texts) <= set(codes):
                text = _map_distinct(series, _as_text)
                present = text.dropna()
                unknown = ~present.isin(codes)
                if unknown.any():
                    pos = int(np.flatnonzero(text.notna().to_numpy())[np.flatnonzero(unknown.to_numpy())[0]])
                    raise self.fail(f"value '{text.iloc[pos]}' is not among the levels "
                                    f"{codes} (add it to variables.{name}.levels, or to "
                                    f"variables.{name}.missing)", name, pos)
        elif found is not None:
            codes = sorted(present_texts, key=_natural_key)
        else:
            text = _map_distinct(series, _as_text)
            codes = sorted(text.dropna().unique().tolist(), key=_natural_key)
        display = [settings.labels.get(c, c) for c in codes]
        if len(set(display)) != len(display):
            raise DataError(f"two levels share a display label in variables.{name}.labels",
                            file=self.config.source.name, column=name)
        # The position of each value among the (distinct) codes is its category code.
        if found is not None:
            index_of = {code: i for i, code in enumerate(codes)}
            per_value = np.array([index_of.get(t, -1) for t in texts], dtype=np.intp)
            positions = np.where(row_codes >= 0, per_value[row_codes], -1) \
                if len(per_value) else np.full(len(series), -1, dtype=np.intp)
        else:
            positions = pd.Index(codes, dtype=object).get_indexer(text)
        values = pd.Series(pd.Categorical.from_codes(positions, categories=display,
                                                     ordered=True),
                           index=series.index, name=name)
        positive = self._positive(settings, display, name)
        if kind == "binary" and len(display) > 2:
            raise self.fail(f"declared binary but has {len(display)} levels: {display}", name)
        reference = None
        if settings.reference is not None:
            ref = settings.labels.get(_as_text(settings.reference), _as_text(settings.reference))
            if ref not in display:
                raise DataError(f"reference level '{ref}' is not among the levels {display}",
                                file=self.config.source.name, key=f"variables.{name}.reference")
            reference = ref
        info = VariableInfo(name, label, kind, tuple(display), unit=settings.unit,
                            missing_label=settings.missing_label, reference=reference,
                            positive=positive)
        return values, info

    def _positive(self, settings: VariableSettings, display: list[str], name: str) -> str | None:
        if settings.positive is not None:
            pos = settings.labels.get(_as_text(settings.positive), _as_text(settings.positive))
            if pos not in display:
                raise DataError(f"positive level '{pos}' is not among the levels {display}",
                                file=self.config.source.name, key=f"variables.{name}.positive")
            return pos
        for level in display:
            if level.lower() in YES_WORDS:
                return level
        return display[-1] if display else None


def _strip_text(series: pd.Series) -> pd.Series:
    if series.dtype == object:
        found = _distinct(series)
        if found is not None:  # strings only: strip, and "" becomes missing, per value
            codes, uniques = found
            return _take_distinct(series, codes, [v.strip() or np.nan for v in uniques])
        stripped = series.map(lambda v: v.strip() if isinstance(v, str) else v)
        return stripped.mask(stripped == "")
    return series


# --------------------------------------------------------------------------- derivation


def _derivation_order(config: Config, wanted: set[str]) -> list[str]:
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
                            file=config.source.name, key=f"derived.{name}")
        state[name] = "active"
        for source in derived_sources(config.derived[name]):
            visit(source, (*path, name))
        state[name] = "done"
        order.append(name)

    for name in config.derived:
        if name in wanted:
            visit(name, ())
    return order


class _Deriver:
    def __init__(self, config: Config, frame: pd.DataFrame, infos: dict[str, VariableInfo],
                 typer: _Typer):
        self.config = config
        self.frame = frame
        self.infos = infos
        self.typer = typer

    def source(self, name: str, key: str, kinds: tuple[str, ...] | None = None) -> pd.Series:
        if name not in self.frame.columns:
            raise DataError(f"unknown variable '{name}'"
                            f"{_suggest(name, list(self.frame.columns))}",
                            file=self.config.source.name, key=key)
        if kinds and self.infos[name].kind not in kinds:
            raise DataError(f"variable '{name}' is {self.infos[name].kind}, needs "
                            f"{' or '.join(kinds)}", file=self.config.source.name, key=key)
        return self.frame[name]

    def derive(self, name: str) -> None:
        spec = self.config.derived[name]
        key = f"derived.{name}"
        method = getattr(self, f"_{spec.type}")
        series, kind, levels = method(spec, key)
        label = spec.label or name
        if kind in ("categorical", "binary"):
            values = pd.Series(pd.Categorical(series, categories=levels, ordered=True),
                               index=self.frame.index)
            positive = next((lv for lv in levels if lv.lower() in YES_WORDS), levels[-1])
            info = VariableInfo(name, label, kind, tuple(levels), unit=spec.unit,
                                missing_label=spec.missing_label, positive=positive,
                                derived=True)
        else:
            values = series
            info = VariableInfo(name, label, kind, unit=spec.unit,
                                missing_label=spec.missing_label, derived=True)
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
                            f"breaks {spec.breaks}", file=self.config.source.name,
                            key=f"{key}.breaks", column=spec.source,
                            row=self.typer.where(pos))
        return binned.astype(object), "categorical", list(spec.labels)

    def _recode(self, spec: RecodeDerived, key: str):
        source = self.source(spec.source, f"{key}.source")
        text = _map_distinct(source.astype(object), _as_text)
        mapped = _map_distinct(text, lambda v: spec.mapping.get(v, spec.other if spec.other
                                                                is not None else v))
        levels = spec.levels or _ordered_unique([*spec.mapping.values(),
                                                 *sorted(mapped.dropna().unique(), key=_natural_key)])
        unknown = set(mapped.dropna().unique()) - set(levels)
        if unknown:
            raise DataError(f"recoded values {sorted(unknown)} are not among levels {levels}",
                            file=self.config.source.name, key=f"{key}.levels")
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
                            file=self.config.source.name, key=f"{key}.function",
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
                raise DataError(str(exc), file=self.config.source.name,
                                key=f"{key}[{i}]") from None
            holds &= h
            known &= k
        return holds, known


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
    return _as_text(value)


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
        elif info.levels and _as_text(value) not in info.levels:
            raise ConditionError(f"{_as_text(value)!r} is not a level of '{name}' (levels: "
                                 f"{', '.join(map(repr, info.levels))}; conditions use the "
                                 f"displayed labels)")


def _ordered_unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i is not None))


def _apply_filters(config: Config, frame: pd.DataFrame, infos: dict[str, VariableInfo],
                   typer: _Typer):
    if not config.cohort.filter:
        return frame, ""
    keep = np.ones(len(frame), dtype=bool)
    texts = []
    for i, cond in enumerate(config.cohort.filter):
        if cond.variable not in frame.columns:
            raise DataError(f"unknown variable '{cond.variable}'"
                            f"{_suggest(cond.variable, list(frame.columns))}",
                            file=config.source.name, key=f"cohort.filter[{i}].variable")
        try:
            holds, _ = evaluate(cond, frame[cond.variable], infos[cond.variable])
        except ConditionError as exc:
            raise DataError(str(exc), file=config.source.name,
                            key=f"cohort.filter[{i}]") from None
        keep &= holds
        texts.append(describe_condition(cond))
    if not keep.any():
        raise DataError(f"no rows left after cohort.filter ({'; '.join(texts)})",
                        file=config.source.name, key="cohort.filter")
    return frame.loc[keep].reset_index(drop=True), "; ".join(texts)


def describe_condition(cond: Condition) -> str:
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


def _check_group(config: Config, frame: pd.DataFrame, infos: dict[str, VariableInfo],
                 file: str) -> None:
    name = config.cohort.group
    if name not in frame.columns:
        raise DataError(f"unknown variable '{name}'{_suggest(name, list(frame.columns))}",
                        file=config.source.name, key="cohort.group")
    if infos[name].kind not in ("categorical", "binary"):
        raise DataError(f"the grouping variable must be categorical, '{name}' is "
                        f"{infos[name].kind}", file=config.source.name, key="cohort.group")


# --------------------------------------------------------------------------- endpoints


def _build_endpoint(name: str, spec: EndpointSettings, frame: pd.DataFrame,
                    infos: Mapping[str, VariableInfo], typer: _Typer) -> Endpoint:
    key = f"endpoints.{name}"
    label = spec.label or name
    if spec.time is not None:
        time, event, definition = _endpoint_from_columns(spec, frame, typer, key)
        status = event.copy()
        competing = False
    else:
        time, status, definition = _endpoint_from_dates(spec, frame, typer, key)
        event = (status == 1).astype(np.int8)
        competing = bool(spec.competing)
    return Endpoint(name, label, spec.unit, time, event, status, competing, definition)


def _column(frame: pd.DataFrame, name: str, key: str, typer: _Typer) -> pd.Series:
    if name not in frame.columns:
        raise DataError(f"unknown column '{name}'{_suggest(name, list(frame.columns))}",
                        file=typer.config.source.name, key=key)
    return frame[name]


def _endpoint_from_columns(spec: EndpointSettings, frame, typer: _Typer, key: str):
    raw_time = _column(frame, spec.time, f"{key}.time", typer)
    time = pd.to_numeric(raw_time, errors="coerce").to_numpy(dtype=float)
    missing = np.isnan(time)
    if missing.any():
        pos = int(np.flatnonzero(missing)[0])
        raise typer.fail("follow-up time is missing or not a number", spec.time, pos)
    infinite = np.isinf(time)
    if infinite.any():
        pos = int(np.flatnonzero(infinite)[0])
        raise typer.fail(f"follow-up time is not a finite number ({time[pos]:g})", spec.time,
                         pos)
    negative = time < 0
    if negative.any():
        pos = int(np.flatnonzero(negative)[0])
        raise typer.fail(f"follow-up time is negative ({time[pos]:g})", spec.time, pos)
    from_unit = spec.time_unit or spec.unit
    time = time * DAYS_PER_UNIT[from_unit] / DAYS_PER_UNIT[spec.unit]
    events = _column(frame, spec.event, f"{key}.event", typer)
    text = _map_distinct(events, _as_text)
    event_codes = {_as_text(c) for c in spec.event_codes}
    censor_codes = {_as_text(c) for c in spec.censor_codes}
    is_event = text.isin(event_codes).to_numpy()
    is_censor = text.isin(censor_codes).to_numpy()
    other = ~(is_event | is_censor)
    if other.any():
        pos = int(np.flatnonzero(other)[0])
        raw_event = events.astype(object)
        value = "missing" if pd.isna(raw_event.iloc[pos]) else f"'{raw_event.iloc[pos]}'"
        raise typer.fail(f"event code {value} is neither an event {sorted(event_codes)} nor "
                         f"censored {sorted(censor_codes)} (set {key}.event_codes and "
                         f"censor_codes)", spec.event, pos)
    return time, is_event.astype(np.int8), f"{spec.time} and {spec.event}"


def _endpoint_from_dates(spec: EndpointSettings, frame, typer: _Typer, key: str):
    start = _date_column(frame, spec.start, f"{key}.start", typer)
    if start.isna().any():
        pos = int(np.flatnonzero(start.isna().to_numpy())[0])
        raise typer.fail("start date is missing", spec.start, pos)
    last = _date_column(frame, spec.last_contact, f"{key}.last_contact", typer)
    first_event, first_col = _earliest(frame, spec.events, f"{key}.events", typer, start)
    first_comp, _ = _earliest(frame, spec.competing, f"{key}.competing", typer, start)
    has_event = first_event.notna().to_numpy()
    has_comp = first_comp.notna().to_numpy() & (~has_event | (first_comp < first_event).to_numpy())
    censored = ~has_event & ~has_comp
    no_contact = censored & last.isna().to_numpy()
    if no_contact.any():
        pos = int(np.flatnonzero(no_contact)[0])
        raise typer.fail("no event date and no last-contact date", spec.last_contact, pos)
    end = last.mask(has_event, first_event).mask(has_comp, first_comp)
    days = (end - start).dt.days.to_numpy(dtype=float)
    negative = days < 0
    if negative.any():
        pos = int(np.flatnonzero(negative)[0])
        raise typer.fail(f"last contact {last.iloc[pos].date()} is before the start date "
                         f"{start.iloc[pos].date()}", spec.last_contact, pos)
    status = np.where(has_event & ~has_comp, 1, np.where(has_comp, 2, 0)).astype(np.int8)
    definition = _definition(spec, typer)
    return days / DAYS_PER_UNIT[spec.unit], status, definition


def _definition(spec: EndpointSettings, typer: _Typer) -> str:
    """The endpoint in words, for the methods: "from diagnosis to the earliest of relapse,
    second malignancy or death" (labels where the config gives them, else the column names
    as words)."""
    from cohortpress.common.formatting import humanise, in_sentence

    def word(column: str) -> str:
        label = typer.config.variables.get(column)
        if label is not None and label.label:
            return in_sentence(label.label)
        return humanise(column)

    events = [word(c) for c in spec.events]
    if len(events) == 1:
        return f"from {word(spec.start)} to {events[0]}"
    return f"from {word(spec.start)} to the earliest of {', '.join(events[:-1])} or {events[-1]}"


def _date_column(frame, name: str, key: str, typer: _Typer) -> pd.Series:
    series = _column(frame, name, key, typer)
    if not pd.api.types.is_datetime64_any_dtype(series):
        raise DataError(f"column '{name}' is not a date column (set variables.{name}.kind = "
                        f"\"date\")", file=typer.config.source.name, key=key)
    return series


def _earliest(frame, columns: list[str], key: str, typer: _Typer, start: pd.Series):
    earliest = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    which = pd.Series(None, index=frame.index, dtype=object)
    for i, col in enumerate(columns):
        dates = _date_column(frame, col, f"{key}[{i}]", typer)
        before = (dates < start).to_numpy()
        if before.any():
            pos = int(np.flatnonzero(before)[0])
            raise typer.fail(f"event date {dates.iloc[pos].date()} is before the start date "
                             f"{start.iloc[pos].date()}", col, pos)
        earlier = dates.notna() & (earliest.isna() | (dates < earliest))
        earliest = earliest.mask(earlier, dates)
        which = which.mask(earlier, col)
    return earliest, which


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, [str(k) for k in known], n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def section_subset(cohort: "Cohort", conditions, section_id: str) -> "Cohort":
    """The patients a section's ``subset`` conditions select (all must hold)."""
    keep = np.ones(cohort.n, dtype=bool)
    for i, cond in enumerate(conditions):
        if cond.variable not in cohort.variables:
            raise DataError(f"unknown variable '{cond.variable}'",
                            key=f"section '{section_id}'.subset[{i}].variable")
        holds, _ = evaluate(cond, cohort.values(cond.variable), cohort.variable(cond.variable))
        keep &= holds
    if not keep.any():
        raise DataError("no patients left after the section's subset",
                        key=f"section '{section_id}'.subset")
    return cohort.subset(keep, "; ".join(describe_condition(c) for c in conditions))
