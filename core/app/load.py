"""Reading the cohort a plan needs, after checking its columns against the plan.

The columns every section, endpoint and derived variable uses are checked against the file
(its header, when the format has one, before anything else is read), each missing one with
the key that needs it and a "did you mean"; then the reader hook reads only those columns
and :mod:`cohortpress.data.cohort` types them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Sequence

from cohortpress.app.plan import Plan, check_references
from cohortpress.app.statistics import engine_wanted
from cohortpress.common.errors import ConfigError, DataError, UserError
from cohortpress.common.progress import Progress
from cohortpress.common.suggest import did_you_mean
from cohortpress.config.schema import Config
from cohortpress.data.derive import derived_sources
from cohortpress.data.duck import open_source, plan_pushdown, source_kind
from cohortpress.data.engine.view import SOURCE_VIEW, build_engine_cohort
from cohortpress.data.files import check_column_count, file_columns, guess_format
from cohortpress.data.load import ReadInfo, build_cohort, file_sha256, needed_columns


def load_cohort(plan: Plan, progress: Progress | None = None):
    """Read the cohort through the reader hook and type it (see :mod:`cohortpress.data.cohort`)."""
    progress = progress or Progress(quiet=True)
    config = plan.config
    path = config.cohort.path
    shown = shown_path(path, config)
    kind = source_kind(config)
    if kind is not None:
        return _load_with_duckdb(plan, kind, shown, progress)
    if config.cohort.statistics == "engine":
        raise ConfigError("needs a source the SQL engine reads (Parquet, CSV, a DuckDB "
                          f"database); {shown} is read into memory by a reader plugin: set "
                          "cohort.statistics = \"rows\"", file=str(config.source),
                          key="cohort.statistics")
    if not path.exists():
        raise DataError("cohort file not found", file=shown, key="cohort.path")
    if path.is_dir():
        raise DataError("is a folder, not a cohort file", file=shown, key="cohort.path")
    started = time.perf_counter()
    fmt = guess_format(path, config.cohort.format)
    _check_reader_keys(config, fmt)
    reader_options = {"sheet": config.cohort.sheet, "encoding": config.cohort.encoding,
                      "delimiter": config.cohort.delimiter}
    try:
        available = file_columns(path, fmt, reader_options) if fmt in \
            ("csv", "parquet", "excel", "spss", "stata") else None
    except UserError as exc:
        exc.file = shown
        raise
    except PermissionError:
        raise DataError("cannot read the cohort file (permission denied)", file=shown) from None
    wanted = needed_columns(config, [n for _, kind, n in plan.references if kind == "variable"])
    if available is not None:
        _check_columns(plan, wanted, available, shown)
        check_references(plan, available)
    _announce_large_read(path, shown, progress)
    raw = plan.plugins.hook.cohortpress_read_cohort(
        path=path, fmt=fmt, columns=sorted(wanted) if available is not None else None,
        options=reader_options)
    if raw is None:
        raise DataError(f"no reader for the format '{fmt}'", file=shown, key="cohort.format")
    if available is None:
        _check_columns(plan, wanted, list(raw.data.columns), shown)
        check_references(plan, list(raw.data.columns))
    digest = file_sha256(path)
    try:
        cohort = build_cohort(config, raw.data, file_labels=raw.labels, sha256=digest,
                              used=[n for _, k, n in plan.references if k == "variable"])
    except UserError as exc:
        if exc.file == str(path):
            exc.file = shown
        raise
    progress.timed(f"loaded {shown}: {cohort.size_text()}, {len(raw.data.columns)} columns",
                   time.perf_counter() - started)
    return cohort


def _load_with_duckdb(plan: Plan, kind: str, shown: str, progress: Progress):
    """Read the used columns of a DuckDB source, with the filter run there where it can be
    (:mod:`cohortpress.data.duck`), and type them as any cohort."""
    config = plan.config
    started = time.perf_counter()
    _check_reader_keys(config, "csv" if kind.startswith("csv") else "parquet")
    used = [n for _, k, n in plan.references if k == "variable"]
    with open_source(config, kind, shown) as source:
        available = source.columns()
        check_column_count(Path(shown), len(available))
        wanted = needed_columns(config, used)
        _check_columns(plan, wanted, available, shown)
        check_references(plan, available)
        columns = sorted(wanted)
        info = _source_info(config, kind)
        if engine_wanted(plan, source.count, progress):
            try:
                cohort = build_engine_cohort(config, source, _memory_order(
                    config, kind, columns, available), used, info)
            except UserError as exc:
                if exc.file == str(config.cohort.path):
                    exc.file = shown
                raise
            where = "DuckDB"
            if config.cohort.engine == "spark":
                from cohortpress.data.engine.spark import spark_cohort

                cohort, where = spark_cohort(config, cohort, kind, SOURCE_VIEW), "Spark"
            progress.timed(f"typed {shown} in the engine ({kind}, {where}): {cohort.n:,} "
                           f"patients, {len(columns)} columns; statistics from aggregates",
                           time.perf_counter() - started)
            return cohort
        pushed = plan_pushdown(source, columns, config.cohort.filter)
        data = source.read(columns, pushed.where, pushed.params)
        digest = source.sha256()
    if len(data) == 0 and pushed.where:
        raise DataError(f"no rows left after cohort.filter ({pushed.filter_text})",
                        file=str(config.source), key="cohort.filter")
    read = ReadInfo(pushed.extra_values, pushed.n_rows_read, pushed.filter_unknown, info)
    try:
        cohort = build_cohort(config, data, sha256=digest, used=used, read=read)
    except UserError as exc:
        if exc.file == str(config.cohort.path):
            exc.file = shown
        raise
    where = ", cohort.filter run by DuckDB" if pushed.where else ""
    progress.timed(f"loaded {shown} ({kind}, DuckDB{where}): {cohort.n} patients, "
                   f"{len(columns)} columns", time.perf_counter() - started)
    return cohort


def _memory_order(config: Config, kind: str, columns: list[str],
                  available: Sequence[str]) -> list[str]:
    """The columns in the order the rows path would hold them (variables keep that order):
    the CSV reader keeps the file's order, the other readers the order asked for."""
    if kind == "csv" and config.cohort.engine in ("auto", "spark"):
        return [c for c in available if c in set(columns)]
    return list(columns)


def _source_info(config: Config, kind: str) -> dict[str, str]:
    """What the provenance says about a DuckDB source besides its path and digest."""
    from importlib.metadata import version

    info = {"kind": kind, "engine": f"duckdb {version('duckdb')}"}
    if config.cohort.table is not None:
        info["table"] = config.cohort.table
    if config.cohort.query is not None:
        info["query"] = config.cohort.query
    return info


#: Files at least this large get a progress line before they are read.
LARGE_READ_BYTES = 64 * 1024 * 1024


def _announce_large_read(path: Path, shown: str, progress: Progress) -> None:
    """Say that a long read has started, and how to stop it, before it starts.

    The readers cannot report progress from inside pyarrow or pyreadstat; a line before the
    read tells the user the build is not hanging (the size ceilings of
    :mod:`cohortpress.data.files` bound how long it can take).
    """
    size = path.stat().st_size
    if size >= LARGE_READ_BYTES:
        progress.say(f"reading {shown} ({size / 2**20:,.0f} MB); Ctrl-C stops the build and "
                     f"keeps the previous report")


#: The ``[cohort]`` keys the built-in readers use, by key: the formats that read them.
READER_KEYS = {"sheet": ("excel",), "encoding": ("csv",), "delimiter": ("csv",)}
BUILT_IN_FORMATS = ("csv", "parquet", "excel", "spss", "stata")


def _check_reader_keys(config: Config, fmt: str) -> None:
    """A reader key given for a file another built-in reader reads would be ignored: an
    error (a plugin's reader of another format may use them as it likes)."""
    if fmt not in BUILT_IN_FORMATS:
        return
    for key, formats in READER_KEYS.items():
        if key in config.cohort.model_fields_set and fmt not in formats:
            raise ConfigError(f"applies to {' and '.join(formats)} files; the cohort file is "
                              f"read as {fmt}", file=str(config.source), key=f"cohort.{key}")
    delimiter = config.cohort.delimiter
    if delimiter is not None and len(delimiter) != 1:
        raise ConfigError(f"found the text {delimiter!r}; expected one character, such as "
                          f"\",\", \";\" or \"\\t\"", file=str(config.source),
                          key="cohort.delimiter")


def shown_path(path: Path, config: Config) -> str:
    """A path as short as it can be said: relative to the working folder when inside it."""
    try:
        relative = os.path.relpath(path, Path.cwd())
    except ValueError:  # another drive
        return str(path)
    return str(path) if relative.startswith("..") else relative


def _check_columns(plan: Plan, wanted: set[str], available: Sequence[str], shown: str) -> None:
    missing = sorted(set(wanted) - set(available))
    if not missing:
        return
    name = missing[0]
    key = _who_needs(plan, name)
    hint = did_you_mean(name, available)
    if len(available) == 1 and not hint:
        # One column whose name holds the others: the file uses another delimiter.
        seps = [sep for sep in (";", "\t", "|", ",") if sep in str(available[0])]
        if seps:
            hint = (f"; the file has a single column '{available[0][:60]}': set "
                    f"cohort.delimiter = {json.dumps(seps[0])}")
    raise DataError(f"column '{name}' not found in the cohort{hint}", file=shown, key=key)


def _who_needs(plan: Plan, column: str) -> str | None:
    config = plan.config
    for key, _, name in plan.references:
        if name == column:
            return key
    if column in config.variables:
        return f"variables.{column}"
    if column == config.cohort.id:
        return "cohort.id"
    if column == config.cohort.group:
        return "cohort.group"
    for ep_name, ep in config.endpoints.items():
        for attr in ("time", "event", "start", "last_contact"):
            if getattr(ep, attr, None) == column:
                return f"endpoints.{ep_name}.{attr}"
        for attr in ("events", "competing"):
            if column in getattr(ep, attr, ()):
                return f"endpoints.{ep_name}.{attr}[{getattr(ep, attr).index(column)}]"
    for name, spec in config.derived.items():
        if column in derived_sources(spec):
            return f"derived.{name}"
    for i, cond in enumerate(config.cohort.filter):
        if cond.variable == column:
            return f"cohort.filter[{i}].variable"
    return None
