"""The pair counts behind Harrell's C, counted in whole-array operations, against a count of
every pair one by one (tied times, tied predictors, censored rows at event times)."""

from __future__ import annotations

import numpy as np
import pytest

from cohortpress.stats.coxph import concordance
from cohortpress.stats.coxph.concordance import _count_less, _count_stratum


def _pairs_one_by_one(time, event, risk):
    """Each row's concordant, discordant and tied pairs by the rule of survival's
    concordance: the shorter time must be an event (a censored time equal to an event time
    counts as longer; two events at one time are not comparable)."""
    n = time.size
    counts = np.zeros((n, 3))
    for i in range(n):
        if not event[i]:
            continue
        for j in range(n):
            if j == i or not (time[j] > time[i] or (time[j] == time[i] and not event[j])):
                continue
            column = 0 if risk[i] > risk[j] else (1 if risk[i] < risk[j] else 2)
            counts[i, column] += 1
            counts[j, column] += 1
    return counts


@pytest.mark.parametrize("seed", range(40))
def test_counts_match_every_pair(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    time = rng.integers(1, int(rng.integers(2, 15)), n).astype(float)
    event = rng.random(n) < rng.random()
    risk = rng.integers(0, int(rng.integers(1, 9)), n) * 0.25
    if seed % 3 == 0:
        risk = rng.normal(size=n)  # (almost) all distinct
    counts = np.zeros((n, 3))
    _count_stratum(time, event, risk, np.arange(n), counts)
    np.testing.assert_array_equal(counts, _pairs_one_by_one(time, event, risk))


def test_concordance_totals_and_strata():
    rng = np.random.default_rng(7)
    n = 300
    time = rng.integers(1, 40, n).astype(float)
    event = rng.random(n) < 0.6
    risk = rng.normal(size=n).round(1)
    strata = rng.integers(0, 3, n)
    result = concordance(time, event, risk, strata)
    expected = sum(_pairs_one_by_one(time[strata == s], event[strata == s],
                                     risk[strata == s]).sum(axis=0) / 2 for s in range(3))
    assert (result.concordant, result.discordant, result.tied_x) == tuple(expected)


@pytest.mark.parametrize("scale", [1, 10 ** 6, 10 ** 15])
def test_count_less_on_every_path(scale):
    """Few values (a cumulative histogram), many (one packed sort), huge (a search)."""
    rng = np.random.default_rng(scale % 97)
    keys = rng.integers(0, 50, 500) * scale
    needles = rng.integers(0, 52, 300) * scale
    expected = (keys[None, :] < needles[:, None]).sum(axis=1)
    np.testing.assert_array_equal(_count_less(keys, needles), expected)
