"""Built-in analysis ``logistic``: logistic regression table (odds ratios).

Univariable and multivariable columns side by side: odds ratio with a Wald or profile-
likelihood confidence interval and the Wald p-value, reference levels, a likelihood-ratio
p for factors with more than two levels, and n (events) per model. Separation — complete or
quasi-complete, detected by the project itself since statsmodels' GLM warns of neither —
becomes a flag with a footnote instead of an odds ratio of 10^9; ``firth = true`` gives
Firth-penalised estimates (with penalised profile-likelihood intervals and p-values).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from cohortpress import hookimpl
from cohortpress.common.errors import DataError, StatisticsError
from cohortpress.api.model import (Analysis, Footnote, Options, Result, SectionContext, Table,
                               Variable)


class LogisticOptions(Options):
    outcome: Variable
    covariates: list[Variable] = Field(min_length=1)
    univariable: bool = True
    multivariable: bool = True
    ci: Literal["wald", "profile"] = "profile"
    firth: bool = False
    conf_level: float = Field(0.95, gt=0.5, lt=1.0)
    digits: int = Field(2, ge=1, le=4)
    events_per_variable: float = Field(10.0, ge=0)
    caption: str | None = None


def outcome_vector(cohort, name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """0/1 outcome, its non-missing mask, and the level counted as the event."""
    info = cohort.variable(name)
    values = cohort.values(name)
    if info.kind not in ("binary", "categorical") or len(info.levels) != 2:
        raise DataError(f"the outcome '{name}' must be binary (two levels), it has "
                        f"{len(info.levels) if info.levels else 'no'} levels",
                        column=name, key="outcome")
    known = values.notna().to_numpy()
    y = (values.astype(object).to_numpy() == info.positive).astype(float)
    return y, known, info.positive


def _model_column(title, design, y, options):
    from cohortpress.kit.regression import ModelColumn, estimates_from, separated_variables
    from cohortpress.stats.logit import fit_logistic, lr_test_terms

    column = ModelColumn(title)
    yk = y[design.keep]
    if design.n == 0:
        for term in design.terms:
            column.flags[term.variable] = "no patient has complete data for this model"
        return column, None
    try:
        fit = fit_logistic(design.X, yk, design.names, firth=options.firth,
                           conf_level=options.conf_level, profile=options.ci == "profile")
    except StatisticsError as exc:
        for term in design.terms:
            column.flags[term.variable] = str(exc)
        return column, None
    skip = ("(Intercept)",)
    low, high = fit.conf_low, fit.conf_high
    if options.ci == "profile":
        estimable = [i for i, name in enumerate(fit.names)
                     if name not in fit.separated and name not in skip]
        if all(np.isfinite(fit.profile_low[i]) and np.isfinite(fit.profile_high[i])
               for i in estimable):
            low, high = fit.profile_low, fit.profile_high
        else:
            column.notes.append("profile-likelihood limits are undefined when a covariate is "
                                "separated; Wald limits are shown instead.")
    p = fit.p_lr if options.firth else fit.p
    column.estimates = estimates_from(fit.names, fit.coef, fit.se, fit.z, p, fit.odds_ratio,
                                      low, high, skip=skip)
    for variable in separated_variables(design, fit.separated):
        column.flags[variable] = ("separation: the outcome is perfectly predicted by this "
                                  "covariate, so its maximum-likelihood odds ratio is infinite "
                                  "or zero; set firth = true for penalised estimates")
    if not fit.converged and not fit.separated:
        for term in design.terms:
            column.flags[term.variable] = fit.reason or "the model did not converge"
    n, events = int(fit.n), int(fit.n_events)
    for term in design.terms:
        column.n[term.variable] = (n, events)
        if len(term.columns) > 1 and term.variable not in column.flags:
            test = lr_test_terms(design.X, yk, design.names, term.columns, firth=options.firth)
            column.term_tests[term.variable] = (test.p_value, "Likelihood-ratio test")
    return column, fit


def run(cohort, options: LogisticOptions, context: SectionContext):
    from cohortpress.kit.design import build_design
    from cohortpress.kit.regression import ModelColumn, RegressionTable

    y, known, event_level = outcome_vector(cohort, options.outcome)
    full = build_design(cohort, options.covariates, [known])
    columns, results, warnings = [], [], []
    layout = {t.variable: t for t in full.terms}
    if options.univariable:
        singles = [build_design(cohort, [t.variable], [known], full.references())
                   for t in full.terms]
        layout.update({single.terms[0].variable: single.terms[0] for single in singles})
        columns.append(ModelColumn.combined(
            "Univariable", [_model_column("Univariable", single, y, options)[0]
                            for single in singles]))
    if options.multivariable and (len(full.terms) > 1 or not options.univariable):
        multi, fit = _model_column("Multivariable", full, y, options)
        columns.append(multi)
        if fit is not None:
            n_params = len(fit.names) - 1
            epv = min(fit.n_events, fit.n - fit.n_events) / max(n_params, 1)
            if epv < options.events_per_variable:
                warnings.append(f"{min(fit.n_events, fit.n - fit.n_events)} patients in the "
                                f"smaller outcome group for {n_params} parameters ({epv:.1f} "
                                f"per parameter, fewer than {options.events_per_variable:g}): "
                                f"estimates may be unstable.")
            for stat, value in (("lr.statistic", fit.lr_test.statistic),
                                ("lr.p.value", fit.lr_test.p_value),
                                ("deviance", fit.deviance), ("null.deviance", fit.null_deviance),
                                ("aic", fit.aic)):
                results.append(Result("logistic", stat, value, variable=options.outcome,
                                      group="model", group_level="multivariable"))
    builder = RegressionTable([layout[t.variable] for t in full.terms], columns, ratio_name="OR",
                              conf_level=options.conf_level, context=context,
                              digits=options.digits, context_name="logistic", ratio_stat="or")
    header, body = builder.header(), builder.body()
    results += builder.results + builder.term_records()
    outcome_label = cohort.variable(options.outcome).label
    ci_text = "profile-likelihood" if options.ci == "profile" else "Wald"
    if options.firth:
        ci_text = "penalised profile-likelihood" if options.ci == "profile" else "Wald"
    notes = builder.footnotes()
    estimator = "Firth's penalised likelihood" if options.firth else "maximum likelihood"
    p_text = "penalised likelihood-ratio test" if options.firth else "Wald test"
    notes.append(Footnote(f"OR: odds ratio of {outcome_label.lower()} = {event_level}; CI: "
                          f"{ci_text} confidence interval; p: {p_text}; estimated by "
                          f"{estimator}."))
    if full.n_dropped:
        notes.append(Footnote(f"Complete cases: {full.n_dropped} patients with a missing "
                              f"outcome or covariate were excluded from the multivariable "
                              f"model."))
    caption = options.caption or f"Logistic regression for {outcome_label.lower()}."
    table = Table(caption, header, tuple(body), tuple(notes))
    methods = [f"Predictors of {outcome_label.lower()} ({event_level}) were evaluated with "
               f"logistic regression fitted by {estimator}, reporting odds ratios with "
               f"{ci_text} {options.conf_level:.0%} confidence intervals; separation was "
               f"checked for each model; models used complete cases."]
    return context.section(blocks=[table], results=results, methods=methods,
                           warnings=tuple(warnings),
                           abbreviations=(("OR", "odds ratio"), ("CI", "confidence interval")))


@hookimpl
def cohortpress_analyses():
    return [Analysis("logistic", run, LogisticOptions,
                     "Logistic regression: univariable and multivariable ORs, separation flags")]
