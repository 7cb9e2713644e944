"""Restricted mean survival time against R survival (fixtures from tests/fixtures/r/rmst.R)
and the published CAMIS comparison (survRM2::rmst2 on survival's lung, tau = 350)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.kaplan_meier import kaplan_meier
from cohortpress.stats.rmst import (default_horizon, rmst, rmst_difference, rmst_from_fit,
                                    rmst_ratio)
from cohortpress.testing import r_values

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "rmst.json").read_text())
RTOL = 1e-9  # the JSON carries 15 significant digits; the house bar is 1e-6

CASES = [(name, index) for name, cohort in FIXTURE.items()
         for index in range(len(cohort["cases"]))]


def data_of(name):
    data = FIXTURE[name]["data"]
    return (r_values(data["time"]), r_values(data["event"]).astype(int),
            r_values(data["group"]).astype(int))


def close(actual, expected):
    np.testing.assert_allclose(actual, r_values(expected), rtol=RTOL, atol=0)


def group_estimates(name, case):
    time, event, group = data_of(name)
    return [rmst(time[group == code], event[group == code], case["tau"], case["conf_level"],
                 extend=name.endswith("extended"))
            for code in np.unique(group)]


@pytest.mark.parametrize(("name", "index"), CASES)
def test_per_group_and_overall_match_survival_rmean(name, index):
    case = FIXTURE[name]["cases"][index]
    estimates = group_estimates(name, case)
    close([e.estimate for e in estimates], case["groups"]["rmean"])
    close([e.std_err for e in estimates], case["groups"]["se"])
    time, event, _ = data_of(name)
    overall = rmst(time, event, case["tau"], extend=name.endswith("extended"))
    close(overall.estimate, case["overall"]["rmean"])
    close(overall.std_err, case["overall"]["se"])


@pytest.mark.parametrize(("name", "index"), CASES)
def test_comparisons_against_the_first_group(name, index):
    case = FIXTURE[name]["cases"][index]
    estimates = group_estimates(name, case)
    level = case["conf_level"]
    for expected in case["comparisons"]:
        other = estimates[expected["group"]]
        diff = rmst_difference(estimates[0], other, level)
        ratio = rmst_ratio(estimates[0], other, level)
        close([diff.estimate, diff.std_err, diff.conf_low, diff.conf_high, diff.p_value],
              [expected[k] for k in ("diff", "diff_se", "diff_low", "diff_high", "diff_p")])
        close([ratio.estimate, ratio.std_err, ratio.conf_low, ratio.conf_high, ratio.p_value],
              [expected[k] for k in ("ratio", "log_ratio_se", "ratio_low", "ratio_high",
                                     "ratio_p")])


@pytest.mark.parametrize("name", [n for n in FIXTURE if "default_tau" in FIXTURE[n]])
def test_default_horizon_is_the_smallest_last_follow_up(name):
    time, _, group = data_of(name)
    last = [time[group == code].max() for code in np.unique(group)]
    assert default_horizon(last) == FIXTURE[name]["default_tau"]


def test_camis_published_values():
    """CAMIS RMST in R, method 3: Placebo 272.9520 and Active 248.2156 (SE 9.2343),
    difference -24.7364 (SE 15.1330, upper limit 4.92, p 0.1021)."""
    time, event, group = data_of("camis")
    placebo = rmst(time[group == 0], event[group == 0], 350)
    active = rmst(time[group == 1], event[group == 1], 350)
    diff = rmst_difference(placebo, active)
    assert round(placebo.estimate, 4) == 272.9520
    assert (round(active.estimate, 4), round(active.std_err, 4)) == (248.2156, 9.2343)
    assert (round(diff.estimate, 4), round(diff.std_err, 4)) == (-24.7364, 15.1330)
    assert round(diff.p_value, 4) == 0.1021
    assert round(diff.conf_high, 2) == 4.92


def test_horizon_beyond_follow_up_is_an_error_unless_extended():
    time, event = np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1])
    with pytest.raises(StatisticsError, match="beyond the last follow-up time 3"):
        rmst(time, event, 4.0)
    extended = rmst(time, event, 4.0, extend=True)
    assert extended.extended and extended.estimate == pytest.approx(1 + 2 * 2 / 3)


@pytest.mark.parametrize("horizon", [0.0, -1.0, float("nan"), float("inf")])
def test_horizon_must_be_positive_and_finite(horizon):
    with pytest.raises(StatisticsError, match="positive finite"):
        rmst([1.0, 2.0], [1, 1], horizon)


def test_by_hand_small_example():
    """Times 1 (event), 2 (censored), 3 (event), 4 (censored), tau 3.5: S = 1 on [0, 1),
    3/4 on [1, 3), 3/8 on [3, 3.5]; var = A_1^2 * 1/(4*3) + A_3^2 * 1/(2*1)."""
    fit = kaplan_meier([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 0])
    result = rmst_from_fit(fit, 3.5)
    a1, a3 = 0.75 * 2 + 0.375 * 0.5, 0.375 * 0.5
    assert result.estimate == pytest.approx(1 + a1)
    assert result.std_err == pytest.approx(np.sqrt(a1 ** 2 / 12 + a3 ** 2 / 2))
    assert not result.extended


def test_horizon_before_the_first_time_is_the_horizon_with_no_variance():
    result = rmst([5.0, 6.0], [1, 1], 2.0)
    assert (result.estimate, result.std_err) == (2.0, 0.0)


def test_different_horizons_cannot_be_compared():
    a, b = rmst([1.0, 2.0], [1, 1], 1.5), rmst([1.0, 2.0], [1, 1], 2.0)
    with pytest.raises(StatisticsError, match="different horizons"):
        rmst_difference(a, b)


def test_default_horizon_needs_follow_up():
    with pytest.raises(StatisticsError):
        default_horizon([])
    with pytest.raises(StatisticsError, match="beyond time 0"):
        default_horizon([0.0, 5.0])
