"""The portable layer: the engine path's SQL, written once in DuckDB's dialect, for another engine.

Every query and view statement of the engine path is written in DuckDB's dialect (the
default, embedded engine). A backend for another engine passes each one through
:func:`translate`, which parses it with SQLGlot (a maintained SQL parser and transpiler
covering some thirty dialects: what it knows of each engine's function names, quoting,
casts and null ordering is more than this project should re-learn) and writes it in the
target dialect.

Where SQLGlot's output would compute something else than DuckDB does, :func:`translate`
corrects the parsed tree before writing it (:data:`CORRECTIONS`); each correction names the
difference it removes. The tests run the same queries on DuckDB and on Spark and compare
the numbers, so a difference not corrected here shows there.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from cohortpress.common.errors import DataError

#: The dialect every query of the engine path is written in.
SOURCE_DIALECT = "duckdb"


def _log_base_ten(node):
    """DuckDB's one-argument ``log(x)`` is the base-10 logarithm; Spark's (and SQLGlot's
    default reading of it) is the natural one. Spelled with its base, both agree."""
    from sqlglot import exp

    if isinstance(node, exp.Log) and node.args.get("expression") is None:
        return exp.Log(this=exp.Literal.number(10), expression=node.this)
    return node


def _quantile_exact(node):
    """DuckDB's ``quantile_cont(x, p)`` interpolates between order statistics (R's type 7),
    exactly. SQLGlot writes Spark's ``percentile_cont``, which Spark accepts only in its
    ``WITHIN GROUP`` form; Spark's ``percentile(x, p)`` is the same exact type-7
    interpolation in the function form."""
    from sqlglot import exp

    if isinstance(node, exp.PercentileCont) and node.args.get("expression") is not None:
        return exp.Anonymous(this="percentile", expressions=[node.this, node.expression])
    if isinstance(node, exp.Median):
        return exp.Anonymous(this="percentile", expressions=[node.this, exp.Literal.number(0.5)])
    return node


def _temporary_view(node):
    """``CREATE VIEW`` in DuckDB's in-memory database lives as long as the connection; in
    Spark a permanent view goes to the catalog (and may not name the temporary views the
    lookup tables are). A temporary view, replaced when the statements run again, is
    DuckDB's meaning."""
    from sqlglot import exp

    if isinstance(node, exp.Create) and str(node.args.get("kind", "")).upper() == "VIEW":
        properties = node.args.get("properties") or exp.Properties(expressions=[])
        if not any(isinstance(p, exp.TemporaryProperty) for p in properties.expressions):
            properties.append("expressions", exp.TemporaryProperty())
        node.set("properties", properties)
        node.set("replace", True)
    return node


#: Corrections applied, per target dialect, to every node of a parsed statement.
CORRECTIONS: dict[str, tuple[Callable, ...]] = {
    "spark": (_log_base_ten, _quantile_exact, _temporary_view),
    "databricks": (_log_base_ten, _quantile_exact, _temporary_view),
}


@lru_cache(maxsize=512)
def translate(sql: str, dialect: str) -> str:
    """``sql`` (one statement in DuckDB's dialect) written in ``dialect`` (SQLGlot's name).

    Raises
    ------
    DataError
        When SQLGlot cannot parse the statement or write it for ``dialect``: one line
        naming the dialect and SQLGlot's reason.
    """
    if dialect == SOURCE_DIALECT:
        return sql
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        statements = [s for s in sqlglot.parse(sql, read=SOURCE_DIALECT) if s is not None]
        if len(statements) != 1:
            raise DataError(f"cannot translate SQL for {dialect}: expected one statement, "
                            f"found {len(statements)}")
        tree = statements[0]
        for correction in CORRECTIONS.get(dialect, ()):
            tree = tree.transform(correction)
        return tree.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except SqlglotError as exc:
        reason = " ".join(str(exc).split())[:160]
        raise DataError(f"cannot translate SQL for {dialect} (SQLGlot: {reason})") from None
