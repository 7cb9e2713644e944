"""Event rates per person-time with exact Poisson confidence intervals.

For ``d`` events over person-time ``T`` the rate is ``d / T``; the exact (Garwood) 95%
interval is ``[chi2(0.025; 2d) / 2, chi2(0.975; 2d + 2) / 2] / T``, with the lower bound 0
when ``d = 0``.
"""

from __future__ import annotations

from cohortpress import (Analysis, EndpointName, Options, Result, Row, SectionContext, Table,
                         Variable, hookimpl)

__version__ = "1.0.0"


class RateOptions(Options):
    endpoint: EndpointName
    by: Variable | None = None
    per: float = 100.0
    conf_level: float = 0.95


def poisson_rate(events: int, person_time: float, conf_level: float = 0.95):
    """Rate and exact Garwood confidence interval for ``events`` over ``person_time``."""
    from scipy.stats import chi2

    alpha = 1.0 - conf_level
    low = 0.0 if events == 0 else chi2.ppf(alpha / 2, 2 * events) / 2
    high = chi2.ppf(1 - alpha / 2, 2 * events + 2) / 2
    return events / person_time, low / person_time, high / person_time


def run(cohort, options: RateOptions, context: SectionContext):
    from cohortpress.kit import fmt_num

    endpoint = cohort.endpoint(options.endpoint)
    groups = [("Overall", slice(None))]
    if options.by:
        values = cohort.values(options.by).astype(object).to_numpy()
        groups += [(level, values == level) for level in cohort.variable(options.by).levels]
    unit = endpoint.unit.rstrip("s")
    header = (Row.of("", "Events", f"Person-{unit}s",
                     f"Rate per {options.per:g} person-{unit}s ({options.conf_level:.0%} CI)"),)
    body, results = [], []
    for level, mask in groups:
        events = int(endpoint.event[mask].sum())
        person_time = float(endpoint.time[mask].sum())
        rate, low, high = poisson_rate(events, person_time, options.conf_level)
        scale = options.per
        body.append(Row.of(level, events, fmt_num(person_time, 1),
                           f"{fmt_num(rate * scale, 2)} ({fmt_num(low * scale, 2)}\u2013"
                           f"{fmt_num(high * scale, 2)})"))
        group = None if level == "Overall" else options.by
        glevel = None if level == "Overall" else level
        for name, value in (("n.event", events), ("person.time", person_time),
                            ("rate", rate), ("conf.low", low), ("conf.high", high)):
            results.append(Result("rate", name, value, variable=options.endpoint,
                                  group=group, group_level=glevel))
    table = Table(f"{endpoint.label}: event rates.", header, tuple(body))
    methods = (f"Event rates per {options.per:g} person-{unit}s are given with exact Poisson "
               f"confidence intervals.",)
    return context.section(blocks=[table], results=results, methods=methods)


@hookimpl
def cohortpress_analyses():
    return [Analysis("event_rates", run, RateOptions,
                     "Event rates per person-time with exact Poisson CIs")]
