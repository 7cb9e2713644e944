"""Built-in analysis ``distribution``: how a variable is distributed in each group, drawn.

``plot = "bars"``: the percentage of each group in each category of a categorical variable
(for a continuous variable, declare a ``cut`` in ``[derived]``), with counts on the bars
and, optionally, a test of association annotated. ``plot = "dots"``: every patient's value
as a dot per group, the medians as bars, an optional log scale and reference lines (such as
a clinical cut-off), with the Wilcoxon rank-sum or Kruskal–Wallis test annotated.

The bar chart is drawn from the section's results records alone (:func:`figures_from_records`);
the dot plot needs every patient's value, so only its test annotation comes from the records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from cohortpress import hookimpl
from cohortpress.common.errors import DataError
from cohortpress.api.blocks import Figure
from cohortpress.api.options import Options, Variable
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext
from cohortpress.common.formatting import format_p, in_sentence
from cohortpress.data.grouping import empty_group_warnings, group_cohort
from cohortpress.kit.prose import between_groups, parenthetical, test_phrase
from cohortpress.kit.records import Records


class DistributionOptions(Options):
    variable: Variable = Field(description="the variable drawn: categorical for bars, "
                               "continuous for dots", examples=["wbc"])
    by: Variable | None = Field(None, description="the grouping variable; default: "
                               "cohort.group", examples=["diagnosis"])
    plot: Literal["bars", "dots"] = Field("bars", description="bars: percentage of each group "
                                          "per category; dots: every patient's value, "
                                          "medians as bars", examples=["dots"])
    test: Literal["auto", "fisher", "chisq", "wilcoxon", "kruskal", "none"] = Field(
        "auto", description="the test annotated; auto: Fisher for bars, Wilcoxon (two groups) "
        "or Kruskal–Wallis (more) for dots", examples=["none"])
    log_scale: bool = Field(False, description="a logarithmic value axis (dots; values must "
                            "be positive)", examples=[True])
    reference_lines: list[float] = Field([], description="horizontal lines at these values "
                                         "(dots), such as a clinical cut-off",
                                         examples=[[50]])
    caption: str | None = Field(None, description="the figure's caption; default: names the "
                                "variable and the grouping", examples=["Leukocytes at "
                                                                        "diagnosis."])
    ylabel: str | None = Field(None, description="the value axis label; default: Patients (%) "
                               "for bars, the variable's label and unit for dots",
                               examples=["WBC (×10⁹/L)"])
    width_mm: float = Field(85.0, ge=40, le=180, description="the figure's width in "
                            "millimetres", examples=[120])

    def inapplicable_keys(self, config) -> list[tuple[str, str]]:
        """Tests and axes of the other plot: a bar chart of categories has no log scale and
        no reference line, and is tested with fisher or chisq; a dot plot of values with
        wilcoxon or kruskal."""
        found = []
        if self.test not in PLOT_TESTS[self.plot] + ("auto", "none"):
            found.append(("test", f"'{self.test}' does not apply to plot = \"{self.plot}\"; "
                                  f"use {', '.join(PLOT_TESTS[self.plot])}, auto or none"))
        if self.plot == "bars":
            found += [(key, "applies to plot = \"dots\" (a bar chart has no value axis)")
                      for key in ("log_scale", "reference_lines") if key in self.model_fields_set]
        return found

    def check_data(self, cohort) -> list[str]:
        """What the run refuses (the kind of variable each plot takes, a log scale of values
        not all positive, the Wilcoxon test of more than two groups), with the same line; a
        group with no patients is a warning."""
        info = cohort.variable(self.variable)
        groups = group_cohort(cohort, self.by if self.by is not None else cohort.group)
        _check_kind(self, info)
        if self.plot == "dots":
            samples = _samples(cohort, self, groups)
            _check_samples(self, samples)
        return empty_group_warnings(groups)


#: The tests each plot can annotate.
PLOT_TESTS = {"bars": ("fisher", "chisq"), "dots": ("wilcoxon", "kruskal")}


def _check_kind(options: DistributionOptions, info) -> None:
    """Bars count categories; dots draw values."""
    if options.plot == "bars" and info.kind not in ("categorical", "binary"):
        raise DataError(f"plot = \"bars\" needs a categorical variable; '{options.variable}'"
                        f" is {info.kind} (declare a cut in [derived], or use plot = "
                        f"\"dots\")", column=options.variable)
    if options.plot == "dots" and info.kind != "continuous":
        raise DataError(f"plot = \"dots\" needs a continuous variable; '{options.variable}'"
                        f" is {info.kind}", column=options.variable)


def _samples(cohort, options: DistributionOptions, groups) -> list[np.ndarray]:
    """Each group's known values."""
    values = cohort.values(options.variable).to_numpy(dtype=float)
    return [values[(groups.codes == j) & ~np.isnan(values)] for j in range(len(groups.levels))]


def _check_samples(options: DistributionOptions, samples: list[np.ndarray]) -> None:
    """A log scale needs positive values; the Wilcoxon rank-sum test two groups with values."""
    if options.log_scale and any((s <= 0).any() for s in samples):
        raise DataError(f"a log scale needs positive values of '{options.variable}'",
                        column=options.variable)
    present = sum(1 for s in samples if len(s))
    if options.test == "wilcoxon" and present > 2:
        raise DataError(f"the Wilcoxon rank-sum test compares two groups, there are "
                        f"{present} with values; use kruskal", column=options.variable)


def _p_text(p, p_digits: int) -> str:
    text = format_p(p, digits=p_digits)
    return f"p {text}" if text[0] in "<>" else f"p = {text}"


def _test_records(result, variable: str, group: str, context) -> list[Result]:
    from cohortpress.kit.records import hypothesis_test_records

    records = hypothesis_test_records(result, context.format_p(result.p_value),
                                      variable=variable, group=group)
    # the figure shows the p-value only: its statistic and df are not part of the section
    return [r for r in records if r.stat_name not in ("statistic", "df")]


def _left_out(groups, with_data, variable: str) -> list[Result]:
    """``not.tested.group`` for each group the test could not use, with the reason."""
    return [Result("test", "not.tested.group",
                   "no patients in this subset" if size == 0 else "no known values",
                   variable=variable, group=groups.variable, group_level=level)
            for level, size, used in zip(groups.levels, groups.sizes, with_data) if not used]


def _left_out_text(records: Records, figure_layout: "DistributionLayout") -> str:
    """The caption's sentence on each group the test left out, from the records."""
    texts = []
    for r in records.select(context="test", stat_name="not.tested.group",
                            variable=figure_layout.variable, group=figure_layout.group):
        texts.append(f"{r.group_level}: no patients in this subset; not tested."
                     if r.stat == "no patients in this subset"
                     else f"The test leaves out {r.group_level} ({r.stat}).")
    return " ".join(texts)


def _test_sentence(info, groups, result) -> str:
    """"The distribution of age was compared between the A and B groups with the ..."."""
    between = between_groups(groups.levels, groups.label)
    note = f" ({parenthetical(result.note)})" if getattr(result, "note", None) \
        and not result.note.startswith("not computable") else ""
    return (f"The distribution of {in_sentence(info.label)} was compared {between} with "
            f"{test_phrase(result.method)}{note}.")


def run(cohort, options: DistributionOptions, context: SectionContext):
    from cohortpress.kit.disclosure import release_records

    info = cohort.variable(options.variable)
    groups = group_cohort(cohort, options.by if options.by is not None else cohort.group)
    if options.plot == "bars":
        results, methods = _bar_records(cohort, options, info, groups, context)
        results = release_records(results, context.disclosure)
        figures = figures_from_records(results, layout(cohort, options, context))
    else:
        results, methods, figures = _dots(cohort, options, info, groups, context)
    return context.section(blocks=figures, results=results, methods=methods)


# --------------------------------------------------------------------------- bars


def _bar_records(cohort, options: DistributionOptions, info, groups, context):
    """``categorical`` ``n`` and ``p`` per category and group; ``test`` ``p.value`` and
    ``method`` when a test ran."""
    from cohortpress.stats import comparisons
    from cohortpress.stats.summaries import contingency_table

    _check_kind(options, info)
    codes = np.asarray(cohort.values(options.variable).cat.codes, dtype=np.int64)
    counts = contingency_table(codes, groups.codes, len(info.levels), len(groups.levels))
    percents = _percents(counts)
    results, methods = [], []
    for i, level in enumerate(info.levels):
        for j, group in enumerate(groups.levels):
            where = dict(variable=options.variable, variable_level=level,
                         group=groups.variable, group_level=group)
            results.append(Result("categorical", "n", int(counts[i, j]), **where))
            results.append(Result("categorical", "p", float(percents[i, j] / 100), **where))
    test = "fisher" if options.test == "auto" else options.test
    if test in ("fisher", "chisq") and len(groups.levels) > 1:
        result = comparisons.fisher_test(counts) if test == "fisher" else \
            comparisons.chisq_test(counts, correct=False)
        results += _test_records(result, options.variable, groups.variable, context)
        results += _left_out(groups, counts.sum(axis=0) > 0, options.variable)
        methods.append(_test_sentence(info, groups, result))
    return results, methods


def _percents(counts: np.ndarray) -> np.ndarray:
    """Each count as a percentage of its column (0 in an empty column)."""
    totals = counts.sum(axis=0)
    return np.divide(100.0 * counts, totals, out=np.zeros(counts.shape), where=totals > 0)


@dataclass(frozen=True)
class DistributionLayout:
    """The figure's labels and choices (no count)."""

    variable: str
    group: str | None
    caption: str
    ylabel: str
    xlabel: str
    width_mm: float
    p_digits: int
    style: str = "journal"


def layout(cohort, options: DistributionOptions, context: SectionContext) -> DistributionLayout:
    """Labels and choices from the config."""
    info = cohort.variable(options.variable)
    by = options.by if options.by is not None else cohort.group
    group_label = cohort.variable(by).label if by is not None else ""
    caption = options.caption or f"Distribution of {in_sentence(info.label)} by " \
                                 f"{in_sentence(group_label)}."
    default_ylabel = "Patients (%)" if options.plot == "bars" else info.label_with_unit()
    return DistributionLayout(variable=options.variable, group=by, caption=caption,
                              ylabel=options.ylabel or default_ylabel,
                              xlabel=info.label_with_unit(), width_mm=options.width_mm,
                              p_digits=context.p_digits, style=context.style)


def figures_from_records(results, figure_layout: DistributionLayout) -> list[Figure]:
    """The bar chart, from the section's results records alone: counts from the ``n``
    records, percentages of their column totals, the test from the ``test`` records."""
    from cohortpress.kit import figures

    from cohortpress.kit.disclosure import count_text

    records = Records(results)
    where = dict(context="categorical", stat_name="n", variable=figure_layout.variable)
    categories = records.distinct("variable_level", **where)
    groups = records.distinct("group_level", **where)
    cells = [[records.one(variable_level=level, group=figure_layout.group, group_level=group,
                          **where) for group in groups] for level in categories]
    # a count a disclosure rule hides: no bar, its released text ("<10") as the label
    counts = np.array([[r.stat or 0 for r in row] for row in cells],
                      dtype=np.int64).reshape(len(categories), len(groups))
    labels = np.array([[count_text(r.stat, r.formatted) for r in row] for row in cells],
                      dtype=object).reshape(len(categories), len(groups))
    percents = _percents(counts)
    method = _test_stat(records, figure_layout, "method")
    annotation = "" if method is None else \
        f"{_p_text(_test_stat(records, figure_layout, 'p.value'), figure_layout.p_digits)} " \
        f"({method})"
    png = figures.grouped_bars(categories, groups, percents, labels,
                               ylabel=figure_layout.ylabel, xlabel=figure_layout.xlabel,
                               annotation=annotation, width_mm=figure_layout.width_mm,
                               style=figure_layout.style)
    alt = "; ".join(f"{g}: " + ", ".join(f"{lv} {labels[i, j]}"
                                          for i, lv in enumerate(categories))
                    for j, g in enumerate(groups))
    return [_figure(png, alt, figure_layout, _left_out_text(records, figure_layout))]


def _test_stat(records: Records, figure_layout: DistributionLayout, stat_name: str):
    return records.stat(context="test", stat_name=stat_name, variable=figure_layout.variable,
                        group=figure_layout.group)


def _figure(png: bytes, alt: str, figure_layout: DistributionLayout,
            left_out: str = "") -> Figure:
    caption = f"{figure_layout.caption} {left_out}" if left_out else figure_layout.caption
    return Figure(png, caption, f"{caption} {alt}.", width_mm=figure_layout.width_mm)


# --------------------------------------------------------------------------- dots


def _dots(cohort, options: DistributionOptions, info, groups, context):
    """Every patient's value as a dot: the figure needs the values themselves, so only its
    test annotation comes from the records (``continuous`` ``median`` per group, ``test``
    ``p.value`` and ``method``)."""
    from cohortpress.kit import figures
    from cohortpress.stats import comparisons

    _check_kind(options, info)
    samples = _samples(cohort, options, groups)
    _check_samples(options, samples)
    results, methods = [], []
    for group, v in zip(groups.levels, samples):
        results.append(Result("continuous", "median", float(np.median(v)) if len(v)
                              else float("nan"), variable=options.variable,
                              group=groups.variable, group_level=group))
    test = options.test
    if test == "auto":
        test = "wilcoxon" if len(samples) == 2 else "kruskal"
    present = [s for s in samples if len(s)]
    if test in ("wilcoxon", "kruskal") and len(present) >= 2:
        result = comparisons.wilcoxon_rank_sum(*present[:2]) if test == "wilcoxon" and \
            len(present) == 2 else comparisons.kruskal_test(present)
        results += _test_records(result, options.variable, groups.variable, context)
        results += _left_out(groups, [len(s) > 0 for s in samples], options.variable)
        methods.append(_test_sentence(info, groups, result))
    figure_layout = layout(cohort, options, context)
    records = Records(results)
    annotation = "" if _test_stat(records, figure_layout, "method") is None else \
        _p_text(_test_stat(records, figure_layout, "p.value"), figure_layout.p_digits)
    rule = context.disclosure
    drawn = samples if rule is None else \
        [s if len(s) >= rule.min_count else s[:0] for s in samples]
    png = figures.dot_plot(list(groups.levels), drawn, ylabel=figure_layout.ylabel,
                           log_scale=options.log_scale,
                           reference_lines=options.reference_lines,
                           annotation=annotation, width_mm=options.width_mm,
                           summary_only=rule is not None, style=context.style)
    alt = "; ".join(f"{g}: median {np.median(s):.3g}" + ("" if rule else f" of {len(s)} patients")
                    for g, s in zip(groups.levels, drawn) if len(s))
    note = _left_out_text(records, figure_layout)
    if rule is not None:
        note = (f"{note} " if note else "") + (
            f"Under the disclosure rule no patient's value is drawn: each group's median "
            f"(bar) and interquartile range (line); groups of fewer than {rule.min_count} "
            f"patients are not drawn.")
    return results, methods, [_figure(png, alt, figure_layout, note)]


@hookimpl
def cohortpress_analyses():
    return [Analysis("distribution", run, DistributionOptions,
                     "A variable's distribution by group: bars or dots, with a test")]
