"""Table 1 summaries against R (fixtures from tests/fixtures/r/comparisons.R) and numpy."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.summaries import (
    CategoricalCounts,
    categorical_counts,
    contingency_table,
    continuous_summary,
)

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "comparisons.json").read_text())
SUMMARY_CASES = [case for case in FIXTURE["cases"] if case["test"] == "summary"]


def values(items) -> np.ndarray:
    return np.array([np.nan if item is None else item for item in items], dtype=float)


@pytest.mark.parametrize("case", SUMMARY_CASES, ids=lambda case: case["id"])
def test_continuous_summary_matches_r(case):
    summary = dataclasses.asdict(continuous_summary(values(case["x"])))
    expected = case["expected"]
    assert summary["n"] == expected["n"] and summary["n_miss"] == expected["n_miss"]
    for field in ("mean", "sd", "median", "p25", "p75", "min", "max"):
        np.testing.assert_allclose(summary[field], expected[field], rtol=1e-13, err_msg=field)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10, 11, 1000, 1001])
def test_quartiles_are_quantile_type_7(n):
    rng = np.random.default_rng(n)
    x = np.round(rng.normal(size=n), 1)  # rounding creates ties
    summary = continuous_summary(x)
    np.testing.assert_allclose([summary.p25, summary.median, summary.p75],
                               np.quantile(x, [0.25, 0.5, 0.75]), rtol=1e-14, atol=1e-15)
    assert (summary.min, summary.max) == (x.min(), x.max())
    assert summary.mean == pytest.approx(x.mean(), rel=1e-14, abs=1e-15)
    if n > 1:
        assert summary.sd == pytest.approx(x.std(ddof=1), rel=1e-12)
    else:
        assert math.isnan(summary.sd)


@pytest.mark.parametrize("n", [7, 64, 999, 200_001])
@pytest.mark.parametrize("draw", ["lognormal", "few values"])
def test_quartiles_agree_with_numpy_linear_quantile_with_missing_values(n, draw):
    """Our type-7 quartiles are numpy's ``method="linear"`` on the non-missing values."""
    rng = np.random.default_rng(n)
    x = rng.lognormal(0.0, 3.0, n) if draw == "lognormal" else rng.integers(0, 5, n) * 0.1
    x[rng.random(n) < 0.1] = np.nan
    summary = continuous_summary(x)
    present = x[~np.isnan(x)]
    assert summary.n == present.size and summary.n_miss == n - present.size
    np.testing.assert_allclose([summary.p25, summary.p75],
                               np.quantile(present, [0.25, 0.75], method="linear"),
                               rtol=1e-12, atol=0)
    assert summary.median == np.median(present)


def test_mean_and_sd_keep_precision_far_from_zero():
    x = 1e9 + np.array([0.1, 0.2, 0.3, 0.4])
    summary = continuous_summary(x)
    assert summary.mean == pytest.approx(1e9 + 0.25, abs=1e-6)
    assert summary.sd == pytest.approx(np.std(x - 1e9, ddof=1), rel=1e-6)


@pytest.mark.parametrize("bad", [[], [np.nan, np.nan], [1.0, np.inf], [[1.0, 2.0]], ["a"]])
def test_continuous_summary_refuses_invalid_input(bad):
    with pytest.raises(StatisticsError):
        continuous_summary(bad)


def test_categorical_counts():
    counts = categorical_counts(np.array([0, 2, 2, -1, 1, 2, -1]), 4)
    assert counts == CategoricalCounts(counts=(1, 1, 3, 0), n=5, n_miss=2)
    assert counts.proportions == (0.2, 0.2, 0.6, 0.0)
    from_floats = categorical_counts(np.array([0.0, 2.0, np.nan, 1.0]), 3)
    assert from_floats == CategoricalCounts(counts=(1, 1, 1), n=3, n_miss=1)
    assert math.isnan(categorical_counts([-1, -1], 2).proportions[0])


@pytest.mark.parametrize("codes, n_levels", [
    ([0, 3], 3), ([0.5, 1.0], 3), (["a", "b"], 2), ([[0, 1]], 2), ([0, 1], 0),
])
def test_categorical_counts_refuses_invalid_codes(codes, n_levels):
    with pytest.raises(StatisticsError):
        categorical_counts(codes, n_levels)


def test_contingency_table_skips_missing_codes():
    codes = np.array([0, 1, 1, 2, -1, 0, 2, 2])
    groups = np.array([0, 0, 1, 1, 1, -1, 0, 1])
    table = contingency_table(codes, groups, n_levels=3, n_groups=2)
    np.testing.assert_array_equal(table, [[1, 0], [1, 1], [1, 2]])
    with pytest.raises(StatisticsError):
        contingency_table(codes, groups[:-1], 3, 2)


def test_million_row_column():
    rng = np.random.default_rng(0)
    x = rng.lognormal(3, 0.5, size=1_000_000)
    x[rng.random(x.size) < 0.02] = np.nan
    summary = continuous_summary(x)
    present = x[~np.isnan(x)]
    assert summary.n + summary.n_miss == x.size
    np.testing.assert_allclose([summary.p25, summary.median, summary.p75],
                               np.quantile(present, [0.25, 0.5, 0.75]), rtol=1e-13)
    codes = rng.integers(-1, 5, size=1_000_000)
    assert sum(categorical_counts(codes, 5).counts) == np.count_nonzero(codes >= 0)
