"""Whether a table fits the text width, and the font size that makes it fit.

Since labels, numbers and hyphenated header words do not wrap (:mod:`.tablehtml`), a table's
narrowest possible width is fixed by its content, and a table with many columns (two or
three competing causes with three landmarks each, a Table 1 with five groups, the overall
column, the p-value and the SMD) can be wider than the page: WeasyPrint then lets it run off
the right edge. The narrowest width is measured here from the bundled fonts' advance widths
(as the label column is), column by column: a body cell's unbreakable pieces, a header's
longest unbreakable word in bold, with the cells' padding. When it exceeds the text block,
the table is set in a smaller size, by quarter points, down to :data:`MIN_FONT_PT` (first
with its labels on one line in their measured column, then with the labels wrapping at
spaces); a table that does not fit even then is reported as a build warning, so it is never
clipped in silence. The measure errs wide (4% to spare): a table that would just fit may be
set a quarter point smaller, never one that would not fit left at its size. Written here
because WeasyPrint has no shrink-to-fit for tables and its layout is only known after the
PDF is rendered.

The text widths and table sizes of the built-in styles are those of ``base.css`` (A4, 20 mm
margins, tables in 9 pt) and ``compact.css`` (14 mm margins, tables in 8 pt); a user's own
stylesheet that changes them is not seen here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cohortpress.api.blocks import Table, table_grid
from cohortpress.render.tablehtml import (
    MAX_UNBROKEN, _BREAKS, _TOKENS, aligned_columns, label_width_em, numeric_parts,
    text_width_em,
)

MM = 72 / 25.4


@dataclass(frozen=True)
class StyleMeasure:
    """A built-in style's text width, table font size, cell padding (left and right, in
    points) and the faces of its table's text and headers."""

    text_width_pt: float
    font_pt: float
    cell_padding_pt: float
    body_faces: tuple[str, ...]
    head_faces: tuple[str, ...]


#: base.css (A4, 20 mm margins, tables in 9 pt serif, cells padded 5 pt) and compact.css
#: (14 mm margins, 8 pt sans, 4 pt; its group rows in bold).
STYLE_MEASURE = {
    "journal": StyleMeasure((210 - 2 * 20) * MM, 9.0, 5.0, ("LiberationSerif-Regular.ttf",),
                            ("LiberationSerif-Bold.ttf",)),
    "compact": StyleMeasure((210 - 2 * 14) * MM, 8.0, 4.0, ("LiberationSans-Regular.ttf",),
                            ("LiberationSans-Bold.ttf",)),
}
#: The smallest size a table is set in to make it fit.
MIN_FONT_PT = 7.0
#: The two pads of a decimal-aligned column: 0.5 pt on each side of each.
_SPLIT_PAD_PT = 4 * 0.5
#: Rounding of the measured widths against the layout's: 4% to spare.
_SPARE = 1.04


@dataclass(frozen=True)
class Fit:
    """The table's narrowest width in points at the size it is set in (``font_pt``), and
    whether it fits the text width at that size."""

    width_pt: float
    font_pt: float
    fits: bool
    scaled: bool
    wrap_labels: bool = False


def _width(text: str, faces: tuple[str, ...]) -> float:
    widths = [text_width_em(text, face) for face in faces]
    return max(w for w in widths if w is not None) if any(w is not None for w in widths) \
        else 0.5 * len(text)


def _unbreakable(text: str) -> list[str]:
    """The pieces of ``text`` that do not wrap as :func:`.tablehtml.unbroken` sets them."""
    pieces = []
    for token in _TOKENS.findall(text):
        if len(token) <= MAX_UNBROKEN and (" " in token or _BREAKS.search(token)):
            pieces.append(token)
        else:
            pieces += token.split(" ")
    return pieces or [text]


def min_width(table: Table, measure: StyleMeasure,
              wrap_labels: bool = False) -> tuple[float, float]:
    """The narrowest width the table can be set in: its text in em of its font, and its
    padding in points (which does not shrink with the font); the labels on one line, or
    wrapped at spaces with ``wrap_labels``."""
    grid = table_grid(table)
    if not grid:
        return 0.0, 0.0
    aligned = aligned_columns(table)
    columns = len(grid[0])
    whole = [0.0] * columns
    whole_int, whole_rest = [0.0] * columns, [0.0] * columns
    for row in grid:
        for c, slot in enumerate(row):
            cell = slot.cell
            if cell is None or cell.colspan > 1:
                continue
            faces = measure.head_faces if slot.header else measure.body_faces
            parts = None if slot.header or not aligned[c] else numeric_parts(cell.text)
            if parts is not None:
                whole_int[c] = max(whole_int[c], _width(parts[0], faces))
                whole_rest[c] = max(whole_rest[c], _width(parts[1], faces))
                continue
            if c == 0 and not slot.header:  # labels are indented, in bold in group rows
                pieces = _unbreakable(cell.text) if wrap_labels else [cell.text]
                need = max(_width(p, measure.head_faces) for p in pieces) \
                    + 1.3 * slot.row.indent
            else:
                need = max(_width(piece, faces) for piece in _unbreakable(cell.text))
            whole[c] = max(whole[c], need)
    if any(aligned) and not wrap_labels:  # the template sets the label column's width
        labels = [(row[0].cell.text, row[0].row.indent) for row in grid
                  if row[0].cell is not None and row[0].cell.colspan == 1]
        whole[0] = max(whole[0], (label_width_em(labels) or 0.0) - 2 * 0.56)
    text = sum(max(whole[c], whole_int[c] + whole_rest[c]) for c in range(columns))
    padding = columns * 2 * measure.cell_padding_pt + _SPLIT_PAD_PT * sum(aligned)
    return text * _SPARE, padding


def fit(table: Table, style: str) -> Fit:
    """The font size that lets ``table`` fit the text width of ``style``: its own, else the
    largest quarter point down to :data:`MIN_FONT_PT`, with the labels on one line, else
    with the labels wrapped at spaces."""
    measure = STYLE_MEASURE.get(style, STYLE_MEASURE["journal"])
    available = measure.text_width_pt
    text_em, padding = min_width(table, measure)
    if text_em * measure.font_pt + padding <= available:
        return Fit(text_em * measure.font_pt + padding, measure.font_pt, True, False)
    for wrap in (False, True):
        text_em, padding = min_width(table, measure, wrap_labels=wrap)
        size = (available - padding) / text_em if text_em else measure.font_pt
        size = min(measure.font_pt, max(MIN_FONT_PT, math.floor(size * 4) / 4))
        width = text_em * size + padding
        if width <= available:
            return Fit(width, size, True, True, wrap)
    return Fit(width, size, False, True, True)


def overflow_warning(table: Table, style: str) -> str | None:
    """A warning when ``table`` is wider than the text even at the smallest size."""
    found = fit(table, style)
    if found.fits:
        return None
    available = STYLE_MEASURE.get(style, STYLE_MEASURE["journal"]).text_width_pt
    return (f"table \"{table.caption}\" is {found.width_pt / MM:.0f} mm wide even in "
            f"{MIN_FONT_PT:g} pt, wider than the {available / MM:.0f} mm of text; it runs into "
            f"the right margin (fewer columns or shorter labels would fit)")
