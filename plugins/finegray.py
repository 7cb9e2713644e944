"""Built-in analysis ``finegray``: Fine–Gray subdistribution-hazard regression table.

For a competing-risks endpoint: univariable (one model per covariate) and multivariable
columns side by side, as the ``cox`` analysis lays them out, with the subdistribution hazard
ratio (SHR) of the event of interest, its Wald confidence interval and p-value from
cmprsk::crr's robust (sandwich) variance, the reference level of each categorical covariate,
a Wald test for factors with more than two levels, n and events of each model, and the
multivariable model's global Wald test. Every code other than censoring and the event of
interest counts as a competing event. Non-convergence, a constant or collinear covariate,
or no event become a flag with a footnote in the table.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from pydantic import Field

from cohortpress import hookimpl
from cohortpress.api.blocks import Footnote, Table
from cohortpress.api.options import EndpointName, Options, Variable
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext
from cohortpress.common.errors import DataError
from cohortpress.common.formatting import fmt_num, format_p, in_sentence, p_phrase
from cohortpress.kit.prose import percent_text
from cohortpress.kit.regression import (Fitted, RegressionModel, estimates_from, fit_models,
                                        layout_records, model_records)
from cohortpress.kit.disclosure import count_text, few_per_parameter, release_records
from cohortpress.kit.regression_table import RegressionLayout, regression_table

CONTEXT = "crr"
VARIANCE = "robust (Fine\u2013Gray sandwich with the censoring-distribution term, as R's " \
           "cmprsk::crr)"


class FineGrayOptions(Options):
    endpoint: EndpointName = Field(
        description="the competing-risks endpoint: its event of interest is modelled, every "
                    "other cause is a competing event",
        examples=["relapse"])
    covariates: list[Variable] = Field(
        min_length=1, description="the model's variables (categorical ones against their "
                                  "reference level)",
        examples=[["age", "sex", "risk_group"]])
    univariable: bool = Field(True, description="one model per covariate",
                              examples=[True])
    multivariable: bool = Field(True, description="one model of all covariates together "
                                                  "(complete cases)", examples=[False])
    conf_level: float = Field(0.95, gt=0.5, lt=1.0,
                              description="the confidence level of the Wald intervals",
                              examples=[0.9])
    digits: int = Field(2, ge=1, le=4, description="decimals of SHRs and their limits",
                        examples=[3])
    events_per_variable: float = Field(
        10.0, ge=0, description="below this many events of interest per parameter a "
                                "footnote warns of unstable estimates", examples=[5])
    caption: str | None = Field(None, description="the table's caption; default: names the "
                                                  "endpoint",
                                examples=["Competing-risks regression for relapse."])
    forest: bool = Field(False, description="also draw a forest plot of the subdistribution "
                         "hazard ratios (the multivariable model, or the univariable one when "
                         "it is the only model) under the table", examples=[True])

    def inapplicable_keys(self, config) -> list[tuple[str, str]]:
        """An endpoint declared without competing events cannot have a subdistribution."""
        spec = config.endpoints.get(self.endpoint)
        if spec is not None and getattr(spec, "entry", None):
            return [("endpoint", _delayed_entry(self.endpoint, spec.entry))]
        if spec is None or _declares_competing(spec):
            return []
        return [("endpoint", _not_competing(self.endpoint))]

    def check_data(self, cohort) -> list[str]:
        """The endpoint must be a competing-risks endpoint; no event of interest is a
        warning (every model will be flagged)."""
        endpoint = cohort.endpoint(self.endpoint)
        if not endpoint.has_competing:
            raise DataError(_not_competing(self.endpoint))
        if cohort.n and not (endpoint.status == 1).any():
            return [f"endpoint '{self.endpoint}' has no events of interest among these "
                    f"{cohort.n} patients"]
        return []


def _declares_competing(spec) -> bool:
    """Whether an endpoint's config gives it competing events (dates or cause codes)."""
    return bool(getattr(spec, "competing", None) or getattr(spec, "competing_codes", None))


def _delayed_entry(name: str, column: str) -> str:
    return (f"endpoint '{name}' has delayed entry (entry = \"{column}\"); the Fine\u2013Gray "
            f"model here is R cmprsk::crr's, which has none: use an endpoint without entry, "
            f"or the survival analysis for its cumulative incidence")


def _not_competing(name: str) -> str:
    return (f"endpoint '{name}' has no competing events; the Fine\u2013Gray model needs a "
            f"competing-risks endpoint (use the cox analysis for this one)")


class _FineGrayModel(RegressionModel):
    """The Fine–Gray model of the endpoint's event of interest (status 1; 2 and above are
    competing causes)."""

    term_test_method = "Wald test"

    def __init__(self, endpoint, options: FineGrayOptions):
        self.endpoint = endpoint
        self.options = options

    def _status(self, design) -> np.ndarray:
        status = np.asarray(self.endpoint.status[design.keep], dtype=np.int64)
        return np.where(status >= 2, 2, status)

    def fit(self, design) -> Fitted:
        from cohortpress.stats.finegray import fit_finegray

        fit = fit_finegray(self.endpoint.time[design.keep], self._status(design), design.X,
                           design.names, cause=1, conf_level=self.options.conf_level)
        return Fitted(fit)

    def estimates(self, design, fitted, column):
        fit = fitted.fit
        return estimates_from(fit.names, fit.coef, fit.se, fit.z, fit.p, fit.shr,
                              fit.conf_low, fit.conf_high)

    def counts(self, design, fitted):
        return design.n, int((self._status(design) == 1).sum())

    def term_test(self, design, columns, fitted) -> float:
        from cohortpress.stats.finegray import wald_test_terms

        return wald_test_terms(fitted.fit, columns).p_value


def run(cohort, options: FineGrayOptions, context: SectionContext):
    endpoint = cohort.endpoint(options.endpoint)
    if not endpoint.has_competing:
        raise DataError(_not_competing(options.endpoint))
    if getattr(endpoint, "entry", None) is not None:
        raise DataError(_delayed_entry(options.endpoint, endpoint.entry_column))
    model = _FineGrayModel(endpoint, options)
    models = fit_models(model, cohort, options.covariates, univariable=options.univariable,
                        multivariable=options.multivariable)
    results, warnings = [], []
    if models.multivariable is not None:
        fit = models.multivariable.fit
        results += _fit_records(fit, options.endpoint, context)
        epv = fit.n_events / max(len(fit.names), 1)
        if epv < options.events_per_variable:
            warnings.append(few_per_parameter(fit.n_events, "events of interest",
                                              len(fit.names), options.events_per_variable,
                                              context.disclosure))
    results += model_records(models.terms, models.columns, context_name=CONTEXT,
                             ratio_stat="shr", digits=options.digits,
                             p_digits=context.p_digits)
    results += layout_records(models.terms, models.columns, context_name=CONTEXT)
    results += _table_records(endpoint, options, models.design)
    results = release_records(results, context.disclosure)
    tables = tables_from_records(results, options, context)
    if options.forest:
        tables += figures_from_records(results, options, style=context.style)
    methods = [f"Associations with the cumulative incidence of {in_sentence(endpoint.label)} "
               f"were estimated with the Fine\u2013Gray proportional subdistribution-hazards "
               f"model, in which patients who had a competing event remain in the risk set, "
               f"weighted by the inverse probability of censoring estimated by the "
               f"Kaplan\u2013Meier method.",
               f"Subdistribution hazard ratios are reported with Wald "
               f"{percent_text(options.conf_level)} confidence intervals and p-values from "
               f"the robust sandwich variance of Fine and Gray (as R's cmprsk::crr)"
               + (", covariates with more than two levels were tested with Wald tests of all "
                  "their coefficients" if any(r.stat_name == "method.term" for r in results)
                  else "")
               + ", and models used complete cases."]
    return context.section(blocks=tables, results=results, methods=methods,
                           warnings=tuple(warnings),
                           abbreviations=(("SHR", "subdistribution hazard ratio"),
                                          ("CI", "confidence interval")))


def figures_from_records(results: Sequence[Result], options: FineGrayOptions,
                         style: str | None = None) -> tuple:
    """The forest plot of the subdistribution hazard ratios, from the records alone (none
    without an estimate to draw)."""
    from cohortpress.kit.forest import ForestKind, forest_figures

    about = {r.stat_name: r.stat for r in results if r.context == CONTEXT
             and r.group is None and r.variable == options.endpoint}
    return forest_figures(results, ForestKind(CONTEXT, "shr", "SHR",
                                              "Subdistribution hazard ratio"),
                          subject=f"for {in_sentence(about['outcome.label'])}",
                          conf_level=about["conf.level"], style=style)


def _table_records(endpoint, options: FineGrayOptions, design) -> list[Result]:
    """What the table names besides the models: the endpoint, the CI level, the variance
    and the patients left out for a missing value."""
    common = dict(variable=options.endpoint)
    return [Result(CONTEXT, "outcome.label", endpoint.label, **common),
            Result(CONTEXT, "conf.level", options.conf_level, **common),
            Result(CONTEXT, "variance", VARIANCE, **common),
            Result(CONTEXT, "n.incomplete", design.n_dropped, **common)]


def _fit_records(fit, endpoint: str, context) -> list[Result]:
    """The multivariable model's whole-model numbers: the global Wald test (robust
    variance), crr's pseudo likelihood-ratio test, the pseudo log-likelihoods, the counts
    and whether Newton–Raphson converged."""
    common = dict(variable=endpoint, group="model", group_level="multivariable")
    out = []
    for name, test in (("wald", fit.wald_test), ("lr", fit.lr_test)):
        out += [Result(CONTEXT, f"{name}.statistic", test.statistic, **common),
                Result(CONTEXT, f"{name}.df", test.df, **common),
                Result(CONTEXT, f"{name}.p.value", test.p_value,
                       formatted=format_p(test.p_value, context.p_digits), **common)]
    out += [Result(CONTEXT, "loglik", fit.loglik, **common),
            Result(CONTEXT, "loglik.null", fit.loglik_null, **common),
            Result(CONTEXT, "n.competing", fit.n_competing, **common),
            Result(CONTEXT, "n.censor", fit.n_censored, **common),
            Result(CONTEXT, "converged", fit.converged, **common)]
    return out


def tables_from_records(results: Sequence[Result], options: FineGrayOptions,
                        context: SectionContext) -> tuple[Table, ...]:
    """The section's table from its records alone; ``options`` and ``context`` give only
    the layout (caption, p-value digits)."""
    crr = [r for r in results if r.context == CONTEXT]
    about = {r.stat_name: r for r in crr if r.group is None and r.variable == options.endpoint}
    whole = {r.stat_name: r for r in crr if r.group == "model"
             and r.group_level == "multivariable" and r.variable == options.endpoint}
    notes = [_method_note(crr)]
    if "wald.statistic" in whole and whole["converged"].stat:
        notes.append(_global_note(whole))
    if about["n.incomplete"].stat != 0:  # None: hidden by the disclosure rule, not zero
        dropped = count_text(about["n.incomplete"].stat, about["n.incomplete"].formatted)
        notes.append(Footnote(f"Complete cases: {dropped} patients with a "
                              f"missing covariate were excluded from the multivariable model "
                              f"(univariable models use every patient with that covariate)."))
    label = in_sentence(about["outcome.label"].stat)
    caption = options.caption or f"Fine\u2013Gray competing-risks regression for {label}."
    layout = RegressionLayout(caption, ratio_name="SHR", ratio_stat="shr",
                              n_label="Patients (events)", notes=tuple(notes))
    return (regression_table(crr, layout, context_name=CONTEXT),)


def _method_note(crr: Sequence[Result]) -> Footnote:
    factors = ", the same for factors with more than two levels" \
        if any(r.stat_name == "method.term" for r in crr) else ""
    return Footnote(f"SHR: subdistribution hazard ratio of the event of interest (Fine\u2013"
                    f"Gray model: patients with a competing event stay in the risk set, "
                    f"weighted by the inverse probability of censoring); CI and p: Wald, "
                    f"with the robust sandwich variance as R's cmprsk::crr{factors}.")


def _global_note(whole: dict[str, Result]) -> Footnote:
    wald = whole["wald.statistic"]
    return Footnote(f"Multivariable model: global Wald test \u03c7\u00b2 = "
                    f"{fmt_num(wald.stat, 2)} on {whole['wald.df'].stat:g} df, p "
                    f"{p_phrase(whole['wald.p.value'].formatted)}; "
                    f"{whole['n.competing'].stat} competing events and "
                    f"{whole['n.censor'].stat} censored.")


@hookimpl
def cohortpress_analyses():
    return [Analysis("finegray", run, FineGrayOptions,
                     "Fine\u2013Gray regression: univariable and multivariable SHRs for a "
                     "competing-risks endpoint")]
