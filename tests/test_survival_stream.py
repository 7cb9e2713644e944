"""Kaplan–Meier and the log-rank family from per-time tables in time-ordered pieces
(:mod:`cohortpress.stats.km_stream`, :class:`cohortpress.stats.logrank.StreamedLogrank`)
give what the whole table gives: the kept rows of a curve bit for bit, its landmarks,
median (a plateau at exactly 0.5 included), risk-table counts, and the tests to 1e-12.
The whole-table estimators are themselves checked against R in test_stats_survival*."""

from __future__ import annotations

import numpy as np
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats import kaplan_meier as km
from cohortpress.stats import logrank
from cohortpress.stats.event_times import tabulate_by_time
from cohortpress.stats.km_stream import StreamedKaplanMeier

PROBES = [0.5, 1.0, 2.5, 4.0, 100.0]


def pieces(n_rows: int, size: int):
    return [slice(a, a + size) for a in range(0, n_rows, size)]


def streamed_fit(time, event, size: int, conf_type="log", **kwargs):
    times, table = tabulate_by_time(time, event, 2)
    stream = StreamedKaplanMeier(len(time), conf_type, probes=PROBES, **kwargs)
    for piece in pieces(times.size, size):
        stream.add(times[piece], table[piece, 1], table[piece, 0])
    return stream


def data(seed=3, n=3000, digits=3):
    rng = np.random.default_rng(seed)
    return (np.round(rng.exponential(2.0, n), digits),
            (rng.random(n) < 0.7).astype(int))


@pytest.mark.parametrize("conf_type", km.CONF_TYPES)
@pytest.mark.parametrize("size", [1, 7, 250, 10_000])
def test_kept_rows_are_the_whole_curves_rows_and_answer_what_the_report_reads(conf_type, size):
    time, event = data()
    whole = km.kaplan_meier(time, event, conf_type)
    kept = streamed_fit(time, event, size, conf_type, horizon=float(time.max()),
                        buckets=40).fit()
    assert kept.time.size < whole.time.size or size < 250  # each piece's ends are kept
    rows = np.searchsorted(whole.time, kept.time)
    for name in ("n_risk", "surv", "std_err", "std_err_log", "conf_low", "conf_high"):
        np.testing.assert_array_equal(getattr(kept, name), getattr(whole, name)[rows])
    for name in ("n_event", "n_censor"):  # the rows left out are counted in the next kept
        np.testing.assert_array_equal(np.cumsum(getattr(kept, name)),
                                      np.cumsum(getattr(whole, name))[rows])
    np.testing.assert_equal(vars(km.km_at(kept, PROBES)), vars(km.km_at(whole, PROBES)))
    np.testing.assert_equal(vars(km.km_median(kept)), vars(km.km_median(whole)))
    assert (kept.time[0], kept.time[-1], kept.n) == (whole.time[0], whole.time[-1], whole.n)


def test_a_median_on_a_plateau_at_one_half_keeps_the_row_where_it_ends():
    # S = 0.5 from t = 2 (two of four died) until the last death at t = 4: median 3
    time = np.array([1.0, 2.0, 3.0, 4.0])
    event = np.array([1, 1, 0, 1])
    whole = km.kaplan_meier(time, event)
    assert km.km_median(whole).median == 3.0
    for size in (1, 2, 3, 4):
        kept = streamed_fit(time, event, size, buckets=0).fit()
        np.testing.assert_equal(vars(km.km_median(kept)), vars(km.km_median(whole)))


def test_a_curve_without_patients_has_no_fit_and_unseen_patients_are_an_error():
    assert StreamedKaplanMeier(0).fit() is None
    stream = StreamedKaplanMeier(5)
    stream.add(np.array([1.0, 2.0]), np.array([1, 0]), np.array([0, 1]))
    with pytest.raises(StatisticsError, match="3 of its 5 patients not seen"):
        stream.fit()
    with pytest.raises(StatisticsError, match="more patients"):
        stream.add(np.array([3.0]), np.array([4]), np.array([0]))


@pytest.mark.parametrize("rho, gamma", [(0, 0), (1, 0), (0.5, 2)])
@pytest.mark.parametrize("size", [1, 13, 100_000])
def test_streamed_log_rank_and_trend_are_the_whole_tables(rho, gamma, size):
    rng = np.random.default_rng(11)
    n = 2000
    group = rng.integers(0, 3, n)
    strata = rng.integers(0, 2, n)
    time = np.round(rng.exponential(1.0 + 0.3 * group), 2)
    event = (rng.random(n) < 0.6).astype(int)
    expected = logrank.logrank_test(time, event, group, rho, gamma, strata)
    trend = logrank.logrank_trend_test(time, event, group, None, rho, gamma, strata)
    labels = (strata * 3 + group) * 2 + event
    times, table = tabulate_by_time(time, labels, 12)
    totals = np.array([[np.sum((strata == s) & (group == g)) for g in range(3)]
                       for s in range(2)])
    stream = logrank.StreamedLogrank(totals, np.arange(3), rho, gamma)
    for piece in pieces(times.size, size):
        for s in range(2):
            stream.add(s, table[piece, 6 * s:6 * (s + 1)])
    got = stream.result()
    for a, b in ((got.test.statistic, expected.test.statistic),
                 (got.test.p_value, expected.test.p_value),
                 (stream.trend().statistic, trend.statistic)):
        assert a == pytest.approx(b, rel=1e-12, abs=0)
    assert got.test.method == expected.test.method and got.test.df == expected.test.df
    np.testing.assert_array_equal(got.events, expected.events)
    np.testing.assert_array_equal(got.n, expected.n)


def test_streamed_log_rank_needs_two_groups():
    with pytest.raises(StatisticsError, match="at least two groups"):
        logrank.StreamedLogrank([[5]], [0])
