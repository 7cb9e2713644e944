"""Time the Cox section of the benchmark config on the engine path, DuckDB reading Parquet.

The typed view of the benchmark cohort (benchmarks/generate.py) is written here in SQL
(codes for sex, stage with its missing code 9, bulky and histology; age and bmi as they
are; overall survival in years), so that the Cox models' aggregate queries run on the file
itself: the rows are never loaded. Prints the wall and CPU time of storing the section's
rows sorted in the engine and of each query (the two preparatory passes, then one per
Newton iteration that has a model with a continuous column, shared by every model), the
total, and the models' iterations. With ``--compare`` it also runs the in-memory path on the same file (only for
sizes that fit in memory) and prints the largest relative difference of the records.

    python benchmarks/engine_cox.py benchmarks/data/n10000000/cohort.parquet [--compare]
        [--threads 2] [--memory-limit 4GB]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from cohortpress.api.sections import SectionContext
from cohortpress.data.cohort import VariableInfo
from cohortpress.data.engine.backend import BackendSpec, literal
from cohortpress.data.engine.cohort import EngineCohort, EngineEndpoint

COVARIATES = ["age", "sex", "stage", "bulky", "histology", "bmi"]
VARIABLES = {
    "age": VariableInfo("age", "Age at diagnosis", "continuous", unit="years"),
    "sex": VariableInfo("sex", "Sex", "categorical", ("Female", "Male")),
    "stage": VariableInfo("stage", "Stage", "categorical", ("I", "II", "III", "IV")),
    "bulky": VariableInfo("bulky", "Bulky disease", "binary", ("No", "Yes"), positive="Yes"),
    "histology": VariableInfo("histology", "Histology", "categorical",
                              ("Adenocarcinoma", "Squamous cell", "Large cell", "Other")),
    "bmi": VariableInfo("bmi", "Body-mass index", "continuous", unit="kg/m\u00b2"),
}
CODES = {"sex": ["F", "M"], "stage": ["I", "II", "III", "IV"], "bulky": [0, 1],
         "histology": ["adenocarcinoma", "squamous", "large cell", "other"]}


def view_sql(parquet: Path) -> str:
    """The typed view ``cohort`` over the Parquet file (layout of the engine path)."""
    columns = ['CAST(age AS DOUBLE) AS "age"', 'CAST(bmi AS DOUBLE) AS "bmi"']
    for name, values in CODES.items():
        cases = " ".join(f"WHEN {literal(v)} THEN {code}" for code, v in enumerate(values))
        columns.append(f'CAST(CASE {name} {cases} END AS INTEGER) AS "{name}"')
    columns += ['CAST(os_years AS DOUBLE) AS "os__time"',
                'CAST(os_event AS INTEGER) AS "os__status"']
    return (f"CREATE VIEW cohort AS SELECT {', '.join(columns)} "
            f"FROM read_parquet({literal(str(parquet))})")


def engine_cohort(parquet: Path, threads: int, memory_limit: str) -> EngineCohort:
    spec = BackendSpec(statements=(view_sql(parquet),),
                       options={"threads": str(threads), "memory_limit": memory_limit})
    endpoint = EngineEndpoint("os", "Overall survival", "years")
    cohort = EngineCohort(spec=spec, variables=VARIABLES, endpoints={"os": endpoint})
    n = int(cohort.query("SELECT count(*) AS n FROM {cohort}")["n"].iloc[0])
    return EngineCohort(spec=spec, variables=VARIABLES, endpoints={"os": endpoint}, n=n)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parquet", type=Path)
    parser.add_argument("--compare", action="store_true",
                        help="also run the in-memory path and compare the records")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--scans", type=int, default=None,
                        help="stop after this many Newton scans (time a few on a large file)")
    args = parser.parse_args(argv)

    from cohortpress.kit.engine_cox import engine_cox_models
    from cohortpress.plugins import cox

    cohort = engine_cohort(args.parquet, args.threads, args.memory_limit)
    options = cox.CoxOptions.model_validate(dict(endpoint="os", covariates=COVARIATES))
    timings = []
    original = EngineCohort.query

    def timed(self, sql):
        if args.scans is not None and len(timings) >= 2 + args.scans:
            raise _Enough
        started, cpu = time.perf_counter(), time.process_time()
        frame = original(self, sql)
        timings.append((time.perf_counter() - started, time.process_time() - cpu, frame.shape))
        return frame

    from cohortpress.data.engine.backend import DuckDBBackend

    stored = []
    materialise = DuckDBBackend.materialise

    def timed_store(self, sql):
        started, cpu = time.perf_counter(), time.process_time()
        relation = materialise(self, sql)
        stored.append((time.perf_counter() - started, time.process_time() - cpu))
        return relation

    EngineCohort.query = timed
    DuckDBBackend.materialise = timed_store
    started, cpu = time.perf_counter(), time.process_time()
    try:
        models, scanner = engine_cox_models(cohort, options, "separated")
    except _Enough:
        models = None
    total, total_cpu = time.perf_counter() - started, time.process_time() - cpu
    EngineCohort.query = original
    DuckDBBackend.materialise = materialise
    labels = ["counts", "moments"] + [f"scan query {i + 1}" for i in range(len(timings) - 2)]
    if models is None:
        print(f"{cohort.n:,} rows: stopped after {args.scans} scans (--scans)")
    else:
        print(f"{cohort.n:,} rows, {len(COVARIATES)} covariates, "
              f"{sum(len(b) for b in scanner.batches)} model evaluations in {scanner.scans} "
              f"scans (models per scan: {[len(b) for b in scanner.batches]}), "
              f"{scanner.queries} scan queries (models of factors alone reuse the counts)")
    print("  (wall time, and CPU time of the process: the engine's threads included)")
    for seconds, cpu in stored:
        print(f"  {'store sorted rows':<24} {seconds:7.2f} s wall {cpu:7.2f} s CPU")
    for label, (seconds, cpu, shape) in zip(labels, timings):
        print(f"  {label:<24} {seconds:7.2f} s wall {cpu:7.2f} s CPU   "
              f"result {shape[0]} x {shape[1]}")
    print(f"  total                    {total:7.2f} s wall {total_cpu:7.2f} s CPU")
    if models is None:
        return 0
    fit = models.multivariable.fit
    print(f"multivariable: {fit.iterations} iterations, loglik {fit.loglik:.6f}")
    if args.compare:
        return compare(args.parquet, cohort, options)
    return 0


class _Enough(Exception):
    """Raised by the timed query after ``--scans`` scans."""


def compare(parquet: Path, cohort, options) -> int:
    """The section in memory (the benchmark config next to the file) against the engine."""
    from cohortpress.app.load import load_cohort
    from cohortpress.app.plan import plan_build
    from cohortpress.plugins import cox

    plan = plan_build(parquet.parent / "report.toml")
    rows = load_cohort(plan)
    context = SectionContext(id="cox", title="Cox")
    started = time.perf_counter()
    expected = cox.run(rows, options, context)
    print(f"in memory: {time.perf_counter() - started:.2f} s")
    got = {(r.stat_name, r.variable, r.variable_level, r.group, r.group_level): r.stat
           for r in cox.run(cohort, options, context).results}
    worst = 0.0
    for r in expected.results:
        k = (r.stat_name, r.variable, r.variable_level, r.group, r.group_level)
        a, b = r.stat, got.get(k)
        if isinstance(a, float) and isinstance(b, float) and a and math.isfinite(a):
            worst = max(worst, abs(a - b) / abs(a))
    print(f"largest relative difference of the records: {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
