"""A forest plot of a regression model's ratios (HR, OR, SHR), drawn from its records alone.

One row per estimate in the order of the regression table: a continuous covariate, a binary
covariate as its contrast ("Oedema: yes vs no"), a factor as a heading with its levels
indented (the reference level named, without a point), an interaction's product terms, and
a natural spline as its name only (its basis columns' ratios mean nothing alone). Each estimate is a square at the
ratio with a line for its confidence interval on a log axis (ratios are symmetric on the log
scale: 0.5 and 2 lie equally far from 1), a reference line at 1, and the ratio with its
interval printed on the right as the table prints it. An interval that runs off the axis
ends in an arrow; a term the model could not estimate says so instead of a point.

The label column and the text column are measured from their longest text with the
renderer's own metrics, and the axes take what is left, so no label is clipped. The figure
uses the house style of :mod:`cohortpress.kit.figures` (its fonts and sizes). Everything
shown comes from the records written by :func:`cohortpress.kit.regression.model_records`
and :func:`~cohortpress.kit.regression.layout_records`, so the figure and ``results.json``
cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from cohortpress.api.results import Result
from cohortpress.kit.figure_style import pyplot, styled
from cohortpress.kit.figures import DOUBLE_COLUMN_MM, DPI, _save, plain_number
from cohortpress.kit.prose import percent_text
from cohortpress.kit.regression_table import NOT_ESTIMABLE, contrast_label

#: Candidate tick values of the log axis (each decade's 1, 2 and 5).
_TICKS = tuple(m * 10.0 ** e for e in range(-4, 5) for m in (1, 2, 5))
ROW_HEIGHT_IN = 0.19
GAP_IN = 0.08
MARGIN_IN = 0.04


@dataclass(frozen=True)
class ForestRow:
    """One row of the plot: a label and, for an estimate, the ratio and its limits."""

    label: str
    indent: int = 0
    ratio: float | None = None
    low: float | None = None
    high: float | None = None
    text: str = ""


def forest_model(records: Iterable[Result], context_name: str) -> str | None:
    """The model a forest plot shows: the multivariable one if the records have it, else
    the first (``group_level`` of its ``model.title`` record), or ``None``."""
    levels = [r.group_level for r in records if r.context == context_name
              and r.group == "model" and r.stat_name == "model.title"]
    if "multivariable" in levels:
        return "multivariable"
    return levels[0] if levels else None


def forest_rows(records: Iterable[Result], *, context_name: str, ratio_stat: str,
                model: str) -> list[ForestRow]:
    """The rows of the plot of ``model`` (a ``group_level``), in the table's order."""
    records = [r for r in records if r.context == context_name]
    labels, kinds, levels, references = {}, {}, {}, {}
    for r in records:
        if r.group is not None:
            continue
        if r.stat_name == "label":
            labels[r.variable] = r.stat
        elif r.stat_name == "var_type":
            kinds[r.variable] = r.stat
        elif r.stat_name == "reference_row":
            levels.setdefault(r.variable, []).append(r.variable_level)
            if r.stat:
                references[r.variable] = r.variable_level
    mine = [r for r in records if r.group == "model" and r.group_level == model]
    flagged = {r.variable for r in mine if r.stat_name == "not.estimable"}
    values: dict[tuple, dict[str, Result]] = {}
    for r in mine:
        if r.stat_name in (ratio_stat, "conf.low", "conf.high"):
            values.setdefault((r.variable, r.variable_level), {})[r.stat_name] = r

    def estimate(label, variable, level, indent=0) -> ForestRow:
        found = values.get((variable, level), {})
        if variable in flagged or ratio_stat not in found:
            return ForestRow(label, indent, text=NOT_ESTIMABLE if variable in flagged else "")
        ratio = found[ratio_stat]
        return ForestRow(label, indent, float(ratio.stat), float(found["conf.low"].stat),
                         float(found["conf.high"].stat), ratio.formatted or "")

    rows = []
    for variable, label in labels.items():
        kind, own = kinds.get(variable), levels.get(variable, [])
        reference = references.get(variable)
        if kind == "binary" and len(own) == 2:
            level = own[1] if own[0] == reference else own[0]
            rows.append(estimate(contrast_label(label, level, reference or own[0], own),
                                 variable, level))
        elif kind == "spline":  # the ratio of one basis column means nothing: no point
            rows.append(ForestRow(label, text="spline: see the table"))
        elif kind == "interaction" and len(own) == 1:
            rows.append(estimate(f"{label}: {own[0]}", variable, own[0]))
        elif kind == "interaction" and own:
            rows.append(ForestRow(label))
            rows += [estimate(level, variable, level, 1) for level in own]
        elif kind in ("binary", "categorical"):
            flag = NOT_ESTIMABLE if variable in flagged else ""
            rows.append(ForestRow(label, text=flag))
            for level in own:
                if level == reference:
                    rows.append(ForestRow(f"{level} (reference)", 1))
                elif variable not in flagged:
                    rows.append(estimate(level, variable, level, 1))
        else:
            rows.append(estimate(label, variable, None))
    return rows


def _limits(rows: Sequence[ForestRow]) -> tuple[float, float]:
    """The axis limits: every finite point and limit, and 1, with a margin, on nice ticks."""
    values = [1.0]
    for row in rows:
        values += [v for v in (row.ratio, row.low, row.high)
                   if v is not None and math.isfinite(v) and v > 0]
    low, high = min(values), max(values)
    # at most four decades each side of 1: beyond, the interval ends in an arrow
    low, high = max(low, 1e-4), min(high, 1e4)
    low = max((t for t in _TICKS if t <= low * 0.98), default=_TICKS[0])
    high = min((t for t in _TICKS if t >= high * 1.02), default=_TICKS[-1])
    return low, high


def _ticks(low: float, high: float) -> list[float]:
    ticks = [t for t in _TICKS if low <= t <= high]
    if len(ticks) > 7:  # a wide axis: the decades and 1 only
        ticks = [t for t in ticks if math.log10(t).is_integer()]
    return ticks


@styled
def forest_plot(rows: Sequence[ForestRow], *, ratio_name: str, ratio_title: str,
                conf_level: float, width_mm: float = 120.0, face=None) -> bytes:
    """The forest plot of ``rows`` as a PNG (:func:`forest_figure`, saved), in the
    typeface of the keyword ``style`` (the report's style)."""
    fig = forest_figure(rows, ratio_name=ratio_name, ratio_title=ratio_title,
                        conf_level=conf_level, width_mm=width_mm)
    return _save(fig, pyplot())


def forest_figure(rows: Sequence[ForestRow], *, ratio_name: str, ratio_title: str,
                  conf_level: float, width_mm: float = 120.0):
    """The forest plot of ``rows`` as a Matplotlib figure (call it within the house style,
    as :func:`forest_plot` does).

    Parameters
    ----------
    rows : sequence of ForestRow
        From :func:`forest_rows`.
    ratio_name : str
        The ratio's abbreviation, heading the text column: ``"HR"``, ``"OR"``, ``"SHR"``.
    ratio_title : str
        The axis title: ``"Hazard ratio"``, ``"Odds ratio"``.
    conf_level : float
        The confidence level of the intervals (for the column heading).
    width_mm : float
        The printed width; widened (up to a double column) when the texts leave the axes
        less than 30 mm.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    heading = f"{ratio_name} ({percent_text(conf_level)} CI)"
    n = len(rows)
    top_in, bottom_in = 0.28, 0.52
    height_in = top_in + bottom_in + ROW_HEIGHT_IN * max(n, 1)
    width_in = width_mm / 25.4
    fig = plt.figure(figsize=(width_in, height_in), dpi=DPI)
    renderer = fig.canvas.get_renderer()

    def widest(texts, **kw) -> float:
        widths = [fig.text(0, 0, t, **kw) for t in texts if t]
        found = [w.get_window_extent(renderer).width / fig.dpi for w in widths]
        for w in widths:
            w.remove()
        return max(found, default=0.0)

    indent_in = 0.12
    label_in = max([widest([r.label]) + r.indent * indent_in for r in rows] + [0.0])
    text_in = widest([r.text for r in rows] + [heading], fontweight="bold")
    axes_in = width_in - 2 * MARGIN_IN - label_in - text_in - 2 * GAP_IN
    min_axes_in = 30 / 25.4
    if axes_in < min_axes_in:
        width_in = min(DOUBLE_COLUMN_MM / 25.4, width_in + min_axes_in - axes_in)
        fig.set_size_inches(width_in, height_in)
        axes_in = max(width_in - 2 * MARGIN_IN - label_in - text_in - 2 * GAP_IN, 0.5)
    left_in = MARGIN_IN + label_in + GAP_IN
    ax = fig.add_axes([left_in / width_in, bottom_in / height_in, axes_in / width_in,
                       (height_in - top_in - bottom_in) / height_in])
    low, high = _limits(rows)
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.set_ylim(n - 0.5, -0.5)
    ax.axvline(1.0, color="#555555", linewidth=0.6, linestyle="--", zorder=1)
    ticks = _ticks(low, high)
    ax.set_xticks(ticks)
    ax.set_xticklabels([plain_number(t) for t in ticks])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    _axis_title(fig, ax, f"{ratio_title} ({percent_text(conf_level)} CI, log scale)", renderer,
                left_in, axes_in, width_in)
    text_x = (left_in + axes_in + GAP_IN) / width_in
    to_fig = ax.transData + fig.transFigure.inverted()
    for i, row in enumerate(rows):
        y = to_fig.transform((1.0, i))[1]
        fig.text(MARGIN_IN / width_in + row.indent * indent_in / width_in, y, row.label,
                 ha="left", va="center")
        if row.text:
            fig.text(text_x, y, row.text, ha="left", va="center")
        if row.ratio is None:
            continue
        _interval(ax, i, row, low, high)
    heading_y = 1 - (top_in * 0.5) / height_in
    fig.text(text_x, heading_y, heading, ha="left", va="center", fontweight="bold")
    return fig


def _axis_title(fig, ax, title: str, renderer, left_in: float, axes_in: float,
                width_in: float) -> None:
    """The axis title centred under the axes, moved (or set on two lines) to stay inside
    the figure when it is wider than the axes."""
    label = ax.set_xlabel(title)
    room = width_in - 2 * MARGIN_IN
    if label.get_window_extent(renderer).width / fig.dpi > room and " (" in title:
        label.set_text(title.replace(" (", "\n(", 1))
    half = label.get_window_extent(renderer).width / fig.dpi / 2
    centre = min(max(left_in + axes_in / 2, MARGIN_IN + half), width_in - MARGIN_IN - half)
    label.set_x((centre - left_in) / axes_in)


def _interval(ax, i: int, row: ForestRow, low: float, high: float) -> None:
    """The square at the ratio and the line of its interval (an arrow where it runs off)."""
    colour = "#000000"
    lo = row.low if row.low is not None and math.isfinite(row.low) and row.low > 0 else 0.0
    hi = row.high if row.high is not None and math.isfinite(row.high) else math.inf
    ax.plot([max(lo, low), min(hi, high)], [i, i], color=colour, linewidth=0.9,
            solid_capstyle="butt", zorder=2)
    if lo < low:
        ax.plot([low], [i], marker="<", color=colour, markersize=3.5, zorder=2)
    if hi > high:
        ax.plot([high], [i], marker=">", color=colour, markersize=3.5, zorder=2)
    if low <= row.ratio <= high:
        ax.plot([row.ratio], [i], marker="s", color=colour, markersize=3.6, zorder=3)


def forest_alt(rows: Sequence[ForestRow], ratio_name: str) -> str:
    """The figure's alt text: each estimate as the table prints it."""
    shown = [f"{r.label}: {r.text}" for r in rows if r.text]
    return f"Forest plot of {ratio_name}s on a log scale: " + "; ".join(shown) + "." \
        if shown else f"Forest plot of {ratio_name}s (no estimate)."


def finite_rows(rows: Sequence[ForestRow]) -> bool:
    """Whether any row has an estimate to draw."""
    return any(r.ratio is not None and np.isfinite(r.ratio) for r in rows)


@dataclass(frozen=True)
class ForestKind:
    """What a regression analysis's forest plot shows: its records' context, the ratio's
    record name (``"hr"``), abbreviation (``"HR"``) and axis title (``"Hazard ratio"``)."""

    context_name: str
    ratio_stat: str
    ratio_name: str
    ratio_title: str


def forest_figures(results: Sequence[Result], kind: ForestKind, *, subject: str,
                   conf_level: float, ci_method: str = "", style: str | None = None) -> tuple:
    """The forest plot of a section's preferred model (multivariable, else univariable)
    from its records alone, as a one-figure tuple (empty without an estimate to draw).
    ``subject`` finishes the caption's first words: "Hazard ratios" + " for EFS";
    ``ci_method`` names the intervals' method ("profile-likelihood") when there is a choice."""
    from cohortpress.api.blocks import Figure

    model = forest_model(results, kind.context_name)
    if model is None:
        return ()
    rows = forest_rows(results, context_name=kind.context_name, ratio_stat=kind.ratio_stat,
                       model=model)
    if not finite_rows(rows):
        return ()
    png = forest_plot(rows, ratio_name=kind.ratio_name, ratio_title=kind.ratio_title,
                      conf_level=conf_level, style=style)
    method = f"{ci_method} " if ci_method else ""
    caption = (f"{kind.ratio_title}s {subject}, {model} model, with {method}"
               f"{percent_text(conf_level)} confidence intervals (log scale).")
    return (Figure(png, caption, forest_alt(rows, kind.ratio_title.lower()), width_mm=120.0,
                   name="forest"),)
