"""``cohort.statistics`` in a build: the engine path end to end, its errors and ``auto``.

A test analysis (tests/data/engine/engine_rates.py) sums events and person-time from the
rows or, on the engine path, from aggregates; reports built both ways hold the same
numbers; the provenance and the methods say where the statistics were computed; batch
slices run on the engine; and every refusal is one line naming the section and option.
"""

from __future__ import annotations

import io
import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from cohortpress.api.results import Result
from cohortpress.api.sections import SectionContext
from cohortpress.app.load import load_cohort
from cohortpress.app.plan import plan_build
from cohortpress.common.errors import UserError
from cohortpress.common.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
PBC = ROOT / "examples" / "pbc"
PLUGIN = ROOT / "tests" / "data" / "engine" / "engine_rates.py"
ROWS_ONLY = ('from cohortpress import hookimpl, Analysis\n'
             'def run(cohort, options, context):\n    raise ValueError("not run")\n'
             '@hookimpl\ndef cohortpress_analyses():\n    return [Analysis("rows_only", run)]\n')

SECTIONS = '''
[[section]]
id = "rates"
analysis = "engine_rates"
endpoint = "os"
by = "stage"

[[section]]
id = "rates_women"
analysis = "engine_rates"
endpoint = "os"
by = "oedema"
subset = [{variable = "sex", eq = "female"}, {variable = "age", lt = 60}]
'''


def project(tmp_path: Path, statistics: str, sections: str = SECTIONS, cohort: str = "",
            plugins: tuple[str, ...] = ()) -> Path:
    """examples/pbc with the test analysis and ``cohort.statistics``."""
    folder = tmp_path / f"pbc-{statistics}"
    folder.mkdir()
    shutil.copy(PBC / "pbc.csv", folder / "pbc.csv")
    shutil.copy(PLUGIN, folder / "engine_rates.py")
    files = ", ".join(json.dumps(p) for p in ("engine_rates.py", *plugins))
    text = (PBC / "report.toml").read_text(encoding="utf-8")
    text = text[:text.index("[[section]]")]
    text = text.replace("[cohort]\n", f"[cohort]\nstatistics = \"{statistics}\"\n{cohort}", 1)
    text = text.replace('date = "2024-06-01"', 'date = "2024-06-01"\nexports = ["csv"]')
    (folder / "report.toml").write_text(f"plugins = [{files}]\n{text}{sections}",
                                        encoding="utf-8")
    return folder / "report.toml"


def numbers(results: dict) -> dict:
    return {(r["section"], r["stat_name"], r.get("group_level")): r["stat"]
            for r in results["results"]}


def test_engine_and_rows_reports_hold_the_same_numbers(tmp_path, cp, capsys):
    documents, texts = {}, {}
    for statistics in ("rows", "engine"):
        config = project(tmp_path, statistics)
        out = config.parent / "out"
        result = cp.run_cli(["build", config, "-o", out], capsys)
        assert result.code == 0, result.err
        documents[statistics] = json.loads((out / "results.json").read_text())
        texts[statistics] = cp.pdf_text(out / "report.pdf")
        if statistics == "engine":
            assert "pbc.csv in the engine (csv, DuckDB): 312 patients" in result.err
            assert "statistics from aggregates" in result.err
    rows, engine = numbers(documents["rows"]), numbers(documents["engine"])
    assert rows.keys() == engine.keys() and len(rows) > 10
    for key, value in rows.items():
        assert math.isclose(engine[key], value, rel_tol=1e-12), key
    cohort = documents["engine"]["report"]["cohort"]
    assert cohort["statistics"] == "engine" and cohort["engine"].startswith("duckdb ")
    assert "statistics" not in documents["rows"]["report"]["cohort"]
    engine_text = " ".join(texts["engine"].split())
    assert "The statistics were computed from aggregates in DuckDB" in engine_text
    assert "no patient row left it" in engine_text
    assert "computed from aggregates" not in " ".join(texts["rows"].split())


def test_methods_and_provenance_name_the_engine(tmp_path):
    from cohortpress.render.methods import engine_sentence

    config = project(tmp_path, "engine")
    cohort = load_cohort(plan_build(config))
    sentence = engine_sentence(cohort)
    assert sentence.startswith("The statistics were computed from aggregates in DuckDB ")
    assert cohort.source_info["statistics"] == "engine"
    rows = load_cohort(plan_build(project(tmp_path, "rows")))
    assert engine_sentence(rows) == ""
    # A Cox section that read the rows streamed (exact times) is not hidden behind
    # "the rows did not leave the engine".
    streamed = SectionContext(id="cox", title="Cox").section(
        results=[Result("coxph", "rows.streamed", "read streamed", variable="os")])
    sentence = engine_sentence(cohort, [streamed])
    assert "did not leave" not in sentence and "a chunk at a time" in sentence
    html = (ROOT / "templates" / "report.html.j2").read_text(encoding="utf-8")
    assert "from aggregates computed in the engine" in html


def test_a_section_needing_the_rows_is_one_error(tmp_path, cp, capsys):
    sections = SECTIONS + '\n[[section]]\nid = "rowwise"\nanalysis = "engine_rates"\n' \
        'endpoint = "os"\nneeds_rows = true\n'
    result = cp.run_cli(["build", project(tmp_path, "engine", sections), "-o",
                         tmp_path / "out"], capsys)
    assert result.code == 2
    lines = [line for line in result.err.splitlines() if "error" in line]
    assert len(lines) == 1
    assert "key 'section[2]'" in lines[0] and "needs_rows = true needs the rows" in lines[0]
    assert 'cohort.statistics = "rows"' in lines[0]


def test_an_analysis_without_an_engine_path_is_named(tmp_path):
    config = project(tmp_path, "engine", SECTIONS + '\n[[section]]\nid = "plain"\n'
                     'analysis = "rows_only"\n', plugins=("rows_only.py",))
    (config.parent / "rows_only.py").write_text(ROWS_ONLY, encoding="utf-8")
    with pytest.raises(UserError) as raised:
        load_cohort(plan_build(config))
    assert raised.value.key == "section[2]"
    assert "the analysis 'rows_only' has no engine path yet" in raised.value.message


def test_engine_needs_a_source_the_engine_reads(tmp_path):
    config = project(tmp_path, "engine", cohort='engine = "pandas"\n')
    with pytest.raises(UserError) as raised:
        load_cohort(plan_build(config))
    assert raised.value.key == "cohort.engine"
    assert 'cohort.statistics = "engine" is read by DuckDB only' in raised.value.message


def test_engine_refuses_a_file_only_pandas_reads(tmp_path):
    config = project(tmp_path, "engine")
    pytest.importorskip("pyreadstat")
    import pandas as pd

    frame = pd.read_csv(config.parent / "pbc.csv")
    frame.to_stata(config.parent / "pbc.dta", write_index=False)
    text = config.read_text(encoding="utf-8").replace('path = "pbc.csv"', 'path = "pbc.dta"')
    config.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as raised:
        load_cohort(plan_build(config))
    assert raised.value.key == "cohort.statistics"
    assert "not Stata files" in raised.value.message


def loaded(config: Path):
    stream = io.StringIO()
    cohort = load_cohort(plan_build(config), Progress(stream=stream))
    return cohort, stream.getvalue()


def test_auto_uses_the_rows_below_the_threshold(tmp_path):
    cohort, said = loaded(project(tmp_path, "auto", cohort='engine = "duckdb"\n'))
    assert not getattr(cohort, "engine", False)


def test_auto_uses_the_engine_above_the_threshold_when_every_section_can(tmp_path, monkeypatch):
    import cohortpress.app.statistics as statistics

    monkeypatch.setattr(statistics, "AUTO_ENGINE_ROWS", 100)
    cohort, said = loaded(project(tmp_path, "auto", cohort='engine = "duckdb"\n'))
    assert getattr(cohort, "engine", False)
    assert "statistics from aggregates in the engine (312 rows, more than 100)" in said
    sections = SECTIONS + '\n[[section]]\nid = "rowwise"\nanalysis = "engine_rates"\n' \
        'endpoint = "os"\nneeds_rows = true\n'
    folder = tmp_path / "second"
    folder.mkdir()
    cohort, said = loaded(project(folder, "auto", sections, cohort='engine = "duckdb"\n'))
    assert not getattr(cohort, "engine", False)
    assert "statistics from the rows in memory (312 rows): section[2] needs them " \
        "(needs_rows = true needs the rows)" in said


def test_batch_slices_run_on_the_engine(tmp_path, cp, capsys):
    reports = {}
    for statistics in ("rows", "engine"):
        config = project(tmp_path, statistics, SECTIONS.split("\n[[section]]\nid = \"rates_w")[0])
        out = config.parent / "out"
        result = cp.run_cli(["build", config, "-o", out, "--by", "sex", "--jobs", "2"], capsys)
        assert result.code == 0, result.err
        for level in ("female", "male"):
            document = json.loads((out / level / "results.json").read_text())
            reports[statistics, level] = document
    for level in ("female", "male"):
        rows, engine = reports["rows", level], reports["engine", level]
        assert rows["report"]["cohort"]["n_rows"] == engine["report"]["cohort"]["n_rows"]
        for key, value in numbers(rows).items():
            assert math.isclose(numbers(engine)[key], value, rel_tol=1e-12), key


def test_validate_checks_give_the_same_warnings_on_the_engine():
    """The disclosure check and the declared-level warnings count in the engine."""
    from cohortpress.app.disclosure_check import disclosure_warnings
    from cohortpress.app.plan import declared_level_warnings

    config_path = ROOT / "tests" / "data" / "disclosure" / "veteran.toml"
    warnings = {}
    for statistics in ("rows", "engine"):
        plan = plan_build(config_path)
        config = plan.config
        config = config.model_copy(update={"cohort": config.cohort.model_copy(
            update={"statistics": statistics})})
        cohort = load_cohort(replace(plan, config=config, sections=[]))
        plan = replace(plan, config=config)
        warnings[statistics] = (disclosure_warnings(plan, cohort),
                                declared_level_warnings(config, cohort))
    assert warnings["engine"] == warnings["rows"]
    assert warnings["rows"][0], "the veteran config is meant to trigger a warning"


def test_declared_levels_no_patient_has_are_the_same_warnings_on_the_engine(tmp_path):
    """Levels, labels and recode keys no patient has (one of them only after the filter),
    read from the view in one scan for all variables: the in-memory warnings."""
    from cohortpress.app.plan import declared_level_warnings

    small2 = ROOT / "tests" / "data" / "e2e" / "small2.toml"
    shutil.copy(small2.with_suffix(".csv"), tmp_path / "small2.csv")
    text = small2.read_text(encoding="utf-8").replace(
        'levels = ["X", "Y", "Z"]', 'levels = ["X", "Y", "Z", "W"]\nlabels = { Q = "Queue" }')
    text = text.replace("[endpoints.os]", '[derived.site2]\ntype = "recode"\nsource = "site"\n'
                        'mapping = { X = "x", Y = "y", V = "v" }\n\n[endpoints.os]')
    text = text.replace('group = "group"', 'group = "group"\nfilter = [{ variable = "site", '
                        'ne = "X" }]')
    (tmp_path / "small2.toml").write_text(text, encoding="utf-8")
    warnings = {}
    for statistics in ("rows", "engine"):
        plan = plan_build(tmp_path / "small2.toml")
        config = plan.config.model_copy(update={"cohort": plan.config.cohort.model_copy(
            update={"statistics": statistics})})
        cohort = load_cohort(replace(plan, config=config, sections=[]))
        warnings[statistics] = declared_level_warnings(config, cohort)
    assert warnings["engine"] == warnings["rows"]
    assert len(warnings["rows"]) >= 4, warnings["rows"]  # W, X (filtered out), Q, V


def test_delayed_entry_needs_the_rows(tmp_path):
    entry = ('[endpoints.late]\ntime = "time_days"\nevent = "death"\ntime_unit = "days"\n'
             'unit = "years"\nentry = "age"\n')
    config = project(tmp_path, "engine")
    text = config.read_text(encoding="utf-8").replace("[[section]]", entry + "\n[[section]]", 1)
    config.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as raised:
        load_cohort(plan_build(config))
    assert raised.value.key == "endpoints.late.entry"
    assert "delayed entry needs the rows" in raised.value.message
    auto = config.read_text(encoding="utf-8").replace('statistics = "engine"',
                                                      'statistics = "auto"\nengine = "duckdb"')
    config.write_text(auto, encoding="utf-8")
    from cohortpress.app.statistics import engine_wanted

    assert not engine_wanted(plan_build(config), lambda: 10**9, Progress(quiet=True))
