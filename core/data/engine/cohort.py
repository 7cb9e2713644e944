"""The cohort as an SQL view: :class:`EngineCohort`, what analyses receive on the engine path.

The view ``cohort`` (:data:`~cohortpress.data.engine.backend.COHORT`) has one row per
patient of the typed, filtered cohort, and these columns:

- each variable under its own name: categorical and binary as an INTEGER code, the
  position of the value's display label in ``VariableInfo.levels`` (0, 1, ...; NULL when
  missing); continuous as DOUBLE; dates as DATE; text as VARCHAR;
- each endpoint's time and status under :func:`time_column` and :func:`status_column`:
  time a DOUBLE in the endpoint's display unit, status an INTEGER (0 censored, 1 the event,
  2, 3, ... competing causes), exactly the arrays an in-memory
  :class:`~cohortpress.data.cohort.Endpoint` holds.

Analyses never hold the rows: they ask for aggregates with :meth:`EngineCohort.query`.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from cohortpress.common.errors import DataError
from cohortpress.data.cohort import Cohort, CohortMetadata, VariableInfo
from cohortpress.data.engine.backend import COHORT, Backend, BackendSpec, open_backend, quoted


def time_column(endpoint: str) -> str:
    """The view's column holding ``endpoint``'s times."""
    return f"{endpoint}__time"


def status_column(endpoint: str) -> str:
    """The view's column holding ``endpoint``'s status codes."""
    return f"{endpoint}__status"


@dataclass(frozen=True, eq=False)
class EngineEndpoint:
    """A time-to-event endpoint as two columns of the view; the metadata of
    :class:`~cohortpress.data.cohort.Endpoint` without its arrays.

    The engine path has no delayed entry (``entry_column`` is always ""): analyses that
    need it run on the rows.
    """

    name: str
    label: str
    unit: str
    has_competing: bool = False
    definition: str = ""
    data_unit: str = ""
    cause_labels: tuple[str, ...] = ()
    entry_column: str = ""
    entry = None

    @property
    def time(self) -> str:
        """The SQL column of the times (quoted)."""
        return quoted(time_column(self.name))

    @property
    def status(self) -> str:
        """The SQL column of the status codes (quoted)."""
        return quoted(status_column(self.name))

    @property
    def causes(self) -> tuple[tuple[int, str], ...]:
        """``(status code, name)`` of every cause, the event of interest first."""
        labels = self.cause_labels or (self.label,)
        return tuple(enumerate(labels, start=1))


@dataclass(frozen=True, eq=False)
class EngineCohort(CohortMetadata):
    """The typed cohort as the SQL view ``cohort``; the metadata of
    :class:`~cohortpress.data.cohort.Cohort`, no rows.

    Attributes
    ----------
    spec : BackendSpec
        How to open the engine that holds the view (in any process).
    where : str
        An SQL condition on the view's columns that a section's subset adds ("" for none);
        :meth:`query` applies it to every query through the relation ``cohort``.
    n : int
        Patients in the view (after ``where``).
    table : str
        The relation holding the rows: the view ``cohort``, or rows :meth:`stored_rows`
        keeps in the engine.
    Other attributes as :class:`~cohortpress.data.cohort.Cohort`.
    """

    spec: BackendSpec
    variables: Mapping[str, VariableInfo]
    endpoints: Mapping[str, EngineEndpoint] = field(default_factory=dict)
    n: int = 0
    where: str = ""
    table: str = COHORT
    id_column: str | None = None
    group: str | None = None
    source: Path = Path("cohort")
    sha256: str = ""
    n_rows_read: int = 0
    filter_text: str = ""
    filter_unknown: tuple[tuple[str, int], ...] = ()
    source_info: Mapping[str, str] = field(default_factory=dict)
    intervals = False
    recurrent = False
    #: Marks the engine path: analyses test ``getattr(cohort, "engine", False)``.
    engine = True

    @property
    def backend(self) -> Backend:
        return open_backend(self.spec)

    @property
    def relation(self) -> str:
        """SQL for the rows of this cohort (the view, with the subset's condition)."""
        if not self.where:
            return self.table
        return f"(SELECT * FROM {self.table} WHERE {self.where})"

    def query(self, sql: str) -> pd.DataFrame:
        """Run ``sql`` (DuckDB dialect), in which ``{cohort}`` stands for this cohort's rows."""
        return self.backend.query(self._sql(sql))

    def query_columns(self, sql: str) -> dict[str, np.ndarray]:
        """Run ``sql`` as :meth:`query` does; its numeric columns as NumPy arrays by name
        (NULL as NaN), for results of many rows."""
        return self.backend.query_columns(self._sql(sql))

    def stream_columns(self, sql: str, rows: int) -> Iterator[dict[str, np.ndarray]]:
        """Run ``sql`` as :meth:`query_columns` does, its result in chunks of at most
        ``rows`` rows, in its order (backends with ``streams_rows`` only)."""
        return self.backend.stream_columns(self._sql(sql), rows)

    def _sql(self, sql: str) -> str:
        return sql.replace("{cohort}", f"{self.relation} AS cohort_rows")

    @property
    def n_patients(self) -> int:
        return self.n

    def size_text(self) -> str:
        return f"{self.n} patients"

    def column(self, name: str) -> str:
        """The quoted SQL column of variable ``name``."""
        self.variable(name)
        return quoted(name)

    def subset(self, where: str, description: str, n: int | None = None) -> "EngineCohort":
        """The patients for whom the SQL condition ``where`` holds."""
        condition = f"({self.where}) AND ({where})" if self.where else where
        text = "; ".join(t for t in (self.filter_text, description) if t)
        narrowed = replace(self, where=condition, filter_text=text)
        if n is None:
            n = int(narrowed.query("SELECT count(*) AS n FROM {cohort}")["n"].iloc[0])
        return replace(narrowed, n=n)

    @contextmanager
    def stored_rows(self, names: Sequence[str], computed: Mapping[str, str],
                    order: Sequence[str], *, descending: bool = False
                    ) -> Iterator["EngineCohort"]:
        """This cohort with its rows stored in the engine while the block runs: only the
        view's columns ``names`` and the ``computed`` ones (name: SQL expression), sorted
        by ``order`` (column names). For analyses that scan the same rows many times (the
        Cox fit's Newton steps): the view's typing runs once, and rows sorted by the
        queries' grouping aggregate faster. ``descending`` sorts by ``order`` from the
        greatest values (rows streamed from the latest time, :meth:`stream_columns`)."""
        columns = [quoted(name) for name in dict.fromkeys(names)]
        columns += [f"{sql} AS {quoted(name)}" for name, sql in computed.items()]
        direction = " DESC" if descending else ""
        relation = self.backend.materialise(
            f"SELECT {', '.join(columns)} FROM {self.relation} AS cohort_rows "
            f"ORDER BY {', '.join(quoted(name) + direction for name in order)}")
        try:
            yield replace(self, table=relation, where="")
        finally:
            self.backend.release(relation)

    def section_subset(self, conditions, section_key: str) -> "EngineCohort":
        """The patients a section's ``subset`` conditions select, the conditions run as
        SQL (:func:`cohortpress.data.conditions.section_subset` calls it)."""
        from cohortpress.data.engine.conditions import engine_subset

        return engine_subset(self, conditions, section_key)


def engine_frame(cohort: Cohort) -> pd.DataFrame:
    """The in-memory cohort laid out as the view :mod:`this module <cohortpress.data.engine.cohort>`
    describes (codes for categories, endpoint columns)."""
    columns: dict[str, object] = {}
    for name, info in cohort.variables.items():
        columns[name] = view_values(cohort.data[name], info)
    for name, endpoint in cohort.endpoints.items():
        columns[time_column(name)] = np.asarray(endpoint.time, dtype="float64")
        columns[status_column(name)] = np.asarray(endpoint.status, dtype="int32")
    return pd.DataFrame(columns)


def view_values(values: pd.Series, info: VariableInfo):
    """One variable's in-memory values as the view holds them (codes for categories)."""
    if info.kind in ("categorical", "binary"):
        codes = pd.Categorical(values, categories=list(info.levels)).codes.astype("int64")
        return pd.array(np.where(codes < 0, pd.NA, codes), dtype="Int32")
    if info.kind == "continuous":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if info.kind == "date":
        return pd.to_datetime(values).dt.normalize()
    return values.astype("string")


def engine_cohort_from_frame(cohort: Cohort) -> EngineCohort:
    """An in-memory cohort put into an in-process DuckDB as the view ``cohort``.

    For tests (the engine path must give the in-memory path's numbers on the same cohort)
    and for small cohorts; delayed entry and long-format cohorts are refused.
    """
    if cohort.intervals:
        raise DataError("a long-format cohort (rows = \"intervals\") has no engine path")
    for endpoint in cohort.endpoints.values():
        if endpoint.entry is not None:
            raise DataError(f"endpoint '{endpoint.name}' has delayed entry, which the engine "
                            f"path does not compute")
    dates = [name for name, info in cohort.variables.items() if info.kind == "date"]
    select = ", ".join(f"CAST({quoted(n)} AS DATE) AS {quoted(n)}" if n in dates else quoted(n)
                       for n in engine_frame_columns(cohort))
    spec = BackendSpec(frames={"cohort_frame": engine_frame(cohort)},
                       statements=(f"CREATE VIEW {COHORT} AS SELECT {select} FROM cohort_frame",))
    endpoints = {name: EngineEndpoint(
        name=ep.name, label=ep.label, unit=ep.unit, has_competing=ep.has_competing,
        definition=ep.definition, data_unit=ep.data_unit, cause_labels=ep.cause_labels)
        for name, ep in cohort.endpoints.items()}
    return EngineCohort(
        spec=spec, variables=dict(cohort.variables), endpoints=endpoints, n=cohort.n,
        id_column=cohort.id_column, group=cohort.group, source=cohort.source,
        sha256=cohort.sha256, n_rows_read=cohort.n_rows_read, filter_text=cohort.filter_text,
        filter_unknown=cohort.filter_unknown, source_info=dict(cohort.source_info))


def engine_frame_columns(cohort: Cohort) -> list[str]:
    """The view's columns, in order: the variables, then each endpoint's time and status."""
    names = list(cohort.variables)
    for name in cohort.endpoints:
        names += [time_column(name), status_column(name)]
    return names


def present_values(cohort: EngineCohort, names) -> dict[str, list]:
    """The values some patient has (not missing) of each variable in ``names``, in one scan
    of the view: categorical and binary variables as their codes, others as stored.

    One ``GROUPING SETS`` query groups the view by each variable in turn; a variable's
    value is not NULL only in the rows of its own grouping set, so each result column,
    without its NULLs, is that variable's values.
    """
    names = list(dict.fromkeys(names))
    if not names:
        return {}
    columns = [quoted(name) for name in names]
    found = cohort.query(
        "SELECT " + ", ".join(f"{c} AS v{i}" for i, c in enumerate(columns))
        + " FROM {cohort} GROUP BY GROUPING SETS (" + ", ".join(f"({c})" for c in columns)
        + ")")
    return {name: found[f"v{i}"].dropna().tolist() for i, name in enumerate(names)}
