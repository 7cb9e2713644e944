"""Typing the raw columns of the cohort file from their ``[variables]`` metadata.

Missing-value codes, levels and display labels, numbers and dates; checks of the patient
ids and of the number of levels. Every problem is a
:class:`~cohortpress.common.errors.DataError` naming the file, the column and the row (and
patient id) at fault.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from cohortpress.common.errors import DataError
from cohortpress.config.schema import Config, Kmt2aDerived, VariableSettings
from cohortpress.data.cohort import VariableInfo

#: Level labels that name the level a binary variable counts ("positive").
YES_WORDS = ("yes", "y", "1", "true", "present", "positive")


def column_roles(config: Config) -> dict[str, str]:
    """Columns whose kind the config implies: endpoint dates and times."""
    roles: dict[str, str] = {}
    for ep in config.endpoints.values():
        if ep.form == "dates":
            roles.update(dict.fromkeys(ep.columns, "date"))
        else:
            roles[ep.time] = "continuous"
            roles[ep.event] = "text"
            if ep.entry:
                roles[ep.entry] = "continuous"
    if config.cohort.id:
        roles[config.cohort.id] = "text"
    for spec in config.derived.values():
        if isinstance(spec, Kmt2aDerived):
            roles.setdefault(spec.source, "text")
    return roles


def check_level_counts(config: Config, infos: Mapping[str, VariableInfo],
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


def check_ids(data: pd.DataFrame, column: str, file: str) -> None:
    """Every patient has an id, and no two patients share one."""
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


def natural_key(text: str):
    """A sort key that puts "2" before "10" ("stage 2" before "stage 10")."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def as_text(value: Any) -> str:
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


def map_distinct(series: pd.Series, function, *, na_action: str | None = "ignore") -> pd.Series:
    """``series.map(function, na_action=...)``, calling ``function`` once per distinct value
    where that is exact (see :func:`_distinct`); missing values are left as they are, as
    ``map`` leaves them."""
    found = _distinct(series)
    if found is None:
        return series.map(function, na_action=na_action)
    codes, uniques = found
    return _take_distinct(series, codes, [function(v) for v in uniques])


class ColumnTyper:
    """Types raw columns according to their metadata; errors name file, column and row."""

    def __init__(self, config: Config, data: pd.DataFrame, file: str,
                 file_labels: Mapping[str, str], id_column: str | None,
                 extra_values: Mapping[str, pd.Series] | None = None):
        self.config = config
        self.file = file
        self.file_labels = file_labels
        self.raw = data
        self.id_column = id_column
        # Per column, values of the whole cohort's column when ``data`` holds only some of
        # its rows (the rows a filter run in the database kept): typed with the rows, so
        # that kinds and levels are the whole column's, then dropped.
        self.extra_values = extra_values or {}

    def where(self, position: int) -> str:
        if position >= len(self.raw):  # one of extra_values: no row of its own was read
            return "not read (a value of a row the filter in the database removed)"
        if self.id_column:  # patient ids as text only when a message needs one
            return f"{position + 1} (patient {self.raw[self.id_column].iloc[position]!s})"
        return str(position + 1)

    def fail(self, message: str, column: str, position: int | None = None) -> DataError:
        row = None if position is None else self.where(position)
        return DataError(message, file=self.file, column=column, row=row)

    def type_column(self, name: str, settings: VariableSettings, role: str | None):
        extra = self.extra_values.get(name)
        if extra is None or not len(extra):
            return self._type_column(name, self.raw[name], settings, role)
        rows = self.raw[name]
        joined = pd.concat([rows, pd.Series(extra.to_numpy(), name=name)], ignore_index=True)
        values, info = self._type_column(name, joined, settings, role)
        return values.iloc[:len(rows)].set_axis(rows.index), info

    def _type_column(self, name: str, raw: pd.Series, settings: VariableSettings,
                     role: str | None):
        series = self._apply_missing(_strip_text(raw), settings)
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
        codes = {as_text(m) for m in settings.missing}
        text = map_distinct(series, as_text)
        return series.mask(text.isin(codes))

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
            texts = [as_text(v) for v in uniques]
            present_texts = list(dict.fromkeys(texts))
        if settings.levels is not None:
            codes = [as_text(level) for level in settings.levels]
            if found is None or not set(present_texts) <= set(codes):
                text = map_distinct(series, as_text)
                present = text.dropna()
                unknown = ~present.isin(codes)
                if unknown.any():
                    first_unknown = np.flatnonzero(unknown.to_numpy())[0]
                    pos = int(np.flatnonzero(text.notna().to_numpy())[first_unknown])
                    raise self.fail(f"value '{text.iloc[pos]}' is not among the levels "
                                    f"{codes} (add it to variables.{name}.levels, or to "
                                    f"variables.{name}.missing)", name, pos)
        elif found is not None:
            codes = sorted(present_texts, key=natural_key)
        else:
            text = map_distinct(series, as_text)
            codes = sorted(text.dropna().unique().tolist(), key=natural_key)
        display = [settings.labels.get(c, c) for c in codes]
        if len(set(display)) != len(display):
            raise DataError(f"two levels share a display label in variables.{name}.labels",
                            file=str(self.config.source), column=name)
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
            ref = settings.labels.get(as_text(settings.reference), as_text(settings.reference))
            if ref not in display:
                raise DataError(f"reference level '{ref}' is not among the levels {display}",
                                file=str(self.config.source), key=f"variables.{name}.reference")
            reference = ref
        info = VariableInfo(name, label, kind, tuple(display), unit=settings.unit,
                            missing_label=settings.missing_label, reference=reference,
                            positive=positive)
        return values, info

    def _positive(self, settings: VariableSettings, display: list[str], name: str) -> str | None:
        if settings.positive is not None:
            pos = settings.labels.get(as_text(settings.positive), as_text(settings.positive))
            if pos not in display:
                raise DataError(f"positive level '{pos}' is not among the levels {display}",
                                file=str(self.config.source), key=f"variables.{name}.positive")
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
