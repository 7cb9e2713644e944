"""Profile one stage of a benchmark build with cProfile (in the main thread).

    python benchmarks/profile_stage.py --size 1e6 --stage load|table1|survival|cox|render|all
                                 [--format parquet|csv] [--times days|exact] [--top 30]
    python benchmarks/profile_stage.py --config sample_reports/.../report.toml --stage render

A section's id names its stage. ``--queries`` also times every engine query (CPU seconds of
the process, the engine's threads included) and lists them, the costliest first. ``PRELOAD=scipy.stats,matplotlib.pyplot`` imports those
first, so that a profile shows the work rather than the imports.

The build runs analyses in a worker thread (for the section timeout), which cProfile does
not see; here each stage is called directly instead. The cohort must exist (generate it
with ``benchmarks/generate.py`` or a ``run.py`` run). Prints the functions with the most
cumulative and own time, and writes the raw profile to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1e6")
    parser.add_argument("--stage", default="all")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--times", choices=("days", "exact"), default="days")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--config", type=Path, help="profile this config instead of a "
                        "benchmark cohort (e.g. a sample report)")
    parser.add_argument("--queries", action="store_true",
                        help="time each engine query and list them (engine path)")
    args = parser.parse_args(argv)
    n = generate.parse_size(args.size)
    if args.config:
        config = args.config
    else:
        folder = generate.ensure_cohort(n, formats=(args.format,), times=args.times)
        config = folder / f"report-{args.format}.toml"

    from cohortpress.app.load import load_cohort
    from cohortpress.app.plan import plan_build
    from cohortpress.app.run import run_section
    from cohortpress.common.progress import Progress
    if os.environ.get("PRELOAD"):  # import heavy libraries first, to profile the work alone
        for module in os.environ["PRELOAD"].split(","):
            __import__(module)

    queries = timed_queries() if args.queries else None
    plan = plan_build(config)
    profiler = cProfile.Profile()

    def stage(name, function, *a):
        wanted = args.stage in ("all", name)
        started, cpu = time.perf_counter(), time.process_time()
        if wanted:
            profiler.enable()
        try:
            return function(*a)
        finally:
            if wanted:
                profiler.disable()
            print(f"{name}: {time.perf_counter() - started:.2f} s wall, "
                  f"{time.process_time() - cpu:.2f} s CPU", file=sys.stderr)

    cohort = stage("load", load_cohort, plan, Progress(quiet=True))
    from cohortpress.api.sections import SectionContext

    sections = []
    for planned in plan.sections:
        context = SectionContext(id=planned.head.id, title=planned.head.title,
                                 p_digits=plan.config.report.p_digits,
                                 percent_digits=plan.config.report.percent_digits,
                                 config_dir=str(plan.config.folder))
        sections.append(stage(planned.head.id, planned.analysis.run, cohort, planned.options,
                              context))
    if args.stage in ("all", "render"):
        from cohortpress.render.weasy import write_pdf
        from cohortpress.render.context import render_report

        html, settings = stage("render", render_report, plan, cohort, sections)
        out = HERE / "results" / "profile.pdf"
        out.parent.mkdir(parents=True, exist_ok=True)
        stage("render", write_pdf, html, out, settings)
    label = Path(config).parent.name if args.config else f"n{generate.size_name(n)}"
    target = HERE / "results" / f"profile-{args.stage}-{label}.prof"
    target.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(target))
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    print(f"profile: {target}", file=sys.stderr)
    if queries is not None:
        print(f"{len(queries)} engine queries, {sum(q[0] for q in queries):.2f} s CPU")
        for cpu, wall, rows, sql in sorted(queries, reverse=True):
            print(f"{cpu:7.2f} s CPU {wall:7.2f} s wall {rows:>8} rows  {sql[:160]}")
    return 0


def timed_queries() -> list[tuple[float, float, int, str]]:
    """Time every query of the engine backends from now on: ``(cpu, wall, rows, sql)``."""
    from cohortpress.data.engine import backend

    found: list[tuple[float, float, int, str]] = []
    for kind in backend.BACKENDS.values():
        if isinstance(kind, str):
            continue
        for method in ("query", "query_columns"):
            original = getattr(kind, method)

            def timed(self, sql, original=original):
                cpu, wall = time.process_time(), time.perf_counter()
                answer = original(self, sql)
                rows = len(answer) if not isinstance(answer, dict) else (
                    len(next(iter(answer.values()))) if answer else 0)
                found.append((time.process_time() - cpu, time.perf_counter() - wall, rows,
                              " ".join(sql.split())))
                return answer

            setattr(kind, method, timed)
    return found


if __name__ == "__main__":
    sys.exit(main())
