"""Building the typed view ``cohort`` from a DuckDB source, in the engine.

The in-memory path reads the used columns and types them
(:mod:`cohortpress.data.columns`), derives, filters and builds the endpoints. Here the same
steps are SQL over the source, in layers (:mod:`~cohortpress.data.engine.layers`), and no
row leaves the engine:

1. typing: a column with at most :data:`~cohortpress.data.duck.PROFILE_LIMIT` distinct
   values is typed by the in-memory :class:`~cohortpress.data.columns.ColumnTyper` applied
   to its distinct values (kinds, levels, labels and errors come from the same code), and
   the result is joined as a lookup table (raw value -> code, number, date or text); a
   column with more distinct values (a measurement, a date, an id) is typed by SQL casts
   with the same rules (:mod:`~cohortpress.data.engine.typing`);
2. derived variables: :func:`cohortpress.data.engine.derive.derived_view` (the call is
   below: ``derived_view(config, names, cohort)`` receives the typed view and returns it
   with the derived variables added);
3. ``cohort.filter``: :mod:`~cohortpress.data.engine.conditions`;
4. endpoints: :mod:`~cohortpress.data.engine.endpoints`.

Errors are the in-memory path's: one line naming the column, what was found, and the
first patients at fault.
"""

from __future__ import annotations

from typing import Sequence

from cohortpress.common.errors import DataError
from cohortpress.common.suggest import did_you_mean
from cohortpress.config.schema import Config, VariableSettings
from cohortpress.data.columns import check_level_counts, column_roles
from cohortpress.data.derive import derivation_order
from cohortpress.data.duck import DuckSource, engine_settings
from cohortpress.data.engine.backend import BackendSpec, literal, quoted
from cohortpress.data.engine.cohort import EngineCohort
from cohortpress.data.engine.conditions import conditions_sql
from cohortpress.data.engine.endpoints import add_endpoints
from cohortpress.data.engine.layers import PREVIOUS, add_layer
from cohortpress.data.engine.typing import SourceTyping, type_source_column

#: The view of the source's rows (the columns the config uses, untyped).
SOURCE_VIEW = "cohort_source"
#: The name a DuckDB database source is attached under, read-only.
SOURCE_DATABASE = "cohort_database"


def build_engine_cohort(config: Config, source: DuckSource, columns: Sequence[str],
                        used: Sequence[str], source_info: dict[str, str]) -> EngineCohort:
    """The typed, filtered cohort with its endpoints as the view ``cohort`` on DuckDB.

    ``columns``: the source's columns the config needs; ``used``: the variables sections
    use (their level counts are checked, as in memory).
    """
    file = source.shown
    n_rows = source.count()
    if n_rows == 0:
        raise DataError("the cohort has no rows", file=file)
    spec = _source_spec(config, source, columns)
    base = EngineCohort(spec=spec, variables={}, n=n_rows, id_column=config.cohort.id,
                        group=config.cohort.group, source=config.cohort.path,
                        sha256=source.sha256(), n_rows_read=n_rows,
                        source_info={**source_info, "statistics": "engine"})
    typing = SourceTyping(config, source, base, file)
    typing.scan(columns, config.cohort.id)
    if config.cohort.id:
        typing.check_ids(config.cohort.id)
    roles = column_roles(config)
    for name in columns:
        type_source_column(typing, name, config.variables.get(name, VariableSettings()),
                           roles.get(name))
    cohort = typing.typed_cohort()
    names = derivation_order(config, set(used) | set(config.derived))
    if names:
        # e21derive: derived_view(config, names, cohort) -> EngineCohort
        from cohortpress.data.engine.derive import derived_view

        cohort = derived_view(config, names, cohort)
    check_level_counts(config, cohort.variables, [*used, config.cohort.group], file)
    cohort = _filtered(config, cohort)
    if config.cohort.group:
        _check_group(config, cohort)
    cohort = add_endpoints(config, cohort, typing)
    return _final(cohort)


def _source_spec(config: Config, source: DuckSource, columns: Sequence[str]) -> BackendSpec:
    """How a fresh connection (in any process) opens the source as the view of its used
    columns."""
    select = ", ".join(quoted(c) for c in columns)
    statements = [f"SET file_search_path = {literal(str(config.folder))}"]
    if source.kind.removesuffix(" query") == "duckdb":
        # The views are created in memory: a database opened read-only takes none, and
        # opening it again with other settings than the source's connection is refused.
        # Its tables are found by their plain names, as in cohort.table and cohort.query.
        statements += [f"ATTACH {literal(str(config.cohort.path))} AS {SOURCE_DATABASE} "
                       f"(READ_ONLY)",
                       f"SET search_path = 'memory.main,{SOURCE_DATABASE}.main'"]
    statements.append(f"CREATE VIEW {SOURCE_VIEW} AS SELECT {select} FROM "
                      f"({source.relation}) AS source")
    return BackendSpec(options=engine_settings(), statements=tuple(statements))


def _filtered(config: Config, cohort: EngineCohort) -> EngineCohort:
    """``cohort.filter`` applied; the rows it removes for an unknown value counted first."""
    conditions = config.cohort.filter
    if not conditions:
        return cohort
    names = list(dict.fromkeys(c.variable for c in conditions
                               if c.missing is None and c.variable in cohort.variables))
    unknown: dict[str, int] = {}
    if names:  # one scan for all: the rows each comparison removes for an unknown value
        found = cohort.query("SELECT " + ", ".join(
            f"sum(CASE WHEN {quoted(n)} IS NULL THEN 1 ELSE 0 END) AS c{i}"
            for i, n in enumerate(names)) + " FROM {cohort}")
        unknown = {n: int(found[f"c{i}"].fillna(0).iloc[0]) for i, n in enumerate(names)}
    source = str(config.source)
    try:
        where, text = conditions_sql(
            conditions, cohort,
            lambda i, field: f"cohort.filter[{i}]" + (f".{field}" if field else ""))
    except DataError as exc:
        exc.file = exc.file or source
        raise
    filtered = add_layer(cohort, f"SELECT * FROM {PREVIOUS} WHERE {where}",
                         filter_text=text, filter_unknown=tuple(unknown.items()))
    n = _count(filtered)
    if n == 0:
        raise DataError(f"no rows left after cohort.filter ({text})", file=source,
                        key="cohort.filter")
    from dataclasses import replace

    return replace(filtered, n=n)


def _check_group(config: Config, cohort: EngineCohort) -> None:
    name = config.cohort.group
    info = cohort.variables.get(name)
    if info is None:
        raise DataError(f"unknown variable '{name}'{did_you_mean(name, list(cohort.variables))}",
                        file=str(config.source), key="cohort.group")
    if info.kind not in ("categorical", "binary"):
        raise DataError(f"the grouping variable must be categorical, '{name}' is "
                        f"{info.kind}", file=str(config.source), key="cohort.group")


def _final(cohort: EngineCohort) -> EngineCohort:
    """The view with exactly the layout of :mod:`~cohortpress.data.engine.cohort`: the
    variables, then each endpoint's time and status."""
    from cohortpress.data.engine.cohort import status_column, time_column

    names = list(cohort.variables)
    for name in cohort.endpoints:
        names += [time_column(name), status_column(name)]
    # A projection: the rows, and so cohort.n (counted after the filter), are unchanged.
    return add_layer(cohort, f"SELECT {', '.join(quoted(n) for n in names)} FROM {PREVIOUS}")


def _count(cohort: EngineCohort) -> int:
    return int(cohort.query("SELECT count(*) AS n FROM {cohort}")["n"].iloc[0])

