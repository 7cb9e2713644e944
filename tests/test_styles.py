"""Page layout read back from the PDF, page by page (``pdftotext -f N -l N``):

- a 150-row table breaks across pages with its header repeated on each;
- a table placed so that only its caption would fit at the foot of a page takes its caption
  to the next page (control tables, with the rule switched off for them, show that the same
  placement does orphan the caption otherwise);
- the worked example of docs/styles.md (a user stylesheet and a template extending the
  built-in one) builds, with its fonts and its title page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "custom-style"

#: Heights (mm) of a block placed before a small table at the top of a page. With 251 mm of
#: page body, the last ones leave room for a caption but not for the table's first rows.
KEPT = (218, 224, 227, 230, 233)
CONTROL = (224, 229)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} (poppler-utils) is not installed; pages cannot be read back")
    return path


def pages(pdf: Path) -> list[str]:
    info = subprocess.run([tool("pdfinfo"), str(pdf)], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))
    return [subprocess.run([tool("pdftotext"), "-layout", "-f", str(n), "-l", str(n), str(pdf),
                            "-"], capture_output=True, text=True, check=True, timeout=60).stdout
            for n in range(1, count + 1)]


def layout_project() -> tuple[str, str, str]:
    rows = ["id,arm,site,sex"]
    for i in range(300):
        rows.append(f"S{i:03d},{'Alpha' if i % 2 else 'Beta'},Site {i % 150 + 1:03d},"
                    f"{'F' if (i * 7) % 3 else 'M'}")
    sections = ['[[section]]\nid = "sites"\nanalysis = "crosstab"\ntitle = "Patients by site"\n'
                'row = "site"\ncolumn = "arm"\ntest = "none"\n'
                'caption = "Patients by recruiting site."\n']
    css = ['[id^="sec-kept-"] > h2, [id^="sec-ctrl-"] > h2 { display: none; }']
    for kind, heights, words in (("kept", KEPT, "Kept"), ("ctrl", CONTROL, "Control")):
        for k, height in enumerate(heights):
            sections.append(f'[[section]]\nid = "{kind}-{k}"\nanalysis = "crosstab"\n'
                            f'title = "{words} {k}"\nrow = "sex"\ncolumn = "arm"\n'
                            f'test = "none"\ncaption = "{words} caption {k}."\n')
            css.append(f'#sec-{kind}-{k} {{ break-before: page; }}\n'
                       f'#sec-{kind}-{k}::before {{ content: ""; display: block; '
                       f'height: {height}mm; }}')
            if kind == "ctrl":  # the rule under test, switched off
                css.append(f"#sec-{kind}-{k} caption {{ break-after: auto; }}\n"
                           f"#sec-{kind}-{k} .table-block {{ break-inside: auto; }}")
    toml = ('[report]\ntitle = "Layout check"\ndate = "2024-05-31"\ncss = ["layout.css"]\n'
            'exports = ["csv"]\n\n[cohort]\npath = "cohort.csv"\nid = "id"\ngroup = "arm"\n'
            'max_levels = 200\n\n[variables.arm]\nlabel = "Arm"\nlevels = ["Alpha", "Beta"]\n\n'
            '[variables.sex]\nlabel = "Sex"\nlevels = ["F", "M"]\n'
            'labels = { F = "Female", M = "Male" }\n\n[variables.site]\n'
            'label = "Recruiting site"\n\n' + "\n".join(sections))
    return toml, "\n".join(rows) + "\n", "\n".join(css) + "\n"


@pytest.fixture(scope="module")
def layout_pdf(cp, tmp_path_factory) -> Path:
    toml, csv, css = layout_project()
    project = cp.Project(tmp_path_factory.mktemp("layout") / "proj", toml=toml, csv=csv)
    project.write("layout.css", css)
    result = cp.run_cli(["build", project.config, "--output", project.out, "--quiet"])
    assert result.code == 0, result.err
    return project.out / "report.pdf"


@pytest.fixture(scope="module")
def layout(layout_pdf) -> list[str]:
    return pages(layout_pdf)


def test_a_long_table_breaks_with_its_header_repeated(layout):
    with_rows = [text for text in layout if re.search(r"^\s*Site \d{3}\b", text, re.MULTILINE)]
    assert len(with_rows) >= 3
    for text in with_rows:
        header = re.search(r"^\s*Arm\s*$.*?^\s*Alpha n \(%\)\s+Beta n \(%\)\s+Total",
                           text, re.MULTILINE | re.DOTALL)
        first_row = re.search(r"^\s*Site \d{3}\b", text, re.MULTILINE)
        assert header and header.start() < first_row.start(), text[:600]
    sites = [s for text in with_rows for s in re.findall(r"^\s*(Site \d{3})\b", text, re.MULTILINE)]
    assert sites == [f"Site {i:03d}" for i in range(1, 151)]  # each once, in order
    assert sum("Table 1. Patients by recruiting site." in t for t in layout) == 1
    # No page carries a lone row: the break leaves at least three rows before it and two after.
    for text in with_rows:
        rows = re.findall(r"^\s*(?:Site \d{3}|Total)\b", text, re.MULTILINE)
        assert len(rows) >= 2, text


def _caption_page(layout: list[str], caption: str) -> str:
    """The page where the table captioned ``caption`` starts (the configuration listing in
    the appendix quotes the caption too, without the "Table n.")."""
    pattern = re.compile(r"Table \d+\. " + re.escape(caption))
    found = [text[pattern.search(text).start():] for text in layout if pattern.search(text)]
    assert len(found) == 1, caption
    return found[0]


@pytest.mark.parametrize("k", range(len(KEPT)))
def test_a_caption_never_sits_alone_at_the_foot_of_a_page(layout, k):
    after = _caption_page(layout, f"Kept caption {k}.")
    assert "Alpha n (%)" in after and "Female" in after and "Total" in after, after


def test_the_control_tables_show_the_orphan_the_rule_prevents(layout):
    orphaned = [k for k in range(len(CONTROL))
                if "Female" not in _caption_page(layout, f"Control caption {k}.")]
    assert orphaned, "no control caption was left alone: the placement no longer tests the rule"


def test_the_plain_pdf_is_tagged_too(layout_pdf):
    info = subprocess.run([tool("pdfinfo"), str(layout_pdf)], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    assert re.search(r"^Tagged:\s+yes$", info, re.MULTILINE)
    assert re.search(r"^Title:\s+Layout check$", info, re.MULTILINE)


# --------------------------------------------------------------------------- the example


@pytest.fixture(scope="module")
def example(cp, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("example") / "custom-style"
    shutil.copytree(EXAMPLE, folder)
    result = cp.run_cli(["build", folder / "report.toml", "--output", folder / "out",
                         "--quiet"])
    assert result.code == 0, result.err
    return folder / "out"


def test_the_documented_example_applies_its_stylesheet(example):
    fonts = subprocess.run([tool("pdffonts"), str(example / "report.pdf")], capture_output=True,
                           text=True, check=True, timeout=60).stdout
    # house.css: sans text and tables, serif headings.
    assert "CP-Sans" in fonts and "CP-Serif-Bold" in fonts
    html = (example / "report.html").read_text(encoding="utf-8")
    assert "--cp-head-font: \"CP Serif\"" in html and 'class="style-compact"' in html


def test_the_documented_example_replaces_the_title_page(example):
    first = pages(example / "report.pdf")[0]
    assert "TRIAL STATISTICS OFFICE" in first  # the template's banner, set in capitals by CSS
    assert "data as of 31 May 2024" in first and "40 patients" in first
    assert "Contents" in first  # the built-in contents, kept with self.toc()
    assert "Table 1. Baseline characteristics by treatment arm." in "".join(
        pages(example / "report.pdf"))


def test_the_example_is_the_one_documented():
    guide = (REPO / "docs" / "styles.md").read_text(encoding="utf-8")
    assert "examples/custom-style/" in guide
    template = (EXAMPLE / "templates" / "report.html.j2").read_text(encoding="utf-8")
    assert '{% extends "default:report.html.j2" %}' in template
    assert "{% block title_page %}" in template
    assert (EXAMPLE / "house.css").is_file()
