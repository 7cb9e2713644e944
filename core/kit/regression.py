"""Regression analyses' shared skeleton: fit the models, describe them as results records.

Shared by the ``cox`` and ``logistic`` analyses, which differ only in their model (a
:class:`RegressionModel`): one model per covariate (the univariable column) and one with
every covariate (the multivariable column), a likelihood-ratio test for each factor with
more than two levels, n and events of each model, and a term the model cannot estimate
(separation, non-convergence, a constant or collinear covariate) flagged with the reason,
never a meaningless number. The records (:func:`model_records`) hold everything the table
shows; :func:`cohortpress.kit.regression_table.regression_table` builds the table from them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from cohortpress.api.blocks import Cell, Footnote, Row
from cohortpress.api.results import Result
from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult
from cohortpress.common.formatting import fmt_num, format_p
from cohortpress.kit.design import Design, Term, build_design

NOT_ESTIMABLE = "not estimable"
NO_COMPLETE_CASES = "no patient has complete data for this model"
TERM_TEST_METHOD = "Likelihood-ratio test"


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
    term_statistics: dict[str, tuple[float, float]] = field(default_factory=dict)
    nonlinear: dict[str, TestResult] = field(default_factory=dict)  # spline -> its test
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
            merged.term_statistics.update(column.term_statistics)
            merged.nonlinear.update(column.nonlinear)
            merged.flags.update(column.flags)
            merged.n.update(column.n)
            merged.extra.update(column.extra)
            merged.notes += [n for n in column.notes if n not in merged.notes]
        return merged

    @property
    def level(self) -> str:
        """The ``group_level`` of this model's records: its title in lower case."""
        return self.title.lower()

    def flag(self, variable: str) -> str | None:
        """Why ``variable`` has no estimate in this model, or ``None``."""
        return self.failure or self.flags.get(variable)


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class Fitted:
    """A fitted model and whatever the analysis reuses for its tests (prepared data).

    ``fit`` has ``converged`` (bool), ``separated`` (design columns with an infinite
    estimate) and ``reason`` (why it did not converge, or ``None``).
    """

    fit: Any
    data: Any = None


class RegressionModel(ABC):
    """What one kind of regression brings to the shared skeleton (:func:`fit_models`).

    Attributes
    ----------
    separation_reason : str
        The flag's footnote for a covariate whose estimate is infinite.
    term_test_method : str
        The name of :meth:`term_test`'s test, recorded as ``method.term``.
    """

    separation_reason: str = "separation: the estimate is infinite or zero"
    term_test_method: str = TERM_TEST_METHOD

    @abstractmethod
    def fit(self, design: Design) -> Fitted:
        """Fit the model on ``design``'s complete cases; raise ``StatisticsError`` if it
        cannot be fitted at all (a constant or collinear covariate, no events...)."""

    @abstractmethod
    def estimates(self, design: Design, fitted: Fitted,
                  column: ModelColumn) -> dict[str, Estimate]:
        """The estimates by design column (``column.notes`` may say how they were got)."""

    @abstractmethod
    def counts(self, design: Design, fitted: Fitted) -> tuple[int, int]:
        """Patients and events (or outcomes) of the model."""

    @abstractmethod
    def term_test(self, design: Design, columns: Sequence[str], fitted: Fitted) -> float:
        """The p-value for dropping ``columns`` from the model (by default a
        likelihood-ratio test; see ``term_test_method``)."""

    def term_test_result(self, design: Design, columns: Sequence[str],
                         fitted: Fitted) -> TestResult:
        """:meth:`term_test` with its statistic and df where the model gives them."""
        return TestResult(self.term_test_method, self.term_test(design, columns, fitted))


def fit_column(model: RegressionModel, title: str,
               design: Design) -> tuple[ModelColumn, Fitted | None]:
    """Fit one model and describe it as a table column (flags instead of failures)."""
    column = ModelColumn(title)
    if design.n == 0:
        for term in design.terms:
            column.flags[term.variable] = NO_COMPLETE_CASES
        return column, None
    try:
        fitted = model.fit(design)
    except StatisticsError as exc:
        for term in design.terms:
            column.flags[term.variable] = str(exc)
        return column, None
    fit = fitted.fit
    column.estimates = model.estimates(design, fitted, column)
    for variable in separated_variables(design, fit.separated):
        column.flags[variable] = model.separation_reason
    if not fit.converged and not fit.separated:
        for term in design.terms:
            column.flags[term.variable] = fit.reason or "the model did not converge"
    counts = model.counts(design, fitted)
    for term in design.terms:
        column.n[term.variable] = counts
        if term.variable in column.flags:
            continue
        if len(term.columns) > 1 or term.kind in ("spline", "interaction"):
            test = model.term_test_result(design, term.columns, fitted)
            column.term_tests[term.variable] = (test.p_value, test.method)
            if test.statistic is not None:
                column.term_statistics[term.variable] = (test.statistic, test.df)
        if term.kind == "spline" and len(term.columns) > 1:
            try:
                column.nonlinear[term.variable] = _nonlinearity_test(model, design, term)
            except StatisticsError:
                pass  # the linear model failed where the spline did not: no test to show
    return column, fitted


def _nonlinearity_test(model: RegressionModel, design: Design, term: Term) -> TestResult:
    """The spline against its covariate's linear term (see :meth:`Design.linear_in`)."""
    linear, others = design.linear_in(term)
    return model.term_test_result(linear, others, model.fit(linear))


@dataclass
class FittedModels:
    """The univariable and multivariable models of one regression table.

    Attributes
    ----------
    design : Design
        The multivariable design (complete cases in every covariate).
    terms : list of Term
        The table's rows: each covariate's univariable term where there is one (its
        complete cases include every level the multivariable model has, and perhaps more).
    columns : list of ModelColumn
        Univariable (if asked), then multivariable (if asked and it differs).
    multivariable : Fitted or None
        The multivariable fit, if it could be fitted.
    follow_up : Any
        What ``follow_up`` returned for the multivariable model.
    """

    design: Design
    terms: list[Term]
    columns: list[ModelColumn]
    multivariable: Fitted | None = None
    follow_up: Any = None
    univariable_follow_up: dict[str, Any] = field(default_factory=dict)


def fit_models(model: RegressionModel, cohort, covariates: Sequence[str],
               also_complete: Sequence[np.ndarray] = (), *, univariable: bool = True,
               multivariable: bool = True, threads: int = 1,
               follow_up: Callable[[ModelColumn, Design, Fitted | None], Any] | None = None,
               univariable_follow_up: Callable[[ModelColumn, Design, Fitted | None], Any]
               | None = None, splines: dict[str, int] | None = None,
               interactions: Sequence[Sequence[str]] = ()) -> FittedModels:
    """Fit the univariable models and the multivariable one.

    The models are independent and NumPy releases the GIL in their heavy parts: with
    ``threads`` > 1 they are fitted on that many threads (the longest, multivariable, first);
    results are read in order, so the threads change no number. ``follow_up`` runs on the
    multivariable model right after its fit, in the same thread (a model check, say).
    A multivariable model with a single covariate repeats the univariable one: it is left
    out unless it is the only column. ``splines`` and ``interactions`` are passed to
    :func:`build_design`; an interaction has no univariable model. ``univariable_follow_up``
    runs on each univariable model; its answers are kept by variable.
    """
    full = build_design(cohort, covariates, also_complete, splines=splines,
                        interactions=interactions)
    wants_multi = multivariable and (len(full.terms) > 1 or not univariable)
    references = full.references()
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        multi_job = pool.submit(_multivariable, model, full, follow_up) if wants_multi else None
        uni_jobs = [pool.submit(_univariable, model, cohort, term.variable, also_complete,
                                references, splines, univariable_follow_up)
                    for term in full.terms if term.kind != "interaction"] \
            if univariable else []
        layout = {t.variable: t for t in full.terms}
        columns = []
        answers = {}
        if univariable:
            fitted = [job.result() for job in uni_jobs]
            layout.update({term.variable: term for _, term, _ in fitted})
            answers = {term.variable: answer for _, term, answer in fitted
                       if answer is not None}
            columns.append(ModelColumn.combined("Univariable", [col for col, _, _ in fitted]))
        models = FittedModels(full, [layout[t.variable] for t in full.terms], columns,
                              univariable_follow_up=answers)
        if multi_job is not None:
            multi, models.multivariable, models.follow_up = multi_job.result()
            columns.append(multi)
    return models


def _multivariable(model, design, follow_up):
    column, fitted = fit_column(model, "Multivariable", design)
    extra = follow_up(column, design, fitted) if follow_up is not None else None
    return column, fitted, extra


def _univariable(model, cohort, variable, also_complete, references, splines, follow_up):
    """One covariate's own model, with the multivariable model's reference level."""
    single = build_design(cohort, [variable], also_complete, references,
                          splines={k: v for k, v in (splines or {}).items() if k == variable})
    column, fitted = fit_column(model, "Univariable", single)
    answer = follow_up(column, single, fitted) if follow_up is not None else None
    return column, single.terms[0], answer


# --------------------------------------------------------------------------- records


def model_records(terms: Sequence[Term], columns: Sequence[ModelColumn], *, context_name: str,
                  ratio_stat: str, digits: int, p_digits: int) -> list[Result]:
    """The records of the models' estimates, tests and counts, in the table's order.

    First the :func:`scale_record`; then the estimates (``estimate``, ``std.error``,
    ``statistic``, ``p.value``, the ratio, ``conf.low``, ``conf.high``, and ``estimate.exp``,
    ``conf.low.log``, ``conf.high.log`` so that each limit has its estimate on the same
    scale) by term and level, then per model the factors' ``p.value.term`` and
    ``method.term``, and ``nobs`` and ``n.event`` by term.
    """
    out = [scale_record(context_name, ratio_stat)]
    for term in terms:
        for level, design_column in term_levels(term):
            for col in columns:
                est = col.estimates.get(design_column)
                if col.flag(term.variable) is None and est is not None and \
                        term.variable in col.n:
                    out += _estimate_records(col, term, level, est, context_name=context_name,
                                             ratio_stat=ratio_stat, digits=digits,
                                             p_digits=p_digits)
    for col in columns:
        common = dict(group="model", group_level=col.level)
        for variable, (p, method) in col.term_tests.items():
            out.append(Result(context_name, "p.value.term", float(p), variable=variable,
                              formatted=format_p(p, p_digits), **common))
            out.append(Result(context_name, "method.term", method, variable=variable,
                              **common))
            if variable in col.term_statistics:
                statistic, df = col.term_statistics[variable]
                out.append(Result(context_name, "statistic.term", float(statistic),
                                  variable=variable, **common))
                out.append(Result(context_name, "df.term", float(df), variable=variable,
                                  **common))
        for variable, test in col.nonlinear.items():
            out += _nonlinear_records(context_name, variable, test, p_digits, common)
        for variable, (n, events) in col.n.items():
            out.append(Result(context_name, "nobs", n, variable=variable, **common))
            out.append(Result(context_name, "n.event", events, variable=variable, **common))
    return out


def term_levels(term: Term) -> list[tuple[str | None, str]]:
    """``(variable_level, design column)`` of each of a term's estimates: a factor's
    levels but the reference, an interaction's levels (None for a product of two
    continuous covariates), a spline's basis columns numbered from 1."""
    if term.is_factor:
        return list(zip(term.levels[1:], term.columns))
    if term.kind == "interaction":
        return [(level or None, column) for level, column in zip(term.levels, term.columns)]
    if term.kind == "spline":
        return [(str(j), column) for j, column in enumerate(term.columns, start=1)]
    return [(None, term.columns[0])]


def _nonlinear_records(context_name, variable, test: TestResult, p_digits, common):
    """A spline's test against the linear term of its covariate."""
    out = [Result(context_name, "p.value.nonlinear", float(test.p_value), variable=variable,
                  formatted=format_p(test.p_value, p_digits), **common),
           Result(context_name, "method.nonlinear", test.method, variable=variable, **common)]
    if test.statistic is not None:
        out += [Result(context_name, "statistic.nonlinear", float(test.statistic),
                       variable=variable, **common),
                Result(context_name, "df.nonlinear", float(test.df), variable=variable,
                       **common)]
    return out


def ratio_text(ratio: float, low: float, high: float, digits: int) -> str:
    """``1.23 (0.45–3.21)``: a ratio and its confidence interval."""
    return f"{fmt_num(ratio, digits)} ({fmt_num(low, digits)}\u2013{fmt_num(high, digits)})"


def _estimate_records(col, term, level, est, *, context_name, ratio_stat, digits, p_digits):
    common = dict(variable=term.variable, variable_level=level, group="model",
                  group_level=col.level)
    text = ratio_text(est.ratio, est.conf_low, est.conf_high, digits)
    p_text = format_p(est.p_value, p_digits)
    out = []
    for stat, value in (("estimate", est.estimate), ("std.error", est.std_error),
                        ("statistic", est.statistic), ("p.value", est.p_value),
                        (ratio_stat, est.ratio), ("conf.low", est.conf_low),
                        ("conf.high", est.conf_high), ("estimate.exp", est.ratio),
                        ("conf.low.log", _log(est.conf_low)),
                        ("conf.high.log", _log(est.conf_high))):
        formatted = text if stat == ratio_stat else (p_text if stat == "p.value" else None)
        out.append(Result(context_name, stat, float(value), formatted=formatted, **common))
    return out


def _log(value: float) -> float:
    """The natural log of a ratio's confidence limit (``-inf`` at 0, ``nan`` if unknown)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.log(value))


def scale_record(context_name: str, ratio_stat: str) -> Result:
    """The record that says which of a model's estimate records are on which scale.

    ``estimate``, ``std.error``, ``conf.low.log`` and ``conf.high.log`` are on the scale of
    the linear predictor (log hazard ratio, log odds ratio); ``estimate.exp``, the ratio
    (``hr``, ``or``), ``conf.low`` and ``conf.high`` are exponentiated. The record's ``stat``
    lists both, so a reader of ``results.json`` need not guess.
    """
    return Result(context_name, "scale",
                  f"log: estimate, std.error, conf.low.log, conf.high.log; "
                  f"exp: estimate.exp, {ratio_stat}, conf.low, conf.high")


def layout_records(terms: Sequence[Term], columns: Sequence[ModelColumn], *,
                   context_name: str) -> list[Result]:
    """The records that say what the table shows besides the numbers.

    Per model (``group = "model"``): ``model.title``, in the table's column order; per term
    not estimated, ``not.estimable`` with the reason; each note about the model (``note``).
    Per term, in the table's row order: ``label`` (the row label), ``var_type``
    (``continuous``, ``binary``, ``categorical``, ``spline`` or ``interaction``) and, for
    factors, ``reference_row`` for each level in order (true for the reference level); for
    an interaction with levels, ``reference_row`` false for each; for a spline, its
    ``spline.df``, each interior ``spline.knot`` (``variable_level`` "1", "2"...) and the
    ``spline.boundary.knot`` "lower" and "upper".
    """
    out = []
    for col in columns:
        common = dict(group="model", group_level=col.level)
        out.append(Result(context_name, "model.title", col.title, **common))
        for term in terms:
            reason = col.flag(term.variable)
            if reason is not None:
                out.append(Result(context_name, "not.estimable", reason, variable=term.variable,
                                  formatted=NOT_ESTIMABLE, **common))
        out += [Result(context_name, "note", note, **common) for note in col.notes]
    for term in terms:
        out.append(Result(context_name, "label", term.label, variable=term.variable))
        out.append(Result(context_name, "var_type", term.kind, variable=term.variable))
        if term.is_factor:
            out += [Result(context_name, "reference_row", level == term.reference,
                           variable=term.variable, variable_level=level)
                    for level in term.levels]
        elif term.kind == "interaction":
            out += [Result(context_name, "reference_row", False, variable=term.variable,
                           variable_level=level) for level, _ in term_levels(term) if level]
        elif term.kind == "spline":
            basis = term.spline
            out.append(Result(context_name, "spline.df", len(term.columns),
                              variable=term.variable))
            out += [Result(context_name, "spline.knot", float(k), variable=term.variable,
                           variable_level=str(j)) for j, k in enumerate(basis.knots, start=1)]
            out += [Result(context_name, "spline.boundary.knot", float(k),
                           variable=term.variable, variable_level=side)
                    for side, k in zip(("lower", "upper"), basis.boundary_knots)]
    return out


def estimates_from(names: Sequence[str], coef, se, z, p, ratio, low, high,
                   skip: Sequence[str] = ()) -> dict[str, Estimate]:
    """Estimates by column name from a fit's arrays (columns in ``skip`` left out)."""
    out = {}
    for i, name in enumerate(names):
        if name in skip:
            continue
        out[name] = Estimate(name, float(coef[i]), float(se[i]), float(z[i]),
                             float(p[i]), float(ratio[i]), float(low[i]), float(high[i]))
    return out


def separated_variables(design: Design, separated: Sequence[str]) -> set[str]:
    """The variables whose columns include a separated one."""
    bad = set(separated)
    return {t.variable for t in design.terms if bad & set(t.columns)}


def finite(values) -> bool:
    """True when every value is finite (kept: ``cohortpress.regression.finite`` was public in
    0.1, and the deprecated path forwards it until 0.3)."""
    return bool(np.all(np.isfinite(values)))


# --------------------------------------------------------------------------- kit API


class RegressionTable:
    """A regression table from model columns, through their records.

    Kept for plugin authors who build :class:`ModelColumn` themselves; the built-in
    analyses use :func:`fit_models`, :func:`model_records`, :func:`layout_records` and
    :func:`cohortpress.kit.regression_table.regression_table` directly. ``extra_header``
    titles an extra column holding each model's ``extra`` cells.
    """

    def __init__(self, terms: Sequence[Term], columns: Sequence[ModelColumn], *,
                 ratio_name: str, conf_level: float, context, digits: int = 2,
                 extra_header: str | None = None, context_name: str = "coxph",
                 ratio_stat: str = "hr"):
        from cohortpress.kit.regression_table import RegressionLayout, regression_table

        p_digits = getattr(context, "p_digits", 3)
        records = model_records(terms, columns, context_name=context_name,
                                ratio_stat=ratio_stat, digits=digits, p_digits=p_digits)
        n_estimates = sum(1 for r in records if r.stat_name not in (
            "p.value.term", "method.term", "nobs", "n.event"))
        self.results: list[Result] = records[:n_estimates]
        self._term_records = records[n_estimates:]
        extra = {col.level: {v: cell.text for v, cell in col.extra.items()}
                 for col in columns if col.extra} if extra_header else {}
        layout = RegressionLayout(
            caption="", ratio_name=ratio_name, ratio_stat=ratio_stat,
            n_label="Patients (events)" if context_name == "coxph" else "Patients (outcomes)",
            extra_header=extra_header, extra=extra)
        self._table = regression_table(
            [*records, *layout_records(terms, columns, context_name=context_name),
             Result(context_name, "conf.level", conf_level)], layout, context_name=context_name)

    def header(self) -> tuple[Row, ...]:
        return self._table.header

    def body(self) -> list[Row]:
        return list(self._table.body)

    def footnotes(self) -> list[Footnote]:
        return list(self._table.footnotes)

    def term_records(self) -> list[Result]:
        return list(self._term_records)
