"""Reading cohort files: CSV, Parquet, Excel, SPSS and Stata.

The built-in ``cohortpress_read_cohort`` hook (in ``cohortpress.plugins.readers``) calls
:func:`read_cohort_file`. Only the columns the report uses are read where the format allows
it (``usecols`` for CSV and Excel, column projection for Parquet, SPSS and Stata).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from cohortpress.errors import DataError

SUFFIX_FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "excel", ".xlsm": "excel",
    ".sav": "spss", ".zsav": "spss",
    ".dta": "stata",
}
FORMATS = ("csv", "parquet", "excel", "spss", "stata")


@dataclass(frozen=True, eq=False)
class RawCohort:
    """A cohort as read from its file, before typing and derivation.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per patient, the requested columns.
    labels : dict
        Column labels stored in the file (SPSS/Stata variable labels), used when the config
        gives none.
    """

    data: Any
    labels: dict[str, str] = field(default_factory=dict)


def guess_format(path: Path, fmt: str) -> str:
    """The format named in the config, or the one the file suffix implies."""
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise DataError(f"cannot tell the format from the suffix '{suffix}'; set "
                        f"cohort.format to one of {', '.join(FORMATS)}", file=str(path))
    return SUFFIX_FORMATS[suffix]


def file_columns(path: Path, fmt: str, options: dict[str, Any]) -> list[str]:
    """The column names in a cohort file, read cheaply (header or schema only)."""
    import pandas as pd

    if fmt == "csv":
        return list(_read_csv(path, options, nrows=0).columns)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if fmt == "excel":
        return list(_read_excel(path, options, nrows=0).columns)
    if fmt == "spss":
        import pyreadstat

        _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
        return list(meta.column_names)
    if fmt == "stata":
        import pyreadstat

        _, meta = pyreadstat.read_dta(str(path), metadataonly=True)
        return list(meta.column_names)
    raise DataError(f"unknown format '{fmt}'", file=str(path))  # pragma: no cover
    del pd


def read_cohort_file(path: Path, fmt: str, columns: Sequence[str] | None,
                     options: dict[str, Any]) -> RawCohort:
    """Read the requested ``columns`` of a cohort file into a :class:`RawCohort`."""
    cols = list(columns) if columns is not None else None
    if fmt == "csv":
        return RawCohort(_read_csv(path, options, usecols=cols))
    if fmt == "parquet":
        import pandas as pd

        return RawCohort(pd.read_parquet(path, columns=cols))
    if fmt == "excel":
        return RawCohort(_read_excel(path, options, usecols=cols))
    if fmt in ("spss", "stata"):
        return _read_readstat(path, fmt, cols)
    raise DataError(f"unknown format '{fmt}'", file=str(path))


def _read_csv(path: Path, options: dict[str, Any], **kwargs):
    import pandas as pd

    encoding = options.get("encoding") or "utf-8-sig"
    sep = options.get("delimiter")
    if sep is None:
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        # Every column as text: the config says what each column is, and a column of codes
        # such as "01" must not silently become the number 1.
        return pd.read_csv(path, sep=sep, encoding=encoding, dtype=str,
                           keep_default_na=False, na_values=[""], **kwargs)
    except UnicodeDecodeError as exc:
        raise DataError(f"not {encoding} text (byte {exc.start}: {exc.reason}); set "
                        f"cohort.encoding, e.g. \"latin-1\" or \"cp1252\"", file=str(path)) from None
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", file=str(path)) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"not a readable CSV file: {' '.join(str(exc).split())}",
                        file=str(path)) from None


def _read_excel(path: Path, options: dict[str, Any], **kwargs):
    import pandas as pd

    sheet = options.get("sheet")
    sheet = 0 if sheet is None else sheet
    try:
        return pd.read_excel(path, sheet_name=sheet, dtype=object, engine="openpyxl", **kwargs)
    except ValueError as exc:
        if "Worksheet" in str(exc) or "not found" in str(exc):
            names = _sheet_names(path)
            raise DataError(f"no sheet {sheet!r}; the workbook has {', '.join(map(repr, names))}",
                            file=str(path), key="cohort.sheet") from None
        raise DataError(f"not a readable Excel file: {exc}", file=str(path)) from None
    except IndexError:
        raise DataError(f"no sheet number {sheet}", file=str(path), key="cohort.sheet") from None
    except Exception as exc:  # zipfile.BadZipFile, openpyxl errors
        raise DataError(f"not a readable .xlsx file ({type(exc).__name__})", file=str(path)) from None


def _sheet_names(path: Path) -> list[str]:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def _read_readstat(path: Path, fmt: str, columns: list[str] | None) -> RawCohort:
    import pyreadstat

    reader = pyreadstat.read_sav if fmt == "spss" else pyreadstat.read_dta
    try:
        # Value labels are applied; user-defined missing codes (SPSS) become missing.
        data, meta = reader(str(path), apply_value_formats=True, usecols=columns,
                            user_missing=False)
    except Exception as exc:
        raise DataError(f"not a readable {fmt.upper()} file: {' '.join(str(exc).split())}",
                        file=str(path)) from None
    labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    return RawCohort(data, labels)
