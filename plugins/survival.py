"""Built-in analysis ``survival``: Kaplan–Meier, log-rank, landmarks, RMST, competing risks.

For each endpoint and each group (and overall): patients, events, Kaplan–Meier estimates
at the landmark times with Greenwood standard errors and confidence intervals (transform
``log`` as R's default, ``log-log`` or ``plain``, named in a footnote), the median with its
CI, the median follow-up by reverse Kaplan–Meier and, optionally, the restricted mean
survival time (:mod:`cohortpress.kit.rmst_table`). Groups are compared with the
log-rank test (optionally stratified, Fleming–Harrington weighted, a trend test across
ordered groups, or pairwise with Holm's adjustment). For an endpoint with competing causes
(``competing`` dates or ``competing_codes`` in ``[endpoints]``) every cause's cumulative
incidence (Aalen–Johansen) with Gray's test per cause, its table and figures come from
:mod:`cohortpress.kit.cumulative_incidence`. Every estimator is checked against R's
``survival`` and ``cmprsk`` in the tests; the options and their checks are
:mod:`cohortpress.kit.survival_options`.

On the engine path (an :class:`~cohortpress.data.engine.cohort.EngineCohort`) each endpoint
is one aggregate table, patients per distinct group, stratum, time and status
(:mod:`cohortpress.kit.engine_survival`), and the same code runs on its rows with their
counts: the estimators tabulate both into the same per-time table. When that table would
not fit in memory (exact times at registry scale), or nearly has a row per patient, the
endpoint's rows are read in time order instead and the estimators keep running sums
(:mod:`cohortpress.kit.engine_survival_stream`).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from cohortpress import hookimpl
from cohortpress.common.errors import DataError, StatisticsError
from cohortpress.common.formatting import fmt_num, in_sentence
from cohortpress.common.memory import release_freed_memory
from cohortpress.api.blocks import Figure, Table
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext
from cohortpress.kit import rmst_table as rmst
from cohortpress.kit import survival_release as release
from cohortpress.kit.delayed_entry import (GRAY_REFUSED, entry_label, entry_of,
                                           entry_records, entry_sentence, exact_risk,
                                           figure_note)
from cohortpress.kit.engine_grouping import engine_grouping
from cohortpress.kit.engine_survival import (counts_of, endpoint_extents, patients,
                                             selected, streams, survival_aggregates,
                                             survival_counts)
from cohortpress.kit.engine_survival_stream import (GROUPED, streamed_endpoint,
                                                    streamed_refusal, streamed_sentence)
from cohortpress.kit.records import STREAMED_RECORD
from cohortpress.kit.prose import (PAIRWISE_ADJUST, endpoint_sentences, logrank_phrase,
                                   percent_text)
from cohortpress.kit.survival_table import (CONF_TYPE_TEXT, SurvivalLayout, estimate_text,
                                            median_text, survival_tables)
from cohortpress.kit.weighted_survival import (check_weighted_survival, km_fit, weighted_records,
                                              weighted_sentence)
from cohortpress.kit.survival_options import SurvivalOptions


class _SurvivalSection:
    def __init__(self, cohort, options: SurvivalOptions, context: SectionContext):
        from cohortpress.data.grouping import group_cohort

        self.cohort = cohort
        self.options = options
        self.context = context
        self.by = options.by if options.by is not None else cohort.group
        self.engine = getattr(cohort, "engine", False)  # rows of counts from aggregates
        self.groups = engine_grouping(cohort, self.by) if self.engine else \
            group_cohort(cohort, self.by)
        self.row_order = None  # the order add_endpoint takes the patients in
        self.engine_strata = None  # on the engine path: each row's stratum code
        self.results: list[Result] = []
        self.km_endpoints: list[str] = []
        self.methods: list[str] = []
        self.figures: list[Figure] = []
        self.warnings: list[str] = []
        self.test_method: str | None = None
        self.risk: dict = {}  # per curve, with delayed entry: its exact numbers at risk
        self.streamed: list = []  # (label, distinct times) of endpoints read in time order
        self.landmarks = sorted(set(options.landmarks))
        self.release = release.for_context(context)  # None: no disclosure rule
        if options.strata is not None:
            from cohortpress.data.grouping import check_strata

            check_strata(cohort, options.strata)
        check_weighted_survival(options, cohort)
        self.weights = None if options.weights is None else \
            cohort.values(options.weights).to_numpy(dtype=float)
        if self.groups.variable is not None:
            self.results.append(Result("survfit", "label", self.groups.label, group=self.by))

    @property
    def show_p(self) -> bool:
        return self.options.test != "none" and len(self.groups.levels) >= 2

    # ------------------------------------------------------------------ one endpoint

    def add_endpoint(self, name: str) -> None:
        """One endpoint's rows, tests and figures, with the patients taken in time order.

        Every estimator here depends on the data only through counts per distinct time, so
        the order of the patients changes no number; in time order, the sort each of them
        starts with is ~30 times cheaper (a million patients: eight sorts of ~0.08 s each).
        """
        if self.engine:
            self.add_endpoint_from_counts(name)
            return
        endpoint = self.cohort.endpoint(name)
        order = np.argsort(endpoint.time)  # ties in any order: counts do not see it
        groups = self.groups
        self.groups = dataclasses.replace(groups, codes=groups.codes[order])
        self.row_order = order
        try:
            self._add_endpoint(name, dataclasses.replace(
                endpoint, time=endpoint.time[order], event=endpoint.event[order],
                status=endpoint.status[order], entry=entry_of(endpoint, order)))
        finally:
            self.groups, self.row_order = groups, None

    def add_endpoint_from_counts(self, name: str) -> None:
        """One endpoint on the engine path: the same code on one aggregate table, rows of
        patients per distinct group, stratum, time and status
        (:mod:`cohortpress.kit.engine_survival`); or, when that table would not fit in
        memory, from the rows in time order (:meth:`add_streamed_endpoint`)."""
        extent = endpoint_extents(self.cohort, list(self.options.endpoints),
                                  self.groups.variable)[1][name]
        refusal = streamed_refusal(self.options, self.cohort.endpoint(name),
                                   self.release is not None)
        if streams(self.cohort, extent.table_rows, refusal):
            if refusal:  # the checks refuse it before the build, but for a disclosure rule
                raise DataError(refusal)
            self.add_streamed_endpoint(name, extent)
            return
        table = survival_counts(self.cohort, name, self.groups.variable, self.options.strata)
        groups = self.groups
        self.groups = dataclasses.replace(groups, codes=table.groups)
        self.engine_strata = table.strata
        try:
            self._add_endpoint(name, table.endpoint)
        finally:
            self.groups, self.engine_strata = groups, None
            del table
            release_freed_memory()  # else the next endpoint's arrays come on top of these

    def _add_endpoint(self, name: str, endpoint) -> None:
        release.refuse_unsupported(self.release, endpoint, self.options.weights)
        if endpoint.has_competing and self.options.cumulative_incidence:
            # 1 - Kaplan-Meier overstates the incidence when competing events remove
            # patients from risk: such endpoints get the Aalen-Johansen estimate only.
            self.add_cumulative_incidence(name, endpoint)
            return
        self.km_endpoints.append(name)
        self.describe("survfit", name, endpoint)
        self.results += [self.release.unit_record("survfit", name)] if self.release else []
        self.results.append(Result("survfit", "conf.type", self.options.conf_type,
                                   variable=name))
        self.results += weighted_records(name, self.options, self.cohort)
        grouped = self.groups.codes >= 0
        if self.show_p:
            self.compare(endpoint)
        curves = []
        for level, member in self.members():
            fit = self.add_curve(name, endpoint, level,
                                 grouped if member == GROUPED else self.groups.codes == member)
            if fit is not None:
                curves.append((level, fit))
        self.results += release.release_rmst_counts(rmst.rmst_records(
            endpoint, self.groups, self.options, self.context), self.release)
        if self.options.followup:
            self.add_followup(name, endpoint, grouped)
        if self.options.figure and curves:
            self.figures.append(self.km_figure(name, endpoint, curves))

    def members(self) -> list[tuple[str, object]]:
        """The table's rows: each group's level and index, then (with ``overall``) the row
        of every patient with a group (:data:`GROUPED`)."""
        members = [(level, i) for i, level in enumerate(self.groups.levels)]
        if self.options.overall and (self.groups.variable is None or len(members) > 1):
            members.append(("Overall" if self.groups.variable is not None else "All patients",
                            GROUPED))
        return members

    def add_streamed_endpoint(self, name: str, extent) -> None:
        """One endpoint whose aggregate table would not fit in memory, from its rows in
        time order (:mod:`cohortpress.kit.engine_survival_stream`): the same records as
        :meth:`_add_endpoint` gives, from curves that keep the rows the report reads."""
        endpoint = self.cohort.endpoint(name)
        self.km_endpoints.append(name)
        self.describe("survfit", name, endpoint)
        self.results.append(Result("survfit", "conf.type", self.options.conf_type,
                                   variable=name))
        risk_times = self.risk_times(endpoint, extent.longest)
        horizon = min(self.options.xmax or extent.longest, extent.longest)
        streamed = streamed_endpoint(self.cohort, name, self.groups.variable,
                                     self.options.strata, self.members(), self.options,
                                     sorted(set(self.landmarks) | set(risk_times)), horizon)
        if self.show_p:
            if streamed.too_few_groups or streamed.test_error:
                self.no_test(endpoint, streamed.test_error)
            elif streamed.test is not None:
                self.record_test(endpoint, streamed.test)
        curves = []
        for level, _ in self.members():
            fit = self.add_fitted_curve(name, endpoint, level, streamed.fits[level],
                                        streamed.patients[level], streamed.events[level])
            if fit is not None:
                curves.append((level, fit))
        if streamed.followup is not None:
            self.record_followup(name, streamed.followup, None)
        if self.options.figure and curves:
            self.figures.append(self.km_figure(name, endpoint, curves, risk_times))
        self.streamed.append((endpoint.label, extent.table_rows))
        self.results.append(Result("survfit", STREAMED_RECORD,
                                   streamed_sentence(self.streamed[-1:]), variable=name))
        release_freed_memory()

    def add_curve(self, name: str, endpoint, level: str, mask):
        """One row of the table: the Kaplan–Meier fit of the rows ``mask`` selects, its
        records and warnings. Returns the fit when the figure draws it, else None (its
        arrays, as large as the rows with exact times, are then freed here)."""
        time, event = selected(endpoint.time, mask), selected(endpoint.event, mask)
        counts = counts_of(endpoint, mask)
        if len(time) == 0:
            return self.add_fitted_curve(name, endpoint, level, None, 0, 0)
        weights = None if self.weights is None else self.weights[self.row_order][mask]
        if self.release is None:
            fit = km_fit(time, event, weights, self.options.conf_type,
                         self.options.conf_level, entry=entry_of(endpoint, mask),
                         counts=counts)
        else:  # None: too few patients to be shown
            fit = release.km_fit(time, event, self.options.conf_type,
                                 self.options.conf_level, self.release, counts)
        drawn = self.add_fitted_curve(name, endpoint, level, fit, patients(endpoint, mask),
                                      patients(endpoint, mask, event == 1))
        if drawn is not None:
            entry = entry_of(endpoint, mask)
            self.risk[level] = None if entry is None else exact_risk(time, entry)
        return drawn

    def add_fitted_curve(self, name: str, endpoint, level: str, fit, n: int, n_event: int):
        """The records and warnings of one row of the table from its fit (None: not shown)
        and its patients and events. Returns the fit when the figure draws it."""
        group_level = None if level in ("Overall", "All patients") else level
        group = self.by if group_level is not None else None
        self.record(name, None, group, group_level, "row.label", level)
        if n == 0:
            self.record(name, None, group, group_level, "n", 0)
            self.record(name, None, group, group_level, "n.event", 0)
            self.warnings.append(f"{endpoint.label}: group '{level}' has no patients.")
            self.empty_group_record("survdiff", name, level)
            return None
        self.add_row(name, level, group_level, fit, n, n_event)
        if n_event == 0:
            self.warnings.append(f"{endpoint.label}: no events in '{level}'; the curve "
                                 f"stays at 100% and the median is not reached.")
        if fit is None or (group_level is None and self.groups.variable is not None):
            return None
        return fit

    def describe(self, context: str, name: str, endpoint) -> None:
        """Records of what the table says about an endpoint: its label, its time unit, the
        unit of the data it was converted from (``dates`` for dates) and the level of its
        confidence intervals."""
        for stat, value in (("label", endpoint.label), ("time.unit", endpoint.unit),
                            ("time.unit.data", endpoint.data_unit or None),
                            ("conf.level", self.options.conf_level)):
            if value is not None:  # an endpoint a plugin made may not know its data's unit
                self.results.append(Result(context, stat, value, variable=name))
        self.results += entry_records(context, endpoint, entry_label(self.cohort, endpoint))

    def add_row(self, name, level, group_level, fit, n: int, n_event: int) -> None:
        """The records of one group's row: patients, events, landmarks, median."""
        from cohortpress.stats.kaplan_meier import km_at, km_median

        group = self.by if group_level is not None else None
        self.results += release.count_records("survfit", (("n", n), ("n.event", n_event)),
                                              self.release, variable=name, group=group,
                                              group_level=group_level)
        if fit is None:
            return
        if self.landmarks:
            marks = km_at(fit, self.landmarks)
            for k, t in enumerate(marks.time):
                text = self.format_estimate(marks.surv[k], marks.std_err[k], marks.conf_low[k],
                                            marks.conf_high[k])
                for stat, values in (("surv", marks.surv), ("std.err", marks.std_err),
                                     ("conf.low", marks.conf_low),
                                     ("conf.high", marks.conf_high),
                                     ("n.risk", marks.n_risk), ("n.event", marks.n_event)):
                    self.record(name, float(t), group, group_level, stat, values[k],
                                text if stat == "surv" else None)
        if self.options.median:
            median = km_median(fit)
            text = median_text(median, self.options.time_digits)
            self.record(name, None, group, group_level, "median", median.median, text)
            self.record(name, None, group, group_level, "median.conf.low", median.conf_low)
            self.record(name, None, group, group_level, "median.conf.high", median.conf_high)

    def format_estimate(self, surv, se, low, high) -> str:
        return estimate_text(surv, se, low, high, self.options.estimate,
                             self.options.percent_digits)

    def record(self, endpoint, time, group, group_level, stat, value, formatted=None) -> None:
        value = value.item() if hasattr(value, "item") else value
        self.results.append(Result("survfit", stat, value, variable=endpoint,
                                   variable_level=time, group=group, group_level=group_level,
                                   formatted=formatted))

    # ------------------------------------------------------------------ tests

    def strata_codes(self):
        if self.options.strata is None:
            return None
        if self.engine:
            return self.engine_strata
        codes = np.asarray(self.cohort.values(self.options.strata).cat.codes, dtype=np.int64)
        return codes if self.row_order is None else codes[self.row_order]

    def compare(self, endpoint) -> None:
        from cohortpress.stats.logrank import logrank_test, logrank_trend_test

        mask = self.groups.codes >= 0
        strata = self.strata_codes()
        if strata is not None:
            mask &= strata >= 0
            strata = selected(strata, mask)
        codes = selected(self.groups.codes, mask)
        present = np.unique(codes)
        if len(present) < 2:
            self.no_test(endpoint)
            return
        args = (selected(endpoint.time, mask), selected(endpoint.event, mask), codes)
        weights = dict(rho=self.options.rho, gamma=self.options.gamma, strata=strata,
                       entry=entry_of(endpoint, mask), counts=counts_of(endpoint, mask))
        try:
            if self.options.test == "trend":
                result = logrank_trend_test(*args, **weights)
            else:
                result = logrank_test(*args, **weights).test
        except StatisticsError as exc:
            self.no_test(endpoint, str(exc))
            return
        self.record_test(endpoint, result)
        if self.options.pairwise and len(present) > 2:
            self.add_pairwise(endpoint, mask, strata)

    def no_test(self, endpoint, why: str | None = None) -> None:
        """The warning of a group test not done: fewer than two groups, or ``why``."""
        self.warnings.append(f"{endpoint.label}: no group comparison ({why})." if why else
                             f"{endpoint.label}: fewer than two groups with patients; no test.")

    def record_test(self, endpoint, result) -> None:
        """The records of the groups' test (a :class:`~cohortpress.stats.common.TestResult`)."""
        self.test_method = result.method
        formatted = self.context.format_p(result.p_value)
        for stat, value in (("statistic", result.statistic), ("df", result.df),
                            ("p.value", result.p_value)):
            self.results.append(Result("survdiff", stat, value, variable=endpoint.name,
                                       group=self.by,
                                       formatted=formatted if stat == "p.value" else None))
        self.results.append(Result("survdiff", "method", result.method, variable=endpoint.name,
                                   group=self.by))
        self.results += self.weight_records(endpoint.name)

    def empty_group_record(self, context: str, name: str, level: str) -> None:
        """A group the table shows with no patients: recorded as left out of the test."""
        if self.show_p:
            self.results.append(Result(context, "not.tested.group",
                                       "no patients in this subset", variable=name,
                                       group=self.by, group_level=level))

    def weight_records(self, name: str) -> list[Result]:
        """Fleming–Harrington exponents (0, 0: log-rank); a stratified test's strata, label."""
        where = dict(variable=name, group=self.by)
        out = [Result("survdiff", "rho", float(self.options.rho), **where),
               Result("survdiff", "gamma", float(self.options.gamma), **where)]
        if self.options.strata is not None:
            out += [Result("survdiff", "strata", self.options.strata, **where),
                    Result("survdiff", "strata.label",
                           self.cohort.variable(self.options.strata).label, **where)]
        return out

    def add_pairwise(self, endpoint, mask, strata) -> None:
        from cohortpress.stats.logrank import pairwise_logrank

        result = pairwise_logrank(selected(endpoint.time, mask), selected(endpoint.event, mask),
                                  selected(self.groups.codes, mask), adjust=self.options.adjust,
                                  rho=self.options.rho, gamma=self.options.gamma,
                                  strata=strata, entry=entry_of(endpoint, mask),
                                  counts=counts_of(endpoint, mask))
        self.results.append(Result("survdiff.pairwise", "adjust.method", self.options.adjust,
                                   variable=endpoint.name, group=self.by))
        for comp in result.comparisons:
            a, b = self.groups.levels[comp.group_a], self.groups.levels[comp.group_b]
            formatted = self.context.format_p(comp.p_adjusted)
            for stat, value in (("statistic", comp.statistic), ("p.value", comp.p_value),
                                ("p.adjusted", comp.p_adjusted)):
                self.results.append(Result("survdiff.pairwise", stat, value,
                                           variable=endpoint.name, variable_level=f"{a} vs {b}",
                                           group=self.by,
                                           formatted=formatted if stat == "p.adjusted" else None))

    # ------------------------------------------------------------------ follow-up

    def add_followup(self, name, endpoint, grouped) -> None:
        from cohortpress.stats.kaplan_meier import reverse_km_median_followup

        time, event = selected(endpoint.time, grouped), selected(endpoint.event, grouped)
        if len(time) == 0:
            return
        entry = entry_of(endpoint, grouped)  # follow-up counts from entry: on an age scale
        observed = time if entry is None else time - entry  # the time since 0 is no follow-up
        followup = reverse_km_median_followup(observed, event, conf_level=self.options.conf_level,
                                              counts=counts_of(endpoint, grouped))
        self.record_followup(name, followup, entry)

    def record_followup(self, name: str, followup, entry) -> None:
        """The records of the median follow-up (a
        :class:`~cohortpress.stats.kaplan_meier.KMMedian`); ``entry``: delayed entry, if any."""
        for stat, value in (("median", followup.median), ("conf.low", followup.conf_low),
                            ("conf.high", followup.conf_high)):
            self.results.append(Result("followup", stat, float(value), variable=name))
        if entry is not None:
            self.results.append(Result("followup", "origin", "entry", variable=name))

    # ------------------------------------------------------------------ competing risks

    def add_cumulative_incidence(self, name, endpoint) -> None:
        """Every cause's cumulative incidence with Gray's test per cause, and its figures
        (:mod:`cohortpress.kit.cumulative_incidence`)."""
        from cohortpress.kit import cumulative_incidence as cif

        grouped = self.groups.codes >= 0
        rows = [cif.RowSpec(level, level, self.groups.codes == i)
                for i, level in enumerate(self.groups.levels)]
        if self.groups.variable is None:
            rows = [cif.RowSpec("All patients", None, grouped)]
        elif self.options.overall and len(rows) > 1:
            rows.append(cif.RowSpec("Overall", None, grouped))
        rows = release.with_released(rows, endpoint, self.release)
        formats = cif.Formats(self.format_estimate,
                              lambda t: fmt_num(t, self.options.time_digits),
                              self.context.format_p)
        records, warnings, fits = cif.cif_records(name, endpoint, rows, self.by,
                                                  self.landmarks, self.options.conf_level,
                                                  formats, self.release)
        self.results += records + entry_records("cuminc", endpoint,
                                                entry_label(self.cohort, endpoint))
        self.warnings += warnings
        for row in rows:
            if not row.mask.any():
                self.empty_group_record("cuminc", name, row.label)
        present = [r for r in rows if r.group_level is not None and r.mask.any()]
        tested = self.show_p and len(present) >= 2 and endpoint.entry is None
        if self.show_p and len(present) >= 2 and not tested:
            self.warnings.append(f"{endpoint.label}: {GRAY_REFUSED}.")
        if tested:
            records, warnings = cif.gray_records(name, endpoint, self.groups.codes, self.by,
                                                 formats)
            self.results += records
            self.warnings += warnings
        sentence = cif.method_sentence(self.options.conf_level, tested, endpoint.entry is not None)
        if sentence not in self.methods:
            self.methods.append(sentence)
        if self.options.figure:
            drawn = [r for r in rows if r.mask.any() and not r.withheld
                     and (r.group_level is not None or self.groups.variable is None)]
            gray_p = {code: r.formatted for r in self.results for code, _ in endpoint.causes
                      if r.variable == name and r.stat_name == "p.value"
                      and r.context == cif.cause_context(code)}
            risk_times = self.risk_times(endpoint) if self.options.risk_table else None
            figures, records = cif.cif_figures(name, endpoint, drawn, fits, gray_p,
                                               cif.FigureLayout(
                group_label=self.groups.label if self.groups.variable else None,
                xlabel=self.options.xlabel or f"Time ({endpoint.unit})",
                xmax=self.options.xmax, width_mm=self.options.width_mm,
                risk_times=risk_times, stacked=self.options.cif_causes == "stacked",
                caption=self.options.figure_captions.get(name), by=self.by,
                style=self.context.style,
                entry_note=figure_note(endpoint, entry_label(self.cohort, endpoint)),
                note=release.figure_note(self.release, self.results, name),
                release=self.release))
            self.figures += figures
            self.results += records

    # ------------------------------------------------------------------ figures

    def km_figure(self, name, endpoint, curves, risk_times=None) -> Figure:
        from cohortpress.kit.figures import km_curve, step_figure
        from cohortpress.kit.risk_table import risk_rows_from_records, risk_table_records

        event = self.options.fun == "event"
        drawn = [km_curve(label, fit, self.options.fun, self.risk.get(label))
                 for label, fit in curves]
        annotation = ""
        if self.show_p:
            p = next((r.formatted for r in self.results if r.context == "survdiff"
                      and r.variable == name and r.stat_name == "p.value"), None)
            if p:
                annotation = f"Log-rank p {p if p[0] in '<>' else '= ' + p}"
        risk_times = self.risk_times(endpoint) if risk_times is None else risk_times
        if self.options.risk_table:
            self.results += release.release_curve_counts(risk_table_records(
                name, curves, drawn, risk_times,
                self.by if self.groups.variable is not None else None), self.release)
        if event:
            self.results.append(Result("survfit", "figure.fun", "event", variable=name))
        png = step_figure(drawn, xlabel=self.options.xlabel or f"Time ({endpoint.unit})",
                          ylabel="Cumulative events (%)" if event else f"{endpoint.label} (%)",
                          xmax=self.options.xmax, annotation=annotation,
                          risk_times=risk_times if self.options.risk_table else None,
                          risk_rows=risk_rows_from_records(self.results, name,
                                                           self.options.risk_table_rows)
                          if self.options.risk_table else None,
                          ci_bands=self.options.ci_bands, style=self.context.style,
                          median_line=self.options.median_line, width_mm=self.options.width_mm,
                          legend_loc="best")
        what = "cumulative events (1 \u2212 Kaplan\u2013Meier)" if event else \
            "Kaplan\u2013Meier estimates"
        caption = self.options.figure_captions.get(
            name, f"{what[0].upper()}{what[1:]} of {in_sentence(endpoint.label)}"
                  f"{' by ' + in_sentence(self.groups.label) if self.groups.variable else ''}.")
        alt = (f"{'Cumulative event' if event else 'Kaplan-Meier'} curves of {endpoint.label} "
               f"over {endpoint.unit}"
               f"{' for ' + ', '.join(l for l, _ in curves) if len(curves) > 1 else ''}"
               f"{'; ' + annotation if annotation else ''}.")
        caption += figure_note(endpoint, entry_label(self.cohort, endpoint))
        caption += release.figure_note(self.release, self.results, name)
        return Figure(png, caption, alt, width_mm=self.options.width_mm, name=name)

    def risk_times(self, endpoint, longest: float | None = None) -> list[float]:
        """The risk table's times: stated, or evenly spaced to ``xmax`` or the longest
        follow-up (``longest``, or the last of the endpoint's times)."""
        from cohortpress.kit.risk_table import default_risk_times

        if self.options.risk_times is not None:
            return list(self.options.risk_times)
        return default_risk_times(endpoint.time if longest is None else np.array([longest]),
                                  self.options.xmax)

    # ------------------------------------------------------------------ text

    def method_sentences(self) -> list[str]:
        entry = [s for s in (entry_sentence(self.results, c) for c in ("survfit", "cuminc")) if s]
        if not self.km_endpoints:
            return list(self.methods) + entry
        options = self.options
        sentences = [f"Survival was estimated with the Kaplan\u2013Meier method, with "
                     f"Greenwood standard errors and {percent_text(options.conf_level)} "
                     f"confidence intervals on the {CONF_TYPE_TEXT[options.conf_type]}."
                     if options.weights is None else weighted_sentence(options, self.cohort)]
        sentences += endpoint_sentences([self.cohort.endpoint(n) for n in options.endpoints])
        strata = self.cohort.variable(options.strata).label if options.strata else None
        test = logrank_phrase(options.test, strata, options.rho, options.gamma)
        if self.test_method:
            sentences.append(f"Groups were compared with {test}.")
        if any(r.context == "survdiff.pairwise" for r in self.results):
            pairs = logrank_phrase("logrank", strata, options.rho, options.gamma)
            sentences.append(f"Pairs of groups were compared with {pairs}, with "
                             f"{PAIRWISE_ADJUST[options.adjust]} for multiple comparisons.")
        if options.followup:
            since = " from entry" if any(r.stat_name == "origin" for r in self.results) else ""
            sentences.append(f"Median follow-up{since} was estimated by the reverse "
                             f"Kaplan\u2013Meier method.")
        if self.streamed:
            sentences.append(streamed_sentence(self.streamed))
        return sentences + self.methods + rmst.rmst_methods(self.results) + entry


def run(cohort, options: SurvivalOptions, context: SectionContext):
    section = _SurvivalSection(cohort, options, context)
    for name in options.endpoints:
        section.add_endpoint(name)
    section.results = release.release_curve_counts(section.results, section.release)
    blocks = [*tables_from_records(section.results, options, context), *section.figures]
    return context.section(blocks=blocks, results=section.results,
                           methods=section.method_sentences() + ([section.release.methods()]
                                                                 if section.release else []),
                           warnings=tuple(section.warnings),
                           abbreviations=(("CI", "confidence interval"),
                                          ("SE", "standard error")))


def tables_from_records(results: Sequence[Result], options: SurvivalOptions,
                        context: SectionContext) -> tuple[Table, ...]:
    """The section's tables from its records alone; ``options`` gives only the layout
    (caption, landmark columns, CI or SE, the median and p-value columns, digits)."""
    return survival_tables(results, SurvivalLayout(
        caption=options.caption, landmarks=tuple(sorted(set(options.landmarks))),
        estimate=options.estimate, median=options.median, test=options.test != "none",
        time_digits=options.time_digits)) + rmst.rmst_tables(results, options.time_digits)


@hookimpl
def cohortpress_analyses():
    return [Analysis("survival", run, SurvivalOptions,
                     "Kaplan\u2013Meier, log-rank, landmarks, median follow-up, competing risks",
                     aggregates=survival_aggregates)]
