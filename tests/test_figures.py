"""Figure helpers: literal labels, plain log-axis numbers, opaque deterministic PNGs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cohortpress.kit import figures


@pytest.mark.parametrize("value, text", [(1.0, "1"), (10.0, "10"), (1000.0, "1000"),
                                         (0.5, "0.5"), (0.01, "0.01"), (2e6, "2000000"),
                                         (-3.0, "\u22123"), (3 * 0.1, "0.3"),
                                         (6 * 0.1, "0.6"), (1e-5, "0.00001"),
                                         (0.000009999999999999999, "0.00001")])
def test_plain_numbers(value, text):
    assert figures.plain_number(value) == text


def test_a_log_axis_is_labelled_with_plain_numbers_and_labels_are_literal():
    import matplotlib.pyplot as plt

    samples = [np.array([2.0, 15.0, 180.0, 1500.0]), np.array([5.0, 40.0, 700.0])]
    # A "$" in a label from a config is a dollar sign: TeX would fail on this one.
    png = figures.dot_plot(["A", "B"], samples, ylabel=r"Cost in $\frac{$", log_scale=True)
    image = Image.open(io.BytesIO(png))
    assert image.mode == "RGB" and image.info["dpi"][0] == pytest.approx(figures.DPI, abs=0.01)
    assert png == figures.dot_plot(["A", "B"], samples, ylabel=r"Cost in $\frac{$",
                                   log_scale=True)
    fig, ax = plt.subplots()
    ax.set_yscale("log")
    ax.set_ylim(2, 1500)
    ax.yaxis.set_major_formatter(figures._plain_log_formatter())
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    plt.close(fig)
    assert labels and all("$" not in label for label in labels)
    assert {"10", "100", "1000"} <= set(labels)


def test_log_ticks_below_one_are_short():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_yscale("log")
    ax.set_ylim(0.25, 6)
    for axis_formatter in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
        axis_formatter(figures._plain_log_formatter())
    fig.canvas.draw()
    labels = [t.get_text() for t in (*ax.get_yticklabels(), *ax.get_yticklabels(minor=True))
              if t.get_text()]
    plt.close(fig)
    assert labels and all(len(label) <= 4 for label in labels), labels


def test_a_curve_is_drawn_through_its_steps_only():
    # the points left out are those where nothing steps: the same step function
    time = np.arange(1.0, 11.0)
    y = np.array([1.0, 0.9, 0.9, 0.9, 0.7, 0.7, np.nan, np.nan, 0.5, 0.5])
    low = np.array([1.0, 0.8, 0.8, 0.7, 0.6, 0.6, 0.6, 0.6, 0.4, 0.4])
    kept = figures._corners(y)
    assert kept.tolist() == [True, True, False, False, True, False, True, True, True, True]
    at = np.linspace(0.0, 11.0, 221)
    np.testing.assert_array_equal(figures._step_values(time[kept], y[kept], at),
                                  figures._step_values(time, y, at))
    assert figures._corners(y, low)[3]  # a band that steps keeps its point
    assert figures._corners(y[:2]).all()
