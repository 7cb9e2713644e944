"""A row variable by a column variable: counts, percentages, totals and a test.

The building block of the ``crosstab`` and ``kmt2a_partners`` analyses, and of any plugin
that tabulates integer codes: fill a :class:`CrosstabSpec` and call :func:`crosstab_table`.

It works in two steps, so that the table shows nothing its results records do not hold:
:func:`crosstab_records` counts and tests, giving the records; :func:`crosstab_from_records`
renders the table from those records alone and a :class:`CrosstabLayout` (labels, caption,
digits, what to show) — as gtsummary renders a table from its cards ARD.

The records are a function of the counts alone (a :class:`Tabulation`): in memory they are
counted from the codes (:func:`tabulate_codes`), on the engine path by one ``GROUP BY`` in
the engine (:mod:`cohortpress.kit.engine_crosstab`); both then go through the same
percentages, records and test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from cohortpress.api.blocks import Cell, Footnote, Row, Table
from cohortpress.api.results import Result
from cohortpress.api.sections import SectionContext
from cohortpress.common.errors import StatisticsError
from cohortpress.common.formatting import fmt_n_percent, format_p, in_sentence, p_phrase
from cohortpress.kit.prose import parenthetical, test_phrase
from cohortpress.kit.records import Records, hypothesis_test_records

PERCENT_BASES = {"column": "column totals", "row": "row totals", "total": "the grand total"}


@dataclass
class CrosstabSpec:
    """Everything :func:`crosstab_table` needs, independent of where the codes came from.

    ``row_codes``/``col_codes`` are integer codes (-1 missing) into ``row_levels`` and
    ``col_levels``; ``None`` when the counts are given to :func:`crosstab_records` as a
    :class:`Tabulation` (counted in the engine).
    """

    row_name: str
    row_levels: Sequence[str]
    row_codes: np.ndarray | None
    col_name: str
    col_label: str
    col_levels: Sequence[str]
    col_codes: np.ndarray | None
    percent: str = "column"
    percent_digits: int = 0
    totals: bool = True
    test: str = "fisher"
    missing: str = "ifany"
    missing_label: str = "Unknown"
    caption: str = ""
    row_header: str = ""
    monte_carlo_tables: int = 100_000
    seed: int = 20240531
    col_marks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    extra_footnotes: Sequence[Footnote] = ()


@dataclass(frozen=True)
class Tabulation:
    """What a cross-table's records are computed from: the counts of patients with both
    values known (``counts[i, j]``: row level ``i``, column ``j``) and per column the patients
    whose row value is unknown (``missing_by_col[j]``). Patients with no column value are in
    neither."""

    counts: np.ndarray
    missing_by_col: np.ndarray


@dataclass
class CrosstabResult:
    table: Table
    results: list[Result]
    methods: list[str]
    counts: np.ndarray


@dataclass
class CrosstabRecords:
    """What :func:`crosstab_records` computes: the records, the methods sentence, the counts."""

    results: list[Result]
    methods: list[str]
    counts: np.ndarray


@dataclass(frozen=True)
class CrosstabLayout:
    """How a cross-table is laid out; no count in here, only choices and labels.

    ``variable`` and ``group`` name the records to read (``variable``/``group`` fields of
    the records); the levels and their order come from the records.
    """

    variable: str
    group: str
    col_label: str
    caption: str
    percent: str = "column"
    percent_digits: int = 0
    p_digits: int = 3
    totals: bool = True
    missing: str = "ifany"
    missing_label: str = "Unknown"
    row_header: str = ""
    col_marks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    extra_footnotes: Sequence[Footnote] = ()

    @classmethod
    def of(cls, spec: CrosstabSpec, context: SectionContext, variable: str | None = None,
           group: str | None = None) -> "CrosstabLayout":
        """The layout ``spec`` asks for, reading records named ``variable`` by ``group``
        (by default the spec's ``row_name`` and ``col_name``, as :func:`crosstab_records`
        names them)."""
        return cls(variable=spec.row_name if variable is None else variable,
                   group=spec.col_name if group is None else group,
                   col_label=spec.col_label,
                   caption=spec.caption or f"{spec.row_name} by {in_sentence(spec.col_label)}.",
                   percent=spec.percent, percent_digits=spec.percent_digits,
                   p_digits=context.p_digits, totals=spec.totals, missing=spec.missing,
                   missing_label=spec.missing_label, row_header=spec.row_header,
                   col_marks=dict(spec.col_marks), extra_footnotes=tuple(spec.extra_footnotes))


def crosstab_table(spec: CrosstabSpec, context: SectionContext) -> CrosstabResult:
    """Build the table, its results records and its methods sentence."""
    computed = crosstab_records(spec, context)
    table = crosstab_from_records(computed.results, CrosstabLayout.of(spec, context))
    return CrosstabResult(table, computed.results, computed.methods, computed.counts)


# --------------------------------------------------------------------------- the records


def crosstab_records(spec: CrosstabSpec, context: SectionContext,
                     tabulation: Tabulation | None = None) -> CrosstabRecords:
    """Count, compute percentages and test: the cross-table's results records.

    The counts are ``tabulation`` when given (counted elsewhere: the engine), else counted
    from the spec's codes (:func:`tabulate_codes`).

    Records (``variable`` is ``spec.row_name``, ``group`` is ``spec.col_name``; a total has
    ``variable_level`` or ``group_level`` ``None`` and a row total ``group`` ``None``):
    ``crosstab`` ``n``, ``N`` (the percent base) and ``p`` for every cell and total;
    ``crosstab`` ``N_obs`` per column (its patients); when the table shows an unknown row,
    ``crosstab`` ``N_miss`` per column and overall (grouped patients whose row value is
    unknown); ``test`` ``p.value``, ``method``, ``statistic``, ``df`` and ``note`` when a
    test ran, ``not.tested`` (the reason) when it could not.
    """
    if tabulation is None:
        tabulation = tabulate_codes(spec.row_codes, spec.col_codes, len(spec.row_levels),
                                    len(spec.col_levels))
    counts, missing_by_col = tabulation.counts, tabulation.missing_by_col
    results: list[Result] = []
    _cell_records(spec, counts, missing_by_col, results)
    methods: list[str] = []
    if spec.test != "none":
        sentence = _test(spec, counts, context, results)
        if sentence:
            methods.append(sentence)
    return CrosstabRecords(results, methods, counts)


def tabulate_codes(row_codes, col_codes, n_rows: int, n_cols: int) -> Tabulation:
    """The :class:`Tabulation` of integer codes (-1 missing) into ``n_rows`` row levels and
    ``n_cols`` columns."""
    from cohortpress.stats.summaries import categorical_counts, contingency_table

    row_codes = np.asarray(row_codes, dtype=np.int64)
    col_codes = np.asarray(col_codes, dtype=np.int64)
    if n_rows and n_cols:
        counts = contingency_table(row_codes, col_codes, n_rows, n_cols)
    else:  # nothing to tabulate (no partner recorded, say): an empty table, not an error
        counts = np.zeros((n_rows, n_cols), dtype=np.int64)
    if not n_cols:
        return Tabulation(counts, np.zeros(0, dtype=np.int64))
    unknown_row = np.where(row_codes < 0, col_codes, -1)
    return Tabulation(counts, np.asarray(categorical_counts(unknown_row, n_cols).counts,
                                         dtype=np.int64))


def _percent_base(percent: str, counts: np.ndarray, i: int | None, j: int | None) -> int:
    if percent == "column":
        return int(counts[:, j].sum()) if j is not None else int(counts.sum())
    if percent == "row":
        return int(counts[i, :].sum()) if i is not None else int(counts.sum())
    return int(counts.sum())


def _cell_text(percent: str, digits: int, n: int | None, base: int | None,
               hidden: str = "") -> str:
    """``n (%)``; a count of zero is ``0`` alone: its percentage is exactly zero, and
    "0 (0.00%)" would print as rounded what is not (the table's note says so). Under a
    disclosure rule a hidden count (``None``) prints as ``hidden`` ("<10") without a
    percentage, and so does a count whose percent base is hidden."""
    if n is None:
        return hidden
    if percent == "none" or (n == 0 and base) or base is None:
        return str(n)
    return fmt_n_percent(n, base, digits)


def _cell_records(spec: CrosstabSpec, counts: np.ndarray, missing_by_col: np.ndarray,
                  results: list[Result]) -> None:
    """``n``, ``N`` and ``p`` records of the cells and the row totals, the missing values'
    records (:func:`_missing_records`), then the column totals' ``n``, ``N`` and ``p``."""
    def record(level, col, n, base):
        text = _cell_text(spec.percent, spec.percent_digits, n, base)
        common = dict(variable=spec.row_name, variable_level=level,
                      group=spec.col_name if col is not None else None, group_level=col)
        results.append(Result("crosstab", "n", n, formatted=text, **common))
        results.append(Result("crosstab", "N", base, **common))
        results.append(Result("crosstab", "p", n / base if base else float("nan"), **common))

    for i, level in enumerate(spec.row_levels):
        for j, col in enumerate(spec.col_levels):
            record(level, col, int(counts[i, j]), _percent_base(spec.percent, counts, i, j))
        if spec.totals:
            record(level, None, int(counts[i, :].sum()),
                   _percent_base(spec.percent, counts, i, None))
    _missing_records(spec, counts, missing_by_col, results)
    if spec.totals:
        for j, col in enumerate(spec.col_levels):
            n = int(counts[:, j].sum())
            record(None, col, n,
                   n if spec.percent == "column" else _percent_base(spec.percent, counts, None, j))
        record(None, None, int(counts.sum()), int(counts.sum()))


def _missing_records(spec: CrosstabSpec, counts: np.ndarray, missing_by_col: np.ndarray,
                     results: list[Result]) -> None:
    """``N_obs`` per column (its patients, row value known or not); when the table shows
    an unknown row (``missing = "ifany"`` and some row value unknown), ``N_miss`` per
    column and overall.

    Only then: the methods paragraph reports every ``N_miss`` record as missing data, and
    with ``missing = "no"`` the unknown values are the patients the table is not about.
    """
    names = dict(variable=spec.row_name, group=spec.col_name)
    for j, col in enumerate(spec.col_levels):
        results.append(Result("crosstab", "N_obs", int(counts[:, j].sum() + missing_by_col[j]),
                              group_level=col, **names))
    if spec.missing != "ifany" or not missing_by_col.sum():
        return
    for j, col in enumerate(spec.col_levels):
        results.append(Result("crosstab", "N_miss", int(missing_by_col[j]), group_level=col,
                              **names))
    results.append(Result("crosstab", "N_miss", int(missing_by_col.sum()),
                          variable=spec.row_name))


def _test(spec: CrosstabSpec, counts: np.ndarray, context: SectionContext,
          results: list[Result]) -> str:
    """Run the test, add its records and return the methods sentence ("" if none ran)."""
    from cohortpress.stats import comparisons

    if counts.shape[0] < 2 or counts.shape[1] < 2:
        return ""
    names = dict(variable=spec.row_name, group=spec.col_name)
    _leave_out_empty_columns(spec, counts, results, names)
    try:
        if spec.test == "fisher":
            result = comparisons.fisher_test(counts, n_tables=spec.monte_carlo_tables,
                                             seed=spec.seed)
        else:
            result = comparisons.chisq_test(counts, correct=(spec.test == "chisq_yates"))
    except StatisticsError as exc:
        results.append(Result("test", "not.tested", str(exc), **names))
        return ""
    results.extend(hypothesis_test_records(result, context.format_p(result.p_value),
                                           **names))
    extra = f" ({parenthetical(result.note)})" if result.note else ""
    return (f"The association of {in_sentence(spec.row_name)} with "
            f"{in_sentence(spec.col_label)} was tested with "
            f"{test_phrase(result.method)}{extra}.")


def _leave_out_empty_columns(spec: CrosstabSpec, counts: np.ndarray, results: list[Result],
                             names: dict) -> None:
    """Record each column (group) the test cannot use, and why: no patients in the
    section's subset, or none with a known value. (The test drops such a column; the table
    shows it, so the footnote must say so.)"""
    if (counts.sum(axis=0) > 0).sum() < 2:
        return  # no test at all: "not.tested" says why
    observed = {r.group_level: r.stat for r in results
                if r.context == "crosstab" and r.stat_name == "N_obs" and r.group_level}
    for j, col in enumerate(spec.col_levels):
        if counts[:, j].sum() == 0:
            reason = "no patients in this subset" if not observed.get(col) else \
                "no known values"
            results.append(Result("test", "not.tested.group", reason, group_level=col,
                                  **names))


# --------------------------------------------------------------------------- the table


def _record_count(record: Result | None) -> str:
    """A count record as a cell prints it: its number, or its released text when hidden."""
    if record is None:
        return "0"
    return str(record.stat) if record.stat is not None else (record.formatted or "")


def crosstab_from_records(records: Iterable[Result], layout: CrosstabLayout) -> Table:
    """The cross-table, from its results records alone (see :func:`crosstab_records`).

    Column levels come from the per-column ``N_obs`` records, row levels from the ``n``
    records, both in the order written; every number shown is a record's ``stat``.
    """
    view = _CrosstabView(Records(records), layout)
    body = [view.level_row(level) for level in view.row_levels]
    if view.show_missing:
        body.append(view.missing_row())
    if layout.totals:
        body.append(view.totals_row())
    return Table(layout.caption, view.header(), tuple(body), tuple(view.footnotes()))


class _CrosstabView:
    """One cross-table's records, read for rendering."""

    def __init__(self, records: Records, layout: CrosstabLayout):
        self.records = records
        self.layout = layout
        self.names = dict(variable=layout.variable)
        self.col_levels = records.distinct("group_level", context="crosstab",
                                           stat_name="N_obs", group=layout.group,
                                           **self.names)
        self.row_levels = [lv for lv in records.distinct("variable_level", context="crosstab",
                                                         stat_name="n", **self.names)
                           if lv is not None]
        self.missing_total = records.one(context="crosstab", stat_name="N_miss", group=None,
                                         **self.names)
        # a hidden count of unknowns is not 0: the row is there, showing "<10"
        self.show_missing = layout.missing == "ifany" and self.missing_total is not None \
            and self.missing_total.stat != 0

    def header(self) -> tuple[Row, ...]:
        layout = self.layout
        unit = " n (%)" if layout.percent != "none" else " n"
        first = [Cell(layout.row_header, align="left", rowspan=2),
                 Cell(layout.col_label, colspan=len(self.col_levels))]
        second = [Cell(f"{lv}{unit}", marks=layout.col_marks.get(lv, ()))
                  for lv in self.col_levels]
        if layout.totals:
            first.append(Cell("Total", rowspan=2))
        return (Row(tuple(first)), Row(tuple(second)))

    def cell(self, level, col) -> Cell:
        where = dict(context="crosstab", variable_level=level,
                     group=self.layout.group if col is not None else None, group_level=col,
                     **self.names)
        count = self.records.one(stat_name="n", **where)
        base = self.records.stat(stat_name="N", **where)
        return Cell(_cell_text(self.layout.percent, self.layout.percent_digits, count.stat,
                               base, count.formatted or ""))

    def cells(self, level) -> list[Cell]:
        cells = [self.cell(level, col) for col in self.col_levels]
        if self.layout.totals:
            cells.append(self.cell(level, None))
        return cells

    def level_row(self, level) -> Row:
        return Row((Cell(level, align="left"), *self.cells(level)))

    def totals_row(self) -> Row:
        return Row((Cell("Total", align="left"), *self.cells(None)), role="total")

    def missing_row(self) -> Row:
        cells = [Cell(_record_count(self.records.one(context="crosstab", stat_name="N_miss",
                                                     group=self.layout.group, group_level=col,
                                                     **self.names)))
                 for col in self.col_levels]
        if self.layout.totals:
            cells.append(Cell(_record_count(self.missing_total)))
        return Row((Cell(self.layout.missing_label, align="left"), *cells))

    def footnotes(self) -> list[Footnote]:
        notes = list(self.layout.extra_footnotes)
        test_note = self.test_footnote()
        if test_note is not None:
            notes.insert(0, test_note)
        notes += self.left_out_notes()
        if self.layout.percent != "none":
            known = " of patients with known values" if self.show_missing else ""
            zero = " (a count of 0 is shown without one)" if self.has_zero_count() else ""
            notes.append(Footnote(f"Percentages are of {PERCENT_BASES[self.layout.percent]}"
                                  f"{known}, rounded{zero}."))
        return notes

    def has_zero_count(self) -> bool:
        """Whether a cell of the table counts 0 patients of a non-empty base."""
        return any(r.stat == 0 and r.stat is not None and self.records.stat(
            context="crosstab", stat_name="N", variable_level=r.variable_level,
            group=r.group, group_level=r.group_level, **self.names)
            for r in self.records.select(context="crosstab", stat_name="n", **self.names))

    def left_out_notes(self) -> list[Footnote]:
        """The columns the test could not use: an empty group, or one without known
        values."""
        notes = []
        for r in self.records.select(context="test", stat_name="not.tested.group",
                                     group=self.layout.group, **self.names):
            if r.stat == "no patients in this subset":
                notes.append(Footnote(f"{r.group_level}: no patients in this subset; "
                                      f"not tested."))
            else:
                notes.append(Footnote(f"The test leaves out {r.group_level} ({r.stat})."))
        return notes

    def test_footnote(self) -> Footnote | None:
        where = dict(context="test", group=self.layout.group, **self.names)
        reason = self.records.stat(stat_name="not.tested", **where)
        if reason is not None:
            return Footnote(f"No test: {reason}.")
        method = self.records.stat(stat_name="method", **where)
        if method is None:
            return None
        formatted = format_p(self.records.stat(stat_name="p.value", **where),
                             digits=self.layout.p_digits)
        p_text = p_phrase(formatted)
        note = self.records.stat(stat_name="note", **where)
        extra = f"; {note}" if note else ""
        return Footnote(f"P {p_text} ({method}{extra}).")
