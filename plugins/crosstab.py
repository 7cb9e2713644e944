"""Built-in analysis ``crosstab``: a row variable by a column variable, with a test.

Counts with row, column or total percentages, optional totals, and a test of association
named in a footnote. The table itself is built by :func:`cohortpress.kit.crosstab.crosstab_table`,
which ``kmt2a_partners`` and third-party plugins use too.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from cohortpress import hookimpl
from cohortpress.common.errors import DataError
from cohortpress.api.options import Options, Variable
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext
from cohortpress.kit.crosstab import CrosstabSpec, crosstab_table

Percent = Literal["column", "row", "total", "none"]
CategoricalTest = Literal["fisher", "chisq", "chisq_yates", "none"]


class CrosstabOptions(Options):
    row: Variable
    column: Variable | None = None
    percent: Percent = "column"
    percent_digits: int | None = Field(None, ge=0, le=3)
    totals: bool = True
    test: CategoricalTest = "fisher"
    missing: Literal["ifany", "no"] = "ifany"
    caption: str | None = None
    row_header: str = ""
    monte_carlo_tables: int = Field(100_000, ge=1000)
    seed: int = 20240531


# --------------------------------------------------------------------------- the analysis


def run(cohort, options: CrosstabOptions, context: SectionContext):
    from cohortpress.data.grouping import group_cohort

    row_info = cohort.variable(options.row)
    if row_info.kind not in ("categorical", "binary"):
        raise DataError(f"the row variable '{options.row}' is {row_info.kind}; a cross-"
                        f"tabulation needs a categorical variable", column=options.row)
    by = options.column if options.column is not None else cohort.group
    if by is None:
        raise DataError("crosstab needs 'column' (or cohort.group)", key="column")
    groups = group_cohort(cohort, by)
    spec = CrosstabSpec(
        row_name=row_info.label, row_levels=row_info.levels,
        row_codes=np.asarray(cohort.values(options.row).cat.codes, dtype=np.int64),
        col_name=groups.label, col_label=groups.label, col_levels=groups.levels,
        col_codes=groups.codes, percent=options.percent,
        percent_digits=options.percent_digits if options.percent_digits is not None
        else context.percent_digits,
        totals=options.totals, test=options.test, missing=options.missing,
        missing_label=row_info.missing_label, caption=options.caption or "",
        row_header=options.row_header, monte_carlo_tables=options.monte_carlo_tables,
        seed=options.seed)
    built = crosstab_table(spec, context)
    results = [_with_names(r, options.row, by) for r in built.results]
    return context.section(blocks=[built.table], results=results, methods=built.methods)


def _with_names(record: Result, row_var: str, col_var: str) -> Result:
    """Records name variables by their config names, not their labels."""
    from dataclasses import replace

    return replace(record, variable=row_var,
                   group=col_var if record.group is not None else None)


@hookimpl
def cohortpress_analyses():
    return [Analysis("crosstab", run, CrosstabOptions,
                     "Row by column counts with percentages, totals and a test")]
