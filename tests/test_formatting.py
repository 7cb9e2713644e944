"""Numbers as journals print them: p-values, half-up rounding, n (%)."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cohortpress.common.formatting import (MINUS, fmt_count, fmt_n_percent, fmt_num, fmt_percent,
                                    fmt_range, format_p, round_half_up)

DASH = "\u2013"


# --------------------------------------------------------------------------- p-values


@pytest.mark.parametrize("p, text", [
    (0.0, "<0.001"),
    (1e-300, "<0.001"),
    (0.0004, "<0.001"),
    (0.000999999, "<0.001"),
    (0.001, "0.001"),
    (0.0014999, "0.001"),
    (0.0015, "0.002"),  # half up
    (0.0495, "0.050"),
    (0.05, "0.050"),
    (0.5, "0.500"),
    (0.9899, "0.990"),
    (0.99, "0.990"),
    (0.9901, ">0.99"),
    (0.9996, ">0.99"),
    (1.0, ">0.99"),
    (1.0 + 1e-13, ">0.99"),  # a float a hair above 1 from a numerical routine
])
def test_format_p_three_digits(p, text):
    assert format_p(p) == text


@pytest.mark.parametrize("p, digits, text", [
    (0.004, 2, "<0.01"),
    (0.0149, 2, "0.01"),
    (0.015, 2, "0.02"),
    (0.985, 2, "0.99"),
    (0.00005, 4, "<0.0001"),
    (0.00012345, 4, "0.0001"),
    (0.04, 1, "<0.1"),
    (0.25, 1, "0.3"),
    (0.94, 1, "0.9"),
    (0.96, 1, ">0.9"),  # never "1.0"
    (0.0000004, 6, "<0.000001"),
])
def test_format_p_digits(p, digits, text):
    assert format_p(p, digits) == text


@pytest.mark.parametrize("p", [None, float("nan"), np.nan, float("inf")])
def test_format_p_missing(p):
    assert format_p(p) == DASH


@pytest.mark.parametrize("p", [-0.01, 1.01, -1e-9])
def test_format_p_rejects_impossible_values(p):
    with pytest.raises(ValueError, match="within"):
        format_p(p)


@settings(max_examples=300, deadline=None)
@given(p=st.floats(min_value=0.0, max_value=1.0), digits=st.integers(min_value=1, max_value=6))
def test_format_p_never_prints_zero_or_one(p, digits):
    text = format_p(p, digits)
    assert re.fullmatch(r"(<|>)?0\.\d+", text), text
    number = float(text.lstrip("<>"))
    assert 0 < number < 1
    if not text.startswith(("<", ">")):
        assert len(text.split(".")[1]) == digits
        assert abs(number - p) <= 0.5 * 10 ** -digits + 1e-12
    if text.startswith("<"):
        assert p < 10 ** -digits
    if text.startswith(">"):
        assert p > number


# --------------------------------------------------------------------------- rounding


@pytest.mark.parametrize("value, digits, text", [
    (0.125, 2, "0.13"),  # Python's round() gives 0.12
    (0.145, 2, "0.15"),  # stored as 0.14499999999999999
    (2.675, 2, "2.68"),  # stored as 2.67499999999999982
    (1.005, 2, "1.01"),
    (0.285, 2, "0.29"),
    (2.5, 0, "3"),
    (3.5, 0, "4"),
    (0.1 + 0.2, 1, "0.3"),
    (12.0, 1, "12.0"),
    (1234567.25, 1, "1234567.3"),
])
def test_half_up_rounding(value, digits, text):
    assert fmt_num(value, digits) == text
    assert round_half_up(value, digits) == Decimal(text)


def test_negative_numbers_use_the_minus_sign_and_round_away_from_zero():
    assert fmt_num(-2.5, 0) == f"{MINUS}3"
    assert fmt_num(-0.125, 2) == f"{MINUS}0.13"
    assert "-" not in fmt_num(-1.5, 1)


def test_no_negative_zero():
    assert fmt_num(-0.04, 1) == "0.0"
    assert fmt_num(-1e-20, 2) == "0.00"
    assert fmt_num(-0.0, 0) == "0"


@pytest.mark.parametrize("value", [None, float("nan"), float("inf"), -float("inf"),
                                   np.float64("nan"), np.float32("nan"), np.float32("inf")])
def test_missing_and_non_finite_numbers_print_a_dash(value):
    assert fmt_num(value, 2) == DASH


def test_numpy_numbers_and_thousands():
    assert fmt_num(np.float32(1.5), 1) == "1.5"
    assert fmt_num(np.int64(3), 0) == "3"
    assert fmt_num(1234567.891, 2, thousands=True) == "1,234,567.89"
    assert fmt_num(-1234.5, 0, thousands=True) == f"{MINUS}1,235"


def test_range_and_count():
    assert fmt_range(0.25, 5.04, 1) == f"0.3{DASH}5.0"
    assert fmt_count(8.0) == "8" and fmt_count(np.int64(12)) == "12"


# --------------------------------------------------------------------------- n (%)


@pytest.mark.parametrize("n, total, digits, text", [
    (8, 25, 0, "8 (32%)"),
    (1, 8, 0, "1 (13%)"),  # 12.5 rounds half up
    (3, 8, 0, "3 (38%)"),  # 37.5
    (1, 3, 1, "1 (33.3%)"),
    (2, 3, 1, "2 (66.7%)"),
    (0, 5, 0, "0 (0%)"),
    (5, 5, 0, "5 (100%)"),
    (1, 200, 0, "1 (1%)"),  # 0.5 -> 1
    (1, 201, 0, "1 (0%)"),
    (0, 0, 0, f"0 ({DASH})"),
])
def test_n_percent(n, total, digits, text):
    assert fmt_n_percent(n, total, digits) == text


def test_percentages_are_not_forced_to_sum_to_100():
    parts = [fmt_percent(n, 3) for n in (1, 1, 1)]
    assert parts == ["33", "33", "33"]
    assert fmt_percent(1, 0) == DASH
    assert not math.isclose(sum(float(p) for p in parts), 100)


@pytest.mark.parametrize("label, sentence", [
    ("Age group", "age group"),
    ("ALL or AML", "ALL or AML"),
    ("Diagnosis (ALL or AML)", "diagnosis (ALL or AML)"),
    ("KMT2A status", "KMT2A status"),
    ("Down syndrome", "Down syndrome"),
    ("Overall survival", "overall survival"),
    ("Day-8 prednisone response", "day-8 prednisone response"),
    ("11q23 status", "11q23 status"),
])
def test_in_sentence_keeps_acronyms_and_eponyms(label, sentence):
    from cohortpress.common.formatting import in_sentence

    assert in_sentence(label) == sentence


def test_a_printed_label_keeps_its_acronyms(cp, tmp_path, capsys):
    """The Kaplan-Meier figure caption names the grouping as the config labels it."""
    toml = cp.DEMO_TOML.replace('label = "Treatment arm"', 'label = "ALL or AML arm"') + (
        '[[section]]\nid = "km"\nanalysis = "survival"\nendpoints = ["os"]\n')
    project = cp.Project(tmp_path / "p", toml=toml)
    result = cp.run_cli(["build", project.config, "--output", project.out, "--quiet"], capsys)
    assert result.code == 0, result.err
    html = (project.out / "report.html").read_text(encoding="utf-8")
    assert "Kaplan\u2013Meier estimates of overall survival by ALL or AML arm." in html
    assert "all or aml" not in html
