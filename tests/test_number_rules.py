"""How counts and summaries print: whole-number variables without a spurious ".0", and a
count of zero in a cross-table without a "(0.00%)"."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from cohortpress.common.formatting import all_whole, whole_number_digits
from cohortpress.api.sections import SectionContext
from cohortpress.kit.crosstab import CrosstabSpec, crosstab_table
from cohortpress.kit.table1 import format_summary, whole_row


def _summary(**values):
    base = dict(n=10, n_miss=0, mean=52.3, sd=14.2, median=50.0, p25=40.0, p75=61.0,
                min=30.0, max=80.0)
    return SimpleNamespace(**{**base, **values})


def test_whole_numbers_are_recognised():
    assert all_whole([1.0, 2.0, float("nan"), 40.0])
    assert not all_whole([1.0, 2.5])
    assert not all_whole([float("nan")])
    assert whole_number_digits((50.0, 30.0, 80.0), 1) == 0
    assert whole_number_digits((50.5, 30.0, 80.0), 1) == 1


def test_a_whole_number_variable_prints_its_order_statistics_without_decimals():
    assert format_summary(_summary(), "median_range", 1, whole_numbers=True) == \
        "50 (30\u201380)"
    assert format_summary(_summary(), "median_iqr", 1, whole_numbers=True) == \
        "50 (40\u201361)"
    # the mean and SD of whole numbers are not whole: the digits asked for
    assert format_summary(_summary(), "mean_sd", 1, whole_numbers=True) == "52.3 (14.2)"
    # a measured variable keeps its decimals even where a value happens to be whole
    assert format_summary(_summary(), "median_range", 1) == "50.0 (30.0\u201380.0)"


def test_one_median_halfway_between_two_values_gives_its_whole_row_one_decimal():
    assert whole_row([_summary(), _summary(median=48.0)], "median_range")
    assert not whole_row([_summary(), _summary(median=259.5)], "median_range")
    assert not whole_row([_summary(), _summary(p25=40.25)], "median_iqr")
    assert whole_row([_summary(), _summary(p25=40.25)], "median_range")  # not shown
    assert not whole_row([_summary()], "mean_sd")


def test_the_demographics_table_applies_the_rule_unless_digits_are_given():
    from cohortpress.testing import run_analysis
    from cohortpress.app.plugins import make_plugins

    analysis = make_plugins(entry_points=False).analysis("demographics")

    def age_row(spec):
        options = analysis.options.model_validate({"variables": [spec]})
        section = run_analysis(analysis, options)
        table = section.blocks[0]
        rows = [[c.text for c in row.cells] for row in table.body]
        return rows[rows.index(next(r for r in rows if r[0].startswith("Age"))) + 1]

    whole = age_row("age")
    assert whole[0] == "Median (range)" and all(".0" not in t for t in whole[1:]), whole
    assert all(".0" in t for t in age_row({"variable": "age", "digits": 1})[1:] if t)


def test_a_zero_count_in_a_cross_table_prints_without_a_percentage():
    rows = np.array([0, 0, 1, 1, 1, 0])
    cols = np.array([0, 0, 0, 1, 1, 0])
    spec = CrosstabSpec(row_name="r", row_levels=["a", "b"], row_codes=rows,
                        col_name="c", col_label="C", col_levels=["x", "y"], col_codes=cols,
                        percent="column", percent_digits=2, test="none")
    table = crosstab_table(spec, SectionContext("t", "t")).table
    texts = [[c.text for c in row.cells] for row in table.body]
    assert texts[0][1:3] == ["3 (75.00%)", "0"], texts
    note = table.footnotes[-1].text
    assert note.endswith("rounded (a count of 0 is shown without one)."), note
