"""Cumulative incidence and Gray's test against R cmprsk (tests/fixtures/r/cuminc.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.competing import cif_at, cumulative_incidence, gray_test
from cohortpress.stats.kaplan_meier import kaplan_meier, km_at
from cohortpress.testing import r_values

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "cuminc.json").read_text())
DATASETS = FIXTURE["datasets"]
RTOL, ATOL = 1e-10, 1e-14


def data_of(name):
    ds = DATASETS[name]
    return (r_values(ds["time"]), r_values(ds["status"]).astype(int),
            r_values(ds["group"]).astype(int), r_values(ds["strata"]).astype(int))


def curve_cases():
    """(dataset, group code or None for the whole sample, cause, R curve)."""
    for name, ds in DATASETS.items():
        for key, curve in ds["curves"].items():
            group, cause = key.split()
            yield name, int(group), int(cause), curve
        for key, curve in ds["overall"].items():
            yield name, None, int(key.split()[1]), curve


CURVES = list(curve_cases())
CURVE_IDS = [f"{n}-{'all' if g is None else f'group{g}'}-cause{c}" for n, g, c, _ in CURVES]


def fit_of(name, group, cause):
    time, status, groups, _ = data_of(name)
    rows = slice(None) if group is None else groups == group
    return cumulative_incidence(time[rows], status[rows], cause=cause)


@pytest.mark.parametrize(("name", "group", "cause", "curve"), CURVES, ids=CURVE_IDS)
def test_curve_matches_cuminc(name, group, cause, curve):
    fit = fit_of(name, group, cause)
    # cuminc's vectors trace the step function's corners: (0, 0), then for each event
    # time t the pair (t, F before), (t, F after), and finally the last follow-up time.
    time, estimate, variance = (r_values(curve[key]) for key in ("time", "est", "var"))
    np.testing.assert_array_equal(fit.time, time[2:-1:2])
    np.testing.assert_allclose(fit.estimate, estimate[2:-1:2], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(fit.variance, variance[2:-1:2], rtol=RTOL, atol=ATOL)
    assert fit.last_time == time[-1]


@pytest.mark.parametrize(("name", "group", "cause", "curve"), CURVES, ids=CURVE_IDS)
def test_landmarks_match_timepoints_with_log_minus_log_interval(name, group, cause, curve):
    expected = curve["landmarks"]
    landmarks = cif_at(fit_of(name, group, cause), r_values(DATASETS[name]["landmarks"]))
    np.testing.assert_array_equal(landmarks.time, r_values(expected["time"]))
    np.testing.assert_allclose(landmarks.estimate, r_values(expected["est"]),
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(landmarks.std_err**2, r_values(expected["var"]),
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(landmarks.conf_low, r_values(expected["conf_low"]),
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(landmarks.conf_high, r_values(expected["conf_high"]),
                               rtol=RTOL, atol=ATOL)


TESTS = [(name, case["rho"], case["stratified"], int(cause), result)
         for name, ds in DATASETS.items() for case in ds["tests"]
         for cause, result in case["result"].items()]


@pytest.mark.parametrize(
    ("name", "rho", "stratified", "cause", "expected"), TESTS,
    ids=[f"{n}-rho{r:g}{'-strata' if s else ''}-cause{c}" for n, r, s, c, _ in TESTS])
def test_gray_test_matches_cuminc_tests(name, rho, stratified, cause, expected):
    time, status, group, strata = data_of(name)
    result = gray_test(time, status, group, cause=cause, rho=rho,
                       strata=strata if stratified else None)
    assert result.test.statistic == pytest.approx(expected["stat"], rel=1e-10)
    # cmprsk's p-value is 1 - pchisq(), exact only to about 1e-16 absolute
    assert result.test.p_value == pytest.approx(expected["pv"], rel=1e-8, abs=1e-15)
    assert result.test.df == expected["df"]


def test_incidences_and_survival_add_up_to_one():
    time, status, _, _ = data_of("three_groups")
    grid = np.linspace(0, time.max(), 40)
    first = cif_at(cumulative_incidence(time, status, cause=1), grid).estimate
    second = cif_at(cumulative_incidence(time, status, cause=2), grid).estimate
    event_free = km_at(kaplan_meier(time, status > 0, timefix=False), grid).surv
    np.testing.assert_allclose(first + second + event_free, 1.0, rtol=0, atol=1e-12)


def test_group_without_the_event_has_zero_incidence():
    time, status, group, _ = data_of("group_without_cause1")
    fit = cumulative_incidence(time[group == 1], status[group == 1])
    assert fit.time.size == 0
    landmarks = cif_at(fit, [0, 1, fit.last_time, fit.last_time + 1])
    np.testing.assert_array_equal(landmarks.estimate[:3], 0.0)
    assert np.isnan(landmarks.estimate[3]) and np.isnan(landmarks.conf_low[0])


def test_status_codes_need_not_follow_any_order_of_groups():
    time, status, group, _ = data_of("two_groups_ties")
    swapped = gray_test(time, status, 1 - group)
    original = gray_test(time, status, group)
    assert swapped.test.statistic == pytest.approx(original.test.statistic, rel=1e-12)
    assert swapped.groups.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": np.full(60, -1)}, ">= 0"),
        ({"cause": 0}, "cause"),
        ({"cause": True}, "cause"),
        ({"group": np.zeros(60, dtype=int)}, "two groups"),
        ({"status": np.where(np.arange(60) % 2, 0, 2)}, "singular"),
        ({"rho": -0.5}, "rho"),
        ({"strata": np.zeros(3, dtype=int)}, "lengths must match"),
    ],
)
def test_invalid_input_raises_statistics_error(kwargs, message):
    time, status, group, _ = data_of("two_groups_ties")
    arguments = {"time": time, "status": status, "group": group} | kwargs
    with pytest.raises(StatisticsError, match=message):
        gray_test(**arguments)


def test_invalid_estimate_input_raises_statistics_error():
    with pytest.raises(StatisticsError, match="negative"):
        cumulative_incidence([1.0, -1.0], [1, 0])
    with pytest.raises(StatisticsError, match="lengths must match"):
        cumulative_incidence([1.0, 2.0], [1])
    with pytest.raises(StatisticsError, match="conf_level"):
        cif_at(cumulative_incidence([1.0, 2.0], [1, 2]), [1.0], conf_level=1.0)
