"""Smoke tests of the benchmark tools (no timing is asserted anywhere).

    .venv/bin/python -m pytest benchmarks/test_benchmarks.py

They are outside ``tests/`` (the project's ``testpaths``) because they build a full report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
import run  # noqa: E402


def test_sizes_parse_and_name():
    assert generate.parse_size("1e6") == 1_000_000
    assert generate.parse_size("2_500") == 2500
    assert generate.size_name(10_000_000) == "1e7"
    assert generate.size_name(2500) == "2500"


def test_generator_is_seeded_and_formats_agree(tmp_path):
    a = generate.write_cohort(2500, tmp_path / "a", seed=7, quiet=True)
    b = generate.write_cohort(2500, tmp_path / "b", seed=7, quiet=True)
    assert a["csv"].read_bytes() == b["csv"].read_bytes()
    from_csv = pd.read_csv(a["csv"], dtype=str, keep_default_na=False)
    from_parquet = pd.read_parquet(a["parquet"])
    assert list(from_csv.columns) == list(generate.COLUMNS) == list(from_parquet.columns)
    assert len(from_csv) == 2500 and from_csv["patient_id"].is_unique
    assert set(from_csv["arm"]) == {"A", "B"}
    assert "9" in set(from_csv["stage"])  # the unknown-stage code
    efs, os_ = from_parquet["efs_years"], from_parquet["os_years"]
    assert (efs <= os_).all() and (efs > 0).all()
    assert from_parquet["os_event"].isin([0, 1]).all()
    assert from_parquet["crp"].isna().any() and (from_csv["crp"] == "").any()


def test_config_validates_and_reads_only_its_columns(tmp_path):
    from cohortpress.app.build import load_cohort, plan_build

    folder = generate.ensure_cohort(1200, tmp_path, formats=("parquet",), quiet=True)
    plan = plan_build(folder / "report-parquet.toml")
    assert [s.analysis.name for s in plan.sections] == ["demographics", "survival", "cox"]
    cohort = load_cohort(plan)
    assert cohort.n == 1200
    assert not {"site", "comment", "lab_batch"} & set(cohort.data.columns)
    assert set(cohort.endpoints) == {"efs", "os"}


@pytest.mark.slow
def test_worker_times_every_stage(tmp_path):
    folder = generate.ensure_cohort(1000, tmp_path, formats=("csv",), quiet=True)
    stages = tmp_path / "stages.json"
    done = subprocess.run([sys.executable, str(HERE / "run.py"), "--worker",
                           str(folder / "report-csv.toml"), str(tmp_path / "out"), str(stages)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(stages.read_text())
    names = [s["name"] for s in result["stages"]]
    for expected in ("read file", "type + derive + endpoints", "section table1 (demographics)",
                     "section survival (survival)", "section cox (cox)", "render HTML",
                     "render PDF (what is left after the exports)", "build (total)"):
        assert expected in names
    assert result["failed_sections"] == {} and result["exit_code"] == 0
    worker = result["pdf_worker"]  # the PDF was rendered by the worker process, and measured
    assert worker["seconds"] > 0 and worker["peak_mb"] > 10 and worker["ready_after"] > 0
    assert (tmp_path / "out" / "report.pdf").exists()
    assert all(s["seconds"] >= 0 and s["peak_mb"] > 0 for s in result["stages"])


def test_rss_is_measured():
    assert run._rss_mb() > 1


def test_the_font_subsetter_is_named():
    assert run.font_subsetter() == "HarfBuzz" or "libharfbuzz-subset0" in run.font_subsetter()


# --------------------------------------------------------------------------- scale.py

import scale  # noqa: E402


def test_tree_memory_counts_this_process_and_its_children():
    import os

    alone, _ = scale.tree_memory_mb(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "x = bytearray(200_000_000); "
                              "print('ready', flush=True); import time; time.sleep(30)"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"  # allocated, on a busy machine too
        with_child, rss_sum = scale.tree_memory_mb(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert alone > 1
    assert with_child > alone + 150 and rss_sum >= with_child - 1


def test_measure_reports_time_memory_and_exit_code():
    result = scale.measure([sys.executable, "-c", "x = bytearray(100_000_000); "
                            "import time; time.sleep(0.5); raise SystemExit(3)"])
    assert result["exit_code"] == 3 and not result["timed_out"]
    assert result["seconds"] >= 0.5
    assert result["peak_tree_mb"] > 90 and result["max_process_maxrss_mb"] > 90


def test_config_names_the_statistics_path(tmp_path, monkeypatch):
    from cohortpress.app.plan import plan_build

    monkeypatch.setattr(generate, "DEFAULT_OUTPUT", tmp_path)
    generate.ensure_cohort(1000, tmp_path, formats=("parquet",), quiet=True)
    config = scale.write_config(1000, "rows", generate.DEFAULT_SEED)
    assert 'statistics = "rows"' in config.read_text()
    assert plan_build(config).config.cohort.statistics == "rows"
    engine = scale.write_config(1000, "engine", generate.DEFAULT_SEED).read_text()
    assert engine.count('statistics = "engine"') == 1


def _results(path, records):
    path.write_text(json.dumps({"report": {}, "results": records}))
    return path


def test_compare_results_applies_the_tolerances(tmp_path):
    base = dict(section="s", variable="v", variable_level=None, group=None, group_level=None)
    rows = [dict(base, context="survfit", stat_name="estimate", stat=0.5),
            dict(base, context="coxph", stat_name="estimate", stat=1.0),
            dict(base, context="coxph", stat_name="concordance", stat=0.6),
            dict(base, context="survdiff", stat_name="method", stat="Log-rank test")]
    engine = [dict(base, context="survfit", stat_name="estimate", stat=0.5 * (1 + 1e-10)),
              dict(base, context="coxph", stat_name="estimate", stat=1.0 + 1e-10),
              dict(base, context="survdiff", stat_name="method", stat="Log-rank test")]
    report = scale.compare_results(_results(tmp_path / "r.json", rows),
                                   _results(tmp_path / "e.json", engine))
    assert report["compared"] == 3
    assert [f["record"][1] for f in report["failures"]] == ["survfit"]  # Cox: 1e-8 allowed
    assert report["worst_by_context"]["coxph"] == pytest.approx(1e-10, rel=1e-3)
    assert [k[-1] for k in report["only_rows"]] == ["concordance"]
    assert report["differing_text"] == []


def test_scaling_exponent():
    runs = [{"n": 10 ** 6, "seconds": 10.0, "exit_code": 0},
            {"n": 10 ** 7, "seconds": 100.0, "exit_code": 0},
            {"n": 10 ** 8, "seconds": 5.0, "exit_code": 1}]
    assert scale.exponents(runs, "seconds") == [{"from": 10 ** 6, "to": 10 ** 7,
                                                 "exponent": pytest.approx(1.0)}]


@pytest.mark.slow
def test_r_does_the_same_statistics(tmp_path):
    """r_statistics.R's key numbers equal cohortpress's on one cohort (skipped without R)."""
    import shutil

    if shutil.which("Rscript") is None or subprocess.run(
            ["Rscript", "-e", "library(data.table); library(survival)"],
            capture_output=True).returncode != 0:
        pytest.skip("Rscript with data.table and survival is not installed")
    folder = generate.ensure_cohort(3000, tmp_path, formats=("csv",), quiet=True)
    numbers = tmp_path / "r.json"
    done = subprocess.run(["Rscript", str(HERE / "r_statistics.R"), str(folder / "cohort.csv"),
                           str(numbers)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    steps = dict(line.split("\t") for line in done.stdout.splitlines())
    for step in ("table 1: categorical rows + Fisher", "reverse KM follow-up os",
                 "Cox univariable models + concordance",
                 "Cox likelihood-ratio refits (stage, histology)", "cox.zph", "total"):
        assert float(steps[step]) >= 0
    out = tmp_path / "out"
    built = subprocess.run([*run.cohortpress_command(), "build",
                            str(folder / "report-csv.toml"), "--output", str(out),
                            "--quiet"], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    agreement = scale.compare_with_r(out / "results.json", numbers)
    assert all(isinstance(v, float) and v < 1e-9 for v in agreement.values()), agreement
