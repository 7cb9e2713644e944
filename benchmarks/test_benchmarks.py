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
