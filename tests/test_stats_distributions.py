"""The distribution functions on scipy.special equal scipy.stats to the last bit."""

import numpy as np
import pytest
from scipy import stats

from cohortpress.stats import distributions as d

X = np.array([-np.inf, -5.0, -1e-300, -0.0, 0.0, 1e-300, 1e-8, 0.5, 1.0, 3.841458820694124,
              7.5, 40.0, 1e3, 1e6, np.inf, np.nan])
DF = np.array([0.0, -1.0, np.nan, 0.5, 1.0, 2.0, 3.0, 7.5, 30.0, 1e4, np.inf])
Q = np.array([-0.1, 0.0, 1e-300, 1e-10, 0.025, 0.5, 0.95, 0.975, 1 - 1e-12, 1.0, 1.1, np.nan])


def same(ours, reference):
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(reference))
    assert np.shape(ours) == np.shape(reference)


@pytest.mark.parametrize("df", DF)
def test_chi2_sf(df):
    same(d.chi2_sf(X, df), stats.chi2.sf(X, df))


@pytest.mark.parametrize("df", DF[DF != np.inf])  # scipy's t treats df = inf apart
def test_t_sf(df):
    same(d.t_sf(X, df), stats.t.sf(X, df))


@pytest.mark.parametrize("dfn", [0.0, 1.0, 2.5, 10.0, np.nan])
@pytest.mark.parametrize("dfd", [-1.0, 1.0, 7.0, 1e3])
def test_f_sf(dfn, dfd):
    same(d.f_sf(X, dfn, dfd), stats.f.sf(X, dfn, dfd))


def test_norm():
    same(d.norm_sf(X), stats.norm.sf(X))
    same(d.norm_ppf(Q), stats.norm.ppf(Q))


@pytest.mark.parametrize("df", DF[DF != np.inf])
def test_chi2_ppf(df):
    same(d.chi2_ppf(Q, df), stats.chi2.ppf(Q, df))


def test_scalars_give_scalars():
    for value in (d.chi2_sf(3.0, 1), d.t_sf(2.0, 5), d.f_sf(1.0, 2, 3), d.norm_sf(1.0),
                  d.norm_ppf(0.975), d.chi2_ppf(0.95, 1)):
        assert np.ndim(value) == 0
        assert isinstance(float(value), float)


def test_broadcasting():
    same(d.chi2_sf(X[:, None], DF[None, :]), stats.chi2.sf(X[:, None], DF[None, :]))


@pytest.mark.parametrize("values", [
    [3.0, 1.0, 2.0], [1.0, 1.0, 1.0], [5.0, 2.0, 2.0, 7.0, 5.0, 5.0, 1.0], [4.0], [],
    np.random.default_rng(7).integers(0, 30, 500).astype(float),
])
def test_rank_average(values):
    same(d.rank_average(values), stats.rankdata(values))


def test_no_scipy_stats_or_statsmodels_at_import():
    import subprocess
    import sys

    code = ("import sys; import cohortpress.stats.comparisons, cohortpress.stats.coxph, "
            "cohortpress.stats.logit, cohortpress.stats.logrank, cohortpress.stats.kaplan_meier, "
            "cohortpress.stats.competing, cohortpress.stats.summaries; "
            "print('scipy.stats' in sys.modules, 'statsmodels' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
