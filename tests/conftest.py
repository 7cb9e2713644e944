"""Shared helpers for the foundation tests: a small project on disk, the CLI run in-process,
PDF text read back with poppler, one demo report built once per test session, pytest run
in a child process with each test's outcome read back, and ``by_meaning``
(tests/by_meaning.py) to compare a report's outputs by what they say.

Nothing here refers to a machine path: projects live in pytest's ``tmp_path`` and the
repository is found from this file.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib.util
import io
import shutil
import types
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path

# Builds in this process render their PDFs here, with WeasyPrint loaded once for the session
# (cohortpress.app.build starts a PDF worker process only while WeasyPrint is not loaded). The
# worker is tested in test_pdfworker.py and by every command run in a subprocess.
import weasyprint  # noqa: E402,F401

import pytest

REPO = Path(__file__).resolve().parents[1]

# A small cohort with everything the foundation handles: an id, a group, a categorical with
# display labels and a missing code, a continuous with a numeric missing code, dates for a
# composite endpoint with a competing event, and time/event columns coded as words.
DEMO_CSV = """\
id,arm,sex,age,dx,relapse,death,trm,last,os_months,os_status
P1,A,M,34,2010-01-01,2011-01-01,2012-03-01,,2012-03-01,26.0,dead
P2,A,F,45,2010-02-01,,,,2015-01-01,59.0,alive
P3,B,F,50,2011-01-01,,2011-09-01,,2011-09-01,8.0,dead
P4,B,M,61,2011-05-01,,,2011-08-01,2016-01-01,3.0,dead
P5,A,U,99,2012-01-01,2013-06-01,,,2014-01-01,24.0,alive
P6,B,F,28,2012-03-01,,,,2017-03-01,60.0,alive
P7,A,M,71,2013-01-01,2013-04-01,2013-05-01,,2013-05-01,4.0,dead
P8,B,F,40,2013-06-01,,,,2018-06-01,60.0,alive
"""

DEMO_TOML = """\
[report]
title = "Foundation demo"
date = "2024-05-31"

[cohort]
path = "cohort.csv"
id = "id"
group = "arm"

[variables.arm]
label = "Treatment arm"
levels = ["B", "A"]
labels = { A = "Arm A", B = "Arm B" }

[variables.sex]
label = "Sex"
levels = ["F", "M"]
labels = { F = "Female", M = "Male" }
missing = ["U"]

[variables.age]
label = "Age"
kind = "continuous"
unit = "years"
missing = [99]

[endpoints.os]
label = "Overall survival"
time = "os_months"
time_unit = "months"
unit = "years"
event = "os_status"
event_codes = ["dead"]
censor_codes = ["alive"]

[endpoints.efs]
label = "Event-free survival"
start = "dx"
events = ["relapse", "death"]
competing = ["trm"]
last_contact = "last"
unit = "months"

[[section]]
id = "overview"
analysis = "overview"
title = "The cohort"
endpoints = ["os", "efs"]
"""


@dataclasses.dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err_lines if line.startswith("cohortpress: error:")]


def run_cli(args, capsys=None) -> CliResult:
    """``cohortpress ARGS`` in this process, through the real entry point.

    With ``capsys`` the output is read from pytest's capture; without (in module-scoped
    fixtures, where capsys is not available) ``sys.stdout``/``sys.stderr`` are redirected.
    """
    from cohortpress.cli import main

    def call() -> int:
        try:
            return main([str(a) for a in args])
        except SystemExit as exc:  # argparse exits on bad usage
            return exc.code if isinstance(exc.code, int) else 2

    if capsys is not None:
        capsys.readouterr()  # drop anything printed before
        code = call()
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = call()
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli_subprocess(args, cwd: Path, timeout: float = 120, env=None) -> CliResult:
    """``python -m cohortpress ARGS`` in a child process (for what needs a real process)."""
    proc = subprocess.run([sys.executable, "-m", "cohortpress", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


class Project:
    """A report project in a folder: ``report.toml``, ``cohort.csv`` and any other file."""

    def __init__(self, root: Path, toml: str = DEMO_TOML, csv: str | bytes = DEMO_CSV):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.write("report.toml", toml)
        if csv is not None:
            self.write("cohort.csv", csv)

    @property
    def config(self) -> Path:
        return self.root / "report.toml"

    @property
    def out(self) -> Path:
        return self.root / "out"

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content) if content.startswith("\n") else content,
                            encoding="utf-8")
        return path

    def plan(self):
        from cohortpress.app.build import plan_build

        return plan_build(self.config)

    def cohort(self):
        """The typed cohort, through the real plan and reader hook."""
        from cohortpress.app.build import load_cohort

        return load_cohort(self.plan())


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path / "proj")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes), to prove it was not touched."""
    if not folder.exists():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def staging_leftovers(folder: Path) -> list[str]:
    """Temporary build folders left beside an output folder."""
    return sorted(p.name for p in folder.parent.iterdir() if ".cohortpress-tmp-" in p.name)


# --------------------------------------------------------------------------- poppler


def poppler(tool: str) -> str:
    """The path of a poppler tool, or skip the test saying why."""
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} (poppler-utils) is not installed; the PDF cannot be read back")
    return path


def pdf_text(pdf: Path, *options: str) -> str:
    exe = poppler("pdftotext")
    return subprocess.run([exe, *options, str(pdf), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout


def squeeze(text: str) -> str:
    """Text without whitespace, hyphenation marks or bidi controls, for robust matching.

    WeasyPrint hyphenates and wraps table cells (inserting U+2010 at breaks); pdftotext
    wraps right-to-left runs in embedding controls.
    """
    drop = {"\u2010", "\u00ad", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
            "\u200e", "\u200f", "\u2066", "\u2067", "\u2068", "\u2069"}
    return "".join(c for c in text if not c.isspace() and c not in drop)


# --------------------------------------------------------------------------- pytest in a child


@dataclasses.dataclass
class InnerRun:
    """A pytest run in a child process: its exit code, output and each test's outcome."""

    returncode: int
    stdout: str
    stderr: str
    outcomes: dict[str, tuple[str, str]]  # test name -> ("passed" | "skipped" | ..., message)

    def tail(self) -> str:
        return self.stdout[-4000:] + self.stderr[-2000:]


def run_pytest(args, cwd: Path, report: Path, env=None, timeout: float = 300) -> InnerRun:
    """``python -m pytest ARGS`` in ``cwd``; the outcomes are read from a JUnit XML report
    written to ``report`` (not from the summary line, whose counts depend on what the
    machine has installed)."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           f"--junitxml={report}", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    outcomes = {}
    if report.is_file():
        for case in ElementTree.parse(report).iter("testcase"):
            outcome, message = "passed", ""
            for child in case:
                if child.tag in ("skipped", "failure", "error"):
                    outcome = {"failure": "failed"}.get(child.tag, child.tag)
                    message = child.get("message") or ""
                    break
            outcomes[case.get("name")] = (outcome, message)
    return InnerRun(proc.returncode, proc.stdout, proc.stderr, outcomes)


def defined_tests(path: Path) -> list[str]:
    """The test functions a test file defines, by name, in order."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


def assert_tests_passed(run: InnerRun, names) -> list[str]:
    """Every named test passed, or was skipped only because ``pdftotext`` is missing here.

    Returns the names of the tests skipped for that reason, so the caller can say so.
    """
    assert run.returncode == 0, run.tail()
    problems, without_pdftotext = [], []
    for name in names:
        outcome, message = run.outcomes.get(name, ("not run", ""))
        if outcome == "skipped" and "pdftotext" in message and shutil.which("pdftotext") is None:
            without_pdftotext.append(name)
        elif outcome != "passed":
            problems.append(f"{name}: {outcome} {message}".rstrip())
    assert not problems, "\n".join(problems) + "\n" + run.tail()
    return without_pdftotext


# --------------------------------------------------------------------------- by meaning


def _load_by_meaning():
    spec = importlib.util.spec_from_file_location("cohortpress_tests_by_meaning",
                                                  Path(__file__).with_name("by_meaning.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


by_meaning = _load_by_meaning()


# --------------------------------------------------------------------------- one shared build


@dataclasses.dataclass
class Built:
    project: Project
    result: CliResult

    @property
    def out(self) -> Path:
        return self.project.out


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory) -> Built:
    """The demo report, built once for the session through the CLI (in a child process, so
    that its stderr is captured without capsys)."""
    project = Project(tmp_path_factory.mktemp("demo") / "proj")
    result = run_cli_subprocess(["build", project.config, "--output", project.out],
                                cwd=project.root)
    assert result.code == 0, result.err
    return Built(project, result)


@pytest.fixture(scope="session")
def cp():
    """The helpers above, for test modules (``--import-mode=importlib`` cannot import
    conftest by name)."""
    return types.SimpleNamespace(
        REPO=REPO, DEMO_CSV=DEMO_CSV, DEMO_TOML=DEMO_TOML, Project=Project, run_cli=run_cli,
        run_cli_subprocess=run_cli_subprocess, snapshot=snapshot,
        staging_leftovers=staging_leftovers, poppler=poppler, pdf_text=pdf_text,
        squeeze=squeeze, run_pytest=run_pytest, defined_tests=defined_tests,
        assert_tests_passed=assert_tests_passed, by_meaning=by_meaning)
