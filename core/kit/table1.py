"""A "Table 1" (characteristics by group) rendered from its results records alone.

The ``demographics`` analysis computes cards-style records (``group``, ``categorical``,
``missing``, ``continuous`` and ``test`` contexts) and renders its table with
:func:`table1_from_records` and a :class:`Table1Layout` (labels and display choices, no
count), as gtsummary renders ``tbl_summary`` from a cards ARD. A plugin that writes the
same records gets the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Iterable, Sequence

from cohortpress.api.blocks import Cell, Footnote, Row, Table
from cohortpress.api.results import Result
from cohortpress.common.formatting import (fmt_n_percent, fmt_num, fmt_significant, format_p,
                                           in_sentence, whole_number_digits)
from cohortpress.kit.prose import (between_groups, join_clauses, join_list, parenthetical,
                                   sentence, test_phrase)
from cohortpress.kit.disclosure import count_text
from cohortpress.kit.records import Records

#: The label of a continuous variable's statistic row.
STAT_LABELS = {"median_range": "Median (range)", "median_iqr": "Median (IQR)",
               "mean_sd": "Mean (SD)"}
#: Footnote marks of the tests, in order of first use.
MARKS = "abcdefghij"
#: The attributes :func:`format_summary` reads, and the records holding them.
SUMMARY_STATS = {"n": "N", "mean": "mean", "sd": "sd", "median": "median", "p25": "p25",
                 "p75": "p75", "min": "min", "max": "max"}


def format_summary(summary, stat: str, digits: int, significant: int | None = None,
                   whole_numbers: bool = False) -> str:
    """A continuous summary as the table prints it: median (range), median (IQR) or mean
    (SD), to ``digits`` decimals or ``significant`` significant digits.

    ``whole_numbers``: a median (range) or median (IQR) prints without decimals; the caller
    says so when the variable holds whole numbers only and every number of its row is whole
    (:func:`whole_row`). A mean (SD) keeps ``digits``.
    """
    if summary.n == 0:
        return "\u2013"
    if whole_numbers and not significant and stat != "mean_sd":
        digits = 0

    def show(value):
        return fmt_significant(value, significant) if significant else fmt_num(value, digits)

    if stat == "median_range":
        return f"{show(summary.median)} ({show(summary.min)}\u2013{show(summary.max)})"
    if stat == "median_iqr":
        return f"{show(summary.median)} ({show(summary.p25)}\u2013{show(summary.p75)})"
    return f"{show(summary.mean)} ({show(summary.sd)})"


def whole_row(summaries, stat: str) -> bool:
    """Whether a row of order statistics of a whole-number variable prints without
    decimals: every median, quartile or limit it shows, in every column, is whole (a median
    halfway between two values, "259.5", gives the whole row one decimal, so that the
    columns of a row agree)."""
    if stat == "mean_sd":
        return False
    names = ("median", "min", "max") if stat == "median_range" else ("median", "p25", "p75")
    shown = [getattr(s, name) for s in summaries if s.n for name in names]
    return whole_number_digits(shown, 1) == 0


def applicable_columns(applies_to: Sequence[str], columns: Sequence[str | None]) -> list[bool]:
    """Which columns a variable applies to (the overall column, ``None``, always)."""
    if not applies_to:
        return [True] * len(columns)
    return [column is None or column in applies_to for column in columns]


@dataclass(frozen=True)
class VariableLayout:
    """How one variable's rows look (no count).

    ``kind`` is ``categorical``, ``binary``, ``continuous`` or ``date``; ``stat``,
    ``digits``, ``significant`` and ``whole_numbers`` (see :func:`format_summary`) apply to
    a continuous variable, ``percent_digits`` to counts; ``missing``
    (``ifany``/``always``/``no``) overrides the table's.
    """

    variable: str
    kind: str
    label: str
    missing_label: str = "Unknown"
    percent_digits: int = 0
    stat: str = "median_range"
    digits: int = 1
    significant: int | None = None
    whole_numbers: bool = False
    applies_to: tuple[str, ...] = ()
    missing: str | None = None


@dataclass(frozen=True)
class Table1Layout:
    """The table's labels and choices (no count); ``by`` names the records' group."""

    by: str | None
    group_label: str
    variables: tuple[VariableLayout, ...]
    caption: str = "Patient characteristics."
    header_label: str = "Characteristic"
    overall: bool = False
    p_value: bool = True
    smd: bool = False
    percent_of: str = "non-missing"
    missing: str = "ifany"
    not_applicable: str = "n.a."
    p_digits: int = 3


def table1_from_records(records: Iterable[Result], layout: Table1Layout) -> Table:
    """Table 1 from its records: every number shown is a record's ``stat``.

    Groups come from the ``group`` ``N`` records; a categorical variable's levels from its
    ``categorical`` ``n`` records, in the order written.
    """
    return _Table1(Records(records), layout).table()


class _Table1:
    def __init__(self, records: Records, layout: Table1Layout):
        self.records = records
        self.layout = layout
        by = layout.by
        self.groups = [r.group_level for r in records.select(
            context="group", stat_name="N", variable=by, group=by)]
        self.columns: list[str | None] = list(self.groups)
        if layout.overall and by is not None:
            self.columns.append(None)
        self.show_p = layout.p_value and len(self.groups) >= 2
        self.show_smd = layout.smd and len(self.groups) >= 2
        self.marks: dict[str, str] = {}
        self.rows: list[Row] = []

    def table(self) -> Table:
        builders = {"categorical": self.categorical, "binary": self.binary,
                    "continuous": self.continuous, "date": self.dates}
        for variable in self.layout.variables:
            builders[variable.kind](variable)
        return Table(self.layout.caption, (self.header(),), tuple(self.rows),
                     tuple(self.footnotes()))

    # lookups -------------------------------------------------------------------------------

    def stat(self, context: str, stat_name: str, variable: str, level, column):
        return self.records.stat(context=context, stat_name=stat_name, variable=variable,
                                 variable_level=level,
                                 group=self.layout.by if column is not None else None,
                                 group_level=column)

    def count_text(self, context: str, stat_name: str, variable: str, level, column) -> str:
        """A count as the table prints it (a count a disclosure rule hides: "<10")."""
        record = self.records.one(context=context, stat_name=stat_name, variable=variable,
                                  variable_level=level,
                                  group=self.layout.by if column is not None else None,
                                  group_level=column)
        return "None" if record is None else count_text(record.stat, record.formatted)

    def test_stat(self, variable: str, stat_name: str, group: str | None):
        return self.records.stat(context="test", stat_name=stat_name, variable=variable,
                                 group=group)

    # header and the test columns -----------------------------------------------------------

    def header(self) -> Row:
        by = self.layout.by
        cells = [Cell(self.layout.header_label, align="left")]
        for level in self.groups:
            size = self.records.one(context="group", stat_name="N", variable=by, group=by,
                                    group_level=level)
            cells.append(Cell(f"{level} (N = {count_text(size.stat, size.formatted)})"))
        if self.layout.overall and by is not None:
            size = self.records.one(context="group", stat_name="N", variable=by, group=None)
            cells.append(Cell(f"Overall (N = {count_text(size.stat, size.formatted)})"))
        if self.show_p:
            cells.append(Cell("p-value"))
        if self.show_smd:
            cells.append(Cell("SMD"))
        return Row(tuple(cells))

    def extra_cells(self, variable: str | None = None) -> list[Cell]:
        """The p-value and SMD cells: filled on a variable's first row, empty on others."""
        cells = []
        if self.show_p:
            cells.append(self.p_cell(variable) if variable else Cell(""))
        if self.show_smd:
            smd = self.test_stat(variable, "smd", None) if variable else None
            cells.append(Cell("" if smd is None else fmt_num(smd, 2)))
        return cells

    def p_cell(self, variable: str) -> Cell:
        if self.test_stat(variable, "not.tested", self.layout.by) is not None:
            return Cell("\u2013", marks=(self.mark_for("not tested"),))
        method = self.test_stat(variable, "method", self.layout.by)
        if method is None:
            return Cell("")
        p_value = self.test_stat(variable, "p.value", self.layout.by)
        return Cell(format_p(p_value, digits=self.layout.p_digits),
                    marks=(self.mark_for(method),))

    def mark_for(self, method: str) -> str:
        if method not in self.marks:
            self.marks[method] = MARKS[len(self.marks) % len(MARKS)]
        return self.marks[method]

    def not_applicable(self) -> Cell:
        return Cell(self.layout.not_applicable)

    # rows ----------------------------------------------------------------------------------

    def count_cell(self, variable: VariableLayout, level, column) -> Cell:
        n = self.stat("categorical", "n", variable.variable, level, column)
        base = self.stat("categorical", "N", variable.variable, level, column)
        if n is None or base is None:  # hidden by the disclosure rule: no percentage
            return Cell(self.count_text("categorical", "n", variable.variable, level, column))
        return Cell(fmt_n_percent(n, base, variable.percent_digits))

    def count_cells(self, variable: VariableLayout, level, applicable) -> list[Cell]:
        return [self.count_cell(variable, level, column) if ok else self.not_applicable()
                for column, ok in zip(self.columns, applicable)]

    def levels(self, variable: VariableLayout) -> list:
        return self.records.distinct("variable_level", context="categorical", stat_name="n",
                                     variable=variable.variable)

    def categorical(self, variable: VariableLayout) -> None:
        applicable = applicable_columns(variable.applies_to, self.columns)
        self.rows.append(Row((Cell(variable.label, align="left"),
                              *[Cell("") for _ in self.columns],
                              *self.extra_cells(variable.variable)), role="group"))
        for level in self.levels(variable):
            self.rows.append(Row((Cell(level, align="left"),
                                  *self.count_cells(variable, level, applicable),
                                  *self.extra_cells()), indent=1))
        self.missing_row(variable, applicable)

    def binary(self, variable: VariableLayout) -> None:
        applicable = applicable_columns(variable.applies_to, self.columns)
        positive = self.levels(variable)[0]
        self.rows.append(Row((Cell(variable.label, align="left"),
                              *self.count_cells(variable, positive, applicable),
                              *self.extra_cells(variable.variable))))
        self.missing_row(variable, applicable)

    def missing_row(self, variable: VariableLayout, applicable: list[bool]) -> None:
        missing = [self.stat("missing", "N_miss", variable.variable, None, column) if ok
                   else None for column, ok in zip(self.columns, applicable)]
        shown = [ok and self.count_text("missing", "N_miss", variable.variable, None, column)
                 not in ("0", "None") for column, ok in zip(self.columns, applicable)]
        mode = variable.missing or self.layout.missing
        if mode == "no" or (mode == "ifany" and not any(shown)):
            return
        cells = []
        for column, miss, ok in zip(self.columns, missing, applicable):
            if not ok:
                cells.append(self.not_applicable())
            elif self.layout.percent_of == "all" and miss is not None and \
                    self.stat("missing", "N", variable.variable, None, column) is not None:
                total = self.stat("missing", "N", variable.variable, None, column)
                cells.append(Cell(fmt_n_percent(miss, total, variable.percent_digits)))
            else:
                cells.append(Cell(self.count_text("missing", "N_miss", variable.variable, None,
                                                  column)))
        self.rows.append(Row((Cell(variable.missing_label, align="left"), *cells,
                              *self.extra_cells()), indent=1))

    def continuous(self, variable: VariableLayout) -> None:
        applicable = applicable_columns(variable.applies_to, self.columns)
        whole = variable.whole_numbers and whole_row(
            [self.summary(variable, column) for column, ok in zip(self.columns, applicable)
             if ok and self.stat("continuous", "N", variable.variable, None, column)],
            variable.stat)
        cells = [self.summary_cell(variable, column, whole) if ok else self.not_applicable()
                 for column, ok in zip(self.columns, applicable)]
        self.rows.append(Row((Cell(variable.label, align="left"), *[Cell("") for _ in cells],
                              *self.extra_cells(variable.variable)), role="group"))
        self.rows.append(Row((Cell(STAT_LABELS[variable.stat], align="left"), *cells,
                              *self.extra_cells()), indent=1))
        missing = [self.count_text("continuous", "N_miss", variable.variable, None, column)
                   if ok else None for column, ok in zip(self.columns, applicable)]
        mode = variable.missing or self.layout.missing
        if mode == "always" or (mode == "ifany" and any(m not in (None, "0", "None")
                                                        for m in missing)):
            self.rows.append(Row((Cell(variable.missing_label, align="left"),
                                  *[Cell(m) if ok else self.not_applicable()
                                    for m, ok in zip(missing, applicable)],
                                  *self.extra_cells()), indent=1))

    def summary(self, variable: VariableLayout, column) -> SimpleNamespace:
        return SimpleNamespace(**{
            name: self.stat("continuous", stat_name, variable.variable, None, column)
            for name, stat_name in SUMMARY_STATS.items()})

    def summary_cell(self, variable: VariableLayout, column, whole: bool = False) -> Cell:
        if not self.stat("continuous", "N", variable.variable, None, column):
            return Cell("\u2013")
        return Cell(format_summary(self.summary(variable, column), variable.stat,
                                   variable.digits, variable.significant, whole))

    def dates(self, variable: VariableLayout) -> None:
        cells = []
        for column in self.columns:
            low = self.stat("continuous", "min", variable.variable, None, column)
            high = self.stat("continuous", "max", variable.variable, None, column)
            cells.append(Cell("\u2013") if low is None else Cell(f"{low} to {high}"))
        self.rows.append(Row((Cell(variable.label, align="left"), *[Cell("") for _ in cells],
                              *self.extra_cells()), role="group"))
        self.rows.append(Row((Cell("Range", align="left"), *cells, *self.extra_cells()),
                             indent=1))

    # footnotes -----------------------------------------------------------------------------

    def test_texts(self, stat_name: str, variables: set[str]) -> list[str]:
        return [r.stat if stat_name == "note" else f"{r.variable}: {r.stat}"
                for r in self.records.select(context="test", stat_name=stat_name,
                                             group=self.layout.by)
                if r.variable in variables]

    def empty_group_notes(self) -> list[Footnote]:
        """A group the header shows with no patients: said, with what that means."""
        by = self.layout.by
        return [Footnote(f"{level}: no patients in this subset; not tested.")
                for level in self.groups
                if self.records.stat(context="group", stat_name="N", variable=by, group=by,
                                     group_level=level) == 0]

    def choice_notes(self) -> list[Footnote]:
        """Per variable, what changes its test's p-value or its SMD: levels excluded from
        the test, unknown values tested, groups the test leaves out; the pairwise SMD."""
        notes = []
        by = self.layout.by
        for variable in self.layout.variables:
            where = dict(context="test", variable=variable.variable, group=by)
            parts = []
            excluded = [r.stat for r in self.records.select(stat_name="excluded.level", **where)]
            if excluded:
                parts.append(f"{', '.join(map(str, excluded))} excluded from the test")
            if self.records.stat(stat_name="test.missing", **where):
                # a level's label is printed as written (it may be an acronym: "Unknown AML")
                parts.append(f"values '{variable.missing_label}' tested as a category")
            left_out = [f"{r.group_level} ({r.stat})" for r in
                        self.records.select(stat_name="not.tested.group", **where)
                        if r.stat != "no patients in this subset"]
            if left_out:
                parts.append(f"the test leaves out {', '.join(left_out)}")
            if parts and self.show_p:
                notes.append(Footnote(f"{variable.label}: {'; '.join(parts)}."))
        if self.show_smd and self.records.select(context="test", stat_name="smd.method"):
            notes.append(Footnote("SMD: with three or more groups, the largest standardised "
                                  "difference between any two groups."))
        return notes

    def footnotes(self) -> list[Footnote]:
        shown = {variable.variable for variable in self.layout.variables}
        notes = []
        for method, mark in self.marks.items():
            if method == "not tested":
                reasons = "; ".join(sorted(set(self.test_texts("not.tested", shown))))
                notes.append(Footnote(f"Not tested ({reasons}).", mark))
                continue
            tested = {v for v in shown if self.test_stat(v, "method", self.layout.by) == method}
            extra = "; ".join(sorted(set(self.test_texts("note", tested))))
            notes.append(Footnote(f"{method}{f' ({extra})' if extra else ''}.", mark))
        of = "patients with known values" if self.layout.percent_of == "non-missing" \
            else "all patients in the column (unknown values included)"
        notes.append(Footnote(f"Percentages are of {of}, rounded; they may not sum to 100."))
        n_unknown = self.records.stat(0, context="group", stat_name="N_unknown",
                                      variable=self.layout.by) if self.layout.by else 0
        if n_unknown:
            notes.append(Footnote(f"{n_unknown} patients with unknown "
                                  f"{in_sentence(self.layout.group_label)} are not shown."))
        notes += self.empty_group_notes() + self.choice_notes()
        if any(self.layout.not_applicable in c.text for r in self.rows for c in r.cells):
            notes.append(Footnote(f"{self.layout.not_applicable}: not applicable."))
        return notes


def table1_methods(results: Sequence[Result], labels: dict[str, str], groups) -> list[str]:
    """The methods sentences on a Table 1's tests and SMDs, from its records: each test with
    the variables it compared (labels from ``labels``; a test's note, such as its
    approximation, in parentheses after them), then the balance measure if one was given.
    ``groups`` has the grouping's ``levels`` and ``label``."""
    tested = {r.variable: r.stat for r in results
              if r.context == "test" and r.stat_name == "method"}
    notes = {r.variable: str(r.stat) for r in results
             if r.context == "test" and r.stat_name == "note" and r.stat
             and not str(r.stat).startswith("not computable")}
    smd = [r.variable for r in results if r.context == "test" and r.stat_name == "smd"]
    between = between_groups(groups.levels, groups.label)
    sentences = []
    if tested:
        uses: dict[tuple[str, str | None], list[str]] = {}
        for variable, method in tested.items():
            uses.setdefault((method, notes.get(variable)), []).append(
                in_sentence(labels.get(variable, variable)))
        clauses = [f"{test_phrase(method)} for {join_list(names)}"
                   + (f" ({parenthetical(note)})" if note else "")
                   for (method, note), names in uses.items()]
        sentences.append(sentence(f"Characteristics were compared {between} with "
                                  f"{join_clauses(_with(clauses))}"))
    if smd:
        largest = len(groups.levels) > 2
        sentences.append(sentence(
            "Balance " + between + " was described by the standardised mean difference "
            "(Cohen's d for continuous variables and its multivariate form by Yang and "
            "Dalton for categorical variables" + (", the largest over pairs of groups"
                                                  if largest else "") + ")"))
    return sentences


def _with(clauses: list[str]) -> list[str]:
    """"with A for x and with B for y": each clause after the first repeats "with"."""
    return clauses[:1] + [f"with {c}" for c in clauses[1:]]
