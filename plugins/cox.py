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
from typing import Literal, Sequence

import numpy as np
import pandas as pd
from pydantic import Field

from cohortpress import hookimpl
from cohortpress.common.errors import StatisticsError
from cohortpress.api.blocks import Figure, Footnote, Table
from cohortpress.api.options import EndpointName, Options, Variable
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext
from cohortpress.common.formatting import format_p, in_sentence
from cohortpress.kit.cox_rows import data_form_methods, data_form_notes, data_form_records
from cohortpress.kit.discrimination import (concordance_methods, concordance_notes,
                                            concordance_records)
from cohortpress.kit.model_terms import (interactions_field, spline_df_field,
                                         spline_figure_field, spline_map,
                                         spline_reference_field, splines_field, term_methods)
from cohortpress.kit.prose import percent_text
from cohortpress.kit.regression import (Fitted, RegressionModel, estimates_from, fit_models,
                                        layout_records, model_records)
from cohortpress.kit.disclosure import count_text, few_per_parameter, release_records
from cohortpress.kit.regression_table import RegressionLayout, regression_table


class CoxOptions(Options):
    endpoint: EndpointName = Field(description="the endpoint modelled", examples=["efs"])
    covariates: list[Variable] = Field(min_length=1, description="the model's variables "
                                       "(categorical ones against their reference level)",
                                       examples=[["age_group", "wbc_high"]])
    univariable: bool = Field(True, description="one model per covariate", examples=[False])
    multivariable: bool = Field(True, description="one model of all covariates together",
                                examples=[False])
    ties: Literal["efron", "breslow"] = Field("efron", description="the handling of tied "
                                              "event times (efron as R's coxph)",
                                              examples=["breslow"])
    strata: Variable | None = Field(None, description="a categorical variable to stratify "
                                    "the baseline hazard by", examples=["centre"])
    conf_level: float = Field(0.95, gt=0.5, lt=1.0, description="the confidence level of "
                              "the intervals", examples=[0.9])
    ph_check: Literal["column", "footnote", "none"] = Field(
        "column", description="the proportional-hazards test (cox.zph): a column, a "
        "footnote, or none", examples=["footnote"])
    digits: int = Field(2, ge=1, le=4, description="decimals of hazard ratios and their "
                        "limits", examples=[3])
    events_per_variable: float = Field(10.0, ge=0, description="below this many events per "
                                       "parameter a footnote warns of unstable estimates",
                                       examples=[5])
    caption: str | None = Field(None, description="the table's caption; default: names the "
                                "endpoint", examples=["Cox models of event-free survival."])
    forest: bool = Field(False, description="also draw a forest plot of the hazard ratios "
                         "(the multivariable model, or the univariable one when it is the "
                         "only model) under the table", examples=[True])

    robust: bool = Field(False, description="robust sandwich standard errors, Wald tests "
                         "and intervals (as R's coxph(robust = TRUE)); on a long-format "
                         "cohort, clustered by patient", examples=[True])
    cluster: Variable | None = Field(None, description="a variable grouping correlated rows "
                                     "(a litter, a centre, a patient with several rows): "
                                     "clustered sandwich standard errors, as R's "
                                     "coxph(cluster = ...)", examples=["litter"])
    splines: list[Variable] = splines_field()
    spline_df: int = spline_df_field()
    interactions: list[list[Variable]] = interactions_field()
    spline_figure: bool = spline_figure_field()
    spline_reference: dict[str, float] = spline_reference_field()

    def inapplicable_keys(self, config) -> list[tuple[str, str]]:
        from cohortpress.kit.model_terms import term_option_problems

        return term_option_problems(self)

    def check_data(self, cohort) -> list[str]:
        """What the run refuses before fitting (strata not categorical, a covariate of a kind
        models do not take, a reference level without complete cases), with the same line;
        an endpoint without events is a warning."""
        from cohortpress.kit.design import build_design

        from cohortpress.kit.model_terms import check_term_kinds

        check_term_kinds(cohort, self)
        if getattr(cohort, "engine", False):
            return _engine_checks(cohort, self)
        build_design(cohort, self.covariates, _strata_complete(cohort, self.strata),
                     splines=spline_map(self), interactions=self.interactions)
        endpoint = cohort.endpoint(self.endpoint)
        if cohort.n and not endpoint.event.any():
            return [f"endpoint '{self.endpoint}' has no events among these "
                    f"{cohort.size_text()}"]
        return []


def _engine_checks(cohort, options: CoxOptions) -> list[str]:
    """The engine path's checks: the strata and covariate kinds, and a warning without
    events (one count in the engine); the designs are built when the section runs."""
    from cohortpress.common.errors import DataError
    from cohortpress.data.grouping import check_strata

    if options.strata is not None:
        check_strata(cohort, options.strata)
    for name in options.covariates:
        info = cohort.variable(name)
        if info.kind not in ("categorical", "binary", "continuous"):
            raise DataError(f"covariate '{name}' is {info.kind}; models take categorical, "
                            f"binary or continuous variables", column=name)
    endpoint = cohort.endpoint(options.endpoint)
    events = cohort.query(f"SELECT SUM(CASE WHEN {endpoint.status} = 1 THEN 1 ELSE 0 END) "
                          f"AS d FROM {{cohort}}")["d"].iloc[0]
    if cohort.n and not (events == events and events):
        return [f"endpoint '{options.endpoint}' has no events among these "
                f"{cohort.size_text()}"]
    return []


def _strata_codes(cohort, strata: str | None) -> np.ndarray | None:
    """Each patient's stratum (-1 unknown), or None without strata."""
    from cohortpress.data.grouping import check_strata

    if strata is None:
        return None
    check_strata(cohort, strata)
    return np.asarray(cohort.values(strata).cat.codes, dtype=np.int64)


def _strata_complete(cohort, strata: str | None) -> list[np.ndarray]:
    """The rows whose stratum is known, as the complete-case rule needs them."""
    codes = _strata_codes(cohort, strata)
    return [] if codes is None else [codes >= 0]


class _CoxModel(RegressionModel):
    """Cox regression of one endpoint: Efron or Breslow ties, optional strata."""

    separation_reason = ("monotone likelihood (separation): the hazard ratio is infinite or "
                         "zero; consider Firth's penalised likelihood or merging levels")

    def __init__(self, endpoint, strata, options: CoxOptions, cluster=None, patients=None):
        self.endpoint = endpoint
        self.strata = strata
        self.options = options
        # Long format: the rows of a patient are one cluster of the robust variance (R's
        # coxph needs an id for robust = TRUE on (start, stop] data), and N counts patients.
        self.patients = patients
        if cluster is None and options.robust and patients is not None:
            cluster = patients
        self.cluster = cluster
        self.sandwich = options.robust or cluster is not None
        if self.sandwich:
            self.term_test_method = "Wald test (robust variance)"
        # One sort of the endpoint's times for every model of the section (each keeps its
        # complete cases of this order); counting-process rows sort their merged times.
        self.time_order = None
        if endpoint.entry is None:
            from cohortpress.stats.coxph.data import decreasing_time_order

            self.time_order = decreasing_time_order(endpoint.time, strata)

    def _rows(self, design):
        keep = design.keep
        strata = None if self.strata is None else self.strata[keep]
        return self.endpoint.time[keep], self.endpoint.event[keep], strata

    def _entry(self, design):
        """The start times of the rows used ((start, stop] data), or None."""
        entry = self.endpoint.entry
        return None if entry is None else entry[design.keep]

    def fit(self, design) -> Fitted:
        """The fitted model and its prepared data (sorted once, reused by its tests)."""
        from cohortpress.stats.coxph import fit_cox, prepare_cox_data
        from cohortpress.stats.coxph.data import subset_time_order

        time, event, strata = self._rows(design)
        order = (None if self.time_order is None
                 else subset_time_order(self.time_order, design.keep))
        prepared = prepare_cox_data(design.X, time, event, design.names, strata,
                                    entry=self._entry(design), time_order=order)
        fit = fit_cox(None, None, None, design.names, ties=self.options.ties,
                      conf_level=self.options.conf_level, prepared=prepared,
                      robust=self.options.robust,
                      cluster=None if self.cluster is None else self.cluster[design.keep])
        return Fitted(fit, prepared)

    def estimates(self, design, fitted, column):
        fit = fitted.fit
        return estimates_from(fit.names, fit.coef, fit.se, fit.z, fit.p, fit.hr,
                              fit.conf_low, fit.conf_high)

    def counts(self, design, fitted):
        events = int(self.endpoint.event[design.keep].sum())
        if self.patients is not None:
            return int(np.unique(self.patients[design.keep]).size), events
        return design.n, events

    def term_test(self, design, columns, fitted) -> float:
        return self.term_test_result(design, columns, fitted).p_value

    def term_test_result(self, design, columns, fitted):
        from cohortpress.stats.coxph import lr_test_terms, wald_test_terms

        if self.sandwich:
            # The likelihood-ratio test assumes independent rows; the Wald test with the
            # sandwich variance does not.
            return wald_test_terms(fitted.fit, columns)
        time, event, strata = self._rows(design)
        return lr_test_terms(design.X, time, event, design.names, columns,
                             ties=self.options.ties, strata=strata, full_fit=fitted.fit,
                             prepared=fitted.data, entry=self._entry(design))

    def concordance_of(self, column, design, fitted):
        """Harrell's C of a fitted model and its standard error (clustered if the model
        is); None for a model not fitted, flagged or not converged."""
        from cohortpress.stats.common import linear_predictor
        from cohortpress.stats.coxph import concordance

        if fitted is None or fitted.fit.separated or not fitted.fit.converged \
                or (column is not None and column.flags):
            return None
        time, event, strata = self._rows(design)
        cluster = None if self.cluster is None else self.cluster[design.keep]
        try:
            return concordance(time, event, linear_predictor(design.X, fitted.fit.coef),
                               strata, cluster, entry=self._entry(design))
        except StatisticsError:
            return None

    def ph_check(self, column, design, fitted):
        """R's ``cox.zph(transform = "km")`` of a model that converged with no flag."""
        from cohortpress.stats.coxph import cox_zph

        if fitted is None or not fitted.fit.converged or column.flags:
            return None
        time, event, strata = self._rows(design)
        groups = {t.variable: list(t.columns) for t in design.terms}
        try:
            return cox_zph(fitted.fit, design.X, time, event, strata, transform="km",
                           groups=groups, prepared=fitted.data, entry=self._entry(design))
        except StatisticsError:
            return None


def _fit_threads() -> int:
    """Threads for the model fits: two where there are two cores (memory grows with each)."""
    return max(1, min(2, os.cpu_count() or 1))


def run(cohort, options: CoxOptions, context: SectionContext):
    endpoint = cohort.endpoint(options.endpoint)
    streamed = None
    if getattr(cohort, "engine", False):
        models, streamed = _engine_models(cohort, options)
        model = patients = None
    else:
        models, model, patients = _row_models(cohort, endpoint, options)
    return _section(cohort, endpoint, options, context, models, model, patients, streamed)


def _engine_models(cohort, options: CoxOptions):
    """The models from aggregates in the engine (no concordance: it needs pairs), and the
    methods sentence saying the rows were streamed (None when they were not)."""
    from cohortpress.kit.engine_cox import engine_cox_models, streamed_note

    models, scanner = engine_cox_models(cohort, options, _CoxModel.separation_reason)
    return models, streamed_note(scanner)


def _row_models(cohort, endpoint, options: CoxOptions):
    strata = _strata_codes(cohort, options.strata)
    also = [] if strata is None else [strata >= 0]
    cluster = None
    if options.cluster is not None:
        cluster = pd.factorize(cohort.values(options.cluster), use_na_sentinel=True)[0]
        also.append(cluster >= 0)
    patients = None
    if cohort.intervals:
        patients = pd.factorize(cohort.data[cohort.id_column])[0]
    model = _CoxModel(endpoint, strata, options, cluster, patients)
    models = fit_models(model, cohort, options.covariates, also,
                        univariable=options.univariable, multivariable=options.multivariable,
                        threads=_fit_threads(),
                        follow_up=model.ph_check if options.ph_check != "none" else None,
                        univariable_follow_up=model.concordance_of,
                        splines=spline_map(options), interactions=options.interactions)
    return models, model, patients


def _section(cohort, endpoint, options: CoxOptions, context: SectionContext, models, model,
             patients, streamed: str | None = None):
    results, warnings = [], []
    if models.multivariable is not None:
        fit = models.multivariable.fit
        results += _fit_records(fit, "multivariable", options.endpoint)
        c = None if model is None else model.concordance_of(None, models.design,
                                                            models.multivariable)
        results += concordance_records("coxph", c, options.endpoint, "multivariable")
        epv = fit.n_events / max(len(fit.names), 1)
        if epv < options.events_per_variable:
            warnings.append(few_per_parameter(fit.n_events, "events", len(fit.names),
                                              options.events_per_variable,
                                              context.disclosure))
    for variable, c in models.univariable_follow_up.items():
        results += concordance_records("coxph", c, options.endpoint, "univariable", variable)
    results += model_records(models.terms, models.columns, context_name="coxph",
                             ratio_stat="hr", digits=options.digits, p_digits=context.p_digits)
    zph_fit = models.follow_up
    if zph_fit is not None:
        results += _zph_records(zph_fit, options.endpoint, context)
    results += layout_records(models.terms, models.columns, context_name="coxph")
    if options.spline_figure:
        results += _spline_curves(model, models, options)
    results += _table_records(cohort, endpoint, options, models.design)
    results += data_form_records(cohort, endpoint, options.endpoint, models.design, patients)
    if model is None:
        from cohortpress.kit.engine_cox import CONCORDANCE_NOTE
        from cohortpress.kit.records import STREAMED_RECORD

        results.append(Result("coxph", "concordance.note", CONCORDANCE_NOTE,
                              variable=options.endpoint))
        if streamed:
            results.append(Result("coxph", STREAMED_RECORD, streamed,
                                  variable=options.endpoint))
    results = release_records(results, context.disclosure)
    tables = tables_from_records(results, options, context)
    if options.forest:
        tables += figures_from_records(results, options, style=context.style)
    if options.spline_figure:
        from cohortpress.kit.spline_curve import spline_figures

        tables += spline_figures(results, "coxph", ratio_title="Hazard ratio",
                                 conf_level=options.conf_level, style=context.style)
    methods = _method_sentences(cohort, endpoint, options, results, zph_fit is not None)
    methods += data_form_methods(cohort, endpoint)
    methods += _variance_methods(cohort, options)
    methods += concordance_methods(results, "coxph")
    methods += [r.stat for r in results if r.stat_name == "concordance.note"]
    methods += [streamed] if streamed else []
    methods += term_methods(results, "coxph")
    return context.section(blocks=tables, results=results, methods=methods,
                           warnings=tuple(warnings),
                           abbreviations=(("HR", "hazard ratio"), ("CI", "confidence interval"),
                                          ("PH", "proportional hazards")))


def _spline_curves(model: "_CoxModel", models, options: CoxOptions) -> list[Result]:
    """The spline curves of the multivariable model (the univariable one when it is the
    only model); none when the model could not be fitted."""
    from cohortpress.kit.spline_curve import design_curve_records

    fitted, level = models.multivariable, "multivariable"
    if fitted is None:
        if len(models.design.terms) != 1:
            return []
        level = "univariable"
        try:
            fitted = model.fit(models.design)
        except StatisticsError:
            return []
    if fitted.fit.separated or not fitted.fit.converged:
        return []
    return design_curve_records("coxph", models.design, fitted.fit,
                                dict(options.spline_reference), options.conf_level, level)


def _method_sentences(cohort, endpoint, options: CoxOptions, results: Sequence[Result],
                      checked: bool) -> list[str]:
    """What the section fitted and tested, from its options and records: the model and its
    ties method and strata, the ratio and interval reported, the tests of terms that ran,
    and the proportional-hazards check."""
    handled = f"{_TIES[options.ties]}'s method for ties"
    if options.strata:
        handled += f", stratified by {in_sentence(cohort.variable(options.strata).label)}"
    tests = "Wald tests"
    if any(r.stat_name == "method.term" and "likelihood" in str(r.stat).lower()
           for r in results):
        tests += " (likelihood-ratio tests for covariates with more than two levels)"
    sentences = [f"Associations with {in_sentence(endpoint.label)} were estimated with Cox "
                 f"proportional-hazards regression ({handled}), fitted to complete cases, and "
                 f"reported as hazard ratios with Wald {percent_text(options.conf_level)} "
                 f"confidence intervals and p-values from {tests}."]
    if checked:
        sentences.append("The proportional-hazards assumption was checked with the score test "
                         "on scaled Schoenfeld residuals against the Kaplan\u2013Meier time "
                         "scale, as in R's cox.zph.")
    return sentences


_TIES = {"efron": "Efron", "breslow": "Breslow"}


def _table_records(cohort, endpoint, options: CoxOptions, design) -> list[Result]:
    """What the table names besides the models: the endpoint, the CI level, the method for
    ties, the strata and the patients left out for a missing value."""
    common = dict(variable=options.endpoint)
    out = [Result("coxph", "outcome.label", endpoint.label, **common),
           Result("coxph", "conf.level", options.conf_level, **common),
           Result("coxph", "ties", options.ties, formatted=_TIES[options.ties], **common)]
    if options.strata:
        out.append(Result("coxph", "strata", options.strata,
                          formatted=in_sentence(cohort.variable(options.strata).label), **common))
    cluster = options.cluster or (cohort.id_column if cohort.intervals and options.robust
                                  else None)
    if cluster or options.robust:
        kind = "cluster" if cluster else "robust"
        out.append(Result("coxph", "variance", kind, formatted=_variance_text(
            kind, _cluster_label(cohort, cluster) if cluster else None), **common))
        if cluster:
            out.append(Result("coxph", "cluster", cluster, **common))
    out.append(Result("coxph", "n.incomplete", design.n_dropped, **common))
    return out


def _cluster_label(cohort, name: str) -> str:
    if cohort.intervals and name == cohort.id_column:
        return "patient"
    return in_sentence(cohort.variable(name).label)


def _variance_text(kind: str, cluster_label: str | None) -> str:
    if kind == "cluster":
        return f"robust (sandwich) variance clustered by {cluster_label}"
    return "robust (sandwich) variance"


def _variance_methods(cohort, options: CoxOptions) -> list[str]:
    by_patient = cohort.intervals and options.robust and not options.cluster
    if options.cluster or by_patient:
        cluster = options.cluster or cohort.id_column
        label = _cluster_label(cohort, cluster)
        return [f"Standard errors, confidence intervals and Wald tests used the robust "
                f"sandwich variance with the observations grouped by {label} (as R's "
                f"coxph with cluster = {cluster}), and factors with more than two "
                f"levels were tested by a Wald test with that variance."]
    if options.robust:
        return ["Standard errors, confidence intervals and Wald tests used the robust "
                "sandwich variance (as R's coxph with robust = TRUE), and factors with more "
                "than two levels were tested by a Wald test with that variance."]
    return []


def tables_from_records(results: Sequence[Result], options: CoxOptions,
                        context: SectionContext) -> tuple[Table, ...]:
    """The section's table from its records alone; ``options`` and ``context`` give only
    the layout (caption, the PH column, p-value digits)."""
    cox = [r for r in results if r.context == "coxph"]
    zph = [r for r in results if r.context == "cox.zph"]
    about = {r.stat_name: r for r in cox if r.group is None and r.variable == options.endpoint}
    per_term = {r.variable: r.formatted for r in zph
                if r.stat_name == "p.value" and r.variable != "GLOBAL"}
    ph_column = options.ph_check == "column" and bool(per_term)
    notes = _ph_notes(zph, options, context) + [_method_note(cox, about)]
    notes += concordance_notes(cox) + data_form_notes(about)
    if "concordance.note" in about:
        notes.append(Footnote(about["concordance.note"].stat))
    rows = "intervals" if "n.intervals" in about else "patients"
    if about["n.incomplete"].stat != 0:  # None: hidden by the disclosure rule, not zero
        dropped = count_text(about["n.incomplete"].stat, about["n.incomplete"].formatted)
        notes.append(Footnote(f"Complete cases: {dropped} {rows} with a "
                              f"missing covariate were excluded from the multivariable model "
                              f"(univariable models use every {rows[:-1]} with that "
                              f"covariate)."))
    caption = options.caption or f"Cox regression for {in_sentence(about['outcome.label'].stat)}."
    layout = RegressionLayout(caption, ratio_name="HR", ratio_stat="hr",
                              n_label="Patients (events)",
                              extra_header="PH p" if ph_column else None,
                              extra={"multivariable": per_term} if ph_column else {},
                              notes=tuple(notes))
    return (regression_table(cox, layout, context_name="coxph"),)


def figures_from_records(results: Sequence[Result], options: CoxOptions,
                         style: str | None = None) -> tuple[Figure, ...]:
    """The forest plot of the hazard ratios, from the records alone (none without an
    estimate to draw)."""
    from cohortpress.kit.forest import ForestKind, forest_figures

    about = {r.stat_name: r.stat for r in results if r.context == "coxph"
             and r.group is None and r.variable == options.endpoint}
    return forest_figures(results, ForestKind("coxph", "hr", "HR", "Hazard ratio"),
                          subject=f"for {in_sentence(about['outcome.label'])}",
                          conf_level=about["conf.level"], style=style)


def _ph_notes(zph: Sequence[Result], options: CoxOptions, context) -> list[Footnote]:
    """The global proportional-hazards test, from the ``cox.zph`` records."""
    test = next((r for r in zph if r.variable == "GLOBAL" and r.stat_name == "p.value"), None)
    if test is None:
        return []
    shown = format_p(test.stat, context.p_digits)
    where = "; PH p per covariate in the last column" if options.ph_check == "column" else ""
    return [Footnote(f"Proportional hazards (Schoenfeld residual score test, "
                     f"Kaplan\u2013Meier time scale, as R's cox.zph): global "
                     f"p {shown if shown[0] in '<>' else '= ' + shown}{where}.")]


def _method_note(cox: Sequence[Result], about: dict[str, Result]) -> Footnote:
    """The abbreviations and the methods behind the numbers: tests, ties, strata."""
    term_method = next((r.stat for r in cox if r.stat_name == "method.term"), None)
    if term_method and not term_method.startswith("Wald"):  # a name keeps its capital
        term_method = term_method.lower()
    strata = about.get("strata")
    stratified = f"; stratified by {strata.formatted}" if strata else ""
    variance = about.get("variance")
    robust = f"; standard errors from the {variance.formatted}" if variance else ""
    wald = "Wald test (robust variance)" if variance else "Wald test"
    factors = f", {term_method} for factors with more than two levels" \
        if term_method and term_method != wald else ""
    return Footnote(f"HR: hazard ratio; CI: Wald confidence interval; p: {wald}{factors}. "
                    f"Ties handled by {about['ties'].formatted}'s method{stratified}{robust}.")


def _fit_records(fit, title, endpoint) -> list[Result]:
    out = []
    for name, test in (("lr", fit.lr_test), ("wald", fit.wald_test), ("score", fit.score_test)):
        out.append(Result("coxph", f"{name}.statistic", test.statistic, variable=endpoint,
                          group="model", group_level=title))
        out.append(Result("coxph", f"{name}.p.value", test.p_value, variable=endpoint,
                          group="model", group_level=title))
    out.append(Result("coxph", "loglik", fit.loglik, variable=endpoint, group="model",
                      group_level=title))
    if fit.robust_score_test is not None:
        test = fit.robust_score_test
        for name, value in (("robust.score.statistic", test.statistic),
                            ("robust.score.p.value", test.p_value)):
            out.append(Result("coxph", name, value, variable=endpoint, group="model",
                              group_level=title))
    if fit.n_clusters is not None:
        out.append(Result("coxph", "n.cluster", fit.n_clusters, variable=endpoint,
                          group="model", group_level=title))
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
    from cohortpress.kit.engine_cox import aggregates_refusal

    return [Analysis("cox", run, CoxOptions,
                     "Cox regression: univariable and multivariable HRs, PH check",
                     intervals=True, aggregates=aggregates_refusal)]
