"""The figures' typeface and sizes, matched to the report's text, and layout from measured text.

A report is set in the Liberation fonts the package ships (``templates/static/fonts``): serif
for the ``journal`` style, sans for ``compact``. The figures use the same files, registered
with Matplotlib, so that a figure's labels are in the typeface of the caption under it.
Figures are placed at their drawn width (``width_mm``), so a font size in points here prints
at that size: the axis labels take the size of the tables' text and the tick labels, legend
and risk table the size of the tables' notes (``base.css`` and ``compact.css``; a test keeps
the two in step).

Margins are not fixed fractions: :func:`fit_axes` draws the figure once, measures the text
around the axes with the renderer and places the axes so that every label fits inside the
figure with a small pad.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

#: Millimetres per inch.
MM_PER_INCH = 25.4
#: Space kept between text and the figure's edge, and between neighbouring blocks (inches).
PAD_IN = 0.04


@dataclass(frozen=True)
class Typeface:
    """The font of one report style: ``family`` at ``text`` points for axis labels and
    ``small`` points for tick labels, legends, annotations and the risk table."""

    family: str
    text: float
    small: float


#: One per ``[report] style``; the sizes are those of the style sheet's table text and notes.
TYPEFACES = {
    "journal": Typeface("Liberation Serif", text=9.0, small=8.0),
    "compact": Typeface("Liberation Sans", text=8.0, small=7.5),
}
DEFAULT_STYLE = "journal"

#: The house style, applied while our figures are drawn (not to the process's rcParams, so a
#: plugin drawing its own figures keeps Matplotlib's defaults). The font is added per style.
STYLE = {
    # Labels come from configs and data: a "$" is a dollar sign, never TeX.
    "text.parse_math": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.major.size": 2.5,
    "ytick.major.size": 2.5, "legend.frameon": False, "svg.hashsalt": "cohortpress",
    "path.simplify": True, "svg.fonttype": "path",
}


def typeface(style: str | None) -> Typeface:
    """The typeface of a report style (the journal's for ``None``)."""
    return TYPEFACES[style or DEFAULT_STYLE]


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


@functools.cache
def register_fonts() -> tuple[str, ...]:
    """Add the package's Liberation fonts to Matplotlib's font list (once per process);
    return the files added. They are found through the templates package, wherever it is
    installed."""
    from importlib.resources import files

    from matplotlib import font_manager

    folder = files("cohortpress.templates") / "static" / "fonts"
    added = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".ttf"):
            font_manager.fontManager.addfont(str(entry))
            added.append(entry.name)
    return tuple(added)


@contextlib.contextmanager
def house_style(style: str | None):
    """Matplotlib settings of the house style in the typeface of the report ``style``."""
    register_fonts()
    face = typeface(style)
    settings = {**STYLE, "font.family": face.family, "font.size": face.small,
                "axes.labelsize": face.text, "xtick.labelsize": face.small,
                "ytick.labelsize": face.small, "legend.fontsize": face.small}
    with pyplot().rc_context(settings):
        yield face


def styled(draw):
    """Run a figure function with the house style in force; it receives the
    :class:`Typeface` of its ``style`` keyword as ``face``."""
    @functools.wraps(draw)
    def run(*args, style: str | None = None, **kwargs):
        with house_style(style) as face:
            return draw(*args, face=face, **kwargs)

    return run


@dataclass(frozen=True)
class Margins:
    """Space around the axes, in inches."""

    left: float
    right: float
    bottom: float
    top: float


def measured_margins(fig, ax, sideways=()) -> Margins:
    """The space the text around ``ax`` needs, measured on the drawn figure: how far the
    axes' labels, ticks and texts reach beyond the axes box, plus a pad. The legend is
    left out: it sits inside the axes.
    ``sideways`` artists (placed in data x but not tied to the axes vertically, such as a
    risk table's numbers) count for the left and right margins only."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    legend = ax.get_legend()
    if legend is not None:
        legend.set_in_layout(False)
    around = ax.get_tightbbox(renderer, for_layout_only=False)
    across = [around] + [a.get_window_extent(renderer) for a in sideways if a.get_text()]
    dpi = fig.dpi
    return Margins(left=max(0.0, max(box.x0 - r.x0 for r in across)) / dpi + PAD_IN,
                   right=max(0.0, max(r.x1 - box.x1 for r in across)) / dpi + PAD_IN,
                   bottom=max(0.0, box.y0 - around.y0) / dpi + PAD_IN,
                   top=max(0.0, around.y1 - box.y1) / dpi + PAD_IN)


def fit_axes(fig, ax, width_in: float, axes_height_in: float, sideways=(),
             below_in: float = 0.0, min_left_in: float = 0.0) -> Margins:
    """Size the figure to ``width_in`` and place ``ax`` so that its text fits.

    The axes are ``axes_height_in`` tall; ``below_in`` inches are left free under the
    axes' own text (for a risk table drawn in figure inches from the bottom), and the left
    margin is at least ``min_left_in`` (for its row labels). Text sizes do not depend on
    where the axes sit, so one measurement places them exactly; the x ticks must be fixed
    beforehand (a tick locator may choose other ticks for another width).
    """
    height_in = axes_height_in + 2.0 + below_in
    fig.set_size_inches(width_in, height_in)
    ax.set_position([0.3, (1.0 + below_in) / height_in, 0.5, axes_height_in / height_in])
    for _ in range(2):  # a second look, in case the tick labels changed with the axes' size
        margins = measured_margins(fig, ax, sideways)
        margins = Margins(max(margins.left, min_left_in), margins.right, margins.bottom,
                          margins.top)
        height_in = below_in + margins.bottom + axes_height_in + margins.top
        axes_width = max(width_in - margins.left - margins.right, 0.2 * width_in)
        fig.set_size_inches(width_in, height_in)
        ax.set_position([margins.left / width_in, (below_in + margins.bottom) / height_in,
                         axes_width / width_in, axes_height_in / height_in])
    return margins


def text_width_in(fig, text: str, size: float, weight: str = "normal") -> float:
    """The printed width of ``text`` in the current font at ``size`` points, in inches."""
    from matplotlib.font_manager import FontProperties

    renderer = fig.canvas.get_renderer()
    width, _, _ = renderer.get_text_width_height_descent(
        text, FontProperties(size=size, weight=weight), ismath=False)
    return width / fig.dpi
