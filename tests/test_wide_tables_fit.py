"""Wide tables stay inside the text block: a competing-risks table with two causes and
two landmarks and a Table 1 with five groups, the overall column, p-values and SMDs are
set in a smaller size (render/tablefit.py) instead of running off the right edge; measured
on the PDF with ``pdftotext -bbox`` in both built-in styles."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from cohortpress.api.blocks import Row, Table
from cohortpress.render.tablefit import MIN_FONT_PT, STYLE_MEASURE, fit, overflow_warning

MM = 72 / 25.4
#: The right edge of the text block in points (A4 width minus the style's right margin).
RIGHT_EDGE = {"journal": (210 - 20) * MM, "compact": (210 - 14) * MM}
#: Glyph side bearings and rounding.
TOLERANCE = 1.0


def _cohort(n: int = 150, seed: int = 11) -> str:
    rng = np.random.default_rng(seed)
    causes = ["relapse", "death in remission", "second cancer", "censored"]
    rows = ["id,years,cause,arm,age,wbc,sex"]
    for i in range(n):
        arm = f"Treatment arm {'ABCDE'[i % 5]}"
        rows.append(f"P{i:03d},{rng.uniform(0.1, 8):.2f},{causes[rng.integers(0, 4)]},{arm},"
                    f"{rng.normal(40, 12):.1f},{rng.lognormal(3, 1):.1f},"
                    f"{'female' if rng.random() < 0.5 else 'male'}")
    return "\n".join(rows) + "\n"


TOML = """
[report]
title = "Wide tables"
date = "2024-05-31"
style = "{style}"
[cohort]
path = "cohort.csv"
id = "id"
group = "arm"
[variables.age]
label = "Age at diagnosis, years"
[variables.wbc]
label = "Leukocyte count"
[variables.sex]
label = "Sex"
[endpoints.relapse]
label = "Relapse"
time = "years"
time_unit = "years"
event = "cause"
event_codes = ["relapse"]
competing_codes = ["death in remission"]
censor_codes = ["censored", "second cancer"]
cause_labels = {{ "death in remission" = "Death in remission" }}
[[section]]
id = "table1"
analysis = "demographics"
title = "Characteristics"
overall = true
smd = true
variables = [{{ variable = "age", stat = "mean_sd" }}, {{ variable = "wbc", stat = "median_iqr" }},
             "sex"]
[[section]]
id = "cif"
analysis = "survival"
title = "Cumulative incidence"
endpoints = ["relapse"]
by = "sex"
landmarks = [1, 3]
"""


def _words(pdf) -> list[tuple[str, int, float]]:
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; the PDF cannot be measured")
    xml = subprocess.run([tool, "-bbox", str(pdf), "-"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    found = []
    for page, body in enumerate(xml.split("<page ")[1:], start=1):
        found += [(m[1], page, float(m[0])) for m in
                  re.findall(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)" '
                             r'yMax="[\d.]+">([^<]*)</word>', body)]
    return found


@pytest.fixture(scope="module", params=["journal", "compact"])
def built(request, cp, tmp_path_factory):
    style = request.param
    project = cp.Project(tmp_path_factory.mktemp(f"wide-{style}") / "proj",
                         toml=TOML.format(style=style), csv=_cohort())
    result = cp.run_cli(["build", project.config, "--output", project.out])
    assert result.code == 0, result.err
    return style, project.out, result


def test_no_word_runs_into_the_right_margin(built):
    style, out, _ = built
    words = _words(out / "report.pdf")
    # The last header words of the two tables: a word wholly off the page is not printed.
    for last in ("SMD", "remission"):
        assert any(w == last for w, _, _ in words), f"{last!r} is off the page"
    beyond = [(w, page, round(x, 1)) for w, page, x in words
              if x > RIGHT_EDGE[style] + TOLERANCE]
    assert beyond == [], f"words past the right edge at {RIGHT_EDGE[style]:.1f} pt: {beyond}"


def test_the_wide_tables_are_set_smaller_and_the_build_does_not_warn(built):
    style, out, result = built
    html = (out / "report.html").read_text(encoding="utf-8")
    sizes = [float(s) for s in re.findall(r'class="journal-table[^"]*" style="font-size: '
                                          r'([\d.]+)pt"', html)]
    assert len(sizes) >= 2
    assert all(MIN_FONT_PT <= s < STYLE_MEASURE[style].font_pt for s in sizes)
    assert "wider than" not in result.err + result.out


def test_a_narrow_table_keeps_its_size():
    table = Table("t", (Row.of("", "A", "B"),), (Row.of("Age", "12.1 (3.4)", "13.0 (2.2)"),))
    for style, measure in STYLE_MEASURE.items():
        found = fit(table, style)
        assert found.fits and not found.scaled and found.font_pt == measure.font_pt
        assert overflow_warning(table, style) is None


def test_a_table_too_wide_even_at_the_floor_is_a_warning():
    many = [f"Group {i}" for i in range(30)]
    table = Table("Too wide", (Row.of("", *many),),
                  (Row.of("Age", *["123.4 (56.7\u201389.0)"] * 30),))
    found = fit(table, "journal")
    assert found.scaled and not found.fits and found.font_pt == MIN_FONT_PT
    warning = overflow_warning(table, "journal")
    assert warning is not None and '"Too wide"' in warning and "170 mm" in warning


def test_a_count_under_estimates_is_centred_in_its_column_not_at_their_units_digit():
    """The numbers at risk under a landmark's cumulative incidence span the landmark's
    four HTML columns, centred; the events column (counts only) stays decimal-aligned."""
    from cohortpress.render.tablehtml import html_table

    table = Table("t", (Row.of("", "Events", "3-year % (95% CI)"),),
                  (Row.of("ALL", "10", "40.8 (20.9\u201359.8)"), Row.of("ALL", "", "8")))
    view = html_table(table)
    first, risk = view.body
    assert [c.part for c in first.cells] == ["label"] + ["pad", "int", "rest", "pad"] * 2
    assert [(c.html, c.colspan, c.align) for c in risk.cells[1:]] == [
        ("", 4, "center"), ("8", 4, "center")]
