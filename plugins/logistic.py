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
from cohortpress.common.errors import DataError, StatisticsError
from cohortpress.common.formatting import fmt_num, format_p, in_sentence
from cohortpress.api.blocks import Figure, Footnote, Table
from cohortpress.api.options import Options, Variable
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext
from cohortpress.kit.regression import (Fitted, RegressionModel, estimates_from, fit_models,
                                        layout_records, model_records)
from cohortpress.kit.regression import ratio_text
from cohortpress.kit.model_terms import (check_term_kinds, interactions_field,
                                         spline_df_field, spline_map, splines_field,
                                         term_methods, term_option_problems)
from cohortpress.kit.disclosure import count_text, few_per_parameter, release_records
from cohortpress.kit.regression_table import INTERCEPT, RegressionLayout, regression_table


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

    intercept_row: bool = Field(False, description="show each model's intercept (the odds "
                                "at the reference levels and zero) as the table's first row; "
                                "results.json always has it", examples=[True])
    auc: bool = Field(False, description="the multivariable model's AUC (c-statistic) with "
                      "DeLong's confidence interval, in a footnote", examples=[True])
    hosmer_lemeshow: bool = Field(False, description="the Hosmer-Lemeshow goodness-of-fit "
                                  "test of the multivariable model (10 groups by deciles of "
                                  "fitted risk), in a footnote", examples=[True])
    splines: list[Variable] = splines_field()
    spline_df: int = spline_df_field()
    interactions: list[list[Variable]] = interactions_field()

    def inapplicable_keys(self, config) -> list[tuple[str, str]]:
        problems = term_option_problems(self)
        if self.multivariable or len(self.covariates) == 1:
            return problems
        why = ("describes the multivariable model, and multivariable = false with several "
               "covariates fits none")
        return problems + [(key, why) for key in ("auc", "hosmer_lemeshow")
                           if getattr(self, key)]

    def check_data(self, cohort) -> list[str]:
        """What the run refuses before fitting (an outcome that is not binary, a covariate
        of a kind models do not take, a reference level without complete cases), with the
        same line; an outcome level that no patient has is a warning."""
        from cohortpress.kit.design import build_design

        y, known, event_level = outcome_vector(cohort, self.outcome)
        check_term_kinds(cohort, self)
        build_design(cohort, self.covariates, [known], splines=spline_map(self),
                     interactions=self.interactions)
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
        out = estimates_from(fit.names, fit.coef, fit.se, fit.z, p, fit.odds_ratio,
                             low, high, skip=skip)
        # The intercept is no table term: keyed apart, one per model (a univariable
        # column combines several models, so their intercepts carry the covariate's name).
        # A separated model's intercept is where the iteration stopped: not recorded.
        if fit.separated or not fit.converged:
            return out
        key = INTERCEPT if column.title == "Multivariable" else \
            f"{INTERCEPT} {design.terms[0].variable}"
        out[key] = estimates_from(fit.names[:1], fit.coef, fit.se, fit.z, p,
                                  fit.odds_ratio, low, high)[INTERCEPT]
        return out

    def counts(self, design, fitted):
        return int(fitted.fit.n), int(fitted.fit.n_events)

    def term_test(self, design, columns, fitted) -> float:
        return self.term_test_result(design, columns, fitted).p_value

    def term_test_result(self, design, columns, fitted):
        from cohortpress.stats.logit import lr_test_terms

        return lr_test_terms(design.X, self.y[design.keep], design.names, columns,
                             firth=self.options.firth)


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
                        univariable=options.univariable, multivariable=options.multivariable,
                        splines=spline_map(options), interactions=options.interactions)
    results, warnings = [], []
    fit = models.multivariable.fit if models.multivariable is not None else None
    if fit is not None:
        n_params = len(fit.names) - 1
        epv = min(fit.n_events, fit.n - fit.n_events) / max(n_params, 1)
        if epv < options.events_per_variable:
            warnings.append(few_per_parameter(min(fit.n_events, fit.n - fit.n_events),
                                              "patients in the smaller outcome group",
                                              n_params, options.events_per_variable,
                                              context.disclosure))
        for stat, value in (("lr.statistic", fit.lr_test.statistic),
                            ("lr.p.value", fit.lr_test.p_value),
                            ("deviance", fit.deviance), ("null.deviance", fit.null_deviance),
                            ("aic", fit.aic)):
            results.append(Result("logistic", stat, value, variable=options.outcome,
                                  group="model", group_level="multivariable"))
    results += model_records(models.terms, models.columns, context_name="logistic",
                             ratio_stat="or", digits=options.digits, p_digits=context.p_digits)
    results += intercept_records(models.columns, options.digits, context.p_digits)
    results += layout_records(models.terms, models.columns, context_name="logistic")
    if options.auc or options.hosmer_lemeshow:
        results += _fit_quality_records(models, y, options)
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
    methods += _fit_quality_methods(options)
    methods += term_methods(results, "logistic")
    results = release_records(results, context.disclosure)
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
    dropped = next(r for r in results if r.context == "logistic" and r.group is None
                   and r.variable == options.outcome and r.stat_name == "n.incomplete")
    if dropped.stat != 0:  # None: hidden by the disclosure rule, not zero
        notes.append(Footnote(f"Complete cases: {count_text(dropped.stat, dropped.formatted)} "
                              f"patients with a missing "
                              f"outcome or covariate were excluded from the multivariable "
                              f"model."))
    notes += _fit_quality_notes(results, options, context)
    if options.intercept_row:
        notes.append(Footnote(f"Intercept: the odds of {in_sentence(about['outcome.label'])} "
                              f"= {about['outcome.level']} (with its CI and p) when every "
                              f"covariate is at its reference level or 0; each univariable "
                              f"model has its own intercept (in results.json)."))
    caption = options.caption or f"Logistic regression for {in_sentence(about['outcome.label'])}."
    layout = RegressionLayout(caption, ratio_name="OR", ratio_stat="or",
                              n_label="Patients (outcomes)", notes=tuple(notes),
                              intercept_label="Intercept" if options.intercept_row else None)
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


def intercept_records(columns, digits: int, p_digits: int) -> list[Result]:
    """Each model's intercept, recorded like a term's estimate under ``"(Intercept)"``.

    ``estimate`` (log odds) with ``std.error``, ``statistic``, ``p.value``,
    ``conf.low.log`` and ``conf.high.log``; ``estimate.exp`` (the odds), ``conf.low`` and
    ``conf.high``. The multivariable model's has no ``variable_level``; a univariable
    model's has the covariate it models. A ``term.type`` record states that
    ``"(Intercept)"`` is the intercept.
    """
    out = []
    for col in columns:
        for key, est in col.estimates.items():
            if not key.startswith(INTERCEPT):
                continue
            level = key[len(INTERCEPT) + 1:] or None
            if level is not None and col.flag(level) is not None:
                continue
            common = dict(variable=INTERCEPT, variable_level=level, group="model",
                          group_level=col.level)
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = np.log([est.conf_low, est.conf_high])
            for stat, value in (("estimate", est.estimate), ("std.error", est.std_error),
                                ("statistic", est.statistic), ("p.value", est.p_value),
                                ("estimate.exp", est.ratio), ("conf.low", est.conf_low),
                                ("conf.high", est.conf_high), ("conf.low.log", logs[0]),
                                ("conf.high.log", logs[1])):
                formatted = (ratio_text(est.ratio, est.conf_low, est.conf_high, digits)
                             if stat == "estimate.exp" else
                             format_p(est.p_value, p_digits) if stat == "p.value" else None)
                out.append(Result("logistic", stat, float(value), formatted=formatted,
                                  **common))
    if out:
        out.append(Result("logistic", "term.type", "intercept", variable=INTERCEPT))
    return out


def _multivariable_fit(models, y, options):
    """The model of every covariate (the univariable one when there is one covariate)."""
    from cohortpress.stats.logit import fit_logistic

    if models.multivariable is not None:
        return models.multivariable.fit, models.design
    design = models.design
    return fit_logistic(design.X, y[design.keep], design.names, firth=options.firth,
                        conf_level=options.conf_level, profile=False), design


def _fit_quality_records(models, y, options: LogisticOptions) -> list[Result]:
    """The AUC with DeLong's interval and the Hosmer-Lemeshow test, as asked."""
    from cohortpress.stats.common import linear_predictor
    from cohortpress.stats.logit.calibration import auc_delong, hosmer_lemeshow

    common = dict(variable=options.outcome, group="model", group_level="multivariable")
    try:
        fit, design = _multivariable_fit(models, y, options)
        if fit.separated or not fit.converged:
            raise StatisticsError(fit.reason or "the model did not converge")
        eta = fit.coef[0] + linear_predictor(design.X, fit.coef[1:])
        risk = 1.0 / (1.0 + np.exp(-eta))
        outcome = y[design.keep]
        out = []
        if options.auc:
            auc = auc_delong(outcome, risk, options.conf_level)
            out += [Result("logistic", name, value, formatted=text, **common)
                    for name, value, text in (
                        ("auc", auc.auc, f"{fmt_num(auc.auc, 3)} ({options.conf_level:.0%} CI "
                         f"{fmt_num(auc.conf_low, 3)}\u2013{fmt_num(auc.conf_high, 3)})"),
                        ("auc.std.error", auc.std_error, None),
                        ("auc.conf.low", auc.conf_low, None),
                        ("auc.conf.high", auc.conf_high, None),
                        ("auc.conf.method", "DeLong", None))]
        if options.hosmer_lemeshow:
            hl = hosmer_lemeshow(outcome, risk, HL_GROUPS)
            out += [Result("logistic", name, value, **common) for name, value in (
                ("hl.statistic", hl.test.statistic), ("hl.df", hl.test.df),
                ("hl.p.value", hl.test.p_value), ("hl.groups", hl.groups),
                ("hl.groups.asked", HL_GROUPS))]
        return out
    except StatisticsError as exc:
        return [Result("logistic", "fit.quality.not.estimable", str(exc), **common)]


HL_GROUPS = 10


def _fit_quality_notes(results, options: LogisticOptions, context) -> list[Footnote]:
    quality = {r.stat_name: r for r in results if r.context == "logistic"
               and r.group == "model" and r.group_level == "multivariable"}
    if "fit.quality.not.estimable" in quality:
        return [Footnote(f"AUC and calibration not computed: "
                         f"{quality['fit.quality.not.estimable'].stat}.")]
    notes = []
    if "auc" in quality:
        notes.append(Footnote(f"AUC (c-statistic) of the multivariable model: "
                              f"{quality['auc'].formatted}, by DeLong's method."))
    if "hl.statistic" in quality:
        shown = context.format_p(quality["hl.p.value"].stat)
        notes.append(Footnote(
            f"Hosmer\u2013Lemeshow test of the multivariable model: \u03c7\u00b2 = "
            f"{quality['hl.statistic'].stat:.2f} on {quality['hl.df'].stat:g} df, p "
            f"{shown if shown[0] in '<>' else '= ' + shown} "
            f"({quality['hl.groups'].stat} groups by deciles of fitted risk)."))
    return notes


def _fit_quality_methods(options: LogisticOptions) -> list[str]:
    out = []
    if options.auc:
        out.append("The discrimination of the multivariable model was measured by the area "
                   "under the ROC curve (c-statistic), with a confidence interval from "
                   "DeLong's variance.")
    if options.hosmer_lemeshow:
        out.append(("Its" if options.auc else "The multivariable model's") + " calibration was tested with the Hosmer\u2013Lemeshow statistic on "
                   "ten groups formed by the deciles of the fitted risk, referred to a "
                   "chi-square distribution on eight degrees of freedom.")
    return out


@hookimpl
def cohortpress_analyses():
    return [Analysis("logistic", run, LogisticOptions,
                     "Logistic regression: univariable and multivariable ORs, separation flags")]
