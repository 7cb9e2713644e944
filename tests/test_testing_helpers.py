"""cohortpress.testing: the demo cohort, running one analysis, building whole reports,
reading results back and checking that a section renders."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from cohortpress.common.errors import ConfigError, DataError, StatisticsError
from cohortpress.api.options import Options
from cohortpress.api.blocks import Cell, ErrorBlock, Figure, Footnote, Paragraph, Row, Table
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis
from cohortpress.testing import (RESULT_FIELDS, assert_section_renders, build_report,
                                 demo_cohort_path, demo_config_path, dump_toml,
                                 load_demo_cohort, read_results, run_analysis)

ROOT = Path(__file__).resolve().parents[1]
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def _demo_rows() -> list[dict[str, str]]:
    with open(demo_cohort_path(), newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- demo cohort


def test_the_shipped_demo_cohort_is_what_its_seeded_generator_makes():
    spec = importlib.util.spec_from_file_location("make_demo_cohort",
                                                  ROOT / "tools" / "make_demo_cohort.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert demo_cohort_path().read_text(encoding="utf-8") == generator.generate(), \
        "core/data/demo_cohort.csv is stale: run python tools/make_demo_cohort.py"
    assert "synthetic" in demo_config_path().read_text(encoding="utf-8").lower()


def test_the_demo_cohort_is_typed_from_its_config():
    rows = _demo_rows()
    cohort = load_demo_cohort()
    assert cohort.n == len(rows) == 120
    assert cohort.group == "arm"
    assert cohort.variable("arm").levels == ("Standard", "Experimental")
    assert cohort.variable("age").kind == "continuous"
    assert cohort.variable("ldh").unit == "U/L"
    # The stage code 9 is declared missing: it becomes NA, never a level.
    assert cohort.variable("stage").levels == ("I", "II", "III", "IV")
    assert int(cohort.values("stage").isna().sum()) == sum(r["stage"] == "9" for r in rows) > 0
    assert int(cohort.values("ldh").isna().sum()) == sum(r["ldh"] == "" for r in rows) > 0
    os_ = cohort.endpoint("os")
    assert os_.unit == "years" and int(os_.event.sum()) == sum(bool(r["death_date"]) for r in rows)
    assert (os_.time > 0).all()
    assert load_demo_cohort() is not cohort  # a fresh object for every test


# --------------------------------------------------------------------------- run_analysis


class EchoOptions(Options):
    variable: str = "age"
    fail_with: str | None = None
    junk: bool = False


def _echo(cohort, options, context):
    if options.fail_with == "data":
        raise DataError("no usable values", column=options.variable)
    if options.junk:
        return {"not": "a section"}
    table = Table("Echo.", (Row.of("", "n"),), (Row.of("Patients", cohort.n),))
    return context.section(blocks=[table], results=[Result("echo", "N", cohort.n)])


ECHO = Analysis("echo", _echo, EchoOptions)


def test_run_analysis_by_name_validates_and_fills_the_section():
    section = run_analysis("overview", {"endpoints": ["os"]}, section_id="ov", title="At a glance")
    assert (section.id, section.title) == ("ov", "At a glance")
    assert section.results and {r.section for r in section.results} == {"ov"}
    n = next(r for r in section.results if r.stat_name == "N" and r.group is None)
    assert n.stat == 120


def test_run_analysis_with_an_analysis_object_and_a_cohort():
    cohort = load_demo_cohort()
    section = run_analysis(ECHO, {}, cohort)
    assert section.title == "Echo" and section.results[0].stat == 120


def test_run_analysis_gives_what_the_build_gives(tmp_path):
    """One run path: the section from run_analysis is the build's section, field by field."""
    from cohortpress.app.load import load_cohort
    from cohortpress.app.plan import plan_build
    from cohortpress.app.run import run_section

    config = tmp_path / "report.toml"
    document = tomllib.loads(demo_config_path().read_text(encoding="utf-8"))
    shutil.copyfile(demo_cohort_path(), tmp_path / "demo_cohort.csv")
    document["section"] = [{"id": "demo", "analysis": "demographics", "title": "Patients",
                            "variables": ["age", "sex", "stage", "ldh"]}]
    config.write_text(dump_toml(document), encoding="utf-8")
    plan = plan_build(config)
    cohort = load_cohort(plan)
    built = run_section(plan.sections[0], cohort, plan.config, 300)
    direct = run_analysis("demographics", {"variables": ["age", "sex", "stage", "ldh"]},
                          cohort, section_id="demo", title="Patients")
    assert not built.failed
    assert direct == built


def test_run_analysis_reports_bad_options_like_the_config_does():
    with pytest.raises(ConfigError, match="key 'endpoint': unknown key; did you mean 'endpoints'"):
        run_analysis("overview", {"endpoint": ["os"]})
    with pytest.raises(ConfigError, match="unknown endpoint 'oss'.*did you mean 'os'"):
        run_analysis("overview", {"endpoints": ["oss"]})
    with pytest.raises(ConfigError, match="unknown variable 'armm'.*did you mean 'arm'"):
        run_analysis("overview", {"by": "armm"})
    with pytest.raises(LookupError, match="no analysis named 'overveiw'; available: .*overview"):
        run_analysis("overveiw", {})


def test_run_analysis_lets_errors_through_and_checks_the_output():
    with pytest.raises(DataError, match="no usable values"):
        run_analysis(ECHO, {"fail_with": "data"})
    with pytest.raises(AssertionError, match="returned dict, not a Section"):
        run_analysis(ECHO, {"junk": True})


# --------------------------------------------------------------------------- build_report


PLUGIN = '''
from pathlib import Path

from cohortpress import Analysis, Options, Paragraph, Result, StatisticsError, hookimpl


class Opts(Options):
    text: str = "hello"
    fail: bool = False


def run(cohort, options, context):
    if options.fail:
        raise StatisticsError("no events in any group")
    return context.section(blocks=[Paragraph(options.text)],
                           results=[Result("echo", "N", cohort.n, formatted=str(cohort.n))])


@hookimpl
def cohortpress_analyses():
    return [Analysis("echo_text", run, Opts)]


@hookimpl
def cohortpress_template_dirs():
    return [Path(__file__).parent / "echo_templates"]
'''


def _write_plugin(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    blocks = folder / "echo_templates" / "blocks"
    blocks.mkdir(parents=True)
    (blocks / "paragraph.html.j2").write_text(
        '<div class="echo-wrap">{% include "default:blocks/paragraph.html.j2" %}</div>\n',
        encoding="utf-8")
    plugin = folder / "echo_plugin.py"
    plugin.write_text(PLUGIN, encoding="utf-8")
    return plugin


def test_build_report_runs_the_real_build_with_plugin_files(tmp_path):
    plugin = _write_plugin(tmp_path / "src")
    built = build_report([{"id": "hi", "analysis": "echo_text", "title": "Greeting",
                           "text": "Hello <world> & all"},
                          {"id": "ov", "analysis": "overview", "endpoints": ["os"]}],
                         tmp_path / "build", plugins=[plugin])
    assert built.exit_code == 0, built.error or built.log
    assert built.error is None and "[1/2] hi (echo_text) ok" in built.log
    assert [s.id for s in built.sections] == ["hi", "ov"]
    assert built.results(section="hi") == [
        {"section": "hi", "context": "echo", "variable": None, "variable_level": None,
         "group": None, "group_level": None, "stat_name": "N", "stat": 120, "formatted": "120"}]
    assert {r["section"] for r in built.results()} == {"hi", "ov"}
    assert built.results(section="ov", stat_name="N", group="arm", group_level="Standard")
    with pytest.raises(TypeError, match="unknown record field"):
        built.results(sectoin="hi")
    html = built.html_text()
    assert 'class="echo-wrap"' in html and "Hello &lt;world&gt; &amp; all" in html
    assert built.table("ov")[0] == ["The cohort at a glance."]
    text = built.pdf_text()
    assert "Greeting" in text and "Hello <world> & all" in text
    assert built.section("ov").title == "Overview"  # no title given: from the analysis name
    assert not (built.output / "tables" / "tables.xlsx").exists()  # exports kept small


def test_build_report_from_a_config_file_keeps_its_relative_paths(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copyfile(demo_cohort_path(), project / "data.csv")
    _write_plugin(project / "plugins")
    document = tomllib.loads(demo_config_path().read_text(encoding="utf-8"))
    document["cohort"]["path"] = "data.csv"
    document["plugins"] = ["plugins/echo_plugin.py"]
    document["section"] = [{"id": "bad", "analysis": "echo_text", "fail": True},
                           {"id": "ok", "analysis": "echo_text"}]
    (project / "report.toml").write_text(dump_toml(document), encoding="utf-8")

    built = build_report(project / "report.toml", tmp_path / "build")
    assert built.exit_code == 1  # a section failed; the report is still written
    assert built.pdf.is_file() and built.section("bad").failed
    block = built.section("bad").blocks[0]
    assert isinstance(block, ErrorBlock)
    assert block.message == "echo_text: no events in any group"
    assert [r["section"] for r in built.results()] == ["ok"]
    assert "no events in any group" in built.html_text()

    strict = build_report(project / "report.toml", tmp_path / "strict", strict=True)
    assert strict.exit_code == 1 and "section 'bad' failed (--strict)" in strict.error
    assert not strict.output.exists() and strict.sections == ()
    with pytest.raises(FileNotFoundError, match="exited with 1"):
        strict.results()


def test_build_report_reports_bad_config_as_exit_code_2(tmp_path):
    built = build_report({"section": [{"id": "ov", "analysis": "overview", "endpoint": "os"}]},
                         tmp_path)
    assert built.exit_code == 2 and built.sections == ()
    assert "key 'section[0].endpoint': unknown key; did you mean 'endpoints'?" in built.error
    assert (tmp_path / "demo_cohort.csv").is_file()  # the demo cohort filled the mapping
    built = build_report([{"id": "x", "analysis": "overview"}], tmp_path / "b",
                         variables={"agee": {"label": "Age"}})
    assert built.exit_code == 2 and "column 'agee' not found" in built.error


# --------------------------------------------------------------------------- read_results


def _results_file(tmp_path: Path, records: list, report: dict | None = None) -> Path:
    report = report if report is not None else {
        "title": "t", "generated_with": {}, "cohort": {"source": "c.csv", "sha256": "0",
                                                    "n_rows": 1}}
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"report": report, "results": records}), encoding="utf-8")
    return path


def test_read_results_checks_the_contract(tmp_path):
    good = dict.fromkeys(RESULT_FIELDS) | {"section": "s", "context": "test",
                                           "stat_name": "p.value", "stat": 0.5}
    assert read_results(_results_file(tmp_path, [good])) == [good]
    assert read_results(tmp_path) == [good]  # the folder works too
    with pytest.raises(AssertionError, match="expected"):
        read_results(_results_file(tmp_path, [good | {"extra": 1}]))
    with pytest.raises(AssertionError, match="section must be a non-empty string"):
        read_results(_results_file(tmp_path, [good | {"section": None}]))
    with pytest.raises(AssertionError, match="report.cohort.sha256 is missing"):
        read_results(_results_file(tmp_path, [], {"title": "t", "generated_with": {},
                                                  "cohort": {"source": "c", "n_rows": 1}}))
    (tmp_path / "results.json").write_text(
        '{"report": {}, "results": [{"stat": NaN}]}', encoding="utf-8")
    with pytest.raises(AssertionError, match="NaN"):
        read_results(tmp_path)


# --------------------------------------------------------------------------- rendering


def _section(*blocks):
    from cohortpress.api.sections import Section

    return Section("s", "S", blocks=tuple(blocks))


def test_a_good_section_renders_with_its_text_escaped():
    table = Table("Caption <i>x</i>.", (Row.of("", "A & B"),),
                  (Row.of("Row", Cell("1", marks=("a",)), indent=1),),
                  (Footnote("Note \"quoted\".", mark="a"),))
    html = assert_section_renders(_section(table, Paragraph("p < 0.05"),
                                           Figure(PNG, "A figure.", "alt 'text'"),
                                           ErrorBlock("it failed")), entry_points=False)
    assert "Caption &lt;i&gt;x&lt;/i&gt;." in html and "p &lt; 0.05" in html
    assert "Table 1." in html and "Figure 1." in html


def _templates(tmp_path: Path, kind: str, text: str) -> Path:
    blocks = tmp_path / "t" / "blocks"
    blocks.mkdir(parents=True)
    (blocks / f"{kind}.html.j2").write_text(text, encoding="utf-8")
    return tmp_path / "t"


def test_unescaped_text_is_caught(tmp_path):
    dirs = [_templates(tmp_path, "paragraph", "<p>{{ numbered.block.text | safe }}</p>")]
    section = _section(Paragraph("<script>alert(1)</script>"))
    with pytest.raises(AssertionError, match="appears unescaped"):
        assert_section_renders(section, template_dirs=dirs, entry_points=False)


def test_missing_text_broken_templates_and_bad_blocks_are_caught(tmp_path):
    dirs = [_templates(tmp_path, "paragraph", "<p>(hidden)</p>")]
    with pytest.raises(AssertionError, match="does not appear"):
        assert_section_renders(_section(Paragraph("shown?")), template_dirs=dirs,
                               entry_points=False)
    assert_section_renders(_section(Paragraph("shown?")), template_dirs=dirs,
                           entry_points=False, check_text=False)

    broken = [_templates(tmp_path / "b", "paragraph", "<p>{{ numbered.block.txet }}</p>")]
    with pytest.raises(AssertionError, match="template of a 'paragraph' block failed"):
        assert_section_renders(_section(Paragraph("x")), template_dirs=broken,
                               entry_points=False)
    unclosed = [_templates(tmp_path / "u", "paragraph", "<div><p>{{ numbered.block.text }}</p>")]
    with pytest.raises(AssertionError, match="<div> is never closed"):
        assert_section_renders(_section(Paragraph("x")), template_dirs=unclosed,
                               entry_points=False)
    with pytest.raises(AssertionError, match="png does not hold PNG data"):
        assert_section_renders(_section(Figure(b"GIF89a", "c", "a")), entry_points=False)
    with pytest.raises(AssertionError, match="reads 'None'"):
        assert_section_renders(_section(Table("c", (), (Row.of("x", "None"),))),
                               entry_points=False)
    with pytest.raises(AssertionError, match="holds 'nan'"):
        assert_section_renders(_section(Table("c", (), (Row.of("x", "nan"),))),
                               entry_points=False)


# --------------------------------------------------------------------------- TOML


def test_dump_toml_round_trips_a_config():
    document = {
        "plugins": ["a/b.py"],
        "report": {"title": 'Quote " and \\ and ünïcode', "p_digits": 3, "exports": []},
        "variables": {"arm": {"levels": ["A", "B"], "labels": {"A": "Std", "B": "Exp"}},
                      "odd key": {"missing": [9, 9.5, True]}},
        "section": [{"id": "a", "analysis": "x", "rows": [{"v": "age", "test": "t"}],
                     "opts": {"k": 1}},
                    {"id": "b", "analysis": "y", "text": "line\nbreak\ttab"}],
    }
    assert tomllib.loads(dump_toml(document)) == document
    with pytest.raises(ValueError):
        dump_toml({"x": float("nan")})


def test_r_values_reads_what_jsonlite_writes():
    import numpy as np

    from cohortpress.testing import r_values

    values = r_values([1, "NA", 2.5, "Inf", "-Inf", "NaN"])
    assert values.dtype == float and values.shape == (6,)
    np.testing.assert_array_equal(values, [1.0, np.nan, 2.5, np.inf, -np.inf, np.nan])
    assert r_values(3).shape == (1,)
    assert r_values([[1, "NA"], [2, 3]]).shape == (2, 2)
