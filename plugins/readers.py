"""Built-in reader plugin: CSV, Parquet, Excel (.xlsx), SPSS (.sav) and Stata (.dta)."""

from __future__ import annotations

from cohortpress import hookimpl
from cohortpress.data.files import FORMATS, read_cohort_file


@hookimpl(trylast=True)
def cohortpress_read_cohort(path, fmt, columns, options):
    if fmt not in FORMATS:
        return None
    return read_cohort_file(path, fmt, columns, options)
