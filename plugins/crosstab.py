"""Built-in analysis ``crosstab``: a row variable by a column variable, with a test.

Counts with row, column or total percentages, optional totals, and a test of association
named in a footnote. The counts and the test are the records of
:func:`cohortpress.kit.crosstab.crosstab_records`; the table is rendered from those records
alone by :func:`table_from_records` (the same building blocks serve ``kmt2a_partners`` and
third-party plugins).

Every option computes from counts, so the analysis runs on the engine path too: the counts
come from one query in the engine (:func:`cohortpress.kit.engine_crosstab.engine_tabulation`)
instead of the patients' codes, and go through the same records, percentages and test.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from cohortpress import hookimpl
from cohortpress.common.errors import DataError
from cohortpress.api.blocks import Table
from cohortpress.api.options import Options, Variable
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext
from cohortpress.kit.disclosure import release_records
from cohortpress.kit.crosstab import (CrosstabLayout, CrosstabSpec, Tabulation,
                                      crosstab_from_records, crosstab_records, tabulate_codes)
from cohortpress.kit.engine_crosstab import engine_tabulation
from cohortpress.kit.engine_grouping import grouping_of

Percent = Literal["column", "row", "total", "none"]
CategoricalTest = Literal["fisher", "chisq", "chisq_yates", "none"]


class CrosstabOptions(Options):
    row: Variable = Field(description="the categorical variable of the rows",
                          examples=["immunophenotype"])
    column: Variable | None = Field(None, description="the variable of the columns; default: "
                                    "cohort.group", examples=["kmt2a_status"])
    percent: Percent = Field("column", description="what the percentages are of; none: "
                             "counts only", examples=["row"])
    percent_digits: int | None = Field(None, ge=0, le=3, description="decimals of "
                                       "percentages; default: report.percent_digits",
                                       examples=[1])
    totals: bool = Field(True, description="a total row and column", examples=[False])
    test: CategoricalTest = Field("fisher", description="the test of association (Fisher's "
                                  "exact test is exact for r × c tables too)",
                                  examples=["chisq"])
    missing: Literal["ifany", "no"] = Field("ifany", description="a row of missing values: "
                                            "when there are any, or never", examples=["no"])
    caption: str | None = Field(None, description="the table's caption; default: names both "
                                "variables", examples=["Immunophenotype by KMT2A status."])
    row_header: str = Field("", description="the header over the row labels",
                            examples=["Immunophenotype"])
    monte_carlo_tables: int = Field(100_000, ge=1000, description="tables simulated when "
                                    "Fisher's exact test is too costly to enumerate",
                                    examples=[1_000_000])
    seed: int = Field(20240531, description="the seed of that simulation (same seed, same p)",
                      examples=[1])

    def check_data(self, cohort) -> list[str]:
        """The row variable must be categorical and the columns a categorical grouping
        (refused with the run's line); a column with no patients is a warning."""
        from cohortpress.data.grouping import empty_group_warnings

        _row_info(cohort, self)
        return empty_group_warnings(grouping_of(cohort, _column_variable(cohort, self)))


# --------------------------------------------------------------------------- the analysis


def run(cohort, options: CrosstabOptions, context: SectionContext):
    spec = _spec(cohort, options, context)
    computed = crosstab_records(spec, context, _tabulation(cohort, options, spec))
    results = release_records([_with_names(r, options.row, spec.col_name)
                               for r in computed.results], context.disclosure)
    tables = tables_from_records(results, _layout(spec, options, context))
    return context.section(blocks=tables, results=results, methods=computed.methods)


def layout(cohort, options: CrosstabOptions, context: SectionContext) -> CrosstabLayout:
    """The table's layout: labels, caption and choices from the config, no count."""
    return _layout(_spec(cohort, options, context), options, context)


def _layout(spec: CrosstabSpec, options: CrosstabOptions,
            context: SectionContext) -> CrosstabLayout:
    # the records name the row variable by its config name (see _with_names)
    return CrosstabLayout.of(spec, context, variable=options.row, group=spec.col_name)


def tables_from_records(results, table_layout: CrosstabLayout) -> list[Table]:
    """The section's table, from its results records alone."""
    return [crosstab_from_records(results, table_layout)]


def _spec(cohort, options: CrosstabOptions, context: SectionContext) -> CrosstabSpec:
    """What to cross-tabulate and how to show it: the row variable's levels by the column
    variable's groups (the counts are :func:`_tabulation`'s)."""
    from cohortpress.data.grouping import grouping_variable

    row_info = _row_info(cohort, options)
    by = _column_variable(cohort, options)
    column = grouping_variable(cohort, by)
    return CrosstabSpec(
        row_name=row_info.label, row_levels=row_info.levels, row_codes=None,
        col_name=by, col_label=column.label, col_levels=tuple(column.levels),
        col_codes=None, percent=options.percent,
        percent_digits=options.percent_digits if options.percent_digits is not None
        else context.percent_digits,
        totals=options.totals, test=options.test, missing=options.missing,
        missing_label=row_info.missing_label, caption=options.caption or "",
        row_header=options.row_header, monte_carlo_tables=options.monte_carlo_tables,
        seed=options.seed)


def _tabulation(cohort, options: CrosstabOptions, spec: CrosstabSpec) -> Tabulation:
    """The counts of the row variable's levels by the columns: from the patients' codes in
    memory, from one aggregate query on the engine path."""
    n_rows, n_cols = len(spec.row_levels), len(spec.col_levels)
    if getattr(cohort, "engine", False):
        return engine_tabulation(cohort, options.row, spec.col_name, n_rows, n_cols)
    return tabulate_codes(_codes(cohort, options.row), _codes(cohort, spec.col_name),
                          n_rows, n_cols)


def _codes(cohort, variable: str) -> np.ndarray:
    """A categorical variable's integer codes, -1 where missing."""
    return np.asarray(cohort.values(variable).cat.codes, dtype=np.int64)


def _row_info(cohort, options: CrosstabOptions):
    """The row variable, which must be categorical."""
    row_info = cohort.variable(options.row)
    if row_info.kind not in ("categorical", "binary"):
        raise DataError(f"the row variable '{options.row}' is {row_info.kind}; a cross-"
                        f"tabulation needs a categorical variable", column=options.row)
    return row_info


def _column_variable(cohort, options: CrosstabOptions) -> str:
    """The column variable: ``column``, or the cohort's group."""
    by = options.column if options.column is not None else cohort.group
    if by is None:
        raise DataError("crosstab needs 'column' (or cohort.group)", key="column")
    return by


def _with_names(record: Result, row_var: str, col_var: str) -> Result:
    """Records name variables by their config names, not their labels."""
    from dataclasses import replace

    return replace(record, variable=row_var,
                   group=col_var if record.group is not None else None)


@hookimpl
def cohortpress_analyses():
    return [Analysis("crosstab", run, CrosstabOptions,
                     "Row by column counts with percentages, totals and a test",
                     aggregates=aggregates_refusal)]


def aggregates_refusal(options: CrosstabOptions) -> str | None:
    """Every option of a cross-table computes from counts: none needs the rows."""
    return None
