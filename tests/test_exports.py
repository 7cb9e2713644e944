"""Tables as CSV, Excel and Word, one table at a time (no report is built here).

The table used is shaped like the crosstab's: a row-header cell and a "Total" cell spanning
both header rows, a spanner over the group columns, indented rows, footnote marks, a totals
row, and hostile text in a cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import pytest

from cohortpress.render.exports import (neutralise, table_csv, table_grid, write_docx,
                                 write_table_exports, write_xlsx)
from cohortpress.api.blocks import Cell, Footnote, Row, Table

DATE = dt.datetime(2024, 5, 31)


def crosstab_like(caption: str = "Partners by arm.", hostile: str = "=HYPERLINK(\"x\")") -> Table:
    header = (
        Row((Cell("Partner", align="left", rowspan=2), Cell("Arm", colspan=2),
             Cell("Total", rowspan=2))),
        Row((Cell("A n (%)"), Cell("B n (%)", marks=("a",)))),
    )
    body = (
        Row.of("Chromosome 4", "11 (69%)", "1 (9%)", "12 (44%)", role="group"),
        Row.of("t(4;11)", "10 (63%)", "1 (9%)", "11 (41%)", indent=1),
        Row.of(hostile, "1 (6%)", "0 (0%)", "1 (4%)", indent=1),
        Row((Cell("p", align="left"), Cell("0.004", marks=("b",)), Cell("-1.5"),
             Cell("+2"))),
        Row.of("Total", "16 (100%)", "11 (100%)", "27 (100%)", role="total"),
    )
    notes = (Footnote("One partner not specified.", "a"), Footnote("Fisher's exact test.", "b"),
             Footnote("@note: percentages are of column totals."))
    return Table(caption, header, body, notes)


# --------------------------------------------------------------------------- the grid


def test_the_grid_honours_row_and_column_spans():
    grid = table_grid(crosstab_like())
    texts = [[slot.cell.text if slot.cell else None for slot in row] for row in grid]
    assert texts[0] == ["Partner", "Arm", None, "Total"]
    # The second header row starts under "Arm", not under "Partner": the row span is skipped.
    assert texts[1] == [None, "A n (%)", "B n (%)", None]
    assert texts[2] == ["Chromosome 4", "11 (69%)", "1 (9%)", "12 (44%)"]
    assert all(len(row) == 4 for row in grid)


def test_csv_puts_every_header_in_its_column():
    rows = list(csv.reader(io.StringIO(table_csv(crosstab_like()))))
    assert rows[0] == ["Partners by arm."]
    assert rows[1] == ["Partner", "Arm", "", "Total"]
    assert rows[2] == ["", "A n (%)", "B n (%)[a]", ""]
    assert rows[4] == ["  t(4;11)", "10 (63%)", "1 (9%)", "11 (41%)"]
    # A CSV opens in a spreadsheet at a double click: formula triggers are quoted there too.
    assert rows[6] == ["p", "0.004[b]", "'-1.5", "'+2"]
    assert rows[-3:] == [["a One partner not specified."], ["b Fisher's exact test."],
                         ["'@note: percentages are of column totals."]]


# --------------------------------------------------------------------------- Excel


@pytest.mark.parametrize("text, shown", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1.5", "'-1.5"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("\u22121.5", "\u22121.5"),  # the Unicode minus the report prints is no formula
    ("0.004", "0.004"), ("n (%)", "n (%)"), ("", ""), ("a=b", "a=b"),
])
def test_neutralise(text, shown):
    assert neutralise(text) == shown


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    from openpyxl import load_workbook

    path = tmp_path_factory.mktemp("xlsx") / "t.xlsx"
    write_xlsx([("partners", crosstab_like()), ("other", crosstab_like("Second."))], path,
               numbers=[3, 4], date=DATE)
    return path, load_workbook(path)


def test_xlsx_sheets_captions_and_spans(workbook):
    _, book = workbook
    assert book.sheetnames == ["partners", "other"]
    sheet = book["partners"]
    assert sheet["A1"].value == "Table 3. Partners by arm."
    assert book["other"]["A1"].value == "Table 4. Second."
    assert [c.value for c in sheet[2]] == ["Partner", "Arm", None, "Total"]
    assert [c.value for c in sheet[3]] == [None, "A n (%)", "B n (%)[a]", None]
    assert {str(r) for r in sheet.merged_cells.ranges} == {"A2:A3", "B2:C2", "D2:D3"}
    assert sheet["A5"].value == "t(4;11)" and sheet["A5"].alignment.indent == 1
    assert sheet["B4"].value == "11 (69%)"


def test_xlsx_never_holds_a_formula(workbook):
    _, book = workbook
    sheet = book["partners"]
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert cells and all(c.data_type != "f" for c in cells)
    values = {c.value for c in cells}
    assert "'=HYPERLINK(\"x\")" in values
    assert {"'-1.5", "'+2", "'@note: percentages are of column totals."} <= values


def test_xlsx_is_dated_with_the_report(workbook):
    path, book = workbook
    assert book.properties.created == DATE
    with zipfile.ZipFile(path) as archive:
        core = archive.read("docProps/core.xml").decode()
        assert all(info.date_time == (2024, 5, 31, 0, 0, 0) for info in archive.infolist())
    assert "2024-05-31T00:00:00Z" in core


# --------------------------------------------------------------------------- Word


@pytest.fixture(scope="module")
def word(tmp_path_factory):
    from docx import Document

    path = tmp_path_factory.mktemp("docx") / "t.docx"
    write_docx([("partners", crosstab_like()), ("other", crosstab_like("Second."))], path,
               "A report", numbers=[3, 4], date=DATE)
    return path, Document(path)


def test_docx_tables_captions_and_notes(word):
    _, document = word
    assert len(document.tables) == 2
    captions = [p.text for p in document.paragraphs if p.text.startswith("Table ")]
    assert captions == ["Table 3. Partners by arm.", "Table 4. Second."]
    table = document.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["Partner", "Arm", "Arm", "Total"]
    assert [c.text for c in table.rows[1].cells] == ["Partner", "A n (%)", "B n (%)a", "Total"]
    assert [c.text for c in table.rows[2].cells] == ["Chromosome 4", "11 (69%)", "1 (9%)",
                                                     "12 (44%)"]
    # A Word table pasted into a spreadsheet evaluates its cells: quoted as in Excel.
    assert table.rows[4].cells[0].text == "'=HYPERLINK(\"x\")"
    notes = [p.text for p in document.paragraphs if "Fisher" in p.text]
    assert notes == ["b\u2009Fisher's exact test.", "b\u2009Fisher's exact test."]


def test_docx_is_set_as_a_journal_table(word):
    from docx.oxml.ns import qn

    _, document = word
    table = document.tables[0]
    rows = table._tbl.tr_lst
    # Header rows repeat on each page; no row splits across pages.
    assert [tr.trPr.find(qn("w:tblHeader")) is not None for tr in rows] == \
        [True, True, False, False, False, False, False]
    assert all(tr.trPr.find(qn("w:cantSplit")) is not None for tr in rows)
    # Three rules: the table's top and bottom, and the bottom of the last header row.
    borders = table._tbl.tblPr.find(qn("w:tblBorders"))
    assert {child.tag.split("}")[1] for child in borders} == {"top", "bottom"}
    last_header = rows[1].tc_lst
    assert all(tc.tcPr.find(qn("w:tcBorders")) is not None for tc in last_header)
    # The spanner covers two grid columns and has its own rule.
    spanner = rows[0].tc_lst[1]
    assert spanner.tcPr.find(qn("w:gridSpan")).get(qn("w:val")) == "2"
    assert spanner.tcPr.find(qn("w:tcBorders")) is not None
    # Indentation is real indentation, marks are superscript.
    indented = table.rows[3].cells[0].paragraphs[0]
    assert indented.paragraph_format.left_indent is not None and indented.text == "t(4;11)"
    mark = table.rows[5].cells[1].paragraphs[0].runs[-1]
    assert mark.text == "b" and mark.font.superscript
    # The second table starts on a new page.
    second_caption = [p for p in document.paragraphs if p.text.startswith("Table 4.")][0]
    assert second_caption.paragraph_format.page_break_before


def test_docx_properties_are_fixed(word):
    path, document = word
    assert document.core_properties.title == "A report"
    utc = DATE.replace(tzinfo=dt.timezone.utc)
    assert document.core_properties.created == utc
    assert document.core_properties.modified == utc
    with zipfile.ZipFile(path) as archive:
        assert all(info.date_time == (2024, 5, 31, 0, 0, 0) for info in archive.infolist())


# --------------------------------------------------------------------------- all of them


def test_exports_are_byte_identical_when_written_again(tmp_path):
    tables = [("partners", crosstab_like()), ("tables", crosstab_like("Named tables."))]
    first = write_table_exports(tables, tmp_path / "one", {"xlsx", "docx"}, "T", "2024-05-31T00:00:00Z")
    second = write_table_exports(tables, tmp_path / "two", {"xlsx", "docx"}, "T", "2024-05-31T00:00:00Z")
    # One file per table and one with all of them; a section named "tables" does not take
    # the place of the combined file.
    assert first == second == ["partners.xlsx", "tables-table.xlsx", "tables.xlsx",
                               "partners.docx", "tables-table.docx", "tables.docx"]
    for name in first:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    later = write_table_exports(tables, tmp_path / "three", {"xlsx"}, "T", "2025-01-01T00:00:00Z")
    assert later == ["partners.xlsx", "tables-table.xlsx", "tables.xlsx"]
    assert (tmp_path / "three" / "tables.xlsx").read_bytes() != \
        (tmp_path / "one" / "tables.xlsx").read_bytes()  # the date is what differs


def test_no_tables_no_files(tmp_path):
    assert write_table_exports([], tmp_path, {"xlsx", "docx"}, "T") == []
    assert not any(tmp_path.iterdir())
