"""Regression tables: univariable and multivariable models side by side.

Shared by the ``cox`` and ``logistic`` analyses. Each model column shows the ratio (HR or
OR) with its confidence interval and the p-value; categorical covariates show their
reference level; a term the model cannot estimate (separation, non-convergence, a constant
or collinear covariate) shows a flag with a footnote that says why, never a meaningless
number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from cohortpress.kit.design import Design, Term
from cohortpress.common.formatting import fmt_num
from cohortpress.api.blocks import Cell, Footnote, Row
from cohortpress.api.results import Result

NOT_ESTIMABLE = "not estimable"


@dataclass(frozen=True)
class Estimate:
    """One design column's estimate on the log scale, and its ratio."""

    column: str
    estimate: float
    std_error: float
    statistic: float
    p_value: float
    ratio: float
    conf_low: float
    conf_high: float


@dataclass
class ModelColumn:
    """What one model contributes to the table.

    ``estimates`` by design column; ``term_tests`` a p-value (and its method) for a
    multi-level factor; ``flags`` a reason by variable for terms not estimable; ``failure``
    a reason when the whole model could not be fitted.
    """

    title: str
    estimates: dict[str, Estimate] = field(default_factory=dict)
    term_tests: dict[str, tuple[float, str]] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)
    n: dict[str, tuple[int, int]] = field(default_factory=dict)  # variable -> (n, events)
    failure: str | None = None
    extra: dict[str, Cell] = field(default_factory=dict)  # variable -> extra column cell
    notes: list[str] = field(default_factory=list)  # footnotes about this model

    @classmethod
    def combined(cls, title: str, columns: Sequence["ModelColumn"]) -> "ModelColumn":
        """One column from per-covariate models (the univariable column of a table)."""
        merged = cls(title)
        for column in columns:
            merged.estimates.update(column.estimates)
            merged.term_tests.update(column.term_tests)
            merged.flags.update(column.flags)
            merged.n.update(column.n)
            merged.extra.update(column.extra)
            merged.notes += [n for n in column.notes if n not in merged.notes]
        return merged


class RegressionTable:
    """Builds the rows, marks and records of a regression table."""

    def __init__(self, terms: Sequence[Term], columns: Sequence[ModelColumn], *,
                 ratio_name: str, conf_level: float, context, digits: int = 2,
                 extra_header: str | None = None, context_name: str = "coxph",
                 ratio_stat: str = "hr"):
        self.terms = list(terms)
        self.columns = list(columns)
        self.ratio_name = ratio_name
        self.conf_level = conf_level
        self.context = context
        self.digits = digits
        self.extra_header = extra_header
        self.context_name = context_name
        self.ratio_stat = ratio_stat
        self.flag_notes: dict[str, str] = {}
        self.results: list[Result] = []

    def header(self) -> tuple[Row, ...]:
        top = [Cell("Characteristic", align="left", rowspan=2)]
        bottom = []
        for col in self.columns:
            width = 2 + (1 if self.extra_header and col.extra else 0)
            top.append(Cell(col.title, colspan=width))
            bottom += [Cell(f"{self.ratio_name} ({self.conf_level:.0%} CI)"), Cell("p-value")]
            if self.extra_header and col.extra:
                bottom.append(Cell(self.extra_header))
        return (Row(tuple(top)), Row(tuple(bottom)))

    def body(self) -> list[Row]:
        rows: list[Row] = []
        for term in self.terms:
            if term.is_factor:
                rows.append(Row((Cell(term.label, align="left"),
                                 *self._cells_for_header(term)), role="group"))
                rows.append(Row((Cell(term.reference or "", align="left"),
                                 *self._reference_cells(term)), indent=1))
                for level, column in zip(term.levels[1:], term.columns):
                    rows.append(Row((Cell(level, align="left"),
                                     *self._estimate_cells(term, column, level)), indent=1))
            else:
                rows.append(Row((Cell(term.label, align="left"),
                                 *self._estimate_cells(term, term.columns[0], None,
                                                       with_extra=True))))
        rows.append(self._n_row())
        return rows

    def _width(self, col: ModelColumn) -> int:
        return 2 + (1 if self.extra_header and col.extra else 0)

    def _cells_for_header(self, term: Term) -> list[Cell]:
        cells = []
        for col in self.columns:
            flag = self._flag_cell(col, term)
            if flag is not None:
                cells += [flag] + [Cell("")] * (self._width(col) - 1)
                continue
            test = col.term_tests.get(term.variable) if len(term.columns) > 1 else None
            p_cell = Cell("")
            if test is not None:
                p, method = test
                mark = self._mark(method)
                p_cell = Cell(self.context.format_p(p), marks=(mark,))
            cells += [Cell(""), p_cell]
            if self.extra_header and col.extra:
                cells.append(col.extra.get(term.variable, Cell("")))
        return cells

    def _reference_cells(self, term: Term) -> list[Cell]:
        cells = []
        for col in self.columns:
            if self._flag_cell(col, term) is not None or term.variable not in col.n:
                cells += [Cell("")] * self._width(col)
                continue
            cells += [Cell("1 (reference)"), Cell("")]
            if self.extra_header and col.extra:
                cells.append(Cell(""))
        return cells

    def _estimate_cells(self, term: Term, column: str, level, with_extra: bool = False):
        cells = []
        for col in self.columns:
            flag = self._flag_cell(col, term)
            if flag is not None:
                # A factor shows its flag on its heading row; its level rows stay empty.
                first = Cell("") if term.is_factor else flag
                cells += [first] + [Cell("")] * (self._width(col) - 1)
                continue
            est = col.estimates.get(column)
            if est is None or term.variable not in col.n:
                cells += [Cell("")] * self._width(col)
                continue
            text = self._ratio_text(est)
            p_text = self.context.format_p(est.p_value)
            cells += [Cell(text), Cell(p_text)]
            if self.extra_header and col.extra:
                cells.append(col.extra.get(term.variable, Cell("")) if with_extra else Cell(""))
            self._record(col, term, level, est, text, p_text)
        return cells

    def _ratio_text(self, est: Estimate) -> str:
        d = self.digits
        return f"{fmt_num(est.ratio, d)} ({fmt_num(est.conf_low, d)}\u2013{fmt_num(est.conf_high, d)})"

    def _flag_cell(self, col: ModelColumn, term: Term) -> Cell | None:
        reason = col.failure or col.flags.get(term.variable)
        if reason is None:
            return None
        mark = self._mark(reason, flag=True)
        return Cell(NOT_ESTIMABLE, marks=(mark,))

    def _mark(self, text: str, flag: bool = False) -> str:
        if text not in self.flag_notes:
            self.flag_notes[text] = "abcdefghijklmnop"[len(self.flag_notes)]
        return self.flag_notes[text]

    def _n_row(self) -> Row:
        cells = []
        for col in self.columns:
            counts = set(col.n.values())
            if col.failure or not counts:
                text = ""
            elif len(counts) == 1:
                n, events = counts.pop()
                text = f"{n} ({events})"
            else:
                lows = min(c[0] for c in counts), max(c[0] for c in counts)
                text = f"{lows[0]}\u2013{lows[1]} per model"
            cells += [Cell(text)] + [Cell("")] * (self._width(col) - 1)
        label = "Patients (events)" if self.context_name == "coxph" else "Patients (outcomes)"
        return Row((Cell(label, align="left"), *cells), role="total")

    def _record(self, col: ModelColumn, term: Term, level, est: Estimate, text, p_text):
        common = dict(variable=term.variable, variable_level=level, group="model",
                      group_level=col.title.lower())
        for stat, value in (("estimate", est.estimate), ("std.error", est.std_error),
                            ("statistic", est.statistic), ("p.value", est.p_value),
                            (self.ratio_stat, est.ratio), ("conf.low", est.conf_low),
                            ("conf.high", est.conf_high)):
            formatted = text if stat == self.ratio_stat else (p_text if stat == "p.value" else None)
            self.results.append(Result(self.context_name, stat, float(value),
                                       formatted=formatted, **common))

    def footnotes(self) -> list[Footnote]:
        notes = [Footnote(text if text.endswith(".") else text + ".", mark)
                 for text, mark in self.flag_notes.items()]
        for col in self.columns:
            notes += [Footnote(f"{col.title} model: {n}") for n in col.notes]
        return notes

    def term_records(self) -> list[Result]:
        out = []
        for col in self.columns:
            for variable, (p, method) in col.term_tests.items():
                out.append(Result(self.context_name, "p.value.term", float(p), variable=variable,
                                  group="model", group_level=col.title.lower(),
                                  formatted=self.context.format_p(p)))
                out.append(Result(self.context_name, "method.term", method, variable=variable,
                                  group="model", group_level=col.title.lower()))
            for variable, (n, events) in col.n.items():
                out.append(Result(self.context_name, "nobs", n, variable=variable,
                                  group="model", group_level=col.title.lower()))
                out.append(Result(self.context_name, "n.event", events, variable=variable,
                                  group="model", group_level=col.title.lower()))
        return out


def estimates_from(names: Sequence[str], coef, se, z, p, ratio, low, high,
                   skip: Sequence[str] = ()) -> dict[str, Estimate]:
    """Estimates by column name from a fit's arrays (columns in ``skip`` left out)."""
    out = {}
    for i, name in enumerate(names):
        if name in skip:
            continue
        out[name] = Estimate(name, float(coef[i]), float(se[i]), float(z[i]), float(p[i]),
                             float(ratio[i]), float(low[i]), float(high[i]))
    return out


def separated_variables(design: Design, separated: Sequence[str]) -> set[str]:
    """The variables whose columns include a separated one."""
    bad = set(separated)
    return {t.variable for t in design.terms if bad & set(t.columns)}


def finite(values) -> bool:
    return bool(np.all(np.isfinite(values)))
