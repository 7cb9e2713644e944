"""Built-in analysis ``distribution``: how a variable is distributed in each group, drawn.

``plot = "bars"``: the percentage of each group in each category of a categorical variable
(for a continuous variable, declare a ``cut`` in ``[derived]``), with counts on the bars
and, optionally, a test of association annotated. ``plot = "dots"``: every patient's value
as a dot per group, the medians as bars, an optional log scale and reference lines (such as
a clinical cut-off), with the Wilcoxon rank-sum or Kruskal–Wallis test annotated.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from cohortpress import hookimpl
from cohortpress.common.errors import DataError
from cohortpress.api.options import Options, Variable
from cohortpress.api.blocks import Figure
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext


class DistributionOptions(Options):
    variable: Variable
    by: Variable | None = None
    plot: Literal["bars", "dots"] = "bars"
    test: Literal["auto", "fisher", "chisq", "wilcoxon", "kruskal", "none"] = "auto"
    log_scale: bool = False
    reference_lines: list[float] = []
    caption: str | None = None
    ylabel: str | None = None
    width_mm: float = Field(85.0, ge=40, le=180)


def _p_text(context, p) -> str:
    text = context.format_p(p)
    return f"p {text}" if text[0] in "<>" else f"p = {text}"


def _test_record(result, variable: str, group: str, context) -> Result:
    return Result("test", "p.value", result.p_value, variable=variable, group=group,
                  formatted=context.format_p(result.p_value))


def _test_sentence(info, method: str) -> str:
    return f"The distribution of {info.label.lower()} was compared between groups with {method}."


def run(cohort, options: DistributionOptions, context: SectionContext):
    from cohortpress.kit import figures
    from cohortpress.data.grouping import group_cohort
    from cohortpress.stats import comparisons

    info = cohort.variable(options.variable)
    groups = group_cohort(cohort, options.by if options.by is not None else cohort.group)
    results, methods = [], []
    annotation = ""
    if options.plot == "bars":
        if info.kind not in ("categorical", "binary"):
            raise DataError(f"plot = \"bars\" needs a categorical variable; '{options.variable}'"
                            f" is {info.kind} (declare a cut in [derived], or use plot = "
                            f"\"dots\")", column=options.variable)
        codes = np.asarray(cohort.values(options.variable).cat.codes, dtype=np.int64)
        ok = (codes >= 0) & (groups.codes >= 0)
        counts = np.zeros((len(info.levels), len(groups.levels)), dtype=np.int64)
        np.add.at(counts, (codes[ok], groups.codes[ok]), 1)
        totals = counts.sum(axis=0)
        percents = np.divide(100.0 * counts, totals, out=np.zeros(counts.shape),
                             where=totals > 0)
        for i, level in enumerate(info.levels):
            for j, group in enumerate(groups.levels):
                results.append(Result("categorical", "n", int(counts[i, j]),
                                      variable=options.variable, variable_level=level,
                                      group=groups.variable, group_level=group))
                results.append(Result("categorical", "p", float(percents[i, j] / 100),
                                      variable=options.variable, variable_level=level,
                                      group=groups.variable, group_level=group))
        test = "fisher" if options.test == "auto" else options.test
        if test in ("fisher", "chisq") and len(groups.levels) > 1:
            result = comparisons.fisher_test(counts) if test == "fisher" else \
                comparisons.chisq_test(counts, correct=False)
            annotation = f"{_p_text(context, result.p_value)} ({result.method})"
            results.append(_test_record(result, options.variable, groups.variable, context))
            methods.append(_test_sentence(info, result.method))
        png = figures.grouped_bars(list(info.levels), list(groups.levels), percents, counts,
                                   ylabel=options.ylabel or "Patients (%)",
                                   xlabel=info.label_with_unit(), annotation=annotation,
                                   width_mm=options.width_mm)
        alt = "; ".join(f"{g}: " + ", ".join(f"{lv} {int(counts[i, j])}"
                                              for i, lv in enumerate(info.levels))
                        for j, g in enumerate(groups.levels))
    else:
        if info.kind != "continuous":
            raise DataError(f"plot = \"dots\" needs a continuous variable; '{options.variable}'"
                            f" is {info.kind}", column=options.variable)
        values = cohort.values(options.variable).to_numpy(dtype=float)
        samples = []
        for j, group in enumerate(groups.levels):
            v = values[(groups.codes == j) & ~np.isnan(values)]
            samples.append(v)
            results.append(Result("continuous", "median", float(np.median(v)) if len(v)
                                   else float("nan"), variable=options.variable,
                                   group=groups.variable, group_level=group))
        if options.log_scale and any((s <= 0).any() for s in samples):
            raise DataError(f"a log scale needs positive values of '{options.variable}'",
                            column=options.variable)
        test = options.test
        if test == "auto":
            test = "wilcoxon" if len(samples) == 2 else "kruskal"
        present = [s for s in samples if len(s)]
        if test in ("wilcoxon", "kruskal") and len(present) >= 2:
            result = comparisons.wilcoxon_rank_sum(*present[:2]) if test == "wilcoxon" and \
                len(present) == 2 else comparisons.kruskal_test(present)
            annotation = f"{_p_text(context, result.p_value)}"
            results.append(_test_record(result, options.variable, groups.variable, context))
            methods.append(_test_sentence(info, f"the {result.method}"))
        png = figures.dot_plot(list(groups.levels), samples,
                               ylabel=options.ylabel or info.label_with_unit(),
                               log_scale=options.log_scale,
                               reference_lines=options.reference_lines,
                               annotation=annotation, width_mm=options.width_mm)
        alt = "; ".join(f"{g}: median {np.median(s):.3g} of {len(s)} patients"
                        for g, s in zip(groups.levels, samples) if len(s))
    caption = options.caption or f"Distribution of {info.label.lower()} by " \
                                 f"{groups.label.lower()}."
    figure = Figure(png, caption, f"{caption} {alt}.", width_mm=options.width_mm)
    return context.section(blocks=[figure], results=results, methods=methods)


@hookimpl
def cohortpress_analyses():
    return [Analysis("distribution", run, DistributionOptions,
                     "A variable's distribution by group: bars or dots, with a test")]
