"""The pandas reader and the DuckDB source side by side: wall time and peak memory of
loading the benchmark cohort (reading, typing, deriving, filtering, endpoints).

    python benchmarks/duckdb_source.py [--size 1e6] [--repeat 3] [--build]

The seeded synthetic cohort of ``benchmarks/generate.py`` (Parquet, into
``benchmarks/data/``, git-ignored, reused when present) is loaded in a fresh Python process
per case, ``--repeat`` times (the run with the median time is shown):

- ``pandas``: ``engine = "pandas"`` (``pandas.read_parquet`` of the used columns);
- ``duckdb``: ``engine = "duckdb"`` (the same columns selected by DuckDB);
- ``pandas, filter`` and ``duckdb, filter``: with ``cohort.filter = [{ variable = "arm",
  eq = "Standard" }]``, which DuckDB runs in the engine (only half the rows leave it).

Peak memory is the process's ``ru_maxrss`` as the parent reads it from ``wait4`` (the
process tree is one process while loading). Each child also checks that both engines give
the same cohort: it prints the number of patients and a digest of the typed data, and the
parent says whether they agree. ``--build`` times the whole report (``cohortpress build``,
PDF included) instead of the loading alone; peak memory is then that of the largest process
of the build (the PDF is rendered in a second one).

The figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate  # noqa: E402  (the sibling module)

FILTER = 'filter = [{ variable = "arm", eq = "Standard" }]\n'
CASES = {"pandas": ('engine = "pandas"\n', ""), "duckdb": ('engine = "duckdb"\n', ""),
         "pandas, filter": ('engine = "pandas"\n', FILTER),
         "duckdb, filter": ('engine = "duckdb"\n', FILTER)}

CHILD = """
import hashlib, json, sys, time
import pandas as pd
started = time.perf_counter()
from cohortpress.app.load import load_cohort
from cohortpress.app.plan import plan_build
cohort = load_cohort(plan_build(sys.argv[1]))
seconds = time.perf_counter() - started
digest = hashlib.sha256(pd.util.hash_pandas_object(
    cohort.data[sorted(cohort.data.columns)], index=False).to_numpy().tobytes()).hexdigest()
print(json.dumps({"seconds": seconds, "n": cohort.n, "digest": digest[:16]}))
"""


def case_config(folder: Path, name: str) -> Path:
    """The generated report.toml with the case's engine and filter in ``[cohort]``."""
    engine, extra = CASES[name]
    text = (folder / "report-parquet.toml").read_text(encoding="utf-8")
    text = text.replace('path = "cohort.parquet"\n', f'path = "cohort.parquet"\n{engine}{extra}')
    path = folder / f"bench-{name.replace(', ', '-')}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def measure(config: Path, build: bool) -> dict:
    """One run in a fresh process (a fresh grandchild, so that ru_maxrss is its own)."""
    if build:
        with tempfile.TemporaryDirectory() as out:
            command = [sys.executable, "-m", "cohortpress", "build", str(config), "-o", out,
                       "-q"]
            wall, peak, _ = _isolated(command)
        return {"wall": wall, "peak_mb": peak}
    wall, peak, out = _isolated([sys.executable, "-c", CHILD, str(config)])
    found = json.loads(out.strip().splitlines()[-1])
    return {"wall": wall, "peak_mb": peak, **found}


def _isolated(command: list[str]) -> tuple[float, float, str]:
    """Run ``command`` under a helper process whose RUSAGE_CHILDREN is the command's alone."""
    helper = ("import json, resource, subprocess, sys, time\n"
              "t = time.perf_counter()\n"
              "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
              "w = time.perf_counter() - t\n"
              "print(json.dumps({'code': p.returncode, 'wall': w, 'out': p.stdout, "
              "'err': p.stderr[-2000:], 'peak': resource.getrusage("
              "resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n")
    result = subprocess.run([sys.executable, "-c", helper, *command], capture_output=True,
                            text=True, check=True)
    found = json.loads(result.stdout)
    if found["code"] != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{found['err']}")
    return found["wall"], found["peak"], found["out"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1e6", help="patients (default 1e6)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--build", action="store_true",
                        help="time the whole report, not only loading the cohort")
    parser.add_argument("--output", type=Path, default=generate.DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    n = generate.parse_size(args.size)
    folder = generate.ensure_cohort(n, args.output, formats=("parquet",), quiet=True)
    what = "whole report" if args.build else "loading the cohort"
    print(f"{n:,} patients, Parquet ({(folder / 'cohort.parquet').stat().st_size / 2**20:.1f}"
          f" MB); {what}; median of {args.repeat} runs in fresh processes")
    print(f"{'case':<16} {'wall s':>8} {'peak RSS MB':>12} {'patients':>10}  digest")
    rows = {}
    for name in CASES:
        config = case_config(folder, name)
        runs = sorted((measure(config, args.build) for _ in range(args.repeat)),
                      key=lambda r: r["wall"])
        median = runs[len(runs) // 2]
        rows[name] = median
        print(f"{name:<16} {median['wall']:>8.2f} {median['peak_mb']:>12.0f} "
              f"{median.get('n', ''):>10}  {median.get('digest', '')}", flush=True)
    if not args.build:
        for a, b in (("pandas", "duckdb"), ("pandas, filter", "duckdb, filter")):
            same = rows[a]["digest"] == rows[b]["digest"] and rows[a]["n"] == rows[b]["n"]
            print(f"{a} and {b}: {'the same cohort' if same else 'DIFFERENT cohorts'}")
    print(f"load average now: {', '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"(on {os.cpu_count()} CPUs; a busy machine makes every figure larger)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
