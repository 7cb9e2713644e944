"""Journal figures as PNG at a fixed DPI: Kaplan–Meier and cumulative-incidence curves.

Curves are drawn from the distinct event times (one point per step, not per patient), each
up to its own last follow-up (:attr:`Curve.end`) and no further; censor marks are thinned to
what a printed column can show, and the number-at-risk table sits under the time axis with
its numbers under the axis ticks (the same x transform). Margins are measured from the text
(:mod:`cohortpress.kit.figure_style`), in the typeface of the report's style. Colours are
the Okabe–Ito palette, which stays distinguishable with the common colour-vision
deficiencies and in greyscale (with line styles as a second cue). The PNG carries no
timestamp, so it is byte-identical for identical inputs.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from cohortpress.kit.figure_style import (MM_PER_INCH, PAD_IN, STYLE, fit_axes, pyplot,
                                          styled, text_width_in)

DPI = 300
SINGLE_COLUMN_MM = 85.0
DOUBLE_COLUMN_MM = 175.0
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
             "#F0E442")
LINE_STYLES = ("-", "--", "-.", ":")
MAX_CENSOR_MARKS = 400
#: Line height of the risk table, in multiples of its font size.
ROW_SPACING = 1.3
_pyplot = pyplot


@dataclass(frozen=True, eq=False)
class Curve:
    """One step curve: ``y`` holds right-continuous values at ``time``; ``start`` is its
    value at time 0 (1 for survival, 0 for cumulative incidence); ``end`` is the curve's
    last follow-up time, where its line stops (``None``: not known, and the line runs on to
    the axis' end, which is then at least the last of ``time`` and ``censor_time``)."""

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
    end: float | None = None

    @property
    def last(self) -> float:
        """How far the time axis must reach for this curve: :attr:`end`, or its last time."""
        if self.end is not None:
            return float(self.end)
        known = [float(a.max()) for a in (self.time, self.censor_time) if len(a)]
        return max(known, default=0.0)


#: The titles of the risk table's blocks, by the names ``risk_table_rows`` gives them.
RISK_ROW_TITLES = {"at_risk": "Number at risk", "events": "Cumulative events",
                   "censored": "Cumulative censored"}


@dataclass(frozen=True)
class RiskRows:
    """One block of the table under a figure: a ``title`` ("Number at risk") and, per
    curve in order, the numbers printed under each of the figure's risk times."""

    title: str
    numbers: Sequence[Sequence[int]]


def at_risk(curve: Curve, times: Sequence[float]) -> list[int]:
    """Numbers at risk at ``times``: patients whose time is ≥ t."""
    if len(curve.risk_time) == 0:
        return [0 for _ in times]
    idx = np.searchsorted(curve.risk_time, np.asarray(times, dtype=float), side="left")
    out = []
    for i in idx:
        out.append(int(curve.risk_n[i]) if i < len(curve.risk_n) else 0)
    return out


def km_curve(label: str, fit, fun: str = "survival", risk=None) -> Curve:
    """The curve of a Kaplan–Meier fit (:func:`cohortpress.stats.kaplan_meier.kaplan_meier`):
    the survival function, or with ``fun="event"`` the cumulative event probability 1 − S
    (its confidence band flipped with it), ending at the fit's last time. ``risk``, a pair
    of times and numbers at risk, replaces the fit's own (with delayed entry:
    :func:`cohortpress.kit.delayed_entry.exact_risk`)."""
    censored = fit.n_censor > 0
    risk_time, risk_n = risk if risk is not None else (fit.time, fit.n_risk)
    end = float(fit.time[-1]) if len(fit.time) else 0.0
    if fun == "event":
        return Curve(label, fit.time, 1.0 - fit.surv, 1.0 - fit.conf_high, 1.0 - fit.conf_low,
                     censor_time=fit.time[censored], censor_y=1.0 - fit.surv[censored],
                     risk_time=risk_time, risk_n=risk_n, start=0.0, end=end)
    return Curve(label, fit.time, fit.surv, fit.conf_low, fit.conf_high,
                 censor_time=fit.time[censored], censor_y=fit.surv[censored],
                 risk_time=risk_time, risk_n=risk_n, start=1.0, end=end)


def _thin(x: np.ndarray, y: np.ndarray, limit: int = MAX_CENSOR_MARKS):
    if len(x) <= limit:
        return x, y
    keep = np.linspace(0, len(x) - 1, limit).round().astype(int)
    return x[keep], y[keep]


def nice_ticks(limit: float) -> np.ndarray:
    """Ticks from 0 to ``limit`` at a step of 1, 2, 2.5 or 5 times a power of ten, about
    five of them."""
    raw = limit / 5 if limit > 0 else 1.0
    magnitude = 10 ** np.floor(np.log10(raw))
    step = next(f * magnitude for f in (1, 2, 2.5, 5, 10) if raw <= f * magnitude + 1e-12)
    return np.arange(0.0, limit + step * 1e-9, step)


def _draw_curve(ax, curve: Curve, i: int, limit: float, ci_bands: bool,
                below=None) -> tuple[np.ndarray, np.ndarray]:
    """Draw one curve to its end; with ``below`` (a step function of x) fill the area
    between it and the curve. Returns the drawn step points."""
    colour = OKABE_ITO[i % len(OKABE_ITO)]
    stop = limit if curve.end is None else min(curve.end, limit)
    inside = curve.time <= stop
    x = np.concatenate([[0.0], curve.time[inside], [stop]])
    last = curve.y[inside][-1] if inside.any() else curve.start
    y = np.concatenate([[curve.start], curve.y[inside], [last]])
    bands = ci_bands and curve.low is not None and curve.high is not None and inside.any()
    if bands:
        low = np.concatenate([[curve.start], curve.low[inside], [curve.low[inside][-1]]])
        high = np.concatenate([[curve.start], curve.high[inside], [curve.high[inside][-1]]])
    if below is None:
        corners = _corners(y, *((low, high) if bands else ()))
        x, y = x[corners], y[corners]
        if bands:
            low, high = low[corners], high[corners]
    ax.step(x, y, where="post", color=colour, linestyle=LINE_STYLES[i % len(LINE_STYLES)],
            linewidth=1.0, label=curve.label)
    if below is not None:
        ax.fill_between(x, below(x), y, step="post", color=colour, alpha=0.25, linewidth=0)
    if bands:
        ax.fill_between(x, np.nan_to_num(low, nan=y[0]), np.nan_to_num(high, nan=y[0]),
                        step="post", color=colour, alpha=0.15, linewidth=0)
    keep = curve.censor_time <= stop
    cx, cy = _thin(curve.censor_time[keep], curve.censor_y[keep])
    if len(cx):
        ax.plot(cx, cy, linestyle="none", marker="|", markersize=3.5, markeredgewidth=0.7,
                color=colour)
    return x, y


def _corners(*values: np.ndarray) -> np.ndarray:
    """The points of post-step curves that start a step of any of ``values`` (same
    length), with the first and the last. At the others (censorings: nothing drops) the
    lines only run on flat, so the curves drawn without them are the same; with exact
    times they are most of the points (about one per patient), and each point costs
    matplotlib some 150 bytes while it draws."""
    keep = np.ones(values[0].size, dtype=bool)
    if keep.size > 2:
        keep[1:-1] = False
        for v in values:
            keep[1:-1] |= v[1:-1] != v[:-2]  # NaN differs from everything: kept
    return keep


def _step_values(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """A right-continuous step function through (x, y), evaluated at ``at``."""
    return y[np.clip(np.searchsorted(x, at, side="right") - 1, 0, len(y) - 1)]


@styled
def step_figure(curves: Sequence[Curve], *, xlabel: str, ylabel: str, xmax: float | None = None,
                risk_times: Sequence[float] | None = None, annotation: str = "",
                ci_bands: bool = False, median_line: bool = False, percent: bool = True,
                ylim: tuple[float, float] = (0.0, 1.0), width_mm: float = SINGLE_COLUMN_MM,
                legend_loc: str = "lower left", risk_rows: Sequence[RiskRows] | None = None,
                stacked: bool = False, risk_curves: Sequence[Curve] | None = None,
                face=None) -> bytes:
    """Draw step curves with censor marks and a number-at-risk table; return PNG bytes.

    The x axis runs to ``xmax`` or to the latest :attr:`Curve.end`. With ``risk_times``
    the table under the axis shows the ``risk_rows`` blocks (by default "Number at risk",
    from the curves), one number per curve and time; the x ticks are then the risk times
    that fall on the axis, and ``risk_rows`` give one number per risk time. Keyword
    ``style`` (``"journal"`` or ``"compact"``) picks the report's typeface. ``stacked``
    fills the area between each curve and the one before it (the first from zero);
    ``risk_curves`` are the rows of the risk table when they are not the curves.
    """
    plt = _pyplot()
    fig = plt.figure(dpi=DPI)
    ax = fig.add_axes([0.2, 0.2, 0.6, 0.6])
    limit = xmax if xmax is not None else max((c.last for c in curves), default=0.0) or 1.0
    below = (lambda x: np.zeros_like(x)) if stacked else None
    for i, curve in enumerate(curves):
        x, y = _draw_curve(ax, curve, i, limit, ci_bands, below)
        if stacked:
            below = functools.partial(_step_values, x, y)
    if median_line:
        ax.axhline(0.5, color="#777777", linewidth=0.5, linestyle=":")
    ax.set_xlim(0, limit)
    ax.set_ylim(*ylim)
    show_risk = risk_times is not None and len(risk_times) > 0
    shown = [k for k, t in enumerate(risk_times) if t <= limit] if show_risk else []
    ticks = [risk_times[k] for k in shown] if show_risk else nice_ticks(limit)
    ax.set_xticks(ticks)
    ax.set_xticklabels([plain_number(t) for t in ticks])
    if percent:
        yticks = np.linspace(ylim[0], ylim[1], 5)
        ax.set_yticks(yticks)
        ax.set_yticklabels([f"{t * 100:.0f}" for t in yticks])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    if len(curves) > 1:
        ax.legend(loc=legend_loc, handlelength=2.2)
    if annotation:  # above the axes, where no curve can run through it
        ax.text(1.0, 1.0, annotation, transform=ax.transAxes, ha="right", va="bottom")
    width_in = width_mm / MM_PER_INCH
    axes_height = width_in * 0.5
    if not show_risk:
        fit_axes(fig, ax, width_in, axes_height)
        return _save(fig, plt)
    table_curves = list(risk_curves) if risk_curves is not None else list(curves)
    blocks = risk_rows if risk_rows is not None else \
        [RiskRows(RISK_ROW_TITLES["at_risk"], [at_risk(c, risk_times) for c in table_curves])]
    blocks = [RiskRows(b.title, [[row[k] for k in shown] for row in b.numbers])
              for b in blocks]
    numbers, table_height, left = _risk_table(fig, ax, table_curves, ticks, blocks,
                                              face.small, width_in)
    fit_axes(fig, ax, width_in, axes_height, sideways=numbers, below_in=table_height,
             min_left_in=left)
    return _save(fig, plt)


#: A risk-table label column wider than this share of the figure puts each label on a line of
#: its own above its numbers, so that long group names do not squeeze the axes.
MAX_LABEL_SHARE = 0.3


def _risk_table(fig, ax, curves, times, blocks, size, width_in):
    """Write the table under the axes: block titles and row labels from the figure's left
    edge, the numbers at the times in the axes' x coordinates, lines laid out from the
    bottom in figure inches. Returns the number texts, the table's height and the left
    margin its labels need (inches)."""
    from matplotlib.transforms import blended_transform_factory

    line = size * ROW_SPACING / 72.0
    inches = fig.dpi_scale_trans
    under_ticks = blended_transform_factory(ax.transData, inches)
    label_width = max(text_width_in(fig, c.label, size) for c in curves)
    first = [str(n) for block in blocks for row in block.numbers for n in row[:1]]
    first_width = max((text_width_in(fig, n, size) for n in first), default=0.0) \
        if times and times[0] == 0 else 0.0
    stacked = label_width + 3 * PAD_IN > MAX_LABEL_SHARE * width_in
    lines = []  # (text, curve index or None for a title, numbers or None for a label)
    for block in blocks:
        lines.append((block.title, None, None))
        for i, (curve, row) in enumerate(zip(curves, block.numbers)):
            lines += [(curve.label, i, None), ("", i, row)] if stacked \
                else [(curve.label, i, row)]
    height = len(lines) * line + PAD_IN
    texts = []
    for k, (label, i, row) in enumerate(lines):
        y = height - (k + 0.5) * line
        colour = "#000000" if i is None else OKABE_ITO[i % len(OKABE_ITO)]
        if label:
            fig.text(PAD_IN, y, label, transform=inches, ha="left", va="center",
                     fontsize=size, color=colour, fontweight="bold" if i is None else "normal")
        for t, n in zip(times, row if row is not None else ()):
            texts.append(fig.text(t, y, str(n), transform=under_ticks, ha="center",
                                  va="center", fontsize=size, color=colour))
    left = PAD_IN + first_width / 2 if stacked else \
        PAD_IN + label_width + 2 * PAD_IN + first_width / 2
    return texts, height, left


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
    # Emptied first, the closed figure's copies of the points (hundreds of MB for curves of
    # millions of times) are freed now, not whenever the garbage collector next walks its
    # reference cycles.
    fig.clf()
    plt.close(fig)
    if (rgba[..., 3] != 255).any():  # composite on white where anything is see-through
        alpha = rgba[..., 3:4].astype(np.float64) / 255.0
        rgb = np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    else:
        rgb = np.ascontiguousarray(rgba[..., :3])
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="png", dpi=(DPI, DPI))
    return buffer.getvalue()


@styled
def grouped_bars(categories: Sequence[str], groups: Sequence[str], percents: np.ndarray,
                 counts: np.ndarray, *, ylabel: str, xlabel: str = "", annotation: str = "",
                 width_mm: float = SINGLE_COLUMN_MM, face=None) -> bytes:
    """Bars of the percentage of each group (columns of ``percents``) in each category, each
    labelled with its count (a text in ``counts``, such as a disclosure rule's "<10", is
    printed as it is)."""
    plt = _pyplot()
    width_in = width_mm / MM_PER_INCH
    fig = plt.figure(dpi=DPI)
    ax = fig.add_axes([0.2, 0.2, 0.6, 0.6])
    n_groups = len(groups)
    step = 0.8 / max(n_groups, 1)
    x = np.arange(len(categories))
    for j, group in enumerate(groups):
        offset = (j - (n_groups - 1) / 2) * step
        bars = ax.bar(x + offset, percents[:, j], width=step * 0.92,
                      color=OKABE_ITO[j % len(OKABE_ITO)], label=group, linewidth=0)
        for rect, n in zip(bars, counts[:, j]):
            ax.text(rect.get_x() + rect.get_width() / 2, rect.get_height() + 1,
                    n if isinstance(n, str) else str(int(n)),
                    ha="center", va="bottom", fontsize=face.small * 0.85)
    ax.set_xticks(x)
    ax.set_xticklabels(categories)
    ax.set_ylim(0, max(100.0, float(np.nanmax(percents)) + 12 if percents.size else 100.0))
    ax.set_ylabel(ylabel)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    if n_groups > 1:
        ax.legend(loc="upper right")
    if annotation:
        ax.text(0.02, 0.97, annotation, transform=ax.transAxes, ha="left", va="top")
    fit_axes(fig, ax, width_in, width_in * 0.55)
    return _save(fig, plt)


@styled
def dot_plot(groups: Sequence[str], samples: Sequence[np.ndarray], *, ylabel: str,
             log_scale: bool = False, reference_lines: Sequence[float] = (),
             annotation: str = "", width_mm: float = SINGLE_COLUMN_MM, seed: int = 1,
             summary_only: bool = False, face=None) -> bytes:
    """Each patient as a dot per group (seeded jitter), with the group medians as bars;
    ``summary_only``: no dots, each group's median as a bar and its interquartile range as
    a vertical line (what a disclosure rule lets a figure show)."""
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    width_in = width_mm / MM_PER_INCH
    fig = plt.figure(dpi=DPI)
    ax = fig.add_axes([0.2, 0.2, 0.6, 0.6])
    for j, values in enumerate(samples):
        colour = OKABE_ITO[j % len(OKABE_ITO)]
        jitter = rng.uniform(-0.18, 0.18, len(values))
        if summary_only and len(values):
            low, high = np.percentile(values, [25, 75])
            ax.plot([j, j], [low, high], color=colour, linewidth=2.0)
        elif not summary_only:
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
        ax.text(0.98, 0.97, annotation, transform=ax.transAxes, ha="right", va="top")
    fit_axes(fig, ax, width_in, width_in * 0.6)
    return _save(fig, plt)
