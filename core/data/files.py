"""Reading cohort files: CSV, Parquet, Excel, SPSS and Stata.

The built-in ``cohortpress_read_cohort`` hook (in ``cohortpress.plugins.readers``) calls
:func:`read_cohort_file`. Only the columns the report uses are read where the format allows
it (``usecols`` for CSV and Excel, column projection for Parquet, SPSS and Stata).

Reading has limits, so that no file can hang a build or exhaust its memory: the cohort must
be a regular file (not a device such as ``/dev/zero``, a FIFO or a socket, which never
end), at most :data:`MAX_INPUT_MB` megabytes (``$COHORTPRESS_MAX_INPUT_MB``), with at most
:data:`MAX_COLUMNS` columns (``$COHORTPRESS_MAX_COLUMNS``).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from cohortpress.common.errors import DataError

SUFFIX_FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "excel", ".xlsm": "excel",
    ".sav": "spss", ".zsav": "spss",
    ".dta": "stata",
}
FORMATS = ("csv", "parquet", "excel", "spss", "stata")
FORMAT_NAMES = {"csv": "CSV", "parquet": "Parquet", "excel": "Excel", "spss": "SPSS",
                "stata": "Stata"}


#: The largest cohort file read, in megabytes (a million patients by a hundred columns of
#: CSV is about 600 MB); ``$COHORTPRESS_MAX_INPUT_MB`` changes it.
MAX_INPUT_MB = 2048
#: The most columns a cohort file may have; ``$COHORTPRESS_MAX_COLUMNS`` changes it.
MAX_COLUMNS = 20000


def _limit(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    try:
        value = int(text)
    except ValueError:
        if text.strip():
            raise DataError(f"${name} is {text!r}; give a whole number") from None
        return default
    if value <= 0:
        raise DataError(f"${name} is {value}; give a positive whole number")
    return value


def check_input_file(path: Path) -> None:
    """Refuse a cohort path that is not a regular file, or larger than the size ceiling."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise DataError(f"cannot read the cohort file ({os.strerror(exc.errno or 0)})",
                        file=str(path)) from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else \
            "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else \
            "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else \
            "not a regular file"
        raise DataError(f"is {kind}; the cohort must be a regular file", file=str(path))
    ceiling = _limit("COHORTPRESS_MAX_INPUT_MB", MAX_INPUT_MB)
    if info.st_size > ceiling * 2**20:
        raise DataError(f"is {info.st_size / 2**20:.1f} MB, over the {ceiling} MB a cohort "
                        f"file may have ($COHORTPRESS_MAX_INPUT_MB raises it)", file=str(path))


def check_column_count(path: Path, count: int) -> None:
    """Refuse a cohort with more columns than the column ceiling."""
    ceiling = _limit("COHORTPRESS_MAX_COLUMNS", MAX_COLUMNS)
    if count > ceiling:
        raise DataError(f"has {count} columns, over the {ceiling} a cohort file may have "
                        f"($COHORTPRESS_MAX_COLUMNS raises it)", file=str(path))


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
    """The column names in a cohort file, read cheaply (header or schema only).

    Raises DataError for a path that is not a regular file, a file over the size ceiling or
    with more columns than the column ceiling (see :func:`check_input_file`).
    """
    check_input_file(path)
    names = _file_columns(path, fmt, options)
    check_column_count(path, len(names))
    return names


def _file_columns(path: Path, fmt: str, options: dict[str, Any]) -> list[str]:
    if fmt == "csv":
        return list(_read_csv(path, options, nrows=0).columns)
    if fmt == "excel":
        return list(_read_excel(path, options, nrows=0).columns)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if fmt in ("spss", "stata"):
            import pyreadstat

            reader = pyreadstat.read_sav if fmt == "spss" else pyreadstat.read_dta
            _, meta = reader(str(path), metadataonly=True)
            return list(meta.column_names)
    except (PermissionError, FileNotFoundError):
        raise
    except Exception as exc:  # pyarrow.ArrowInvalid, pyreadstat.ReadstatError, ...
        raise DataError(f"not a readable {FORMAT_NAMES[fmt]} file: "
                        f"{' '.join(str(exc).split()) or type(exc).__name__}",
                        file=str(path)) from None
    raise DataError(f"unknown format '{fmt}'", file=str(path))  # pragma: no cover


def read_cohort_file(path: Path, fmt: str, columns: Sequence[str] | None,
                     options: dict[str, Any]) -> RawCohort:
    """Read the requested ``columns`` of a cohort file into a :class:`RawCohort`.

    Raises DataError for a path that is not a regular file or is over the size ceiling.
    """
    check_input_file(path)
    cols = list(columns) if columns is not None else None
    if fmt == "csv":
        return RawCohort(_read_csv(path, options, usecols=cols))
    if fmt == "parquet":

        try:
            return RawCohort(_read_parquet(path, cols))
        except (PermissionError, FileNotFoundError):
            raise
        except Exception as exc:  # pyarrow.ArrowInvalid and friends
            raise DataError(f"not a readable Parquet file: {' '.join(str(exc).split())}",
                            file=str(path)) from None
    if fmt == "excel":
        return RawCohort(_read_excel(path, options, usecols=cols))
    if fmt in ("spss", "stata"):
        return _read_readstat(path, fmt, cols)
    raise DataError(f"unknown format '{fmt}'", file=str(path))


def _read_parquet(path: Path, columns: list[str] | None):
    """``pandas.read_parquet(path, columns=columns)``, with nearly unique text columns
    (patient ids) converted without pyarrow's string de-duplication.

    De-duplication keeps one Python string per distinct value, which saves memory for codes
    but for ten million distinct ids costs ~4 s of hashing for nothing. Such columns are
    read apart and converted plainly: the same strings (and None where missing), only not
    shared. Everything else goes through ``pandas.read_parquet`` as before.
    """
    import pandas as pd

    try:
        unique = _unique_text_columns(path, columns) if columns is not None else []
    except Exception:  # an unreadable file: pandas says what is wrong, below
        unique = []
    if not unique or len(unique) == len(columns):
        return pd.read_parquet(path, columns=columns)
    import pyarrow.parquet as pq

    names = list(columns)
    data = pd.read_parquet(path, columns=[c for c in names if c not in unique])
    apart = pq.read_table(path, columns=unique)
    for name in unique:
        values = apart.column(name).to_pandas(deduplicate_objects=False).to_numpy()
        data.insert(names.index(name), name, values)
    return data


def _unique_text_columns(path: Path, columns: list[str]) -> list[str]:
    """Plain text columns (object dtype in pandas) whose first 10,000 values are mostly
    distinct."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if pd.get_option("future.infer_string"):  # text would become StringDtype: not here
        return []
    parquet = pq.ParquetFile(path)
    if parquet.metadata.num_rows < 100_000:
        return []
    schema = parquet.schema_arrow
    stored = {c.get("name"): c for c in (parquet.schema_arrow.pandas_metadata or {})
              .get("columns", [])}
    candidates = [name for name in dict.fromkeys(columns) if name in schema.names
                  and schema.field(name).type in (pa.string(), pa.large_string())
                  and stored.get(name, {}).get("numpy_type", "object") == "object"]
    if not candidates or len(set(schema.names)) != len(schema.names):
        return []
    head = next(parquet.iter_batches(batch_size=10_000, columns=candidates), None)
    if head is None:
        return []
    return [name for name in candidates
            if pc.count_distinct(head.column(name)).as_py() > 0.9 * head.num_rows]


def _read_csv(path: Path, options: dict[str, Any], **kwargs):
    import pandas as pd

    encoding = options.get("encoding") or "utf-8-sig"
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"unknown encoding '{encoding}'; use e.g. \"utf-8\", \"latin-1\" or "
                        f"\"cp1252\"", file=str(path), key="cohort.encoding") from None
    sep = options.get("delimiter")
    if sep is None:
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        # Every column as text: the config says what each column is, and a column of codes
        # such as "01" must not silently become the number 1.
        # index_col=False: when the first data row has a trailing delimiter, pandas would
        # otherwise take the first column as the index and shift every column by one.
        data = pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, index_col=False,
                           keep_default_na=False, na_values=[""], **kwargs)
        if kwargs.get("nrows") == 0:
            _check_header(path, encoding, sep)
        if kwargs.get("usecols") is not None:
            # With usecols pandas accepts rows with more fields than the header, which
            # happens when a value holds an unquoted delimiter and shifts every column
            # after it: refuse such rows rather than read wrong values.
            _check_field_counts(path, encoding, sep)
        return data
    except UnicodeDecodeError as exc:
        raise DataError(f"not {encoding} text (byte {exc.start}: {exc.reason}); set "
                        f"cohort.encoding, e.g. \"latin-1\" or \"cp1252\"", file=str(path)) from None
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", file=str(path)) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"not a readable CSV file: {' '.join(str(exc).split())}",
                        file=str(path)) from None


def _check_header(path: Path, encoding: str, sep: str) -> None:
    """Refuse a header naming a column twice: pandas would rename the second "age.1" and the
    report would silently use the first."""
    import csv
    from collections import Counter

    with open(path, newline="", encoding=encoding) as handle:
        header = next(csv.reader(handle, delimiter=sep), [])
    twice = [name for name, n in Counter(h.strip() for h in header).items() if n > 1 and name]
    if twice:
        raise DataError(f"the header names the column '{twice[0]}' more than once",
                        file=str(path), column=twice[0])


def _check_field_counts(path: Path, encoding: str, sep: str) -> None:
    import csv

    if _no_long_rows(path, encoding, sep):
        return
    with open(path, newline="", encoding=encoding) as handle:
        reader = csv.reader(handle, delimiter=sep)
        header = next(reader, [])
        width = len(header)
        row = 0
        for record in reader:
            if not record:  # blank lines are skipped, as pandas does
                continue
            row += 1
            if len(record) > width and any(field.strip() for field in record[width:]):
                raise DataError(f"{len(record)} fields but the header has {width} (line "
                                f"{reader.line_num}); quote values that hold the delimiter "
                                f"{sep!r}", file=str(path), row=row)


def _no_long_rows(path: Path, encoding: str, sep: str) -> bool:
    """True when no row has non-empty fields beyond the header's width, found in C.

    Python's csv module takes ~2.5 s per million rows for :func:`_check_field_counts`;
    pyarrow's CSV parser (same quoting rules: ``"`` quotes, doubled to escape, quoted
    newlines allowed) finds the same rows in a fraction of that, and only rows of another
    width come back to Python. False (the exact check then runs and says what is wrong)
    when such a row is found or pyarrow cannot parse the file.
    """
    import codecs
    import csv
    import io

    if len(sep) != 1 or sep in "\"\r\n":
        return False
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return False
    found: list[bool] = []

    def long_row(row) -> str:
        if row.actual_columns > row.expected_columns and not found:
            fields = next(csv.reader(io.StringIO(row.text), delimiter=sep), [])
            if len(fields) <= row.expected_columns or any(
                    field.strip() for field in fields[row.expected_columns:]):
                found.append(True)  # (or undecided here): let the exact check decide
        return "skip"

    try:
        # UTF-8 is parsed as it is (Arrow skips a byte-order mark); others are transcoded.
        codec = codecs.lookup(encoding).name
        codec = "utf8" if codec in ("utf-8", "utf-8-sig") else codec
        reader = pacsv.open_csv(
            str(path),
            # use_threads=False: no reader thread of Arrow's is left running when the build
            # ends early; one alive at interpreter exit aborts the process ("terminate
            # called without an active exception", SIGABRT).
            read_options=pacsv.ReadOptions(autogenerate_column_names=True, encoding=codec,
                                           block_size=1 << 24, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True,
                                             escape_char=False, newlines_in_values=True,
                                             ignore_empty_lines=True,
                                             invalid_row_handler=long_row),
            convert_options=pacsv.ConvertOptions(include_columns=["f0"],
                                                 column_types={"f0": pa.string()}))
        for _ in reader:
            if found:
                return False
    except Exception:  # anything pyarrow cannot read is left to the exact check
        return False
    return not found


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
