"""Hostile data and templates: cohort values and labels are shown as text and never run or
fetch anything; nothing is embedded in the PDF unless asked; user templates are sandboxed
and time-limited; the PDF renderer refuses every URL but data: and its own static files."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time

import pytest

HTML = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "<b>bold</b>"]
REFS = ['<link rel="attachment" href="file:///etc/hostname">', "url(file:///etc/passwd)",
        "http://example.invalid/x.png"]
JINJA = ["{{ 7*7 }}", "{% for x in range(3) %}loop{% endfor %}", "{# hidden? #}"]
WORLD = ["שלום", "مرحبا", "🧬🧪"]

COLUMNS = {"html": HTML, "refs": REFS, "jinja": JINJA, "world": WORLD}


def csv_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def hostile_csv() -> str:
    lines = ["id,t,e," + ",".join(COLUMNS)]
    for i in range(6):
        values = [csv_quote(COLUMNS[c][i % 3]) for c in COLUMNS]
        lines.append(f"P{i},{i + 1},{i % 2}," + ",".join(values))
    return "\n".join(lines) + "\n"


HOSTILE_TOML = """\
[report]
title = "Hostile {{ 7*7 }} <i>title</i>"
subtitle = "{% for x in range(3) %}sub{% endfor %}"
authors = ["<script>alert('author')</script>"]
notice = "<link rel=\\"attachment\\" href=\\"file:///etc/hostname\\">"

[cohort]
path = "cohort.csv"
id = "id"

[endpoints.os]
label = "<img src=x onerror=alert('endpoint')>"
time = "t"
time_unit = "years"
event = "e"
""" + "".join(f"""
[[section]]
id = "{name}"
analysis = "overview"
title = "Section {name} {{{{ 7*7 }}}}"
by = "{name}"
endpoints = ["os"]
caption = "Caption <u>{name}</u> {{% if true %}}yes{{% endif %}}"
""" for name in COLUMNS)


@pytest.fixture(scope="module")
def hostile(cp, tmp_path_factory):
    project = cp.Project(tmp_path_factory.mktemp("hostile") / "proj", toml=HOSTILE_TOML,
                         csv=hostile_csv())
    result = cp.run_cli(["build", project.config, "--output", project.out, "--quiet"])
    assert result.code == 0, result.err
    return project


@pytest.fixture(scope="module")
def hostile_text(hostile, cp):
    return cp.squeeze(cp.pdf_text(hostile.out / "report.pdf", "-raw"))


@pytest.mark.parametrize("value", HTML + REFS + JINJA + WORLD)
def test_cohort_values_are_shown_literally_in_the_pdf(hostile_text, cp, value):
    assert cp.squeeze(value) in hostile_text


@pytest.mark.parametrize("value", [
    "Hostile {{ 7*7 }} <i>title</i>", "{% for x in range(3) %}sub{% endfor %}",
    "<script>alert('author')</script>", '<link rel="attachment" href="file:///etc/hostname">',
    "<img src=x onerror=alert('endpoint')>", "Section html {{ 7*7 }}",
    "Caption <u>refs</u> {% if true %}yes{% endif %}",
])
def test_config_text_is_shown_literally_in_the_pdf(hostile_text, cp, value):
    assert cp.squeeze(value) in hostile_text


def test_jinja_in_data_never_runs(hostile_text):
    assert "Hostile49" not in hostile_text and "Sectionhtml49" not in hostile_text
    assert "looplooploop" not in hostile_text and "subsubsub" not in hostile_text


def test_the_html_escapes_everything(hostile):
    html = (hostile.out / "report.html").read_text(encoding="utf-8")
    for raw in ("<script>alert(", "<img src=x", '<link rel="attachment"', "<b>bold</b>",
                "<i>title</i>", "<u>refs</u>"):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html


def test_results_keep_the_values_unchanged(hostile):
    records = json.loads((hostile.out / "results.json").read_text(encoding="utf-8"))["results"]
    levels = {r["group_level"] for r in records if r["group_level"] is not None}
    assert levels == set(HTML + REFS + JINJA + WORLD)


def test_nothing_is_embedded(hostile, cp):
    exe = cp.poppler("pdfdetach")
    listing = subprocess.run([exe, "-list", str(hostile.out / "report.pdf")], check=True,
                             capture_output=True, text=True, timeout=60).stdout
    assert listing.strip() == "0 embedded files"
    assert b"/EmbeddedFile" not in (hostile.out / "report.pdf").read_bytes()


def test_pdf_a_embeds_the_results_and_only_them(cp, tmp_path):
    """The one case where the PDF holds a file: pdf_variant asks for results.json. (This also
    shows the byte check above can fail.)"""
    toml = cp.DEMO_TOML.replace('date = "2024-05-31"',
                                'date = "2024-05-31"\npdf_variant = "pdf/a-3b"')
    project = cp.Project(tmp_path / "p", toml=toml)
    result = cp.run_cli(["build", project.config, "--output", project.out, "-q"])
    assert result.code == 0, result.err
    pdf = project.out / "report.pdf"
    assert b"/EmbeddedFile" in pdf.read_bytes()
    exe = cp.poppler("pdfdetach")
    listing = subprocess.run([exe, "-list", str(pdf)], check=True, capture_output=True,
                             text=True, timeout=60).stdout
    assert listing.splitlines()[0] == "1 embedded files"
    assert listing.splitlines()[1].endswith("results.json")
    saved = tmp_path / "attached.json"
    subprocess.run([exe, "-save", "1", "-o", str(saved), str(pdf)], check=True, timeout=60)
    assert saved.read_bytes() == (project.out / "results.json").read_bytes()


# --------------------------------------------------------------------------- nothing fetched


EXTENDS = '{% extends "default:report.html.j2" %}\n{% block head_extra %}'


@pytest.mark.parametrize("where, content, refused", [
    ("template", '<link rel="attachment" href="file:///etc/hostname">', "file:///etc/hostname"),
    ("template", '<img src="file:///etc/hostname">', "file:///etc/hostname"),
    ("template", '<img src="http://example.invalid/x.png">', "http://example.invalid/x.png"),
    ("template", '<link rel="stylesheet" href="https://example.invalid/a.css">',
     "https://example.invalid/a.css"),
    ("template", '<img src="../../../../../../../../etc/hostname">', "file:///etc/hostname"),
    ("template", '<object data="file:///etc/hostname"></object>', "file:///etc/hostname"),
    ("css", "body { background: url(file:///etc/passwd); }", "file:///etc/passwd"),
    ("css", "h1 { background-image: url('http://example.invalid/bg.png'); }",
     "http://example.invalid/bg.png"),
    ("css", '@font-face { font-family: "X"; src: url(ftp://example.invalid/x.ttf); }\n'
            'body { font-family: "X"; }', "ftp://example.invalid/x.ttf"),
])
def test_user_templates_and_css_cannot_fetch(cp, tmp_path, capsys, where, content, refused):
    if where == "template":
        setting = 'templates = "tpl"'
        files = {"tpl/report.html.j2": EXTENDS + content + "{% endblock %}\n"}
    else:
        setting = 'css = ["extra.css"]'
        files = {"extra.css": content + "\n"}
    toml = cp.DEMO_TOML.replace('date = "2024-05-31"', f'date = "2024-05-31"\n{setting}')
    project = cp.Project(tmp_path / "p", toml=toml)
    for name, text in files.items():
        project.write(name, text)
    result = cp.run_cli(["build", project.config, "--output", project.out, "-q"], capsys)
    assert result.code == 2
    assert result.err_lines == [
        f"cohortpress: error: {project.config}: the report may only load data: URLs and its "
        f"own static files; refused {refused}"]
    assert not project.out.exists()
    assert cp.staging_leftovers(project.out) == []


def test_data_urls_are_allowed(cp, tmp_path):
    """The allowed set is not empty: a user template may inline an image as a data: URL."""
    pixel = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4"
             "2mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    toml = cp.DEMO_TOML.replace('date = "2024-05-31"', 'date = "2024-05-31"\ntemplates = "t"')
    project = cp.Project(tmp_path / "p", toml=toml)
    project.write("t/report.html.j2", EXTENDS + f'<img src="{pixel}" alt="dot">'
                  "{% endblock %}\n")
    # Only the fetcher is under test: render the HTML to PDF bytes directly.
    from cohortpress.app.load import load_cohort
    from cohortpress.app.run import run_section
    from cohortpress.render.weasy import write_pdf
    from cohortpress.render.context import render_report

    plan = project.plan()
    cohort = load_cohort(plan)
    sections = [run_section(s, cohort, plan.config, 30) for s in plan.sections]
    html, settings = render_report(plan, cohort, sections)
    assert pixel in html
    out = tmp_path / "x.pdf"
    write_pdf(html, out, settings)
    assert out.read_bytes().startswith(b"%PDF")


# --------------------------------------------------------------------------- the sandbox


@pytest.mark.parametrize("expression", [
    "{{ ''.__class__.__mro__ }}",
    "{{ report.__class__.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{% set xs = [] %}{{ xs.append(1) }}",
    "{{ report.title.__class__.__subclasses__() }}",
])
def test_user_templates_render_in_a_sandbox(cp, tmp_path, capsys, expression):
    toml = cp.DEMO_TOML.replace('date = "2024-05-31"', 'date = "2024-05-31"\ntemplates = "t"')
    project = cp.Project(tmp_path / "p", toml=toml)
    project.write("t/report.html.j2", EXTENDS + expression + "{% endblock %}\n")
    result = cp.run_cli(["build", project.config, "--output", project.out, "-q"], capsys)
    assert result.code == 2
    (line,) = result.err_lines
    assert line.startswith("cohortpress: error: report.html.j2: template tried something the "
                           "sandbox forbids: access to attribute ")
    assert line.endswith("is unsafe.")
    assert not project.out.exists()


def test_a_template_that_loops_for_ever_is_stopped(cp, tmp_path, capsys, monkeypatch):
    """The render time limit (60 s by default) is set by $COHORTPRESS_RENDER_TIMEOUT."""
    monkeypatch.setenv("COHORTPRESS_RENDER_TIMEOUT", "1")
    toml = cp.DEMO_TOML.replace('date = "2024-05-31"', 'date = "2024-05-31"\ntemplates = "t"')
    project = cp.Project(tmp_path / "p", toml=toml)
    project.write("t/report.html.j2", EXTENDS + "{% for i in range(100000) %}"
                  "{% for j in range(100000) %}{{ i * j }}{% endfor %}{% endfor %}"
                  "{% endblock %}\n")
    started = time.perf_counter()
    result = cp.run_cli(["build", project.config, "--output", project.out, "-q"], capsys)
    elapsed = time.perf_counter() - started
    assert result.code == 2
    assert result.err_lines == ["cohortpress: error: report.html.j2: rendering the templates "
                                "took longer than 1 s (a template loop that does not end?)"]
    # Loading and the analyses take a second or two, more on a loaded machine; without the
    # limit the loop would run for hours (and the message would name 60 s).
    assert elapsed < 60
    assert not project.out.exists()
    # The runaway render ran in a child process, killed: nothing is left spinning here.
    # (Without fork it runs in a thread, abandoned: see cohortpress.common.timelimit.)
    if hasattr(os, "fork"):
        assert not any(t.name == "time-limited call" for t in threading.enumerate())


def test_render_timeout_setting_must_be_a_positive_number(cp, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COHORTPRESS_RENDER_TIMEOUT", "soon")
    fake = ('from pathlib import Path\nfrom cohortpress import hookimpl\n@hookimpl\n'
            'def cohortpress_render_pdf(html, output, settings):\n'
            '    Path(output).write_bytes(b"%PDF-fake")\n    return True\n')
    project = cp.Project(tmp_path / "p", toml='plugins = ["fake.py"]\n' + cp.DEMO_TOML)
    project.write("fake.py", fake)
    result = cp.run_cli(["build", project.config, "--output", project.out, "-q"], capsys)
    assert result.code == 2
    assert result.err_lines == ["cohortpress: error: key '$COHORTPRESS_RENDER_TIMEOUT': must "
                                "be a positive number of seconds, got 'soon'"]


def test_no_machine_path_reaches_the_report_files(tmp_path):
    """Plugin files, the cohort and the config are named relative to the config's folder."""
    import json
    import shutil
    import subprocess

    from cohortpress.app.build import Progress, build

    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "cohort.csv").write_text("id,arm\nP1,A\nP2,B\n", encoding="utf-8")
    (folder / "extra.py").write_text(
        "from cohortpress import hookimpl\n\n@hookimpl\ndef cohortpress_analyses():\n"
        "    return []\n", encoding="utf-8")
    (folder / "report.toml").write_text(
        '[report]\ntitle = "Paths"\nexports = ["csv"]\nplugins = ["extra.py"]\n'
        '[cohort]\npath = "cohort.csv"\nid = "id"\ngroup = "arm"\n'
        '[[section]]\nid = "o"\nanalysis = "overview"\n', encoding="utf-8")
    text = (folder / "report.toml").read_text(encoding="utf-8")
    # 'plugins' is a top-level key: move it above the first table.
    text = 'plugins = ["extra.py"]\n' + text.replace('plugins = ["extra.py"]\n', "")
    (folder / "report.toml").write_text(text, encoding="utf-8")
    out = folder / "out"
    assert build(folder / "report.toml", out, progress=Progress(quiet=True)).exit_code == 0
    results = (out / "results.json").read_text(encoding="utf-8")
    assert str(tmp_path) not in results
    assert "extra.py" in json.dumps(json.loads(results)["report"]["generated_with"])
    if shutil.which("pdftotext"):
        pdf_text = subprocess.run(["pdftotext", str(out / "report.pdf"), "-"],
                                  capture_output=True, text=True, check=True).stdout
        assert str(tmp_path) not in pdf_text.replace("\n", "")
    else:  # pragma: no cover
        pytest.skip("pdftotext (poppler-utils) is not installed; the PDF text was not checked")


# --------------------------------------------------------------------------- formula cells

TRIGGER_CSV = "".join(
    line + (",note\n" if i == 0 else f",{['-1.5', '=cmd|x', '@SUM(A1)', '+1'][i % 4]}\n")
    for i, line in enumerate(__import__("textwrap").dedent("""\
    id,arm,sex,age,dx,relapse,death,trm,last,os_months,os_status
    P1,A,M,34,2010-01-01,2011-01-01,2012-03-01,,2012-03-01,26.0,dead
    P2,A,F,45,2010-02-01,,,,2015-01-01,59.0,alive
    P3,B,F,50,2011-01-01,,2011-09-01,,2011-09-01,8.0,dead
    P4,B,M,61,2011-05-01,,,2011-08-01,2016-01-01,3.0,dead
    P5,A,U,99,2012-01-01,2013-06-01,,,2014-01-01,24.0,alive
    P6,B,F,28,2012-03-01,,,,2017-03-01,60.0,alive
    """).splitlines()))


def _every_export_text(folder) -> list[str]:
    """Every text of every table export: CSV fields, XLSX cells, DOCX paragraphs and cells."""
    import csv

    import openpyxl
    from docx import Document

    texts = []
    for path in sorted(folder.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            texts += [field for row in csv.reader(handle) for field in row]
    for path in sorted(folder.glob("*.xlsx")):
        for sheet in openpyxl.load_workbook(path).worksheets:
            texts += [c.value for row in sheet.iter_rows() for c in row
                      if isinstance(c.value, str)]
    for path in sorted(folder.glob("*.docx")):
        document = Document(path)
        texts += [p.text for p in document.paragraphs]
        texts += [c.text for t in document.tables for row in t.rows for c in row.cells]
        texts.append(document.core_properties.title)
    return texts


def test_no_export_holds_a_formula_whatever_the_origin_of_the_text(cp, tmp_path):
    """Config labels, level labels, data values, captions and the title, each starting with
    a formula trigger, reach every export quoted; the report's own negative numbers (Unicode
    minus) are left as they are."""
    toml = cp.DEMO_TOML.replace('title = "Foundation demo"', 'title = "@title ' + "x" * 300
                                + '"\nexports = ["xlsx", "docx"]')
    toml = toml.replace('label = "Sex"', 'label = "=1+2 sex"').replace(
        'labels = { F = "Female", M = "Male" }', 'labels = { F = "+Female", M = "-Male" }')
    toml = toml.replace('label = "Overall survival"', 'label = "\\tOS"')
    toml += ('[variables.note]\nlabel = "\\rnote"\n\n'
             '[[section]]\nid = "demo"\nanalysis = "demographics"\ntitle = "-Demo"\n'
             'variables = ["sex", "age", "note"]\ncaption = "=caption"\n\n'
             '[[section]]\nid = "surv"\nanalysis = "survival"\nendpoints = ["os"]\n'
             'caption = "@surv caption"\nlandmarks = [1]\n')
    project = cp.Project(tmp_path / "p", toml=toml, csv=TRIGGER_CSV)
    result = cp.run_cli_subprocess(["build", project.config, "--output", project.out, "-q"],
                                   cwd=project.root)
    assert result.code == 0, result.err
    texts = _every_export_text(project.out / "tables")
    seen = " ".join(texts)
    for origin in ("'=1+2 sex", "'+Female", "'-Male", "'\tOS", "'\rnote", "'-1.5", "'=cmd|x",
                   "'@SUM(A1)", "'=caption", "'@surv caption", "'@title"):
        assert origin in seen, origin
    formulas = [t for t in texts if t and t[0] in "=+-@\t\r"]
    assert formulas == []


# --------------------------------------------------------------------------- hostile places


def _one_error(result) -> str:
    assert result.code == 2, result.err
    assert len(result.error_lines) == 1 and "Traceback" not in result.err, result.err
    return result.error_lines[0]


def test_an_output_path_that_is_a_file_is_one_line_and_exit_2(cp, tmp_path, capsys):
    project = cp.Project(tmp_path / "p")
    project.write("taken", "mine")
    line = _one_error(cp.run_cli(["build", project.config, "-o", project.root / "taken"],
                                 capsys))
    assert "taken is a file, not a folder" in line
    line = _one_error(cp.run_cli(["build", project.config, "-o",
                                  project.root / "taken" / "sub"], capsys))
    assert "taken is a file, so" in line
    assert (project.root / "taken").read_text() == "mine"


def test_a_symlink_inside_the_output_folder_is_replaced_never_followed(cp, tmp_path, capsys):
    project = cp.Project(tmp_path / "p")
    assert cp.run_cli(["build", project.config, "-o", project.out, "-q"], capsys).code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    import shutil

    shutil.rmtree(project.out / "tables")
    (project.out / "tables").symlink_to(elsewhere)
    (project.out / "results.json").unlink()
    (project.out / "results.json").symlink_to(elsewhere / "stolen.json")
    assert cp.run_cli(["build", project.config, "-o", project.out, "-q"], capsys).code == 0
    assert list(elsewhere.iterdir()) == []
    assert (project.out / "tables").is_dir() and not (project.out / "tables").is_symlink()
    assert (project.out / "tables" / "overview.csv").is_file()
    assert not (project.out / "results.json").is_symlink()


def test_an_unwritable_output_folder_is_one_line_and_exit_2(cp, tmp_path, capsys,
                                                            monkeypatch):
    project = cp.Project(tmp_path / "p")
    project.out.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False
                        if os.fspath(path) == os.fspath(project.out) else
                        real_access(path, mode, **kw))  # root may write anywhere
    line = _one_error(cp.run_cli(["build", project.config, "-o", project.out], capsys))
    assert f"{project.out} is not writable by this user" in line
    assert list(project.out.iterdir()) == []


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_cohort_that_is_not_a_regular_file_is_refused_at_once(cp, tmp_path, capsys, kind):
    if kind == "device":
        toml = cp.DEMO_TOML.replace('path = "cohort.csv"', 'path = "/dev/zero"\nformat = "csv"')
    else:
        toml = cp.DEMO_TOML.replace('path = "cohort.csv"', 'path = "pipe.csv"')
    project = cp.Project(tmp_path / "p", toml=toml)
    if kind == "fifo":
        os.mkfifo(project.root / "pipe.csv")
    started = time.monotonic()
    line = _one_error(cp.run_cli(["build", project.config, "-o", project.out], capsys))
    assert time.monotonic() - started < 30
    assert ("is a device" if kind == "device" else "is a FIFO (named pipe)") in line
    assert "the cohort must be a regular file" in line


def test_a_config_that_is_a_device_or_too_large_is_refused(cp, tmp_path, capsys):
    line = _one_error(cp.run_cli(["build", "/dev/zero"], capsys))
    assert line == "cohortpress: error: /dev/zero: is not a regular file; the config must " \
                   "be a TOML file"
    big = tmp_path / "big.toml"
    with open(big, "wb") as handle:
        handle.truncate(5 * 2**20)
    line = _one_error(cp.run_cli(["build", big], capsys))
    assert "is 5.0 MB; a config is a small TOML file (at most 4 MB)" in line


def test_cohort_size_and_column_ceilings(cp, tmp_path, capsys, monkeypatch):
    project = cp.Project(tmp_path / "p")
    monkeypatch.setenv("COHORTPRESS_MAX_COLUMNS", "5")
    line = _one_error(cp.run_cli(["validate", project.config], capsys))
    assert "cohort.csv: has 11 columns, over the 5 a cohort file may have " \
           "($COHORTPRESS_MAX_COLUMNS raises it)" in line
    monkeypatch.delenv("COHORTPRESS_MAX_COLUMNS")
    (project.root / "cohort.csv").write_text(cp.DEMO_CSV + "x" * 2**20)
    monkeypatch.setenv("COHORTPRESS_MAX_INPUT_MB", "1")
    line = _one_error(cp.run_cli(["validate", project.config], capsys))
    assert "is 1.0 MB, over the 1 MB a cohort file may have ($COHORTPRESS_MAX_INPUT_MB " \
           "raises it)" in line
    monkeypatch.setenv("COHORTPRESS_MAX_INPUT_MB", "many")
    line = _one_error(cp.run_cli(["validate", project.config], capsys))
    assert "$COHORTPRESS_MAX_INPUT_MB is 'many'; give a whole number" in line


def test_a_config_without_sections_is_an_error(cp, tmp_path, capsys):
    toml = cp.DEMO_TOML[:cp.DEMO_TOML.index("[[section]]")]
    project = cp.Project(tmp_path / "p", toml=toml)
    line = _one_error(cp.run_cli(["build", project.config, "-o", project.out], capsys))
    assert "key 'section': the config has no [[section]]" in line
    assert not project.out.exists()
