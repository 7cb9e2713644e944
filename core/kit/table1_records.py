"""The results records of a Table 1: counts, summaries and tests per variable and column.

:class:`Table1Summariser` walks the rows of a :class:`~cohortpress.kit.table1_options.
DemographicsOptions` and writes cards-style records; the table is rendered from them alone
(:mod:`cohortpress.kit.table1`). The tests and SMDs are in :mod:`cohortpress.kit.table1_tests`.
"""

from __future__ import annotations

import numpy as np

from cohortpress.api.results import Result
from cohortpress.api.sections import SectionContext
from cohortpress.data.grouping import Grouping
from cohortpress.kit.table1 import applicable_columns, format_summary, whole_row
from cohortpress.kit.table1_options import (DemographicsOptions, RowSpec, check_row,
                                            field_digits, percent_digits_of, whole_numbers)
from cohortpress.kit.table1_extras import Table1Extras
from cohortpress.kit.table1_weighted import n_percent_text
from cohortpress.kit.table1_tests import Table1Tests

class Table1Summariser(Table1Tests, Table1Extras):
    """Computes one Table 1's results records (and what its methods sentence names).

    Records: ``group`` ``N`` per group, overall (``group`` null) and ``N_unknown``
    (patients with no group); per variable and column, ``categorical`` ``n``/``N``/``p``,
    ``missing`` ``N_miss``/``p``/``N`` (the column's patients), ``continuous``
    statistics; ``test`` ``p.value``, ``method``, ``statistic``, ``df``, ``note``,
    ``not.tested`` (the reason) and ``smd``. The table reads nothing else.
    Cell text is the table's business; the records keep the ``formatted`` text they always
    had.
    """

    def __init__(self, cohort, options: DemographicsOptions, context: SectionContext,
                 groups: Grouping):
        self.cohort = cohort
        self.options = options
        self.context = context
        self.groups = groups
        self.results: list[Result] = []
        self.test_labels: dict[str, str] = {}  # variable -> its label, for the methods

    # columns ---------------------------------------------------------------------------

    @property
    def column_masks(self) -> list[np.ndarray]:
        masks = [self.groups.mask(i) for i in range(len(self.groups.levels))]
        if self.options.overall and self.groups.variable is not None:
            masks.append(self.groups.codes >= 0)
        return masks

    @property
    def column_levels(self) -> list[str | None]:
        levels: list[str | None] = list(self.groups.levels)
        if self.options.overall and self.groups.variable is not None:
            levels.append(None)
        return levels

    def add_groups(self) -> None:
        by = self.groups.variable
        for level, size in zip(self.groups.levels, self.groups.sizes):
            self.results.append(Result("group", "N", size, variable=by, group=by,
                                       group_level=level, formatted=str(size)))
        if by is not None:
            self.results.append(Result("group", "N", self.groups.n_grouped, variable=by))
            self.results.append(Result("group", "N_unknown", self.groups.n_missing,
                                       variable=by))

    @property
    def show_p(self) -> bool:
        return self.options.p_value and len(self.groups.levels) >= 2

    @property
    def show_smd(self) -> bool:
        return self.options.smd and len(self.groups.levels) >= 2

    # variables -------------------------------------------------------------------------

    def add(self, spec: RowSpec) -> None:
        info = self.cohort.variable(spec.variable)
        adders = {"categorical": self.add_categorical, "binary": self.add_binary,
                  "continuous": self.add_continuous, "date": self.add_dates}
        check_row(spec, info, self.groups.levels, self.show_p)
        adders[info.kind](spec, info)
        self.add_difference(spec, info)

    def applicable(self, spec: RowSpec) -> list[bool]:
        return applicable_columns(spec.applies_to, self.column_levels)

    def percent_digits(self, spec: RowSpec) -> int:
        return percent_digits_of(spec, self.options, self.context.percent_digits)

    def count_levels(self, spec: RowSpec, info):
        """Per column: the count of each level, the missing values, the patients."""
        codes = np.asarray(self.cohort.values(spec.variable).cat.codes, dtype=np.int64)
        counts, missing, totals = [], [], []
        for mask in self.column_masks:
            count, miss, total = self.tally(codes, mask, len(info.levels), count_codes)
            counts.append(count)
            missing.append(miss)
            totals.append(total)
        return counts, missing, totals

    def add_levels(self, spec: RowSpec, levels, counts, missing, totals, applicable) -> None:
        digits = self.percent_digits(spec)
        for k, level in levels:
            for j, (count, miss, total) in enumerate(zip(counts, missing, totals)):
                if not applicable[j]:
                    continue
                denominator = total - miss if self.options.percent_of == "non-missing" else total
                n = int(count[k]) if self.weights is None else float(count[k])
                self.record("categorical", spec.variable, level, j, "n", n,
                            n_percent_text(n, denominator, digits))
                self.record("categorical", spec.variable, level, j, "N", denominator)
                self.record("categorical", spec.variable, level, j, "p",
                            n / denominator if denominator else float("nan"))

    def add_categorical(self, spec: RowSpec, info) -> None:
        counts, missing, totals = self.count_levels(spec, info)
        applicable = self.applicable(spec)
        self.categorical_test(spec, info, counts, missing, applicable)
        self.add_levels(spec, enumerate(info.levels), counts, missing, totals, applicable)
        self.add_missing(spec, missing, totals, applicable)

    def add_binary(self, spec: RowSpec, info) -> None:
        positive = info.levels.index(info.positive) if info.positive in info.levels else \
            len(info.levels) - 1
        counts, missing, totals = self.count_levels(spec, info)
        applicable = self.applicable(spec)
        self.add_levels(spec, [(positive, info.positive)], counts, missing, totals, applicable)
        self.categorical_test(spec, info, counts, missing, applicable)
        self.add_missing(spec, missing, totals, applicable)

    def add_missing(self, spec: RowSpec, missing, totals, applicable) -> None:
        for j, (miss, total) in enumerate(zip(missing, totals)):
            if applicable[j]:
                self.record("missing", spec.variable, None, j, "N_miss", miss)
                self.record("missing", spec.variable, None, j, "p",
                            miss / total if total else float("nan"))
                self.record("missing", spec.variable, None, j, "N", total)

    def add_continuous(self, spec: RowSpec, info) -> None:
        applicable = self.applicable(spec)
        number, _ = field_digits(spec, self.options)
        digits = 1 if number is None else number
        quantile_type = self.options.quantile_type
        samples, summaries = self.continuous_columns(spec, applicable, quantile_type)
        # the first statistic row's text, as the records have always kept it
        stat = next((name for name in self._named_stats(spec)), "median_range")
        whole = self.prints_whole(spec) and whole_row(
            [summary for summary, _ in summaries.values() if summary is not None], stat)
        for j, (summary, n_missing) in summaries.items():
            if summary is None:
                self.record("continuous", spec.variable, None, j, "N", 0)
                self.record("continuous", spec.variable, None, j, "N_miss", n_missing)
                continue
            text = format_summary(summary, stat, digits, spec.significant,
                                  whole_numbers=whole)
            for stat_name in ("N", "N_miss", "mean", "sd", "median", "p25", "p75", "min", "max"):
                value = getattr(summary, {"N": "n", "N_miss": "n_miss"}.get(stat_name, stat_name))
                self.record("continuous", spec.variable, None, j, stat_name,
                            value, text if stat_name == "median" else None)
        if quantile_type != 7:
            self.record("continuous", spec.variable, None, None, "quantile.type", quantile_type)
        self.continuous_test(spec, samples)

    def continuous_columns(self, spec: RowSpec, applicable, quantile_type: int):
        """Per applicable column ``j``: ``summaries[j] = (summary or None, n_missing)``; and
        ``samples``, ``(group level, known values)`` of each applicable group, for the tests."""
        values = self.cohort.values(spec.variable).to_numpy(dtype=float)
        samples, summaries = [], {}
        for j, mask in enumerate(self.column_masks):
            column = values[mask]
            present = column[~np.isnan(column)]
            if not applicable[j]:
                continue
            if j < len(self.groups.levels):
                samples.append((self.groups.levels[j], present))
            summaries[j] = (self.summarise(column, mask, quantile_type) if len(present)
                            else None,
                            int(np.isnan(column).sum()))
        return samples, summaries

    def prints_whole(self, spec: RowSpec) -> bool:
        """Whether the variable's order statistics may print without decimals
        (:func:`~cohortpress.kit.table1_options.whole_numbers`)."""
        values = self.cohort.values(spec.variable).to_numpy(dtype=float)
        return whole_numbers(spec, values, self.options)

    def _named_stats(self, spec: RowSpec) -> list[str]:
        """The row's (else the section's) named statistics of the three with a text of
        their own (median (range), median (IQR), mean (SD))."""
        for names in (spec.stat, self.options.continuous_stat):
            if names is not None:
                names = [names] if isinstance(names, str) else names
                return [n for n in names if n in ("median_range", "median_iqr", "mean_sd")]
        return []

    def add_dates(self, spec: RowSpec, info) -> None:
        values = self.cohort.values(spec.variable)
        for j, mask in enumerate(self.column_masks):
            present = values[mask].dropna()
            if not present.empty:
                self.record("continuous", spec.variable, None, j, "min",
                            f"{present.min():%Y-%m-%d}")
                self.record("continuous", spec.variable, None, j, "max",
                            f"{present.max():%Y-%m-%d}")

    # records ---------------------------------------------------------------------------

    def record(self, context: str, variable: str, level, column: int | None, stat_name: str,
               stat, formatted: str | None = None) -> None:
        group_level = None if column is None else self.column_levels[column]
        group = self.groups.variable if group_level is not None else None
        self.results.append(Result(context, stat_name, stat, variable=variable,
                                   variable_level=level, group=group, group_level=group_level,
                                   formatted=formatted))


def count_codes(codes: np.ndarray, n_levels: int) -> tuple[np.ndarray, int]:
    """The count of each level and the number of missing codes (-1)."""
    from cohortpress.stats.summaries import categorical_counts

    if n_levels == 0:  # a variable with no level at all: nothing to count but the missing
        return np.zeros(0, dtype=np.int64), int((codes < 0).sum())
    tally = categorical_counts(codes, n_levels)
    return np.asarray(tally.counts, dtype=np.int64), tally.n_miss

