"""A table as the HTML template sets it: decimal-aligned numeric columns, unbreakable words.

WeasyPrint has no ``text-align: "."``, so a numeric column is set as four table columns: an
empty pad, the integer part of each cell's first number right-aligned ("0", "<0", "12"),
the rest left-aligned (".047", ".63 (0.29–1.34)", " (34%)") with no padding between the two,
and another empty pad. The table's own layout then lines the decimal points (or, for
counts, the units digits) up in every row, whatever the fonts and widths; no width is
guessed. The two halves (a nominal CSS width) and the label column (the width of its
longest label, measured with the bundled fonts, :func:`label_width_em`) are "constrained",
so the spare width of a full-width table goes to the pads, equally (CSS Tables 3 gives
excess width to unconstrained columns first): each column of numbers sits centred under its
header, and the labels keep their natural width. A
cell of such a column that holds no number ("not estimable", "n.a.", an en dash) spans all
four, centred; header cells span the columns they cover.

Labels and headers break only at spaces: a word with a hyphen, slash or en dash
("D-/penicillamine", "p-value", "6–12") and a parenthesis with the word before it
("HR (95% CI)", "n (%)") are each set in a span that does not wrap. A non-breaking hyphen
(U+2011) would do it for the hyphen alone, but the bundled Liberation fonts have no glyph for
it.

Only the HTML changes: the :class:`~cohortpress.api.blocks.Table` and its exports (CSV, XLSX,
DOCX) keep one column per column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup, escape

from cohortpress.api.blocks import Cell, Table, table_grid

#: The first number of a numeric cell: an optional comparison or sign, the integer digits
#: (group separators allowed), then the rest from the decimal point on.
_NUMERIC = re.compile(r"^(?P<int>[<>\u2264\u2265]?[\u2212\-+]?\d[\d,]*)(?P<rest>.*)$", re.S)
#: A parenthesis (kept whole, with the word before it) or a run of non-space characters.
_TOKENS = re.compile(r"(?:\S+ )?\([^()]*\)\S*|\S+")
_BREAKS = re.compile(r"[-/\u2013\u2014]")
#: Longer runs (a URL, a long code) may still break, rather than push the table off the page.
MAX_UNBROKEN = 24


@dataclass(frozen=True)
class HtmlCell:
    """One ``<th>`` or ``<td>`` of the HTML table.

    ``html`` is the escaped content (with ``nowrap`` spans); ``part`` is ``"pad"``,
    ``"int"`` or ``"rest"`` for the pieces of a decimal-aligned cell, ``"label"`` for the
    first column, ``""`` otherwise.
    """

    tag: str
    html: Markup
    colspan: int
    rowspan: int
    align: str
    marks: tuple[str, ...] = ()
    part: str = ""
    spanner: bool = False
    scope: str = ""


@dataclass(frozen=True)
class HtmlRow:
    cells: tuple[HtmlCell, ...]
    role: str
    indent: int


@dataclass(frozen=True)
class HtmlTable:
    """The HTML rows; ``label_width`` the label column's width in em of the table's font
    (``None`` when it cannot be measured)."""

    header: tuple[HtmlRow, ...]
    body: tuple[HtmlRow, ...]
    aligned: tuple[bool, ...]
    label_width: float | None = None


#: The faces a label may be set in (the journal style's serif, the compact style's sans,
#: bold for compact's variable headings): the label column takes the widest.
_FACES = ("LiberationSerif-Regular.ttf", "LiberationSans-Regular.ttf",
          "LiberationSans-Bold.ttf")
#: Per indent level, the left padding of a label in em (base.css: 14, 23, 32pt at 9pt),
#: and the cell's own padding on both sides.
_INDENT_EM = {0: 0.56, 1: 1.56, 2: 2.56, 3: 3.56}
_PADDING_EM = 0.56 * 2


@lru_cache(maxsize=None)
def _advances(face: str) -> tuple[dict[int, float], float] | None:
    """Each character's advance width in em of a bundled font, and the fallback width."""
    try:
        from fontTools.ttLib import TTFont

        path = Path(__file__).resolve().parents[1] / "templates" / "static" / "fonts" / face
        if not path.exists():
            from importlib.resources import files

            path = Path(str(files("cohortpress.templates") / "static" / "fonts" / face))
        font = TTFont(str(path), lazy=True)
    except Exception:  # a missing font or fontTools: no measured width, the CSS default
        return None
    scale = 1.0 / font["head"].unitsPerEm
    metrics = font["hmtx"].metrics
    widths = {code: metrics[name][0] * scale for code, name in font.getBestCmap().items()}
    return widths, widths.get(ord("0"), 0.5)


def text_width_em(text: str, face: str) -> float | None:
    """The advance width of ``text`` in em of ``face`` (a bundled font file name)."""
    found = _advances(face)
    if found is None:
        return None
    widths, fallback = found
    return sum(widths.get(ord(c), fallback) for c in text)


def label_width_em(labels: list[tuple[str, int]]) -> float | None:
    """The width in em that the longest of ``labels`` (text, indent level) needs on one
    line in the widest bundled face, with its indent and padding, plus 3% to spare."""
    width = 0.0
    for text, indent in labels:
        measured = [text_width_em(text, face) for face in _FACES]
        if any(m is None for m in measured):
            return None
        width = max(width, max(measured) + _INDENT_EM.get(indent, 3.56) + _PADDING_EM)
    return round(width * 1.03, 2) if width else None


def unbroken(text: str) -> Markup:
    """``text`` escaped, each word that holds a hyphen, slash or dash, and each
    parenthesis with the word before it, in a span that does not wrap (up to
    :data:`MAX_UNBROKEN` characters)."""
    out = []
    for token in _TOKENS.findall(text):
        if len(token) <= MAX_UNBROKEN and (" " in token or _BREAKS.search(token)):
            out.append(Markup('<span class="nw">{}</span>').format(token))
        else:
            out.append(escape(token))
    if not out:
        return escape(text)
    return Markup(" ").join(out)


def numeric_parts(text: str) -> tuple[str, str] | None:
    """A numeric cell's integer part and the rest (``("0", ".047")``), or ``None``."""
    match = _NUMERIC.match(text)
    return (match["int"], match["rest"]) if match else None


def aligned_columns(table: Table) -> list[bool]:
    """Which columns are set decimal-aligned: not the first (the labels), and those whose
    body cells include a number."""
    grid = table_grid(table)
    width = len(grid[0]) if grid else 0
    aligned = [False] * width
    for row in grid:
        for c, slot in enumerate(row):
            if c and not slot.header and slot.cell is not None and slot.cell.colspan == 1 \
                    and numeric_parts(slot.cell.text):
                aligned[c] = True
    return aligned


def fractional_columns(table: Table) -> list[bool]:
    """Which columns have a body cell with a decimal part (an estimate, a percentage)."""
    grid = table_grid(table)
    found = [False] * (len(grid[0]) if grid else 0)
    for row in grid:
        for c, slot in enumerate(row):
            if c and not slot.header and slot.cell is not None and slot.cell.colspan == 1:
                parts = numeric_parts(slot.cell.text)
                found[c] = found[c] or (parts is not None and parts[1].startswith("."))
    return found


def html_table(table: Table) -> HtmlTable:
    """The HTML rows of ``table``: numeric columns split in two, labels unbroken.

    A bare count in a column of estimates (a number at risk under a landmark's cumulative
    incidence) is centred under the header rather than lined up with the estimates' units
    digit, which would set it at the left of its column."""
    aligned = aligned_columns(table)
    fractional = fractional_columns(table)
    grid = table_grid(table)
    rows = [(row, header) for row, header in
            [(table.header[i], True) for i in range(len(table.header))]
            + [(r, False) for r in table.body]]
    header, body = [], []
    for r, (row, is_header) in enumerate(rows):
        cells: list[HtmlCell] = []
        for c, slot in enumerate(grid[r]):
            if slot.cell is None:
                continue
            cells += _cells(slot.cell, c, aligned, is_header, fractional)
        (header if is_header else body).append(HtmlRow(tuple(cells), row.role, row.indent))
    labels = [(slot.cell.text, slot.row.indent) for row in grid for slot in row[:1]
              if slot.cell is not None and slot.cell.colspan == 1]
    return HtmlTable(tuple(header), tuple(body), tuple(aligned),
                     label_width_em(labels) if any(aligned) else None)


#: HTML columns of a decimal-aligned column: pad, integer part, rest, pad.
SPLIT = 4


def _cells(cell: Cell, column: int, aligned: list[bool], is_header: bool,
           fractional: list[bool] | None = None) -> list[HtmlCell]:
    covered = aligned[column:column + max(cell.colspan, 1)]
    colspan = sum(SPLIT if a else 1 for a in covered)
    if is_header:
        return [HtmlCell("th", unbroken(cell.text), colspan, cell.rowspan, cell.align,
                         cell.marks, part="label" if column == 0 else "",
                         spanner=cell.colspan > 1 and bool(cell.text), scope="col")]
    if column == 0:
        return [HtmlCell("th", unbroken(cell.text), colspan, cell.rowspan, cell.align,
                         cell.marks, part="label", scope="row")]
    parts = numeric_parts(cell.text) if cell.colspan == 1 and aligned[column] else None
    if parts is not None and not parts[1] and fractional and fractional[column]:
        parts = None
    if parts is None:
        return [HtmlCell("td", unbroken(cell.text), colspan, cell.rowspan,
                         "center" if aligned[column] else cell.align, cell.marks)]
    whole, rest = parts
    # A leading space would collapse at the start of the cell: keep it, unbreakable.
    rest = "\u00a0" + rest[1:] if rest.startswith(" ") else rest
    return [HtmlCell("td", Markup(""), 1, cell.rowspan, "left", part="pad"),
            HtmlCell("td", escape(whole), 1, cell.rowspan, "right", part="int"),
            HtmlCell("td", escape(rest), 1, cell.rowspan, "left", cell.marks, part="rest"),
            HtmlCell("td", Markup(""), 1, cell.rowspan, "left", part="pad")]
