"""A test analysis with an engine path: events and person-time per group.

On the rows it sums the endpoint's arrays; on the engine (``aggregates`` says it can) it
asks the view for the same sums, one row per group. tests/test_engine_build.py builds
reports with it both ways and compares the numbers.
"""

from cohortpress import Analysis, EndpointName, Options, Result, Row, Table, Variable, hookimpl


class RateOptions(Options):
    endpoint: EndpointName
    by: Variable | None = None
    needs_rows: bool = False


def aggregates(options):
    return "needs_rows = true needs the rows" if options.needs_rows else None


def sums(cohort, endpoint_name, by):
    """``[(level, events, person-time)]``: overall, then per level of ``by``."""
    endpoint = cohort.endpoint(endpoint_name)
    if getattr(cohort, "engine", False):
        event = f"CASE WHEN {endpoint.status} = 1 THEN 1 ELSE 0 END"
        total = cohort.query(f"SELECT sum({event}) AS d, sum({endpoint.time}) AS t "
                             f"FROM {{cohort}}")
        out = [("Overall", int(total["d"].iloc[0]), float(total["t"].iloc[0]))]
        if by:
            column = cohort.column(by)
            rows = cohort.query(f"SELECT {column} AS code, sum({event}) AS d, "
                                f"sum({endpoint.time}) AS t FROM {{cohort}} "
                                f"WHERE {column} IS NOT NULL GROUP BY {column}")
            found = {int(c): (int(d), float(t)) for c, d, t in zip(rows["code"], rows["d"],
                                                                  rows["t"])}
            for code, level in enumerate(cohort.variable(by).levels):
                d, t = found.get(code, (0, 0.0))
                out.append((level, d, t))
        return out
    out = [("Overall", int(endpoint.event.sum()), float(endpoint.time.sum()))]
    if by:
        values = cohort.values(by).astype(object).to_numpy()
        for level in cohort.variable(by).levels:
            mask = values == level
            out.append((level, int(endpoint.event[mask].sum()), float(endpoint.time[mask].sum())))
    return out


def run(cohort, options, context):
    body, results = [], []
    for level, events, person_time in sums(cohort, options.endpoint, options.by):
        body.append(Row.of(level, events, f"{person_time:.1f}"))
        for name, value in (("n.event", events), ("person.time", person_time)):
            results.append(Result("rate", name, value, variable=options.endpoint,
                                  group=None if level == "Overall" else options.by,
                                  group_level=None if level == "Overall" else level))
    table = Table("Events and person-time.", (Row.of("", "Events", "Person-time"),),
                  tuple(body))
    return context.section(blocks=[table], results=results)


@hookimpl
def cohortpress_analyses():
    return [Analysis("engine_rates", run, RateOptions, "Events and person-time",
                     aggregates=aggregates)]
