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
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from cohortpress import hookimpl
from cohortpress.common.errors import DataError, StatisticsError
from cohortpress.common.formatting import fmt_n_percent, fmt_num, in_sentence
from cohortpress.data.grouping import Grouping, group_cohort
from cohortpress.api.options import Options, Variable
from cohortpress.api.blocks import Cell, Footnote, Row, Table
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext
from pydantic import Field

TestName = Literal["auto", "fisher", "chisq", "chisq_yates", "t_test", "welch", "wilcoxon",
                   "kruskal", "anova", "none"]
ContinuousStat = Literal["median_range", "median_iqr", "mean_sd"]

STAT_LABELS = {"median_range": "Median (range)", "median_iqr": "Median (IQR)",
               "mean_sd": "Mean (SD)"}
MARKS = "abcdefghij"


class RowSpec(Options):
    """One variable of the table; a bare string in ``variables`` takes every default."""

    variable: Variable
    label: str | None = None
    test: TestName = "auto"
    stat: ContinuousStat = "median_range"
    digits: int | None = Field(None, ge=0, le=6)
    significant: int | None = Field(None, ge=1, le=6)
    percent_digits: int | None = Field(None, ge=0, le=3)
    exclude_from_test: list[str] = []
    test_missing: bool = False
    applies_to: list[str] = []
    missing: Literal["ifany", "always", "no"] | None = None


class DemographicsOptions(Options):
    by: Variable | None = None
    variables: list[Variable | RowSpec] = Field(min_length=1)
    caption: str = "Patient characteristics."
    overall: bool = False
    p_value: bool = True
    smd: bool = False
    percent_of: Literal["non-missing", "all"] = "non-missing"
    percent_digits: int | None = Field(None, ge=0, le=3)
    missing: Literal["ifany", "always", "no"] = "ifany"
    monte_carlo_tables: int = Field(100_000, ge=1000)
    seed: int = 20240531
    header_label: str = "Characteristic"
    not_applicable: str = "n.a."


# --------------------------------------------------------------------------- the analysis


class _TableBuilder:
    """Accumulates rows, results, footnote marks and methods for one Table 1."""

    def __init__(self, cohort, options: DemographicsOptions, context: SectionContext,
                 groups: Grouping):
        self.cohort = cohort
        self.options = options
        self.context = context
        self.groups = groups
        self.rows: list[Row] = []
        self.results: list[Result] = []
        self.test_marks: dict[str, str] = {}
        self.test_notes: dict[str, set[str]] = {}
        self.tests_by_method: dict[str, list[str]] = {}
        self.applies_notes: list[str] = []

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

    def header(self) -> Row:
        cells = [Cell(self.options.header_label, align="left")]
        for level, size in zip(self.groups.levels, self.groups.sizes):
            cells.append(Cell(f"{level} (N = {size})"))
            self.results.append(Result("group", "N", size, variable=self.groups.variable,
                                       group=self.groups.variable, group_level=level,
                                       formatted=str(size)))
        if self.options.overall and self.groups.variable is not None:
            cells.append(Cell(f"Overall (N = {self.groups.n_grouped})"))
        if self.show_p:
            cells.append(Cell("p-value"))
        if self.show_smd:
            cells.append(Cell("SMD"))
        return Row(tuple(cells))

    @property
    def show_p(self) -> bool:
        return self.options.p_value and len(self.groups.levels) >= 2

    @property
    def show_smd(self) -> bool:
        return self.options.smd and len(self.groups.levels) == 2

    def extra_cells(self, p_cell: Cell | None = None, smd_text: str = "") -> list[Cell]:
        cells = []
        if self.show_p:
            cells.append(p_cell or Cell(""))
        if self.show_smd:
            cells.append(Cell(smd_text))
        return cells

    # rows ------------------------------------------------------------------------------

    def add(self, spec: RowSpec) -> None:
        info = self.cohort.variable(spec.variable)
        if info.kind in ("categorical", "binary"):
            if info.kind == "binary":
                self.add_binary(spec, info)
            else:
                self.add_categorical(spec, info)
        elif info.kind == "continuous":
            self.add_continuous(spec, info)
        elif info.kind == "date":
            self.add_dates(spec, info)
        else:
            raise DataError(f"variable '{spec.variable}' is {info.kind}; a Table 1 row needs "
                            f"a categorical, binary, continuous or date variable",
                            column=spec.variable)

    def applicable(self, spec: RowSpec) -> list[bool]:
        if not spec.applies_to:
            return [True] * len(self.column_levels)
        unknown = set(spec.applies_to) - set(self.groups.levels)
        if unknown:
            raise DataError(f"applies_to names groups {sorted(unknown)} that are not among "
                            f"{list(self.groups.levels)}", column=spec.variable)
        return [lv is None or lv in spec.applies_to for lv in self.column_levels]

    def percent_digits(self, spec: RowSpec) -> int:
        for value in (spec.percent_digits, self.options.percent_digits):
            if value is not None:
                return value
        return self.context.percent_digits

    def missing_mode(self, spec: RowSpec) -> str:
        return spec.missing or self.options.missing

    def add_categorical(self, spec: RowSpec, info) -> None:
        values = self.cohort.values(spec.variable)
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        n_levels = len(info.levels)
        applicable = self.applicable(spec)
        counts, missing, totals = [], [], []
        for mask in self.column_masks:
            c = codes[mask]
            counts.append(np.bincount(c[c >= 0], minlength=n_levels))
            missing.append(int((c < 0).sum()))
            totals.append(int(mask.sum()))
        label = spec.label or info.label_with_unit()
        p_cell, smd_text = self.categorical_test(spec, info, counts, missing, applicable)
        self.rows.append(Row((Cell(label, align="left"),
                              *[Cell("") for _ in self.column_masks],
                              *self.extra_cells(p_cell, smd_text)), role="group"))
        digits = self.percent_digits(spec)
        for k, level in enumerate(info.levels):
            cells = []
            for j, (count, miss, total) in enumerate(zip(counts, missing, totals)):
                if not applicable[j]:
                    cells.append(Cell(self.options.not_applicable))
                    continue
                denominator = total - miss if self.options.percent_of == "non-missing" else total
                n = int(count[k])
                cells.append(Cell(fmt_n_percent(n, denominator, digits)))
                self.record("categorical", spec.variable, level, j, "n", n,
                            fmt_n_percent(n, denominator, digits))
                self.record("categorical", spec.variable, level, j, "N", denominator)
                self.record("categorical", spec.variable, level, j, "p",
                            n / denominator if denominator else float("nan"))
            self.rows.append(Row((Cell(level, align="left"), *cells, *self.extra_cells()),
                                 indent=1))
        self.add_missing_row(spec, info, missing, totals, applicable, digits)

    def add_missing_row(self, spec, info, missing, totals, applicable, digits) -> None:
        for j, (miss, total) in enumerate(zip(missing, totals)):
            if applicable[j]:
                self.record("missing", spec.variable, None, j, "N_miss", miss)
                self.record("missing", spec.variable, None, j, "p",
                            miss / total if total else float("nan"))
        mode = self.missing_mode(spec)
        relevant = [m for m, ok in zip(missing, applicable) if ok]
        if mode == "no" or (mode == "ifany" and not any(relevant)):
            return
        cells = []
        for miss, total, ok in zip(missing, totals, applicable):
            if not ok:
                cells.append(Cell(self.options.not_applicable))
            elif self.options.percent_of == "all":
                cells.append(Cell(fmt_n_percent(miss, total, digits)))
            else:
                cells.append(Cell(str(miss)))
        self.rows.append(Row((Cell(info.missing_label, align="left"), *cells,
                              *self.extra_cells()), indent=1))

    def add_binary(self, spec: RowSpec, info) -> None:
        values = self.cohort.values(spec.variable)
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        positive = info.levels.index(info.positive) if info.positive in info.levels else \
            len(info.levels) - 1
        applicable = self.applicable(spec)
        digits = self.percent_digits(spec)
        counts, missing, totals, cells = [], [], [], []
        for j, mask in enumerate(self.column_masks):
            c = codes[mask]
            counts.append(np.bincount(c[c >= 0], minlength=len(info.levels)))
            miss = int((c < 0).sum())
            missing.append(miss)
            totals.append(int(mask.sum()))
            if not applicable[j]:
                cells.append(Cell(self.options.not_applicable))
                continue
            denominator = totals[-1] - miss if self.options.percent_of == "non-missing" \
                else totals[-1]
            n = int(counts[-1][positive])
            text = fmt_n_percent(n, denominator, digits)
            cells.append(Cell(text))
            self.record("categorical", spec.variable, info.positive, j, "n", n, text)
            self.record("categorical", spec.variable, info.positive, j, "N", denominator)
            self.record("categorical", spec.variable, info.positive, j, "p",
                        n / denominator if denominator else float("nan"))
        p_cell, smd_text = self.categorical_test(spec, info, counts, missing, applicable)
        label = spec.label or info.label
        self.rows.append(Row((Cell(label, align="left"), *cells,
                              *self.extra_cells(p_cell, smd_text))))
        self.add_missing_row(spec, info, missing, totals, applicable, digits)

    def add_continuous(self, spec: RowSpec, info) -> None:
        from cohortpress.stats.summaries import continuous_summary

        values = self.cohort.values(spec.variable).to_numpy(dtype=float)
        applicable = self.applicable(spec)
        digits = 1 if spec.digits is None else spec.digits
        cells, samples, missing, totals = [], [], [], []
        for j, mask in enumerate(self.column_masks):
            column = values[mask]
            present = column[~np.isnan(column)]
            missing.append(int(np.isnan(column).sum()))
            totals.append(int(mask.sum()))
            if not applicable[j]:
                cells.append(Cell(self.options.not_applicable))
                continue
            if j < len(self.groups.levels):
                samples.append(present)
            if len(present) == 0:
                cells.append(Cell("\u2013"))
                self.record("continuous", spec.variable, None, j, "N", 0)
                self.record("continuous", spec.variable, None, j, "N_miss", missing[-1])
                continue
            summary = continuous_summary(column)
            text = _format_continuous(summary, spec.stat, digits, spec.significant)
            cells.append(Cell(text))
            for stat_name in ("N", "N_miss", "mean", "sd", "median", "p25", "p75", "min", "max"):
                attr = {"N": "n", "N_miss": "n_miss"}.get(stat_name, stat_name)
                value = getattr(summary, attr)
                self.record("continuous", spec.variable, None, j, stat_name,
                            value, text if stat_name == "median" else None)
        label = spec.label or info.label_with_unit()
        p_cell, smd_text = self.continuous_test(spec, samples, applicable)
        self.rows.append(Row((Cell(label, align="left"), *[Cell("") for _ in cells],
                              *self.extra_cells(p_cell, smd_text)), role="group"))
        self.rows.append(Row((Cell(STAT_LABELS[spec.stat], align="left"), *cells,
                              *self.extra_cells()), indent=1))
        mode = self.missing_mode(spec)
        any_missing = any(m for m, ok in zip(missing, applicable) if ok)
        if mode == "always" or (mode == "ifany" and any_missing):
            self.rows.append(Row((Cell(info.missing_label, align="left"),
                                  *[Cell(str(m)) if ok else Cell(self.options.not_applicable)
                                    for m, ok in zip(missing, applicable)],
                                  *self.extra_cells()), indent=1))

    def add_dates(self, spec: RowSpec, info) -> None:
        values = self.cohort.values(spec.variable)
        cells = []
        for j, mask in enumerate(self.column_masks):
            present = values[mask].dropna()
            if present.empty:
                cells.append(Cell("\u2013"))
                continue
            low, high = present.min(), present.max()
            cells.append(Cell(f"{low:%Y-%m-%d} to {high:%Y-%m-%d}"))
            self.record("continuous", spec.variable, None, j, "min", f"{low:%Y-%m-%d}")
            self.record("continuous", spec.variable, None, j, "max", f"{high:%Y-%m-%d}")
        label = spec.label or info.label
        self.rows.append(Row((Cell(label, align="left"), *[Cell("") for _ in cells],
                              *self.extra_cells()), role="group"))
        self.rows.append(Row((Cell("Range", align="left"), *cells, *self.extra_cells()),
                             indent=1))

    # tests -----------------------------------------------------------------------------

    def categorical_test(self, spec, info, counts, missing, applicable):
        if not self.show_p and not self.show_smd:
            return None, ""
        n_groups = len(self.groups.levels)
        group_counts = [counts[j] for j in range(n_groups) if applicable[j]]
        group_missing = [missing[j] for j in range(n_groups) if applicable[j]]
        levels = list(info.levels)
        table = np.column_stack(group_counts) if group_counts else np.zeros((0, 0))
        keep = [k for k, lv in enumerate(levels) if lv not in spec.exclude_from_test]
        unknown = set(spec.exclude_from_test) - set(levels) - {info.missing_label}
        if unknown:
            raise DataError(f"exclude_from_test names levels {sorted(unknown)} that are not "
                            f"among {levels}", column=spec.variable)
        table = table[keep, :] if len(table) else table
        if spec.test_missing and info.missing_label not in spec.exclude_from_test:
            table = np.vstack([table, np.asarray(group_missing)[None, :]])
        smd_text = ""
        if self.show_smd and table.shape[1] == 2:
            from cohortpress.stats.comparisons import smd_categorical

            sums = table.sum(axis=0)
            if (sums > 0).all():
                smd = smd_categorical(table[:, 0] / sums[0], table[:, 1] / sums[1])
                smd_text = fmt_num(smd, 2)
                self.record("test", spec.variable, None, None, "smd", smd, smd_text)
        if not self.show_p:
            return None, smd_text
        test = spec.test if spec.test != "auto" else \
            ("none" if spec.applies_to and len(group_counts) < 2 else "fisher")
        if test == "none" or table.shape[1] < 2:
            return None, smd_text
        if test not in ("fisher", "chisq", "chisq_yates"):
            raise DataError(f"test '{test}' is for continuous variables; use fisher, chisq or "
                            f"chisq_yates for '{spec.variable}'", column=spec.variable)
        try:
            result = self.run_categorical_test(test, table)
        except StatisticsError as exc:
            return self.untestable(spec, str(exc)), smd_text
        return self.test_cell(spec, result), smd_text

    def run_categorical_test(self, test: str, table: np.ndarray):
        from cohortpress.stats import comparisons

        if test == "fisher":
            return comparisons.fisher_test(table, n_tables=self.options.monte_carlo_tables,
                                           seed=self.options.seed)
        return comparisons.chisq_test(table, correct=(test == "chisq_yates"))

    def continuous_test(self, spec, samples, applicable):
        from cohortpress.stats import comparisons

        smd_text = ""
        if self.show_smd and len(samples) == 2 and all(len(s) > 1 for s in samples):
            smd = comparisons.smd_continuous(samples[0], samples[1])
            smd_text = fmt_num(smd, 2)
            self.record("test", spec.variable, None, None, "smd", smd, smd_text)
        if not self.show_p or len(samples) < 2:
            return None, smd_text
        test = spec.test
        if test == "auto":
            test = "wilcoxon" if len(samples) == 2 else "kruskal"
        if test == "none":
            return None, smd_text
        empty = [lv for lv, s in zip(self.groups.levels, samples) if len(s) == 0]
        if empty:
            return self.untestable(spec, f"no values in group {', '.join(empty)}"), smd_text
        two_only = {"t_test": "t", "welch": "Welch t", "wilcoxon": "Wilcoxon rank-sum"}
        if test in two_only and len(samples) != 2:
            raise DataError(f"the {two_only[test]} test compares two groups, there are "
                            f"{len(samples)}; use kruskal or anova", column=spec.variable)
        runners = {
            "t_test": lambda: comparisons.t_test(samples[0], samples[1], equal_var=True),
            "welch": lambda: comparisons.t_test(samples[0], samples[1], equal_var=False),
            "wilcoxon": lambda: comparisons.wilcoxon_rank_sum(samples[0], samples[1]),
            "kruskal": lambda: comparisons.kruskal_test(samples),
            "anova": lambda: comparisons.anova_oneway(samples),
        }
        if test not in runners:
            raise DataError(f"test '{test}' is for categorical variables; use t_test, welch, "
                            f"wilcoxon, kruskal or anova for '{spec.variable}'",
                            column=spec.variable)
        try:
            result = runners[test]()
        except StatisticsError as exc:
            return self.untestable(spec, str(exc)), smd_text
        return self.test_cell(spec, result), smd_text

    def untestable(self, spec, reason: str) -> Cell:
        mark = self.mark_for("not tested")
        self.test_notes.setdefault("not tested", set()).add(f"{spec.variable}: {reason}")
        return Cell("\u2013", marks=(mark,))

    def test_cell(self, spec: RowSpec, result) -> Cell:
        method = result.method
        mark = self.mark_for(method)
        if result.note:
            self.test_notes.setdefault(method, set()).add(result.note)
        names = self.tests_by_method.setdefault(method, [])
        label = (spec.label or self.cohort.variable(spec.variable).label)
        if label not in names:
            names.append(label)
        formatted = self.context.format_p(result.p_value)
        variable = spec.variable
        self.results.append(Result("test", "p.value", result.p_value, variable=variable,
                                   group=self.groups.variable, formatted=formatted))
        self.results.append(Result("test", "method", method, variable=variable,
                                   group=self.groups.variable))
        if result.statistic is not None:
            self.results.append(Result("test", "statistic", result.statistic, variable=variable,
                                       group=self.groups.variable))
        if result.df is not None:
            self.results.append(Result("test", "df", result.df, variable=variable,
                                       group=self.groups.variable))
        return Cell(formatted, marks=(mark,))

    def mark_for(self, method: str) -> str:
        if method not in self.test_marks:
            self.test_marks[method] = MARKS[len(self.test_marks) % len(MARKS)]
        return self.test_marks[method]

    # records ---------------------------------------------------------------------------

    def record(self, context: str, variable: str, level, column: int | None, stat_name: str,
               stat, formatted: str | None = None) -> None:
        group_level = None if column is None else self.column_levels[column]
        group = self.groups.variable if group_level is not None else None
        self.results.append(Result(context, stat_name, stat, variable=variable,
                                   variable_level=level, group=group, group_level=group_level,
                                   formatted=formatted))

    # footnotes and methods -------------------------------------------------------------

    def footnotes(self) -> list[Footnote]:
        notes = []
        for method, mark in self.test_marks.items():
            if method == "not tested":
                reasons = "; ".join(sorted(self.test_notes.get(method, ())))
                notes.append(Footnote(f"Not tested ({reasons}).", mark))
                continue
            extra = "; ".join(sorted(self.test_notes.get(method, ())))
            notes.append(Footnote(f"{method}{f' ({extra})' if extra else ''}.", mark))
        of = "patients with known values" if self.options.percent_of == "non-missing" \
            else "all patients in the column (unknown values included)"
        notes.append(Footnote(f"Percentages are of {of}, rounded; they may not sum to 100."))
        if self.groups.n_missing:
            notes.append(Footnote(f"{self.groups.n_missing} patients with unknown "
                                  f"{self.groups.label.lower()} are not shown."))
        if any(self.options.not_applicable in c.text for r in self.rows for c in r.cells):
            notes.append(Footnote(f"{self.options.not_applicable}: not applicable."))
        return notes

    def methods(self) -> list[str]:
        if not self.tests_by_method:
            return []
        groups = " and ".join(self.groups.levels) if len(self.groups.levels) == 2 else \
            f"the {len(self.groups.levels)} {self.groups.label.lower()} groups"
        parts = []
        for method, names in self.tests_by_method.items():
            if method == "not tested":
                continue
            parts.append(f"{_method_in_sentence(method)} for "
                         f"{_join(in_sentence(n) for n in names)}")
        sentence = (f"Characteristics were compared between {groups} with "
                    f"{_join(parts, last='; and ', sep='; ')}.")
        notes = sorted({n for m, ns in self.test_notes.items() if m != "not tested" for n in ns})
        if notes:
            sentence += " " + " ".join(f"{n[0].upper()}{n[1:]}." for n in notes)
        return [sentence]


def _format_continuous(summary, stat: str, digits: int, significant: int | None = None) -> str:
    from cohortpress.common.formatting import fmt_significant

    if summary.n == 0:
        return "\u2013"

    def show(value):
        return fmt_significant(value, significant) if significant else fmt_num(value, digits)

    if stat == "median_range":
        return f"{show(summary.median)} ({show(summary.min)}\u2013{show(summary.max)})"
    if stat == "median_iqr":
        return f"{show(summary.median)} ({show(summary.p25)}\u2013{show(summary.p75)})"
    return f"{show(summary.mean)} ({show(summary.sd)})"


def _method_in_sentence(method: str) -> str:
    """ "Two-sample t-test" → "the two-sample t-test"; "Fisher's exact test" stays as it is."""
    if method.split()[0].endswith("'s"):
        return method
    return "the " + in_sentence(method)


def _join(items, last: str = " and ", sep: str = ", ") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return sep.join(items[:-1]) + last + items[-1]


def run(cohort, options: DemographicsOptions, context: SectionContext):
    by = options.by if options.by is not None else cohort.group
    groups = group_cohort(cohort, by)
    empty = groups.empty_groups()
    builder = _TableBuilder(cohort, options, context, groups)
    for item in options.variables:
        spec = RowSpec(variable=item) if isinstance(item, str) else item
        builder.add(spec)
    warnings = [f"Group '{g}' has no patients." for g in empty]
    table = Table(options.caption, (builder.header(),), tuple(builder.rows),
                  tuple(builder.footnotes()))
    return context.section(blocks=[table], results=builder.results, methods=builder.methods(),
                           warnings=tuple(warnings))


@hookimpl
def cohortpress_analyses():
    return [Analysis("demographics", run, DemographicsOptions,
                     "Table 1: characteristics by group, with tests named in footnotes")]
