"""Built-in analysis ``overview``: the cohort at a glance.

Patients in total and per group, and for each endpoint the number of events and the range
of follow-up. Small on purpose: it proves the path from config to PDF end to end.
"""

from __future__ import annotations

from cohortpress import hookimpl
from cohortpress.api.options import EndpointName, Options, Variable
from cohortpress.api.blocks import Footnote, Row, Table
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext


class OverviewOptions(Options):
    by: Variable | None = None
    endpoints: list[EndpointName] = []
    caption: str = "The cohort at a glance."


def run(cohort, options: OverviewOptions, context: SectionContext):
    import numpy as np

    from cohortpress.common.formatting import fmt_n_percent, fmt_num

    by = options.by or cohort.group
    groups = list(cohort.variable(by).levels) if by else []
    values = cohort.values(by).astype(object).to_numpy() if by else None
    masks = [values == g for g in groups] if by else []
    header = Row.of("", "Overall", *groups)
    header_rows = (header,)
    results = [Result("overview", "N", cohort.n)]
    body = [Row.of("Patients, n", cohort.n, *[int(m.sum()) for m in masks])]
    for g, m in zip(groups, masks):
        results.append(Result("overview", "N", int(m.sum()), group=by, group_level=g))
    if by:
        n_missing = int(cohort.values(by).isna().sum())
        if n_missing:
            body.append(Row.of(f"{cohort.variable(by).label} unknown, n", n_missing))
    for name in options.endpoints:
        ep = cohort.endpoint(name)
        body.append(Row.of(f"{ep.label}", role="group"))
        events = [int(ep.event.sum())] + [int(ep.event[m].sum()) for m in masks]
        totals = [cohort.n] + [int(m.sum()) for m in masks]
        body.append(Row.of("Events, n (%)", *[fmt_n_percent(e, t, context.percent_digits)
                                             for e, t in zip(events, totals)], indent=1))
        spans = [ep.time] + [ep.time[m] for m in masks]
        body.append(Row.of(f"Follow-up range ({ep.unit})",
                           *[f"{fmt_num(np.min(t), 1)}\u2013{fmt_num(np.max(t), 1)}" if len(t)
                             else "\u2013" for t in spans], indent=1))
        results.append(Result("overview", "n.event", events[0], variable=name))
        results.append(Result("overview", "min", float(np.min(ep.time)), variable=name))
        results.append(Result("overview", "max", float(np.max(ep.time)), variable=name))
    notes = []
    if cohort.filter_text:
        notes.append(Footnote(f"Restricted to patients with {cohort.filter_text}."))
    table = Table(options.caption, header_rows, tuple(body), tuple(notes))
    return context.section(blocks=[table], results=results)


@hookimpl
def cohortpress_analyses():
    return [Analysis("overview", run, OverviewOptions,
                     "The cohort at a glance: patients per group, events, follow-up range")]
