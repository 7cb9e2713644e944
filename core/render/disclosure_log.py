"""``disclosure.csv``: every number a disclosure rule hid, rounded or recomputed, and where.

Kept with the report for the output checker of a secure environment: one line per altered
number, naming the section, the table, the row and column, the record of ``results.json``
(its index in ``results``) and the reason, never the hidden number or its exact size.
"""

from __future__ import annotations

import csv
import io
from typing import Sequence

from cohortpress.api.blocks import Table
from cohortpress.api.results import Result
from cohortpress.api.sections import Section

COLUMNS = ("results_index", "section", "section_title", "table", "row_variable", "row",
           "column_variable", "column", "context", "stat_name", "action", "reason",
           "released")


def disclosure_csv(sections: Sequence[Section]) -> str:
    """The log as CSV text (the header line alone when nothing was altered)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    index = 0
    for section in sections:
        tables = [b for b in section.blocks if isinstance(b, Table)]
        for record in section.results:
            if record.disclosure is not None and not record.disclosure.startswith("shown"):
                writer.writerow(_line(index, section, tables, record))
            index += 1
    return out.getvalue()


def _line(index: int, section: Section, tables: list[Table], record: Result) -> list:
    action, _, reason = record.disclosure.partition(": ")
    return [index, section.id, section.title, _table_of(tables, record),
            record.variable or "", _text(record.variable_level, "total"),
            record.group or "", _text(record.group_level, "overall" if record.group is None
                                      else ""),
            record.context, record.stat_name, action, reason,
            record.formatted if record.formatted is not None else ""]


def _text(value, default: str) -> str:
    return default if value is None else str(value)


def _table_of(tables: list[Table], record: Result) -> str:
    """The caption of the table that shows the record's row (the section's only table,
    or the first whose row labels include the record's level); empty when none does."""
    if len(tables) == 1:
        return tables[0].caption
    for table in tables:
        labels = {row.cells[0].text for row in table.body if row.cells}
        if record.variable_level is not None and str(record.variable_level) in labels:
            return table.caption
    return ""
