"""Reading cohort files: CSV (BOM, encodings, quoted newlines), Parquet (column projection),
Excel (sheets), SPSS (value labels, user-missing codes) and Stata."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cohortpress.common.errors import DataError
from cohortpress.data.files import file_columns, guess_format, read_cohort_file

TOML = """\
[report]
title = "Readers"
[cohort]
path = "{path}"
id = "id"
{cohort_extra}
[variables.sex]
label = "Sex"
[variables.age]
kind = "continuous"
{variables_extra}
[endpoints.os]
start = "dx"
events = ["death"]
last_contact = "last"
[[section]]
id = "overview"
analysis = "overview"
by = "sex"
endpoints = ["os"]
"""

FRAME = pd.DataFrame({
    "id": ["P1", "P2", "P3", "P4"],
    "sex": ["Male", "Female", "Female", "Male"],
    "age": [30.0, 99.0, 50.5, 61.0],
    "dx": pd.to_datetime(["2010-01-01", "2010-06-01", "2011-01-01", "2012-01-01"]),
    "death": pd.to_datetime(["2011-01-01", None, "2012-01-01", None]),
    "last": pd.to_datetime(["2011-01-01", "2013-06-01", "2012-01-01", "2014-01-01"]),
    "unused": ["x", "y", "z", "w"],
})


def project(cp, tmp_path, path: str, cohort_extra: str = "", variables_extra: str = ""):
    return cp.Project(tmp_path / "p", csv=None, toml=TOML.format(
        path=path, cohort_extra=cohort_extra, variables_extra=variables_extra))


def check_typed(cohort, age_missing_code: bool = False):
    assert cohort.n == 4
    assert cohort.variable("sex").levels == ("Female", "Male")
    assert cohort.values("sex").tolist() == ["Male", "Female", "Female", "Male"]
    ages = cohort.values("age").tolist()
    assert ages[0] == 30.0 and ages[2] == 50.5
    assert math.isnan(ages[1]) if age_missing_code else ages[1] == 99.0
    efs = cohort.endpoint("os")
    assert efs.event.tolist() == [1, 0, 1, 0]
    assert math.isclose(efs.time[0], 365 / 365.25)
    assert "unused" not in cohort.data.columns


# --------------------------------------------------------------------------- CSV


def csv_text(frame: pd.DataFrame = FRAME) -> str:
    out = frame.copy()
    for col in ("dx", "death", "last"):
        out[col] = out[col].dt.strftime("%Y-%m-%d")
    return out.to_csv(index=False)


def test_csv_with_byte_order_mark(cp, tmp_path):
    proj = project(cp, tmp_path, "cohort.csv")
    proj.write("cohort.csv", b"\xef\xbb\xbf" + csv_text().encode("utf-8"))
    cohort = proj.cohort()
    check_typed(cohort)
    assert cohort.data.columns[0] == "id"  # not "\ufeffid"


def test_csv_with_bom_even_when_encoding_says_utf8(cp, tmp_path):
    proj = project(cp, tmp_path, "cohort.csv", cohort_extra='encoding = "utf-8"')
    proj.write("cohort.csv", b"\xef\xbb\xbf" + csv_text().encode("utf-8"))
    check_typed(proj.cohort())


def test_latin1_csv_needs_cohort_encoding(cp, tmp_path):
    frame = FRAME.assign(sex=["Mâle", "Fémme", "Fémme", "Mâle"])
    data = csv_text(frame).encode("latin-1")
    proj = project(cp, tmp_path, "cohort.csv")
    proj.write("cohort.csv", data)
    with pytest.raises(DataError) as info:
        proj.cohort()
    assert "cohort.encoding" in info.value.message and "latin-1" in info.value.message
    assert info.value.file.endswith("cohort.csv")
    proj = project(cp, tmp_path / "ok", "cohort.csv", cohort_extra='encoding = "latin-1"')
    proj.write("cohort.csv", data)
    cohort = proj.cohort()
    assert cohort.variable("sex").levels == ("Fémme", "Mâle")


def test_csv_embedded_newlines_in_quoted_fields(cp, tmp_path):
    proj = project(cp, tmp_path, "cohort.csv")
    text = csv_text().replace("P1,Male,30.0", 'P1,Male,30.0').replace(
        ",x\n", ',"line one\nline two, with a comma"\n')
    assert "line one\nline two" in text
    proj.write("cohort.csv", text)
    check_typed(proj.cohort())
    raw = read_cohort_file(proj.root / "cohort.csv", "csv", None, {})
    assert raw.data["unused"].iloc[0] == "line one\nline two, with a comma"


def test_csv_semicolon_delimiter_and_tsv(cp, tmp_path):
    proj = project(cp, tmp_path, "cohort.csv", cohort_extra='delimiter = ";"')
    proj.write("cohort.csv", csv_text().replace(",", ";"))
    check_typed(proj.cohort())
    proj = project(cp, tmp_path / "tsv", "cohort.tsv")
    proj.write("cohort.tsv", csv_text().replace(",", "\t"))
    check_typed(proj.cohort())


def test_csv_codes_stay_text(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id,code\n1,007\n2,NA\n3,\n")
    raw = read_cohort_file(path, "csv", ["code"], {})
    assert raw.data["code"].tolist()[:2] == ["007", "NA"]  # "NA" is not silently missing
    assert pd.isna(raw.data["code"].iloc[2])


def test_csv_row_with_too_many_fields_is_refused(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id,name,age\n1,Smith,40\n2,Smith, John,50\n")
    with pytest.raises(DataError) as info:
        read_cohort_file(path, "csv", ["id", "age"], {})
    assert info.value.row == 2 and "4 fields but the header has 3" in info.value.message
    # Trailing empty fields (spreadsheet exports) are fine.
    path.write_text("id,name,age\n1,Smith,40,\n2,Jones,50,,\n")
    assert read_cohort_file(path, "csv", ["id", "age"], {}).data["age"].tolist() == ["40", "50"]


# --------------------------------------------------------------------------- Parquet


def test_parquet_reads_only_the_columns_it_needs(cp, tmp_path, monkeypatch):
    proj = project(cp, tmp_path, "cohort.parquet")
    FRAME.to_parquet(proj.root / "cohort.parquet", index=False)
    asked = []
    real = pd.read_parquet

    def spy(path, *args, **kwargs):
        asked.append(kwargs.get("columns"))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pd, "read_parquet", spy)
    check_typed(proj.cohort())
    assert asked == [["age", "death", "dx", "id", "last", "sex"]]
    assert file_columns(proj.root / "cohort.parquet", "parquet", {}) == list(FRAME.columns)


def test_parquet_projection_in_the_reader(tmp_path):
    path = tmp_path / "c.parquet"
    FRAME.to_parquet(path, index=False)
    raw = read_cohort_file(path, "parquet", ["id", "age"], {})
    assert list(raw.data.columns) == ["id", "age"]


# --------------------------------------------------------------------------- Excel


def write_workbook(path):
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["not the data"]}).to_excel(writer, sheet_name="Notes",
                                                          index=False)
        FRAME.to_excel(writer, sheet_name="Patients", index=False)


def test_excel_sheet_by_name(cp, tmp_path):
    proj = project(cp, tmp_path, "cohort.xlsx", cohort_extra='sheet = "Patients"')
    write_workbook(proj.root / "cohort.xlsx")
    check_typed(proj.cohort())


def test_excel_sheet_by_number(cp, tmp_path):
    proj = project(cp, tmp_path, "cohort.xlsx", cohort_extra="sheet = 1")
    write_workbook(proj.root / "cohort.xlsx")
    check_typed(proj.cohort())


def test_excel_wrong_sheet_name_lists_the_sheets(cp, tmp_path):
    proj = project(cp, tmp_path, "cohort.xlsx", cohort_extra='sheet = "patients "')
    write_workbook(proj.root / "cohort.xlsx")
    with pytest.raises(DataError) as info:
        proj.cohort()
    assert info.value.key == "cohort.sheet"
    assert "'Notes', 'Patients'" in info.value.message
    assert info.value.file.endswith("cohort.xlsx")


# --------------------------------------------------------------------------- SPSS and Stata


def spss_frame():
    return pd.DataFrame({
        "id": ["P1", "P2", "P3", "P4"],
        "sex": [1.0, 2.0, 2.0, 1.0],
        "age": [30.0, 99.0, 50.5, 61.0],
        "dx": FRAME["dx"], "death": FRAME["death"], "last": FRAME["last"],
        "unused": [1.0, 2.0, 3.0, 4.0],
    })


def test_spss_value_labels_and_user_missing_codes(cp, tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    proj = project(cp, tmp_path, "cohort.sav")
    pyreadstat.write_sav(spss_frame(), str(proj.root / "cohort.sav"),
                         column_labels={"sex": "Sex at birth", "age": "Age at diagnosis"},
                         variable_value_labels={"sex": {1: "Male", 2: "Female"}},
                         missing_ranges={"age": [99]})
    cohort = proj.cohort()
    check_typed(cohort, age_missing_code=True)  # 99 is user-missing in the file
    assert cohort.label("sex") == "Sex"  # the config's label wins
    assert cohort.label("age") == "Age at diagnosis"  # the file's label otherwise


def test_stata_value_labels(cp, tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    proj = project(cp, tmp_path, "cohort.dta", variables_extra="missing = [99]")
    pyreadstat.write_dta(spss_frame(), str(proj.root / "cohort.dta"),
                         column_labels={"age": "Age at diagnosis"},
                         variable_value_labels={"sex": {1: "Male", 2: "Female"}})
    cohort = proj.cohort()
    check_typed(cohort, age_missing_code=True)  # 99 declared missing in the config
    assert cohort.label("age") == "Age at diagnosis"


def test_readstat_projection(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    path = tmp_path / "c.sav"
    pyreadstat.write_sav(spss_frame(), str(path))
    raw = read_cohort_file(path, "spss", ["id", "age"], {})
    assert list(raw.data.columns) == ["id", "age"]


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("name, fmt", [("a.csv", "csv"), ("a.TSV", "csv"),
                                       ("a.parquet", "parquet"), ("a.xlsx", "excel"),
                                       ("a.sav", "spss"), ("a.dta", "stata")])
def test_format_from_suffix(tmp_path, name, fmt):
    assert guess_format(tmp_path / name, "auto") == fmt


def test_explicit_format_wins_and_unknown_suffix_is_an_error(tmp_path):
    assert guess_format(tmp_path / "a.dat", "csv") == "csv"
    with pytest.raises(DataError, match="cohort.format"):
        guess_format(tmp_path / "a.dat", "auto")


@pytest.mark.parametrize("name, fmt, words", [
    ("c.parquet", "parquet", "not a readable Parquet file"),
    ("c.sav", "spss", "not a readable SPSS file"),
    ("c.dta", "stata", "not a readable Stata file"),
    ("c.xlsx", "excel", "not a readable .xlsx file"),
])
def test_corrupt_files_are_data_errors(tmp_path, name, fmt, words):
    path = tmp_path / name
    path.write_bytes(b"this is not what the suffix says" * 10)
    with pytest.raises(DataError, match=words) as info:
        file_columns(path, fmt, {"sheet": None})
    assert info.value.file == str(path)


def test_datetime_columns_from_binary_formats_are_kept(tmp_path):
    path = tmp_path / "c.parquet"
    FRAME.to_parquet(path, index=False)
    raw = read_cohort_file(path, "parquet", ["dx"], {})
    assert np.issubdtype(raw.data["dx"].dtype, np.datetime64)


def test_csv_header_naming_a_column_twice_is_refused(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id,age,sex,age \n1,40,F,41\n")
    with pytest.raises(DataError, match="names the column 'age' more than once") as info:
        file_columns(path, "csv", {})
    assert info.value.column == "age"


def test_a_large_cohort_file_is_announced_before_it_is_read(project, monkeypatch):
    import io

    from cohortpress.app import load
    from cohortpress.common.progress import Progress

    size = project.root.joinpath("cohort.csv").stat().st_size
    stream = io.StringIO()
    monkeypatch.setattr(load, "LARGE_READ_BYTES", size + 1)
    load.load_cohort(project.plan(), Progress(stream=stream))
    assert "reading" not in stream.getvalue()
    monkeypatch.setattr(load, "LARGE_READ_BYTES", size)
    load.load_cohort(project.plan(), Progress(stream=stream))
    said = stream.getvalue().splitlines()
    reading = [line for line in said if "reading cohort.csv" in line or "reading " in line]
    assert len(reading) == 1 and "Ctrl-C stops the build" in reading[0], said
    assert said.index(reading[0]) < next(i for i, s in enumerate(said) if "loaded" in s and
                                         i > said.index(reading[0]))
