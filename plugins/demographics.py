"""Built-in analysis ``demographics``: Table 1, characteristics by group with p-values.

One row block per variable, in the configured order:

- categorical: a heading row (with the p-value) and one indented row per level, ``n (%)``;
- binary: one row, ``n (%)`` of the positive level;
- continuous: a heading row and one statistic row: median (range), median (IQR) or mean (SD);
- date: the range of dates.

Missing values get their own row (labelled by the variable's ``missing_label``, "Unknown"
by default) and never enter a test unless ``test_missing = true``; a level can be kept in
the table and left out of the test with ``exclude_from_test``.

Default tests (each named in a footnote): categorical and binary variables, Fisher's exact
test (exact for r x c tables too, with a seeded Monte Carlo only when the exact enumeration
would be too costly); continuous variables, the Wilcoxon rank-sum test for two groups and
the Kruskal–Wallis test for more; dates, no test.

The analysis computes the results records first; the table is rendered from those records
alone (:func:`tables_from_records`, with :func:`cohortpress.kit.table1.table1_from_records`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from cohortpress import hookimpl
from cohortpress.common.errors import DataError, StatisticsError
from cohortpress.common.formatting import all_whole, fmt_n_percent, fmt_num
from cohortpress.common.suggest import did_you_mean
from cohortpress.data.grouping import Grouping, group_cohort
from cohortpress.api.blocks import Table
from cohortpress.api.options import Options, Variable
from cohortpress.api.results import Result
from cohortpress.kit.disclosure import release_records
from cohortpress.api.sections import Analysis, SectionContext
from cohortpress.kit.records import hypothesis_test_records
from cohortpress.kit.table1 import (Table1Layout, VariableLayout, applicable_columns,
                                    format_summary, table1_from_records, table1_methods,
                                    whole_row)
from pydantic import Field

TestName = Literal["auto", "fisher", "chisq", "chisq_yates", "t_test", "welch", "wilcoxon",
                   "kruskal", "anova", "none"]
ContinuousStat = Literal["median_range", "median_iqr", "mean_sd"]



class RowSpec(Options):
    """One variable of the table; a bare string in ``variables`` takes every default."""

    variable: Variable = Field(description="the variable of this row", examples=["wbc"])
    label: str | None = Field(None, description="the row label; default: the variable's",
                              examples=["White blood cells"])
    test: TestName = Field("auto", description="auto: Fisher for categorical and binary rows, "
                           "Wilcoxon (two groups) or Kruskal–Wallis (more) for continuous "
                           "ones, none for dates", examples=["chisq"])
    stat: ContinuousStat = Field("median_range", description="the summary of a continuous "
                                 "row: median (range), median (IQR) or mean (SD)",
                                 examples=["mean_sd"])
    digits: int | None = Field(None, ge=0, le=6, description="decimals of a continuous "
                               "row's numbers; default: 1", examples=[2])
    significant: int | None = Field(None, ge=1, le=6, description="significant digits "
                                    "instead of decimals", examples=[3])
    percent_digits: int | None = Field(None, ge=0, le=3, description="decimals of this "
                                       "row's percentages; default: the section's",
                                       examples=[1])
    exclude_from_test: list[str] = Field([], description="levels shown but left out of the "
                                         "test", examples=[["Other"]])
    test_missing: bool = Field(False, description="test the missing values as a level of "
                               "their own", examples=[True])
    applies_to: list[str] = Field([], description="the groups this row applies to; the "
                                  "others show not_applicable", examples=[["AML"]])
    missing: Literal["ifany", "always", "no"] | None = Field(
        None, description="this row's missing-value row; default: the section's",
        examples=["always"])


class DemographicsOptions(Options):
    by: Variable | None = Field(None, description="the grouping variable; default: "
                               "cohort.group", examples=["diagnosis"])
    variables: list[Variable | RowSpec] = Field(
        min_length=1, description="the rows: variable names, or tables of the keys below",
        examples=[["sex", {"variable": "wbc", "stat": "median_iqr"}]])
    caption: str = Field("Patient characteristics.", description="the table's caption",
                         examples=["Characteristics at diagnosis."])
    overall: bool = Field(False, description="an overall column before the groups",
                          examples=[True])
    p_value: bool = Field(True, description="a p-value column (with two or more groups)",
                          examples=[False])
    smd: bool = Field(False, description="a standardised mean difference column; with more "
                      "than two groups the largest pairwise one", examples=[True])
    percent_of: Literal["non-missing", "all"] = Field(
        "non-missing", description="the denominator of percentages", examples=["all"])
    percent_digits: int | None = Field(None, ge=0, le=3, description="decimals of "
                                       "percentages; default: report.percent_digits",
                                       examples=[1])
    missing: Literal["ifany", "always", "no"] = Field(
        "ifany", description="a row of missing values: when there are any, always, or never",
        examples=["always"])
    monte_carlo_tables: int = Field(100_000, ge=1000, description="tables simulated when "
                                    "Fisher's exact test is too costly to enumerate",
                                    examples=[1_000_000])
    seed: int = Field(20240531, description="the seed of that simulation (same seed, same p)",
                      examples=[1])
    header_label: str = Field("Characteristic", description="the header over the row "
                              "labels", examples=["Variable"])
    not_applicable: str = Field("n.a.", description="the cell of a group a row does not "
                                "apply to (applies_to)", examples=["–"])

    def check_data(self, cohort) -> list[str]:
        """What the run refuses, with the line it would give (the grouping's kind, each
        row's kind, test, ``applies_to`` groups and ``exclude_from_test`` levels, a
        two-group test of more groups); a group with no patients is a warning."""
        from cohortpress.data.grouping import empty_group_warnings

        groups = group_cohort(cohort, self.by if self.by is not None else cohort.group)
        tested = self.p_value and len(groups.levels) >= 2
        for spec in _row_specs(self):
            info = cohort.variable(spec.variable)
            check_row(spec, info, groups.levels, tested)
            if tested and spec.test in TWO_GROUP_TESTS and info.kind == "continuous":
                check_two_groups(spec, _groups_with_values(cohort, spec, groups))
        return empty_group_warnings(groups)


def _groups_with_values(cohort, spec, groups: Grouping) -> int:
    """How many of the groups a row applies to have a known value of its variable."""
    known = cohort.values(spec.variable).notna().to_numpy()
    return sum(1 for j, level in enumerate(groups.levels)
               if (not spec.applies_to or level in spec.applies_to)
               and (known & groups.mask(j)).any())


#: The tests of each kind of variable (dates are described, not tested).
TESTS_OF_KIND = {"categorical": ("fisher", "chisq", "chisq_yates"),
                 "binary": ("fisher", "chisq", "chisq_yates"),
                 "continuous": ("t_test", "welch", "wilcoxon", "kruskal", "anova"),
                 "date": ()}


def check_row(spec: RowSpec, info, groups: tuple[str, ...], tested: bool) -> None:
    """What a Table 1 row cannot be: the run and ``validate`` refuse it with this line.

    ``tested``: whether the section shows p-values (a test is then chosen per row).
    """
    if info.kind not in TESTS_OF_KIND:
        raise DataError(f"variable '{spec.variable}' is {info.kind}; a Table 1 row needs "
                        f"a categorical, binary, continuous or date variable",
                        column=spec.variable)
    unknown = set(spec.applies_to) - set(groups)
    if unknown:
        raise DataError(f"applies_to names groups {sorted(unknown)} that are not "
                        f"among {list(groups)}", column=spec.variable)
    if spec.exclude_from_test:
        # A level that is not there would leave the test as it is without a word: an error.
        allowed = list(info.levels) if info.kind in ("categorical", "binary") else []
        unknown = set(spec.exclude_from_test) - set(allowed) - {info.missing_label}
        if unknown and not allowed:
            raise DataError(f"exclude_from_test applies to categorical variables; "
                            f"'{spec.variable}' is {info.kind}", column=spec.variable)
        if unknown:
            hint = did_you_mean(sorted(unknown)[0], allowed)
            raise DataError(f"exclude_from_test names levels {sorted(unknown)} that are not "
                            f"among {allowed}{hint}", column=spec.variable)
    if tested and spec.test not in ("auto", "none") \
            and spec.test not in TESTS_OF_KIND[info.kind]:
        allowed = TESTS_OF_KIND[info.kind]
        what = (f"use {', '.join(allowed[:-1])} or {allowed[-1]}" if allowed
                else "dates are described, not tested; use none")
        raise DataError(f"test '{spec.test}' does not apply to the {info.kind} variable "
                        f"'{spec.variable}'; {what}", column=spec.variable)


def check_two_groups(spec: RowSpec, n_groups: int) -> None:
    """A two-group test of more than two groups with values."""
    if spec.test in TWO_GROUP_TESTS and n_groups > 2:
        raise DataError(f"the {TWO_GROUP_TESTS[spec.test]} test compares two groups, "
                        f"there are {n_groups}; use kruskal or anova", column=spec.variable)


#: The continuous tests of exactly two groups, by the name a sentence gives them.
TWO_GROUP_TESTS = {"t_test": "t", "welch": "Welch t", "wilcoxon": "Wilcoxon rank-sum"}


# --------------------------------------------------------------------------- the records


class _Summariser:
    """Computes one Table 1's results records (and what its methods sentence names).

    Records: ``group`` ``N`` per group, overall (``group`` null) and ``N_unknown``
    (patients with no group); per variable and column, ``categorical`` ``n``/``N``/``p``,
    ``missing`` ``N_miss``/``p``/``N`` (the column's patients), ``continuous``
    statistics; ``test`` ``p.value``, ``method``, ``statistic``, ``df``, ``note``,
    ``not.tested`` (the reason) and ``smd``. :func:`tables_from_records` reads nothing else.
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

    def group_levels(self, applicable) -> list[str]:
        """The groups (not the overall column) a variable applies to."""
        return [lv for j, lv in enumerate(self.groups.levels) if applicable[j]]

    def leave_out(self, spec, level: str, reason: str) -> None:
        """Record that a test leaves out a group the header shows, and why."""
        self.results.append(Result("test", "not.tested.group", reason, variable=spec.variable,
                                   group=self.groups.variable, group_level=level))

    def empty_reason(self, level: str, what: str) -> str:
        size = self.groups.sizes[list(self.groups.levels).index(level)]
        return "no patients in this subset" if size == 0 else what

    def record_smd(self, spec, pairs) -> None:
        """The SMD of two groups, or with three or more the largest pairwise SMD (a
        ``smd.method`` record says so)."""
        values = [v for v in pairs if np.isfinite(v)]
        if not values:
            return
        smd = max(values)
        self.record("test", spec.variable, None, None, "smd", smd, fmt_num(smd, 2))
        if len(self.groups.levels) > 2:
            self.record("test", spec.variable, None, None, "smd.method",
                        "maximum pairwise")

    # variables -------------------------------------------------------------------------

    def add(self, spec: RowSpec) -> None:
        info = self.cohort.variable(spec.variable)
        adders = {"categorical": self.add_categorical, "binary": self.add_binary,
                  "continuous": self.add_continuous, "date": self.add_dates}
        check_row(spec, info, self.groups.levels, self.show_p)
        adders[info.kind](spec, info)

    def applicable(self, spec: RowSpec) -> list[bool]:
        return applicable_columns(spec.applies_to, self.column_levels)

    def percent_digits(self, spec: RowSpec) -> int:
        return _percent_digits(spec, self.options, self.context.percent_digits)

    def count_levels(self, spec: RowSpec, info):
        """Per column: the count of each level, the missing values, the patients."""
        codes = np.asarray(self.cohort.values(spec.variable).cat.codes, dtype=np.int64)
        counts, missing, totals = [], [], []
        for mask in self.column_masks:
            tally = _count_codes(codes[mask], len(info.levels))
            counts.append(tally[0])
            missing.append(tally[1])
            totals.append(int(mask.sum()))
        return counts, missing, totals

    def add_levels(self, spec: RowSpec, levels, counts, missing, totals, applicable) -> None:
        digits = self.percent_digits(spec)
        for k, level in levels:
            for j, (count, miss, total) in enumerate(zip(counts, missing, totals)):
                if not applicable[j]:
                    continue
                denominator = total - miss if self.options.percent_of == "non-missing" else total
                n = int(count[k])
                self.record("categorical", spec.variable, level, j, "n", n,
                            fmt_n_percent(n, denominator, digits))
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
        from cohortpress.stats.summaries import continuous_summary

        values = self.cohort.values(spec.variable).to_numpy(dtype=float)
        applicable = self.applicable(spec)
        digits = 1 if spec.digits is None else spec.digits
        samples, summaries = [], {}
        for j, mask in enumerate(self.column_masks):
            column = values[mask]
            present = column[~np.isnan(column)]
            if not applicable[j]:
                continue
            if j < len(self.groups.levels):
                samples.append((self.groups.levels[j], present))
            summaries[j] = (continuous_summary(column) if len(present) else None,
                            int(np.isnan(column).sum()))
        whole = _whole_numbers(spec, values) and whole_row(
            [summary for summary, _ in summaries.values() if summary is not None], spec.stat)
        for j, (summary, n_missing) in summaries.items():
            if summary is None:
                self.record("continuous", spec.variable, None, j, "N", 0)
                self.record("continuous", spec.variable, None, j, "N_miss", n_missing)
                continue
            text = format_summary(summary, spec.stat, digits, spec.significant,
                                  whole_numbers=whole)
            for stat_name in ("N", "N_miss", "mean", "sd", "median", "p25", "p75", "min", "max"):
                value = getattr(summary, {"N": "n", "N_miss": "n_miss"}.get(stat_name, stat_name))
                self.record("continuous", spec.variable, None, j, stat_name,
                            value, text if stat_name == "median" else None)
        self.continuous_test(spec, samples)

    def add_dates(self, spec: RowSpec, info) -> None:
        values = self.cohort.values(spec.variable)
        for j, mask in enumerate(self.column_masks):
            present = values[mask].dropna()
            if not present.empty:
                self.record("continuous", spec.variable, None, j, "min",
                            f"{present.min():%Y-%m-%d}")
                self.record("continuous", spec.variable, None, j, "max",
                            f"{present.max():%Y-%m-%d}")

    # tests -----------------------------------------------------------------------------

    def categorical_test(self, spec, info, counts, missing, applicable) -> None:
        if not self.show_p and not self.show_smd:
            return
        n_groups = len(self.groups.levels)
        group_counts = [counts[j] for j in range(n_groups) if applicable[j]]
        group_missing = [missing[j] for j in range(n_groups) if applicable[j]]
        levels = list(info.levels)
        table = np.column_stack(group_counts) if group_counts else np.zeros((0, 0))
        keep = [k for k, lv in enumerate(levels) if lv not in spec.exclude_from_test]
        table = table[keep, :] if len(table) else table
        tests_missing = spec.test_missing and info.missing_label not in spec.exclude_from_test
        if tests_missing:
            table = np.vstack([table, np.asarray(group_missing)[None, :]])
        tested_levels = self.group_levels(applicable)
        with_data = table.sum(axis=0) > 0 if table.size else np.zeros(0, dtype=bool)
        if self.show_smd:
            self.categorical_smd(spec, table[:, with_data] if table.size else table)
        if not self.show_p:
            return
        test = spec.test if spec.test != "auto" else \
            ("none" if spec.applies_to and len(group_counts) < 2 else "fisher")
        if test == "none" or table.shape[1] < 2:
            return
        self.record_test_choices(spec, info, tests_missing)
        if table.size and not with_data.all() and with_data.sum() >= 2:
            for level, has_data in zip(tested_levels, with_data):
                if not has_data:
                    self.leave_out(spec, level, self.empty_reason(level, "no values tested"))
            table = table[:, with_data]
        try:
            result = self.run_categorical_test(test, table)
        except StatisticsError as exc:
            self.untestable(spec, str(exc))
            return
        self.add_test(spec, result)

    def categorical_smd(self, spec, table: np.ndarray) -> None:
        from itertools import combinations

        from cohortpress.stats.comparisons import smd_categorical

        if table.ndim != 2 or table.shape[1] < 2:
            return
        shares = table / table.sum(axis=0)
        self.record_smd(spec, [smd_categorical(shares[:, a], shares[:, b])
                               for a, b in combinations(range(table.shape[1]), 2)])

    def record_test_choices(self, spec, info, tests_missing: bool) -> None:
        """Records of the choices that change a categorical test's p-value: the levels
        left out of it and whether unknown values were tested as a category."""
        where = dict(variable=spec.variable, group=self.groups.variable)
        for level in spec.exclude_from_test:
            self.results.append(Result("test", "excluded.level", level, **where))
        if tests_missing:
            self.results.append(Result("test", "test.missing", True, **where))

    def run_categorical_test(self, test: str, table: np.ndarray):
        from cohortpress.stats import comparisons

        if test == "fisher":
            return comparisons.fisher_test(table, n_tables=self.options.monte_carlo_tables,
                                           seed=self.options.seed)
        return comparisons.chisq_test(table, correct=(test == "chisq_yates"))

    def continuous_test(self, spec, samples) -> None:
        from itertools import combinations

        from cohortpress.stats import comparisons

        levels, samples = zip(*samples) if samples else ((), ())
        if self.show_smd:
            usable = [s for s in samples if len(s) > 1]
            self.record_smd(spec, [comparisons.smd_continuous(a, b)
                                   for a, b in combinations(usable, 2)])
        if not self.show_p or len(samples) < 2:
            return
        test = spec.test
        if test == "auto":
            test = "wilcoxon" if len(samples) == 2 else "kruskal"
        if test == "none":
            return
        empty = [lv for lv, s in zip(levels, samples) if len(s) == 0]
        if len(samples) - len(empty) < 2:
            self.untestable(spec, f"no values in group {', '.join(empty)}")
            return
        for level in empty:
            self.leave_out(spec, level, self.empty_reason(level, "no known values"))
        samples = [s for s in samples if len(s)]
        check_two_groups(spec, len(samples))
        runners = {
            "t_test": lambda: comparisons.t_test(samples[0], samples[1], equal_var=True),
            "welch": lambda: comparisons.t_test(samples[0], samples[1], equal_var=False),
            "wilcoxon": lambda: comparisons.wilcoxon_rank_sum(samples[0], samples[1]),
            "kruskal": lambda: comparisons.kruskal_test(samples),
            "anova": lambda: comparisons.anova_oneway(samples),
        }
        try:
            result = runners[test]()
        except StatisticsError as exc:
            self.untestable(spec, str(exc))
            return
        self.add_test(spec, result)

    def untestable(self, spec, reason: str) -> None:
        self.results.append(Result("test", "not.tested", reason, variable=spec.variable,
                                   group=self.groups.variable))

    def add_test(self, spec: RowSpec, result) -> None:
        self.test_labels[spec.variable] = spec.label or self.cohort.variable(spec.variable).label
        where = dict(variable=spec.variable, group=self.groups.variable)
        formatted = self.context.format_p(result.p_value)
        self.results.extend(hypothesis_test_records(result, formatted, **where))

    # records ---------------------------------------------------------------------------

    def record(self, context: str, variable: str, level, column: int | None, stat_name: str,
               stat, formatted: str | None = None) -> None:
        group_level = None if column is None else self.column_levels[column]
        group = self.groups.variable if group_level is not None else None
        self.results.append(Result(context, stat_name, stat, variable=variable,
                                   variable_level=level, group=group, group_level=group_level,
                                   formatted=formatted))


def _count_codes(codes: np.ndarray, n_levels: int) -> tuple[np.ndarray, int]:
    """The count of each level and the number of missing codes (-1)."""
    from cohortpress.stats.summaries import categorical_counts

    if n_levels == 0:  # a variable with no level at all: nothing to count but the missing
        return np.zeros(0, dtype=np.int64), int((codes < 0).sum())
    tally = categorical_counts(codes, n_levels)
    return np.asarray(tally.counts, dtype=np.int64), tally.n_miss


def _percent_digits(spec, options, default: int) -> int:
    for value in (spec.percent_digits, options.percent_digits):
        if value is not None:
            return value
    return default


# --------------------------------------------------------------------------- the table


def _whole_numbers(spec: RowSpec, values) -> bool:
    """Whether a continuous variable prints its order statistics by the whole-number rule:
    every value whole and no ``digits`` or ``significant`` asked for."""
    return spec.digits is None and spec.significant is None and all_whole(values)


def _row_specs(options: DemographicsOptions) -> list[RowSpec]:
    return [RowSpec(variable=item) if isinstance(item, str) else item
            for item in options.variables]


def layout(cohort, options: DemographicsOptions, context: SectionContext) -> Table1Layout:
    """Labels and choices from the config: each variable's kind, label and missing label."""
    by = options.by if options.by is not None else cohort.group
    variables = []
    for spec in _row_specs(options):
        info = cohort.variable(spec.variable)
        default = info.label if info.kind in ("binary", "date") else info.label_with_unit()
        variables.append(VariableLayout(
            variable=spec.variable, kind=info.kind, label=spec.label or default,
            missing_label=info.missing_label,
            percent_digits=_percent_digits(spec, options, context.percent_digits),
            stat=spec.stat, digits=1 if spec.digits is None else spec.digits,
            significant=spec.significant, applies_to=tuple(spec.applies_to),
            missing=spec.missing,
            whole_numbers=info.kind == "continuous" and _whole_numbers(
                spec, cohort.values(spec.variable).to_numpy(dtype=float))))
    return Table1Layout(
        by=by, group_label=cohort.variable(by).label if by is not None else "",
        variables=tuple(variables), caption=options.caption,
        header_label=options.header_label, overall=options.overall, p_value=options.p_value,
        smd=options.smd, percent_of=options.percent_of, missing=options.missing,
        not_applicable=options.not_applicable, p_digits=context.p_digits)


def tables_from_records(results, table_layout: Table1Layout) -> list[Table]:
    """Table 1, from the section's results records alone."""
    return [table1_from_records(results, table_layout)]


# --------------------------------------------------------------------------- the analysis


def run(cohort, options: DemographicsOptions, context: SectionContext):
    by = options.by if options.by is not None else cohort.group
    groups = group_cohort(cohort, by)
    summariser = _Summariser(cohort, options, context, groups)
    _refuse_repeats(_row_specs(options), context)
    for spec in _row_specs(options):
        summariser.add(spec)
    summariser.add_groups()
    results = release_records(summariser.results, context.disclosure)
    tables = tables_from_records(results, layout(cohort, options, context))
    warnings = [f"Group '{g}' has no patients." for g in groups.empty_groups()]
    return context.section(blocks=tables, results=results,
                           methods=table1_methods(results, summariser.test_labels,
                                                  summariser.groups), warnings=tuple(warnings),
                           abbreviations=(("SMD", "standardised mean difference"),))


def _refuse_repeats(specs: list[RowSpec], context: SectionContext) -> None:
    """A variable listed twice would give two rows whose records cannot be told apart."""
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        if spec.variable in seen:
            raise DataError(f"'{spec.variable}' is listed twice; list each variable once "
                            f"(a second row of the same variable would have records that "
                            f"cannot be told apart)",
                            key=f"variables[{i}]")
        seen.add(spec.variable)


@hookimpl
def cohortpress_analyses():
    return [Analysis("demographics", run, DemographicsOptions,
                     "Table 1: characteristics by group, with tests named in footnotes")]
