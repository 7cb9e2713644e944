"""The performance benchmark: time and peak memory of each stage of a build, per cohort size.

    python benchmarks/run.py --sizes 1e3,1e6 [--format parquet|csv] [--with-r | --no-r]
                             [--times days|exact] [--repeat N] [--no-sample] [--json FILE]

For each size, a synthetic cohort is generated (``benchmarks/generate.py``, seeded, into
``benchmarks/data/``, reused when present) and the full report is built in a fresh Python
process (Table 1 with 8 variables by arm; Kaplan-Meier, log-rank and landmarks at 1, 3 and
5 years for EFS and OS with the figures; Cox regression with 6 covariates; HTML, PDF,
results.json and table exports), ``--repeat`` times (the run with the median time is
shown). That process reports one line per stage: seconds, and the
peak resident memory during the stage (sampled every 5 ms from /proc, and exact where the
process's ``ru_maxrss`` rose during the stage), and the CPU seconds of the process's threads.
Stages that contain others (loading the cohort, writing the outputs) are shown by their own
time, without the stages inside them. The CPU time other processes took meanwhile is
printed too: figures taken on a busy machine say so.

When ``Rscript`` (with the ``survival`` package) is found (``--no-r`` skips it; ``--with-r``
asks for it, and says why when R is missing), R does the same statistics on the same CSV in
the same run, after the cohortpress build (``benchmarks/r_statistics.R``: fread, Table 1
with its tests, KM, log-rank and follow-up for both endpoints, the univariable and
multivariable Cox models with concordance, likelihood-ratio refits and cox.zph). Its
time and the ratio cohortpress / R are printed. Without R this is said and skipped.

Also timed: the Belgian sample report end to end from the command line in a fresh process
(``cohortpress build sample_reports/belgian_infant_leukaemia/report.toml``; skipped with a
message when that config does not exist), and ``cohortpress --help``.

The figures are printed, never asserted: the tests make no timing claims. Results are also
written as JSON to ``benchmarks/results/`` (git-ignored). Measure one size at a time on a
quiet machine: the 10^7 case needs about 10 GB of memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SAMPLE = ROOT / "sample_reports" / "belgian_infant_leukaemia" / "report.toml"
R_SCRIPT = HERE / "r_statistics.R"

sys.path.insert(0, str(HERE))
import generate  # noqa: E402  (the sibling module)

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# --------------------------------------------------------------------------- memory


def _maxrss_mb(usage) -> float:
    """``ru_maxrss`` in MB (kilobytes on Linux, bytes on macOS)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return usage.ru_maxrss * scale / 1e6


#: Other processes of the build (the PDF worker) whose memory counts with the build's.
HELPER_PIDS: list[int] = []


def _rss_mb() -> float:
    """Resident memory of this process and of the build's helper processes, now."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            total = int(handle.read().split()[1]) * PAGE / 1e6
    except OSError:  # not Linux: fall back to the peak so far
        return _maxrss_mb(resource.getrusage(resource.RUSAGE_SELF))
    for pid in HELPER_PIDS:
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * PAGE / 1e6
        except (OSError, IndexError, ValueError):  # ended
            pass
    return total


class Recorder:
    """Stages with their wall time and peak RSS, from a sampling thread."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.stages: list[dict] = []
        self._open: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss = _rss_mb()
            with self._lock:
                for stage in self._open:
                    if rss > stage["peak_mb"]:
                        stage["peak_mb"] = rss
            self._stop.wait(self.interval)

    def start(self, name: str) -> dict:
        stage = {"name": name, "start": time.perf_counter(), "cpu_start": time.process_time(),
                 "peak_mb": _rss_mb(),
                 "maxrss_before": _maxrss_mb(resource.getrusage(resource.RUSAGE_SELF)),
                 "depth": len(self._open), "children": 0.0, "cpu_children": 0.0}
        with self._lock:
            self._open.append(stage)
        return stage

    def end(self, stage: dict, **extra) -> None:
        stage["seconds"] = time.perf_counter() - stage["start"]
        stage["cpu_seconds"] = time.process_time() - stage["cpu_start"]
        maxrss = _maxrss_mb(resource.getrusage(resource.RUSAGE_SELF))
        rss = _rss_mb()
        with self._lock:
            self._open.remove(stage)
            stage["peak_mb"] = max(stage["peak_mb"], rss)
            if maxrss > stage["maxrss_before"] + 0.5:  # the process peak was reached here
                stage["peak_mb"] = max(stage["peak_mb"], maxrss)
            for outer in self._open:  # a nested stage's peak is its parents' too
                outer["peak_mb"] = max(outer["peak_mb"], stage["peak_mb"])
            if self._open:
                self._open[-1]["children"] += stage["seconds"]
                self._open[-1]["cpu_children"] += stage["cpu_seconds"]
        stage["self_seconds"] = stage["seconds"] - stage["children"]
        stage["self_cpu_seconds"] = stage["cpu_seconds"] - stage["cpu_children"]
        stage.update(extra)
        self.stages.append(stage)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _wrap(module, attribute: str, recorder: Recorder, name) -> None:
    """Time ``module.attribute`` (and every cohortpress module holding the same function)."""
    original = getattr(module, attribute)

    def timed(*args, **kwargs):
        label = name(*args, **kwargs) if callable(name) else name
        stage = recorder.start(label)
        try:
            result = original(*args, **kwargs)
        except BaseException:
            recorder.end(stage, failed=True)
            raise
        recorder.end(stage)
        return result

    timed.__wrapped__ = original
    setattr(module, attribute, timed)  # a module, or a class for a method
    for mod_name, mod in list(sys.modules.items()):
        if mod_name.startswith("cohortpress") and getattr(mod, attribute, None) is original:
            setattr(mod, attribute, timed)


# --------------------------------------------------------------------------- the worker


def worker(config: str, output: str, json_path: str) -> int:
    """Build ``config`` into ``output`` with every stage timed; write the stages as JSON."""
    process_started = time.perf_counter()
    recorder = Recorder()
    stage = recorder.start("import cohortpress")
    import cohortpress.app.build as build_module
    import cohortpress.app.run
    import cohortpress.data.load
    import cohortpress.render.write
    import cohortpress.render.weasy
    import cohortpress.render.pdfworker
    import cohortpress.plugins.readers
    import cohortpress.data.files
    import cohortpress.render.context
    recorder.end(stage)

    _wrap(build_module, "plan_build", recorder, "config + plugins")
    _wrap(build_module, "load_cohort", recorder, "load cohort (checks)")
    _wrap(cohortpress.data.files, "read_cohort_file", recorder, "read file")
    _wrap(cohortpress.data.load, "file_sha256", recorder, "sha256 of the file")
    _wrap(cohortpress.data.load, "build_cohort", recorder, "type + derive + endpoints")
    _wrap(cohortpress.app.run.SectionRunner, "run", recorder,
          lambda runner, index: f"section {runner.sections[index].head.id} "
                                f"({runner.sections[index].analysis.name})")
    _wrap(cohortpress.render.write, "write_outputs", recorder,
          "write results.json, tables, xlsx, docx, png")
    _wrap(cohortpress.render.context, "render_report", recorder, "render HTML")
    # The PDF is rendered by the worker process while this one writes the exports; what is
    # left to wait for after them is the PDF's share of the critical path. (Without a
    # worker, write_pdf runs here and is timed as before.)
    _wrap(cohortpress.render.write._PendingPdf, "wait", recorder, "render PDF (what is left after the exports)")
    _wrap(cohortpress.render.weasy, "write_pdf", recorder, "render PDF (in this process)")
    workers = []
    start_worker = cohortpress.render.pdfworker.PdfWorker.start.__func__

    def start_and_watch(cls, *args, **kwargs):
        started = start_worker(cls, *args, **kwargs)
        if started is not None:
            HELPER_PIDS.append(started._process.pid)
            workers.append(started)
        return started

    cohortpress.render.pdfworker.PdfWorker.start = classmethod(start_and_watch)

    total = recorder.start("build (total)")
    outcome = build_module.build(config, output, progress=build_module.Progress(quiet=True))
    recorder.end(total)
    recorder.close()
    worker_stats = dict(workers[0].stats) if workers else None
    failed = {s.id: s.blocks[0].message for s in outcome.sections if s.failed}
    n_rows = None
    results = Path(output) / "results.json"
    if results.exists():
        n_rows = json.loads(results.read_text(encoding="utf-8"))["report"]["cohort"]["n_rows"]
    document = {
        "stages": [{k: s[k] for k in ("name", "seconds", "self_seconds", "cpu_seconds",
                                      "self_cpu_seconds", "peak_mb", "depth")}
                   | ({"failed": True} if s.get("failed") else {})
                   for s in sorted(recorder.stages, key=lambda s: s["start"])],
        "process_seconds": time.perf_counter() - process_started,
        "maxrss_mb": _maxrss_mb(resource.getrusage(resource.RUSAGE_SELF)),
        "exit_code": outcome.exit_code,
        "failed_sections": failed,
        "n_rows": n_rows,
        "pdf_bytes": (Path(output) / "report.pdf").stat().st_size
        if (Path(output) / "report.pdf").exists() else None,
        "pdf_worker": worker_stats,
    }
    Path(json_path).write_text(json.dumps(document, indent=1), encoding="utf-8")
    return 0


# --------------------------------------------------------------------------- the parent


def run_child(command: list[str], *, cwd: Path | None = None, timeout: float | None = None,
              env: dict | None = None):
    """Run a command; return (exit code, wall seconds, peak RSS MB, stdout, stderr).

    The child's CPU seconds (user + system) are left in ``run_child.cpu`` for callers that
    want them.
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    out_chunks: dict[str, str] = {}

    def drain(name, stream):
        out_chunks[name] = stream.read()

    readers = [threading.Thread(target=drain, args=(n, s), daemon=True)
               for n, s in (("out", process.stdout), ("err", process.stderr))]
    for reader in readers:
        reader.start()
    deadline = None if timeout is None else started + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.002)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    run_child.cpu = usage.ru_utime + usage.ru_stime
    for reader in readers:
        reader.join()
    return (process.returncode, wall, _maxrss_mb(usage), out_chunks.get("out", ""),
            out_chunks.get("err", ""))


def machine_busy_seconds() -> float | None:
    """CPU-seconds all processes have used since boot (Linux ``/proc/stat``), or None."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def cohortpress_command() -> list[str]:
    script = Path(sys.executable).parent / "cohortpress"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cohortpress"]


def time_help(repeats: int = 5) -> dict:
    walls = []
    for _ in range(repeats):
        code, wall, rss, _, err = run_child([*cohortpress_command(), "--help"])
        if code != 0:
            return {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {code}"}
        walls.append(wall)
    return {"first": walls[0], "median": statistics.median(walls), "min": min(walls),
            "peak_mb": rss, "repeats": repeats}


def time_sample(results_dir: Path) -> dict | None:
    if not SAMPLE.exists():
        return None
    runs = []
    for label in ("first", "2", "3", "4", "5"):  # each in a fresh process
        out = results_dir / "belgian_sample"
        shutil.rmtree(out, ignore_errors=True)
        code, wall, rss, _, err = run_child(
            [*cohortpress_command(), "build", str(SAMPLE), "--output", str(out), "--quiet"],
            cwd=ROOT)
        runs.append({"run": label, "seconds": wall, "cpu_seconds": run_child.cpu,
                     "peak_mb": rss, "exit_code": code, "stderr": err.strip()[-500:]})
    # The same build once more, stage by stage (the worker's own timing, as for the sizes).
    stages_json = results_dir / "belgian_sample.stages.json"
    stages_json.unlink(missing_ok=True)
    out = results_dir / "belgian_sample"
    shutil.rmtree(out, ignore_errors=True)
    code, wall, rss, _, err = run_child(
        [sys.executable, str(Path(__file__).resolve()), "--worker", str(SAMPLE), str(out),
         str(stages_json)], cwd=ROOT)
    staged = {"process_seconds": wall, "process_cpu_seconds": run_child.cpu,
              "process_peak_mb": rss, "exit_code": code}
    if stages_json.exists():
        staged.update(json.loads(stages_json.read_text(encoding="utf-8")))
    else:
        staged["error"] = err.strip()[-2000:]
    return {"runs": runs, "staged": staged}


def r_available() -> str | None:
    """Why R cannot be used, or None when Rscript with survival is there."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not found"
    check = subprocess.run([rscript, "-e", "suppressPackageStartupMessages("
                            "library(survival))"], capture_output=True, text=True)
    if check.returncode != 0:
        return "R's survival package is not installed"
    return None


def run_r(csv: Path, timeout: float) -> dict:
    code, wall, rss, out, err = run_child(["Rscript", str(R_SCRIPT), str(csv)],
                                          timeout=timeout)
    if code != 0:
        return {"error": (err.strip().splitlines() or [f"exit {code}"])[-1][:300],
                "seconds_wall": wall}
    steps = {}
    for line in out.splitlines():
        name, _, value = line.partition("\t")
        if value:
            steps[name] = float(value)
    return {"steps": steps, "total": steps.get("total"), "seconds_wall": wall, "peak_mb": rss}


def r_version() -> str | None:
    if shutil.which("Rscript") is None:
        return None
    done = subprocess.run(["Rscript", "-e", "cat(R.version.string, 'survival', "
                           "format(packageVersion('survival')))"], capture_output=True,
                          text=True)
    return done.stdout.strip() or None


def font_subsetter() -> str:
    """Which library WeasyPrint will subset the report's fonts with, here."""
    import ctypes

    for name in ("libharfbuzz-subset.so.0", "libharfbuzz-subset.0.dylib"):
        try:
            ctypes.CDLL(name)
            return "HarfBuzz"
        except OSError:
            continue
    return ("fontTools: libharfbuzz-subset0 is not installed, so every PDF takes about "
            "0.2 s longer (apt-get install libharfbuzz-subset0; .ci/run installs it)")


def machine() -> dict:
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
    except OSError:
        pass
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("numpy", "pandas", "pyarrow", "scipy", "matplotlib", "weasyprint"):
        try:
            from importlib import metadata

            versions[name] = metadata.version(name)
        except Exception:  # pragma: no cover
            versions[name] = "?"
    return {"nproc": os.cpu_count(), "memory": memory, "cpu": cpu,
            "python": platform.python_version(), "platform": platform.platform(),
            "packages": versions, "r": r_version(), "font_subsetter": font_subsetter()}


def bench_size(n: int, fmt: str, times: str, results_dir: Path, r_reason: str | None,
               r_timeout: float, seed: int, repeat: int = 1) -> dict:
    formats = ("csv", "parquet") if (fmt == "parquet" and r_reason is None) else (fmt,)
    formats = tuple(dict.fromkeys((fmt, *formats)))
    t0 = time.perf_counter()
    folder = generate.ensure_cohort(n, generate.DEFAULT_OUTPUT, formats=formats, seed=seed,
                                    times=times)
    generated = time.perf_counter() - t0
    config = folder / f"report-{fmt}.toml"
    cohort_file = folder / f"cohort.{fmt}"
    label = f"n{generate.size_name(n)}-{fmt}{'' if times == 'days' else '-' + times}"
    runs = [_one_build(config, results_dir, label) for _ in range(max(1, repeat))]
    # The run with the median total stands for the size; the others' totals are kept.
    ok = [r for r in runs if "stages" in r] or runs
    ok.sort(key=lambda r: r["process_seconds"])
    result = dict(ok[len(ok) // 2])
    result.update({"n": n, "format": fmt, "times": times,
                   "file": str(cohort_file.relative_to(ROOT)),
                   "file_mb": cohort_file.stat().st_size / 1e6, "generate_seconds": generated,
                   "repeats": [{"process_seconds": r["process_seconds"],
                                "build_seconds": _build_total(r)} for r in runs]})
    if r_reason is None:
        result["r"] = run_r(folder / "cohort.csv", r_timeout)
    else:
        result["r"] = {"skipped": r_reason}
    return result


def _build_total(result: dict) -> float | None:
    return next((s["seconds"] for s in result.get("stages", ())
                 if s["name"] == "build (total)"), None)


def _one_build(config: Path, results_dir: Path, label: str) -> dict:
    """One build of ``config`` in a fresh worker process, with its stages."""
    out = results_dir / label
    shutil.rmtree(out, ignore_errors=True)
    stages_json = results_dir / f"{label}.stages.json"
    stages_json.unlink(missing_ok=True)
    load_before = os.getloadavg()[0]
    busy_before = machine_busy_seconds()
    code, wall, rss, _, err = run_child(
        [sys.executable, str(Path(__file__).resolve()), "--worker", str(config), str(out),
         str(stages_json)], cwd=ROOT)
    result = {"process_seconds": wall, "process_cpu_seconds": run_child.cpu,
              "process_peak_mb": rss, "exit_code": code, "load_before": load_before,
              "load_after": os.getloadavg()[0]}
    busy_after = machine_busy_seconds()
    if busy_before is not None and busy_after is not None:
        # CPU time other processes took while the build ran: a fair-weather check.
        result["other_cpu_seconds"] = max(0.0, busy_after - busy_before - run_child.cpu)
    if stages_json.exists():
        result.update(json.loads(stages_json.read_text(encoding="utf-8")))
    else:
        result["error"] = err.strip()[-2000:]
    return result


# --------------------------------------------------------------------------- printing


def print_size(result: dict) -> None:
    n = result["n"]
    print(f"\n== {n:,} patients: {result['format']} ({result['file_mb']:.1f} MB), follow-up "
          f"in {'whole days' if result['times'] == 'days' else 'continuous time'} ==")
    if not print_stages(result):
        return
    if len(result.get("repeats", ())) > 1:
        totals = ", ".join(f"{r['process_seconds']:.2f}" for r in result["repeats"])
        print(f"{len(result['repeats'])} runs, process totals {totals} s: the median run "
              f"is shown")
    other = result.get("other_cpu_seconds")
    if other is not None:
        share = other / result["process_seconds"] if result["process_seconds"] else 0.0
        print(f"other processes used {other:.1f} CPU-s during the build ({share:.0%} of one "
              f"core; more than ~10% means the figures above are inflated)")
    print_r(result)


def print_stages(result: dict) -> bool:
    """The stage table of a worker run; False when the worker failed."""
    if "stages" not in result:
        print(f"worker failed (exit {result['exit_code']}):\n{result.get('error', '')}")
        return False
    print(f"{'stage':<52} {'seconds':>8} {'cpu s':>7} {'peak MB':>8}")
    for stage in result["stages"]:
        if stage["name"] == "build (total)":
            continue
        seconds = stage["self_seconds"]
        name = stage["name"] + (" [own time]" if stage["self_seconds"] < stage["seconds"] - 1e-3
                                else "")
        flag = "  FAILED" if stage.get("failed") or any(
            stage["name"].startswith(f"section {sid} ") for sid in result["failed_sections"]) \
            else ""
        print(f"{name:<52} {seconds:8.2f} {stage['self_cpu_seconds']:7.2f} "
              f"{stage['peak_mb']:8.0f}{flag}")
    total = next(s for s in result["stages"] if s["name"] == "build (total)")
    print(f"{'total: build in process':<52} {total['seconds']:8.2f} "
          f"{total['cpu_seconds']:7.2f} {total['peak_mb']:8.0f}")
    print(f"{'total: process (start-up, imports, build)':<52} "
          f"{result['process_seconds']:8.2f} {result['process_cpu_seconds']:7.2f} "
          f"{result['process_peak_mb']:8.0f}")
    for sid, message in result["failed_sections"].items():
        print(f"  section {sid} failed: {message}")
    worker = result.get("pdf_worker")
    if worker:
        print(f"PDF worker process (second core): ready {worker.get('ready_after', float('nan')):.2f} s "
              f"after the build started (imports, fonts, hyphenation); rendering "
              f"{worker.get('seconds', float('nan')):.2f} s, {worker.get('cpu_seconds', float('nan')):.2f} "
              f"CPU-s, peak {worker.get('peak_mb', float('nan')):.0f} MB (counted in the peaks above)")
    return True


def print_r(result: dict) -> None:
    total = next(s for s in result["stages"] if s["name"] == "build (total)")
    r = result.get("r", {})
    if "skipped" in r:
        print(f"R: skipped ({r['skipped']})")
    elif "error" in r:
        print(f"R: failed after {r['seconds_wall']:.1f} s: {r['error']}")
    else:
        steps = ", ".join(f"{k} {v:.2f}" for k, v in r["steps"].items()
                          if k not in ("total", "check", "startup"))
        print(f"R, the same statistics (r_statistics.R): {r['total']:.2f} s "
              f"({steps}); Rscript process {r['seconds_wall']:.2f} s, peak "
              f"{r['peak_mb']:.0f} MB")
        ratio = total["seconds"] / r["total"] if r["total"] else float("nan")
        print(f"ratio cohortpress full report / R statistics: {ratio:.2f} "
              f"({'faster' if ratio < 1 else 'slower'} than R)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Time each stage of a cohortpress build on synthetic cohorts.")
    parser.add_argument("--sizes", default="1e3,1e5",
                        help="comma-separated patient counts (default 1e3,1e5), e.g. 1e3,1e6")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                        help="the format cohortpress reads (R always reads the CSV)")
    parser.add_argument("--times", choices=("days", "exact"), default="days",
                        help="follow-up in whole days (ties, as registries record it) or "
                             "continuous")
    r_group = parser.add_mutually_exclusive_group()
    r_group.add_argument("--with-r", action="store_true",
                         help="compare with R (the default when Rscript is found)")
    r_group.add_argument("--no-r", action="store_true", help="skip the R comparison")
    parser.add_argument("--r-timeout", type=float, default=1800.0,
                        help="seconds R may take per size (default 1800)")
    parser.add_argument("--no-sample", action="store_true",
                        help="skip the Belgian sample report and the --help timing")
    parser.add_argument("--repeat", type=int, default=1,
                        help="builds per size; the run with the median time is shown (R and "
                             "the 10^7 case: keep 1)")
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--json", type=Path, help="also write all results to this file "
                        "(default: benchmarks/results/run-<time>.json)")
    parser.add_argument("--worker", nargs=3, metavar=("CONFIG", "OUTPUT", "JSON"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(*args.worker)

    sizes = [generate.parse_size(s.strip()) for s in args.sizes.split(",") if s.strip()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(f"machine: {info['nproc']} cores, {info['memory']}, {info['cpu']}; Python "
          f"{info['python']}; {info['platform']}")
    print("packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    print(f"fonts subset by {info['font_subsetter']}")
    r_reason = "--no-r given" if args.no_r else r_available()
    if r_reason and not args.no_r:
        print(f"R: {r_reason}; the R comparison is skipped (cohortpress is measured as usual)")
    elif not r_reason:
        print(f"R: {info['r']}")
    report = {"machine": info, "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
              "date": dt.datetime.now().isoformat(timespec="seconds"), "sizes": []}

    if not args.no_sample:
        help_timing = time_help()
        report["help"] = help_timing
        if "error" in help_timing:
            print(f"\ncohortpress --help: failed: {help_timing['error']}")
        else:
            print(f"\ncohortpress --help: {help_timing['median']:.3f} s median of "
                  f"{help_timing['repeats']} (first {help_timing['first']:.3f} s, min "
                  f"{help_timing['min']:.3f} s), peak {help_timing['peak_mb']:.0f} MB")
        sample = time_sample(RESULTS)
        report["sample"] = sample
        if sample is None:
            print(f"Belgian sample report: skipped ({SAMPLE.relative_to(ROOT)} does not exist "
                  f"yet)")
        else:
            runs = sample["runs"]
            for run in runs:
                if run["exit_code"] != 0:
                    print(f"Belgian sample report: exit {run['exit_code']}: "
                          + (run["stderr"].splitlines() or [""])[-1])
            seconds = [r["seconds"] for r in runs]
            print(f"Belgian sample report, command line, each run a new process: first "
                  f"{seconds[0]:.2f} s, median of {len(seconds)} {statistics.median(seconds):.2f} s "
                  f"(all: {', '.join(f'{s:.2f}' for s in seconds)}); "
                  f"{statistics.median(r['cpu_seconds'] for r in runs):.2f} CPU-s with the PDF "
                  f"worker; peak {max(r['peak_mb'] for r in runs):.0f} MB (largest process)")
            print("Belgian sample report, stage by stage (a third run):")
            print_stages(sample["staged"])

    for n in sizes:
        result = bench_size(n, args.format, args.times, RESULTS, r_reason, args.r_timeout,
                            args.seed, args.repeat)
        report["sizes"].append(result)
        print_size(result)
        sys.stdout.flush()

    target = args.json or RESULTS / f"run-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    target.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"\nresults: {os.path.relpath(target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
