"""The forest plot option of the regression analyses (``forest = true``), from the records.

The rows follow the table (binary covariates as their contrast, factors with their
reference level named), the texts are the table's, every label and text lies inside the
figure (measured with the renderer), the axis is logarithmic with a line at 1, an interval
off the axis ends in an arrow, and the plot takes the ratio's name as an argument (HR, OR,
SHR for Fine–Gray).
"""

from __future__ import annotations

import math

import pytest

from cohortpress.api.blocks import Figure, Table
from cohortpress.api.results import Result
from cohortpress.app.plugins import make_plugins
from cohortpress.kit.figures import _pyplot
from cohortpress.kit.forest import (ForestRow, _limits, finite_rows, forest_figure,
                                    forest_model, forest_plot, forest_rows)
from cohortpress.testing import run_analysis

COX = {"endpoint": "os", "covariates": ["arm", "age", "stage", "ldh", "sex"]}
LOGISTIC = {"outcome": "sex", "covariates": ["age", "stage"]}


def _section(name: str, options: dict):
    analysis = make_plugins(entry_points=False).analysis(name)
    return run_analysis(analysis, analysis.options.model_validate(options))


def _texts(table: Table) -> dict[str, str]:
    """Row label -> the last model's ratio text, as the table prints it."""
    out = {}
    for row in table.body:
        cells = [c.text for c in row.cells]
        ratios = [t for t in cells[1:] if "(" in t and "\u2013" in t]
        if ratios:
            out[cells[0]] = ratios[-1]
    return out


@pytest.mark.parametrize("name, options", [("cox", COX), ("logistic", LOGISTIC)])
def test_forest_is_an_option_that_adds_one_figure(name, options):
    plain = _section(name, options)
    assert not [b for b in plain.blocks if isinstance(b, Figure)]
    section = _section(name, {**options, "forest": True})
    figures = [b for b in section.blocks if isinstance(b, Figure)]
    assert len(figures) == 1 and figures[0].png.startswith(b"\x89PNG")
    assert "multivariable model" in figures[0].caption
    assert "log scale" in figures[0].caption
    # the same records, the same tables
    assert [b for b in section.blocks if isinstance(b, Table)] == \
        [b for b in plain.blocks if isinstance(b, Table)]


def test_the_rows_are_the_tables_rows_with_its_texts():
    section = _section("cox", {**COX, "forest": True})
    table = next(b for b in section.blocks if isinstance(b, Table))
    assert forest_model(section.results, "coxph") == "multivariable"
    rows = forest_rows(section.results, context_name="coxph", ratio_stat="hr",
                       model="multivariable")
    table_labels = [row.cells[0].text for row in table.body][:-1]  # not the n row
    reference = {r.variable_level for r in section.results if r.stat_name == "reference_row"
                 and r.stat and r.context == "coxph"}
    assert [r.label.removesuffix(" (reference)") for r in rows] == table_labels
    assert all(r.label.endswith(" (reference)") == (r.label.removesuffix(" (reference)")
                                                    in reference) for r in rows if r.indent)
    shown = _texts(table)
    assert {r.label: r.text for r in rows if r.text} == {k: v for k, v in shown.items()
                                                         if k in {r.label for r in rows}}
    for row in rows:
        if row.ratio is not None:
            assert row.low <= row.ratio <= row.high


def test_a_single_model_is_plotted_and_named():
    section = _section("cox", {"endpoint": "os", "covariates": ["age"], "forest": True})
    assert forest_model(section.results, "coxph") == "univariable"
    figure = next(b for b in section.blocks if isinstance(b, Figure))
    assert "univariable model" in figure.caption


def _extents_inside(fig) -> list[str]:
    """The texts of ``fig`` that reach outside it."""
    fig.canvas.draw()  # the axis title is placed when drawn
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    outside = []
    for text in fig.findobj(match=lambda a: hasattr(a, "get_text") and a.get_visible()):
        if not text.get_text():
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > width + 0.5 or box.y1 > height + 0.5:
            outside.append(text.get_text())
    return outside


@pytest.mark.parametrize("label", ["Age (years)",
                                   "A very long covariate label that names a lot: yes vs no",
                                   "Treatment D-/penicillamine"])
def test_no_label_or_text_is_clipped(label):
    rows = [ForestRow("Sex"), ForestRow("female (reference)", 1),
            ForestRow("male", 1, 1.59, 0.97, 2.62, "1.59 (0.97\u20132.62)"),
            ForestRow(label, 0, 10.87, 6.51, 18.16, "10.87 (6.51\u201318.16)"),
            ForestRow("Stage", text="not estimable")]
    plt = _pyplot()
    from cohortpress.kit.figures import STYLE

    with plt.rc_context(STYLE):
        fig = forest_figure(rows, ratio_name="SHR", ratio_title="Subdistribution hazard ratio",
                            conf_level=0.95, width_mm=85)
        ax = fig.axes[0]
        assert ax.get_xscale() == "log"
        low, high = ax.get_xlim()
        assert low < 1 < high
        assert any(line.get_xdata()[0] == 1.0 for line in ax.get_lines())  # the line at 1
        assert _extents_inside(fig) == []
        assert "SHR (95% CI)" in [t.get_text() for t in fig.texts]
        plt.close(fig)


def test_an_interval_off_the_axis_ends_in_an_arrow():
    rows = [ForestRow("a", 0, 2.0, 0.0, math.inf, "2.00 (0.00\u2013Inf)"),
            ForestRow("b", 0, 1.5, 1.1, 2.0, "1.50 (1.10\u20132.00)")]
    assert _limits(rows)[0] <= 1.0 and _limits(rows)[1] >= 2.0
    plt = _pyplot()
    from cohortpress.kit.figures import STYLE

    with plt.rc_context(STYLE):
        fig = forest_figure(rows, ratio_name="HR", ratio_title="Hazard ratio", conf_level=0.95)
        markers = [line.get_marker() for line in fig.axes[0].get_lines()]
        assert "<" in markers and ">" in markers
        plt.close(fig)
    assert forest_plot(rows, ratio_name="HR", ratio_title="Hazard ratio",
                       conf_level=0.95).startswith(b"\x89PNG")


def test_nothing_to_draw_gives_no_figure():
    assert not finite_rows([ForestRow("a", text="not estimable"), ForestRow("b")])
    records = [Result("coxph", "model.title", "Univariable", group="model",
                      group_level="univariable")]
    assert forest_model(records, "coxph") == "univariable"
    assert forest_model([], "coxph") is None
