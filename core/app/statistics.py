"""Where a build computes its statistics: ``cohort.statistics`` (auto | rows | engine).

``rows``: the patients' rows in memory. ``engine``: aggregates the SQL engine computes
(:mod:`cohortpress.data.engine`); every section's analysis must say it can, with these
options (``Analysis.aggregates``), else one error names the section and the option.
``auto``: the engine for a source DuckDB reads with more than :data:`AUTO_ENGINE_ROWS`
rows when every section can, else the rows; the progress line says which and why.
"""

from __future__ import annotations

from cohortpress.app.plan import Plan, PlannedSection
from cohortpress.common.errors import ConfigError
from cohortpress.common.progress import Progress

#: ``auto`` computes from aggregates above this many rows: below it the rows fit in memory
#: easily and the in-memory path (every option available) is as fast.
AUTO_ENGINE_ROWS = 2_000_000


def refusal(planned: PlannedSection) -> str | None:
    """Why the section's analysis needs the rows (None when it computes from aggregates)."""
    aggregates = planned.analysis.aggregates
    if aggregates is None:
        return f"the analysis '{planned.analysis.name}' has no engine path yet"
    return aggregates(planned.options)


def cohort_refusal(config) -> tuple[str, str] | None:
    """``(key, why)`` when the cohort itself needs the rows: a long-format cohort, or an
    endpoint with delayed entry."""
    if config.cohort.rows == "intervals":
        return "cohort.rows", "a long-format cohort (rows = \"intervals\") needs the rows"
    for name, endpoint in config.endpoints.items():
        if endpoint.entry:
            return f"endpoints.{name}.entry", "delayed entry needs the rows"
    return None


def section_key(planned: PlannedSection) -> str:
    return f"section[{planned.index}]"


def engine_wanted(plan: Plan, count, progress: Progress) -> bool:
    """Whether the build computes from aggregates; ``count()`` gives the source's rows
    (asked only for ``auto``). ConfigError when ``engine`` is asked for and a section
    needs the rows."""
    config = plan.config
    # Spark computes from aggregates only (the schema refuses statistics = "rows" with it).
    choice = "engine" if config.cohort.engine == "spark" else config.cohort.statistics
    if choice == "rows":
        return False
    needs_rows = cohort_refusal(config)
    if needs_rows is not None:
        key, why = needs_rows
        if choice == "engine":
            raise ConfigError(f"cohort.statistics = \"engine\": {why}; set "
                              f"cohort.statistics = \"rows\" (or \"auto\")",
                              file=str(config.source), key=key)
        return False
    refusals = [(p, why) for p in plan.sections if (why := refusal(p)) is not None]
    if choice == "engine":
        if refusals:
            planned, why = refusals[0]
            raise ConfigError(f"cohort.statistics = \"engine\": {why}; set "
                              f"cohort.statistics = \"rows\" (or \"auto\")",
                              file=str(config.source), key=section_key(planned))
        return True
    rows = count()
    if rows <= AUTO_ENGINE_ROWS:
        return False
    if refusals:
        planned, why = refusals[0]
        progress.say(f"statistics from the rows in memory ({rows:,} rows): "
                     f"{section_key(planned)} needs them ({why})")
        return False
    progress.say(f"statistics from aggregates in the engine ({rows:,} rows, more than "
                 f"{AUTO_ENGINE_ROWS:,})")
    return True
