"""Statistic strings of Table 1 (cohortpress.kit.table1_format): fields, labels, decimals by
field, the whole-number rule, and the named statistics printing as they always have."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cohortpress.kit.table1 import format_summary
from cohortpress.kit.table1_format import (NAMED_STATS, check_digits_fields, check_template,
                                           format_template, template_fields, template_label,
                                           whole_in_row)
from cohortpress.stats.summaries import continuous_summary


def test_fields_and_labels_of_a_custom_string():
    assert template_fields("{median} ({p25}, {p75})") == ["median", "p25", "p75"]
    assert template_label("{median} ({p25}, {p75})") == "Median (Q1, Q3)"
    assert template_label("{n} / {N} ({p}%)") == "n / N (%)"
    assert template_label("{mean} ({sd})") == "Mean (SD)"


@pytest.mark.parametrize("template, kind, message", [
    ("{meadian}", "continuous", "did you mean 'median'?"),
    ("{n} ({p}%)", "continuous", "for a continuous row"),
    ("{mean}", "categorical", "for a categorical row"),
    ("no field", "categorical", "has no field"),
    ("{mean!r}", "continuous", "write fields as {name}"),
    ("{mean", "continuous", "expected '}'"),
])
def test_a_bad_string_is_refused_with_the_reason(template, kind, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("?", r"\?")
                       .replace("{", r"\{").replace("}", r"\}")):
        check_template(template, kind)


def test_digits_by_field_must_name_fields():
    check_digits_fields({"mean": 1, "p": 0, "p_missing": 2})
    with pytest.raises(ValueError, match="did you mean 'sd'"):
        check_digits_fields({"sdd": 1})


def test_decimals_by_field_and_their_defaults():
    values = {"mean": 12.345, "sd": 2.0, "n": 3, "N": 7, "p": 3 / 7, "median": 12.0}
    assert format_template("{mean} ({sd})", values, {"sd": 2}) == "12.3 (2.00)"
    assert format_template("{n} / {N} ({p}%)", values, {}, percent_digits=1) == \
        "3 / 7 (42.9%)"
    assert format_template("{n} ({p}%)", values, {"p": 0}, percent_digits=2) == "3 (43%)"
    assert format_template("{median}", values, {}, whole=True) == "12"
    assert format_template("{median}", values, {"median": 2}, whole=True) == "12.00"
    assert format_template("{mean}", values, {}, significant=2) == "12"
    assert format_template("{mean}", {"mean": None}, {}) == "\u2013"


def test_the_whole_number_rule_looks_at_the_shown_order_statistics():
    columns = [{"median": 3.0, "p25": 1.0, "p75": 4.5, "min": 0.0, "max": 9.0}]
    assert whole_in_row(columns, ["{median} ({min}, {max})"], {})
    assert not whole_in_row(columns, ["{median} ({p25}, {p75})"], {})
    assert whole_in_row(columns, ["{median} ({p25}, {p75})"], {"p75": 1, "p25": 1})


@pytest.mark.parametrize("stat", ["median_range", "median_iqr", "mean_sd"])
@pytest.mark.parametrize("digits, significant, whole", [(1, None, False), (0, None, True),
                                                         (2, None, False), (1, 3, False)])
def test_named_statistics_print_as_before(stat, digits, significant, whole):
    rng = np.random.default_rng(7)
    for values in (rng.normal(50, 10, 41), np.round(rng.exponential(300, 40))):
        summary = continuous_summary(values)
        fields = {name: getattr(summary, name) for name in
                  ("mean", "sd", "median", "p25", "p75", "min", "max")}
        label, template = NAMED_STATS[stat]
        ours = format_template(template, fields, {}, default_digits=digits,
                               significant=significant, whole=whole)
        assert ours == format_summary(summary, stat, digits, significant, whole), label


def test_format_summary_of_no_values_is_a_dash():
    empty = SimpleNamespace(n=0)
    assert format_summary(empty, "mean_sd", 1) == "\u2013"
