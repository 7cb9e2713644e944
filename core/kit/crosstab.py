"""A row variable by a column variable: counts, percentages, totals and a test.

The building block of the ``crosstab`` and ``kmt2a_partners`` analyses, and of any plugin
that tabulates integer codes: fill a :class:`CrosstabSpec` and call :func:`crosstab_table`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from cohortpress.api.blocks import Cell, Footnote, Row, Table
from cohortpress.api.results import Result
from cohortpress.api.sections import SectionContext
from cohortpress.common.errors import StatisticsError
from cohortpress.common.formatting import fmt_n_percent, in_sentence


@dataclass
class CrosstabSpec:
    """Everything :func:`crosstab_table` needs, independent of where the codes came from.

    ``row_codes``/``col_codes`` are integer codes (-1 missing) into ``row_levels`` and
    ``col_levels``.
    """

    row_name: str
    row_levels: Sequence[str]
    row_codes: np.ndarray
    col_name: str
    col_label: str
    col_levels: Sequence[str]
    col_codes: np.ndarray
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


@dataclass
class CrosstabResult:
    table: Table
    results: list[Result]
    methods: list[str]
    counts: np.ndarray


def crosstab_table(spec: CrosstabSpec, context: SectionContext) -> CrosstabResult:
    """Build the table, its results records and its methods sentence."""
    n_rows, n_cols = len(spec.row_levels), len(spec.col_levels)
    grouped = spec.col_codes >= 0
    row_known = spec.row_codes >= 0
    both = grouped & row_known
    counts = np.zeros((n_rows, n_cols), dtype=np.int64)
    np.add.at(counts, (spec.row_codes[both], spec.col_codes[both]), 1)
    missing_by_col = np.bincount(spec.col_codes[grouped & ~row_known], minlength=n_cols)
    show_missing = spec.missing == "ifany" and missing_by_col.sum() > 0
    results: list[Result] = []
    body = _body_rows(spec, counts, missing_by_col, show_missing, results)
    header = _header(spec)
    notes = list(spec.extra_footnotes)
    methods: list[str] = []
    if spec.test != "none":
        note, method_sentence = _test(spec, counts, context, results)
        if note is not None:
            notes.insert(0, note)
            methods.append(method_sentence)
    if spec.percent != "none":
        basis = {"column": "column totals", "row": "row totals", "total": "the grand total"}
        known = " of patients with known values" if show_missing else ""
        notes.append(Footnote(f"Percentages are of {basis[spec.percent]}{known}, rounded."))
    caption = spec.caption or f"{spec.row_name} by {spec.col_label.lower()}."
    table = Table(caption, header, tuple(body), tuple(notes))
    return CrosstabResult(table, results, methods, counts)


def _header(spec: CrosstabSpec) -> tuple[Row, ...]:
    unit = " n (%)" if spec.percent != "none" else " n"
    first = [Cell(spec.row_header, align="left", rowspan=2),
             Cell(spec.col_label, colspan=len(spec.col_levels))]
    second = [Cell(f"{lv}{unit}", marks=spec.col_marks.get(lv, ())) for lv in spec.col_levels]
    if spec.totals:
        first.append(Cell("Total", rowspan=2))
    return (Row(tuple(first)), Row(tuple(second)))


def _percent_base(spec: CrosstabSpec, counts: np.ndarray, i: int | None, j: int | None) -> int:
    if spec.percent == "column":
        return int(counts[:, j].sum()) if j is not None else int(counts.sum())
    if spec.percent == "row":
        return int(counts[i, :].sum()) if i is not None else int(counts.sum())
    return int(counts.sum())


def _cell_text(spec: CrosstabSpec, n: int, base: int) -> str:
    if spec.percent == "none":
        return str(n)
    return fmt_n_percent(n, base, spec.percent_digits)


def _body_rows(spec, counts, missing_by_col, show_missing, results) -> list[Row]:
    rows = []
    n_rows, n_cols = counts.shape
    for i, level in enumerate(spec.row_levels):
        cells = []
        for j, col in enumerate(spec.col_levels):
            base = _percent_base(spec, counts, i, j)
            n = int(counts[i, j])
            text = _cell_text(spec, n, base)
            cells.append(Cell(text))
            _record(results, spec, level, col, n, base, text)
        if spec.totals:
            n = int(counts[i, :].sum())
            base = _percent_base(spec, counts, i, None)
            text = _cell_text(spec, n, base)
            cells.append(Cell(text))
            _record(results, spec, level, None, n, base, text)
        rows.append(Row((Cell(level, align="left"), *cells)))
    if show_missing:
        cells = [Cell(str(int(m))) for m in missing_by_col]
        if spec.totals:
            cells.append(Cell(str(int(missing_by_col.sum()))))
        rows.append(Row((Cell(spec.missing_label, align="left"), *cells)))
        for j, col in enumerate(spec.col_levels):
            results.append(Result("crosstab", "N_miss", int(missing_by_col[j]),
                                  variable=spec.row_name, group=spec.col_name, group_level=col))
    if spec.totals:
        cells = []
        for j, col in enumerate(spec.col_levels):
            n = int(counts[:, j].sum())
            base = n if spec.percent == "column" else _percent_base(spec, counts, None, j)
            text = _cell_text(spec, n, base)
            cells.append(Cell(text))
            _record(results, spec, None, col, n, base, text)
        n = int(counts.sum())
        text = _cell_text(spec, n, n)
        cells.append(Cell(text))
        _record(results, spec, None, None, n, n, text)
        rows.append(Row((Cell("Total", align="left"), *cells), role="total"))
    return rows


def _record(results, spec, level, col, n, base, text) -> None:
    common = dict(variable=spec.row_name, variable_level=level,
                  group=spec.col_name if col is not None else None, group_level=col)
    results.append(Result("crosstab", "n", n, formatted=text, **common))
    results.append(Result("crosstab", "N", base, **common))
    results.append(Result("crosstab", "p", n / base if base else float("nan"), **common))


def _test(spec: CrosstabSpec, counts: np.ndarray, context: SectionContext, results):
    from cohortpress.stats import comparisons

    if counts.shape[0] < 2 or counts.shape[1] < 2:
        return None, ""
    try:
        if spec.test == "fisher":
            result = comparisons.fisher_test(counts, n_tables=spec.monte_carlo_tables,
                                             seed=spec.seed)
        else:
            result = comparisons.chisq_test(counts, correct=(spec.test == "chisq_yates"))
    except StatisticsError as exc:
        return Footnote(f"No test: {exc}."), ""
    formatted = context.format_p(result.p_value)
    results.append(Result("test", "p.value", result.p_value, variable=spec.row_name,
                          group=spec.col_name, formatted=formatted))
    results.append(Result("test", "method", result.method, variable=spec.row_name,
                          group=spec.col_name))
    if result.statistic is not None:
        results.append(Result("test", "statistic", result.statistic, variable=spec.row_name,
                              group=spec.col_name))
    if result.df is not None:
        results.append(Result("test", "df", result.df, variable=spec.row_name,
                              group=spec.col_name))
    p_text = formatted if formatted.startswith(("<", ">")) else f"= {formatted}"
    extra = f"; {result.note}" if result.note else ""
    note = Footnote(f"P {p_text} ({result.method}{extra}).")
    sentence = (f"The association of {in_sentence(spec.row_name)} with "
                f"{in_sentence(spec.col_label)} "
                f"was tested with {result.method}{extra}.")
    return note, sentence
