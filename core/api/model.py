"""Values passed between the core and the plugins.

Everything here is immutable: an analysis builds a :class:`Section` of blocks
(:class:`Table`, :class:`Figure`, :class:`Paragraph`, :class:`ErrorBlock`) and results
records (:class:`Result`); the core numbers the tables and figures, renders them and writes
the records to ``results.json``. Statistics live in the records, unrounded; the blocks hold
the text the reader sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, Any, Callable, Literal, Sequence, Union

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # pragma: no cover
    from cohortpress.data.cohort import Cohort


# --------------------------------------------------------------------------- options


class _Reference:
    """Marks an option field whose value names something in the cohort."""

    def __init__(self, kind: str):
        self.kind = kind

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<reference to a {self.kind}>"


#: An option that names a cohort variable (a column, a derived variable).
#: The core checks every such name before any analysis runs, and loads only those columns.
Variable = Annotated[str, _Reference("variable")]
#: An option that names an endpoint declared in ``[endpoints]``.
EndpointName = Annotated[str, _Reference("endpoint")]


class Options(BaseModel):
    """Base class of an analysis's options: the keys of its ``[[section]]`` table.

    Unknown keys are errors (with a "did you mean" suggestion); fields typed
    :data:`Variable` or :data:`EndpointName` are checked against the cohort before any
    analysis runs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- blocks


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


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Result:
    """One record of ``results.json``: the long "analysis results data" layout.

    Statistic names follow broom (``statistic``, ``p.value``, ``estimate``, ``std.error``,
    ``conf.low``, ``conf.high``) and R's cards package (``n``, ``N``, ``p``, ``median``...).
    ``stat`` is unrounded; ``formatted`` is the text the report shows, if it shows it.
    The core fills ``section``.
    """

    context: str
    stat_name: str
    stat: Any
    variable: str | None = None
    variable_level: Any = None
    group: str | None = None
    group_level: Any = None
    formatted: str | None = None
    section: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The record as written to ``results.json`` (non-finite numbers become null)."""
        return {
            "section": self.section,
            "context": self.context,
            "variable": self.variable,
            "variable_level": _plain(self.variable_level),
            "group": self.group,
            "group_level": _plain(self.group_level),
            "stat_name": self.stat_name,
            "stat": _plain(self.stat),
            "formatted": self.formatted,
        }


def _plain(value: Any) -> Any:
    """A JSON-safe scalar: numpy numbers to Python, NaN and infinities to None."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (int, float)):
        return value
    return str(value)


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class Section:
    """What an analysis returns: the blocks of one report section and its data.

    Attributes
    ----------
    id, title : str
        From the config's ``[[section]]`` table.
    blocks : tuple of Block
        Tables, figures, paragraphs, in reading order.
    results : tuple of Result
        Every number the section shows, unrounded.
    methods : tuple of str
        Sentences for the statistical-methods paragraph, describing what actually ran.
    abbreviations : tuple of (str, str)
        Abbreviations used in the section, for the report's list.
    warnings : tuple of str
        Things the reader should know (few events per variable...), shown under the section.
    failed : bool
        True when the section is an error report.
    """

    id: str
    title: str
    blocks: tuple[Block, ...] = ()
    results: tuple[Result, ...] = ()
    methods: tuple[str, ...] = ()
    abbreviations: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    failed: bool = False

    def with_blocks(self, *blocks: Block) -> "Section":
        """A copy with ``blocks`` appended."""
        return replace(self, blocks=(*self.blocks, *blocks))


@dataclass(frozen=True)
class SectionContext:
    """What the core tells an analysis about the section it runs for.

    Attributes
    ----------
    id, title : str
        The section's id and title.
    p_digits : int
        Significant decimals for p-values (see :func:`cohortpress.common.formatting.format_p`).
    percent_digits : int
        Decimals for percentages.
    config_dir : str
        The folder of the config file (to resolve paths an analysis receives).
    """

    id: str
    title: str
    p_digits: int = 3
    percent_digits: int = 0
    config_dir: str = "."

    def format_p(self, p: float) -> str:
        """``p`` as the report prints it (``<0.001``, ``>0.99``, never ``0.000``)."""
        from cohortpress.common.formatting import format_p

        return format_p(p, digits=self.p_digits)

    def section(self, blocks=(), results=(), **kwargs) -> Section:
        """A :class:`Section` with this section's id and title."""
        return Section(id=self.id, title=self.title, blocks=tuple(blocks),
                       results=tuple(results), **kwargs)


@dataclass(frozen=True)
class Analysis:
    """An analysis a plugin provides.

    Attributes
    ----------
    name : str
        What a config names in ``analysis = "..."``.
    run : callable
        ``run(cohort, options, context) -> Section``. Exceptions are caught by the core and
        shown as an error block in the section.
    options : type of Options
        The pydantic model validating the section's keys.
    summary : str
        One line for ``cohortpress plugins``.
    check : callable, optional
        ``check(cohort, options) -> list of str``: problems in the data this analysis would
        meet (values it cannot read, by patient id). ``cohortpress validate`` prints them;
        the analysis itself still decides what to show.
    """

    name: str
    run: Callable[["Cohort", Options, SectionContext], Section]
    options: type[Options] = Options
    summary: str = ""
    check: Callable[["Cohort", Options], Sequence[str]] | None = None
