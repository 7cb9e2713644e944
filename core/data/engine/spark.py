"""Spark as the engine of the engine path: the same aggregate queries on a cluster's data.

When the cohort lives in a Spark cluster (a data lake of Parquet files, a table of the
cluster's catalog), its rows need not leave it: :class:`SparkBackend` runs the engine
path's queries there, translated from DuckDB's dialect by
:func:`~cohortpress.data.engine.translate.translate`, and only their small results (counts,
sums, order statistics per group or per distinct time) come back, as pandas DataFrames.

Opening a backend (``BackendSpec(kind="spark", ...)``):

1. the process's Spark session is started once (:func:`root_session`): in local mode by
   default (``local[*]``, the JVM runs beside Python, Java 17 needed), or on the cluster
   whose master URL the spec's ``master`` option gives; a forked process (sections run in
   one) starts its own, as a connection must not cross a fork;
2. each backend works in a new session of it (its own temporary views, shared JVM), so that
   two cohorts in one process do not see each other's ``cohort``;
3. the source, if the spec names one (:func:`source_options`), becomes the temporary view
   :data:`FILE_VIEW`: a Parquet file, folder or glob, a CSV file read as text (as the
   DuckDB reader does: typing is the view's job), or a table of Spark's catalog;
4. the spec's small frames (lookup tables) become temporary views, and its statements (the
   views that build ``cohort``, DuckDB's dialect) run translated.

PySpark is an optional dependency (``pip install 'cohortpress[spark]'``).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np
import pandas as pd

from cohortpress.common.errors import DataError
from cohortpress.data.engine.backend import BackendSpec, arrow_columns, short_message
from cohortpress.data.engine.translate import translate

#: The temporary view of the source file as Spark reads it (all its columns); the view
#: statements' view of the source selects the used ones from it.
FILE_VIEW = "cohort_file"
#: The master when the spec gives none: Spark in this process's machine, on every core.
DEFAULT_MASTER = "local[*]"
#: Settings of every session: dates without a time-zone shift (DuckDB's DATE has none), no
#: web UI; in local mode one shuffle partition per core (the results are small).
BASE_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
LOCAL_CONF = {"spark.sql.shuffle.partitions": str(os.cpu_count() or 2)}
#: Spec option names: the master URL, the source (see :func:`source_options`), and Spark
#: settings as ``conf.<key>``.
MASTER, SOURCE_FORMAT, SOURCE_PATH, SOURCE_TABLE, CSV_DELIMITER, CSV_ENCODING = (
    "master", "source_format", "source_path", "source_table", "csv_delimiter", "csv_encoding")
CONF_PREFIX = "conf."

#: The process's root session: (pid, master, session).
_ROOT: dict[str, Any] = {}


def source_options(*, parquet: str | None = None, csv: str | None = None,
                   table: str | None = None, delimiter: str = ",",
                   encoding: str = "utf-8") -> dict[str, str]:
    """The spec options that make one source the view :data:`FILE_VIEW`: a Parquet file,
    folder or glob; a CSV file (header, every column as text, empty as missing); or a table
    of the Spark catalog (``db.table``)."""
    given = [(k, v) for k, v in (("parquet", parquet), ("csv", csv), ("table", table)) if v]
    if len(given) != 1:
        raise ValueError("a Spark source is one of parquet, csv or table")
    kind, value = given[0]
    if kind == "table":
        return {SOURCE_FORMAT: "table", SOURCE_TABLE: value}
    options = {SOURCE_FORMAT: kind, SOURCE_PATH: value}
    if kind == "csv":
        options |= {CSV_DELIMITER: delimiter, CSV_ENCODING: encoding}
    return options


def spark_available() -> str | None:
    """None when a Spark backend can open here, else why not (one line)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed (pip install 'cohortpress[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    from shutil import which

    if not (java_home and os.path.exists(os.path.join(java_home, "bin", "java"))) \
            and which("java") is None:
        return "Spark needs Java (17 or later): no java on PATH and no JAVA_HOME"
    return None


def root_session(master: str, conf: Mapping[str, str]):
    """The process's Spark session, started on first use with ``master`` and ``conf``.

    Spark runs one context per process, on one master: a later request for another master
    is an error rather than a silent reuse. A forked child forgets the session it inherited
    (its gateway belongs to the parent) and starts its own.
    """
    if _ROOT and _ROOT["pid"] != os.getpid():
        _forget_inherited_session()
    if _ROOT:
        if _ROOT["master"] != master:
            raise DataError(f"Spark already runs on master '{_ROOT['master']}' in this "
                            f"process; cannot also use '{master}'")
        return _ROOT["session"]
    reason = spark_available()
    if reason:
        raise DataError(reason)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName("cohortpress")
    settings = dict(BASE_CONF) | (LOCAL_CONF if master.startswith("local") else {}) | dict(conf)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM's failures arrive as many exception types
        raise DataError(f"Spark did not start on master '{master}': {short_message(exc)}") \
            from None
    session.sparkContext.setLogLevel("ERROR")
    _ROOT.update(pid=os.getpid(), master=master, session=session)
    return session


def _forget_inherited_session() -> None:
    """Drop the parent's session objects in a forked child, without stopping them (the
    parent's JVM is the parent's), so that the next session starts a JVM of its own."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    SparkContext._gateway = None
    SparkContext._jvm = None
    SparkContext._active_spark_context = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None
    _ROOT.clear()


class SparkBackend:
    """The engine path on Spark: DuckDB-dialect SQL translated, small results as pandas."""

    dialect = "spark"

    def __init__(self, spec: BackendSpec):
        options = dict(spec.options)
        conf = {k[len(CONF_PREFIX):]: v for k, v in options.items() if k.startswith(CONF_PREFIX)}
        self.session = root_session(options.get(MASTER) or DEFAULT_MASTER, conf).newSession()
        self.stored: list[str] = []
        if options.get(SOURCE_FORMAT):
            self._register_source(options)
        for name, frame in spec.frames.items():
            self.register(name, frame)
        for statement in without_renames(spec.statements):
            self.execute(statement)

    def _register_source(self, options: Mapping[str, str]) -> None:
        kind = options[SOURCE_FORMAT]
        reader = self.session.read
        try:
            if kind == "table":
                frame = self.session.table(options[SOURCE_TABLE])
            elif kind == "parquet":
                frame = reader.parquet(options[SOURCE_PATH])
            elif kind == "csv":
                frame = (reader.option("header", True).option("inferSchema", False)
                         .option("sep", options.get(CSV_DELIMITER, ","))
                         .option("encoding", options.get(CSV_ENCODING, "utf-8"))
                         .option("quote", '"').option("escape", '"')
                         .csv(options[SOURCE_PATH]))
            else:
                raise DataError(f"Spark reads Parquet, CSV or a catalog table, not '{kind}'")
        except DataError:
            raise
        except Exception as exc:
            what = options.get(SOURCE_TABLE) or options.get(SOURCE_PATH)
            raise DataError(f"Spark cannot read {kind} source '{what}': "
                            f"{short_message(exc)}") from None
        frame.createOrReplaceTempView(FILE_VIEW)

    def _sql(self, sql: str):
        try:
            return self.session.sql(translate(sql, self.dialect))
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"the engine (Spark) failed: {short_message(exc)}") from None

    def query(self, sql: str) -> pd.DataFrame:
        """The result of one query (DuckDB dialect), as DuckDB would hand it to pandas: the
        Arrow result passes through DuckDB's conversion, so that both backends give the
        same column types (nullable integers, dates)."""
        import duckdb

        table = self._arrow(sql)
        connection = duckdb.connect()
        try:
            return connection.from_arrow(table).df()
        finally:
            connection.close()

    def query_columns(self, sql: str) -> dict[str, np.ndarray]:
        return arrow_columns(self._arrow(sql))

    streams_rows = False

    def stream_columns(self, sql: str, rows: int):
        raise DataError("the Spark engine keeps the patients' rows: only aggregates are read "
                        "from it")

    def _arrow(self, sql: str):
        try:
            return self._sql(sql).toArrow()
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"the engine (Spark) failed: {short_message(exc)}") from None

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.session.createDataFrame(_spark_ready(frame)).createOrReplaceTempView(name)

    def execute(self, sql: str) -> None:
        self._sql(sql)

    def materialise(self, sql: str) -> str:
        """A cached temporary view: Spark keeps the rows in its executors' memory and
        disks; their order does not matter to the queries that follow."""
        name = f"cohortpress_rows_{len(self.stored)}"
        self._sql(sql).createOrReplaceTempView(name)
        self.session.catalog.cacheTable(name)
        self.stored.append(name)
        return name

    def release(self, relation: str) -> None:
        self.session.catalog.uncacheTable(relation)
        self.session.catalog.dropTempView(relation)

    def close(self) -> None:
        for name in self.session.catalog.listTables():
            if name.isTemporary:
                self.session.catalog.dropTempView(name.name)


def without_renames(statements) -> list[str]:
    """The view statements with each ``ALTER VIEW v RENAME TO w`` folded into the statement
    that created ``v`` (which then creates ``w``): the same views, without renaming a view
    other views are built on, which Spark's temporary views do not survive."""
    import sqlglot
    from sqlglot import exp

    out: list[str] = []
    created: dict[str, int] = {}
    for statement in statements:
        tree = sqlglot.parse_one(statement, read="duckdb")
        rename = tree.find(exp.AlterRename) if isinstance(tree, exp.Alter) else None
        if rename is not None and tree.this.name in created:
            index = created.pop(tree.this.name)
            earlier = sqlglot.parse_one(out[index], read="duckdb")
            earlier.set("this", exp.to_table(rename.this.name))
            out[index] = earlier.sql(dialect="duckdb")
            created[rename.this.name] = index
            continue
        if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "VIEW":
            created[tree.this.name] = len(out)
        out.append(statement)
    return out


def _spark_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the column types Spark's pandas conversion takes: nullable integers as
    they are (Arrow keeps them), datetimes without time zone at microseconds."""
    out = frame.copy(deep=False)
    for name in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[name].dtype):
            out[name] = out[name].astype("datetime64[us]")
    return out



def on_spark(cohort, master: str | None = None):
    """The same :class:`~cohortpress.data.engine.cohort.EngineCohort` (same frames, same view
    statements, same subset) with its view built on Spark instead of DuckDB."""
    from dataclasses import replace

    options = dict(cohort.spec.options) | ({MASTER: master} if master else {})
    return replace(cohort, spec=replace(cohort.spec, kind="spark", options=options))


def spark_cohort(config, cohort, kind: str, source_view: str):
    """The typed cohort built on DuckDB (:func:`~cohortpress.data.engine.view.build_engine_cohort`)
    moved to Spark: Spark reads the same Parquet or CSV files, and the view statements
    (typing, derived variables, filter, endpoints) run there, translated.

    The decisions the view encodes (levels, codes, lookup tables, the checks of the data)
    were taken from DuckDB's scan of the same files, so both engines hold the same view;
    every statistic afterwards is computed by Spark. ``source_view`` is the view of the
    source's used columns the statements start from.
    """
    from dataclasses import replace

    settings = config.cohort
    path = settings.path.as_posix()
    if kind.startswith("parquet"):
        if settings.path.is_dir():
            path = path.rstrip("/")
        source = source_options(parquet=path)
    else:
        source = source_options(csv=path, delimiter=settings.delimiter or (
            "\t" if path.lower().endswith(".tsv") else ","), encoding=_charset(settings.encoding))
    options = {MASTER: settings.spark_master or DEFAULT_MASTER, **source,
               **{CONF_PREFIX + k: v for k, v in (settings.spark_conf or {}).items()}}
    statements = tuple(s for s in (_from_file_view(s, source_view)
                                   for s in cohort.spec.statements) if s)
    spec = BackendSpec(kind="spark", statements=statements, frames=dict(cohort.spec.frames),
                       options=options)
    info = dict(cohort.source_info) | {"engine": f"spark {_spark_version()}"}
    return replace(cohort, spec=spec, source_info=info)


#: Spark's names of the CSV encodings DuckDB reads (by Python's codec names); the view was
#: typed from DuckDB's reading, which refuses the others first.
CSV_CHARSETS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "iso8859-1": "iso-8859-1",
                "latin-1": "iso-8859-1", "utf-16": "utf-16"}


def _charset(encoding: str) -> str:
    """Spark's name of a CSV encoding (a byte-order mark is skipped by both engines)."""
    import codecs

    return CSV_CHARSETS.get(codecs.lookup(encoding).name, "utf-8")


def _from_file_view(statement: str, source_view: str) -> str | None:
    """A view statement for Spark: DuckDB's settings (``SET``) dropped, the view of the
    source reading :data:`FILE_VIEW` instead of DuckDB's scan of the file."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(statement, read="duckdb")
    if isinstance(tree, exp.Set):
        return None
    if isinstance(tree, exp.Create) and tree.this.name == source_view:
        select = tree.expression
        select.set("from_" if "from_" in select.args else "from",
                   exp.From(this=exp.to_table(FILE_VIEW)))
        return tree.sql(dialect="duckdb")
    return statement


def _spark_version() -> str:
    from importlib.metadata import version

    return version("pyspark")
