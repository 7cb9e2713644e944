"""Figures laid out from measured text (issue 24): nothing cut at the figure's edges, the
risk table's numbers under the axis ticks, curves stopping at their own last follow-up, and
the report's typeface (the bundled Liberation fonts) at the style sheet's sizes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cohortpress.kit import figures
from cohortpress.kit.figure_style import TYPEFACES, register_fonts

ROOT = Path(__file__).resolve().parent.parent
LONG = "Placebo with a rather long group name"


@pytest.fixture
def drawn(monkeypatch):
    """The Matplotlib figures the drawing functions would save, in the order drawn."""
    kept = []

    def keep(fig, plt):
        fig.canvas.draw()
        kept.append(fig)
        return b""

    monkeypatch.setattr(figures, "_save", keep)
    yield kept
    import matplotlib.pyplot as plt

    for fig in kept:
        plt.close(fig)


def _curve(label, n, scale, end=None, seed=1):
    rng = np.random.default_rng(seed)
    time = np.sort(np.round(rng.exponential(scale, n), 2))
    surv = np.cumprod(1 - 0.5 / np.arange(n, 0, -1))
    return figures.Curve(label, time, surv, censor_time=time[::5], censor_y=surv[::5],
                         risk_time=time, risk_n=np.arange(n, 0, -1), end=end)


def _texts(fig):
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def _inside(fig, text):
    renderer = fig.canvas.get_renderer()
    box = text.get_window_extent(renderer)
    width, height = fig.canvas.get_width_height()
    return box.x0 >= -0.5 and box.y0 >= -0.5 and box.x1 <= width + 0.5 and \
        box.y1 <= height + 0.5


@pytest.mark.parametrize("style", ["journal", "compact"])
@pytest.mark.parametrize("labels", [("A", "B"), ("D-penicillamine", "Placebo"), ("A", LONG)])
def test_no_text_is_cut_and_the_risk_numbers_sit_under_the_ticks(drawn, style, labels):
    curves = [_curve(labels[0], 80, 4.0), _curve(labels[1], 60, 6.0, seed=2)]
    rows = [figures.RiskRows("Cumulative events", [[0, 1, 2, 3], [0, 2, 4, 6]])]
    figures.step_figure(curves, xlabel="Years since randomisation",
                        ylabel="Event-free survival (%)", risk_times=[0, 2, 4, 6],
                        annotation="Log-rank p = 0.042", style=style, xmax=7.0,
                        risk_rows=[figures.RiskRows("Number at risk", [[80, 50, 20, 5],
                                                                       [60, 45, 30, 12]]),
                                   *rows])
    (fig,) = drawn
    texts = _texts(fig)
    assert {"Number at risk", "Cumulative events", labels[1], "12", "6"} <= \
        {t.get_text() for t in texts}
    cut = [t.get_text() for t in texts if not _inside(fig, t)]
    assert not cut, cut
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    tick_x = {float(t): ax.transData.transform((t, 0))[0] for t in ax.get_xticks()}
    assert sorted(tick_x) == [0, 2, 4, 6]
    numbers = [t for t in fig.texts if t.get_text().isdigit()]
    assert len(numbers) == 2 * 2 * 4
    for text in numbers:
        box = text.get_window_extent(renderer)
        centre = (box.x0 + box.x1) / 2
        assert min(abs(centre - x) for x in tick_x.values()) < 1.0, text.get_text()
    # a row label never runs into the numbers of its line (long ones get a line of their own)
    for label in (t for t in fig.texts if t.get_text() in labels):
        box = label.get_window_extent(renderer)
        beside = [n.get_window_extent(renderer) for n in numbers
                  if abs(n.get_window_extent(renderer).y0 - box.y0) < 1.0]
        assert all(b.x0 > box.x1 for b in beside), label.get_text()


def test_curves_stop_at_their_last_follow_up_and_the_axis_at_the_latest(drawn):
    short = _curve("short", 40, 1.0, end=3.0)
    long = _curve("long", 40, 3.0, end=9.5, seed=3)
    figures.step_figure([short, long], xlabel="t", ylabel="S", risk_times=[0, 3, 6, 9])
    (fig,) = drawn
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if line.get_label() in ("short", "long")]
    stops = {line.get_label(): float(np.max(line.get_xdata())) for line in lines}
    assert stops == {"short": 3.0, "long": 9.5}
    assert ax.get_xlim() == (0.0, 9.5)


def test_a_curve_without_an_end_runs_to_the_axis_end(drawn):
    curve = figures.Curve("x", np.array([1.0, 2.0]), np.array([0.9, 0.8]),
                          censor_time=np.array([4.0]), censor_y=np.array([0.8]))
    assert curve.last == 4.0
    figures.step_figure([curve], xlabel="t", ylabel="S")
    figures.step_figure([curve, _curve("y", 30, 5.0, end=8.0)], xlabel="t", ylabel="S")
    for fig, reach in zip(drawn, (4.0, 8.0)):
        line = next(l for l in fig.axes[0].get_lines() if l.get_label() == "x")
        assert float(np.max(line.get_xdata())) == reach == fig.axes[0].get_xlim()[1]


@pytest.mark.parametrize("style, file", [("journal", "LiberationSerif-Regular.ttf"),
                                         ("compact", "LiberationSans-Regular.ttf")])
def test_every_text_is_in_the_report_typeface(drawn, style, file):
    from matplotlib.font_manager import findfont

    assert file in register_fonts()
    figures.step_figure([_curve("A", 30, 2.0), _curve("B", 30, 3.0, seed=4)], xlabel="t",
                        ylabel="S", risk_times=[0, 2, 4], style=style, annotation="p")
    figures.grouped_bars(["x", "y"], ["A", "B"], np.array([[40.0, 60.0], [60.0, 40.0]]),
                         np.array([[4, 6], [6, 4]]), ylabel="Patients (%)", style=style)
    figures.dot_plot(["A", "B"], [np.array([1.0, 2.0]), np.array([3.0])], ylabel="v",
                     style=style)
    for fig in drawn:
        used = {Path(findfont(t.get_fontproperties(), fallback_to_default=False)).name
                for t in _texts(fig)}
        assert used <= {file, file.replace("Regular", "Bold")}, used
        assert all(_inside(fig, t) for t in _texts(fig))


def _css_size(css: str, selector: str) -> float:
    block = re.search(re.escape(selector) + r"\s*\{[^}]*?font-size:\s*([\d.]+)pt", css)
    assert block, selector
    return float(block.group(1))


def test_figure_text_takes_the_sizes_of_the_tables_text_and_notes():
    static = ROOT / "templates" / "static"
    base = (static / "base.css").read_text(encoding="utf-8")
    compact = (static / "compact.css").read_text(encoding="utf-8")
    assert TYPEFACES["journal"].text == _css_size(base, "table.journal-table")
    assert TYPEFACES["journal"].small == _css_size(base, ".table-notes")
    assert TYPEFACES["compact"].text == _css_size(compact, "table.journal-table")
    assert TYPEFACES["compact"].small == _css_size(compact, ".table-notes")


def test_event_curves_flip_the_estimate_and_its_band():
    from cohortpress.stats.kaplan_meier import kaplan_meier

    fit = kaplan_meier(np.array([1.0, 2.0, 2.0, 3.0, 5.0]), np.array([1, 1, 0, 1, 0]),
                       "log", 0.95)
    surv, event = figures.km_curve("a", fit), figures.km_curve("a", fit, "event")
    assert event.start == 0.0 and surv.start == 1.0 and event.end == surv.end == 5.0
    np.testing.assert_allclose(event.y, 1 - surv.y)
    np.testing.assert_allclose(event.low, 1 - surv.high)
    np.testing.assert_allclose(event.high, 1 - surv.low)
    np.testing.assert_allclose(event.censor_y, 1 - surv.censor_y)
