"""A stratified Table 1 (``strata = "<variable>"``), as gtsummary's ``tbl_strata``.

One Table 1 by group within each level of the stratum variable, computed on that level's
patients (records carry ``strata`` and ``strata_level``), then put together from the
records: side by side under a spanner per stratum naming its N (``strata_layout =
"side"``), or one below the other with a heading row per stratum (``"stacked"``). The
stratum tables have the same rows: a missing-value row ``ifany`` is shown in every stratum
when any stratum has missing values.
"""

from __future__ import annotations

import dataclasses
import re

from cohortpress.api.blocks import Cell, Footnote, Row, Table
from cohortpress.api.results import Result

__all__ = ["with_stratum", "records_of_stratum", "aligned_layout", "side_by_side",
           "stacked"]


def with_stratum(results: list[Result], strata: str, level: str) -> list[Result]:
    """The records of one stratum's table, marked with the stratum."""
    return [dataclasses.replace(r, strata=strata, strata_level=level) for r in results]


def records_of_stratum(results, level: str) -> list[Result]:
    """One stratum's records, without their stratum (what a Table 1 is built from)."""
    return [dataclasses.replace(r, strata=None, strata_level=None) for r in results
            if r.strata_level == level]


def aligned_layout(layout, records_by_stratum: list[list[Result]]):
    """The layout with each ``ifany`` missing-value row decided over all strata: shown in
    every stratum when any has a missing value, so the stratum tables line up."""
    variables = []
    for variable in layout.variables:
        mode = variable.missing or layout.missing
        if mode == "ifany":
            any_missing = any(
                r.variable == variable.variable and r.stat_name == "N_miss" and r.stat
                and r.context in ("missing", "continuous")
                for records in records_by_stratum for r in records)
            variable = dataclasses.replace(variable,
                                           missing="always" if any_missing else "no")
        variables.append(variable)
    return dataclasses.replace(layout, variables=tuple(variables))


def _check_same_rows(tables: list[Table]) -> None:
    labels = [[row.cells[0].text for row in table.body] for table in tables]
    if any(other != labels[0] for other in labels[1:]):
        raise ValueError("the stratum tables have different rows")


def _footnotes(tables: list[Table], levels: list[str]) -> tuple[Footnote, ...]:
    """The strata's footnotes, each once; a marked footnote whose text differs between
    strata (a test's note: exact in one, approximate in another) says which is which."""
    texts: dict[tuple[str | None, str], dict[str, list[str]]] = {}
    for table, level in zip(tables, levels):
        for note in table.footnotes:
            key = (note.mark, note.text if note.mark is None else "")
            texts.setdefault(key, {}).setdefault(note.text, []).append(level)
    notes = []
    for (mark, _), by_text in texts.items():
        if len(by_text) == 1:
            notes.append(Footnote(next(iter(by_text)), mark))
        else:
            notes.append(Footnote(" ".join(f"{', '.join(lv)}: {text}"
                                           for text, lv in by_text.items()), mark))
    return tuple(notes)


def side_by_side(tables: list[Table], levels: list[str], headings: list[str],
                 caption: str) -> Table:
    """The stratum tables next to each other, a spanner over each (``headings``)."""
    _check_same_rows(tables)
    first = tables[0]
    spanners = [Cell("", align="left")]
    columns = [first.header[-1].cells[0]]
    for table, heading in zip(tables, headings):
        cells = table.header[-1].cells[1:]
        spanners.append(Cell(heading, colspan=len(cells)))
        columns.extend(cells)
    body = []
    for index, row in enumerate(first.body):
        cells = [row.cells[0]]
        for table in tables:
            cells.extend(table.body[index].cells[1:])
        body.append(Row(tuple(cells), indent=row.indent, role=row.role))
    return Table(caption, (Row(tuple(spanners)), Row(tuple(columns))), tuple(body),
                 _footnotes(tables, levels))


_GROUP_SIZE = re.compile(r" \(N = [^)]*\)$")


def stacked(tables: list[Table], levels: list[str], headings: list[str],
            group_sizes: list[list[str]], caption: str) -> Table:
    """The stratum tables one below the other: the header names the groups; each stratum
    starts with a heading row giving its N and each group's N (``group_sizes``)."""
    _check_same_rows(tables)
    header = tables[0].header[-1]
    columns = tuple(Cell(_GROUP_SIZE.sub("", c.text), c.colspan, c.rowspan, c.align, c.marks)
                    for c in header.cells)
    body = []
    width = len(columns) - 1
    for table, heading, sizes in zip(tables, headings, group_sizes):
        cells = [Cell(size) for size in sizes] + [Cell("")] * (width - len(sizes))
        body.append(Row((Cell(heading, align="left"), *cells), role="group"))
        body.extend(dataclasses.replace(row, indent=row.indent + 1) for row in table.body)
    return Table(caption, (Row(columns),), tuple(body), _footnotes(tables, levels))
