"""Built-in analysis ``overview``: the cohort at a glance.

Patients in total and per group, and for each endpoint the number of events and the range
of follow-up. Small on purpose: it proves the path from config to PDF end to end. The
numbers are computed as results records first; the table is rendered from those records
alone (:func:`tables_from_records`).

The records are a function of the group sizes and, per endpoint and group, the events and
the extremes of follow-up (:class:`~cohortpress.kit.engine_overview.FollowUp`): computed
from the rows in memory, asked of the engine on the engine path
(:func:`~cohortpress.kit.engine_overview.engine_overview`, one query); no option needs
the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field

from cohortpress import hookimpl
from cohortpress.api.blocks import Footnote, Row, Table
from cohortpress.api.options import EndpointName, Options, Variable
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext
from cohortpress.common.formatting import fmt_n_percent, fmt_num, in_sentence
from cohortpress.data.grouping import Grouping, empty_group_warnings, group_cohort
from cohortpress.kit.disclosure import count_text, release_records
from cohortpress.kit.engine_grouping import grouping_of
from cohortpress.kit.engine_overview import FollowUp, engine_overview
from cohortpress.kit.records import Records


class OverviewOptions(Options):
    by: Variable | None = Field(None, description="the grouping variable; default: "
                               "cohort.group", examples=["diagnosis"])
    endpoints: list[EndpointName] = Field([], description="endpoints whose events and range "
                                          "of follow-up are shown", examples=[["os"]])
    caption: str = Field("The cohort at a glance.", description="the table's caption",
                         examples=["Patients and follow-up."])

    def check_data(self, cohort) -> list[str]:
        """The grouping must be categorical (the run's line); a group with no patients is a
        warning."""
        by = self.by or cohort.group
        return empty_group_warnings(grouping_of(cohort, by)) if by else []


def run(cohort, options: OverviewOptions, context: SectionContext):
    results = release_records(overview_records(cohort, options), context.disclosure)
    tables = tables_from_records(results, layout(cohort, options, context))
    return context.section(blocks=tables, results=results)


# --------------------------------------------------------------------------- the records


def overview_records(cohort, options: OverviewOptions) -> list[Result]:
    """The section's records, all in context ``overview``.

    ``N`` overall and per group (``group`` the by-variable); ``N_unknown`` of the
    by-variable (patients in no group; not ``N_miss``, which the methods paragraph
    reports as missing data of the variables compared); per endpoint (``variable``),
    ``n.event``, ``min`` and ``max`` of the follow-up time (from entry, for an endpoint with
    delayed entry) overall and per group
    (``min``/``max`` only for a group with patients); ``N_filter_unknown`` per variable
    ``cohort.filter`` compares (the patients it removed for an unknown value).
    """
    by = options.by or cohort.group
    results = [Result("overview", "N", cohort.n)]
    results += [Result("overview", "N_filter_unknown", n, variable=name)
                for name, n in cohort.filter_unknown if n > 0]
    if getattr(cohort, "engine", False):
        grouping, follow_up = engine_overview(cohort, options.endpoints, by)
    else:
        grouping = group_cohort(cohort, by) if by else None  # refuses one not categorical
        follow_up = _follow_up(cohort, options, grouping)
    if grouping is not None:
        results += [Result("overview", "N", n, group=by, group_level=g)
                    for g, n in zip(grouping.levels, grouping.sizes)]
        results.append(Result("overview", "N_unknown", grouping.n_missing, variable=by))
    for name in options.endpoints:
        results += _endpoint_records(name, by, follow_up[name])
    return results


def _follow_up(cohort, options: OverviewOptions,
               grouping: Grouping | None) -> dict[str, dict[str | None, FollowUp]]:
    """Per endpoint, its :class:`FollowUp` overall (key ``None``) and per group, from the
    rows (follow-up from entry for an endpoint with delayed entry); the engine path asks
    the same of the engine (:func:`~cohortpress.kit.engine_overview.engine_overview`)."""
    levels = list(grouping.levels) if grouping is not None else []
    found = {}
    for name in options.endpoints:
        ep = cohort.endpoint(name)
        entry = getattr(ep, "entry", None)  # delayed entry: follow-up counts from entry
        followup = ep.time if entry is None else ep.time - entry
        found[name] = {None: _rows_follow_up(ep.event, followup)}
        for j, level in enumerate(levels):
            mask = grouping.mask(j)
            found[name][level] = _rows_follow_up(ep.event[mask], followup[mask])
    return found


def _rows_follow_up(event: np.ndarray, followup: np.ndarray) -> FollowUp:
    """The :class:`FollowUp` of some patients' event indicators and follow-up times."""
    if not len(followup):
        return FollowUp(int(event.sum()), None, None)
    return FollowUp(int(event.sum()), float(np.min(followup)), float(np.max(followup)))


def _endpoint_records(name: str, by: str | None,
                      follow_up: dict[str | None, FollowUp]) -> list[Result]:
    """``n.event``, ``min`` and ``max`` of one endpoint, overall then per group (no
    ``min``/``max`` for a group without patients)."""
    results = []
    for level, found in follow_up.items():
        where = dict(variable=name, group=by if level is not None else None,
                     group_level=level)
        results.append(Result("overview", "n.event", found.events, **where))
        if found.shortest is not None or level is None:
            results.append(Result("overview", "min", found.shortest, **where))
            results.append(Result("overview", "max", found.longest, **where))
    return results


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class OverviewLayout:
    """The table's labels and choices (no count): the by-variable and its label, the
    endpoints with their labels and time units, the caption, the filter's description."""

    by: str | None
    by_label: str
    endpoints: tuple[tuple[str, str, str], ...]  # (name, label, unit)
    caption: str
    percent_digits: int
    filter_text: str = ""
    variable_labels: tuple[tuple[str, str], ...] = ()  # of the variables the filter tests


def layout(cohort, options: OverviewOptions, context: SectionContext) -> OverviewLayout:
    """The layout from the config: labels of the by-variable and of the endpoints."""
    by = options.by or cohort.group
    endpoints = tuple((name, cohort.endpoint(name).label, cohort.endpoint(name).unit)
                      for name in options.endpoints)
    return OverviewLayout(by=by or None, by_label=cohort.variable(by).label if by else "",
                          endpoints=endpoints, caption=options.caption,
                          percent_digits=context.percent_digits,
                          filter_text=cohort.filter_text or "",
                          variable_labels=tuple((name, cohort.variable(name).label)
                                                for name, _ in cohort.filter_unknown))


def tables_from_records(results, table_layout: OverviewLayout) -> list[Table]:
    """The overview table, from the section's results records alone."""
    records = Records(results)
    by = table_layout.by
    groups = records.distinct("group_level", context="overview", stat_name="N",
                              variable=None, group=by) if by else []
    columns = [None, *groups]

    def stat(stat_name, variable, level):
        return records.stat(context="overview", stat_name=stat_name, variable=variable,
                            group=by if level is not None else None, group_level=level)

    def text(stat_name, variable, level) -> str:
        record = records.one(context="overview", stat_name=stat_name, variable=variable,
                             group=by if level is not None else None, group_level=level)
        return count_text(record.stat, record.formatted)

    sizes = [stat("N", None, g) for g in columns]
    body = [Row.of("Patients, n", *[text("N", None, g) for g in columns])]
    unknown = records.one(context="overview", stat_name="N_unknown", variable=by)
    if by and unknown is not None and unknown.stat != 0:  # None: hidden, not zero
        body.append(Row.of(f"{table_layout.by_label} unknown, n",
                           count_text(unknown.stat, unknown.formatted)))
    for name, label, unit in table_layout.endpoints:
        body.append(Row.of(label, role="group"))
        body.append(Row.of("Events, n (%)", *[
            fmt_n_percent(stat("n.event", name, g), n, table_layout.percent_digits)
            if stat("n.event", name, g) is not None and n is not None
            else text("n.event", name, g)
            for g, n in zip(columns, sizes)], indent=1))
        body.append(Row.of(f"Follow-up range ({unit})", *[
            _range(stat("min", name, g), stat("max", name, g)) for g in columns], indent=1))
    notes = []
    if table_layout.filter_text:
        notes.append(Footnote(f"Restricted to patients with {table_layout.filter_text}"
                              f"{_filter_unknown_clause(records, table_layout)}."))
    notes += [Footnote(f"{g}: no patients in this subset.") for g, n in zip(groups, sizes[1:])
              if n == 0]
    return [Table(table_layout.caption, (Row.of("", "Overall", *groups),), tuple(body),
                  tuple(notes))]


def _filter_unknown_clause(records: Records, table_layout: OverviewLayout) -> str:
    """``; the filter also removed 8 patients with unknown stage``, from the records."""
    labels = dict(table_layout.variable_labels)
    parts = [f"{count_text(r.stat, r.formatted)} patient{'s' if r.stat != 1 else ''} with "
             f"unknown "
             f"{in_sentence(labels.get(r.variable, r.variable))}"
             for r in records.select(context="overview", stat_name="N_filter_unknown")]
    return f"; the filter also removed {' and '.join(parts)}" if parts else ""


def _range(low, high) -> str:
    if low is None:
        return "\u2013"
    return f"{fmt_num(low, 1)}\u2013{fmt_num(high, 1)}"


@hookimpl
def cohortpress_analyses():
    return [Analysis("overview", run, OverviewOptions,
                     "The cohort at a glance: patients per group, events, follow-up range",
                     aggregates=aggregates_refusal)]


def aggregates_refusal(options: OverviewOptions) -> str | None:
    """Every option of the overview computes from aggregates: none needs the rows."""
    return None
