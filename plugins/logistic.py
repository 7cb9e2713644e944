"""Built-in analysis ``logistic``: logistic regression table (odds ratios).

Univariable and multivariable columns side by side: odds ratio with a Wald or profile-
likelihood confidence interval and the Wald p-value, reference levels, a likelihood-ratio
p for factors with more than two levels, and n (events) per model. Separation — complete or
quasi-complete, detected by the project itself since statsmodels' GLM warns of neither —
becomes a flag with a footnote instead of an odds ratio of 10^9; ``firth = true`` gives
Firth-penalised estimates (with penalised profile-likelihood intervals and p-values).
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
from pydantic import Field

from cohortpress import hookimpl
from cohortpress.common.errors import DataError
from cohortpress.common.formatting import in_sentence
from cohortpress.api.blocks import Figure, Footnote, Table
from cohortpress.api.options import Options, Variable
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext
from cohortpress.kit.regression import (Fitted, RegressionModel, estimates_from, fit_models,
                                        layout_records, model_records)
from cohortpress.kit.regression_table import RegressionLayout, regression_table


class LogisticOptions(Options):
    outcome: Variable = Field(description="the binary variable modelled (its positive "
                              "level is the event)", examples=["relapse"])
    covariates: list[Variable] = Field(min_length=1, description="the model's variables "
                                       "(categorical ones against their reference level)",
                                       examples=[["age_group", "wbc_high"]])
    univariable: bool = Field(True, description="one model per covariate", examples=[False])
    multivariable: bool = Field(True, description="one model of all covariates together",
                                examples=[False])
    ci: Literal["wald", "profile"] = Field("profile", description="confidence intervals from "
                                           "the profile likelihood or Wald's normal "
                                           "approximation", examples=["wald"])
    firth: bool = Field(False, description="Firth's penalised likelihood (finite estimates "
                        "under separation)", examples=[True])
    conf_level: float = Field(0.95, gt=0.5, lt=1.0, description="the confidence level of "
                              "the intervals", examples=[0.9])
    digits: int = Field(2, ge=1, le=4, description="decimals of odds ratios and their limits",
                        examples=[3])
    events_per_variable: float = Field(10.0, ge=0, description="below this many events per "
                                       "parameter a footnote warns of unstable estimates",
                                       examples=[5])
    caption: str | None = Field(None, description="the table's caption; default: names the "
                                "outcome", examples=["Odds of relapse."])
    forest: bool = Field(False, description="also draw a forest plot of the odds ratios "
                         "(the multivariable model, or the univariable one when it is the "
                         "only model) under the table", examples=[True])

    def check_data(self, cohort) -> list[str]:
        """What the run refuses before fitting (an outcome that is not binary, a covariate
        of a kind models do not take, a reference level without complete cases), with the
        same line; an outcome level that no patient has is a warning."""
        from cohortpress.kit.design import build_design

        y, known, event_level = outcome_vector(cohort, self.outcome)
        build_design(cohort, self.covariates, [known])
        events, n_known = int(y[known].sum()), int(known.sum())
        if n_known and events in (0, n_known):
            level = event_level if events == 0 else \
                next(lv for lv in cohort.variable(self.outcome).levels if lv != event_level)
            return [f"no patient has the outcome '{self.outcome}' = '{level}' among these "
                    f"{n_known} with a known value"]
        return []


def outcome_vector(cohort, name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """0/1 outcome, its non-missing mask, and the level counted as the event."""
    info = cohort.variable(name)
    values = cohort.values(name)
    if info.kind not in ("binary", "categorical") or len(info.levels) != 2:
        found = f"it has {len(info.levels)} levels" if info.kind == "categorical" \
            else f"it is {info.kind}"
        raise DataError(f"the outcome '{name}' must be binary (two levels); {found}",
                        column=name, key="outcome")
    known = values.notna().to_numpy()
    y = (values.astype(object).to_numpy() == info.positive).astype(float)
    return y, known, info.positive


class _LogisticModel(RegressionModel):
    """Logistic regression of a 0/1 outcome, by maximum likelihood or Firth's method."""

    separation_reason = ("separation: the outcome is perfectly predicted by this "
                         "covariate, so its maximum-likelihood odds ratio is infinite "
                         "or zero; set firth = true for penalised estimates")

    def __init__(self, y: np.ndarray, options: LogisticOptions):
        self.y = y
        self.options = options

    def fit(self, design) -> Fitted:
        from cohortpress.stats.logit import fit_logistic

        return Fitted(fit_logistic(design.X, self.y[design.keep], design.names,
                                   firth=self.options.firth,
                                   conf_level=self.options.conf_level,
                                   profile=self.options.ci == "profile"))

    def estimates(self, design, fitted, column):
        fit = fitted.fit
        skip = ("(Intercept)",)
        low, high = fit.conf_low, fit.conf_high
        if self.options.ci == "profile":
            estimable = [i for i, name in enumerate(fit.names)
                         if name not in fit.separated and name not in skip]
            if all(np.isfinite(fit.profile_low[i]) and np.isfinite(fit.profile_high[i])
                   for i in estimable):
                low, high = fit.profile_low, fit.profile_high
            else:
                column.notes.append("profile-likelihood limits are undefined when a covariate "
                                    "is separated; Wald limits are shown instead.")
        p = fit.p_lr if self.options.firth else fit.p
        return estimates_from(fit.names, fit.coef, fit.se, fit.z, p, fit.odds_ratio,
                              low, high, skip=skip)

    def counts(self, design, fitted):
        return int(fitted.fit.n), int(fitted.fit.n_events)

    def term_test(self, design, columns, fitted) -> float:
        from cohortpress.stats.logit import lr_test_terms

        return lr_test_terms(design.X, self.y[design.keep], design.names, columns,
                             firth=self.options.firth).p_value


def _methods_named(options: LogisticOptions) -> tuple[str, str, str]:
    """The estimator, the kind of confidence interval and the test, as the report names them."""
    ci_text = "profile-likelihood" if options.ci == "profile" else "Wald"
    if options.firth:
        ci_text = "penalised profile-likelihood" if options.ci == "profile" else "Wald"
    estimator = "Firth's penalised likelihood" if options.firth else "maximum likelihood"
    p_text = "penalised likelihood-ratio test" if options.firth else "Wald test"
    return estimator, ci_text, p_text


def _method_sentences(outcome_label: str, event_level: str, options: LogisticOptions,
                      results) -> list[str]:
    """The model, its estimator, interval and tests, from the options and records."""
    estimator, ci_text, p_text = _methods_named(options)
    tests = f"{p_text}s"
    if any(r.stat_name == "method.term" for r in results):
        tests += " (likelihood-ratio tests for covariates with more than two levels)"
    return [f"Predictors of {in_sentence(outcome_label)} ({event_level}) were evaluated with "
            f"logistic regression fitted by {estimator} to complete cases, and reported as odds "
            f"ratios with {ci_text} {options.conf_level * 100:.10g}% confidence intervals and "
            f"p-values from {tests}; each model was checked for separation."]


def run(cohort, options: LogisticOptions, context: SectionContext):
    y, known, event_level = outcome_vector(cohort, options.outcome)
    models = fit_models(_LogisticModel(y, options), cohort, options.covariates, [known],
                        univariable=options.univariable, multivariable=options.multivariable)
    results, warnings = [], []
    fit = models.multivariable.fit if models.multivariable is not None else None
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
    results += model_records(models.terms, models.columns, context_name="logistic",
                             ratio_stat="or", digits=options.digits, p_digits=context.p_digits)
    results += layout_records(models.terms, models.columns, context_name="logistic")
    outcome_label = cohort.variable(options.outcome).label
    estimator, ci_text, p_text = _methods_named(options)
    common = dict(variable=options.outcome)
    results += [Result("logistic", "outcome.label", outcome_label, **common),
                Result("logistic", "outcome.level", event_level, **common),
                Result("logistic", "conf.level", options.conf_level, **common),
                Result("logistic", "method", estimator, **common),
                Result("logistic", "conf.method", ci_text, **common),
                Result("logistic", "p.method", p_text, **common),
                Result("logistic", "n.incomplete", models.design.n_dropped, **common)]
    methods = _method_sentences(outcome_label, event_level, options, results)
    blocks = tables_from_records(results, options, context)
    if options.forest:
        blocks += figures_from_records(results, options, style=context.style)
    return context.section(blocks=blocks,
                           results=results, methods=methods, warnings=tuple(warnings),
                           abbreviations=(("OR", "odds ratio"), ("CI", "confidence interval")))


def tables_from_records(results: Sequence[Result], options: LogisticOptions,
                        context: SectionContext) -> tuple[Table, ...]:
    """The section's table from its records alone; ``options`` gives only the caption."""
    about = {r.stat_name: r.stat for r in results if r.context == "logistic"
             and r.group is None and r.variable == options.outcome}
    notes = [Footnote(f"OR: odds ratio of {in_sentence(about['outcome.label'])} = "
                      f"{about['outcome.level']}; CI: {about['conf.method']} confidence "
                      f"interval; p: {about['p.method']}; estimated by {about['method']}.")]
    if about["n.incomplete"]:
        notes.append(Footnote(f"Complete cases: {about['n.incomplete']} patients with a missing "
                              f"outcome or covariate were excluded from the multivariable "
                              f"model."))
    caption = options.caption or f"Logistic regression for {in_sentence(about['outcome.label'])}."
    layout = RegressionLayout(caption, ratio_name="OR", ratio_stat="or",
                              n_label="Patients (outcomes)", notes=tuple(notes))
    return (regression_table(results, layout, context_name="logistic"),)


def figures_from_records(results: Sequence[Result], options: LogisticOptions,
                         style: str | None = None) -> tuple[Figure, ...]:
    """The forest plot of the odds ratios, from the records alone (none without an estimate
    to draw)."""
    from cohortpress.kit.forest import ForestKind, forest_figures

    about = {r.stat_name: r.stat for r in results if r.context == "logistic"
             and r.group is None and r.variable == options.outcome}
    return forest_figures(results, ForestKind("logistic", "or", "OR", "Odds ratio"),
                          subject=f"of {in_sentence(about['outcome.label'])} = "
                                  f"{about['outcome.level']}",
                          conf_level=about["conf.level"], ci_method=about["conf.method"],
                          style=style)


@hookimpl
def cohortpress_analyses():
    return [Analysis("logistic", run, LogisticOptions,
                     "Logistic regression: univariable and multivariable ORs, separation flags")]
