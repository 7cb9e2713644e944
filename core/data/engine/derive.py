"""Derived variables (``[derived]``) on the engine path: each a column of SQL over the typed view.

The contract, for the builder of the engine cohort's view
(:mod:`cohortpress.data.engine.view`)::

    cohort = derived_view(config, names, cohort)

``names`` are the derived variables wanted, in derivation order
(:func:`~cohortpress.data.derive.derivation_order`); ``cohort`` is an
:class:`~cohortpress.data.engine.cohort.EngineCohort` whose view ``cohort`` holds the typed
variables in the layout of :mod:`cohortpress.data.engine.cohort` (categorical and binary as
INTEGER codes into ``VariableInfo.levels``, continuous DOUBLE, dates DATE, text VARCHAR,
NULL for missing; other columns pass through), before any filter. The result is the same
cohort with one layer more (:func:`~cohortpress.data.engine.layers.add_layer`): its view
also holds one column per derived variable in the same layout, its ``variables`` their
:class:`VariableInfo`, equal to what the in-memory :class:`~cohortpress.data.derive.Deriver`
gives on the same rows, and its ``BackendSpec.frames`` the small lookup tables the view
joins. :func:`derived_columns` is the same on any relation and
:class:`~cohortpress.data.engine.backend.Backend`, returning the SQL. The engine is asked
only for small results: distinct values (at most :data:`LOOKUP_LIMIT` of them) and counts.

How each kind is computed, and why that gives the in-memory values:

- every derived variable is first run through the in-memory ``Deriver`` on an empty frame
  of the typed columns, so that the checks of the config (unknown variable, wrong kind,
  a condition that cannot hold) fail with the same message, and its ``VariableInfo`` is
  the Deriver's own;
- ``recode`` and ``kmt2a`` run the ``Deriver`` itself on the distinct values of their
  source and join the result as a lookup table (identical by construction; the default
  levels of a recode depend on the values present, which the distinct values carry);
- ``cut``, ``transform`` and ``date_diff`` are SQL expressions (interval bounds as
  ``pandas.cut`` with ``include_lowest``, ``ln``/``log2``/``log10``/``sqrt``, a day count over
  the unit's days): their sources are continuous or dates, with too many distinct values
  for a lookup table. Values the in-memory path refuses (outside the breaks, the logarithm
  of a non-positive number) are counted in one scan for all derived variables, and the
  first derived variable (in derivation order) with any is refused in one line;
- ``flag`` and ``case`` are SQL ``CASE`` chains over their conditions, each condition on one
  variable: a continuous variable is compared in SQL; on a categorical, binary or text
  variable the condition is evaluated by :func:`~cohortpress.data.conditions.evaluate` on
  the variable's distinct values, and becomes ``code IN (...)``.

A derivation that cannot be done in the engine (a recode of a column with more than
:data:`LOOKUP_LIMIT` distinct values) is one error naming the derived variable's key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from cohortpress.common.errors import DataError
from cohortpress.config.schema import (CaseDerived, Condition, Config, CutDerived,
                                       DateDiffDerived, FlagDerived, TransformDerived)
from cohortpress.data.cohort import VariableInfo
from cohortpress.data.columns import as_text
from cohortpress.data.conditions import ConditionError, evaluate
from cohortpress.data.derive import Deriver
from cohortpress.data.endpoints import DAYS_PER_UNIT
from cohortpress.data.engine.backend import (COHORT, Backend, double, in_list, literal,
                                             quoted)
from cohortpress.data.engine.conditions import continuous_sql
from cohortpress.data.engine.cohort import EngineCohort
from cohortpress.data.engine.layers import PREVIOUS, add_layer

#: Most distinct values (or combinations) of a source that a lookup table is made from.
LOOKUP_LIMIT = 10_000
#: The SQL type of a column of each kind in the view.
SQL_TYPES = {"categorical": "INTEGER", "binary": "INTEGER", "continuous": "DOUBLE",
             "date": "DATE", "text": "VARCHAR"}
#: Patient ids named in an error.
FIRST_PATIENTS = 3


@dataclass(frozen=True, eq=False)
class DerivedView:
    """A relation's columns with the derived columns added.

    Attributes
    ----------
    relation : str
        A ``SELECT`` of every column of the base relation, then one column per derived
        variable (the layout of :mod:`cohortpress.data.engine.cohort`).
    frames : mapping of str to DataFrame
        The lookup tables ``relation`` joins, by name: registered on the backend already;
        register them with the view wherever it is opened again.
    variables : mapping of str to VariableInfo
        Each derived variable's metadata, in derivation order.
    """

    relation: str
    frames: Mapping[str, pd.DataFrame]
    variables: Mapping[str, VariableInfo]


def derived_view(config: Config, names: Sequence[str], cohort: EngineCohort) -> EngineCohort:
    """``cohort`` with the derived variables ``names`` (in derivation order) added to its
    view and its variables; see the module docstring."""
    if not names:
        return cohort
    added = derived_columns(config, names, COHORT, cohort.variables, cohort.backend,
                            id_column=cohort.id_column, layer_base=PREVIOUS)
    return add_layer(cohort, added.relation, frames=added.frames,
                     variables={**cohort.variables, **added.variables})


def derived_columns(config: Config, names: Sequence[str], base: str,
                    variables: Mapping[str, VariableInfo], backend: Backend, *,
                    id_column: str | None = None, layer_base: str | None = None
                    ) -> DerivedView:
    """Add the derived variables ``names`` (in derivation order) to the relation ``base``.

    ``base`` is SQL naming a relation on ``backend`` (a view or a parenthesised query) with
    the typed ``variables``; ``id_column`` names the patients in error messages. The
    returned relation reads from ``layer_base`` when given (the view a new layer extends),
    else from ``base``.
    """
    builder = _ViewBuilder(config, base, variables, backend, id_column)
    try:
        for name in names:
            builder.derive(name)
    except DataError:
        builder.run_checks()  # an earlier derived variable's refused values come first
        raise
    builder.run_checks()
    return DerivedView(builder.relation_over(layer_base or base), dict(builder.frames),
                       {name: builder.infos[name] for name in names})


def column(name: str) -> str:
    """Column ``name`` of the relation a derivation step reads (aliased ``d``)."""
    return "d." + quoted(name)


def typed_series(values: pd.Series, info: VariableInfo) -> pd.Series:
    """Values read from the view as the in-memory cohort holds them (categories as labels)."""
    values = values.reset_index(drop=True)
    if info.kind in ("categorical", "binary"):
        codes = pd.to_numeric(values.astype(object).where(values.notna(), -1)).astype(int)
        return pd.Series(pd.Categorical.from_codes(codes.to_numpy(), categories=list(info.levels),
                                                   ordered=True))
    if info.kind == "continuous":
        return pd.to_numeric(values.astype(object).where(values.notna(), np.nan)).astype(float)
    if info.kind == "date":
        return pd.Series(pd.to_datetime(values).astype("datetime64[ns]"))
    return values.astype(object).where(values.notna(), np.nan)


class _ViewBuilder:
    """Grows ``relation`` by one derived column per :meth:`derive`."""

    def __init__(self, config: Config, base: str, variables: Mapping[str, VariableInfo],
                 backend: Backend, id_column: str | None):
        self.config = config
        self.backend = backend
        self.id_column = id_column
        self.infos: dict[str, VariableInfo] = dict(variables)
        self.base = base
        self.steps: list[tuple[str, str, str]] = []  # (name, expression, join)
        self.frames: dict[str, pd.DataFrame] = {}
        self.checks: list[tuple] = []  # (bad rows' SQL condition, column, key, message)

    @property
    def relation(self) -> str:
        """The rows with the derived columns so far, over the base relation."""
        return self.relation_over(self.base)

    def relation_over(self, base: str) -> str:
        """The rows with the derived columns so far, over the relation ``base``."""
        relation = f"SELECT * FROM {base} AS base_rows"
        for name, expression, join in self.steps:
            relation = (f"SELECT d.*, {expression} AS {quoted(name)} "
                        f"FROM ({relation}) AS d{join}")
        return relation

    # ----------------------------------------------------------------- the steps

    def derive(self, name: str) -> None:
        spec = self.config.derived[name]
        key = f"derived.{name}"
        if name in self.infos:
            raise DataError(f"derived variable '{name}' has the name of a variable the view "
                            f"already holds", file=str(self.config.source), key=key)
        info = self._checked_info(name)
        if spec.type in ("recode", "kmt2a"):
            expression, join, info = self._lookup(name, spec, key)
        else:
            expression, join = getattr(self, f"_{spec.type}")(spec, key, info)
        self.steps.append((name, expression, join))
        self.infos[name] = info

    def _checked_info(self, name: str) -> VariableInfo:
        """The in-memory Deriver on no rows: the config's checks, and the variable's metadata."""
        empty = pd.DataFrame({n: typed_series(pd.Series([], dtype=object), info)
                              for n, info in self.infos.items()})
        deriver = Deriver(self.config, empty, dict(self.infos), typer=None)
        deriver.derive(name)
        return deriver.infos[name]

    def _cut(self, spec: CutDerived, key: str, info: VariableInfo):
        x = column(spec.source)
        b = [double(edge) for edge in spec.breaks]
        bins = []
        for i in range(len(spec.labels)):
            if spec.right:
                low = f"{x} >= {b[i]}" if i == 0 else f"{x} > {b[i]}"
                bins.append(f"{low} AND {x} <= {b[i + 1]}")
            else:
                bins.append(f"{x} >= {b[i]} AND {x} < {b[i + 1]}")
        inside = f"{x} >= {b[0]} AND {x} {'<=' if spec.right else '<'} {b[-1]}"
        self._refuse(f"{x} IS NOT NULL AND NOT ({inside})", spec.source, f"{key}.breaks",
                     lambda value: f"value {value} of '{spec.source}' is outside the breaks "
                                   f"{spec.breaks}")
        codes = " ".join(f"WHEN {condition} THEN {i}" for i, condition in enumerate(bins))
        return f"CASE {codes} END", ""

    def _transform(self, spec: TransformDerived, key: str, info: VariableInfo):
        x = column(spec.source)
        if spec.function == "scale":  # per = nan: NaN, missing, in memory
            return (f"{x} / {double(spec.per)}" if not math.isnan(spec.per) else
                    "CAST(NULL AS DOUBLE)"), ""
        bad = f"{x} < 0" if spec.function == "sqrt" else f"{x} <= 0"
        self._refuse(bad, spec.source, f"{key}.function",
                     lambda value: f"{spec.function} of {value} is undefined")
        sql = {"log": "ln", "log2": "log2", "log10": "log10", "sqrt": "sqrt"}[spec.function]
        return f"{sql}({x})", ""

    def _date_diff(self, spec: DateDiffDerived, key: str, info: VariableInfo):
        days = f"CAST(DATE_DIFF('day', {column(spec.start)}, {column(spec.end)}) AS DOUBLE)"
        return f"{days} / {double(DAYS_PER_UNIT[spec.in_unit])}", ""

    def _flag(self, spec: FlagDerived, key: str, info: VariableInfo):
        holds, known = self._all(spec.when, f"{key}.when")
        yes, no = info.levels.index(spec.yes), info.levels.index(spec.no)
        return f"CASE WHEN NOT ({known}) THEN NULL WHEN {holds} THEN {yes} ELSE {no} END", ""

    def _case(self, spec: CaseDerived, key: str, info: VariableInfo):
        def code(value):
            return str(info.levels.index(value)) if value in info.levels else "NULL"

        branches = []
        for i, case in enumerate(spec.cases):
            holds, known = self._all(case.when, f"{key}.cases[{i}].when")
            branches.append(f"WHEN {holds} THEN {code(case.value)}")
            if spec.unknown == "missing":
                branches.append(f"WHEN NOT ({known}) THEN NULL")
        default = code(spec.default) if spec.default is not None else "NULL"
        return f"CASE {' '.join(branches)} ELSE {default} END", ""

    def _lookup(self, name: str, spec, key: str):
        """``recode``/``kmt2a``: the in-memory Deriver on the source's distinct values."""
        source = spec.source
        source_info = self.infos[source]
        distinct = self._distinct(source)
        if distinct is None:
            raise DataError(f"'{source}' has more than {LOOKUP_LIMIT:,} distinct values: a "
                            f"{spec.type} of it is not computed in the engine; set "
                            f"cohort.statistics = \"rows\"", file=str(self.config.source),
                            key=f"{key}.source")
        frame = pd.DataFrame({source: typed_series(distinct, source_info)})
        deriver = Deriver(self.config, frame, {source: source_info}, typer=None)
        deriver.derive(name)
        codes = pd.Series(deriver.frame[name].cat.codes.to_numpy(), dtype="Int32")
        codes = codes.where(codes >= 0)
        present = distinct.notna().to_numpy()
        table = f"derived__{name}"
        lookup = pd.DataFrame({"key": distinct[present].reset_index(drop=True),
                               "code": codes[present].reset_index(drop=True)})
        self.backend.register(table, lookup)
        self.frames[table] = lookup
        missing = codes[~present]
        null_code = "NULL" if missing.empty or pd.isna(missing.iloc[0]) \
            else str(int(missing.iloc[0]))
        x = column(source)
        join = (f" LEFT JOIN (SELECT CAST(\"key\" AS {SQL_TYPES[source_info.kind]}) AS \"key\", "
                f"CAST(\"code\" AS INTEGER) AS \"code\" FROM {quoted(table)}) AS l "
                f"ON {x} = l.\"key\"")
        expression = f"CASE WHEN {x} IS NULL THEN {null_code} ELSE l.\"code\" END"
        return expression, join, deriver.infos[name]

    # ----------------------------------------------------------------- conditions

    def _all(self, conditions: list[Condition], key: str) -> tuple[str, str]:
        """SQL of (all conditions hold, all are known), never NULL."""
        holds, known = [], []
        for i, cond in enumerate(conditions):
            h, k = self._condition(cond, f"{key}[{i}]")
            holds.append(h)
            known.append(k)
        return " AND ".join(holds) or "TRUE", " AND ".join(known) or "TRUE"

    def _condition(self, cond: Condition, key: str) -> tuple[str, str]:
        x = column(cond.variable)
        info = self.infos[cond.variable]
        if cond.missing is not None:
            return f"({x} IS NULL)" if cond.missing else f"({x} IS NOT NULL)", "TRUE"
        known = f"({x} IS NOT NULL)"
        if info.kind == "continuous":
            return f"({x} IS NOT NULL AND {continuous_sql(cond, x)})", known
        distinct = self._condition_values(cond, info)
        if distinct is None:
            return f"({x} IS NOT NULL AND {_text_comparison(cond, x, key, self.config)})", known
        typed = typed_series(distinct, info)
        try:
            holds, _ = evaluate(cond, typed, info)
        except ConditionError as exc:
            raise DataError(str(exc), file=str(self.config.source), key=key) from None
        chosen = distinct[holds & distinct.notna().to_numpy()]
        if chosen.empty:
            return "FALSE", known
        values = [int(v) for v in chosen] if info.kind in ("categorical", "binary") \
            else [str(v) for v in chosen]
        return f"({x} IS NOT NULL AND {x} IN {in_list(values)})", known

    def _condition_values(self, cond: Condition, info: VariableInfo) -> pd.Series | None:
        """The values to evaluate a condition on: every level of a categorical variable
        when that decides as the values present would (no scan), else the distinct values
        present."""
        if info.kind in ("categorical", "binary"):
            codes = pd.Series(range(len(info.levels)), dtype=object)
            try:
                evaluate(cond, typed_series(codes, info), info)
                return codes
            except ConditionError:
                # Some level is not a number: whether the condition can be evaluated
                # depends on the levels present, as in memory.
                pass
        return self._distinct(cond.variable)

    # ----------------------------------------------------------------- queries

    def _distinct(self, name: str) -> pd.Series | None:
        """The distinct values of column ``name`` (NULL included), or None when there are
        more than :data:`LOOKUP_LIMIT`."""
        found = self.backend.query(f"SELECT DISTINCT {column(name)} AS v FROM "
                                   f"({self.relation}) AS d LIMIT {LOOKUP_LIMIT + 1}")["v"]
        return None if len(found) > LOOKUP_LIMIT else found.reset_index(drop=True)

    def _refuse(self, bad: str, source: str, key: str, message) -> None:
        """Refuse the rows that meet the SQL condition ``bad``: checked with the other
        derived variables' checks in one scan (:meth:`run_checks`)."""
        self.checks.append((bad, source, key, message))

    def run_checks(self) -> None:
        """One scan counting the rows each pending check refuses; the first check (in
        derivation order) that refuses any is one error line naming the smallest value,
        the patients and the first patient ids."""
        checks, self.checks = self.checks, []
        if not checks:
            return
        parts = []
        for i, (bad, source, _, _) in enumerate(checks):
            parts += [f"sum(CASE WHEN {bad} THEN 1 ELSE 0 END) AS n{i}",
                      f"min(CASE WHEN {bad} THEN {column(source)} END) AS v{i}"]
        found = self.backend.query(f"SELECT {', '.join(parts)} FROM ({self.relation}) AS d")
        for i, (bad, source, key, message) in enumerate(checks):
            n = found[f"n{i}"].iloc[0]
            if pd.isna(n) or not int(n):
                continue
            n = int(n)
            patients = f"{n} patient{'s' if n > 1 else ''}"
            if self.id_column:
                ids = self.backend.query(
                    f"SELECT {column(self.id_column)} AS id FROM ({self.relation}) AS d "
                    f"WHERE {bad} ORDER BY {column(self.id_column)} "
                    f"LIMIT {FIRST_PATIENTS}")["id"]
                patients += ": " + ", ".join(map(str, ids)) + (", ..." if n > len(ids) else "")
            raise DataError(f"{message(float(found[f'v{i}'].iloc[0]))} ({patients})",
                            file=str(self.config.source), key=key, column=source)


def _text_comparison(cond: Condition, x: str, key: str, config: Config) -> str:
    """A condition on a text column with too many distinct values for a lookup, as SQL."""
    if cond.eq is not None:
        return f"{x} = {literal(as_text(cond.eq))}"
    if cond.ne is not None:
        return f"{x} <> {literal(as_text(cond.ne))}"
    if cond.is_in is not None:
        return f"{x} IN {in_list([as_text(v) for v in cond.is_in])}" if cond.is_in else "FALSE"
    if cond.not_in is not None:
        return f"NOT ({x} IN {in_list([as_text(v) for v in cond.not_in])})" \
            if cond.not_in else "TRUE"
    raise DataError(f"'{cond.variable}' has more than {LOOKUP_LIMIT:,} distinct values: "
                    f"comparing it as a number is not computed in the engine; set "
                    f"cohort.statistics = \"rows\"", file=str(config.source), key=key)
