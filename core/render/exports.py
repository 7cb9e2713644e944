"""Tables as Word, Excel and CSV files, for manuscripts and journal submission systems.

Every table is laid out on its grid first (:func:`table_grid`): a header cell spanning two
rows or three columns occupies those grid positions, so the columns line up in every
format. Word gets three-rule tables (a rule above and below the table and one under the
header, spanners with their own short rule), header rows that repeat on each page, rows
that do not split, real indentation and superscript footnote marks; Excel gets one sheet
per table with merged header cells and indented row labels.

A cell of a spreadsheet that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is a formula to Excel and LibreOffice (and a way for hostile data to run one). Every
text of every export (CSV, XLSX and DOCX alike: captions, header and body cells, footnotes,
whatever their origin, config labels, level names or data values) that starts so is written
with a leading apostrophe, OWASP's rule for CSV injection, so that it shows as typed and
never evaluates. The numbers the report prints need no such quote: a negative number is
printed with the Unicode minus (U+2212), which is not a formula trigger, so "−0.3" stays as
it is while the text "-1.5" of a label is quoted.

Every file is dated with the report's date (or ``SOURCE_DATE_EPOCH``) and written with
fixed zip member dates, so identical inputs give identical bytes.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Sequence

from cohortpress.api.blocks import Table, cell_text, table_grid, table_rows
from cohortpress.render.dates import file_stamp

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text that a spreadsheet will show as typed, never evaluate."""
    if text and text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def table_csv(table: Table) -> str:
    """Caption, the grid, then the notes, as CSV; every text :func:`neutralise`-d, since a
    CSV file opens in a spreadsheet at a double click."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise(table.caption)])
    writer.writerows([neutralise(text) for text in row] for row in table_rows(table))
    for note in table.footnotes:
        writer.writerow([neutralise(_note_text(note))])
    return buffer.getvalue()


def _note_text(note) -> str:
    return f"{note.mark} {note.text}" if note.mark else note.text


def _numbers(tables: Sequence, numbers: Sequence[int] | None) -> list[int]:
    return list(numbers) if numbers is not None else list(range(1, len(tables) + 1))


# --------------------------------------------------------------------------- Excel


def _sheet_title(stem: str, used: set[str]) -> str:
    base = "".join(c if c not in '[]:*?/\\' else "_" for c in stem)[:31] or "table"
    title, n = base, 2
    while title.lower() in used:
        suffix = f"-{n}"
        title, n = base[:31 - len(suffix)] + suffix, n + 1
    used.add(title.lower())
    return title


def write_xlsx(tables: Sequence[tuple[str, Table]], path: Path, *,
               numbers: Sequence[int] | None = None, date: dt.datetime | None = None) -> None:
    """One worksheet per table, named after its file stem: "Table N. caption" in A1, the
    header from row 2, then the body and the notes. ``numbers`` are the tables' numbers in
    the report (1, 2, ... by default)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, Side
    from openpyxl.utils import get_column_letter

    stamp = date or file_stamp(None)
    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.creator = "cohortpress"
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    thin = Side(style="thin")
    used: set[str] = set()
    for number, (stem, table) in zip(_numbers(tables, numbers), tables):
        sheet = workbook.create_sheet(_sheet_title(stem, used))
        sheet.append([neutralise(f"Table {number}. {table.caption}")])
        sheet["A1"].font = Font(bold=True)
        grid = table_grid(table)
        top = 2
        widths: dict[int, int] = {}
        for r, grid_row in enumerate(grid):
            excel_row = top + r
            for c, slot in enumerate(grid_row):
                if slot.cell is None:
                    continue
                text = cell_text(slot.cell)
                target = sheet.cell(row=excel_row, column=c + 1, value=neutralise(text))
                horizontal = slot.cell.align if slot.cell.align in ("left", "right") else "center"
                if slot.header:
                    target.font = Font(bold=True)
                    target.alignment = Alignment(horizontal=horizontal, vertical="bottom",
                                                 wrap_text=True)
                elif slot.first_column:
                    target.alignment = Alignment(horizontal="left", indent=slot.row.indent)
                else:
                    target.alignment = Alignment(horizontal=horizontal)
                if slot.cell.colspan > 1 or slot.cell.rowspan > 1:
                    sheet.merge_cells(start_row=excel_row, start_column=c + 1,
                                      end_row=excel_row + max(slot.cell.rowspan, 1) - 1,
                                      end_column=c + max(slot.cell.colspan, 1))
                if slot.cell.colspan == 1:
                    widths[c] = max(widths.get(c, 0), len(text) + 2 * slot.row.indent)
        # Three rules: above the header, below it, below the body.
        last = top + len(grid) - 1
        header_last = top + len(table.header) - 1
        for c in range(len(grid[0]) if grid else 0):
            column = c + 1
            _rule(sheet.cell(row=top, column=column), top=thin)
            if table.header:
                _rule(sheet.cell(row=header_last, column=column), bottom=thin)
            _rule(sheet.cell(row=last, column=column), bottom=thin)
        for note in table.footnotes:
            sheet.append([neutralise(_note_text(note))])
        for c, width in widths.items():
            sheet.column_dimensions[get_column_letter(c + 1)].width = min(max(width + 2, 10), 60)
        if table.header:
            sheet.freeze_panes = sheet.cell(row=header_last + 1, column=2)
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.page_setup.fitToHeight = 0
    _save_zip(workbook.save, path, stamp)


def _rule(cell, top=None, bottom=None) -> None:
    from openpyxl.styles import Border

    old = cell.border
    cell.border = Border(left=old.left, right=old.right, top=top or old.top,
                         bottom=bottom or old.bottom)


# --------------------------------------------------------------------------- Word

#: Rule widths in eighths of a point (Word's unit): 1 pt outer rules, 0.5 pt inner ones.
OUTER_RULE, INNER_RULE = 8, 4


def write_docx(tables: Sequence[tuple[str, Table]], path: Path, title: str, *,
               numbers: Sequence[int] | None = None, date: dt.datetime | None = None) -> None:
    """Tables in one Word document, each on its own page, caption above and notes below.

    The paragraph styles "CP Table Caption", "CP Table Text" and "CP Table Note" carry the
    typography, so a journal's own fonts are one style change away.
    """
    from docx import Document

    stamp = date or file_stamp(None)
    document = Document()
    properties = document.core_properties
    properties.title = _core_title(title)
    properties.author = "cohortpress"
    properties.last_modified_by = "cohortpress"
    properties.created = stamp
    properties.modified = stamp
    properties.revision = 1
    styles = _docx_styles(document)
    for i, (number, (_, table)) in enumerate(zip(_numbers(tables, numbers), tables)):
        caption = document.add_paragraph(style=styles["caption"])
        if i:
            caption.paragraph_format.page_break_before = True
        label = caption.add_run(f"Table {number}. ")
        label.bold = True
        caption.add_run(table.caption)
        _docx_table(document, table, styles)
        for note in table.footnotes:
            paragraph = document.add_paragraph(style=styles["note"])
            if note.mark:
                mark = paragraph.add_run(neutralise(note.mark))
                mark.font.superscript = True
                paragraph.add_run("\u2009" + note.text)
            else:
                paragraph.add_run(neutralise(note.text))
    _save_zip(document.save, path, stamp)


def _core_title(title: str) -> str:
    """The document's title property: one line, at most the 255 characters Word allows."""
    text = " ".join(neutralise(title).split())
    return text if len(text) <= 255 else text[:254] + "\u2026"


def _docx_styles(document) -> dict[str, object]:
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Pt

    normal = document.styles["Normal"]
    normal.font.name = "Times New Roman"
    normal.font.size = Pt(10)
    made = {}
    for key, name, size, after, keep in (("caption", "CP Table Caption", 10, 6, True),
                                         ("text", "CP Table Text", 9, 0, False),
                                         ("note", "CP Table Note", 8, 1, False)):
        style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = normal
        style.font.size = Pt(size)
        style.paragraph_format.space_before = Pt(0)
        style.paragraph_format.space_after = Pt(after)
        style.paragraph_format.line_spacing = 1.0
        style.paragraph_format.keep_with_next = keep
        made[key] = style
    return made


def _docx_table(document, table: Table, styles) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt
    from docx.table import _Cell

    grid = table_grid(table)
    width = len(grid[0]) if grid else 1
    docx_table = document.add_table(rows=0, cols=width)
    tbl = docx_table._tbl
    tbl_pr = tbl.tblPr
    tbl_w = tbl_pr.find(qn("w:tblW"))
    if tbl_w is None:
        tbl_w = OxmlElement("w:tblW")
        tbl_pr.append(tbl_w)
    tbl_w.set(qn("w:type"), "pct")
    tbl_w.set(qn("w:w"), "5000")
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "bottom"):
        borders.append(_border(side, OUTER_RULE))
    tbl_pr.append(borders)
    align = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER,
             "right": WD_ALIGN_PARAGRAPH.RIGHT}
    n_header = len(table.header)
    text_style = styles["text"].style_id
    # Which grid positions are covered by a row span from above (they need a vMerge cell).
    continued: dict[tuple[int, int], int] = {}
    for r, grid_row in enumerate(grid):
        for c, slot in enumerate(grid_row):
            if slot.cell is not None and slot.cell.rowspan > 1:
                for rr in range(r + 1, r + slot.cell.rowspan):
                    continued[(rr, c)] = max(slot.cell.colspan, 1)
    for r, grid_row in enumerate(grid):
        tr = tbl.add_tr()
        tr_pr = tr.get_or_add_trPr()
        tr_pr.append(OxmlElement("w:cantSplit"))
        header = r < n_header
        if header:
            tr_pr.append(OxmlElement("w:tblHeader"))
        last_header = r == n_header - 1
        first_body = r == n_header
        c = 0
        while c < width:
            slot = grid_row[c]
            if (r, c) in continued:
                span = continued[(r, c)]
                tc = tr.add_tc()
                tc_pr = tc.get_or_add_tcPr()
                if span > 1:
                    tc_pr.append(_grid_span(span))
                merge = OxmlElement("w:vMerge")
                tc_pr.append(merge)
                if last_header:
                    tc_pr.append(_cell_borders(bottom=INNER_RULE))
                tc.p_lst[0].style = text_style
                c += span
                continue
            cell = slot.cell
            span = max(cell.colspan, 1) if cell is not None else 1
            tc = tr.add_tc()
            tc_pr = tc.get_or_add_tcPr()
            if span > 1:
                tc_pr.append(_grid_span(span))
            if cell is not None and cell.rowspan > 1:
                merge = OxmlElement("w:vMerge")
                merge.set(qn("w:val"), "restart")
                tc_pr.append(merge)
            bottom = INNER_RULE if (last_header or (header and span > 1 and cell is not None
                                                    and cell.text)) else None
            top = INNER_RULE if slot.row.role == "total" and not header else None
            if bottom or top:
                tc_pr.append(_cell_borders(bottom=bottom, top=top))
            valign = OxmlElement("w:vAlign")
            valign.set(qn("w:val"), "bottom")
            tc_pr.append(valign)
            paragraph = _Cell(tc, docx_table).paragraphs[0]
            paragraph._p.style = text_style  # by id: assigning the style object looks it up
            if cell is not None:
                first = c == 0
                paragraph.alignment = align["left" if first and not header else cell.align]
                if first and slot.row.indent and not header:
                    paragraph.paragraph_format.left_indent = Pt(9 * slot.row.indent)
                if first_body:
                    paragraph.paragraph_format.space_before = Pt(2)
                run = paragraph.add_run(neutralise(cell.text))
                run.bold = header or None
                if cell.marks:
                    mark = paragraph.add_run(",".join(cell.marks))
                    mark.font.superscript = True
            c += span


def _grid_span(n: int):
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    element = OxmlElement("w:gridSpan")
    element.set(qn("w:val"), str(n))
    return element


def _border(side: str, size: int):
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    element = OxmlElement(f"w:{side}")
    element.set(qn("w:val"), "single")
    element.set(qn("w:sz"), str(size))
    element.set(qn("w:space"), "0")
    element.set(qn("w:color"), "000000")
    return element


def _cell_borders(bottom: int | None = None, top: int | None = None):
    from docx.oxml import OxmlElement

    element = OxmlElement("w:tcBorders")
    if top:
        element.append(_border("top", top))
    if bottom:
        element.append(_border("bottom", bottom))
    return element


# --------------------------------------------------------------------------- zip files


def _save_zip(save, path: Path, stamp: dt.datetime) -> None:
    """Save a zip container through ``save(file)`` and write it to ``path`` with fixed member
    dates, so identical inputs give identical bytes; pin the document dates that the
    libraries stamp with the current time."""
    import zipfile

    buffer = io.BytesIO()
    save(buffer)
    buffer.seek(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    when = max(stamp, dt.datetime(1980, 1, 1))  # the earliest date a zip file can hold
    with zipfile.ZipFile(buffer) as source, \
            zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, _pin_core_dates(info.filename, source.read(info.filename),
                                                   stamp))


def _pin_core_dates(name: str, data: bytes, stamp: dt.datetime) -> bytes:
    """openpyxl stamps docProps/core.xml with the time of saving; use the report's date."""
    if name != "docProps/core.xml":
        return data
    import re

    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode("ascii")
    return re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                  rb"\g<1>" + iso + rb"\g<2>", data)


# --------------------------------------------------------------------------- all of them


COMBINED = "tables"


def write_table_exports(tables: Sequence[tuple[str, Table]], folder: Path, kinds: set[str],
                        title: str, date_iso: str | None = None) -> list[str]:
    """Write the Word and Excel exports of ``tables`` into ``folder``; returns the file names.

    Every table gets its own ``<stem>.docx`` and ``<stem>.xlsx`` (journal submission systems
    ask for one file per table), and all of them are gathered in ``tables.docx`` and
    ``tables.xlsx``. Tables are numbered as in the report.
    """
    if not tables:
        return []
    stamp = file_stamp(date_iso)
    written = []
    numbers = list(range(1, len(tables) + 1))
    for kind in ("xlsx", "docx"):
        if kind not in kinds:
            continue
        for number, (stem, table) in zip(numbers, tables):
            name = f"{stem}-table" if stem == COMBINED else stem
            _write_kind(kind, [(stem, table)], folder / f"{name}.{kind}", title, [number], stamp)
            written.append(f"{name}.{kind}")
        _write_kind(kind, tables, folder / f"{COMBINED}.{kind}", title, numbers, stamp)
        written.append(f"{COMBINED}.{kind}")
    return written


def _write_kind(kind, tables, path, title, numbers, stamp) -> None:
    if kind == "xlsx":
        write_xlsx(tables, path, numbers=numbers, date=stamp)
    else:
        write_docx(tables, path, title, numbers=numbers, date=stamp)
