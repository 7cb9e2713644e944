"""A regression table built from its section's results records alone.

The univariable and multivariable columns side by side: each model shows the ratio (HR or
OR) with its confidence interval and the p-value, categorical covariates their reference
level, a factor with more than two levels its likelihood-ratio p on its heading row, and a
term the model could not estimate a flag whose footnote says why. A natural spline takes
one row with the test of all its columns (the ratio of one basis column means nothing, so
none is printed; a footnote gives its knots and the test of non-linearity); an interaction
a row per product column, "Age × Sex: f", with a footnote on how to read it.

A binary covariate takes one row that names the contrast, "Oedema: yes vs no", as the
BMJ, the Lancet and JAMA print a two-level covariate: the reader sees which level is the
reference without a "1 (reference)" row, and an unlabelled 0/1 (or false/true) indicator
reads "yes"/"no" rather than "1"/"0". The spanners over the columns name the models only
when there are two ("Univariable", "Multivariable"); a single model gets no spanner, and a
footnote says which model it is. Every text comes from a
record (:func:`cohortpress.kit.regression.model_records` and
:func:`~cohortpress.kit.regression.layout_records`), so the table and ``results.json``
cannot disagree; the caller chooses only the layout (:class:`RegressionLayout`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from cohortpress.api.blocks import Cell, Footnote, Row, Table
from cohortpress.api.results import Result
from cohortpress.kit.disclosure import count_text
from cohortpress.kit.prose import percent_text

NOT_ESTIMABLE = "not estimable"
MARKS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class RegressionLayout:
    """How a regression table is laid out: everything that is not in its records.

    Attributes
    ----------
    caption : str
    ratio_name, ratio_stat : str
        The ratio's abbreviation in the header (``"HR"``) and its records' ``stat_name``
        (``"hr"``).
    n_label : str
        The label of the last row, patients and events per model.
    extra_header : str or None
        The title of an extra column, for the models that have texts in ``extra``.
    extra : mapping
        Texts of the extra column: by model (``group_level``), then by variable.
    notes : tuple of Footnote
        Footnotes after the table's own (the flags' reasons and the models' notes).
    intercept_label : str or None
        When given, a first row of this label shows each model's intercept (its records of
        variable ``"(Intercept)"``: ``estimate.exp`` formatted, and ``p.value``); a column
        combining several models (one intercept each) leaves it empty.
    """

    caption: str
    ratio_name: str
    ratio_stat: str
    n_label: str
    extra_header: str | None = None
    extra: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    notes: tuple[Footnote, ...] = ()
    intercept_label: str | None = None


INTERCEPT = "(Intercept)"

#: The footnote of a table with an interaction.
INTERACTION_NOTE = ("A \u00d7 B rows: interaction terms, the factor by which the ratio of A "
                    "is multiplied for the level of B shown (or per unit of B); the ratios "
                    "of A and B in the same model are then their effects at the reference "
                    "level (or at 0) of the other")


def _p_words(p_text: str) -> str:
    """``= 0.12`` or ``< 0.001``: a formatted p-value after the letter p."""
    return p_text if p_text[:1] in "<>" else f"= {p_text}"


@dataclass
class _Term:
    variable: str
    label: str
    kind: str = "continuous"
    levels: list = field(default_factory=list)
    reference: str | None = None
    knots: list = field(default_factory=list)

    @property
    def is_factor(self) -> bool:
        return self.kind in ("categorical", "binary")

    @property
    def is_contrast(self) -> bool:
        """A binary covariate with its two levels: printed on one row, "A: yes vs no"."""
        return self.kind == "binary" and len(self.levels) == 2


#: Unlabelled indicator levels and the words a table prints for them.
_INDICATOR_WORDS = {frozenset({"0", "1"}): {"0": "no", "1": "yes"},
                    frozenset({"false", "true"}): {"false": "no", "true": "yes"}}


def level_text(level: str, levels: Sequence[str]) -> str:
    """How a factor's level reads in a row label: a 0/1 or false/true indicator without
    labels as "no"/"yes", any other level as it is (the config's label, where given)."""
    words = _INDICATOR_WORDS.get(frozenset(str(lv).lower() for lv in levels))
    return words[str(level).lower()] if words else str(level)


def contrast_label(label: str, level: str, reference: str, levels: Sequence[str]) -> str:
    """The one-row label of a binary covariate: ``"Oedema: yes vs no"``."""
    return f"{label}: {level_text(level, levels)} vs {level_text(reference, levels)}"


#: The footnote that names the only model of a table without spanners.
_SINGLE_MODEL = {
    "univariable": "{ratio}s from separate models, one per covariate (univariable).",
    "multivariable": "{ratio}s from one model with all the covariates shown (multivariable).",
}


@dataclass
class _Model:
    level: str
    title: str
    shown: dict = field(default_factory=dict)  # (variable, level) -> (ratio text, p text)
    flags: dict = field(default_factory=dict)  # variable -> reason
    term_tests: dict = field(default_factory=dict)  # variable -> (p text, method)
    n: dict = field(default_factory=dict)  # variable -> (n, events)
    notes: list = field(default_factory=list)
    intercepts: dict = field(default_factory=dict)  # variable_level -> (text, p text)
    nonlinear: dict = field(default_factory=dict)  # spline variable -> p text


def regression_table(records: Iterable[Result], layout: RegressionLayout, *,
                     context_name: str) -> Table:
    """The regression table of ``records`` (those of context ``context_name``).

    Parameters
    ----------
    records : iterable of Result
        A section's records; they must include ``conf.level`` and the layout records.
    layout : RegressionLayout
    context_name : str
        ``"coxph"``, ``"logistic"``...

    Returns
    -------
    Table
    """
    records = [r for r in records if r.context == context_name]
    terms, models = _terms(records), _models(records, layout.ratio_stat)
    conf_level = next(r.stat for r in records
                      if r.stat_name == "conf.level" and r.group is None)
    builder = _Builder(terms, models, layout)
    return Table(layout.caption, builder.header(conf_level), tuple(builder.body()),
                 tuple(builder.footnotes()))


def _terms(records: Sequence[Result]) -> list[_Term]:
    terms: dict[str, _Term] = {}
    for r in records:
        if r.group is not None:
            continue
        if r.stat_name == "label":
            terms[r.variable] = _Term(r.variable, r.stat)
        elif r.stat_name == "var_type":
            terms[r.variable].kind = r.stat
        elif r.stat_name == "reference_row":
            terms[r.variable].levels.append(r.variable_level)
            if r.stat:
                terms[r.variable].reference = r.variable_level
        elif r.stat_name == "spline.knot":
            terms[r.variable].knots.append(float(r.stat))
    return list(terms.values())


def _models(records: Sequence[Result], ratio_stat: str) -> list[_Model]:
    models = {r.group_level: _Model(r.group_level, r.stat) for r in records
              if r.group == "model" and r.stat_name == "model.title"}
    p_values = {}
    events = {}
    for r in records:
        model = models.get(r.group_level) if r.group == "model" else None
        if model is None:
            continue
        key = (r.variable, r.variable_level)
        if r.variable == INTERCEPT:
            if r.stat_name in ("estimate.exp", "p.value"):
                text, p_text = model.intercepts.get(r.variable_level, (None, None))
                model.intercepts[r.variable_level] = (
                    r.formatted if r.stat_name == "estimate.exp" else text,
                    r.formatted if r.stat_name == "p.value" else p_text)
        elif r.stat_name == ratio_stat:
            model.shown[key] = r.formatted
        elif r.stat_name == "p.value":
            p_values[(model.level, key)] = r.formatted
        elif r.stat_name == "not.estimable":
            model.flags[r.variable] = r.stat
        elif r.stat_name == "p.value.term":
            model.term_tests[r.variable] = (r.formatted, None)
        elif r.stat_name == "method.term":
            model.term_tests[r.variable] = (model.term_tests[r.variable][0], r.stat)
        elif r.stat_name == "p.value.nonlinear":
            model.nonlinear[r.variable] = r.formatted
        elif r.stat_name == "nobs":
            model.n[r.variable] = _count(r)
        elif r.stat_name == "n.event":
            events[(model.level, r.variable)] = _count(r)
        elif r.stat_name == "note":
            model.notes.append(r.stat)
    for model in models.values():
        model.shown = {key: (text, p_values.get((model.level, key)))
                       for key, text in model.shown.items()}
        model.n = {v: (n, events[(model.level, v)]) for v, n in model.n.items()}
    return list(models.values())


@dataclass(frozen=True)
class _Count:
    """A count and how the table prints it (under a disclosure rule, "<10" when hidden)."""

    value: int | None
    text: str


def _count(record: Result) -> _Count:
    return _Count(record.stat, count_text(record.stat, record.formatted)
                  if record.disclosure is not None else str(record.stat))


class _Builder:
    """The rows and footnote marks of one table (marks in order of first use)."""

    def __init__(self, terms: list[_Term], models: list[_Model], layout: RegressionLayout):
        self.terms = terms
        self.models = models
        self.layout = layout
        self.marks: dict[str, str] = {}

    def _extra(self, model: _Model) -> Mapping[str, str] | None:
        if not self.layout.extra_header:
            return None
        return self.layout.extra.get(model.level) or None

    def _width(self, model: _Model) -> int:
        return 2 + (1 if self._extra(model) else 0)

    def header(self, conf_level: float) -> tuple[Row, ...]:
        spanners = len(self.models) > 1
        top = [Cell("Characteristic", align="left", rowspan=2 if spanners else 1)]
        bottom = []
        for model in self.models:
            top.append(Cell(model.title, colspan=self._width(model)))
            bottom += [Cell(f"{self.layout.ratio_name} ({percent_text(conf_level)} CI)"), Cell("p-value")]
            if self._extra(model):
                bottom.append(Cell(self.layout.extra_header))
        if not spanners:
            return (Row((top[0], *bottom)),)
        return (Row(tuple(top)), Row(tuple(bottom)))

    def body(self) -> list[Row]:
        rows: list[Row] = []
        if self.layout.intercept_label:
            rows.append(self._intercept_row())
        for term in self.terms:
            if term.kind == "spline":
                rows.append(Row((Cell(term.label, align="left",
                                      marks=(self._mark(self._spline_note(term)),)),
                                 *self._heading_cells(term, always=True))))
            elif term.kind == "interaction":
                rows += self._interaction_rows(term)
            elif term.is_contrast:
                level = term.levels[1] if term.levels[0] == term.reference else term.levels[0]
                label = contrast_label(term.label, level, term.reference or term.levels[0],
                                       term.levels)
                rows.append(Row((Cell(label, align="left"),
                                 *self._contrast_cells(term, level))))
            elif term.is_factor:
                rows.append(Row((Cell(term.label, align="left"), *self._heading_cells(term)),
                                role="group"))
                rows.append(Row((Cell(term.reference or "", align="left"),
                                 *self._reference_cells(term)), indent=1))
                for level in term.levels[1:]:
                    rows.append(Row((Cell(level, align="left"),
                                     *self._estimate_cells(term, level)), indent=1))
            else:
                rows.append(Row((Cell(term.label, align="left"),
                                 *self._estimate_cells(term, None, with_extra=True))))
        rows.append(self._n_row())
        return rows

    def _intercept_row(self) -> Row:
        cells = []
        for model in self.models:
            text, p_text = (next(iter(model.intercepts.values()))
                            if len(model.intercepts) == 1 else ("", ""))
            cells += [Cell(text or ""), Cell(p_text or "")] + \
                [Cell("")] * (self._width(model) - 2)
        return Row((Cell(self.layout.intercept_label, align="left"), *cells))

    def _interaction_rows(self, term: _Term) -> list[Row]:
        """One row per product column; a heading with the term's test over several."""
        marks = (self._mark(INTERACTION_NOTE),)
        if len(term.levels) <= 1:
            level = term.levels[0] if term.levels else None
            label = f"{term.label}: {level}" if level else term.label
            return [Row((Cell(label, align="left", marks=marks),
                         *self._estimate_cells(term, level, with_extra=True)))]
        rows = [Row((Cell(term.label, align="left", marks=marks),
                     *self._heading_cells(term, always=True)), role="group")]
        rows += [Row((Cell(level, align="left"), *self._estimate_cells(term, level)), indent=1)
                 for level in term.levels]
        return rows

    def _spline_note(self, term: _Term) -> str:
        knots = ", ".join(f"{k:.4g}" for k in term.knots) or "none"
        tests = [f"p {_p_words(model.nonlinear[term.variable])} {model.level}"
                 for model in self.models if term.variable in model.nonlinear]
        nonlinear = f"; test of non-linearity (against a linear term): {', '.join(tests)}" \
            if tests else ""
        return (f"{term.label}: natural cubic spline as R's splines::ns (boundary knots at the range, "
                f"interior knots at quantiles: {knots}); its p-value tests all its columns "
                f"together{nonlinear}. {self.layout.ratio_name}s of single spline columns "
                f"have no meaning and are not shown (results.json keeps them)")

    def _heading_cells(self, term: _Term, always: bool = False) -> list[Cell]:
        cells = []
        for model in self.models:
            flag = self._flag_cell(model, term)
            if flag is not None:
                cells += [flag] + [Cell("")] * (self._width(model) - 1)
                continue
            if always and term.variable not in model.n:
                cells += [Cell("")] * self._width(model)
                continue
            test = model.term_tests.get(term.variable) \
                if always or len(term.levels) > 2 else None
            p_cell = Cell("")
            if test is not None:
                p_text, method = test
                p_cell = Cell(p_text, marks=(self._mark(method),))
            cells += [Cell(""), p_cell]
            extra = self._extra(model)
            if extra:
                cells.append(Cell(extra.get(term.variable, "")))
        return cells

    def _contrast_cells(self, term: _Term, level) -> list[Cell]:
        """A binary covariate's one row: its flag, or its estimate, p and extra column."""
        cells = []
        for model in self.models:
            flag = self._flag_cell(model, term)
            if flag is not None:
                cells += [flag] + [Cell("")] * (self._width(model) - 1)
                continue
            cells += self._estimate_cells(term, level, with_extra=True, models=[model])
        return cells

    def _reference_cells(self, term: _Term) -> list[Cell]:
        cells = []
        for model in self.models:
            if self._flag_cell(model, term) is not None or term.variable not in model.n:
                cells += [Cell("")] * self._width(model)
                continue
            cells += [Cell("1 (reference)"), Cell("")]
            if self._extra(model):
                cells.append(Cell(""))
        return cells

    def _estimate_cells(self, term: _Term, level, with_extra: bool = False,
                        models: Sequence[_Model] | None = None) -> list[Cell]:
        cells = []
        for model in self.models if models is None else models:
            flag = self._flag_cell(model, term)
            if flag is not None:
                # A factor shows its flag on its heading row; its level rows stay empty.
                first = Cell("") if term.is_factor else flag
                cells += [first] + [Cell("")] * (self._width(model) - 1)
                continue
            shown = model.shown.get((term.variable, level))
            if shown is None or term.variable not in model.n:
                cells += [Cell("")] * self._width(model)
                continue
            cells += [Cell(shown[0]), Cell(shown[1])]
            extra = self._extra(model)
            if extra:
                cells.append(Cell(extra.get(term.variable, "") if with_extra else ""))
        return cells

    def _flag_cell(self, model: _Model, term: _Term) -> Cell | None:
        reason = model.flags.get(term.variable)
        if reason is None:
            return None
        return Cell(NOT_ESTIMABLE, marks=(self._mark(reason),))

    def _mark(self, text: str) -> str:
        if text not in self.marks:
            self.marks[text] = MARKS[len(self.marks)]
        return self.marks[text]

    def _n_row(self) -> Row:
        cells = []
        for model in self.models:
            counts = set(model.n.values())
            if not counts:
                text = ""
            elif len(counts) == 1:
                n, events = counts.pop()
                text = f"{n.text} ({events.text})"
            else:
                ordered = sorted((c[0] for c in counts), key=lambda c: (c.value is not None,
                                                                         c.value or 0))
                text = f"{ordered[0].text}\u2013{ordered[-1].text} per model"
            cells += [Cell(text)] + [Cell("")] * (self._width(model) - 1)
        return Row((Cell(self.layout.n_label, align="left"), *cells), role="total")

    def footnotes(self) -> list[Footnote]:
        notes = [Footnote(text if text.endswith(".") else text + ".", mark)
                 for text, mark in self.marks.items()]
        if len(self.models) == 1:
            which = _SINGLE_MODEL.get(self.models[0].level)
            if which:
                notes.append(Footnote(which.format(ratio=self.layout.ratio_name)))
        for model in self.models:
            notes += [Footnote(f"{model.title} model: {n}") for n in model.notes]
        return notes + list(self.layout.notes)
