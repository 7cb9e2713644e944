"""The DuckDB cohort source: Parquet files and folders, CSV, DuckDB tables and SQL queries.

DuckDB (an embedded SQL engine) reads the cohort where the pandas readers of
:mod:`cohortpress.data.files` cannot or should not: a folder or glob of Parquet files, a
DuckDB database (``cohort.table``), a SQL ``cohort.query`` over any source, or any CSV or
Parquet file when ``cohort.engine = "duckdb"`` (without the pandas readers' size ceiling:
only the used columns and the filtered rows are held in memory). Only the columns
the config uses are selected, so the engine reads nothing else from columnar files.

``cohort.filter`` runs in the engine when it can be run there exactly: every condition's
variable is a column of the source with at most :data:`PROFILE_LIMIT` distinct values. The
condition is then evaluated, by the same code as in memory, on the column's distinct values
typed as the whole column would be, and becomes ``column IN (values that pass)``; only the
rows it keeps leave the engine. So that the rows read are typed exactly as the whole cohort
would be (a level no kept patient has is still a level, shown with 0), the distinct values
of every column read are profiled over the whole source first, and the number of rows and
of unknown values the filter removes are counted there. When a condition cannot be pushed
(a derived variable, a column with more distinct values), the whole filter runs in memory
after reading, as with the other readers.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from cohortpress.common.errors import ConfigError, DataError
from cohortpress.common.suggest import did_you_mean
from cohortpress.config.schema import Config, VariableSettings
from cohortpress.data.conditions import ConditionError, describe_condition, evaluate
from cohortpress.data.files import FORMAT_NAMES, SUFFIX_FORMATS
from cohortpress.data.load import file_sha256

#: A column with at most this many distinct values is profiled (and a filter on it pushed
#: down); more distinct values mean a measurement or an id, typed from the rows read.
PROFILE_LIMIT = 10_000
#: A column whose approximate count of distinct values exceeds PROFILE_LIMIT by this factor
#: is not grouped (HyperLogLog errs by a few percent; the margin keeps the exact limit).
APPROX_MARGIN = 1.5
#: The suffixes of DuckDB database files.
DATABASE_SUFFIXES = (".duckdb", ".ddb")
#: Longest part of DuckDB's own error message repeated in ours.
MESSAGE_CHARS = 160
GLOB_CHARACTERS = "*?["


#: DuckDB's memory for one connection: beyond it, grouping and sorting spill to disk, so
#: that the memory a build holds does not grow with the rows (checking a hundred million
#: patient ids for duplicates would otherwise hold them all). 1 GB was too little for that
#: check at 10^8 ids: its hash table's partitions could not all spill ("Out of Memory").
MEMORY_LIMIT = "2GB"


def engine_settings() -> dict[str, str]:
    """DuckDB settings of every connection to the cohort: the memory limit, the folder it
    spills to (in the system's temporary folder: never beside the config), and background
    threads for its allocator, which give the memory of a finished query back to the system
    (without them the memory of a large grouping, about 100 bytes per group, stays with the
    process until DuckDB next allocates, while Python works on the result)."""
    import tempfile

    return {"memory_limit": MEMORY_LIMIT,
            "temp_directory": str(Path(tempfile.gettempdir()) / "cohortpress-duckdb"),
            "allocator_background_threads": "true"}


def is_pattern(path: Path) -> bool:
    """True when the cohort path is a glob pattern (``visits/*.parquet``), not a file whose
    name holds such a character."""
    return any(char in str(path) for char in GLOB_CHARACTERS) and not path.exists()


def source_kind(config: Config) -> str | None:
    """Which DuckDB source the ``[cohort]`` table names, or None for the pandas readers.

    "parquet", "parquet dataset" (a folder or glob), "csv", "duckdb" (a database file),
    each with " query" appended when ``cohort.query`` is set.
    """
    cohort = config.cohort
    path = cohort.path
    pattern = is_pattern(path)
    fmt = cohort.format
    if fmt == "auto":
        suffix = (Path(str(path).rstrip("/*")) if pattern else path).suffix.lower()
        fmt = "duckdb" if suffix in DATABASE_SUFFIXES else SUFFIX_FORMATS.get(suffix) or (
            "parquet" if path.is_dir() or pattern else suffix or "auto")
    needs = fmt == "duckdb" or path.is_dir() or pattern or cohort.query is not None \
        or cohort.table is not None or cohort.statistics == "engine"
    if cohort.engine == "spark" and fmt not in ("parquet", "csv"):
        raise ConfigError(f"Spark reads Parquet and CSV files, not "
                          f"{FORMAT_NAMES.get(fmt, fmt)} files; use engine = \"auto\" for "
                          f"this file", file=str(config.source), key="cohort.engine")
    if cohort.engine == "pandas":
        if needs:
            what = "cohort.query" if cohort.query is not None else \
                "cohort.table" if cohort.table is not None else \
                "cohort.statistics = \"engine\"" if cohort.statistics == "engine" and not (
                    fmt == "duckdb" or path.is_dir() or pattern) else \
                "a folder, a glob pattern or a DuckDB database as cohort.path"
            raise ConfigError(f"{what} is read by DuckDB only; remove cohort.engine = "
                              f"\"pandas\"", file=str(config.source), key="cohort.engine")
        return None
    if fmt not in ("parquet", "csv", "duckdb"):
        if cohort.statistics == "engine" and not cohort.model_fields_set & {"query", "table"}:
            raise ConfigError(f"the engine path reads Parquet, CSV and DuckDB databases, not "
                              f"{FORMAT_NAMES.get(fmt, fmt)} files: set cohort.statistics = "
                              f"\"rows\" for this file", file=str(config.source),
                              key="cohort.statistics")
        if cohort.engine == "duckdb" or needs:
            raise ConfigError(f"DuckDB reads Parquet, CSV and DuckDB databases, not "
                              f"{FORMAT_NAMES.get(fmt, fmt)} files; use engine = \"auto\" "
                              f"for this file",
                              file=str(config.source), key="cohort.engine")
        return None
    if cohort.table is not None and fmt != "duckdb":
        raise ConfigError("applies to a DuckDB database (.duckdb) as cohort.path; for a "
                          f"{fmt} file use cohort.query", file=str(config.source),
                          key="cohort.table")
    if not needs and cohort.engine == "auto":
        return None
    kind = "parquet dataset" if fmt == "parquet" and (path.is_dir() or pattern) else fmt
    return f"{kind} query" if cohort.query is not None else kind


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quoted(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class DuckSource:
    """A connection to the cohort's source and the SQL that selects it.

    Use :func:`open_source`; close it (or use it as a context manager) when done.
    """

    config: Config
    kind: str
    shown: str
    connection: Any
    relation: str
    files: list[Path] = field(default_factory=list)

    def __enter__(self) -> "DuckSource":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.connection.close()

    def fail(self, message: str, key: str | None = None) -> DataError:
        """An error in the data, or (for the key ``cohort.query``) in the config's query."""
        config_key = key == "cohort.query"
        return DataError(message, file=str(self.config.source) if config_key else self.shown,
                         key=key)

    def run(self, sql: str, params: Sequence[Any] = (), key: str | None = None):
        """The result of ``sql`` as an Arrow table; DuckDB's errors as one line."""
        import duckdb

        try:
            return self.connection.sql(sql, params=list(params) or None).to_arrow_table()
        except duckdb.Error as exc:
            raise self.fail(_short(exc), key or self._key()) from None

    def _key(self) -> str:
        return "cohort.query" if self.config.cohort.query is not None else "cohort.path"

    def columns(self) -> list[str]:
        """The column names of the source (after the query)."""
        return list(self.run(f"SELECT * FROM ({self.relation}) AS source LIMIT 0").schema.names)

    def count(self) -> int:
        return int(self.run(f"SELECT count(*) FROM ({self.relation}) AS source")
                   .column(0)[0].as_py())

    def approx_distinct(self, columns: Sequence[str]) -> dict[str, int]:
        """Each column's approximate number of distinct values (HyperLogLog: constant
        memory), all in one scan."""
        if not columns:
            return {}
        table = self.run("SELECT " + ", ".join(
            f"approx_count_distinct({quoted(c)}) AS c{i}" for i, c in enumerate(columns))
            + f" FROM ({self.relation}) AS source")
        return {c: int(table.column(i)[0].as_py() or 0) for i, c in enumerate(columns)}

    def distinct(self, column: str, guess: int | None = None):
        """The distinct values of ``column`` (missing included once) as a pandas Series of
        the dtype the column is read with, the same values as Python objects for SQL
        parameters, and their counts; None when it has more than :data:`PROFILE_LIMIT`.
        ``guess``: the column's :meth:`approx_distinct`, when known."""
        # A guess first (HyperLogLog, constant memory): grouping an id column of a
        # hundred million rows would hold every id.
        if guess is None:
            guess = self.approx_distinct([column])[column]
        if guess is not None and guess > APPROX_MARGIN * PROFILE_LIMIT:
            return None
        table = self.run(f"SELECT {quoted(column)} AS value, count(*) AS n FROM "
                         f"({self.relation}) AS source GROUP BY ALL LIMIT {PROFILE_LIMIT + 1}")
        if table.num_rows > PROFILE_LIMIT:
            return None
        return Profile(table.column("value").to_pandas().rename(column),
                       table.column("value").to_pylist(), table.column("n").to_pylist())

    def read(self, columns: Sequence[str], where: str = "", params: Sequence[Any] = ()):
        """The ``columns`` of the rows ``where`` keeps, as a pandas DataFrame."""
        names = ", ".join(quoted(c) for c in columns) or "*"
        condition = f" WHERE {where}" if where else ""
        table = self.run(f"SELECT {names} FROM ({self.relation}) AS source{condition}", params)
        # The Arrow buffers are released column by column as pandas takes them over, so the
        # rows are not held twice at the peak.
        return table.to_pandas(split_blocks=True, self_destruct=True)

    def sha256(self) -> str:
        """A digest of the source's files: the file's own for one file; for several, of
        their names (relative to the first's folder) and digests, in name order."""
        if len(self.files) == 1:
            return file_sha256(self.files[0])
        digest = hashlib.sha256()
        base = os.path.commonpath([str(f.parent) for f in self.files]) if self.files else ""
        for path in self.files:
            digest.update(os.path.relpath(path, base).encode() + b"\0")
            digest.update(file_sha256(path).encode() + b"\n")
        return digest.hexdigest()


def _short(exc: Exception) -> str:
    """DuckDB's message, first line, without its "Parser Error:" style prefix repeated."""
    text = " ".join(str(exc).strip().splitlines()[0].split()) if str(exc).strip() else \
        type(exc).__name__
    if len(text) > MESSAGE_CHARS:
        text = text[:MESSAGE_CHARS - 1].rstrip() + "…"
    return f"DuckDB: {text}"


def open_source(config: Config, kind: str, shown: str) -> DuckSource:
    """Connect to the cohort's source and check that it is there (DataError otherwise)."""
    import duckdb

    cohort = config.cohort
    path = cohort.path
    base = kind.removesuffix(" query")
    files = _source_files(path, base, shown)
    try:
        if base == "duckdb":
            connection = duckdb.connect(str(path), read_only=True)
        else:
            connection = duckdb.connect()
        # Paths inside a query resolve against the config's folder, as every path does.
        connection.execute(f"SET file_search_path = {_literal(str(config.folder))}")
        for key, value in engine_settings().items():
            connection.execute(f"SET {key} = {_literal(value)}")
    except duckdb.Error as exc:
        raise DataError(f"not a readable DuckDB database: {_short(exc)}", file=shown,
                        key="cohort.path") from None
    source = DuckSource(config, kind, shown, connection, "", files)
    try:
        source.relation = _relation(source, base)
        source.columns()  # a SQL error or an unreadable file shows here, once
    except BaseException:
        connection.close()
        raise
    return source


def _source_files(path: Path, base: str, shown: str) -> list[Path]:
    """The files the source reads (for the digest), after checking that there are some."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file()
                       and p.suffix.lower() in (".parquet", ".pq"))
        if not files:
            raise DataError("is a folder with no Parquet file (*.parquet) in it; the cohort "
                            "is a file, or a folder of Parquet files", file=shown,
                            key="cohort.path")
        return files
    if is_pattern(path):
        import glob

        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True)
                       if Path(p).is_file())
        if not files:
            raise DataError("no file matches the pattern", file=shown, key="cohort.path")
        return files
    if not path.exists():
        raise DataError("cohort file not found", file=shown, key="cohort.path")
    return [path]


def _relation(source: DuckSource, base: str) -> str:
    """The SQL whose rows are the cohort."""
    cohort = source.config.cohort
    path = cohort.path
    if cohort.query is not None:
        _check_query(source, cohort.query)
    if base == "duckdb":
        if cohort.table is not None:
            tables = [r for r in source.run(
                "SELECT table_name FROM information_schema.tables").column(0).to_pylist()]
            if cohort.table not in tables:
                hint = did_you_mean(cohort.table, tables) or \
                    f"; it has {', '.join(tables[:10]) or 'no tables'}"
                raise source.fail(f"no table '{cohort.table}' in the database{hint}",
                                  "cohort.table")
            table = f"SELECT * FROM {quoted(cohort.table)}"
            return table if cohort.query is None else \
                f"WITH cohort AS ({table}) SELECT * FROM ({cohort.query}) AS query"
        if cohort.query is None:
            raise DataError("a DuckDB database needs cohort.table (the table of patients) "
                            "or cohort.query", file=str(source.config.source), key="cohort.table")
        return f"SELECT * FROM ({cohort.query}) AS query"
    target = f"{path.as_posix().rstrip('/')}/**/*.parquet" if path.is_dir() else path.as_posix()
    if base.startswith("parquet"):
        scan = f"SELECT * FROM read_parquet({_literal(target)}, union_by_name = true)"
    else:
        scan = f"SELECT * FROM {_csv_scan(source, target)}"
    return scan if cohort.query is None else \
        f"WITH cohort AS ({scan}) SELECT * FROM ({cohort.query}) AS query"


def _check_query(source: DuckSource, query: str) -> None:
    """One SELECT statement, parsed on its own so that DuckDB's message points into it."""
    import duckdb

    try:
        statements = source.connection.extract_statements(query)
    except duckdb.Error as exc:
        raise source.fail(_short(exc), "cohort.query") from None
    if len(statements) != 1:
        raise source.fail(f"expected one SELECT statement (a query whose rows are the "
                          f"patients), found {len(statements)} statements", "cohort.query")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise source.fail(f"expected one SELECT statement (a query whose rows are the "
                          f"patients), found a {statements[0].type.name} statement",
                          "cohort.query")


#: Encodings DuckDB reads CSV in, by the names Python gives them.
CSV_ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "utf_8": "utf-8",
                 "latin-1": "latin-1", "iso8859-1": "latin-1", "utf-16": "utf-16"}


def _csv_scan(source: DuckSource, target: str) -> str:
    """``read_csv`` as the pandas reader reads: every column as text, empty as missing."""
    import codecs

    cohort = source.config.cohort
    try:
        name = codecs.lookup(cohort.encoding).name
    except LookupError:
        raise DataError(f"unknown encoding '{cohort.encoding}'", file=str(source.config.source),
                        key="cohort.encoding") from None
    encoding = CSV_ENCODINGS.get(name)
    if encoding is None:
        raise DataError(f"DuckDB reads CSV as UTF-8, UTF-16 or Latin-1, not {name}; convert "
                        f"the file or set cohort.engine = \"pandas\"",
                        file=str(source.config.source), key="cohort.encoding")
    sep = cohort.delimiter or ("\t" if target.lower().endswith(".tsv") else ",")
    return (f"read_csv({_literal(target)}, header = true, all_varchar = true, "
            f"delim = {_literal(sep)}, quote = '\"', escape = '\"', null_padding = true, "
            f"encoding = {_literal(encoding)})")


# --------------------------------------------------------------------------- pushdown


@dataclass
class Profile:
    """A column's distinct values over the whole source (see :meth:`DuckSource.distinct`)."""

    series: Any
    objects: list[Any]
    counts: list[int]


@dataclass
class Pushdown:
    """What runs in the engine: the WHERE clause, and what the in-memory path needs to give
    identical results (the whole columns' distinct values, the counts before filtering)."""

    where: str = ""
    params: list[Any] = field(default_factory=list)
    extra_values: dict[str, Any] = field(default_factory=dict)
    n_rows_read: int | None = None
    filter_unknown: tuple[tuple[str, int], ...] | None = None
    filter_text: str = ""


def plan_pushdown(source: DuckSource, columns: Sequence[str], conditions: Sequence[Any]) -> Pushdown:
    """``conditions`` (``cohort.filter``) as SQL when every one can run in the engine exactly,
    else nothing (they then run in memory).

    Raises DataError when the filter keeps no row, as the in-memory filter does.
    """
    config = source.config
    if not conditions or any(c.variable not in columns for c in conditions):
        return Pushdown()
    profiles = {}
    for name in dict.fromkeys(columns):
        found = source.distinct(name)
        if found is not None:
            profiles[name] = found
    if any(c.variable not in profiles for c in conditions):
        return Pushdown()
    typed = {}
    for name in dict.fromkeys(c.variable for c in conditions):
        typed[name] = _typed(config, profiles[name], source.shown)
        if typed[name] is None:  # the in-memory path reports the problem, with its row
            return Pushdown()
    clauses, params = [], []
    texts = "; ".join(describe_condition(c) for c in conditions)
    for cond in conditions:
        values, info = typed[cond.variable]
        try:
            holds, _ = evaluate(cond, values, info)
        except ConditionError:  # the in-memory path reports it, with the key
            return Pushdown()
        clause = _clause(cond.variable, profiles[cond.variable], holds, params)
        if clause is None:
            raise DataError(f"no rows left after cohort.filter ({texts})",
                            file=str(config.source), key="cohort.filter")
        clauses.append(clause)
    unknown: dict[str, int] = {}
    for cond in conditions:
        if cond.missing is None and cond.variable not in unknown:
            missing = typed[cond.variable][0].isna().to_numpy()
            unknown[cond.variable] = int(sum(n for n, m in zip(
                profiles[cond.variable].counts, missing) if m))
    extra = {name: profile.series.dropna() for name, profile in profiles.items()}
    return Pushdown(" AND ".join(clauses), params, extra, source.count(),
                    tuple(unknown.items()), texts)


def _typed(config: Config, profile: Profile, shown: str):
    """The distinct values typed as the whole column is (same values, same kind guess)."""
    import pandas as pd

    from cohortpress.data.columns import ColumnTyper, column_roles

    name = str(profile.series.name)
    frame = pd.DataFrame({name: profile.series.reset_index(drop=True)})
    typer = ColumnTyper(config, frame, shown, {}, None)
    try:
        return typer.type_column(name, config.variables.get(name, VariableSettings()),
                                 column_roles(config).get(name))
    except DataError:
        return None


def _clause(column: str, profile: Profile, holds, params: list) -> str | None:
    """SQL for "the value of ``column`` is one that passes" (None when none does); appends
    its parameter to ``params``."""
    name = quoted(column)
    floats = any(isinstance(v, float) for v in profile.objects)
    nullish = f"({name} IS NULL OR isnan({name}))" if floats else f"{name} IS NULL"
    passing = [v for v, h in zip(profile.objects, holds) if h and not _nullish(v)]
    present = [v for v in profile.objects if not _nullish(v)]
    null_passes = any(h for v, h in zip(profile.objects, holds) if _nullish(v))
    if len(passing) == len(present):
        value = None if passing else "FALSE"
    else:
        params.append(passing)
        value = f"list_contains(?, {name})" if passing else "FALSE"
    if null_passes:
        return nullish if value == "FALSE" else "TRUE" if value is None else \
            f"({nullish} OR {value})"
    if value == "FALSE":
        return None
    return f"NOT {nullish}" if value is None else value


def _nullish(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
