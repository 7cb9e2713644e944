"""The ratio of a spline covariate against its values, relative to a reference value.

For a natural-spline term with basis ``B`` and coefficients ``b`` (their variance ``V``)
the log ratio at ``x`` against the reference ``x0`` is ``d(x) b`` with
``d(x) = B(x) - B(x0)``, and its variance ``d(x) V d(x)'``: the curve R users draw from
``predict(fit, newdata, type = "terms")`` centred at a value of their choice. The curve is
recorded at 101 points over the range of the covariate (the boundary knots) and drawn from
those records alone: the line, its pointwise confidence band, and the reference as a point
at ratio 1.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cohortpress.api.blocks import Figure
from cohortpress.api.results import Result
from cohortpress.kit.figure_style import fit_axes, pyplot, styled
from cohortpress.kit.figures import SINGLE_COLUMN_MM, _plain_log_formatter, _save
from cohortpress.stats.distributions import norm_ppf

POINTS = 101
_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0,
          50.0, 100.0, 200.0, 500.0, 1000.0)


def design_curve_records(context_name: str, design, fit, references: dict[str, float],
                         conf_level: float, level: str) -> list[Result]:
    """The curves of every spline term of ``design`` fitted as ``fit``; each relative to
    its value in ``references``, or else to the median of the model's patients."""
    out = []
    for term in design.terms:
        if term.kind != "spline":
            continue
        reference = references.get(term.variable, float(np.median(design.raw[term.variable])))
        out += spline_curve_records(context_name, term, fit.names, fit.coef, fit.var,
                                    reference, conf_level, level)
    return out


def spline_curve_records(context_name: str, term, names: Sequence[str], coef, var,
                         reference: float, conf_level: float, level: str) -> list[Result]:
    """The records of one spline's curve (``stat_name`` ``curve.x``, ``curve.ratio``,
    ``curve.conf.low``, ``curve.conf.high`` by point, ``variable_level`` the point's
    number; ``curve.reference`` the reference value).

    Parameters
    ----------
    term : cohortpress.kit.design.Term
        A spline term (``term.spline`` is its basis).
    names, coef, var
        The fit's column names, coefficients and variance matrix.
    reference : float
        The covariate's value where the ratio is 1.
    conf_level : float
    level : str
        The model (``group_level``).
    """
    index = [list(names).index(c) for c in term.columns]
    b = np.asarray(coef, dtype=float)[index]
    v = np.asarray(var, dtype=float)[np.ix_(index, index)]
    low, high = term.spline.boundary_knots
    x = np.linspace(low, high, POINTS)
    d = term.spline.basis(x) - term.spline.basis([reference])
    log_ratio = d @ b
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, v, d), 0.0))
    z = float(norm_ppf(0.5 + conf_level / 2))
    common = dict(variable=term.variable, group="model", group_level=level)
    out = [Result(context_name, "curve.reference", float(reference), **common)]
    for i in range(POINTS):
        point = dict(common, variable_level=str(i + 1))
        out += [Result(context_name, "curve.x", float(x[i]), **point),
                Result(context_name, "curve.ratio", float(np.exp(log_ratio[i])), **point),
                Result(context_name, "curve.conf.low", float(np.exp(log_ratio[i] - z * se[i])),
                       **point),
                Result(context_name, "curve.conf.high",
                       float(np.exp(log_ratio[i] + z * se[i])), **point)]
    return out


def spline_figures(records: Sequence[Result], context_name: str, *, ratio_title: str,
                   conf_level: float, style: str | None = None) -> tuple[Figure, ...]:
    """One figure per spline curve in ``records``, from the records alone."""
    mine = [r for r in records if r.context == context_name and r.stat_name.startswith(
        "curve.")]
    labels = {r.variable: r.stat for r in records if r.context == context_name
              and r.stat_name == "label" and r.group is None}
    figures = []
    for variable in dict.fromkeys(r.variable for r in mine):
        own = [r for r in mine if r.variable == variable]
        reference = next(r.stat for r in own if r.stat_name == "curve.reference")
        level = own[0].group_level
        series = {name: [r.stat for r in own if r.stat_name == name]
                  for name in ("curve.x", "curve.ratio", "curve.conf.low", "curve.conf.high")}
        label = labels.get(variable, variable).split(" (natural spline")[0]
        png = _draw(series, reference, label, ratio_title, style=style)
        caption = (f"{ratio_title} against {label} ({level} model, natural spline), relative "
                   f"to {label} = {reference:g}, with pointwise "
                   f"{round(conf_level * 100):g}% confidence band (log scale).")
        alt = (f"Line chart of the {ratio_title.lower()} across {label}, equal to 1 at "
               f"{reference:g}.")
        figures.append(Figure(png, caption, alt, width_mm=SINGLE_COLUMN_MM, name=f"spline_{variable}"))
    return tuple(figures)


@styled
def _draw(series, reference, label, ratio_title, face=None) -> bytes:
    plt = pyplot()
    fig, ax = plt.subplots()
    x = np.asarray(series["curve.x"])
    ax.fill_between(x, series["curve.conf.low"], series["curve.conf.high"], color="#0072B2",
                    alpha=0.2, linewidth=0)
    ax.plot(x, series["curve.ratio"], color="#0072B2", linewidth=1.2)
    ax.axhline(1.0, color="#000000", linewidth=0.6, linestyle=":")
    ax.plot([reference], [1.0], marker="o", color="#000000", markersize=3)
    ax.set_yscale("log")
    low = min(min(series["curve.conf.low"]), 1.0)
    high = max(max(series["curve.conf.high"]), 1.0)
    ticks = [t for t in _TICKS if low / 1.05 <= t <= high * 1.05]
    ax.set_yticks(ticks)
    ax.yaxis.set_minor_locator(plt.NullLocator())
    ax.yaxis.set_major_formatter(_plain_log_formatter())
    ax.set_xlabel(label)
    ax.set_ylabel(f"{ratio_title} (log scale)")
    fit_axes(fig, ax, SINGLE_COLUMN_MM / 25.4, 2.2)
    return _save(fig, plt)
