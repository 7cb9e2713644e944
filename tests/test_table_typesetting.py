"""Tables set the journal way, measured in the PDF.

- numeric columns are aligned on the decimal point: the x of each number's decimal point,
  read back with ``pdftotext -bbox`` and the bundled font's advance widths, is the same down
  a column whose numbers have one, two or three integer digits;
- labels and headers break only at spaces: "p-value", "HR (95% CI)", "D-/penicillamine" are
  each one unbreakable span;
- a table's notes never go to the next page without it (a short table moves whole; a long
  one leaves rows with its notes);
- the Table object and its exports keep one column per column.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cohortpress.api.blocks import Cell, Footnote, Row, Table
from cohortpress.render.tablehtml import (aligned_columns, html_table, numeric_parts,
                                          text_width_em, unbroken)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} (poppler-utils) is not installed; the PDF cannot be measured")
    return path


TABLE = Table(
    "t", (Row.of("Characteristic", "HR (95% CI)", "p-value"),),
    (Row.of("D-/penicillamine", "0.63 (0.29\u20131.34)", "0.047"),
     Row.of("Bilirubin", "10.46 (0.64\u2013726.39)", "<0.001"),
     Row.of("Stage", "not estimable", Cell("0.214", marks=("a",))),
     Row.of("Patients", "1 (reference)", "")),
    (Footnote("x", "a"),))


def test_numbers_split_at_their_first_decimal_point():
    assert numeric_parts("0.63 (0.29\u20131.34)") == ("0", ".63 (0.29\u20131.34)")
    assert numeric_parts("<0.001") == ("<0", ".001")
    assert numeric_parts("\u22121.5") == ("\u22121", ".5")
    assert numeric_parts("12 (34%)") == ("12", " (34%)")
    assert numeric_parts("not estimable") is None and numeric_parts("NR") is None


def test_numeric_columns_become_pad_integer_rest_pad_and_text_spans_them():
    assert aligned_columns(TABLE) == [False, True, True]
    view = html_table(TABLE)
    first, second, third, fourth = view.body
    assert [c.part for c in first.cells] == ["label"] + ["pad", "int", "rest", "pad"] * 2
    assert [str(c.html) for c in first.cells if c.part in ("int", "rest")] == \
        ["0", ".63 (0.29\u20131.34)", "0", ".047"]
    assert [(c.part, c.colspan, str(c.html)) for c in third.cells[:2]] == \
        [("label", 1, "Stage"), ("", 4, "not estimable")]
    assert third.cells[-2].marks == ("a",)  # the mark follows the number's rest
    assert str(fourth.cells[3].html) == "\u00a0(reference)"  # the space is kept
    assert [c.colspan for c in view.header[0].cells] == [1, 4, 4]
    assert view.label_width and view.label_width > 5


def test_labels_and_headers_break_only_at_spaces():
    assert str(unbroken("p-value")) == '<span class="nw">p-value</span>'
    assert str(unbroken("HR (95% CI)")) == '<span class="nw">HR (95% CI)</span>'
    assert str(unbroken("Treatment D-/penicillamine")) == \
        'Treatment <span class="nw">D-/penicillamine</span>'
    assert str(unbroken("a <b>")) == "a &lt;b&gt;"
    # a long run may break rather than push the table off the page
    assert str(unbroken("http://example.invalid/a/long/path.png")) == \
        "http://example.invalid/a/long/path.png"
    assert str(unbroken("Alive (salvaged) at 6\u201312 m")) == \
        '<span class="nw">Alive (salvaged)</span> at <span class="nw">6\u201312</span> m'


def test_the_exports_keep_one_column_per_column():
    assert TABLE.as_rows()[1] == ["D-/penicillamine", "0.63 (0.29\u20131.34)", "0.047"]


# --------------------------------------------------------------------------- in the PDF

def _cohort(n: int = 60, seed: int = 3) -> str:
    rng = np.random.default_rng(seed)
    rows = ["id,arm,small,large,middle,treatment"]
    for i in range(n):
        rows.append(f"P{i:03d},{'A' if i % 2 else 'B'},{rng.normal(0.5, 0.1):.3f},"
                    f"{rng.normal(150, 10):.2f},{rng.normal(12, 2):.2f},"
                    f"{'D-/penicillamine' if i % 3 else 'Placebo'}")
    return "\n".join(rows) + "\n"


TOML = """
[report]
title = "Alignment check"
date = "2024-05-31"
exports = ["csv"]
[cohort]
path = "cohort.csv"
id = "id"
group = "arm"
[variables.small]
label = "Small"
[variables.large]
label = "Large"
[variables.middle]
label = "Middle"
[[section]]
id = "table1"
analysis = "demographics"
title = "Characteristics"
variables = [{ variable = "small", stat = "mean_sd" }, { variable = "large", stat = "mean_sd" },
             { variable = "middle", stat = "mean_sd" }, "treatment"]
"""


@pytest.fixture(scope="module")
def words(cp, tmp_path_factory) -> list[tuple[str, float, float, float]]:
    project = cp.Project(tmp_path_factory.mktemp("align") / "proj", toml=TOML, csv=_cohort())
    result = cp.run_cli(["build", project.config, "--output", project.out, "--quiet"])
    assert result.code == 0, result.err
    html = subprocess.run([_tool("pdftotext"), "-bbox", "-f", "2", "-l", "2",
                           str(project.out / "report.pdf"), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    return [(m[4], float(m[0]), float(m[1]), float(m[2])) for m in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        html)]


def test_decimal_points_line_up_down_a_column(words):
    """The three means of a column (about 0.5, 150 and 12) have one, three and two integer
    digits, so their left edges differ by a digit or more; their decimal points do not."""
    means = [(text, x0) for text, x0, _, _ in words if re.fullmatch(r"\d+\.\d", text)]
    assert len(means) == 6, means  # three variables by two groups
    # the table's font is the bundled serif at 9 pt (base.css, journal style)
    points = [x0 + 9 * text_width_em(text.split(".")[0], "LiberationSerif-Regular.ttf")
              for text, x0 in means]
    columns = [sorted(points[0::2]), sorted(points[1::2])]
    for column, lefts in zip(columns, [[x for _, x in means[0::2]], [x for _, x in means[1::2]]]):
        assert max(column) - min(column) < 0.2, column
        assert max(lefts) - min(lefts) > 4, lefts  # the numbers are of different widths


def test_a_slashed_label_is_on_one_line(words):
    assert "D-/penicillamine" in [text for text, *_ in words]


# --------------------------------------------------------------------------- notes kept

#: Heights (mm) of a block placed before a small table at the top of a page: around the
#: height (251 mm of page body) where the table fits and its notes would not.
HEIGHTS = tuple(range(206, 236, 3))


def _notes_project() -> tuple[str, str, str]:
    rows = ["id,arm,sex"] + [f"S{i:03d},{'Alpha' if i % 2 else 'Beta'},{'F' if i % 3 else 'M'}"
                             for i in range(40)]
    sections, css = [], ['[id^="sec-kept-"] > h2, [id^="sec-ctrl-"] > h2 { display: none; }']
    for kind in ("kept", "ctrl"):
        for k, height in enumerate(HEIGHTS):
            sections.append(f'[[section]]\nid = "{kind}-{k}"\nanalysis = "crosstab"\n'
                            f'title = "{kind} {k}"\nrow = "sex"\ncolumn = "arm"\n'
                            f'caption = "{kind} caption {k}."\n')
            css.append(f'#sec-{kind}-{k} {{ break-before: page; }}\n'
                       f'#sec-{kind}-{k}::before {{ content: ""; display: block; '
                       f'height: {height}mm; }}')
            if kind == "ctrl":  # the rules under test, switched off
                css.append(f"#sec-{kind}-{k} .table-block {{ break-inside: auto; }}\n"
                           f"#sec-{kind}-{k} .table-notes {{ break-before: auto; }}\n"
                           f"#sec-{kind}-{k} table {{ break-inside: auto; }}")
    toml = ('[report]\ntitle = "Notes check"\ndate = "2024-05-31"\ncss = ["notes.css"]\n'
            'exports = ["csv"]\n\n[cohort]\npath = "cohort.csv"\nid = "id"\ngroup = "arm"\n\n'
            '[variables.sex]\nlabel = "Sex"\nlevels = ["F", "M"]\n'
            'labels = { F = "Female", M = "Male" }\n\n' + "\n".join(sections))
    return toml, "\n".join(rows) + "\n", "\n".join(css) + "\n"


@pytest.fixture(scope="module")
def notes_pages(cp, tmp_path_factory) -> list[str]:
    toml, csv, css = _notes_project()
    project = cp.Project(tmp_path_factory.mktemp("notes") / "proj", toml=toml, csv=csv)
    project.write("notes.css", css)
    result = cp.run_cli(["build", project.config, "--output", project.out, "--quiet"])
    assert result.code == 0, result.err
    text = subprocess.run([_tool("pdftotext"), "-layout", str(project.out / "report.pdf"),
                           "-"], capture_output=True, text=True, check=True, timeout=60).stdout
    return text.split("\f")


def _notes_alone(pages: list[str], kind: str) -> list[int]:
    """The tables of ``kind`` whose notes start a page that holds none of their rows."""
    alone = []
    for k in range(len(HEIGHTS)):
        start = next(i for i, p in enumerate(pages) if f"Table" in p
                     and f"{kind} caption {k}." in p and "[[section]]" not in p)
        after = pages[start + 1] if start + 1 < len(pages) else ""
        if "Percentages are of" not in pages[start] and "Percentages are of" in after \
                and "Female" not in after:
            alone.append(k)
    return alone


def test_a_tables_notes_never_go_to_the_next_page_alone(notes_pages):
    assert _notes_alone(notes_pages, "kept") == []


def test_the_control_tables_show_the_orphaned_notes_the_rules_prevent(notes_pages):
    assert _notes_alone(notes_pages, "ctrl"), "no control left its notes alone: the " \
                                              "placement no longer tests the rules"
