"""The in-memory Cox speed-ups of issue 21: one time order shared by the models of an
endpoint, and likelihood-ratio refits warm-started from the full fit, give the fits of
sorting each model anew and starting each refit at zero."""

from __future__ import annotations

import numpy as np
import pytest

from cohortpress.stats.coxph import fit_cox, lr_test_terms, prepare_cox_data
from cohortpress.stats.coxph.data import decreasing_time_order, subset_time_order
from cohortpress.stats.coxph.fit import _fit_prepared
from cohortpress.stats.coxph.data import kept_columns


def _cohort(seed=3, n=600):
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n),
                         rng.integers(0, 3, n) == 1, rng.integers(0, 3, n) == 2]).astype(float)
    time = np.ceil(rng.exponential(np.exp(-0.5 * x[:, 0] - 0.3 * x[:, 1])) * 30)
    event = (rng.random(n) < 0.7).astype(float)
    strata = rng.integers(0, 2, n)
    keep = rng.random(n) > 0.15
    return x, time, event, strata, keep


def test_subset_of_an_order_is_the_order_of_the_subset():
    rng = np.random.default_rng(1)
    time = rng.integers(0, 20, 500).astype(float)
    keep = rng.random(500) < 0.6
    order = subset_time_order(decreasing_time_order(time), keep)
    assert sorted(order) == list(range(keep.sum()))
    assert (np.diff(time[keep][order]) <= 0).all()
    strata = rng.integers(0, 3, 500)
    order = subset_time_order(decreasing_time_order(time, strata), keep)
    key = list(zip(strata[keep][order], -time[keep][order]))
    assert key == sorted(key)


@pytest.mark.parametrize("stratified", [False, True])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_shared_order_gives_the_same_fit(stratified, ties):
    x, time, event, strata, keep = _cohort()
    s = strata if stratified else None
    order = subset_time_order(decreasing_time_order(time, s), keep)
    names = ["a", "b", "c2", "c3"]
    own = fit_cox(x[keep], time[keep], event[keep], names, ties,
                  None if s is None else s[keep])
    shared = fit_cox(None, None, None, names, ties, prepared=prepare_cox_data(
        x[keep], time[keep], event[keep], names, None if s is None else s[keep],
        time_order=order))
    np.testing.assert_allclose(shared.coef, own.coef, rtol=1e-12)
    np.testing.assert_allclose(shared.se, own.se, rtol=1e-12)
    assert shared.loglik == pytest.approx(own.loglik, rel=1e-14)
    assert shared.score_test.statistic == pytest.approx(own.score_test.statistic, rel=1e-12)


def test_warm_started_refit_reaches_the_cold_one_in_fewer_steps():
    x, time, event, _, _ = _cohort(seed=5, n=2000)
    names = ["a", "b", "c2", "c3"]
    prepared = prepare_cox_data(x, time, event, names)
    full = fit_cox(None, None, None, names, prepared=prepared)
    kept = kept_columns(prepared, [0, 1])
    cold = _fit_prepared(kept, "efron", 0.95, 20, 1e-9)
    warm = _fit_prepared(kept, "efron", 0.95, 20, 1e-9, init=full.coef[[0, 1]])
    assert warm.loglik == pytest.approx(cold.loglik, rel=1e-13)
    np.testing.assert_allclose(warm.coef, cold.coef, rtol=1e-8)
    assert warm.iterations < cold.iterations
    test = lr_test_terms(None, None, None, names, ["c2", "c3"], full_fit=full,
                         prepared=prepared)
    assert test.statistic == pytest.approx(2 * (full.loglik - cold.loglik), rel=1e-10)
