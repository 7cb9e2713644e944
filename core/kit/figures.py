"""Journal figures as PNG at a fixed DPI: Kaplan–Meier and cumulative-incidence curves.

Curves are drawn from the distinct event times (one point per step, not per patient),
censor marks are thinned to what a printed column can show, and the number-at-risk table
sits under the time axis on the same x scale. Colours are the Okabe–Ito palette, which
stays distinguishable with the common colour-vision deficiencies and in greyscale (with
line styles as a second cue). The PNG carries no timestamp, so it is byte-identical for
identical inputs.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

DPI = 300
SINGLE_COLUMN_MM = 85.0
DOUBLE_COLUMN_MM = 175.0
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
             "#F0E442")
LINE_STYLES = ("-", "--", "-.", ":")
MAX_CENSOR_MARKS = 400


@dataclass(frozen=True, eq=False)
class Curve:
    """One step curve: ``y`` holds right-continuous values at ``time``; ``start`` is its
    value at time 0 (1 for survival, 0 for cumulative incidence)."""

    label: str
    time: np.ndarray
    y: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    censor_time: np.ndarray = field(default_factory=lambda: np.empty(0))
    censor_y: np.ndarray = field(default_factory=lambda: np.empty(0))
    risk_time: np.ndarray = field(default_factory=lambda: np.empty(0))  # distinct times
    risk_n: np.ndarray = field(default_factory=lambda: np.empty(0))     # at risk at each
    start: float = 1.0
    #: The curve's last follow-up time: drawn flat to there and no further (None: to the
    #: axis end).
    end: float | None = None


#: The house style, applied while our figures are drawn (not to the process's rcParams, so a
#: plugin drawing its own figures keeps Matplotlib's defaults).
STYLE = {
    # Labels come from configs and data: a "$" is a dollar sign, never TeX.
    "text.parse_math": False,
    "font.family": "DejaVu Sans", "font.size": 7, "axes.linewidth": 0.6,
    "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.major.size": 2.5,
    "ytick.major.size": 2.5, "legend.frameon": False, "svg.hashsalt": "cohortpress",
    "path.simplify": True,
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _house_style(draw):
    """Run a figure function with :data:`STYLE` in force."""
    @functools.wraps(draw)
    def styled(*args, **kwargs):
        with _pyplot().rc_context(STYLE):
            return draw(*args, **kwargs)

    return styled


def at_risk(curve: Curve, times: Sequence[float]) -> list[int]:
    """Numbers at risk at ``times``: patients whose time is ≥ t."""
    if len(curve.risk_time) == 0:
        return [0 for _ in times]
    idx = np.searchsorted(curve.risk_time, np.asarray(times, dtype=float), side="left")
    out = []
    for i in idx:
        out.append(int(curve.risk_n[i]) if i < len(curve.risk_n) else 0)
    return out


def _thin(x: np.ndarray, y: np.ndarray, limit: int = MAX_CENSOR_MARKS):
    if len(x) <= limit:
        return x, y
    keep = np.linspace(0, len(x) - 1, limit).round().astype(int)
    return x[keep], y[keep]


@_house_style
def step_figure(curves: Sequence[Curve], *, xlabel: str, ylabel: str, xmax: float | None = None,
                risk_times: Sequence[float] | None = None, annotation: str = "",
                ci_bands: bool = False, median_line: bool = False, percent: bool = True,
                ylim: tuple[float, float] = (0.0, 1.0), width_mm: float = SINGLE_COLUMN_MM,
                legend_loc: str = "lower left", stacked: bool = False,
                risk_curves: Sequence[Curve] | None = None) -> bytes:
    """Draw step curves with censor marks and a number-at-risk table; return PNG bytes.

    ``stacked`` fills the area between each curve and the one before it (the first from
    zero); ``risk_curves`` are the rows of the risk table when they are not the curves.
    """
    plt = _pyplot()
    n_curves = len(curves)
    show_risk = risk_times is not None and len(risk_times) > 0
    risk_rows = list(risk_curves) if risk_curves is not None else list(curves)
    table_height = (0.16 * len(risk_rows) + 0.28) if show_risk else 0.0
    width_in = width_mm / 25.4
    height_in = width_in * 0.72 + table_height
    fig = plt.figure(figsize=(width_in, height_in), dpi=DPI)
    plot_bottom = (table_height + 0.32) / height_in
    ax = fig.add_axes([0.14, plot_bottom, 0.82, 1 - plot_bottom - 0.04])
    limit = xmax if xmax is not None else max(
        (c.end if c.end is not None else float(c.time.max()) if len(c.time) else 0.0)
        for c in curves) or 1.0
    below = None
    for i, curve in enumerate(curves):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        style = LINE_STYLES[i % len(LINE_STYLES)]
        inside = curve.time <= limit
        stop = limit if curve.end is None else min(curve.end, limit)
        x = np.concatenate([[0.0], curve.time[inside], [stop]])
        last = curve.y[inside][-1] if inside.any() else curve.start
        y = np.concatenate([[curve.start], curve.y[inside], [last]])
        ax.step(x, y, where="post", color=colour, linestyle=style, linewidth=1.0,
                label=curve.label)
        if stacked:
            ax.fill_between(x, np.zeros_like(y) if below is None else below(x), y,
                            step="post", color=colour, alpha=0.25, linewidth=0)
            below = functools.partial(_step_values, x.copy(), y.copy())
        if ci_bands and curve.low is not None and curve.high is not None and inside.any():
            low = np.concatenate([[curve.start], curve.low[inside], [curve.low[inside][-1]]])
            high = np.concatenate([[curve.start], curve.high[inside], [curve.high[inside][-1]]])
            ax.fill_between(x, np.nan_to_num(low, nan=y[0]), np.nan_to_num(high, nan=y[0]),
                            step="post", color=colour, alpha=0.15, linewidth=0)
        keep = curve.censor_time <= limit
        cx, cy = _thin(curve.censor_time[keep], curve.censor_y[keep])
        if len(cx):
            ax.plot(cx, cy, linestyle="none", marker="|", markersize=3.5, markeredgewidth=0.7,
                    color=colour)
    if median_line:
        ax.axhline(0.5, color="#777777", linewidth=0.5, linestyle=":")
    ax.set_xlim(0, limit)
    ax.set_ylim(*ylim)
    if percent:
        ticks = np.linspace(ylim[0], ylim[1], 5)
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"{t * 100:.0f}" for t in ticks])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    if n_curves > 1:
        ax.legend(loc=legend_loc, handlelength=2.2, fontsize=6.5)
    if annotation:
        ax.text(0.98, 0.96, annotation, transform=ax.transAxes, ha="right", va="top",
                fontsize=6.5)
    if show_risk:
        _risk_table(fig, ax, risk_rows, list(risk_times), height_in, table_height)
    return _save(fig, plt)


def _step_values(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """A right-continuous step function through (x, y), evaluated at ``at``."""
    return y[np.clip(np.searchsorted(x, at, side="right") - 1, 0, len(y) - 1)]


def _risk_table(fig, ax, curves, times, height_in, table_height) -> None:
    bottom = 0.02
    table = fig.add_axes([0.14, bottom, 0.82, (table_height - 0.06) / height_in],
                         sharex=None)
    table.set_xlim(ax.get_xlim())
    table.set_ylim(-0.5, len(curves) - 0.5 + 0.9)
    table.axis("off")
    table.text(0.0, len(curves) - 0.5 + 0.55, "Number at risk", transform=table.transData,
               fontsize=6.5, fontweight="bold", ha="left", va="center")
    for i, curve in enumerate(curves):
        row = len(curves) - 1 - i
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        for t, n in zip(times, at_risk(curve, times)):
            table.text(t, row, str(n), ha="center", va="center", fontsize=6.5, color=colour)
        table.text(-0.07, row, curve.label, transform=table.get_yaxis_transform(),
                   ha="right", va="center", fontsize=6.5, color=colour)


def plain_number(value: float) -> str:
    """A tick value as a reader writes it: 0.5, 10, 1000 (no exponent, no trailing zeros).

    Rounded to 12 significant digits first: tick positions such as 3 x 0.1 are not exact
    in binary and would print as 0.30000000000000004.
    """
    rounded = float(f"{value:.12g}")
    return np.format_float_positional(rounded, trim="-").replace("-", "\u2212")


def _plain_log_formatter():
    """Log-axis tick labels as plain numbers (10, 100, 1000).

    Matplotlib's default writes them as TeX powers of ten (10\u00b2), which clinical readers
    read less easily and which cost a fifth of a second to typeset; this keeps its choice
    of which ticks to label.
    """
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def __call__(self, x, pos=None):
            return plain_number(x) if super().__call__(x, pos) else ""

    return PlainLogFormatter(labelOnlyBase=False)


def _save(fig, plt) -> bytes:
    """The figure as an opaque RGB PNG (no timestamp, so identical inputs give identical bytes).

    Matplotlib writes RGBA; on a white figure every pixel is opaque, and an alpha channel
    would only make the PDF carry a second image (a soft mask) for each figure.
    """
    from PIL import Image

    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    plt.close(fig)
    if (rgba[..., 3] != 255).any():  # composite on white where anything is see-through
        alpha = rgba[..., 3:4].astype(np.float64) / 255.0
        rgb = np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    else:
        rgb = np.ascontiguousarray(rgba[..., :3])
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="png", dpi=(DPI, DPI))
    return buffer.getvalue()


@_house_style
def grouped_bars(categories: Sequence[str], groups: Sequence[str], percents: np.ndarray,
                 counts: np.ndarray, *, ylabel: str, xlabel: str = "", annotation: str = "",
                 width_mm: float = SINGLE_COLUMN_MM) -> bytes:
    """Bars of the percentage of each group (columns of ``percents``) in each category."""
    plt = _pyplot()
    width_in = width_mm / 25.4
    fig = plt.figure(figsize=(width_in, width_in * 0.7), dpi=DPI)
    ax = fig.add_axes([0.14, 0.2, 0.82, 0.72])
    n_groups = len(groups)
    step = 0.8 / max(n_groups, 1)
    x = np.arange(len(categories))
    for j, group in enumerate(groups):
        offset = (j - (n_groups - 1) / 2) * step
        bars = ax.bar(x + offset, percents[:, j], width=step * 0.92,
                      color=OKABE_ITO[j % len(OKABE_ITO)], label=group, linewidth=0)
        for rect, n in zip(bars, counts[:, j]):
            ax.text(rect.get_x() + rect.get_width() / 2, rect.get_height() + 1, str(int(n)),
                    ha="center", va="bottom", fontsize=6)
    ax.set_xticks(x)
    ax.set_xticklabels(categories)
    ax.set_ylim(0, max(100.0, float(np.nanmax(percents)) + 12 if percents.size else 100.0))
    ax.set_ylabel(ylabel)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    if n_groups > 1:
        ax.legend(loc="upper right", fontsize=6.5)
    if annotation:
        ax.text(0.02, 0.97, annotation, transform=ax.transAxes, ha="left", va="top",
                fontsize=6.5)
    return _save(fig, plt)


@_house_style
def dot_plot(groups: Sequence[str], samples: Sequence[np.ndarray], *, ylabel: str,
             log_scale: bool = False, reference_lines: Sequence[float] = (),
             annotation: str = "", width_mm: float = SINGLE_COLUMN_MM, seed: int = 1) -> bytes:
    """Each patient as a dot per group (seeded jitter), with the group medians as bars."""
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    width_in = width_mm / 25.4
    fig = plt.figure(figsize=(width_in, width_in * 0.75), dpi=DPI)
    ax = fig.add_axes([0.16, 0.12, 0.8, 0.8])
    for j, values in enumerate(samples):
        colour = OKABE_ITO[j % len(OKABE_ITO)]
        jitter = rng.uniform(-0.18, 0.18, len(values))
        ax.plot(np.full(len(values), j) + jitter, values, linestyle="none", marker="o",
                markersize=2.6, markeredgewidth=0.4, markerfacecolor="none", color=colour)
        if len(values):
            median = float(np.median(values))
            ax.plot([j - 0.28, j + 0.28], [median, median], color="#000000", linewidth=1.0)
    for value in reference_lines:
        ax.axhline(value, color="#777777", linewidth=0.6, linestyle="--")
    if log_scale:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_plain_log_formatter())
        ax.yaxis.set_minor_formatter(_plain_log_formatter())
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel(ylabel)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    if annotation:
        ax.text(0.98, 0.97, annotation, transform=ax.transAxes, ha="right", va="top",
                fontsize=6.5)
    return _save(fig, plt)
