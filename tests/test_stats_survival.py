"""Kaplan–Meier estimates against R survival (fixtures from tests/fixtures/r/survival_km.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.event_times import fix_near_ties, tabulate_by_time
from cohortpress.stats.kaplan_meier import (
    kaplan_meier,
    kaplan_meier_by_group,
    km_at,
    km_median,
    reverse_km_median_followup,
)
from cohortpress.testing import r_values

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "survival_km.json").read_text())
DATASETS = FIXTURE["datasets"]
RTOL, ATOL = 1e-12, 1e-14  # the JSON carries 15 significant digits


def data_of(name, subset="all"):
    ds = DATASETS[name]
    time, event, group = r_values(ds["time"]), r_values(ds["event"]), r_values(ds["group"])
    rows = slice(None) if subset == "all" else group == int(subset.removeprefix("group"))
    return time[rows], event[rows].astype(int), group[rows].astype(int)


FIT_CASES = [(name, fit) for name, ds in DATASETS.items() for fit in ds["fits"]]
FIT_IDS = [f"{name}-{fit['subset']}-{fit['conf_type']}" for name, fit in FIT_CASES]


def assert_matches(actual, expected):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), r_values(expected),
                               rtol=RTOL, atol=ATOL, equal_nan=True)


@pytest.mark.parametrize(("name", "case"), FIT_CASES, ids=FIT_IDS)
def test_curve_matches_survfit(name, case):
    time, event, _ = data_of(name, case["subset"])
    fit = kaplan_meier(time, event, conf_type=case["conf_type"])
    for field, expected in case["curve"].items():
        assert_matches(getattr(fit, field), expected)
    assert fit.n == len(time)


@pytest.mark.parametrize(("name", "case"), FIT_CASES, ids=FIT_IDS)
def test_landmarks_match_summary_with_extend(name, case):
    time, event, _ = data_of(name, case["subset"])
    fit = kaplan_meier(time, event, conf_type=case["conf_type"])
    landmarks = km_at(fit, r_values(DATASETS[name]["landmarks"]))
    for field, expected in case["landmarks"].items():
        assert_matches(getattr(landmarks, field), expected)


@pytest.mark.parametrize(("name", "case"), FIT_CASES, ids=FIT_IDS)
def test_median_and_interval_match_survfit_table(name, case):
    time, event, _ = data_of(name, case["subset"])
    median = km_median(kaplan_meier(time, event, conf_type=case["conf_type"]))
    for field, expected in case["median"].items():
        assert_matches(getattr(median, field), expected)


REVERSE_CASES = [(name, case) for name, case in FIT_CASES if "reverse_median" in case]


@pytest.mark.parametrize(("name", "case"), REVERSE_CASES,
                         ids=[f"{n}-{c['subset']}" for n, c in REVERSE_CASES])
def test_reverse_km_median_follow_up_matches_survfit(name, case):
    time, event, _ = data_of(name, case["subset"])
    follow_up = reverse_km_median_followup(time, event)
    for field, expected in case["reverse_median"].items():
        assert_matches(getattr(follow_up, field), expected)


def test_conf_level_other_than_95_percent():
    time, event, _ = data_of("lung")
    fit = kaplan_meier(time, event, conf_level=0.90)
    expected = FIXTURE["lung_conf90"]
    landmarks = km_at(fit, expected["landmarks"]["time"])
    for field, values in expected["landmarks"].items():
        assert_matches(getattr(landmarks, field), values)
    for field, value in expected["median"].items():
        assert_matches(getattr(km_median(fit), field), value)


def test_by_group_matches_survfit_with_groups_including_pooled_time_fix():
    time, event, group = data_of("near_ties")
    fits = kaplan_meier_by_group(time, event, group)
    for key, expected in DATASETS["near_ties"]["by_group"].items():
        fit = fits[int(key.removeprefix("group"))]
        for field, values in expected.items():
            assert_matches(getattr(fit, field), values)


@pytest.mark.parametrize("name", ["lung", "veteran", "ties", "all_censored_group"])
def test_by_group_equals_one_fit_per_group(name):
    time, event, group = data_of(name)
    fits = kaplan_meier_by_group(time, event, group, conf_type="log-log")
    assert sorted(fits) == sorted(set(group.tolist()))
    for code, fit in fits.items():
        alone = kaplan_meier(time[group == code], event[group == code], conf_type="log-log")
        for field in ("time", "n_risk", "n_event", "surv", "std_err", "conf_low", "conf_high"):
            np.testing.assert_array_equal(getattr(fit, field), getattr(alone, field))


def test_group_with_everyone_censored_has_survival_one_and_no_median():
    time, event, _ = data_of("all_censored_group", "group1")
    fit = kaplan_meier(time, event)
    assert np.all(fit.surv == 1) and np.all(fit.std_err == 0)
    assert np.isnan(km_median(fit).median)
    assert np.all(km_at(fit, [0, 5, 100]).surv == 1)


def test_median_averages_an_exact_half_plateau():
    assert km_median(kaplan_meier(*data_of("median_plateau", "group0")[:2])).median == 6
    assert km_median(kaplan_meier(*data_of("median_plateau", "group1")[:2])).median == 4


def test_event_free_tail_leaves_median_undefined():
    median = km_median(kaplan_meier(*data_of("event_free_tail")[:2]))
    assert np.isnan(median.median) and np.isnan(median.conf_high)


def test_near_ties_are_merged_unless_timefix_is_off():
    time, event, _ = data_of("near_ties")
    assert kaplan_meier(time, event).time.size < kaplan_meier(time, event, timefix=False).time.size
    fixed = fix_near_ties(time)
    assert np.unique(fixed).size == np.unique(data_of("aml")[0]).size
    assert np.all(np.abs(fixed - time) <= 1e-8 * time)


@pytest.mark.parametrize("counted", [False, True])
def test_input_in_time_order_is_tabulated_as_shuffled_input(counted):
    # sorted input skips the argsort: the table must be the same, near-ties merged alike
    time, event, _ = data_of("near_ties")
    order = np.argsort(time, kind="stable")
    counts = np.arange(1, time.size + 1) if counted else None
    shuffled = tabulate_by_time(time, event.astype(np.intp), 2, counts=counts)
    in_order = tabulate_by_time(time[order], event.astype(np.intp)[order], 2,
                                counts=None if counts is None else counts[order])
    for a, b in zip(shuffled, in_order):
        np.testing.assert_array_equal(a, b)
    assert not np.all(np.diff(time) >= 0)  # the first call did sort


def test_landmarks_come_back_sorted_and_accept_a_scalar():
    fit = kaplan_meier(*data_of("aml")[:2])
    assert km_at(fit, 13).time.tolist() == [13.0]
    unsorted = km_at(fit, [48, 0, 13])
    assert unsorted.time.tolist() == [0.0, 13.0, 48.0]
    np.testing.assert_array_equal(unsorted.surv, km_at(fit, [0, 13, 48]).surv)


def test_bool_event_and_float_codes_are_accepted():
    time, event, _ = data_of("aml")
    reference = kaplan_meier(time, event)
    np.testing.assert_array_equal(kaplan_meier(time, event.astype(bool)).surv, reference.surv)
    np.testing.assert_array_equal(kaplan_meier(time, event.astype(float)).surv, reference.surv)


def test_fit_arrays_are_read_only():
    fit = kaplan_meier(*data_of("aml")[:2])
    with pytest.raises(ValueError):
        fit.surv[0] = 0.5


@pytest.mark.parametrize(
    ("time", "event", "message"),
    [
        ([1.0, -2.0], [1, 0], "negative"),
        ([1.0, np.nan], [1, 0], "missing"),
        ([1.0, np.inf], [1, 0], "infinite"),
        ([1.0, 2.0], [1, 2], "coded 0"),
        ([1.0, 2.0], [1, np.nan], "missing"),
        ([1.0, 2.0], [1, 0.5], "integer"),
        ([1.0, 2.0, 3.0], [1, 0], "lengths must match"),
        ([], [], "no observations"),
        (["a", "b"], [1, 0], "numeric"),
    ],
)
def test_invalid_input_raises_statistics_error(time, event, message):
    with pytest.raises(StatisticsError, match=message) as raised:
        kaplan_meier(time, event)
    assert "\n" not in str(raised.value)


def test_invalid_options_raise_statistics_error():
    time, event, _ = data_of("aml")
    with pytest.raises(StatisticsError, match="conf_type"):
        kaplan_meier(time, event, conf_type="logit")
    with pytest.raises(StatisticsError, match="conf_level"):
        kaplan_meier(time, event, conf_level=95)
    with pytest.raises(StatisticsError, match="landmark"):
        km_at(kaplan_meier(time, event), [-1, 5])
    with pytest.raises(StatisticsError, match="group"):
        kaplan_meier_by_group(time, event, np.full(time.size, -1))
