"""Comparing an analysis's section on the engine path with the same section in memory.

Shared by the engine tests of Table 1 and of the counts-only analyses
(test_engine_table1.py, test_engine_crosstab.py, test_engine_overview.py): each cohort is
loaded as a build loads it and put into DuckDB with ``engine_cohort_from_frame``; both
sections must hold the same records (numbers to 1e-12 relative, texts and disclosure notes
identical), table cells, footnotes, methods and warnings.

This module is loaded by path (the suite runs with ``--import-mode=importlib``), as
conftest.py loads by_meaning.py.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The test configs' cohorts, the pbc example, the samples and (``None``) the demo cohort.
CONFIGS = {
    "trial3": ROOT / "tests/data/e2e/trial3.toml",
    "small2": ROOT / "tests/data/e2e/small2.toml",
    "cr_pbc": ROOT / "tests/data/e2e/cr_pbc.toml",
    "cr_mgus2": ROOT / "tests/data/e2e/cr_mgus2.toml",
    "veteran": ROOT / "tests/data/disclosure/veteran.toml",
    "pbc": ROOT / "examples/pbc/report.toml",
    "belgian": ROOT / "sample_reports/belgian_infant_leukaemia/report.toml",
    "mll10": ROOT / "sample_reports/mll10_infant_kmt2a/report.toml",
    "demo": None,
}
#: Keys of a [[section]] table that are not the analysis's options.
SECTION_KEYS = {"id", "analysis", "title"}


@functools.lru_cache(maxsize=None)
def cohorts(name: str):
    """The in-memory cohort of a config and its engine twin."""
    from cohortpress.data.engine.cohort import engine_cohort_from_frame
    from cohortpress.testing import load_demo_cohort

    cohort = load_demo_cohort(CONFIGS[name])
    return cohort, engine_cohort_from_frame(cohort)


@functools.lru_cache(maxsize=None)
def analysis(name: str):
    """A built-in analysis (looking it up by name for each run costs more than the run)."""
    from cohortpress.app.plugins import make_plugins

    return make_plugins(entry_points=False).analyses[name]


def close(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))
    return a == b


def key(record):
    return (record.context, record.stat_name, record.variable, record.variable_level,
            record.group, record.group_level)


def cells(section):
    return [[cell.text for cell in row.cells] for block in section.blocks
            for row in (*getattr(block, "header", ()), *getattr(block, "body", ()))]


def footnotes(section):
    return [note.text for block in section.blocks for note in getattr(block, "footnotes", ())]


def assert_same_sections(found, expected) -> None:
    assert [key(r) for r in found.results] == [key(r) for r in expected.results]
    for mine, theirs in zip(found.results, expected.results):
        assert close(mine.stat, theirs.stat), (key(mine), mine.stat, theirs.stat)
        assert mine.formatted == theirs.formatted, (key(mine), mine.formatted, theirs.formatted)
        assert mine.disclosure == theirs.disclosure, (key(mine), mine.disclosure)
    assert cells(found) == cells(expected)
    assert footnotes(found) == footnotes(expected)
    assert found.methods == expected.methods
    assert found.warnings == expected.warnings


def assert_same(name: str, options: dict, pair) -> None:
    """The analysis ``name`` gives the same section on both cohorts of the
    ``(in-memory, engine)`` pair."""
    from cohortpress.testing.run import run_analysis

    memory, engine = pair
    assert_same_sections(run_analysis(analysis(name), options, engine),
                         run_analysis(analysis(name), options, memory))


def configured_sections(name: str, names=tuple(CONFIGS)):
    """``(cohort, options)`` of every section of analysis ``name`` (without a ``subset``) in
    the configs ``names``."""
    import tomllib

    found = []
    for config in names:
        path = CONFIGS[config]
        if path is None:
            continue
        for section in tomllib.loads(path.read_text())["section"]:
            if section["analysis"] == name and "subset" not in section:
                options = {k: v for k, v in section.items() if k not in SECTION_KEYS}
                found.append((config, section["id"], options))
    return found


def built_both_ways(document: dict, folder: Path) -> dict[str, dict]:
    """The results files of ``document`` built by the command line's build with
    ``cohort.statistics`` "rows", then "engine" (into ``folder``/rows and /engine)."""
    import json

    from cohortpress.testing import build_report

    built = {}
    for statistics in ("rows", "engine"):
        document["cohort"]["statistics"] = statistics
        report = build_report(document, folder / statistics)
        assert report.exit_code == 0, report.error or report.log
        built[statistics] = json.loads((report.output / "results.json").read_text())
    return built
