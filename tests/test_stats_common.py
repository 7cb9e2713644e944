"""The linear predictor rank statistics are computed on (stats.common.linear_predictor)."""

from __future__ import annotations

import numpy as np

from cohortpress.stats.common import linear_predictor


def test_identical_rows_give_identical_values_wherever_they_stand():
    rng = np.random.default_rng(7)
    base = rng.normal(size=(5, 7))
    rows = rng.integers(0, 5, size=1003)  # an odd length: rows fall in every SIMD lane
    x = base[rows]
    coef = rng.normal(size=7)
    eta = linear_predictor(x, coef)
    for k in range(5):
        assert np.unique(eta[rows == k]).size == 1
    np.testing.assert_allclose(eta, x @ coef, rtol=1e-13, atol=1e-13)


def test_one_column_and_no_rows():
    assert linear_predictor(np.array([[2.0], [3.0]]), [0.5]).tolist() == [1.0, 1.5]
    assert linear_predictor(np.zeros((0, 3)), [1.0, 2.0, 3.0]).shape == (0,)
