"""The options of the ``survival`` analysis and the checks of a config and a cohort against
them (which keys apply to which endpoints, what the data must hold); the analysis itself is
:mod:`cohortpress.plugins.survival`."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from cohortpress.common.formatting import fmt_num
from cohortpress.common.suggest import did_you_mean
from cohortpress.api.options import EndpointName, Variable
from cohortpress.kit import rmst_table as rmst
from cohortpress.kit.weighted_survival import check_weighted_survival


#: A time in the endpoint's unit: finite and not negative.
TimePoint = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class SurvivalOptions(rmst.RMSTOptions):  # the RMST options and their checks: kit.rmst_table
    endpoints: list[EndpointName] = Field(min_length=1, description="the endpoints analysed",
                                          examples=[["os", "efs"]])
    by: Variable | None = Field(None, description="the grouping variable; default: "
                               "cohort.group", examples=["diagnosis"])
    strata: Variable | None = Field(None, description="a categorical variable the log-rank "
                                    "test is stratified by", examples=["centre"])
    landmarks: list[TimePoint] = Field([], description="times (in the endpoint's unit) of "
                                       "the tabulated estimates", examples=[[1, 5]])
    conf_type: Literal["log", "log-log", "plain"] = Field(
        "log", description="the transform of the confidence intervals (log as R's survfit)",
        examples=["log-log"])
    conf_level: float = Field(0.95, gt=0.5, lt=1.0, description="the confidence level",
                              examples=[0.9])
    estimate: Literal["ci", "se"] = Field("ci", examples=["se"], description="estimates "
                                          "shown with a confidence interval or standard error")
    percent_digits: int = Field(1, ge=0, le=2, description="decimals of the estimates (%)",
                                examples=[0])
    time_digits: int = Field(1, ge=0, le=3, description="decimals of medians and follow-up",
                             examples=[2])
    test: Literal["logrank", "trend", "none"] = Field(
        "logrank", description="the comparison of groups; trend: across ordered groups",
        examples=["trend"])
    rho: float = Field(0.0, ge=0.0, description="Fleming–Harrington weight S(t)^rho "
                       "(0 and 0: log-rank)", examples=[1])
    gamma: float = Field(0.0, ge=0.0, description="Fleming–Harrington weight "
                         "(1-S(t))^gamma", examples=[1])
    pairwise: bool = Field(False, description="each pair of groups compared too",
                           examples=[True])
    adjust: Literal["holm", "bonferroni", "BH", "none"] = Field(
        "holm", description="the adjustment of pairwise p-values", examples=["BH"])
    overall: bool = Field(True, description="an overall row beside the groups",
                          examples=[False])
    median: bool = Field(True, description="the median with its confidence interval",
                         examples=[False])
    followup: bool = Field(True, description="the median follow-up (reverse Kaplan–Meier)",
                           examples=[False])
    caption: str | None = Field(None, description="the table's caption; default: names the "
                                "endpoints", examples=["Survival by diagnosis."])
    figure: bool = Field(True, description="a figure per endpoint", examples=[False])
    figure_captions: dict[str, str] = Field({}, description="endpoint = its figure's caption",
                                            examples=[{"os": "Overall survival."}])
    ci_bands: bool = Field(False, description="confidence bands in the Kaplan–Meier figure",
                           examples=[True])
    risk_table: bool = Field(True, description="numbers at risk under the time-to-event "
                             "figures", examples=[False])
    risk_times: list[TimePoint] | None = Field(None, description="times of the numbers at "
                                               "risk; default: evenly spaced", examples=[[0, 5]])
    risk_table_rows: list[Literal["at_risk", "events", "censored"]] = Field(
        ["at_risk"], min_length=1, description="rows of the table under the figure, in order: "
        "number at risk, cumulative events, cumulative censored",
        examples=[["at_risk", "events", "censored"]])
    fun: Literal["survival", "event"] = Field(
        "survival", description="what the Kaplan–Meier figure shows: the survival function "
        "S, or the cumulative event probability 1 − S", examples=["event"])
    median_line: bool = Field(False, description="a line marking the median", examples=[True])
    xmax: float | None = Field(None, gt=0, allow_inf_nan=False, description="where the time "
                               "axis ends; default: the last follow-up", examples=[10])
    xlabel: str | None = Field(None, description="the time axis label; default: Time (UNIT)",
                               examples=["Years from diagnosis"])
    width_mm: float = Field(85.0, ge=40, le=180, description="the figures' width in "
                            "millimetres", examples=[120])
    cumulative_incidence: bool = Field(True, description="endpoints with competing events: "
                                       "cumulative incidence and Gray's test; false: "
                                       "Kaplan–Meier, competing events censored",
                                       examples=[False])
    weights: Variable | None = Field(None, description="a column of survey or inverse-"
                                     "probability-of-treatment weights: weighted Kaplan–Meier "
                                     "curves with robust standard errors (needs test = "
                                     "\"none\")", examples=["iptw"])
    cif_causes: Literal["separate", "stacked"] = Field(
        "separate", description="competing-risks figures: one figure per cause with a curve "
                                "per group (separate), or per group one figure with the "
                                "causes' incidences stacked (stacked)",
        examples=["stacked"])

    def inapplicable_keys(self, config) -> list[tuple[str, str]]:
        """Kaplan–Meier options given to a section whose endpoints all have competing risks
        (shown as cumulative incidence with Gray's test, which these options do not reach),
        and figure captions for endpoints that get no Kaplan–Meier figure."""
        competing = {name for name in self.endpoints if self.cumulative_incidence
                     and _has_competing(config.endpoints.get(name))}
        found = [(f"figure_captions.{name}", f"endpoint '{name}' is not among this section's "
                                              f"endpoints{did_you_mean(name, self.endpoints)}")
                  for name in self.figure_captions if name not in self.endpoints]
        if "cif_causes" in self.model_fields_set and not competing:
            found.append(("cif_causes", "applies to endpoints with competing risks; none of "
                                        "this section's endpoints has competing causes"))
        if not self.risk_table and "risk_table_rows" in self.model_fields_set:
            found.append(("risk_table_rows", "applies to the risk table; risk_table = false"))
        found += self.rmst_inapplicable()
        if competing != set(self.endpoints):
            return found
        why = ("applies to Kaplan–Meier estimates; every endpoint of this section has "
               "competing events (cumulative incidence with Gray's test)")
        found += [(key, why) for key in KAPLAN_MEIER_ONLY if key in self.model_fields_set]
        if "test" in self.model_fields_set and self.test != "logrank":
            found.append(("test", f"'{self.test}' applies to Kaplan–Meier estimates; "
                                  f"competing-risks endpoints are compared with Gray's test"))
        return found

    def check_data(self, cohort) -> list[str]:
        """The grouping and strata must be categorical (refused as the run refuses them);
        an endpoint without events or a landmark beyond follow-up is a warning."""
        from cohortpress.data.grouping import check_strata, empty_group_warnings, group_cohort

        by = self.by if self.by is not None else cohort.group
        if getattr(cohort, "engine", False):
            return self.check_engine_data(cohort, by)
        groups = group_cohort(cohort, by)
        self.check_rmst_horizon(cohort)
        if self.strata is not None:
            check_strata(cohort, self.strata)
        check_weighted_survival(self, cohort)
        warnings = empty_group_warnings(groups)
        for name in self.endpoints:
            endpoint = cohort.endpoint(name)
            events = int(np.count_nonzero(endpoint.event))
            longest = float(np.max(endpoint.time)) if cohort.n else 0.0
            warnings += self.endpoint_warnings(cohort, name, endpoint.unit, events, longest)
        return warnings

    def check_engine_data(self, cohort, by) -> list[str]:
        """:meth:`check_data` on the engine path: the same checks and warnings from one
        aggregate query (:func:`cohortpress.kit.engine_survival.endpoint_extents`)."""
        from cohortpress.data.grouping import check_strata, empty_group_warnings
        from cohortpress.kit.engine_survival import check_streamable, endpoint_extents
        from cohortpress.kit.engine_survival_stream import streamed_refusal

        groups, extents = endpoint_extents(cohort, list(self.endpoints), by)
        for name in self.endpoints:
            check_streamable(cohort, name, extents[name].table_rows,
                             streamed_refusal(self, cohort.endpoint(name)))
        if self.rmst and self.rmst_horizon is not None and not self.rmst_extend:
            for name in self.endpoints:
                rmst.check_horizon_reached(name, cohort.endpoint(name).unit, extents[name].last,
                                           self.rmst_horizon)
        if self.strata is not None:
            check_strata(cohort, self.strata)
        warnings = empty_group_warnings(groups)
        for name in self.endpoints:
            extent = extents[name]
            warnings += self.endpoint_warnings(cohort, name, cohort.endpoint(name).unit,
                                               extent.events,
                                               extent.longest if cohort.n else 0.0)
        return warnings

    def endpoint_warnings(self, cohort, name: str, unit: str, events: int,
                          longest: float) -> list[str]:
        """An endpoint without events, a landmark beyond its longest follow-up."""
        warnings = []
        if cohort.n and not events:
            warnings.append(f"endpoint '{name}' has no events among these {cohort.n} "
                            f"patients")
        beyond = [t for t in self.landmarks if t > longest]
        if beyond:
            warnings.append(f"landmark {fmt_num(min(beyond), 1)} {unit} is beyond "
                            f"the longest follow-up of endpoint '{name}' "
                            f"({fmt_num(longest, 1)} {unit})")
        return warnings


def _has_competing(settings) -> bool:
    """Whether ``[endpoints.NAME]`` has competing causes (dates or cause codes)."""
    return bool(getattr(settings, "competing", None) or getattr(settings, "competing_codes", None))


#: Options the competing-risks path (cumulative incidence, Gray's test) does not use: its
#: intervals are on the log(-log) scale as cmprsk's, its test unstratified and unweighted.
KAPLAN_MEIER_ONLY = ("conf_type", "strata", "rho", "gamma", "pairwise", "adjust",
                     "followup", "ci_bands", "median_line", "risk_table_rows", "fun",
                     *rmst.RMST_KEYS)
