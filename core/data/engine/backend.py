"""What the engine path asks of an SQL engine, and DuckDB's answer.

Queries are written once, in DuckDB's SQL dialect, and name the typed cohort as the
relation ``cohort`` (:data:`COHORT`). A :class:`Backend` runs them and returns their
(small) results as pandas DataFrames; a backend for another engine translates the SQL first.

A backend is opened in the process that uses it (:func:`open_backend`): sections run in a
forked worker, and an engine's connection must not cross a fork. A :class:`BackendSpec`
holds what opening needs (plain values), so a cohort that carries one can be forked or
pickled freely.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd

from cohortpress.common.errors import DataError

#: The name every query uses for the typed cohort.
COHORT = "cohort"
#: Longest part of an engine's own error message repeated in ours.
MESSAGE_CHARS = 160


def quoted(name: str) -> str:
    """An SQL identifier, double-quoted (as DuckDB, Spark via SQLGlot, and the standard read it)."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """An SQL literal of a Python value: None, bool, int, float (finite) or str."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"no SQL literal for {value}")
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def double(value: float) -> str:
    """An SQL DOUBLE literal that reads back as exactly ``value`` (infinities included).

    NaN has none: engines order it above every number and make it equal to itself, where
    Python's comparisons (the in-memory path) never hold for it, so a caller decides what a
    NaN in the config means instead (ValueError).
    """
    value = float(value)
    if value != value:
        raise ValueError("no SQL literal for NaN")
    text = repr(value) if abs(value) != float("inf") else ("Infinity" if value > 0
                                                           else "-Infinity")
    return f"CAST('{text}' AS DOUBLE)"


class Backend(Protocol):
    """An SQL engine the engine path runs its queries on.

    ``dialect`` names the engine for SQLGlot (``"duckdb"``, ``"spark"``); queries are
    written in DuckDB's dialect and translated by the backend when its dialect differs.
    """

    dialect: str

    def query(self, sql: str) -> pd.DataFrame:
        """The result of one query (DuckDB dialect), expected small, as a DataFrame."""

    def query_columns(self, sql: str) -> dict[str, np.ndarray]:
        """The result of one query (DuckDB dialect) of numeric columns, as NumPy arrays by
        name (NULL as NaN): for results of many rows, which a DataFrame would take longer
        to build than the engine to compute."""

    #: Whether :meth:`stream_columns` hands rows to this process (an in-process engine);
    #: a cluster engine keeps its rows and is only asked for aggregates.
    streams_rows: bool

    def stream_columns(self, sql: str, rows: int) -> Iterator[dict[str, np.ndarray]]:
        """The result of one query (DuckDB dialect) of numeric columns, in its order, as
        chunks of at most ``rows`` rows, each as :meth:`query_columns` gives a result."""

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Make a small DataFrame (a lookup table) a relation ``name`` of later queries."""

    def execute(self, sql: str) -> None:
        """Run a statement (DuckDB dialect) whose result is not needed: a ``CREATE VIEW``."""

    def materialise(self, sql: str) -> str:
        """Store the rows of ``sql`` (DuckDB dialect) in the engine, in their order, and
        return the relation the following queries name them by. The rows stay in the
        engine (on disk when they do not fit its memory); :meth:`release` drops them."""

    def release(self, relation: str) -> None:
        """Drop the rows :meth:`materialise` stored as ``relation``."""

    def close(self) -> None:
        """Release the connection."""


@dataclass(frozen=True, eq=False)
class BackendSpec:
    """How to open a backend in any process: plain values only.

    Attributes
    ----------
    kind : str
        ``"duckdb"`` (the default, in-process) or a kind a backend module registers
        (``"spark"``).
    database : str
        DuckDB: the database file (":memory:" for none).
    statements : tuple of str
        Run, in order, once the connection is open (DuckDB dialect): the views that build
        ``cohort`` from the source.
    frames : mapping of str to DataFrame
        Small tables registered before the statements (lookup tables of distinct values,
        or, for :func:`~cohortpress.data.engine.cohort.engine_cohort_from_frame`, the cohort).
    options : mapping of str to str
        Engine settings (DuckDB: ``threads``, ``memory_limit``; Spark: its master).
    """

    kind: str = "duckdb"
    database: str = ":memory:"
    statements: tuple[str, ...] = ()
    frames: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)


class DuckDBBackend:
    """DuckDB, in process: the default backend."""

    dialect = "duckdb"

    def __init__(self, spec: BackendSpec):
        import duckdb

        config = {key: value for key, value in spec.options.items()}
        self.connection = duckdb.connect(spec.database, read_only=spec.database != ":memory:",
                                         config=config)
        self._numbers = itertools.count()
        self._stored: dict[str, tuple[str, str]] = {}
        for name, frame in spec.frames.items():
            self.register(name, frame)
        for statement in spec.statements:
            self.execute(statement)

    def query(self, sql: str) -> pd.DataFrame:
        import duckdb

        try:
            return self.connection.sql(sql).df()
        except duckdb.Error as exc:
            raise DataError(f"the engine failed: {short_message(exc)}") from None

    def query_columns(self, sql: str) -> dict[str, np.ndarray]:
        import duckdb

        try:
            return arrow_columns(self.connection.sql(sql).arrow().read_all())
        except duckdb.Error as exc:
            raise DataError(f"the engine failed: {short_message(exc)}") from None

    streams_rows = True

    def stream_columns(self, sql: str, rows: int) -> Iterator[dict[str, np.ndarray]]:
        import duckdb

        try:
            for batch in self.connection.sql(sql).to_arrow_reader(rows):
                yield arrow_columns(batch)
        except duckdb.Error as exc:
            raise DataError(f"the engine failed: {short_message(exc)}") from None

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.connection.register(name, frame)

    def execute(self, sql: str) -> None:
        import duckdb

        try:
            self.connection.execute(sql)
        except duckdb.Error as exc:
            raise DataError(f"the engine failed: {short_message(exc)}") from None

    def materialise(self, sql: str) -> str:
        """The rows go to a database file of their own in the system's temporary folder:
        DuckDB stores them compressed, with statistics, and reads them back without the
        view's typing; an attached file (rather than a temporary table) also works when
        the source database is opened read-only."""
        remove_abandoned_rows()
        directory = tempfile.mkdtemp(prefix=f"{ROWS_PREFIX}{os.getpid()}-")
        name = f"cohortpress_rows_{next(self._numbers)}"
        try:
            self.execute(f"ATTACH {literal(os.path.join(directory, 'rows.duckdb'))} "
                         f"AS {name} (READ_WRITE)")
            self.execute(f"CREATE TABLE {name}.rows AS {sql}")
        except DataError:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self._stored[f"{name}.rows"] = (name, directory)
        return f"{name}.rows"

    def release(self, relation: str) -> None:
        name, directory = self._stored.pop(relation)
        try:
            self.execute(f"DETACH {name}")
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def close(self) -> None:
        for relation in list(self._stored):
            self.release(relation)
        self.connection.close()


def arrow_columns(table) -> dict[str, np.ndarray]:
    """The columns of an Arrow table as NumPy arrays by name; a numeric column with NULLs
    becomes floating point with NaN for them, and a decimal one (DuckDB's sum of integers
    is a 128-bit integer, which Arrow carries as a decimal) floating point."""
    import pyarrow as pa

    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        columns[name] = column.to_numpy(zero_copy_only=False) \
            if isinstance(column, pa.Array) else column.to_numpy()
    return columns


#: Folders of rows :meth:`DuckDBBackend.materialise` stores: this prefix, then the process id.
ROWS_PREFIX = "cohortpress-rows-"


def remove_abandoned_rows() -> None:
    """Delete stored rows whose process has ended without releasing them (a section worker
    stopped by its time limit): their folder names carry the process id."""
    for folder in Path(tempfile.gettempdir()).glob(f"{ROWS_PREFIX}*-*"):
        pid = folder.name[len(ROWS_PREFIX):].split("-")[0]
        if pid.isdigit() and not _process_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: Backends by ``BackendSpec.kind``: a class, or ``"module:Class"`` for an engine whose
#: library is optional (imported when a spec first asks for it).
BACKENDS: dict[str, Any] = {"duckdb": DuckDBBackend,
                            "spark": "cohortpress.data.engine.spark:SparkBackend"}

#: Open backends by (process, spec id), with the spec kept so that its id is not reused.
_OPEN: dict[tuple[int, int], tuple[BackendSpec, Backend]] = {}


def open_backend(spec: BackendSpec) -> Backend:
    """The backend ``spec`` describes, opened once per process and spec."""
    key = (os.getpid(), id(spec))
    opened = _OPEN.get(key)
    if opened is None:
        try:
            factory = BACKENDS[spec.kind]
        except KeyError:
            raise DataError(f"no engine backend '{spec.kind}'") from None
        if isinstance(factory, str):
            import importlib

            module, name = factory.split(":")
            factory = getattr(importlib.import_module(module), name)
        opened = _OPEN[key] = (spec, factory(spec))
    return opened[1]


def short_message(exc: BaseException) -> str:
    """The first line of an engine's error message, cut to :data:`MESSAGE_CHARS`."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


def in_list(values: Sequence[Any]) -> str:
    """``(v1, v2, ...)`` of SQL literals, for ``IN``."""
    return "(" + ", ".join(literal(v) for v in values) + ")"
