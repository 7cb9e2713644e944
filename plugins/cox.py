"""Built-in analysis ``cox``: Cox proportional-hazards regression table.

Univariable (one model per covariate) and multivariable columns side by side: hazard ratio
with its Wald confidence interval and p-value, the reference level of each categorical
covariate, a likelihood-ratio p for factors with more than two levels, n and events of each
model, Efron ties by default (Breslow on request), optional strata, and the proportional-
hazards check of R's ``cox.zph(transform = "km")`` per covariate (a column) and globally (a
footnote). Separation, non-convergence, a constant or collinear covariate, or too few events
become a flag with a footnote in the table; the rest of the report is unaffected.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
from pydantic import Field

from cohortpress import hookimpl
from cohortpress.common.errors import StatisticsError
from cohortpress.api.model import (Analysis, Cell, EndpointName, Footnote, Options, Result,
                               SectionContext, Table, Variable)


class CoxOptions(Options):
    endpoint: EndpointName
    covariates: list[Variable] = Field(min_length=1)
    univariable: bool = True
    multivariable: bool = True
    ties: Literal["efron", "breslow"] = "efron"
    strata: Variable | None = None
    conf_level: float = Field(0.95, gt=0.5, lt=1.0)
    ph_check: Literal["column", "footnote", "none"] = "column"
    digits: int = Field(2, ge=1, le=4)
    events_per_variable: float = Field(10.0, ge=0)
    caption: str | None = None


def _fit(design, endpoint, keep, strata, options):
    """The fitted model and its prepared data (sorted once, reused by its tests)."""
    from cohortpress.stats.coxph import fit_cox, prepare_cox_data

    prepared = prepare_cox_data(design.X, endpoint.time[keep], endpoint.event[keep],
                                design.names, None if strata is None else strata[keep])
    fit = fit_cox(None, None, None, design.names, ties=options.ties,
                  conf_level=options.conf_level, prepared=prepared)
    return fit, prepared


def _model_column(title, design, endpoint, strata, options, *, zph: bool):
    """Fit one model and describe it as a table column (flags instead of failures)."""
    from cohortpress.kit.regression import ModelColumn, estimates_from, separated_variables
    from cohortpress.stats.coxph import lr_test_terms

    column = ModelColumn(title)
    keep = design.keep
    n, events = int(keep.sum()), int(endpoint.event[keep].sum())
    if n == 0:
        for term in design.terms:
            column.flags[term.variable] = "no patient has complete data for this model"
        return column, None
    try:
        fit, prepared = _fit(design, endpoint, keep, strata, options)
    except StatisticsError as exc:
        for term in design.terms:
            column.flags[term.variable] = str(exc)
        return column, None
    flagged = separated_variables(design, fit.separated)
    for variable in flagged:
        column.flags[variable] = ("monotone likelihood (separation): the hazard ratio is "
                                  "infinite or zero; consider Firth's penalised likelihood or "
                                  "merging levels")
    if not fit.converged and not fit.separated:
        for term in design.terms:
            column.flags[term.variable] = fit.reason or "the model did not converge"
    column.estimates = estimates_from(fit.names, fit.coef, fit.se, fit.z, fit.p, fit.hr,
                                      fit.conf_low, fit.conf_high)
    for term in design.terms:
        column.n[term.variable] = (n, events)
        if len(term.columns) > 1 and term.variable not in column.flags:
            test = lr_test_terms(design.X, endpoint.time[keep], endpoint.event[keep],
                                 design.names, term.columns, ties=options.ties,
                                 strata=None if strata is None else strata[keep], full_fit=fit,
                                 prepared=prepared)
            column.term_tests[term.variable] = (test.p_value, "Likelihood-ratio test")
    zph_result = None
    if zph and fit.converged and not column.flags:
        zph_result = _zph(fit, design, endpoint, keep, strata, prepared)
    return column, (fit, zph_result)


def _zph(fit, design, endpoint, keep, strata, prepared):
    from cohortpress.stats.coxph import cox_zph

    groups = {t.variable: list(t.columns) for t in design.terms}
    try:
        result = cox_zph(fit, design.X, endpoint.time[keep], endpoint.event[keep],
                         None if strata is None else strata[keep], transform="km",
                         groups=groups, prepared=prepared)
    except StatisticsError:
        return None
    return result


def _fit_threads() -> int:
    """Threads for the model fits: two where there are two cores (memory grows with each)."""
    return max(1, min(2, os.cpu_count() or 1))


def _univariable_column(cohort, variable, also, endpoint, strata, options, references):
    """One covariate's own model, with the multivariable model's reference level."""
    from cohortpress.kit.design import build_design

    single = build_design(cohort, [variable], also, references)
    column, _ = _model_column("Univariable", single, endpoint, strata, options, zph=False)
    return column, single.terms[0]


def run(cohort, options: CoxOptions, context: SectionContext):
    from cohortpress.kit.design import build_design
    from cohortpress.kit.regression import ModelColumn, RegressionTable

    endpoint = cohort.endpoint(options.endpoint)
    strata = None
    also = []
    if options.strata is not None:
        strata = np.asarray(cohort.values(options.strata).cat.codes, dtype=np.int64)
        also.append(strata >= 0)
    full = build_design(cohort, options.covariates, also)
    columns, results, warnings, notes = [], [], [], []
    zph_fit = None
    wants_multi = options.multivariable and (len(full.terms) > 1 or not options.univariable)
    # The models are independent and NumPy releases the GIL in their heavy parts: fit them
    # on up to two threads (the longest, multivariable, first); results are read in order.
    with ThreadPoolExecutor(max_workers=_fit_threads()) as pool:
        multi_job = pool.submit(_model_column, "Multivariable", full, endpoint, strata,
                                options, zph=options.ph_check != "none") if wants_multi else None
        uni_jobs = [pool.submit(_univariable_column, cohort, term.variable, also, endpoint,
                                strata, options, full.references()) for term in full.terms] \
            if options.univariable else []
        # Rows follow each term's univariable design where there is one: its complete cases
        # include every level the multivariable model has, and perhaps more.
        layout = {t.variable: t for t in full.terms}
        if options.univariable:
            fitted = [job.result() for job in uni_jobs]
            layout.update({term.variable: term for _, term in fitted})
            columns.append(ModelColumn.combined("Univariable", [col for col, _ in fitted]))
        multi_result = multi_job.result() if wants_multi else None
    if wants_multi:
        multi, fitted = multi_result
        columns.append(multi)
        if fitted is not None:
            fit, zph_fit = fitted
            results += _model_records(fit, "multivariable", options.endpoint)
            epv = fit.n_events / max(len(fit.names), 1)
            if epv < options.events_per_variable:
                warnings.append(f"{fit.n_events} events for {len(fit.names)} parameters "
                                f"({epv:.1f} per parameter, fewer than "
                                f"{options.events_per_variable:g}): estimates may be unstable.")
        if zph_fit is not None and options.ph_check == "column":
            for name, p in zip(zph_fit.names, zph_fit.p):
                multi.extra[name] = Cell(context.format_p(float(p)))
    builder = RegressionTable([layout[t.variable] for t in full.terms], columns, ratio_name="HR",
                              conf_level=options.conf_level, context=context,
                              digits=options.digits,
                              extra_header="PH p" if options.ph_check == "column" and zph_fit
                              is not None else None)
    header, body = builder.header(), builder.body()
    results += builder.results + builder.term_records()
    if zph_fit is not None:
        results += _zph_records(zph_fit, options.endpoint, context)
        g = zph_fit.global_test
        shown = context.format_p(g.p_value)
        notes.append(Footnote(f"Proportional hazards (Schoenfeld residual score test, "
                              f"Kaplan\u2013Meier time scale, as R's cox.zph): global "
                              f"p {shown if shown[0] in '<>' else '= ' + shown}"
                              f"{'; PH p per covariate in the last column' if options.ph_check == 'column' else ''}."))
    notes = builder.footnotes() + notes
    notes.append(Footnote(f"HR: hazard ratio; CI: Wald confidence interval; p: Wald test"
                          f"{', likelihood-ratio test for factors with more than two levels' if any(c.term_tests for c in columns) else ''}. "
                          f"Ties handled by {'Efron' if options.ties == 'efron' else 'Breslow'}'s "
                          f"method{'; stratified by ' + cohort.variable(options.strata).label.lower() if options.strata else ''}."))
    if full.n_dropped:
        notes.append(Footnote(f"Complete cases: {full.n_dropped} patients with a missing "
                              f"covariate were excluded from the multivariable model "
                              f"(univariable models use every patient with that covariate)."))
    caption = options.caption or f"Cox regression for {endpoint.label.lower()}."
    table = Table(caption, header, tuple(body), tuple(notes))
    methods = [f"Associations with {endpoint.label.lower()} were estimated with Cox "
               f"proportional-hazards regression ({'Efron' if options.ties == 'efron' else 'Breslow'} "
               f"method for ties{', stratified by ' + cohort.variable(options.strata).label.lower() if options.strata else ''}), "
               f"reporting hazard ratios with Wald {options.conf_level:.0%} confidence intervals; "
               f"models used complete cases."]
    if zph_fit is not None:
        methods.append("The proportional-hazards assumption was checked with the score test "
                       "on scaled Schoenfeld residuals against the Kaplan\u2013Meier time scale "
                       "(as R's cox.zph).")
    return context.section(blocks=[table], results=results, methods=methods,
                           warnings=tuple(warnings),
                           abbreviations=(("HR", "hazard ratio"), ("CI", "confidence interval"),
                                          ("PH", "proportional hazards")))


def _model_records(fit, title, endpoint) -> list[Result]:
    out = []
    for name, test in (("lr", fit.lr_test), ("wald", fit.wald_test), ("score", fit.score_test)):
        out.append(Result("coxph", f"{name}.statistic", test.statistic, variable=endpoint,
                          group="model", group_level=title))
        out.append(Result("coxph", f"{name}.p.value", test.p_value, variable=endpoint,
                          group="model", group_level=title))
    out.append(Result("coxph", "loglik", fit.loglik, variable=endpoint, group="model",
                      group_level=title))
    return out


def _zph_records(zph, endpoint, context) -> list[Result]:
    out = []
    for name, chisq, df, p in zip(zph.names, zph.chisq, zph.df, zph.p):
        for stat, value in (("statistic", chisq), ("df", df), ("p.value", p)):
            out.append(Result("cox.zph", stat, float(value), variable=name,
                              formatted=context.format_p(float(p)) if stat == "p.value" else None))
    g = zph.global_test
    for stat, value in (("statistic", g.statistic), ("df", g.df), ("p.value", g.p_value)):
        out.append(Result("cox.zph", stat, float(value), variable="GLOBAL"))
    return out


@hookimpl
def cohortpress_analyses():
    return [Analysis("cox", run, CoxOptions,
                     "Cox regression: univariable and multivariable HRs, PH check")]
