"""Typing the source's columns in the engine, by the in-memory rules.

A column with at most :data:`~cohortpress.data.duck.PROFILE_LIMIT` distinct values: the
in-memory :class:`~cohortpress.data.columns.ColumnTyper` types its distinct values (the
kind guess, the levels, their order and labels depend only on the set of distinct values,
and each value's typed value only on itself), and the typed values are joined as a lookup
table keyed by the raw value. Identical to the in-memory typing by construction.

A column with more distinct values is a measurement, a date or an id: typed with SQL casts
following the same rules (missing-value codes, empty text as missing, a value that is not
a number or not a date an error naming it); a categorical column with so many values is
refused.

Errors name the column and the first row holding the offending value (its position in the
source, found on the error path only) and its patient id.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cohortpress.common.errors import DataError
from cohortpress.config.schema import Config, VariableSettings
from cohortpress.data.cohort import VariableInfo
from cohortpress.data.columns import ColumnTyper, as_text
from cohortpress.data.duck import PROFILE_LIMIT, DuckSource
from cohortpress.data.engine.backend import COHORT, double, in_list, literal, quoted
from cohortpress.data.engine.cohort import EngineCohort, view_values

#: The hidden column holding an event column's values as the endpoint code lists compare
#: them (``as_text`` of the typed value; NULL when missing). Dropped from the final view.
CAUSE_PREFIX = "__cause__"
#: A column with at most this many distinct values is typed by a CASE expression; one
#: with more (up to PROFILE_LIMIT) by joining a lookup table.
CASE_LIMIT = 256
#: The source view's name (see :mod:`~cohortpress.data.engine.view`).
SOURCE = "cohort_source"
#: The 64-bit hash the duplicate-id check counts first (``{}``: the id column).
ID_HASH = "hash({})"
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                 "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")


def cause_column(column: str) -> str:
    """The hidden view column of event column ``column`` (see :data:`CAUSE_PREFIX`)."""
    return CAUSE_PREFIX + column


class SourceTyping:
    """The typed columns of the source, collected column by column, then one view.

    Attributes
    ----------
    selects : list of str
        One SQL expression per view column (``... AS "name"``).
    joins : list of str
        The lookup tables' LEFT JOINs.
    frames : dict
        The lookup tables.
    infos : dict
        Each column's VariableInfo, in the source's column order.
    """

    def __init__(self, config: Config, source: DuckSource, base: EngineCohort, file: str):
        self.config = config
        self.source = source
        self.base = base
        self.file = file
        self.selects: list[str] = []
        self.joins: list[str] = []
        self.frames: dict[str, pd.DataFrame] = {}
        self.infos: dict[str, VariableInfo] = {}
        self.event_columns = {ep.event for ep in config.endpoints.values()
                              if ep.form == "columns"}
        #: Each column's approximate distinct count (set by :meth:`scan`).
        self.guesses: dict[str, int] = {}
        #: The patient ids' (missing, present, distinct hashes) (set by :meth:`scan`).
        self.id_counts: tuple[int, int, int] | None = None

    def scan(self, columns, id_column: str | None) -> None:
        """What typing needs to know first, in two scans of the source: each column's
        approximate number of distinct values (HyperLogLog, constant memory), and for the
        patient id the counts :meth:`check_ids` decides from.

        The id's guess is its number of distinct hashes, never more than its distinct
        values (so never a reason to skip profiling a column that could be profiled).
        """
        others = [c for c in columns if c != id_column]
        self.guesses = self.source.approx_distinct(others)
        if id_column:
            # A query of its own: beside other aggregates, DuckDB's DISTINCT count took
            # six times as long as the two queries apart (71 s against 11 s at 10^8 rows).
            name = quoted(id_column)
            found = self.query(f"SELECT count(*) - count({name}) AS id_missing, count({name}) "
                               f"AS id_n, count(DISTINCT {ID_HASH.format(name)}) AS id_hashes "
                               f"FROM {{source}}").iloc[0]
            self.id_counts = tuple(_count(found[k]) for k in ("id_missing", "id_n",
                                                               "id_hashes"))
            self.guesses[id_column] = self.id_counts[2]

    # ------------------------------------------------------------------ the source

    def query(self, sql: str) -> pd.DataFrame:
        """A small result of ``sql`` over the source's view (``{source}``)."""
        return self.base.backend.query(sql.replace("{source}", SOURCE))

    def column_type(self, name: str) -> str:
        found = self.query(f"SELECT typeof({quoted(name)}) AS t FROM {{source}} LIMIT 1")
        return str(found["t"].iloc[0]).upper() if len(found) else "VARCHAR"

    def where(self, condition: str) -> str | None:
        """The first row of the source where ``condition`` holds, as the in-memory errors
        name a row: its number and its patient id. Error path only (it numbers the rows)."""
        id_column = self.config.cohort.id
        shown = f", CAST(s.{quoted(id_column)} AS VARCHAR) AS patient__" if id_column else ""
        found = self.query(
            f"SELECT row_number__{shown} FROM (SELECT row_number() OVER () AS row_number__, "
            f"* FROM {{source}}) AS s WHERE {condition} ORDER BY row_number__ LIMIT 1")
        if not len(found):
            return None
        row = str(int(found["row_number__"].iloc[0]))
        patient = found["patient__"].iloc[0] if id_column else None
        return row if patient is None or pd.isna(patient) else f"{row} (patient {patient})"

    def fail(self, message: str, column: str, condition: str) -> DataError:
        return DataError(message, file=self.file, column=column, row=self.where(condition))

    def check_ids(self, column: str) -> None:
        """Every patient has an id and no two share one, as
        :func:`~cohortpress.data.columns.check_ids` checks in memory."""
        name = quoted(column)
        if self.id_counts is None:
            self.scan([], column)
        missing, present, hashes = self.id_counts
        if missing:
            raise self.fail("patient id is missing", column, f"{name} IS NULL")
        # Equal ids have equal hashes: as many distinct 64-bit hashes as ids proves that no
        # two share one (counting the hashes holds 8 bytes per id where grouping the ids
        # holds their text). Fewer (a duplicate, or a collision: about n²/2⁶⁵) sends us to
        # the exact check.
        if hashes == present:
            return
        dup = self.query(f"SELECT {name} AS id FROM {{source}} GROUP BY {name} "
                         f"HAVING count(*) > 1 LIMIT 1")
        if len(dup):
            value = dup["id"].iloc[0]
            rows = self.query(
                f"SELECT row_number AS n FROM (SELECT row_number() OVER () AS row_number, "
                f"{name} FROM {{source}}) AS numbered WHERE {name} = {literal(_python(value))} "
                f"ORDER BY row_number LIMIT 2")["n"].tolist()
            raise DataError(f"duplicate patient id '{value}' (rows {rows[0]} and {rows[1]})",
                            file=self.file, column=column)

    # ------------------------------------------------------------------ the view

    def add(self, name: str, expression: str, info: VariableInfo) -> None:
        self.selects.append(f"{expression} AS {quoted(name)}")
        self.infos[name] = info

    def typed_cohort(self) -> EngineCohort:
        """The base cohort with the view ``cohort``: the typed columns (and the hidden
        cause columns of the event columns)."""
        from dataclasses import replace

        statement = (f"CREATE VIEW {COHORT} AS SELECT {', '.join(self.selects)} FROM "
                     f"{SOURCE} AS s {' '.join(self.joins)}")
        spec = replace(self.base.spec, statements=(*self.base.spec.statements, statement),
                       frames={**self.base.spec.frames, **self.frames})
        return replace(self.base, spec=spec, variables=dict(self.infos))


class _LocatingTyper(ColumnTyper):
    """The in-memory typer on a column's distinct values; a row it names is found in the
    source (the position of a distinct value is no row)."""

    def __init__(self, typing: SourceTyping, frame: pd.DataFrame, objects: list[Any]):
        super().__init__(typing.config, frame, typing.file, {}, None)
        self.typing = typing
        self.objects = objects

    def where(self, position: int) -> str | None:  # type: ignore[override]
        name = str(self.raw.columns[0])
        value = self.objects[position]
        if value is None:
            return self.typing.where(f"s.{quoted(name)} IS NULL")
        found = _sql_value(value)
        return None if found is None else self.typing.where(f"s.{quoted(name)} = {found}")


def type_source_column(typing: SourceTyping, name: str, settings: VariableSettings,
                       role: str | None) -> None:
    """Add column ``name`` of the source, typed, to the view being built."""
    profile = typing.source.distinct(name, typing.guesses.get(name))
    if profile is None:
        _type_by_sql(typing, name, settings, role)
        return
    frame = pd.DataFrame({name: profile.series.reset_index(drop=True)})
    typer = _LocatingTyper(typing, frame, profile.objects)
    values, info = typer.type_column(name, settings, role)
    keep = [i for i, v in enumerate(profile.objects) if v is not None]
    typed = view_values(values.iloc[keep].reset_index(drop=True), info)
    causes = [None if _missing(v) else as_text(v) for v in values.iloc[keep]] \
        if name in typing.event_columns else None
    keys = [profile.objects[i] for i in keep]
    cases = _case_map(name, keys, typed, info) if len(keys) <= CASE_LIMIT else None
    if cases is not None:
        typing.add(name, cases, info)
        if causes is not None:
            typing.selects.append(f"{_case_map(name, keys, causes, None)} AS "
                                  f"{quoted(cause_column(name))}")
        return
    table = f"lookup_{len(typing.frames)}"
    import pyarrow as pa

    arrow_keys = pa.array(keys, type=_arrow_type(profile.series, profile.objects))
    lookup = pd.DataFrame({"key": arrow_keys.to_pandas(types_mapper=pd.ArrowDtype)})
    lookup["value"] = typed
    expression = f"{table}.value"
    if info.kind == "date":
        expression = f"CAST({table}.value AS DATE)"
    if causes is not None:
        lookup["cause"] = pd.array(causes, dtype="string")
        typing.selects.append(f"{table}.cause AS {quoted(cause_column(name))}")
    typing.frames[table] = lookup
    typing.joins.append(f"LEFT JOIN {table} ON s.{quoted(name)} = {table}.key")
    typing.add(name, expression, info)


def _case_map(name: str, keys: list[Any], values, info: VariableInfo | None) -> str | None:
    """``CASE column WHEN key THEN value ... END``: the lookup as an expression (None when
    a key or value has no SQL literal). The engine drops an expression a query does not
    use, where it would still run a join."""
    branches = []
    for key, value in zip(keys, values):
        key_sql, value_sql = _sql_value(key), _typed_sql(value, info)
        if key_sql is None or value_sql is None:
            return None
        if value_sql != "NULL":
            branches.append(f"WHEN {key_sql} THEN {value_sql}")
    if not branches:
        return _typed_null(info)
    return f"CASE s.{quoted(name)} {' '.join(branches)} END"


def _typed_null(info: VariableInfo | None) -> str:
    kind = info.kind if info is not None else "text"
    return {"categorical": "CAST(NULL AS INTEGER)", "binary": "CAST(NULL AS INTEGER)",
            "continuous": "CAST(NULL AS DOUBLE)", "date": "CAST(NULL AS DATE)"}.get(
        kind, "CAST(NULL AS VARCHAR)")


def _sql_value(value: Any) -> str | None:
    """An SQL literal of a raw value as the source holds it, or None."""
    import datetime
    import math

    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = "NaN" if math.isnan(value) else repr(value) if math.isfinite(value) else \
            ("Infinity" if value > 0 else "-Infinity")
        return f"CAST('{text}' AS DOUBLE)"
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, datetime.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, datetime.date):
        return f"DATE '{value.isoformat()}'"
    return None


def _typed_sql(value: Any, info: VariableInfo | None) -> str | None:
    """An SQL literal of a typed view value (a code, number, date or text), or None."""
    if _missing(value):
        return "NULL"
    kind = info.kind if info is not None else "text"
    if kind in ("categorical", "binary"):
        return f"CAST({int(value)} AS INTEGER)"
    if kind == "continuous":
        return f"CAST('{float(value)!r}' AS DOUBLE)"
    if kind == "date":
        return f"DATE '{pd.Timestamp(value).date().isoformat()}'"
    return f"CAST({literal(str(value))} AS VARCHAR)"


def _arrow_type(series: pd.Series, objects: list[Any]):
    import pyarrow as pa

    if pd.api.types.is_float_dtype(series.dtype) or any(isinstance(v, float) for v in objects):
        return pa.float64()
    try:
        return pa.array([v for v in objects if v is not None]).type
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.string()


def _count(value: Any) -> int:
    """A count from a query's result (NULL, as an engine may give for no rows: 0)."""
    return 0 if value is None or pd.isna(value) else int(value)


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _python(value: Any) -> Any:
    """A value of a DataFrame as a plain Python value for an SQL literal."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def _type_by_sql(typing: SourceTyping, name: str, settings: VariableSettings,
                 role: str | None) -> None:
    """A column with more than PROFILE_LIMIT distinct values, typed by SQL casts."""
    if name in typing.event_columns:
        raise DataError(f"more than {PROFILE_LIMIT:,} distinct values in an event code "
                        f"column; the engine path reads event codes from a short list",
                        file=typing.file, column=name)
    column_type = typing.column_type(name)
    numeric = column_type.startswith(NUMERIC_TYPES)
    text = f"s.{quoted(name)}" if column_type == "VARCHAR" else \
        f"CAST(s.{quoted(name)} AS VARCHAR)"
    stripped = f"NULLIF(trim({text}), '')"
    codes = [as_text(m) for m in settings.missing]
    if numeric:
        numbers = [x for x in map(_number_written, codes) if x is not None]
        raw = f"CAST(s.{quoted(name)} AS DOUBLE)"
        present = raw if not numbers else \
            f"CASE WHEN {raw} IN ({', '.join(map(double, numbers))}) THEN NULL ELSE {raw} END"
        present = f"CASE WHEN isnan({present}) THEN NULL ELSE {present} END"
    else:
        present = stripped if not codes else \
            f"CASE WHEN {stripped} IN {in_list(codes)} THEN NULL ELSE {stripped} END"
    kind = settings.kind or role or _guess_kind(typing, name, column_type, present, numeric)
    label = settings.label or name
    if kind == "continuous":
        number = present if numeric else f"TRY_CAST({present} AS DOUBLE)"
        _refuse_first(typing, name, f"{present} IS NOT NULL AND ({number} IS NULL OR "
                      f"isnan({number}))", present,
                      "'{}' is not a number (declare it in variables.%s.missing if it is a "
                      "missing-value code)" % name)
        _refuse_first(typing, name, f"isinf({number})", present,
                      "'{}' is not a finite number")
        typing.add(name, number, VariableInfo(name, label, kind, unit=settings.unit,
                                              missing_label=settings.missing_label))
        return
    if kind == "date":
        typing.add(name, _date_sql(typing, name, settings, column_type, present),
                   VariableInfo(name, label, kind, missing_label=settings.missing_label))
        return
    if kind == "text":
        typing.add(name, present if not numeric else text,
                   VariableInfo(name, label, kind, missing_label=settings.missing_label))
        return
    raise DataError(f"more than {PROFILE_LIMIT:,} distinct values, too many for a "
                    f"categorical variable; set variables.{name}.kind = \"text\" if it is "
                    f"free text (or \"continuous\" if it is a number)", file=typing.file,
                    column=name)


def _number_written(code: str) -> float | None:
    """The number the in-memory path writes as ``code`` (missing codes are compared as
    ``as_text`` of the value: 99.0 is "99", so the code "99.0" or "1e3" matches no number,
    "inf" matches infinity), or None."""
    try:
        number = float(code)
    except ValueError:
        return None
    return number if not math.isnan(number) and as_text(number) == code else None


def _guess_kind(typing: SourceTyping, name: str, column_type: str, present: str,
                numeric: bool) -> str:
    """The in-memory guess for a column with many distinct values: a date column, else
    continuous when every present value is a number, else categorical."""
    if column_type.startswith(("DATE", "TIMESTAMP")):
        return "date"
    if numeric:
        return "continuous"
    bad = typing.query(f"SELECT count(*) AS n FROM {{source}} AS s WHERE {present} IS NOT "
                       f"NULL AND TRY_CAST({present} AS DOUBLE) IS NULL")
    return "categorical" if int(bad["n"].iloc[0]) else "continuous"


def _date_sql(typing: SourceTyping, name: str, settings: VariableSettings, column_type: str,
              present: str) -> str:
    """A DATE expression of a many-valued date column, after checking every value parses."""
    if column_type.startswith(("DATE", "TIMESTAMP")):
        return f"CAST(s.{quoted(name)} AS DATE)"
    fmt = settings.date_format or typing.config.cohort.date_format
    parsed = f"try_strptime({present}, {literal(fmt)})" if fmt else \
        f"TRY_CAST({present} AS TIMESTAMP)"
    expected = f"the format '{fmt}'" if fmt else "an ISO date (YYYY-MM-DD)"
    _refuse_first(typing, name, f"{present} IS NOT NULL AND {parsed} IS NULL", present,
                  "'{}' is not %s; set variables.%s.date_format or cohort.date_format (e.g. "
                  "\"%%d/%%m/%%Y\"); one format per column" % (expected, name))
    return f"CAST({parsed} AS DATE)"


def _refuse_first(typing: SourceTyping, name: str, bad: str, shown: str, message: str) -> None:
    """Raise ``message`` (``{}`` for the value) for the first row where ``bad`` holds."""
    found = typing.query(f"SELECT {shown} AS value FROM {{source}} AS s WHERE {bad} LIMIT 1")
    if len(found):
        raise typing.fail(message.replace("{}", str(found["value"].iloc[0])), name, bad)
