"""Registry-scale benchmark: the whole report at 10^6, 10^7, 10^8 rows, side by side with R.

    python benchmarks/scale.py --sizes 1e6,1e7 [--statistics rows|engine|both]
        [--times days|exact] [--sections table1,survival,cox] [--no-r] [--r-max 1e7] [--check] [--timeout 3600] [--json FILE]
    python benchmarks/scale.py --check-only RESULTS_ROWS.json RESULTS_ENGINE.json

Each size's cohort is generated once as Parquet (``benchmarks/generate.py``: seeded chunks of
10^6 rows, one Parquet row group each, so that 10^8 rows are written in the memory of one
chunk; follow-up in whole days, or continuous with ``--times exact``) into ``benchmarks/data/`` (git-ignored; about 18 MB per million rows, 1.8 GB at 10^8), plus a CSV for R
up to ``--r-max`` rows. The report is the benchmark config (``generate.REPORT_TOML``: Table 1
with its tests, Kaplan-Meier with landmarks, medians, log-rank and reverse-KM follow-up for
two endpoints with their figures, Cox with six covariates, univariable models,
likelihood-ratio refits, concordance and cox.zph; HTML, PDF, results.json and the table
exports), built by ``cohortpress build`` in a fresh process with ``[cohort] statistics``
set to ``rows`` (the in-memory path) or ``engine`` (statistics from aggregates in DuckDB).
``benchmarks/r_statistics.R`` does the same statistics with data.table and survival in the
same run, right after.

Measured from outside, for cohortpress, for R and for the generator:

- wall time of the command;
- peak memory of the whole process tree: every 100 ms the proportional set sizes (PSS,
  ``/proc/<pid>/smaps_rollup``) of the process and of all its descendants (found through
  the parent ids in ``/proc``) are summed, and the largest sum is kept (a spike shorter than
  the interval can be missed). PSS counts a page shared by forked processes once; the plain
  RSS sum, which counts it in each, is kept beside it, and so is the largest ``ru_maxrss``
  of one process (``wait4``: the child and the descendants it waited for), an exact lower
  bound;
- CPU seconds of the tree (``wait4``), the load average before and after, and the CPU time
  the rest of the machine used meanwhile (a figure taken on a busy machine says so).

The scaling exponent between consecutive sizes is ``log(t2 / t1) / log(n2 / n1)`` (1 is
linear), for the wall time, the CPU time (the one to read on a busy machine) and the peak
memory. ``--check``: when both statistics paths
ran for a size, their ``results.json`` numbers are compared record by record (relative
difference at most 1e-12, Cox and cox.zph 1e-8); when R ran, its key numbers are compared
with cohortpress's. Results go to ``benchmarks/results/scale-<time>.json`` (git-ignored).

The in-memory path is refused above ``--rows-max`` rows (default 2 x 10^7: 10^7 rows take
about 11 GB in memory, 10^8 would take the machine's memory); R above ``--r-max``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
R_SCRIPT = HERE / "r_statistics.R"
sys.path.insert(0, str(HERE))
import generate  # noqa: E402  (sibling modules)
import run as stage_bench  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_INTERVAL_S = 0.1
PARQUET_MB_PER_MILLION = 18.0
CSV_MB_PER_MILLION = 103.0
#: Relative tolerance of the engine against the in-memory path (issue 21), by record context.
TOLERANCE = 1e-12
COX_TOLERANCE = 1e-8
COX_CONTEXTS = ("coxph", "cox.zph")


# --------------------------------------------------------------------------- measuring


def _children_by_parent() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ')'.
        parent = int(stat[stat.rindex(b")") + 2:].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def tree_memory_mb(root: int) -> tuple[float, float]:
    """Proportional and resident set sizes of ``root`` and all its descendants now, in MB.

    PSS shares each page among the processes that map it, so a forked worker's
    copy-on-write pages count once; the RSS sum counts them in every process."""
    tree = _children_by_parent()
    pss = rss = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        todo += tree.get(pid, [])
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
                for line in handle:
                    if line.startswith(b"Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith(b"Pss:"):
                        pss += int(line.split()[1])
                        break
        except (OSError, IndexError, ValueError):  # ended meanwhile
            pass
    return pss * 1024 / 1e6, rss * 1024 / 1e6


def measure(command: list[str], *, timeout: float | None = None, env: dict | None = None,
            log: Path | None = None) -> dict:
    """Run ``command``; its wall time, peak tree RSS, CPU and the machine's load meanwhile."""
    load_before = os.getloadavg()[0]
    busy_before = stage_bench.machine_busy_seconds()
    output = open(log, "w") if log else subprocess.DEVNULL
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                               env=env)
    peak = peak_rss = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_rss
        while not stop.is_set():
            pss, rss = tree_memory_mb(process.pid)
            peak, peak_rss = max(peak, pss), max(peak_rss, rss)
            stop.wait(SAMPLE_INTERVAL_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timed_out = False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if timeout is not None and time.perf_counter() - started > timeout:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            timed_out = True
            break
        time.sleep(0.01)
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    if log:
        output.close()
    cpu = usage.ru_utime + usage.ru_stime
    busy_after = stage_bench.machine_busy_seconds()
    result = {"seconds": wall, "peak_tree_mb": peak, "peak_tree_rss_sum_mb": peak_rss,
              "max_process_maxrss_mb": usage.ru_maxrss * 1024 / 1e6, "cpu_seconds": cpu,
              "exit_code": os.waitstatus_to_exitcode(status), "timed_out": timed_out,
              "load_before": load_before, "load_after": os.getloadavg()[0]}
    if busy_before is not None and busy_after is not None:
        result["other_cpu_seconds"] = max(0.0, busy_after - busy_before - cpu)
    return result


# --------------------------------------------------------------------------- cohorts


#: The benchmark config's sections to build (``--sections``; None: all).
SECTIONS: list[str] | None = None
#: Follow-up of the generated cohorts: ``days`` (registries' whole days, thousands of
#: distinct times) or ``exact`` (continuous, about one distinct time per patient);
#: ``--times`` sets it.
TIMES = "days"


def cohort_folder(n: int) -> Path:
    return generate.cohort_dir(generate.DEFAULT_OUTPUT, n, TIMES)


def _label(n: int) -> str:
    return generate.size_name(n) + ("" if TIMES == "days" else f"-{TIMES}")


def ensure_data(n: int, with_csv: bool, seed: int) -> dict:
    """Generate the size's Parquet (and CSV) when missing, measured; refuse when the disk
    cannot hold it."""
    folder = cohort_folder(n)
    formats = ("parquet", "csv") if with_csv else ("parquet",)
    missing = [f for f in formats if not (folder / f"cohort.{f}").exists()]
    if not missing:
        return {"generated": False}
    need_gb = n / 1e6 * (PARQUET_MB_PER_MILLION * ("parquet" in missing)
                         + CSV_MB_PER_MILLION * ("csv" in missing)) / 1e3
    free_gb = shutil.disk_usage(generate.DEFAULT_OUTPUT.parent).free / 1e9
    if need_gb > 0.8 * free_gb:
        raise SystemExit(f"scale.py: the {generate.size_name(n)} cohort needs about "
                         f"{need_gb:.0f} GB and {free_gb:.0f} GB are free; choose smaller "
                         f"--sizes or free disk space")
    command = [sys.executable, str(HERE / "generate.py"), "--sizes", str(n), "--format",
               "both" if with_csv else "parquet", "--seed", str(seed), "--times", TIMES]
    result = measure(command)
    if result["exit_code"] != 0:
        raise SystemExit(f"scale.py: generating {n:,} rows failed (exit {result['exit_code']})")
    return {"generated": True, **result}


def write_config(n: int, statistics: str, seed: int) -> Path:
    """The benchmark config reading the Parquet file, with ``[cohort] statistics`` set."""
    folder = cohort_folder(n)
    text = generate.REPORT_TOML.format(n=n, seed=seed, cohort="cohort.parquet")
    marker = 'group = "arm"\n'
    text = text.replace(marker, f'{marker}statistics = "{statistics}"\n', 1)
    if SECTIONS is not None:
        head, *sections = text.split("\n[[section]]\n")
        kept = [b for b in sections if any(f'id = "{name}"' in b for name in SECTIONS)]
        if len(kept) != len(SECTIONS):
            raise SystemExit(f"scale.py: --sections names sections the benchmark config "
                             f"does not have: {', '.join(SECTIONS)}")
        text = "\n[[section]]\n".join([head, *kept])
    path = folder / f"report-{statistics}.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- runs


def run_cohortpress(n: int, statistics: str, seed: int, timeout: float) -> dict:
    config = write_config(n, statistics, seed)
    out = RESULTS / f"scale-n{_label(n)}-{statistics}"
    shutil.rmtree(out, ignore_errors=True)
    log = RESULTS / f"scale-n{_label(n)}-{statistics}.log"
    command = [*stage_bench.cohortpress_command(), "build", str(config), "--output", str(out)]
    result = measure(command, timeout=timeout, log=log)
    result.update(config=os.path.relpath(config, ROOT), output=os.path.relpath(out, ROOT),
                  log=os.path.relpath(log, ROOT))
    if result["exit_code"] != 0:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        result["error"] = lines[-1] if lines else ""
    return result


def run_r(n: int, timeout: float) -> dict:
    csv = cohort_folder(n) / "cohort.csv"
    numbers = RESULTS / f"scale-n{_label(n)}-r.json"
    numbers.unlink(missing_ok=True)
    log = RESULTS / f"scale-n{_label(n)}-r.log"
    result = measure(["Rscript", str(R_SCRIPT), str(csv), str(numbers)], timeout=timeout,
                     log=log)
    steps = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        name, _, value = line.partition("\t")
        try:
            steps[name] = float(value)
        except ValueError:
            continue
    result.update(steps=steps, numbers=os.path.relpath(numbers, ROOT))
    if result["exit_code"] != 0:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        result["error"] = lines[-1] if lines else ""
    return result


# --------------------------------------------------------------------------- checks


def _key(record: dict) -> tuple:
    return tuple(str(record.get(k)) for k in ("section", "context", "variable",
                                              "variable_level", "group", "group_level",
                                              "stat_name"))


def _relative(a: float, b: float) -> float:
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def compare_results(rows_json: Path, engine_json: Path) -> dict:
    """Every number of two results.json files, record by record: the largest relative
    difference by context, the records over tolerance, and those only one file has."""
    def numbers(path: Path) -> dict:
        records = json.loads(path.read_text(encoding="utf-8"))["results"]
        return {_key(r): r["stat"] for r in records}

    rows, engine = numbers(rows_json), numbers(engine_json)
    worst: dict[str, float] = {}
    failures, differing_text = [], []
    for key in rows.keys() & engine.keys():
        a, b = rows[key], engine[key]
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
                and not isinstance(a, bool) and not isinstance(b, bool):
            diff = _relative(float(a), float(b))
            context = key[1]
            worst[context] = max(worst.get(context, 0.0), diff)
            if diff > (COX_TOLERANCE if context in COX_CONTEXTS else TOLERANCE):
                failures.append({"record": key, "rows": a, "engine": b, "relative": diff})
        elif a != b:
            differing_text.append({"record": key, "rows": a, "engine": b})
    return {"compared": len(rows.keys() & engine.keys()), "worst_by_context": worst,
            "failures": failures, "differing_text": differing_text,
            "only_rows": sorted(rows.keys() - engine.keys()),
            "only_engine": sorted(engine.keys() - rows.keys())}


def compare_with_r(results_json: Path, r_json: Path) -> dict:
    """R's key numbers against cohortpress's (Fisher's simulated p-values excluded)."""
    records = json.loads(results_json.read_text(encoding="utf-8"))["results"]
    r = json.loads(r_json.read_text(encoding="utf-8"))

    def pick(**match):
        return [x["stat"] for x in records if all(x.get(k) == v for k, v in match.items())]

    pairs = {
        "Wilcoxon p (age, crp, bmi)": (
            [pick(section="table1", variable=v, stat_name="p.value")[0]
             for v in ("age", "crp", "bmi")],
            [r[f"table1.{v}.p"] for v in ("age", "crp", "bmi")]),
        "log-rank chi-square (efs, os)": (
            pick(context="survdiff", stat_name="statistic"),
            [r["efs.logrank.chisq"], r["os.logrank.chisq"]]),
        "median follow-up (efs, os)": (
            pick(context="followup", stat_name="median"), [r["efs.followup"], r["os.followup"]]),
        "multivariable coefficients": (
            pick(context="coxph", stat_name="estimate", group_level="multivariable"),
            r["cox.multivariable.coef"]),
        "likelihood-ratio refits (stage, histology)": (
            pick(context="coxph", stat_name="statistic.term", group_level="multivariable"),
            [r["cox.lr.stage"], r["cox.lr.histology"]]),
        "cox.zph p (terms, global)": (pick(context="cox.zph", stat_name="p.value"),
                                      r["cox.zph.p"]),
        "multivariable concordance": (
            pick(context="coxph", stat_name="concordance", group_level="multivariable"),
            [r["cox.multivariable.C"]]),
    }
    out = {}
    for name, (ours, theirs) in pairs.items():
        theirs = theirs if isinstance(theirs, list) else [theirs]
        if len(ours) != len(theirs) or not ours:
            out[name] = f"not comparable ({len(ours)} numbers here, {len(theirs)} in R)"
        else:
            out[name] = max(_relative(float(a), float(b)) for a, b in zip(ours, theirs))
    return out


# --------------------------------------------------------------------------- report


def exponents(runs: list[dict], field: str) -> list[dict]:
    """``log(v2 / v1) / log(n2 / n1)`` between consecutive sizes that both succeeded."""
    ok = [r for r in runs if r.get("exit_code") == 0 and r.get(field)]
    return [{"from": a["n"], "to": b["n"],
             "exponent": math.log(b[field] / a[field]) / math.log(b["n"] / a["n"])}
            for a, b in zip(ok, ok[1:])]


def describe(label: str, result: dict) -> str:
    if "skipped" in result:
        return f"  {label:<22} skipped: {result['skipped']}"
    text = (f"  {label:<22} {result['seconds']:8.1f} s  peak tree PSS "
            f"{result['peak_tree_mb']:6.0f} MB (RSS sum {result['peak_tree_rss_sum_mb']:.0f}, "
            f"largest process {result['max_process_maxrss_mb']:.0f})  "
            f"cpu {result['cpu_seconds']:.1f} s  load {result['load_before']:.2f}->"
            f"{result['load_after']:.2f}")
    if "other_cpu_seconds" in result:
        text += f"  others {result['other_cpu_seconds']:.0f} CPU-s"
    if result.get("timed_out"):
        text += "  TIMED OUT"
    elif result["exit_code"] != 0:
        text += f"  FAILED (exit {result['exit_code']}): {result.get('error', '')}"
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e6", help="comma-separated row counts, e.g. "
                        "1e6,1e7,1e8 (default 1e6)")
    parser.add_argument("--statistics", choices=("rows", "engine", "both"), default="rows",
                        help="[cohort] statistics of the builds: rows (in memory), engine "
                        "(aggregates in DuckDB) or both, one after the other")
    parser.add_argument("--no-r", action="store_true", help="skip R")
    parser.add_argument("--r-max", type=generate.parse_size, default=10_000_000,
                        help="largest size R runs at (default 1e7; R holds the cohort in "
                        "memory)")
    parser.add_argument("--rows-max", type=generate.parse_size, default=20_000_000,
                        help="largest size the in-memory path is run at (default 2e7)")
    parser.add_argument("--check", action="store_true", help="compare the engine and rows "
                        "numbers (when both ran) and R's with cohortpress's")
    parser.add_argument("--check-only", nargs=2, type=Path, metavar=("ROWS", "ENGINE"),
                        help="only compare two results.json files and exit")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds each command may take (default 3600)")
    parser.add_argument("--times", choices=("days", "exact"), default="days",
                        help="follow-up of the generated cohorts: whole days (default) or "
                        "exact (continuous: about one distinct time per patient)")
    parser.add_argument("--sections", help="build only these of the benchmark config's "
                        "sections (comma-separated ids: table1, survival, cox)")
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--json", type=Path, help="where to write the results (default "
                        "benchmarks/results/scale-<time>.json)")
    args = parser.parse_args(argv)
    global TIMES, SECTIONS
    TIMES = args.times
    SECTIONS = [x.strip() for x in args.sections.split(",")] if args.sections else None
    if args.check_only:
        report = compare_results(*args.check_only)
        print(json.dumps({k: v for k, v in report.items()
                          if k not in ("only_rows", "only_engine")}, indent=1, default=str))
        print(f"records only in the first: {len(report['only_rows'])}, only in the second: "
              f"{len(report['only_engine'])}")
        return 1 if report["failures"] else 0

    sizes = sorted(generate.parse_size(s.strip()) for s in args.sizes.split(",") if s.strip())
    paths = ("rows", "engine") if args.statistics == "both" else (args.statistics,)
    r_reason = "--no-r given" if args.no_r else stage_bench.r_available()
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = stage_bench.machine()
    print(f"machine: {info['nproc']} cores, {info['memory']}, {info['cpu']}; load "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"R: {r_reason or info['r']}")
    report = {"machine": info, "command": " ".join(["scale.py", *(argv or sys.argv[1:])]),
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "memory": "peak_tree_mb: the largest sum of the PSS of the process tree, sampled "
                        f"every {SAMPLE_INTERVAL_S * 1000:.0f} ms; peak_tree_rss_sum_mb the "
                        "same with RSS; max_process_maxrss_mb the largest ru_maxrss of one "
                        "process",
              "sizes": []}
    target = args.json or RESULTS / f"scale-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    failed = False
    for n in sizes:
        r_here = r_reason or (f"above --r-max ({args.r_max:,} rows)" if n > args.r_max
                              else None)
        print(f"\n== {n:,} rows ==")
        entry = {"n": n, "generate": ensure_data(n, r_here is None, args.seed)}
        if entry["generate"]["generated"]:
            print(describe("generate", entry["generate"]))
        parquet = cohort_folder(n) / "cohort.parquet"
        entry["parquet_mb"] = parquet.stat().st_size / 1e6
        for path in paths:
            if path == "rows" and n > args.rows_max:
                entry[path] = {"skipped": f"above --rows-max ({args.rows_max:,} rows): the "
                                          f"in-memory path would need about "
                                          f"{n / 1e6 * 1.1:.0f} GB"}
            else:
                entry[path] = run_cohortpress(n, path, args.seed, args.timeout)
                failed |= entry[path]["exit_code"] != 0
            print(describe(f"cohortpress {path}", entry[path]))
        entry["r"] = ({"skipped": r_here} if r_here else run_r(n, args.timeout))
        print(describe("R (same statistics)", entry["r"]))
        for path in paths:
            ours = entry[path]
            if "skipped" not in ours and "skipped" not in entry["r"] \
                    and ours["exit_code"] == 0 and entry["r"]["exit_code"] == 0:
                ours["ratio_to_r"] = ours["seconds"] / entry["r"]["seconds"]
                ours["cpu_ratio_to_r"] = ours["cpu_seconds"] / entry["r"]["cpu_seconds"]
                print(f"  {path}: {ours['ratio_to_r']:.2f} of R's wall time, "
                      f"{ours['cpu_ratio_to_r']:.2f} of its CPU time (the figure to read on "
                      f"a busy machine)")
        if args.check:
            entry["check"] = run_checks(entry, paths)
        report["sizes"].append(entry)
        # Written after each size, so that a long run stopped later keeps what it measured.
        target.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
        sys.stdout.flush()

    report["scaling"] = {}
    for label in (*paths, "r"):
        runs = [{"n": e["n"], **e[label]} for e in report["sizes"] if "skipped" not in e[label]]
        report["scaling"][label] = {field: exponents(runs, field)
                                    for field in ("seconds", "cpu_seconds", "peak_tree_mb")}
        for field, values in report["scaling"][label].items():
            for v in values:
                print(f"scaling {label} {field}: {generate.size_name(v['from'])} -> "
                      f"{generate.size_name(v['to'])}: exponent {v['exponent']:.2f}")
    target.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    print(f"\nresults: {os.path.relpath(target)}")
    return 1 if failed else 0


def run_checks(entry: dict, paths) -> dict:
    """The --check comparisons of one size, printed and returned."""
    checks = {}
    ran = {p: ROOT / entry[p]["output"] / "results.json" for p in paths
           if "skipped" not in entry[p] and entry[p]["exit_code"] == 0}
    if len(ran) == 2:
        checks["engine_vs_rows"] = compare_results(ran["rows"], ran["engine"])
        c = checks["engine_vs_rows"]
        print(f"  check engine vs rows: {c['compared']} records, {len(c['failures'])} over "
              f"tolerance, {len(c['differing_text'])} texts differ, "
              f"{len(c['only_rows'])} only in rows, {len(c['only_engine'])} only in engine")
        for context, worst in sorted(c["worst_by_context"].items()):
            print(f"    {context:<24} largest relative difference {worst:.2e}")
    else:
        print("  check engine vs rows: needs both paths to have run")
    r = entry.get("r", {})
    if "skipped" not in r and r.get("exit_code") == 0:
        for path, results in ran.items():
            checks[f"r_vs_{path}"] = compare_with_r(results, ROOT / r["numbers"])
            for name, diff in checks[f"r_vs_{path}"].items():
                shown = diff if isinstance(diff, str) else f"{diff:.2e}"
                print(f"  R vs {path}: {name}: largest relative difference {shown}")
    return checks


if __name__ == "__main__":
    sys.exit(main())
