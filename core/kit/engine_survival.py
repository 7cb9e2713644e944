"""Survival analysis on the engine path: one aggregate query per endpoint.

Every survival estimator the report uses (Kaplan–Meier with its intervals, medians and
landmarks, the log-rank family, the reverse Kaplan–Meier follow-up, the restricted mean,
Aalen–Johansen cumulative incidence and Gray's test, numbers at risk) depends on the
patients only through how many of them, in each group and stratum, leave follow-up at each
distinct time with each status. This module asks the engine for exactly that table, one
row per distinct (group, stratum, time, status) with its number of patients, and hands it
to the analysis as an :class:`AggregatedEndpoint`: arrays like an in-memory endpoint's, one
entry per row of the table, with ``counts`` saying how many patients each row stands for.
The estimators in :mod:`cohortpress.stats` take those counts (their ``counts=`` argument)
and tabulate them into the same per-time table as the patients' own rows, so both paths
give the same numbers by construction. The table grows with the number of distinct times,
never with the number of patients.

What needs the patients' rows (weights, delayed entry) is refused by option name in
:func:`survival_aggregates`, the ``aggregates`` hook of the survival analysis.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from cohortpress.common.errors import DataError
from cohortpress.data.grouping import grouping_variable
from cohortpress.kit.engine_grouping import counted_grouping

#: Options of the survival analysis that need the patients' rows, and why.
ROW_OPTIONS = {"weights": "weighted Kaplan–Meier curves need each patient's weight"}

#: The most memory one endpoint's aggregate table and the section's work on it may take
#: (bytes): the table, the estimators' per-time tables and fits, and the figure.
TABLE_LIMIT = 4 * 2**30
#: What the section holds at its peak per row of that table (bytes), with a margin: about
#: 245 measured on the 10^7-patient exact-times benchmark, 6.4 million rows (docs/engine.md).
BYTES_PER_ROW = 300


@dataclass(frozen=True, eq=False)
class AggregatedEndpoint:
    """An endpoint as rows of counts: ``time``, ``event``, ``status`` per distinct (group,
    stratum, time, status), ``counts`` the patients of each row; the metadata of
    :class:`~cohortpress.data.engine.cohort.EngineEndpoint`."""

    name: str
    label: str
    unit: str
    time: np.ndarray
    event: np.ndarray
    status: np.ndarray
    counts: np.ndarray
    has_competing: bool = False
    definition: str = ""
    data_unit: str = ""
    cause_labels: tuple[str, ...] = ()
    entry_column: str = ""
    entry: None = None

    @property
    def causes(self) -> tuple[tuple[int, str], ...]:
        """``(status code, name)`` of every cause, the event of interest first."""
        labels = self.cause_labels or (self.label,)
        return tuple(enumerate(labels, start=1))


@dataclass(frozen=True, eq=False)
class SurvivalCounts:
    """One endpoint's aggregate table: the endpoint as rows of counts and each row's group
    code (-1: group missing) and stratum code (-1: missing; None without strata)."""

    endpoint: AggregatedEndpoint
    groups: np.ndarray
    strata: np.ndarray | None


def survival_aggregates(options) -> str | None:
    """The survival analysis's ``aggregates`` hook: None when these options compute from
    aggregates, else the line naming the option that needs the patients' rows."""
    for key, why in ROW_OPTIONS.items():
        if getattr(options, key, None) is not None:
            return f"'{key}' needs the patients' rows ({why})"
    return None


def selected(values: np.ndarray, mask=None) -> np.ndarray:
    """``values[mask]``, or ``values`` itself when ``mask`` is None or selects every row:
    with exact times an aggregate table has about a row per patient, and a copy of each
    array for the whole cohort ("Overall", the test, the follow-up) is then as large as
    the table."""
    if mask is None or mask.all():
        return values
    return values[mask]


def counts_of(endpoint, mask=None) -> np.ndarray | None:
    """The patients per row of an endpoint from aggregates (of the rows ``mask`` selects),
    or None for an in-memory endpoint (one row per patient)."""
    counts = getattr(endpoint, "counts", None)
    return None if counts is None else selected(counts, mask)


def patients(endpoint, mask=None, where=None) -> int:
    """Patients among the rows ``mask`` selects (all by default) for whom the boolean array
    ``where`` (over those rows) holds: rows, or the sum of their counts."""
    counts = counts_of(endpoint, mask)
    n_rows = len(endpoint.time) if mask is None else int(np.count_nonzero(mask))
    if counts is None:
        return n_rows if where is None else int(np.count_nonzero(where))
    return int(counts.sum() if where is None else counts[where].sum())


def survival_counts(cohort, name: str, by: str | None, strata: str | None) -> SurvivalCounts:
    """The aggregate table of endpoint ``name`` of an engine cohort: patients per distinct
    group (``by``), stratum (``strata``), time and status, in one query.

    The table comes as NumPy arrays (not a DataFrame), the codes in the smallest integer
    type that holds them: 19 bytes per row (time, count, group, status, event) instead of
    40, since with exact times there is about a row per patient. Its rows are in time
    order, which :func:`~cohortpress.stats.event_times.tabulate_by_time` then need not
    sort again."""
    endpoint = cohort.endpoint(name)
    keys = [cohort.column(c) for c in (by, strata) if c] + [endpoint.time, endpoint.status]
    # no constant among the GROUP BY keys: an engine may read a number there as a position
    table = cohort.query_columns(
        f"SELECT {code_sql(cohort, by)} AS g, {code_sql(cohort, strata)} AS s, {endpoint.time} AS t, "
        f"CAST({endpoint.status} AS INTEGER) AS status, count(*) AS n FROM {{cohort}} "
        f"GROUP BY {', '.join(keys)} ORDER BY t, g, s, status")
    time = np.asarray(table.pop("t"), dtype=float)
    if np.isnan(time).any():
        raise DataError(f"endpoint '{name}' has missing times in the engine's view")
    status = small_codes(table.pop("status"))
    if (status < 0).any():
        raise DataError(f"endpoint '{name}' has missing status codes in the engine's view")
    rows = AggregatedEndpoint(
        name=endpoint.name, label=endpoint.label, unit=endpoint.unit, time=time,
        event=(status == 1).astype(np.int8), status=status,
        counts=np.asarray(table.pop("n"), dtype=np.int64), has_competing=endpoint.has_competing,
        definition=endpoint.definition, data_unit=endpoint.data_unit,
        cause_labels=tuple(endpoint.cause_labels))
    groups = small_codes(table.pop("g"))
    codes = small_codes(table.pop("s")) if strata else None
    return SurvivalCounts(rows, groups, codes)


#: Streamed too, for speed, when a cohort of at least STREAM_MIN_ROWS patients has at
#: least STREAM_FRACTION table rows per patient, and the options allow it: the benchmark's
#: exact-times cohorts' survival section took 3.0 s and 0.52 GB from the table, 1.8 s and
#: 0.36 GB streamed at 10^6 patients; 24.5 s and 1.80 GB, 10.6 s and 0.72 GB at 10^7.
STREAM_MIN_ROWS = 100_000
STREAM_FRACTION = 0.1


def too_large(table_rows: int) -> bool:
    """Whether an endpoint's aggregate table would hold more than :data:`TABLE_LIMIT` bytes
    at the section's peak, :data:`BYTES_PER_ROW` per row. The table has a row per distinct
    (group, stratum, time, status): with times recorded to the day a registry has a few
    thousand, with exact times about one per patient (10^8 patients: some 20 GB).
    ``table_rows`` is the estimate of :func:`endpoint_extents` (the distinct times within
    each group, by HyperLogLog)."""
    return table_rows * BYTES_PER_ROW > TABLE_LIMIT


def streams(cohort, table_rows: int, refusal: str | None) -> bool:
    """Whether an endpoint's survival is computed from its rows in time order
    (:mod:`cohortpress.kit.engine_survival_stream`) rather than from its aggregate table:
    when the table is :func:`too_large`, or, where the options allow it (``refusal`` is
    None: :func:`~cohortpress.kit.engine_survival_stream.streamed_refusal`) and the engine
    streams rows, when it has nearly a row per patient and streaming is faster."""
    if too_large(table_rows):
        return True
    return (refusal is None and cohort.backend.streams_rows and cohort.n >= STREAM_MIN_ROWS
            and table_rows >= STREAM_FRACTION * cohort.n)


def check_streamable(cohort, name: str, table_rows: int, refusal: str | None) -> None:
    """Refuse, in one line and before the build, an endpoint whose table is
    :func:`too_large` where it cannot be streamed instead: on an engine that keeps its rows
    (Spark), or with an option the streamed estimates cannot honour (``refusal``, the line
    of :func:`~cohortpress.kit.engine_survival_stream.streamed_refusal`)."""
    if not too_large(table_rows):
        return
    if not cohort.backend.streams_rows:
        needed = table_rows * BYTES_PER_ROW
        raise DataError(
            f"endpoint '{name}' has about {table_rows:,} distinct times (counted per group): "
            f"its survival analysis from aggregates would hold about {needed / 2**30:.1f} GB "
            f"(at most {TABLE_LIMIT / 2**30:g} GB), and this engine does not stream its "
            f"rows; with times recorded to the day they are far fewer")
    if refusal:
        raise DataError(refusal)


def small_codes(values) -> np.ndarray:
    """Integer codes from the engine (NULL, which arrives as NaN, as -1) in the smallest
    signed integer type that holds them: a byte per row for groups, strata and statuses."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        values = np.where(np.isnan(values), -1, values)
    low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
    dtype = next(t for t in (np.int8, np.int16, np.int32, np.int64)
                 if np.iinfo(t).min <= low and high <= np.iinfo(t).max)
    return values.astype(dtype)


@dataclass(frozen=True)
class EndpointExtent:
    """What the checks before a survival section need to know of an endpoint: its events,
    its longest follow-up, each group's last follow-up (groups with patients only), and
    about how many rows its aggregate table will have (the distinct times per group,
    approximately: :func:`too_large`)."""

    events: int
    longest: float
    last: dict
    table_rows: int = 0


#: :func:`endpoint_extents` per cohort (its engine spec) and query, so that the section
#: finds what the checks before it asked (a full scan at registry scale).
_EXTENTS: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def endpoint_extents(cohort, names, by: str | None):
    """The grouping by ``by`` and :class:`EndpointExtent` of each endpoint in ``names`` of
    an engine cohort, in one query: per group, its patients (the group sizes, missing group
    included, as :func:`~cohortpress.kit.engine_grouping.engine_grouping` counts them), the
    last time and the events of every endpoint. Asked once per cohort, endpoints and
    grouping (the checks ask, then the section)."""
    key = (cohort.relation, cohort.where, tuple(names), by)
    known = _EXTENTS.get(cohort.spec, {}).get(key)
    if known is None:
        known = _extents(cohort, names, by)
        _EXTENTS.setdefault(cohort.spec, {})[key] = known
    return known


def _extents(cohort, names, by: str | None):
    if by is not None:
        grouping_variable(cohort, by)
    columns = ["count(*) AS n"]
    for k, name in enumerate(names):
        endpoint = cohort.endpoint(name)
        columns += [f"max({endpoint.time}) AS last_{k}",
                    f"sum(CASE WHEN {endpoint.status} = 1 THEN 1 ELSE 0 END) AS events_{k}",
                    f"approx_count_distinct({endpoint.time}) AS times_{k}"]
    grouping = f" GROUP BY {cohort.column(by)}" if by else ""
    table = cohort.query(f"SELECT {code_sql(cohort, by)} AS g, {', '.join(columns)} "
                         f"FROM {{cohort}}{grouping}")
    groups = counted_grouping(cohort, by, table["g"], table["n"])
    levels = groups.levels
    grouped = table[table["g"].notna()]
    out = {}
    for k, name in enumerate(names):
        last = {levels[int(g)]: float(t) for g, t in zip(grouped["g"], grouped[f"last_{k}"])
                if t == t}
        events = table[f"events_{k}"].fillna(0).sum()
        longest = table[f"last_{k}"].max() if len(table) else 0.0
        out[name] = EndpointExtent(int(events), float(longest), dict(sorted(
            last.items(), key=lambda item: list(levels).index(item[0]))),
            int(table[f"times_{k}"].fillna(0).sum()))
    return groups, out


def code_sql(cohort, name: str | None) -> str:
    """SQL for a categorical variable's code as an INTEGER (0 for everyone without one)."""
    return f"CAST({cohort.column(name)} AS INTEGER)" if name else "CAST(0 AS INTEGER)"
