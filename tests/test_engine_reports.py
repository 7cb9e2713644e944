"""Whole reports built twice, from the rows and from aggregates, hold the same numbers.

Each plugin's engine branch is compared with its rows path section by section in its own
test file; this one builds whole configs through the command line's build — the DuckDB
source, the typed view, derived variables, filters, subsets and every section the engine
path offers (demographics, overview, crosstab, survival, cox) — once with
``cohort.statistics = "rows"`` and once with ``"engine"``, and compares every record of
``results.json``: numbers within 1e-12 relative (Cox, fitted by Newton–Raphson from other
sums, within 1e-8), counts and texts exactly. The only records one path has and the other not are Harrell's concordance (pairs
of patients: rows only) and the note saying so (engine only).
"""

from __future__ import annotations

import importlib.util
import json
import math
import tomllib
from pathlib import Path

import pytest

from cohortpress.testing import build_report

# tests/engine_sections.py, loaded by path (the suite imports with --import-mode=importlib)
helpers = importlib.util.module_from_spec(spec := importlib.util.spec_from_file_location(
    "cohortpress_tests_engine_sections", Path(__file__).with_name("engine_sections.py")))
spec.loader.exec_module(helpers)
ROOT = Path(__file__).resolve().parents[1]
#: Derived variables, dates, three arms and every section kind (trial3); competing causes
#: (cr_mgus2); a cohort.filter and a Cox model of a factor (veteran). Each plugin's own file
#: compares its sections on the other test cohorts.
CONFIGS = {
    "trial3": ROOT / "tests" / "data" / "e2e" / "trial3.toml",
    "cr_mgus2": ROOT / "tests" / "data" / "e2e" / "cr_mgus2.toml",
    "veteran": ROOT / "tests" / "data" / "disclosure" / "veteran.toml",
}
ENGINE_ANALYSES = {"demographics", "overview", "crosstab", "survival", "cox"}
ROWS_ONLY = {"concordance", "concordance.std.error", "concordance.pairs.concordant",
             "concordance.pairs.discordant", "concordance.pairs.tied"}
ENGINE_ONLY = {"concordance.note"}


def engine_document(path: Path, statistics: str) -> dict:
    """The config at ``path`` with only the sections the engine path offers, its cohort
    read by DuckDB, and ``cohort.statistics``."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    document["cohort"]["path"] = str((path.parent / document["cohort"]["path"]).resolve())
    document["cohort"]["engine"] = "duckdb"
    document["cohort"]["statistics"] = statistics
    document["section"] = [s for s in document["section"]
                           if s["analysis"] in ENGINE_ANALYSES
                           and not _needs_rows(s)]
    for key in ("plugins", "templates", "stylesheet", "styles"):
        document.pop(key, None)
    return document


def _needs_rows(section: dict) -> bool:
    """Options the engine path refuses (each refusal is tested in the plugin's own file)."""
    return any(key in section for key in ("weights", "strata", "splines", "robust",
                                          "cluster", "interactions"))


def keyed(results: list[dict]) -> dict[tuple, dict]:
    return {tuple((k, json.dumps(r.get(k))) for k in sorted(r)
                  if k not in ("stat", "formatted", "disclosure")): r for r in results}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_rows_and_engine_reports_agree(tmp_path, name):
    built = {}
    for statistics in ("rows", "engine"):
        document = engine_document(CONFIGS[name], statistics)
        if not document["section"]:
            pytest.skip(f"{name} has no section the engine path offers")
        report = build_report(document, tmp_path / statistics)
        assert report.exit_code == 0, report.error or report.log
        built[statistics] = json.loads((report.output / "results.json").read_text())
    assert_same_numbers(built, {s["id"]: s["analysis"] for s in document["section"]})


def assert_same_numbers(built: dict, analyses: dict) -> None:
    """results.json from the rows and from the engine (``built``) hold the same records."""
    rows, engine = keyed(built["rows"]["results"]), keyed(built["engine"]["results"])
    assert {dict(k)["stat_name"].strip('"') for k in rows.keys() - engine.keys()} <= ROWS_ONLY
    assert {dict(k)["stat_name"].strip('"') for k in engine.keys() - rows.keys()} <= ENGINE_ONLY
    assert built["engine"]["report"]["cohort"]["statistics"] == "engine"
    differences = []
    for key in rows.keys() & engine.keys():
        a, b = rows[key]["stat"], engine[key]["stat"]
        tolerance = 1e-8 if analyses.get(rows[key].get("section")) == "cox" else 1e-12
        if isinstance(a, float) or isinstance(b, float):
            if not (a is None and b is None) and not math.isclose(a, b, rel_tol=tolerance,
                                                                 abs_tol=1e-300):
                differences.append((dict(key), a, b))
        elif a != b:
            differences.append((dict(key), a, b))
        elif rows[key].get("formatted") != engine[key].get("formatted") and \
                not isinstance(a, float):
            differences.append((dict(key), rows[key].get("formatted"),
                                engine[key].get("formatted")))
    assert not differences, differences[:5]


@pytest.mark.slow
def test_a_report_from_parquet_with_nan_is_the_same_from_rows_and_engine(tmp_path):
    """Table 1 and survival from a Parquet file whose DOUBLE columns hold NaN (missing in
    memory; a value apart from NULL in DuckDB) and NULL."""
    import numpy as np
    import pandas as pd

    small2 = ROOT / "tests" / "data" / "e2e" / "small2.toml"
    frame = pd.read_csv(small2.with_suffix(".csv"))
    for column in ("biomarker", "score", "weight", "os_days", "dead"):
        frame[column] = frame[column].astype(float)
    frame.loc[[1, 5, 20], "weight"] = np.nan
    frame.loc[[2, 30], "biomarker"] = np.nan
    frame.loc[[4, 9], "dead"] = np.nan
    frame.loc[[6], "weight"] = None
    frame.to_parquet(tmp_path / "small2.parquet")
    document = tomllib.loads(small2.read_text(encoding="utf-8"))
    document["cohort"]["path"] = str(tmp_path / "small2.parquet")
    document["endpoints"]["os"]["missing_cause"] = "censored"
    document["section"] = [s for s in document["section"] if s["id"] in ("t1", "os_plain")]
    built = helpers.built_both_ways(document, tmp_path)
    assert_same_numbers(built, {s["id"]: s["analysis"] for s in document["section"]})
