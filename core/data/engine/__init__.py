"""Statistics from aggregates: the cohort stays in an SQL engine, only small tables leave it.

At registry scale (tens of millions of rows) the cohort does not fit in memory, and the
people who hold such data often cannot move it out of their database anyway. Almost every
statistic a report prints is a function of small aggregates: counts per level and group,
sums and order statistics, events and censorings per distinct time and group, and for Cox
regression per-time sums of exp(xβ) and its products with the covariates. With
``[cohort] statistics = "engine"`` the typed cohort is an SQL view (:class:`EngineCohort`)
and the analyses that can compute from aggregates ask the engine for them.

Modules
-------
backend
    :class:`Backend`, the three things the engine path asks of an SQL engine (run a query
    whose result is small, register a small lookup table, say its dialect), and DuckDB's.
cohort
    :class:`EngineCohort` and :class:`EngineEndpoint`, what analyses receive instead of
    :class:`~cohortpress.data.cohort.Cohort`; :func:`engine_cohort_from_frame` puts an
    in-memory cohort into DuckDB (tests compare the two paths with it).

Every query is written once, in DuckDB's dialect; a backend for another engine translates
it (SQLGlot) before running it.
"""
