"""A whole report and the files beside it: Word and Excel tables holding the numbers of
results.json, figures as PNG, a self-contained report.html, a tagged PDF/A-3b with the results
attached, and the same bytes from a second build.

Two builds of one project (journal style, PDF/A-3b) are shared by the module.
"""

from __future__ import annotations

import json
import re
import subprocess
import zlib
from pathlib import Path

import pytest


def cohort_csv() -> str:
    lines = ["id,arm,sex,stage,age,months,status"]
    for i in range(48):
        arm = "A" if i % 2 else "B"
        sex = "U" if i in (5, 30) else ("F" if (i * 7) % 3 else "M")
        stage = ("I", "II", "III", "II")[(i * 5) % 4]
        age = 40 + (i * 13) % 37
        months = 2 + (i * 17) % 61 + (8 if arm == "A" else 0)
        status = "dead" if (i * 3) % 5 < (2 if arm == "A" else 3) else "alive"
        lines.append(f"Q{i:02d},{arm},{sex},{stage},{age},{months},{status}")
    return "\n".join(lines) + "\n"


TOML = """\
[report]
title = "Publication output check"
subtitle = "Two arms, 48 patients"
date = "2024-05-31"
language = "en-GB"
pdf_variant = "pdf/a-3b"

[cohort]
path = "cohort.csv"
id = "id"
group = "arm"

[variables.arm]
label = "Arm"
levels = ["A", "B"]

[variables.sex]
label = "Sex"
levels = ["F", "M"]
missing = ["U"]

[variables.stage]
label = "Stage"
levels = ["I", "II", "III"]

[variables.age]
label = "Age"
kind = "continuous"
unit = "years"

[endpoints.os]
label = "Overall survival"
time = "months"
time_unit = "months"
unit = "years"
event = "status"
event_codes = ["dead"]
censor_codes = ["alive"]

[[section]]
id = "table1"
analysis = "demographics"
title = "Patient characteristics"
variables = [{ variable = "sex", test = "fisher" }, { variable = "stage", test = "fisher" },
             { variable = "age", test = "t_test" }]

[[section]]
id = "stages"
analysis = "crosstab"
title = "Stage by arm"
row = "stage"
column = "arm"

[[section]]
id = "survival"
analysis = "survival"
title = "Overall survival"
endpoints = ["os"]
landmarks = [1, 2]

[[section]]
id = "cox"
analysis = "cox"
title = "Cox regression"
endpoint = "os"
covariates = ["stage", "age"]
"""


@pytest.fixture(scope="module")
def builds(cp, tmp_path_factory):
    root = tmp_path_factory.mktemp("publication")
    project = cp.Project(root / "proj", toml=TOML, csv=cohort_csv())
    outs = []
    for name in ("first", "second"):
        out = root / name
        result = cp.run_cli(["build", project.config, "--output", out, "--quiet"])
        assert result.code == 0, result.err
        outs.append(out)
    return outs


@pytest.fixture(scope="module")
def out(builds) -> Path:
    return builds[0]


@pytest.fixture(scope="module")
def results(out) -> list[dict]:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))["results"]


def tool(name: str) -> str:
    import shutil

    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} (poppler-utils) is not installed; the PDF cannot be inspected")
    return path


def run(*args) -> str:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True,
                          timeout=60).stdout


# --------------------------------------------------------------------------- the files


def test_every_table_and_figure_is_exported(out):
    stems = sorted(p.stem for p in (out / "tables").glob("*.csv"))
    assert stems == ["cox", "stages", "survival", "table1"]
    for stem in stems:
        for suffix in ("docx", "xlsx"):
            assert (out / "tables" / f"{stem}.{suffix}").is_file(), (stem, suffix)
    assert (out / "tables" / "tables.docx").is_file() and (out / "tables" / "tables.xlsx").is_file()
    pngs = sorted((out / "figures").glob("*.png"))
    html = (out / "report.html").read_text(encoding="utf-8")
    assert len(pngs) == html.count("<img ") >= 1
    for png in pngs:
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_combined_files_hold_every_table_in_report_order(out):
    from docx import Document
    from openpyxl import load_workbook

    document = Document(out / "tables" / "tables.docx")
    captions = [p.text for p in document.paragraphs if p.text.startswith("Table ")]
    assert [c.split(".")[0] for c in captions] == ["Table 1", "Table 2", "Table 3", "Table 4"]
    assert len(document.tables) == 4
    book = load_workbook(out / "tables" / "tables.xlsx")
    assert book.sheetnames == ["table1", "stages", "survival", "cox"]
    assert book["cox"]["A1"].value.startswith("Table 4. ")
    # Each table's own file carries its number in the report.
    assert load_workbook(out / "tables" / "survival.xlsx").active["A1"].value.startswith("Table 3. ")


# --------------------------------------------------------------------------- the numbers


def docx_matrix(path: Path) -> tuple[list[list[str]], int]:
    from docx import Document
    from docx.oxml.ns import qn

    table = Document(path).tables[0]
    header = sum(tr.trPr is not None and tr.trPr.find(qn("w:tblHeader")) is not None
                 for tr in table._tbl.tr_lst)
    return [[cell.text for cell in row.cells] for row in table.rows], header


def xlsx_matrix(path: Path) -> tuple[list[list[str]], int]:
    from openpyxl import load_workbook

    sheet = load_workbook(path).active
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    for merged in sheet.merged_cells.ranges:  # a merged cell's text covers its whole range
        top = sheet.cell(merged.min_row, merged.min_col).value
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                values[r - 2][c - 1] = top
    header = 0
    for row in sheet.iter_rows(min_row=2):
        if not any(c.font.bold for c in row if c.value is not None):
            break
        header += 1
    return [["" if v is None else str(v) for v in row] for row in values], header


def find_cell(matrix: list[list[str]], header: int, heading: str, label: str | None,
              *column_words: str) -> str:
    """The text of the body cell in row ``label`` (the first after the row ``heading``; the
    heading row itself when ``label`` is None) and in the column whose header holds every
    word of ``column_words``."""
    firsts = [row[0].strip() for row in matrix]
    start = firsts.index(heading, header)
    row = start if label is None else firsts.index(label, start + 1)
    columns = [c for c in range(1, len(matrix[0]))
               if all(any(word in matrix[r][c] for r in range(header)) for word in column_words)]
    assert len(columns) == 1, (column_words, [m[:] for m in matrix[:header]])
    return matrix[row][columns[0]]


def record(results, **fields) -> dict:
    found = [r for r in results if all(r[k] == v for k, v in fields.items())]
    assert len(found) == 1, (fields, found)
    assert found[0]["formatted"], found[0]
    return found[0]


# (file stem, results.json fields, row heading, row label, words in the column's header)
CHECKS = [
    ("table1", dict(section="table1", variable="stage", variable_level="II", group_level="B",
                    stat_name="n"), "Stage", "II", ("B (N =",)),
    ("table1", dict(section="table1", context="test", variable="stage", stat_name="p.value"),
     "Stage", None, ("p-value",)),
    ("table1", dict(section="table1", variable="age", group_level="A", stat_name="median"),
     "Age (years)", "Median (range)", ("A (N =",)),
    ("stages", dict(section="stages", context="crosstab", variable_level="III", group_level="A",
                    stat_name="n"), "III", None, ("A n (%)",)),
    ("survival", dict(section="survival", context="survfit", variable="os", variable_level=2.0,
                      group_level="B", stat_name="surv"), "Overall survival", "B", ("2-year",)),
    ("cox", dict(section="cox", context="coxph", variable="stage", variable_level="III",
                 group_level="univariable", stat_name="hr"), "Stage", "III",
     ("Univariable", "HR")),
    ("cox", dict(section="cox", context="coxph", variable="stage", variable_level="III",
                 group_level="multivariable", stat_name="p.value"), "Stage", "III",
     ("Multivariable", "p-value")),
]


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
@pytest.mark.parametrize("stem, fields, heading, label, words", CHECKS,
                         ids=[f"{c[0]}-{c[1]['stat_name']}-{i}" for i, c in enumerate(CHECKS)])
def test_word_and_excel_tables_hold_the_numbers_of_results_json(out, results, kind, stem,
                                                                 fields, heading, label, words):
    expected = record(results, **fields)["formatted"]
    reader = docx_matrix if kind == "docx" else xlsx_matrix
    matrix, header = reader(out / "tables" / f"{stem}.{kind}")
    assert header >= 1
    text = find_cell(matrix, header, heading, label, *words)
    # A footnote mark may follow: superscript in Word, in brackets in Excel.
    mark = text[len(expected):]
    assert text.startswith(expected) and re.fullmatch(r"|[a-z*†‡]+|\[[a-z*†‡]\]+", mark), \
        (text, expected)


def test_the_csv_matches_the_excel_grid(out):
    import csv

    rows = list(csv.reader((out / "tables" / "stages.csv").open(encoding="utf-8")))
    matrix, header = xlsx_matrix(out / "tables" / "stages.xlsx")
    grid = [r for r in rows[1:] if len(r) > 1]  # caption first, one-cell notes last
    assert len(grid) > header + 2
    assert [[c.strip() for c in r] for r in grid[header:]] == matrix[header:len(grid)]


# --------------------------------------------------------------------------- same bytes


def test_two_builds_give_the_same_bytes_for_every_file(builds):
    first, second = builds
    names = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    assert {"report.pdf", "report.html", "results.json", "tables/tables.xlsx",
            "tables/tables.docx", "tables/cox.docx", "tables/cox.xlsx"} <= set(names)
    assert names == sorted(p.relative_to(second).as_posix()
                           for p in second.rglob("*") if p.is_file())
    different = [n for n in names if (first / n).read_bytes() != (second / n).read_bytes()]
    assert different == []


# --------------------------------------------------------------------------- report.html


def test_report_html_is_self_contained(out):
    html = (out / "report.html").read_text(encoding="utf-8")
    references = re.findall(r"""\b(?:src|href|data)\s*=\s*["']([^"']*)["']""", html)
    references += re.findall(r"""url\(\s*["']?([^)"']*)""", html)
    references += re.findall(r"""@import\s+["']([^"']*)""", html)
    outside = [r for r in references if not r.startswith(("data:", "#"))]
    assert references and outside == []
    assert "@font-face" not in html  # the fonts fall back (see docs/styles.md)
    assert '<html lang="en-GB">' in html
    assert "Liberation Serif" in html  # the fallback with the bundled font's metrics


# --------------------------------------------------------------------------- the PDF


def inflated(pdf: Path) -> bytes:
    data = pdf.read_bytes()
    parts = [data]
    for match in re.finditer(rb"stream\r?\n", data):
        try:
            parts.append(zlib.decompressobj().decompress(data[match.end():]))
        except zlib.error:
            continue
    return b"\n".join(parts)


def alt_texts(objects: bytes) -> list[str]:
    texts = []
    for m in re.finditer(rb"/Alt\s*(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f]*>)", objects):
        token = m.group(1)
        if token.startswith(b"<"):
            raw = bytes.fromhex(token[1:-1].decode())
            texts.append(raw[2:].decode("utf-16-be") if raw.startswith(b"\xfe\xff")
                         else raw.decode("latin-1"))
        else:
            texts.append(re.sub(rb"\\(.)", rb"\1", token[1:-1]).decode("latin-1"))
    return texts


def test_the_pdf_is_tagged_with_language_title_and_figure_alt_text(out):
    import html as html_module

    info = run(tool("pdfinfo"), out / "report.pdf")
    assert re.search(r"^Tagged:\s+yes$", info, re.MULTILINE), info
    assert re.search(r"^Title:\s+Publication output check$", info, re.MULTILINE), info
    objects = inflated(out / "report.pdf")
    assert re.search(rb"/Lang\s*\(en-GB\)", objects)
    page = (out / "report.html").read_text(encoding="utf-8")
    alts = [html_module.unescape(a) for a in re.findall(r'<img [^>]*alt="([^"]*)"', page)]
    assert alts and all(a.strip() for a in alts)
    in_pdf = alt_texts(objects)
    for alt in alts:
        assert alt in in_pdf, (alt, in_pdf)


def test_pdf_a_3b_with_results_json_inside(out, tmp_path):
    pdf = out / "report.pdf"
    objects = inflated(pdf)
    assert re.search(rb'pdfaid:part="3"', objects) and re.search(rb'pdfaid:conformance="B"',
                                                                 objects)
    assert re.search(rb"/AFRelationship\s*/Data", objects)
    listing = run(tool("pdfdetach"), "-list", pdf)
    assert listing.splitlines() == ["1 embedded files", "1: results.json"]
    saved = tmp_path / "attached.json"
    run(tool("pdfdetach"), "-save", "1", "-o", saved, pdf)
    assert saved.read_bytes() == (out / "results.json").read_bytes()
    fonts = run(tool("pdffonts"), pdf).splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # all embedded


def test_journal_style_sets_serif_text(out):
    fonts = run(tool("pdffonts"), out / "report.pdf")
    assert "CP-Serif" in fonts and "CP-Sans" not in fonts
    assert "CP-Mono" in fonts  # the configuration listing, bundled too


def test_methods_and_tables_read_back_from_the_pdf(out, cp):
    text = cp.squeeze(cp.pdf_text(out / "report.pdf"))
    for words in ("Table 4. Cox regression", "Statistical methods",
                  "Characteristics were compared between the A and B groups",
                  "values were missing for sex (2 patients)"):
        assert cp.squeeze(words) in text, words


# --------------------------------------------------------------------------- beyond follow-up


def test_estimates_beyond_the_last_follow_up_are_marked_and_times_printed_plainly(cp,
                                                                                  tmp_path):
    from cohortpress.api.blocks import Table
    from cohortpress.app.load import load_cohort
    from cohortpress.app.plan import plan_build
    from cohortpress.app.run import run_section
    from cohortpress.kit.survival_table import BEYOND_CIF, BEYOND_KM, time_unit_word

    assert time_unit_word("days", 1e9) == "1000000000-day"
    assert time_unit_word("years", 2.5) == "2.5-year"
    toml = cp.DEMO_TOML + (
        '[[section]]\nid = "km"\nanalysis = "survival"\nendpoints = ["os"]\n'
        'landmarks = [1, 1e9]\n\n'
        '[[section]]\nid = "cif"\nanalysis = "survival"\nendpoints = ["efs"]\n'
        'cumulative_incidence = true\nlandmarks = [1, 1e9]\n')
    project = cp.Project(tmp_path / "p", toml=toml)
    plan = plan_build(project.config)
    cohort = load_cohort(plan)
    km, cif = (run_section(planned, cohort, plan.config, 60) for planned in plan.sections[1:])
    (km_table,) = [b for b in km.blocks if isinstance(b, Table)]
    header = [c.text for c in km_table.header[0].cells]
    assert header[3:5] == ["1-year % (95% CI)", "1000000000-year % (95% CI)"]
    rows = [r for r in km_table.body if r.role != "group"]
    assert all(r.cells[3].marks == () for r in rows)  # within follow-up: no mark
    assert all(r.cells[4].marks == ("b",) for r in rows)  # "a" is the log-rank test's
    assert [n.text for n in km_table.footnotes if n.mark == "b"] == [BEYOND_KM]
    cif_table = [b for b in cif.blocks if isinstance(b, Table) and b.name == "efs-cuminc"][0]
    estimates = cif_table.body[:[r.role for r in cif_table.body].index("group")]
    assert {r.cells[4].text for r in estimates} == {"\u2013"}  # label, n, events, 1-year
    assert BEYOND_CIF in [n.text for n in cif_table.footnotes]
