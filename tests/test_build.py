"""The build: deterministic outputs, the results.json contract, failing sections, --strict,
and atomic output (a failed or killed build leaves the previous report as it was)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cohortpress.app.load import load_cohort
from cohortpress.app.plan import plan_build
from cohortpress.app.run import run_section
from cohortpress.render.write import remove_stale_staging, staging_prefix

RECORD_FIELDS = {"section", "context", "variable", "variable_level", "group", "group_level",
                 "stat_name", "stat", "formatted"}

FAILING = '''
from cohortpress import hookimpl, Analysis, Options

class BoomOptions(Options):
    message: str = "boom"

def run(cohort, options, context):
    raise ZeroDivisionError(options.message)

@hookimpl
def cohortpress_analyses():
    return [Analysis("boom", run, BoomOptions)]
'''


def failing_project(cp, root: Path):
    toml = ('plugins = ["boom.py"]\n' + cp.DEMO_TOML
            + '[[section]]\nid = "broken"\nanalysis = "boom"\ntitle = "Broken section"\n'
              'message = "the denominator was zero"\n'
              '[[section]]\nid = "after"\nanalysis = "overview"\ntitle = "After the failure"\n')
    project = cp.Project(root, toml=toml)
    project.write("boom.py", FAILING)
    return project


# --------------------------------------------------------------------------- a good build


def test_build_writes_every_output(built_demo):
    out = built_demo.out
    for name in ("report.pdf", "report.html", "results.json", "tables/overview.csv",
                 "tables/tables.xlsx", "tables/tables.docx"):
        assert (out / name).is_file(), name
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert built_demo.result.err.count("cohortpress: error") == 0
    assert "[1/1] overview (overview) ok" in built_demo.result.err


def test_two_builds_give_byte_identical_pdf_and_results(built_demo, cp, tmp_path):
    again = tmp_path / "again"
    result = cp.run_cli(["build", built_demo.project.config, "--output", again, "--quiet"])
    assert result.code == 0, result.err
    assert result.err == ""  # --quiet
    for name in ("report.pdf", "results.json", "report.html", "tables/overview.csv",
                 "tables/tables.xlsx", "tables/tables.docx"):
        assert (again / name).read_bytes() == (built_demo.out / name).read_bytes(), name


def test_results_json_follows_the_contract(built_demo):
    document = json.loads((built_demo.out / "results.json").read_text(encoding="utf-8"))
    assert set(document) == {"report", "results"}
    report = document["report"]
    assert set(report) >= {"title", "generated_with", "cohort"}
    assert report["title"] == "Foundation demo"
    for package in ("cohortpress", "python", "numpy", "scipy", "pandas", "weasyprint",
                    "pluggy", "pydantic", "jinja2"):
        assert isinstance(report["generated_with"][package], str)
    cohort_file = built_demo.project.root / "cohort.csv"
    assert report["cohort"] == {"source": "cohort.csv", "n_rows": 8,
                                "sha256": hashlib.sha256(cohort_file.read_bytes()).hexdigest()}
    records = document["results"]
    assert records and all(set(r) == RECORD_FIELDS for r in records)
    assert {r["section"] for r in records} == {"overview"}
    by_key = {(r["stat_name"], r["variable"], r["group_level"]): r for r in records}
    assert by_key[("N", None, None)]["stat"] == 8
    assert by_key[("N", None, "Arm A")]["group"] == "arm"
    assert by_key[("N", None, "Arm A")]["stat"] == 4
    assert by_key[("n.event", "os", None)]["stat"] == 4
    assert by_key[("n.event", "efs", None)]["stat"] == 4  # the competing event is not one
    # Unrounded: 3 months in years, exactly as computed, not as printed.
    assert by_key[("min", "os", None)]["stat"] == pytest.approx(0.25, abs=1e-12)
    efs_min = by_key[("min", "efs", None)]["stat"]
    assert efs_min == pytest.approx(90 / (365.25 / 12)) and efs_min != round(efs_min, 1)


def test_results_json_has_no_machine_path(built_demo):
    text = (built_demo.out / "results.json").read_text(encoding="utf-8")
    assert str(built_demo.project.root) not in text


def test_table_csv_export(built_demo):
    rows = list(csv.reader(io.StringIO((built_demo.out / "tables/overview.csv")
                                       .read_text(encoding="utf-8"))))
    assert rows[0] == ["The cohort at a glance."]
    assert rows[1] == ["", "Overall", "Arm B", "Arm A"]
    assert rows[2] == ["Patients, n", "8", "4", "4"]
    assert ["  Events, n (%)", "4 (50%)", "2 (50%)", "2 (50%)"] in rows


def test_pdf_text(built_demo, cp):
    text = cp.pdf_text(built_demo.out / "report.pdf")
    for words in ("Foundation demo", "31 May 2024", "The cohort", "Table 1.",
                  "Overall survival", "Event-free survival", "Statistical methods",
                  "Provenance"):
        assert words in text, words


def test_default_output_folder_is_report_beside_the_config(cp, tmp_path, monkeypatch):
    # A fake PDF renderer keeps this test fast; the folder logic is what is tested.
    project = cp.Project(tmp_path / "p", toml='plugins = ["fake_pdf.py"]\n' + cp.DEMO_TOML)
    project.write("fake_pdf.py", FAKE_PDF)
    monkeypatch.chdir(tmp_path)
    result = cp.run_cli(["build", "p/report.toml", "-q"])
    assert result.code == 0, result.err
    assert (project.root / "report" / "report.pdf").read_bytes() == b"%PDF-fake"


FAKE_PDF = '''
from pathlib import Path
from cohortpress import hookimpl

@hookimpl
def cohortpress_render_pdf(html, output, settings):
    Path(output).write_bytes(b"%PDF-fake")
    return True
'''


def test_validate_checks_without_writing(cp, tmp_path, capsys):
    project = cp.Project(tmp_path / "p")
    result = cp.run_cli(["validate", project.config], capsys)
    assert result.code == 0
    assert result.err_lines[-1] == "cohortpress: valid: 1 sections, 8 patients, 2 endpoints"
    assert sorted(p.name for p in project.root.iterdir()) == ["cohort.csv", "report.toml"]


# --------------------------------------------------------------------------- failing sections


@pytest.fixture(scope="module")
def failed_build(cp, tmp_path_factory):
    project = failing_project(cp, tmp_path_factory.mktemp("failing") / "p")
    result = cp.run_cli(["build", project.config, "--output", project.out])
    return project, result


def test_a_failing_analysis_gives_exit_1_and_an_error_block(failed_build, cp):
    project, result = failed_build
    assert result.code == 1
    assert "[2/3] broken (boom) FAILED" in result.err
    assert "ZeroDivisionError: the denominator was zero" in result.err
    assert "Traceback" not in result.err and "cohortpress: error" not in result.err
    html = (project.out / "report.html").read_text(encoding="utf-8")
    assert "This section could not be produced." in html
    text = cp.squeeze(cp.pdf_text(project.out / "report.pdf"))
    assert cp.squeeze("This section could not be produced. the analysis 'boom' failed: "
                      "ZeroDivisionError: the denominator was zero") in text
    assert cp.squeeze("1 section could not be produced: broken.") in text
    # The rest of the report is built.
    assert cp.squeeze("After the failure") in text and cp.squeeze("Table 2.") in text


def test_a_failing_section_writes_no_records(failed_build):
    project, _ = failed_build
    records = json.loads((project.out / "results.json").read_text())["results"]
    assert {r["section"] for r in records} == {"overview", "after"}
    assert (project.out / "tables" / "after.csv").is_file()
    assert not (project.out / "tables" / "broken.csv").exists()


def test_strict_exits_1_and_writes_nothing(cp, tmp_path, capsys):
    project = failing_project(cp, tmp_path / "p")
    result = cp.run_cli(["build", project.config, "--output", project.out, "--strict"], capsys)
    assert result.code == 1
    assert result.error_lines == [
        f"cohortpress: error: {project.config}: section 'broken' failed (--strict): the "
        f"analysis 'boom' failed: ZeroDivisionError: the denominator was zero"]
    assert not project.out.exists()
    assert cp.staging_leftovers(project.out) == []


def test_strict_leaves_a_previous_report_untouched(cp, tmp_path):
    project = failing_project(cp, tmp_path / "p")
    project.out.mkdir()
    (project.out / "report.pdf").write_bytes(b"%PDF-previous")
    before = cp.snapshot(project.out)
    result = cp.run_cli(["build", project.config, "-o", project.out, "--strict", "-q"])
    assert result.code == 1 and len(result.err_lines) == 1
    assert cp.snapshot(project.out) == before


def test_section_timeout_becomes_an_error_block(cp, tmp_path):
    slow = ('import time\nfrom cohortpress import hookimpl, Analysis\n'
            'def run(cohort, options, context):\n    time.sleep(3)\n'
            '@hookimpl\ndef cohortpress_analyses():\n    return [Analysis("slow", run)]\n')
    toml = ('plugins = ["slow.py"]\n' + cp.DEMO_TOML.replace(
        'date = "2024-05-31"', 'date = "2024-05-31"\nsection_timeout = 0.2')
        + '[[section]]\nid = "slow"\nanalysis = "slow"\n')
    project = cp.Project(tmp_path / "p", toml=toml)
    project.write("slow.py", slow)
    plan = plan_build(project.config)
    cohort = load_cohort(plan)
    started = time.perf_counter()
    section = run_section(plan.sections[1], cohort, plan.config, 0.2)
    assert time.perf_counter() - started < 2.5  # the analysis sleeps 3 s
    assert section.failed and "did not finish within 0.2 s" in section.blocks[0].message


@pytest.mark.parametrize("body, words", [
    ("return 'a string'", "returned str, not a Section"),
    ("return context.section(blocks=['text'])", "returned a block of type str"),
    ("return context.section(blocks=[Table('c', (Row.of('a', float('nan')),), ())])",
     "a table cell holds 'nan'"),
    ("raise cohortpress.StatisticsError('no events in group B')", "no events in group B"),
    ("raise cohortpress.DataError('bad column', column='age')", "column 'age': bad column"),
])
def test_malformed_analysis_output_becomes_an_error_block(cp, tmp_path, body, words):
    text = ('import cohortpress\nfrom cohortpress import hookimpl, Analysis, Table, Row\n'
            f'def run(cohort, options, context):\n    {body}\n'
            '@hookimpl\ndef cohortpress_analyses():\n    return [Analysis("odd", run)]\n')
    project = cp.Project(tmp_path / "p", toml='plugins = ["odd.py"]\n' + cp.DEMO_TOML
                         + '[[section]]\nid = "odd"\nanalysis = "odd"\n')
    project.write("odd.py", text)
    plan = plan_build(project.config)
    section = run_section(plan.sections[1], load_cohort(plan), plan.config, 30)
    assert section.failed and section.id == "odd"
    assert words in section.blocks[0].message


def _one_section_project(cp, tmp_path, body: str, sections: int = 1):
    text = ('import os, sys, time\nfrom pathlib import Path\n'
            'from cohortpress import hookimpl, Analysis, Paragraph\n'
            f'def run(cohort, options, context):\n    {body}\n'
            '@hookimpl\ndef cohortpress_analyses():\n    return [Analysis("odd", run)]\n')
    heads = "".join(f'[[section]]\nid = "odd{i}"\nanalysis = "odd"\n' for i in range(sections))
    project = cp.Project(tmp_path / "p", toml='plugins = ["odd.py"]\n' + cp.DEMO_TOML + heads)
    project.write("odd.py", text)
    return project


@pytest.mark.skipif(not hasattr(os, "fork"), reason="without fork a timed-out analysis runs on")
def test_a_timed_out_analysis_is_stopped_not_left_running(cp, tmp_path):
    project = _one_section_project(
        cp, tmp_path, 'time.sleep(1.5); Path(context.config_dir, "late.txt").write_text("x")')
    plan = plan_build(project.config)
    section = run_section(plan.sections[1], load_cohort(plan), plan.config, 0.2)
    assert section.failed and "did not finish within 0.2 s" in section.blocks[0].message
    time.sleep(2.5)
    assert not (project.root / "late.txt").exists()


@pytest.mark.parametrize("body, words", [
    ("sys.exit(3)", "the analysis 'odd' tried to end the program: it raised SystemExit (3)"),
    ("raise SystemExit", "the analysis 'odd' tried to end the program: it raised SystemExit"),
    ("raise KeyboardInterrupt",
     "the analysis 'odd' tried to end the program: it raised KeyboardInterrupt"),
    pytest.param("os._exit(7)", "the analysis 'odd' failed: the child process exited with "
                 "status 7 without an answer",
                 marks=pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")),
])
def test_an_analysis_that_tries_to_end_the_program_is_a_failed_section(cp, tmp_path, body,
                                                                       words):
    from cohortpress.app.build import build
    from cohortpress.common.progress import Progress

    project = _one_section_project(cp, tmp_path, body)
    outcome = build(project.config, project.out, progress=Progress(quiet=True),
                    pdf_worker=False)
    assert outcome.exit_code == 1
    (failed,) = [s for s in outcome.sections if s.failed]
    assert failed.blocks[0].message.startswith(words)


def test_the_sections_of_a_build_share_one_worker_process(cp, tmp_path):
    from cohortpress.app.build import build
    from cohortpress.common.progress import Progress

    body = ('sys.modules[__name__].__dict__.setdefault("calls", []).append(1)\n'
            '    return context.section(blocks=[Paragraph(f"{os.getpid()} '
            '{len(sys.modules[__name__].calls)}")])')
    project = _one_section_project(cp, tmp_path, body, sections=2)
    outcome = build(project.config, project.out, progress=Progress(quiet=True),
                    pdf_worker=False)
    assert outcome.exit_code == 0
    first, second = (s.blocks[0].text.split() for s in outcome.sections[1:])
    # One process for both (its module state carries from one section to the next), and not
    # this one where fork exists: what the analyses change in it is gone after the build.
    assert first[0] == second[0] and (first[1], second[1]) == ("1", "2")
    assert (first[0] != str(os.getpid())) == hasattr(os, "fork")


# --------------------------------------------------------------------------- atomic output


def test_a_build_failing_while_rendering_leaves_the_previous_report(built_demo, cp, tmp_path,
                                                                    capsys):
    """The previous report is byte-identical after a build that fails late: the analyses
    ran, the results and tables were staged, and the PDF renderer refused a URL."""
    previous = cp.snapshot(built_demo.out)
    toml = built_demo.project.config.read_text().replace(
        'date = "2024-05-31"', 'date = "2024-05-31"\ncss = ["bad.css"]')
    project = cp.Project(tmp_path / "p", toml=toml)
    project.write("bad.css", "body { background: url(file:///etc/hostname); }\n")
    import shutil

    shutil.copytree(built_demo.out, project.out)
    result = cp.run_cli(["build", project.config, "--output", project.out], capsys)
    assert result.code == 2
    assert "rendered HTML" in result.err  # it failed late, after staging
    assert len(result.error_lines) == 1 and "refused file:///etc/hostname" in result.err
    assert cp.snapshot(project.out) == previous
    assert cp.staging_leftovers(project.out) == []


SLEEPY = '''
import os, time
from pathlib import Path
from cohortpress import hookimpl

@hookimpl
def cohortpress_prepare_jinja_env(env):
    marker = os.environ.get("COHORTPRESS_TEST_MARKER")
    if marker:
        Path(marker).write_text(str(os.getpid()))
        time.sleep(120)
'''


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_build_killed_while_rendering_leaves_the_previous_report_and_the_next_cleans_up(
        cp, tmp_path):
    project = cp.Project(tmp_path / "p", toml='plugins = ["sleepy.py"]\n' + cp.DEMO_TOML)
    project.write("sleepy.py", SLEEPY)
    first = cp.run_cli(["build", project.config, "--output", project.out, "-q"])
    assert first.code == 0, first.err
    previous = cp.snapshot(project.out)
    marker = tmp_path / "rendering-started"
    env = {**os.environ, "COHORTPRESS_TEST_MARKER": str(marker)}
    child = subprocess.Popen([sys.executable, "-m", "cohortpress", "build", str(project.config),
                              "--output", str(project.out), "-q"], cwd=project.root, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the build never reached the rendering"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert cp.snapshot(project.out) == previous
    # SIGKILL cannot be caught: the staging folder of the killed build is left behind...
    left = cp.staging_leftovers(project.out)
    assert len(left) == 1 and left[0].startswith(f"{staging_prefix(project.out)}{child.pid}-")
    # ...and the next build into the same folder removes it.
    again = cp.run_cli(["build", project.config, "--output", project.out, "-q"])
    assert again.code == 0, again.err
    assert cp.staging_leftovers(project.out) == []
    assert cp.snapshot(project.out) == previous  # and is deterministic


def test_stale_staging_rules(tmp_path):
    out = tmp_path / "report"
    prefix = staging_prefix(out)
    assert prefix == ".report.cohortpress-tmp-"
    live = tmp_path / f"{prefix}{os.getpid()}-abc"  # this process: a build in progress
    dead = tmp_path / f"{prefix}{_dead_pid()}-abc"
    old_unknown = tmp_path / f"{prefix}xyz"  # no pid: removed only when old
    new_unknown = tmp_path / f"{prefix}uvw"
    other = tmp_path / ".other.cohortpress-tmp-1-abc"  # another output folder's
    for folder in (live, dead, old_unknown, new_unknown, other):
        (folder / "tables").mkdir(parents=True)
        (folder / "tables" / "x.csv").write_text("x")
    two_hours_ago = time.time() - 7200
    os.utime(old_unknown, (two_hours_ago, two_hours_ago))
    removed = remove_stale_staging(out)
    assert sorted(removed) == sorted([dead, old_unknown])
    assert live.exists() and new_unknown.exists() and other.exists()
    assert not dead.exists() and not old_unknown.exists()


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_outputs_replace_the_previous_ones_only_when_all_are_ready(cp, tmp_path):
    project = cp.Project(tmp_path / "p", toml='plugins = ["fake_pdf.py"]\n' + cp.DEMO_TOML)
    project.write("fake_pdf.py", FAKE_PDF)
    project.out.mkdir()
    (project.out / "notes.txt").write_text("mine")  # a file the build does not make
    result = cp.run_cli(["build", project.config, "--output", project.out, "-q"])
    assert result.code == 0, result.err
    assert (project.out / "notes.txt").read_text() == "mine"
    assert (project.out / "report.pdf").read_bytes() == b"%PDF-fake"
    assert cp.staging_leftovers(project.out) == []
    assert not math.isnan(json.loads((project.out / "results.json").read_text())
                          ["results"][0]["stat"])
