"""The blocks of a report section: tables (with their cells, rows, footnotes and grid),
figures, paragraphs, error blocks and a plugin's own blocks.

Everything here is immutable. The blocks hold the text the reader sees, already formatted;
the core numbers the tables and figures in reading order and renders each block with its
template ``blocks/<kind>.html.j2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union


@dataclass(frozen=True)
class Cell:
    """One table cell.

    Attributes
    ----------
    text : str
        The text shown, already formatted.
    colspan, rowspan : int
        Spans, for grouped headers.
    align : {"left", "center", "right"}
        Horizontal alignment; numbers are centred in journal tables.
    marks : tuple of str
        Footnote marks shown as superscripts after the text (``"a"``, ``"b"``, ``"*"``).
    """

    text: str
    colspan: int = 1
    rowspan: int = 1
    align: Literal["left", "center", "right"] = "center"
    marks: tuple[str, ...] = ()


CellLike = Union[Cell, str, int, float, None]


def as_cell(value: CellLike, align: str = "center") -> Cell:
    """Turn a string or number into a :class:`Cell` (``None`` becomes an empty cell)."""
    if isinstance(value, Cell):
        return value
    return Cell("" if value is None else str(value), align=align)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Row:
    """A table row: the first cell is the row label, indented by ``indent`` levels.

    ``role`` lets templates style a row: ``"group"`` for a variable heading whose levels
    follow, ``"total"`` for a totals row, ``"body"`` otherwise.
    """

    cells: tuple[Cell, ...]
    indent: int = 0
    role: Literal["body", "group", "total"] = "body"

    @classmethod
    def of(cls, label: CellLike, *values: CellLike, indent: int = 0,
           role: Literal["body", "group", "total"] = "body") -> "Row":
        """Build a row from a label and values (strings, numbers or cells)."""
        first = as_cell(label, align="left")
        return cls((first, *(as_cell(v) for v in values)), indent=indent, role=role)


@dataclass(frozen=True)
class Footnote:
    """A footnote under a table: ``mark`` is ``None`` for a general note."""

    text: str
    mark: str | None = None


@dataclass(frozen=True)
class Table:
    """A journal table: caption above, three rules, footnotes below.

    Attributes
    ----------
    caption : str
        The caption without its number ("Patient characteristics at diagnosis."); the core
        prefixes "Table N." in order of appearance.
    header : tuple of Row
        Header rows; cells may span columns (grouped headers).
    body : tuple of Row
        Body rows.
    footnotes : tuple of Footnote
    name : str
        A short file-safe name for exports (``tables/<section>-<name>.csv``); empty for the
        section's first table.
    """

    caption: str
    header: tuple[Row, ...]
    body: tuple[Row, ...]
    footnotes: tuple[Footnote, ...] = ()
    name: str = ""
    kind: str = field(default="table", init=False)

    def as_rows(self) -> list[list[str]]:
        """Header and body as plain text rows on the table's grid (column and row spans
        honoured), for CSV/XLSX/DOCX export: indentation as leading spaces, footnote marks
        in brackets. See :func:`table_rows`."""
        return table_rows(self)


# --------------------------------------------------------------------------- a table's grid


@dataclass(frozen=True)
class Slot:
    """One position of a table's grid: the cell that starts there, or ``None`` if covered."""

    cell: Cell | None
    row: Row
    header: bool
    first_column: bool


def table_grid(table: Table) -> list[list[Slot]]:
    """Header and body rows on a rectangular grid, spans honoured.

    A cell is placed at the first free position of its row (positions covered by a row span
    from above are skipped) and covers ``rowspan`` × ``colspan`` positions; only the top-left
    one holds it.
    """
    rows = [(row, True) for row in table.header] + [(row, False) for row in table.body]
    taken: dict[tuple[int, int], None] = {}
    placed: dict[tuple[int, int], Cell] = {}
    width = 0
    for r, (row, _) in enumerate(rows):
        c = 0
        for cell in row.cells:
            while (r, c) in taken:
                c += 1
            placed[(r, c)] = cell
            for rr in range(r, r + max(cell.rowspan, 1)):
                for cc in range(c, c + max(cell.colspan, 1)):
                    taken[(rr, cc)] = None
            c += max(cell.colspan, 1)
        width = max(width, c)
    width = max([width] + [cc + 1 for (_, cc) in taken])
    return [[Slot(placed.get((r, c)), row, header, c == 0) for c in range(width)]
            for r, (row, header) in enumerate(rows)]


def cell_text(cell: Cell | None) -> str:
    """A cell's text with its footnote marks in brackets: ``0.004[a]``."""
    if cell is None:
        return ""
    return cell.text + "".join(f"[{m}]" for m in cell.marks)


def table_rows(table: Table) -> list[list[str]]:
    """The grid as plain text rows (row labels indented by two spaces per level), for CSV."""
    out = []
    for grid_row in table_grid(table):
        texts = []
        for slot in grid_row:
            text = cell_text(slot.cell)
            if slot.first_column and slot.cell is not None and slot.row.indent and not slot.header:
                text = "  " * slot.row.indent + text
            texts.append(text)
        out.append(texts)
    return out


# --------------------------------------------------------------------------- other blocks


@dataclass(frozen=True)
class Figure:
    """A figure: a PNG rendered at a fixed DPI, with a caption and alt text.

    ``width_mm`` is the printed width (85 mm is a journal's single column, 175 mm a double).
    """

    png: bytes
    caption: str
    alt: str
    width_mm: float = 85.0
    name: str = ""
    kind: str = field(default="figure", init=False)


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text (no markup: it is escaped when rendered)."""

    text: str
    kind: str = field(default="paragraph", init=False)


@dataclass(frozen=True)
class ErrorBlock:
    """What a reader sees where a section failed: what failed and why, in one line."""

    message: str
    kind: str = field(default="error", init=False)


@dataclass(frozen=True)
class CustomBlock:
    """A block of a plugin's own kind, rendered by its template ``blocks/<kind>.html.j2``.

    The plugin ships the template (hook ``cohortpress_template_dirs``); ``data`` is what the
    template receives as ``numbered.block.data``. Text in it is escaped like all data.
    """

    kind: str
    data: Any = None
    label: str = ""

    def __post_init__(self):
        import re

        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.kind or "") or \
                self.kind in ("table", "figure", "paragraph", "error"):
            raise ValueError(f"a custom block kind must be lowercase letters, digits and _ and "
                             f"not a built-in kind, got {self.kind!r}")


Block = Union[Table, Figure, Paragraph, ErrorBlock, CustomBlock]
BLOCK_TYPES = (Table, Figure, Paragraph, ErrorBlock, CustomBlock)
