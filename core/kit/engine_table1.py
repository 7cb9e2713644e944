"""Table 1 on the engine path: the summariser's aggregates as SQL over the cohort's view.

:class:`EngineTable1Summariser` is :class:`~cohortpress.kit.table1_records.Table1Summariser`
with its data access replaced by queries on an
:class:`~cohortpress.data.engine.cohort.EngineCohort`; it writes the same records, through
the same statistics (:mod:`cohortpress.stats.aggregate_tests`,
:mod:`cohortpress.stats.summaries`, the contingency-table tests), so that the table and the
results file come out as the in-memory path's. What leaves the engine is small: counts per
level and group, per group the count, sum of deviations, extremes and quantiles of a
continuous variable, the order statistics its quartiles read, and for the rank tests one
row of sums.

- counts: ``count(*)`` per group and level code (the missing code ``NULL``);
- means and SDs by two passes, as the in-memory path: ``avg`` first, then the sums of the
  deviations from it and of their squares
  (:func:`~cohortpress.stats.aggregate_tests.moments_from_deviation_sums`);
- medians and quartiles (every quantile type) from the order statistics they read, as in
  memory (:func:`~cohortpress.stats.summaries.quartiles_from_order_statistics`), found in
  the table of distinct values and their counts per group (one ``GROUP BY``, fetched: one
  row per distinct value and group) by a running sum; beyond :data:`DISTINCT_LIMIT`
  distinct values, type 7 by the engine's ``quantile_cont`` (R's type 7 to a few ulps,
  less work than grouping so many values) and other types by ``row_number()``;
- rank tests: from the same table of distinct values and counts; each distinct value's
  average rank is the count of smaller values (a running sum) plus ``(t + 1)/2``; rank sums
  per group and the tie sum ``sum(t^3 - t)`` follow, in whole numbers (twice the rank sums),
  exactly (:func:`~cohortpress.stats.aggregate_tests.rank_sums_from_value_counts`); beyond
  :data:`DISTINCT_LIMIT` distinct values the same sums in SQL.

Each kind of aggregate is asked for once per section where one scan can serve several rows:
the whole-number check, the level counts, the first pass of the means with the first and
last dates, the second pass of the means.

Queries are written once in DuckDB's dialect with standard constructs only (``CAST``,
``CASE``, window sums, ``UNION ALL``), so that other backends can translate them.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cohortpress.common.errors import StatisticsError
from cohortpress.data.engine.backend import quoted
from cohortpress.kit.engine_grouping import EngineGrouping, engine_grouping
from cohortpress.kit.table1_options import (RowSpec, aggregates_refusal, field_digits,
                                            row_specs, whole_numbers)
from cohortpress.kit.table1_records import Table1Summariser
from cohortpress.stats.aggregate_tests import (Moments, RankSums, moments_from_deviation_sums,
                                               order_statistics_from_value_counts,
                                               rank_sums_from_value_counts,
                                               wilcoxon_from_statistic)
from cohortpress.stats.summaries import (quartile_ranks, quartiles_from_order_statistics,
                                         summary_from_aggregates)

__all__ = ["EngineGrouping", "EngineTable1Summariser", "aggregates_refusal", "engine_grouping",
           "engine_all_whole", "prints_whole"]

#: At most this many distinct values of a continuous variable: its median and quartiles come
#: from the table of distinct values and their counts (less work than sorting the rows).
DISTINCT_LIMIT = 1_000_000

#: At most this many rows (level combinations x columns) in the one scan that counts the
#: levels of all categorical rows of a Table 1; beyond, each variable is counted on its own.
JOINT_COUNT_LIMIT = 100_000

#: Per engine cohort, ``{variable: all values whole}`` (the layout and the summariser both
#: ask; each scan of a registry's rows costs seconds).
_WHOLE_BY_COHORT: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def real(text: float) -> str:
    """A float as an SQL DOUBLE that reads back bit for bit (through its shortest repr)."""
    return f"CAST('{float(text)!r}' AS DOUBLE)"


def engine_all_whole(cohort, variable: str, together: tuple[str, ...] = ()) -> bool:
    """:func:`~cohortpress.common.formatting.all_whole` of a variable's values in the engine:
    at least one finite value, and every finite value whole.

    The variables of ``together`` are checked in the same scan and every answer is kept for
    this cohort, so a section asks the engine once for all its continuous variables.
    """
    known = _WHOLE_BY_COHORT.setdefault(cohort, {})
    if variable not in known:
        asked = list(dict.fromkeys(v for v in (variable, *together) if v not in known))
        known.update(_whole_flags(cohort, asked))
    return known[variable]


def _whole_flags(cohort, variables: list[str]) -> dict[str, bool]:
    """Whether all values of each variable are whole, from one scan of the cohort's rows."""
    selects = []
    for i, variable in enumerate(variables):
        x = quoted(variable)
        selects.append(f"sum(CASE WHEN {x} <> floor({x}) THEN 1 ELSE 0 END) AS fractional{i}, "
                       f"sum(CASE WHEN {x} = floor({x}) AND {x} - {x} = 0 THEN 1 ELSE 0 END) "
                       f"AS finite{i}")
    found = cohort.query(f"SELECT {', '.join(selects)} FROM {{cohort}}").iloc[0]
    flags = {}
    for i, variable in enumerate(variables):
        fractional, finite = found[f"fractional{i}"], found[f"finite{i}"]
        flags[variable] = bool(not pd.isna(finite) and finite > 0
                               and (pd.isna(fractional) or fractional == 0))
    return flags


class EngineTable1Summariser(Table1Summariser):
    """The Table 1 summariser on an :class:`~cohortpress.data.engine.cohort.EngineCohort`:
    every count, summary and test aggregate from SQL. Weights and strata are refused before
    (:func:`aggregates_refusal`)."""

    def __init__(self, cohort, options, context, groups: EngineGrouping):
        super().__init__(cohort, options, context, groups)
        self._moments: dict[tuple[str, int], Moments] = {}
        self._counts: dict[str, tuple] = {}
        self._first_pass: dict[str, pd.DataFrame] = {}
        self._deviations: dict[str, dict[int, tuple[float, float]]] = {}
        self._value_counts: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def section_variables(self, *kinds: str) -> list[str]:
        """The section's row variables of these kinds, in order: what one scan can serve."""
        return [spec.variable for spec in row_specs(self.options)
                if self.cohort.variable(spec.variable).kind in kinds]

    weights = None

    # columns ---------------------------------------------------------------------------

    @property
    def group_column(self) -> str | None:
        return None if self.groups.variable is None else quoted(self.groups.variable)

    def by_column(self, select: str, where: str = "", extra: tuple[str, ...] = ()
                  ) -> pd.DataFrame:
        """``select`` (aggregates) per column of the table, the column's index as ``col``:
        one row per group (and per ``extra`` grouping expression), then the overall column
        when the table shows one. Patients with no group are in no column."""
        g = self.group_column
        conditions = [c for c in (where, f"{g} IS NOT NULL" if g else "") if c]
        filtered = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        extras = "".join(f", {e}" for e in extra)
        extra_names = "".join(f", {e} AS extra{i}" for i, e in enumerate(extra))
        if g is None:
            by_extra = f" GROUP BY {', '.join(extra)}" if extra else ""
            return self.cohort.query(f"SELECT 0 AS col{extra_names}, {select} "
                                     f"FROM {{cohort}}{filtered}{by_extra}")
        parts = [f"SELECT CAST({g} AS INTEGER) AS col{extra_names}, {select} "
                 f"FROM {{cohort}}{filtered} GROUP BY {g}{extras}"]
        if len(self.column_levels) > len(self.groups.levels):
            by_extra = f" GROUP BY {', '.join(extra)}" if extra else ""
            parts.append(f"SELECT {len(self.groups.levels)} AS col{extra_names}, {select} "
                         f"FROM {{cohort}}{filtered}{by_extra}")
        return self.cohort.query(" UNION ALL ".join(parts))

    def column_sizes(self) -> list[int]:
        sizes = list(self.groups.sizes)
        if len(self.column_levels) > len(sizes):
            sizes.append(self.groups.n_grouped)
        return sizes

    # categorical -----------------------------------------------------------------------

    def count_levels(self, spec: RowSpec, info):
        """Per column: the count of each level, the missing values, the patients."""
        if spec.variable not in self._counts:
            self.count_all_levels(spec.variable)
        return self._counts[spec.variable]

    def count_all_levels(self, variable: str) -> None:
        """Count the levels of ``variable`` and of the section's other categorical rows not
        counted yet, in one scan grouped by all their codes (summed per variable here, in
        whole numbers), unless the combinations would be too many rows."""
        pending = [v for v in self.section_variables("categorical", "binary")
                   if v not in self._counts and v != variable]
        sizes = self.column_sizes()
        combinations = len(sizes)
        together = [variable]
        for other in pending:
            combinations *= len(self.cohort.variable(other).levels) + 1
            if combinations * (len(self.cohort.variable(variable).levels) + 1) \
                    > JOINT_COUNT_LIMIT:
                break
            together.append(other)
        found = self.by_column("count(*) AS n", extra=tuple(quoted(v) for v in together))
        for i, name in enumerate(together):
            levels = self.cohort.variable(name).levels
            counts = [np.zeros(len(levels), dtype=np.int64) for _ in sizes]
            missing = [0] * len(sizes)
            for col, code, n in zip(found["col"], found[f"extra{i}"], found["n"]):
                if pd.isna(code):
                    missing[int(col)] += int(n)
                else:
                    counts[int(col)][int(code)] += int(n)
            self._counts[name] = (counts, missing, sizes)

    # continuous ------------------------------------------------------------------------

    def continuous_columns(self, spec: RowSpec, applicable, quantile_type: int):
        x = quoted(spec.variable)
        first = self.first_pass(spec.variable)
        sizes = self.column_sizes()
        known = self.known_counts(spec.variable)
        deviations = self.deviation_sums(spec.variable)
        quartiles = self.quartiles(x, first, known, quantile_type)
        for j, n in known.items():
            if n:
                self._moments[(spec.variable, j)] = Moments(n, *moments_from_deviation_sums(
                    n, float(first.loc[j, "first"]), *deviations[j]))
        samples, summaries = [], {}
        for j in range(len(sizes)):
            if not applicable[j]:
                continue
            n = known[j]
            if j < len(self.groups.levels):
                samples.append((self.groups.levels[j], EngineSample(j, n)))
            if n == 0:
                summaries[j] = (None, sizes[j])
                continue
            smallest, largest = (float(first.loc[j, "smallest"]),
                                 float(first.loc[j, "largest"]))
            if np.isinf(smallest) or np.isinf(largest):
                raise StatisticsError("values contain infinities")
            moments = self._moments[(spec.variable, j)]
            median, p25, p75 = quartiles[j]
            summaries[j] = (summary_from_aggregates(
                n, sizes[j] - n, moments.mean, moments.sum_of_squares, median, p25, p75,
                smallest, largest), sizes[j] - n)
        return samples, summaries

    def first_pass(self, variable: str) -> pd.DataFrame:
        """Per column (the index): the count of known and missing values, the mean, the
        extremes and the approximate number of distinct values of a continuous variable;
        the first and last date (``low``, ``high``) of a date. The first call asks for all
        the section's continuous and date variables in one scan."""
        if variable not in self._first_pass:
            names = list(dict.fromkeys([variable,
                                        *self.section_variables("continuous", "date")]))
            names = [v for v in names if v not in self._first_pass]
            selects, fields = [], {}
            for i, name in enumerate(names):
                x = quoted(name)
                if self.cohort.variable(name).kind == "date":
                    fields[name] = ("low", "high")
                    selects.append(f"min({x}) AS low_{i}, max({x}) AS high_{i}")
                    continue
                fields[name] = ("n", "n_miss", "first", "smallest", "largest",
                                "distinct_values")
                selects.append(f"count({x}) AS n_{i}, count(*) - count({x}) AS n_miss_{i}, "
                               f"avg({x}) AS first_{i}, min({x}) AS smallest_{i}, "
                               f"max({x}) AS largest_{i}, "
                               f"approx_count_distinct({x}) AS distinct_values_{i}")
            found = self.by_column(", ".join(selects)).set_index("col")
            for i, name in enumerate(names):
                self._first_pass[name] = found[[f"{f}_{i}" for f in fields[name]]].set_axis(
                    list(fields[name]), axis=1)
        return self._first_pass[variable]

    def quartiles(self, x: str, first: pd.DataFrame, known: dict[int, int],
                  quantile_type: int) -> dict[int, tuple[float, float, float]]:
        """Per column with values, R's median and the quartiles of ``quantile_type``.

        From the order statistics they read (:func:`~cohortpress.stats.summaries.
        quartiles_from_order_statistics`, as in memory), found in the table of distinct
        values and their counts when there are at most :data:`DISTINCT_LIMIT` distinct
        values, else by ``row_number()``; except type 7 with many distinct values, which
        the engine's ``quantile_cont`` computes (R's type 7, to a few ulps) in less work.
        """
        wanted = {j: n for j, n in known.items() if n}
        if not wanted:
            return {}
        distinct = max(int(first.loc[j, "distinct_values"]) for j in wanted)
        if distinct > DISTINCT_LIMIT and quantile_type == 7:
            found = self.by_column(
                f"quantile_cont({x}, 0.5) AS median, quantile_cont({x}, 0.25) AS p25, "
                f"quantile_cont({x}, 0.75) AS p75", where=f"{x} IS NOT NULL").set_index("col")
            return {j: (float(found.loc[j, "median"]), float(found.loc[j, "p25"]),
                        float(found.loc[j, "p75"])) for j in wanted}
        ranks = {j: quartile_ranks(n, quantile_type) for j, n in wanted.items()}
        if distinct > DISTINCT_LIMIT:
            order = self.ranked_values(x, ranks)
        else:
            order = self.counted_values(ranks)
        return {j: quartiles_from_order_statistics(lambda rank, j=j: order[(j, rank)], n,
                                                   quantile_type)
                for j, n in wanted.items()}

    def counted_values(self, ranks: dict[int, list[int]]) -> dict[tuple[int, int], float]:
        """``{(column, rank): value}``: the order statistics of ``ranks``, from the table of
        distinct values and their counts per group (:meth:`value_counts`); the overall
        column pools the groups."""
        values, counts = self.value_counts(self._variable)
        order = {}
        for j, wanted in ranks.items():
            column = counts.sum(axis=1) if j >= counts.shape[1] else counts[:, j]
            found = order_statistics_from_value_counts(values, column, wanted)
            order.update({(j, rank): value for rank, value in found.items()})
        return order

    def few_distinct(self, variable: str) -> bool:
        """Whether some group's approximate number of distinct values is within
        :data:`DISTINCT_LIMIT` in every column with values: then the table of distinct
        values and counts is fetched, else order statistics and ranks stay in the engine."""
        first = self.first_pass(variable)
        known = [j for j, n in self.known_counts(variable).items() if n]
        return max((int(first.loc[j, "distinct_values"]) for j in known),
                   default=0) <= DISTINCT_LIMIT

    def value_counts(self, variable: str) -> tuple[np.ndarray, np.ndarray]:
        """The distinct known values of ``variable`` (ascending) and how many patients of
        each group have each (shape ``(values, groups)``; one column without groups), from
        one ``GROUP BY`` in the engine: the median, the quartiles and the rank tests all
        read it, so the rows are scanned once for them."""
        if variable not in self._value_counts:
            x, g = quoted(variable), self.group_column
            if g is None:
                found = self.cohort.query(f"SELECT 0 AS col, {x} AS value, count(*) AS c "
                                          f"FROM {{cohort}} WHERE {x} IS NOT NULL GROUP BY {x}")
            else:
                found = self.cohort.query(
                    f"SELECT CAST({g} AS INTEGER) AS col, {x} AS value, count(*) AS c "
                    f"FROM {{cohort}} WHERE {x} IS NOT NULL AND {g} IS NOT NULL "
                    f"GROUP BY {g}, {x}")
            values, row = np.unique(found["value"].to_numpy(dtype=np.float64),
                                    return_inverse=True)
            counts = np.zeros((len(values), len(self.groups.levels)), dtype=np.int64)
            np.add.at(counts, (row.ravel(), found["col"].to_numpy(dtype=np.int64)),
                      found["c"].to_numpy(dtype=np.int64))
            self._value_counts[variable] = (values, counts)
        return self._value_counts[variable]

    def ranked_values(self, x: str, ranks: dict[int, list[int]]
                      ) -> dict[tuple[int, int], float]:
        """``{(column, rank): value}``: the order statistics of ``ranks`` by
        ``row_number()`` over each column's sorted known values."""
        g = self.group_column
        n_groups = len(self.groups.levels)
        parts = []
        for j, wanted in ranks.items():
            if g is None or j == n_groups:
                scope = f"{x} IS NOT NULL" + (f" AND {g} IS NOT NULL" if g else "")
            else:
                scope = f"{x} IS NOT NULL AND {g} = {j}"
            parts.append(f"SELECT {j} AS col, rank_in, value FROM (SELECT {x} AS value, "
                         f"row_number() OVER (ORDER BY {x}) AS rank_in FROM {{cohort}} "
                         f"WHERE {scope}) AS ranked_{j} WHERE rank_in IN "
                         f"({', '.join(str(r) for r in wanted)})")
        found = self.cohort.query(" UNION ALL ".join(parts))
        return {(int(c), int(r)): float(v)
                for c, r, v in zip(found["col"], found["rank_in"], found["value"])}

    def known_counts(self, variable: str) -> dict[int, int]:
        """Per column, the number of known values of a continuous variable."""
        first = self.first_pass(variable)
        return {j: int(first["n"].get(j, 0) or 0) for j in range(len(self.column_sizes()))}

    def deviation_sums(self, variable: str) -> dict[int, tuple[float, float]]:
        """Per column, ``sum(d)`` and ``sum(d^2)`` of the deviations ``d`` of the known
        values from the column's first-pass mean (the second pass). The first call asks for
        all the section's continuous variables whose first pass is known, in one scan
        (``sum`` skips the missing values, so no variable's rows need a filter)."""
        if variable not in self._deviations:
            names = [v for v in dict.fromkeys([variable, *self._first_pass])
                     if v not in self._deviations
                     and self.cohort.variable(v).kind == "continuous"]
            grouped, overall, means = [], [], {}
            for i, name in enumerate(names):
                first = self.first_pass(name)
                means[name] = {j: float(first.loc[j, "first"])
                               for j, n in self.known_counts(name).items() if n}
                group_select, overall_select = self.deviation_selects(quoted(name),
                                                                      means[name], i)
                grouped.append(group_select)
                overall.append(overall_select)
            found = self.by_column_with(", ".join(grouped), ", ".join(overall))
            for i, name in enumerate(names):
                self._deviations[name] = {
                    int(col): (float(d1), float(d2))
                    for col, d1, d2 in zip(found["col"], found[f"d1_{i}"], found[f"d2_{i}"])
                    if int(col) in means[name]}
        return self._deviations[variable]

    def deviation_selects(self, x: str, means: dict[int, float], i: int) -> tuple[str, str]:
        """The sums of deviations of ``x`` from its column means (named ``d1_i``,
        ``d2_i``): per group, and for the overall column (``NULL`` without one)."""
        n_groups = len(self.groups.levels)
        g = self.group_column
        if not means:
            centre = "NULL"
        elif g is None:
            centre = real(means[0])
        else:
            cases = " ".join(f"WHEN {j} THEN {real(m)}" for j, m in means.items()
                             if j < n_groups)
            centre = f"(CASE CAST({g} AS INTEGER) {cases} ELSE NULL END)" if cases else "NULL"
        select = (f"sum({x} - {{centre}}) AS d1_{i}, "
                  f"sum(({x} - {{centre}}) * ({x} - {{centre}})) AS d2_{i}")
        overall = real(means[n_groups]) if n_groups in means and g is not None else "NULL"
        return select.format(centre=centre), select.format(centre=overall)

    def by_column_with(self, select: str, overall_select: str) -> pd.DataFrame:
        """As :meth:`by_column`, with the overall column's own aggregates (its centre
        differs from the groups'), when the table shows one."""
        g = self.group_column
        if g is None:
            return self.cohort.query(f"SELECT 0 AS col, {select} FROM {{cohort}}")
        filtered = f" WHERE {g} IS NOT NULL"
        parts = [f"SELECT CAST({g} AS INTEGER) AS col, {select} FROM {{cohort}}{filtered} "
                 f"GROUP BY {g}"]
        if len(self.column_levels) > len(self.groups.levels):
            parts.append(f"SELECT {len(self.groups.levels)} AS col, {overall_select} "
                         f"FROM {{cohort}}{filtered}")
        return self.cohort.query(" UNION ALL ".join(parts))

    def prints_whole(self, spec: RowSpec) -> bool:
        return prints_whole(self.cohort, spec, self.options)

    # the aggregates of the tests ---------------------------------------------------------

    def moments_of(self, samples) -> list[Moments]:
        return [self._moments.get((self._variable, s.column), Moments(0, float("nan"), 0.0))
                for s in samples]

    def rank_sums_of(self, samples) -> RankSums:
        """Rank sums of the groups of ``samples`` and the tie sum of their pooled values,
        from one row per distinct value (its count in each group; the values below it by
        a running sum), in whole numbers: twice each rank sum."""
        x, g = quoted(self._variable), self.group_column
        columns = [s.column for s in samples]
        if self.few_distinct(self._variable):
            return rank_sums_from_value_counts(self.value_counts(self._variable)[1][:, columns])
        per_group = ", ".join(f"sum(CASE WHEN {g} = {c} THEN 1 ELSE 0 END) AS c{k}"
                              for k, c in enumerate(columns))
        sums = ", ".join(f"sum(c{k}) AS n{k}, "
                         f"CAST(sum(c{k} * (2 * below + t + 1)) AS DOUBLE) AS twice{k}"
                         for k in range(len(columns)))
        found = self.cohort.query(
            f"WITH tied AS (SELECT {x} AS value, count(*) AS t, {per_group} FROM {{cohort}} "
            f"WHERE {x} IS NOT NULL AND {g} IN ({', '.join(str(c) for c in columns)}) "
            f"GROUP BY {x}), "
            f"ranked AS (SELECT t, {', '.join(f'c{k}' for k in range(len(columns)))}, "
            f"sum(t) OVER (ORDER BY value ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) "
            f"- t AS below FROM tied) "
            f"SELECT {sums}, sum(CAST(t AS DOUBLE) * t * t - t) AS tie_sum, "
            f"max(t) AS largest_tie FROM ranked").iloc[0]
        return RankSums(sums=np.array([float(found[f"twice{k}"]) / 2
                                       for k in range(len(columns))]),
                        sizes=np.array([int(found[f"n{k}"]) for k in range(len(columns))]),
                        tie_sum=float(found["tie_sum"]),
                        has_ties=int(found["largest_tie"]) > 1)

    def wilcoxon(self, x, y):
        ranks = self.rank_sums_of([x, y])
        n_x, n_y = (int(n) for n in ranks.sizes)
        return wilcoxon_from_statistic(ranks.sums[0] - n_x * (n_x + 1) / 2, n_x, n_y,
                                       ranks.tie_sum, ranks.has_ties)

    def add(self, spec: RowSpec) -> None:
        self._variable = spec.variable
        super().add(spec)

    # dates -----------------------------------------------------------------------------

    def add_dates(self, spec: RowSpec, info) -> None:
        found = self.first_pass(spec.variable).reset_index()
        for col, low, high in sorted(zip(found["col"], found["low"], found["high"]),
                                     key=lambda row: int(row[0])):
            if not pd.isna(low):
                self.record("continuous", spec.variable, None, int(col), "min",
                            f"{pd.Timestamp(low):%Y-%m-%d}")
                self.record("continuous", spec.variable, None, int(col), "max",
                            f"{pd.Timestamp(high):%Y-%m-%d}")

    # the difference column -------------------------------------------------------------

    def two_group_masks(self):
        return [None, None]

    def mean_difference(self, spec, masks):
        from cohortpress.stats.differences import mean_difference_from_moments

        moments = self.moments_of([EngineSample(0, 0), EngineSample(1, 0)])
        try:
            return mean_difference_from_moments(*moments)
        except StatisticsError:
            return None

    def proportion_difference(self, spec, info, masks):
        from cohortpress.stats.differences import proportion_difference

        counts, missing, totals = self.count_levels(spec, info)
        at = info.levels.index(info.positive) if info.positive in info.levels else None
        positive = [0 if at is None else int(counts[j][at]) for j in (0, 1)]
        try:
            return proportion_difference(positive[0], totals[0] - missing[0],
                                         positive[1], totals[1] - missing[1])
        except StatisticsError:
            return None

    def level_smd(self, spec, info, masks) -> float | None:
        from cohortpress.stats.comparisons import smd_categorical

        counts = self.count_levels(spec, info)[0][:2]
        if len(info.levels) < 2 or any(np.sum(c) <= 0 for c in counts):
            return None
        return smd_categorical(*counts)


@dataclass(frozen=True)
class EngineSample:
    """A group's known values of the variable being summarised, in the engine: the column
    index and how many (its length)."""

    column: int
    n: int

    def __len__(self) -> int:
        return self.n


def prints_whole(cohort, spec: RowSpec, options) -> bool:
    """:func:`~cohortpress.kit.table1_options.whole_numbers` of a row, on either path: the
    decimals asked for allow it and every value is whole (counted in the engine on an engine
    cohort)."""
    if not getattr(cohort, "engine", False):
        return whole_numbers(spec, cohort.values(spec.variable).to_numpy(dtype=float), options)
    number = field_digits(spec, options)[0]
    together = tuple(s.variable for s in row_specs(options)
                     if cohort.variable(s.variable).kind == "continuous")
    return not isinstance(number, int) and spec.significant is None and \
        engine_all_whole(cohort, spec.variable, together)
