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

The analysis computes the results records first (:mod:`cohortpress.kit.table1_records`);
the table is rendered from those records alone (:func:`tables_from_records`, with
:func:`cohortpress.kit.table1.table1_from_records`). The options and the checks of a row are
in :mod:`cohortpress.kit.table1_options`.
"""

from __future__ import annotations

import dataclasses

from cohortpress import hookimpl
from cohortpress.api.blocks import Footnote, Table
from cohortpress.api.results import Result
from cohortpress.common.errors import DataError
from cohortpress.common.formatting import in_sentence
from cohortpress.kit.disclosure import count_text, release_records
from cohortpress.api.sections import Analysis, SectionContext
from cohortpress.data.grouping import group_cohort
from cohortpress.kit.table1 import (Table1Layout, VariableLayout, table1_from_records,
                                    table1_methods)
from cohortpress.kit.table1_options import (DemographicsOptions, RowSpec, categorical_statistic,
                                            check_section, continuous_rows, field_digits, percent_digits_of,
                                            refuse_on_engine, refuse_repeats, row_specs)
from cohortpress.kit.engine_table1 import (EngineTable1Summariser, aggregates_refusal,
                                           engine_grouping, prints_whole)
from cohortpress.kit.table1_extras import extras_methods
from cohortpress.kit.table1_records import Table1Summariser
from cohortpress.kit.table1_strata import (aligned_layout, records_of_stratum, side_by_side,
                                           stacked, with_stratum)

__all__ = ["DemographicsOptions", "RowSpec", "layout", "run", "stratified_tables_from_records",
           "tables_from_records"]


def layout(cohort, options: DemographicsOptions, context: SectionContext) -> Table1Layout:
    """Labels and choices from the config: each variable's kind, label and missing label."""
    by = options.by if options.by is not None else cohort.group
    variables = []
    for spec in row_specs(options):
        info = cohort.variable(spec.variable)
        default = info.label if info.kind in ("binary", "date") else info.label_with_unit()
        number, by_field = field_digits(spec, options)
        continuous = info.kind == "continuous"
        variables.append(VariableLayout(
            variable=spec.variable, kind=info.kind, label=spec.label or default,
            missing_label=info.missing_label,
            percent_digits=percent_digits_of(spec, options, context.percent_digits),
            digits=1 if number is None else number,
            significant=spec.significant, applies_to=tuple(spec.applies_to),
            missing=spec.missing,
            whole_numbers=continuous and prints_whole(cohort, spec, options),
            rows=continuous_rows(spec, options) if continuous else (),
            statistic=categorical_statistic(spec, options),
            field_digits=tuple(sorted(by_field.items()))))
    return Table1Layout(
        by=by, group_label=cohort.variable(by).label if by is not None else "",
        variables=tuple(variables), caption=options.caption,
        header_label=options.header_label, overall=options.overall, p_value=options.p_value,
        smd=options.smd, percent_of=options.percent_of, missing=options.missing,
        not_applicable=options.not_applicable, p_digits=context.p_digits,
        quantile_type=options.quantile_type,
        add_difference=options.add_difference)


def tables_from_records(results, table_layout: Table1Layout) -> list[Table]:
    """Table 1, from the section's results records alone."""
    return [table1_from_records(results, table_layout)]


def summarise(cohort, options: DemographicsOptions, context: SectionContext):
    """The records of one Table 1 (the whole cohort, or one stratum's patients)."""
    by = options.by if options.by is not None else cohort.group
    if getattr(cohort, "engine", False):  # aggregates from SQL (kit.engine_table1)
        refuse_on_engine(options, cohort)
        groups = engine_grouping(cohort, by)
        summariser = EngineTable1Summariser(cohort, options, context, groups)
    else:
        groups = group_cohort(cohort, by)
        summariser = Table1Summariser(cohort, options, context, groups)
    options.check_extras(cohort, groups, row_specs(options))
    check_section(options)
    refuse_repeats(row_specs(options))
    for spec in row_specs(options):
        summariser.add(spec)
    summariser.add_groups()
    summariser.add_weight_records()
    return summariser


def run(cohort, options: DemographicsOptions, context: SectionContext):
    refuse_on_engine(options, cohort)
    if options.strata is not None:
        return run_stratified(cohort, options, context)
    summariser = summarise(cohort, options, context)
    results = release_records(summariser.results, context.disclosure)
    tables = tables_from_records(results, layout(cohort, options, context))
    groups = summariser.groups
    warnings = [f"Group '{g}' has no patients." for g in groups.empty_groups()]
    methods = table1_methods(results, summariser.test_labels, groups)
    return context.section(blocks=tables, results=results,
                           methods=methods + extras_methods(results, options, cohort),
                           warnings=tuple(warnings),
                           abbreviations=(("SMD", "standardised mean difference"),))


def run_stratified(cohort, options: DemographicsOptions, context: SectionContext):
    """One Table 1 per level of ``strata``, put together side by side or stacked."""
    strata = options.strata
    by = options.by if options.by is not None else cohort.group
    options.check_extras(cohort, group_cohort(cohort, by), row_specs(options))
    values = cohort.values(strata)
    if not values.notna().any():
        raise DataError(f"strata '{strata}': no patient has a known value", column=strata)
    results, labels, levels, methods = [], {}, [], []
    for level in cohort.variable(strata).levels:
        keep = (values == level).to_numpy()
        if not keep.any():
            continue
        part = cohort.subset(keep, f"{cohort.label(strata)} {level}")
        summariser = summarise(part, options, context)
        released = release_records(summariser.results, context.disclosure)
        results += with_stratum(released, strata, level)
        results += release_records([Result("strata", "N", int(keep.sum()), variable=strata,
                                           variable_level=level)], context.disclosure)
        labels.update(summariser.test_labels)
        methods += [m for m in table1_methods(released, summariser.test_labels,
                                              summariser.groups) if m not in methods]
        levels.append(level)
    n_unknown = int(values.isna().sum())
    results += release_records([Result("strata", "N_unknown", n_unknown, variable=strata)],
                               context.disclosure)
    tables = stratified_tables_from_records(results, layout(cohort, options, context),
                                            cohort.label(strata), options.strata_layout)
    stratified = (f"Characteristics were described and compared within each level of "
                  f"{in_sentence(cohort.label(strata))} separately.")
    return context.section(blocks=tables, results=results,
                           methods=[stratified, *methods,
                                    *extras_methods(results, options, cohort)],
                           abbreviations=(("SMD", "standardised mean difference"),))


def stratified_tables_from_records(results, table_layout: Table1Layout, strata_label: str,
                                   strata_layout: str) -> list[Table]:
    """A stratified Table 1 from its records alone: one table per stratum, joined."""
    levels = [r.variable_level for r in results if r.context == "strata" and r.stat_name == "N"]
    sizes = [count_text(r.stat, r.formatted) for r in results
             if r.context == "strata" and r.stat_name == "N"]
    parts = [records_of_stratum(results, level) for level in levels]
    aligned = aligned_layout(table_layout, parts)
    tables = [table1_from_records(part, aligned) for part in parts]
    headings = [f"{strata_label}: {level} (N = {n})" for level, n in zip(levels, sizes)]
    unknown = next((r for r in results if r.context == "strata"
                    and r.stat_name == "N_unknown"), None)
    n_unknown = unknown is not None and unknown.stat != 0 and \
        count_text(unknown.stat, unknown.formatted)
    if strata_layout == "stacked":
        group_sizes = [[f"N = {count_text(r.stat, r.formatted)}" for r in part if r.context == "group"
                        and r.stat_name == "N" and r.group_level is not None]
                       for part in parts]
        table = stacked(tables, levels, headings, group_sizes, table_layout.caption)
    else:
        table = side_by_side(tables, levels, headings, table_layout.caption)
    if n_unknown:
        note = Footnote(f"{n_unknown} patients with unknown {in_sentence(strata_label)} are "
                        f"not shown.")
        table = dataclasses.replace(table, footnotes=(*table.footnotes, note))
    return [table]


@hookimpl
def cohortpress_analyses():
    return [Analysis("demographics", run, DemographicsOptions,
                     "Table 1: characteristics by group, with tests named in footnotes",
                     aggregates=aggregates_refusal)]
