"""Tables as Word and Excel files, for manuscripts and journal submission systems.

A cell of a spreadsheet that starts with ``=``, ``+``, ``-`` or ``@`` is a formula to Excel
(and a way for hostile data to run one). Such text is written with a leading apostrophe
quote prefix so that it displays as typed and never evaluates; numbers the report shows
with a minus sign use the Unicode minus, which is not a formula trigger.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from cohortpress.model import Table

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text that a spreadsheet will show as typed, never evaluate."""
    if text and text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def _sheet_title(stem: str, used: set[str]) -> str:
    base = "".join(c if c not in '[]:*?/\\' else "_" for c in stem)[:31] or "table"
    title, n = base, 2
    while title.lower() in used:
        suffix = f"-{n}"
        title, n = base[:31 - len(suffix)] + suffix, n + 1
    used.add(title.lower())
    return title


def write_xlsx(tables: Sequence[tuple[str, Table]], path: Path) -> None:
    """One worksheet per table: caption, header, body, footnotes."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    used: set[str] = set()
    for stem, table in tables:
        sheet = workbook.create_sheet(_sheet_title(stem, used))
        sheet.append([neutralise(table.caption)])
        sheet["A1"].font = Font(bold=True)
        n_header = len(table.header)
        for i, row in enumerate(table.as_rows()):
            sheet.append([neutralise(text) for text in row])
            if i < n_header:
                for cell in sheet[sheet.max_row]:
                    cell.font = Font(bold=True)
                    cell.alignment = Alignment(horizontal="center")
        for note in table.footnotes:
            sheet.append([neutralise(f"{note.mark} {note.text}" if note.mark else note.text)])
        sheet.column_dimensions["A"].width = 42
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    _fix_zip_dates(path)


def write_docx(tables: Sequence[tuple[str, Table]], path: Path, title: str) -> None:
    """All tables in one Word document, each with its caption above and notes below."""
    from docx import Document
    from docx.shared import Pt

    document = Document()
    document.core_properties.title = title
    document.core_properties.author = "cohortpress"
    document.core_properties.created = _epoch()
    document.core_properties.modified = _epoch()
    document.core_properties.last_modified_by = "cohortpress"
    document.core_properties.revision = 1
    for n, (stem, table) in enumerate(tables, 1):
        caption = document.add_paragraph()
        run = caption.add_run(f"Table {n}. ")
        run.bold = True
        caption.add_run(table.caption)
        rows = table.as_rows()
        grid = document.add_table(rows=len(rows), cols=len(rows[0]) if rows else 1)
        grid.style = "Table Grid"
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                cell = grid.cell(r, c)
                cell.text = text
                for paragraph in cell.paragraphs:
                    for run in paragraph.runs:
                        run.font.size = Pt(9)
                        run.bold = r < len(table.header)
        for note in table.footnotes:
            p = document.add_paragraph(f"{note.mark} {note.text}" if note.mark else note.text)
            for run in p.runs:
                run.font.size = Pt(8)
        document.add_paragraph()
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(path)
    _fix_zip_dates(path)


def _epoch():
    import datetime as dt

    return dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc).replace(tzinfo=None)


def _fix_zip_dates(path: Path) -> None:
    """Rewrite a zip container with fixed member dates, so identical inputs give identical bytes."""
    import zipfile

    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info, data in members:
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, _strip_xlsx_dates(info.filename, data))


def _strip_xlsx_dates(name: str, data: bytes) -> bytes:
    """openpyxl stamps docProps/core.xml with the current time; pin it."""
    if name != "docProps/core.xml":
        return data
    import re

    return re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                  rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
