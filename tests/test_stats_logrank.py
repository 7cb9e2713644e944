"""Log-rank tests against R survdiff (fixtures from tests/fixtures/r/survival_logrank.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.logrank import (
    adjust_p_values,
    logrank_test,
    logrank_trend_test,
    pairwise_logrank,
)
from cohortpress.testing import r_values

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "survival_logrank.json").read_text())
RTOL, ATOL = 1e-10, 1e-13


def data_of(name):
    ds = FIXTURE["datasets"][name]
    return (r_values(ds["time"]), r_values(ds["event"]).astype(int),
            r_values(ds["group"]).astype(int), r_values(ds["strata"]).astype(int))


def assert_close(actual, expected, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), r_values(expected),
                               rtol=rtol, atol=ATOL)


def case_id(case):
    strata = "-strata" if case.get("stratified") else ""
    return f"{case['dataset']}-rho{case['rho']:g}{strata}"


@pytest.mark.parametrize("case", FIXTURE["survdiff"], ids=case_id)
def test_matches_survdiff(case):
    time, event, group, strata = data_of(case["dataset"])
    result = logrank_test(time, event, group, rho=case["rho"],
                          strata=strata if case["stratified"] else None)
    assert_close(result.observed, case["observed"])
    assert_close(result.expected, case["expected"])
    assert_close(result.variance, case["var"])
    assert_close(result.test.statistic, case["chisq"])
    assert_close(result.test.p_value, case["pvalue"])
    assert result.test.df == case["df"]


@pytest.mark.parametrize("case", FIXTURE["trend"], ids=case_id)
def test_trend_test_matches_score_test_from_survdiff(case):
    time, event, group, strata = data_of(case["dataset"])
    result = logrank_trend_test(time, event, group, rho=case["rho"],
                                strata=strata if case["stratified"] else None)
    assert_close(result.statistic, case["chisq"])
    assert_close(result.p_value, case["pvalue"])
    assert result.df == 1


def test_trend_scores_change_the_statistic_and_must_fit_the_groups():
    time, event, group, _ = data_of("veteran")
    default = logrank_trend_test(time, event, group)
    explicit = logrank_trend_test(time, event, group, scores=[1, 2, 3, 4])
    reversed_order = logrank_trend_test(time, event, group, scores=[4, 3, 2, 1])
    uneven = logrank_trend_test(time, event, group, scores=[0, 1, 5, 6])
    assert explicit.statistic == default.statistic == pytest.approx(reversed_order.statistic)
    assert uneven.statistic != pytest.approx(default.statistic)
    with pytest.raises(StatisticsError, match="scores"):
        logrank_trend_test(time, event, group, scores=[1, 2, 3])


@pytest.mark.parametrize("case", FIXTURE["pairwise"], ids=case_id)
@pytest.mark.parametrize("adjust", ["holm", "bonferroni", "BH"])
def test_pairwise_matches_survdiff_and_p_adjust(case, adjust):
    time, event, group, _ = data_of(case["dataset"])
    result = pairwise_logrank(time, event, group, adjust=adjust, rho=case["rho"])
    pairs = [(c.group_a, c.group_b) for c in result.comparisons]
    assert pairs == list(zip(r_values(case["group_a"]).astype(int).tolist(),
                             r_values(case["group_b"]).astype(int).tolist()))
    assert_close([c.p_value for c in result.comparisons], case["p"])
    assert_close([c.p_adjusted for c in result.comparisons], case[adjust])
    assert result.adjust == adjust


@pytest.mark.parametrize("case", FIXTURE["fleming_harrington"],
                         ids=lambda c: f"{c['dataset']}-G({c['p']:g},{c['q']:g})")
def test_fleming_harrington_matches_reference_computation(case):
    time, event, group, _ = data_of(case["dataset"])
    result = logrank_test(time, event, group, rho=case["p"], gamma=case["q"])
    assert_close(result.observed, case["observed"])
    assert_close(result.expected, case["expected"])
    assert_close(result.variance, case["var"])
    assert_close(result.test.statistic, case["chisq"])
    assert_close(result.test.p_value, case["pvalue"])


@pytest.mark.parametrize("rho", [0.5, 1.0])
def test_fleming_harrington_with_q_zero_is_survdiff_rho(rho):
    case = next(c for c in FIXTURE["survdiff"]
                if c["dataset"] == "veteran" and c["rho"] == rho and not c["stratified"])
    time, event, group, _ = data_of("veteran")
    result = logrank_test(time, event, group, rho=rho, gamma=0.0)
    assert_close(result.test.statistic, case["chisq"])


def test_result_reports_group_sizes_events_and_method():
    time, event, group, strata = data_of("veteran")
    result = logrank_test(time, event, group)
    assert result.groups.tolist() == [0, 1, 2, 3]
    assert result.n.tolist() == np.bincount(group).tolist()
    assert result.events.tolist() == np.bincount(group, weights=event).astype(int).tolist()
    np.testing.assert_allclose(result.observed, result.events)  # unweighted: O = events
    assert result.test.method == "Log-rank test"
    assert logrank_test(time, event, group, strata=strata).test.method.startswith("Stratified")


def test_group_codes_need_not_be_contiguous():
    time, event, group, _ = data_of("aml")
    contiguous = logrank_test(time, event, group)
    gapped = logrank_test(time, event, group * 5 + 2)
    assert gapped.groups.tolist() == [2, 7]
    assert gapped.test.statistic == contiguous.test.statistic


def test_a_group_with_everyone_censored_is_still_tested():
    time, event, group, _ = data_of("all_censored_group")
    result = logrank_test(time, event, group)
    assert result.observed[1] == 0 and result.expected[1] > 0
    assert 0 < result.test.p_value < 1


def test_pairs_without_an_informative_event_get_nan_and_are_left_out_of_holm():
    time = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9])
    event = np.array([1, 1, 0, 1, 0, 1, 0, 0, 0])
    group = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    time[group == 2] = [0.1, 0.2, 0.3]  # group 2: all censored before any event
    result = pairwise_logrank(time, event, group)
    by_pair = {(c.group_a, c.group_b): c for c in result.comparisons}
    assert np.isnan(by_pair[0, 2].p_value) and np.isnan(by_pair[1, 2].p_adjusted)
    assert by_pair[0, 1].p_adjusted == pytest.approx(by_pair[0, 1].p_value)


def test_adjust_p_values_skips_missing_as_p_adjust():
    adjusted = adjust_p_values([0.01, np.nan, 0.04, 0.03], "holm")
    np.testing.assert_allclose(adjusted, [0.03, np.nan, 0.06, 0.06])
    np.testing.assert_allclose(adjust_p_values([0.01, 0.5], "none"), [0.01, 0.5])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"group": np.zeros(23, dtype=int)}, "two groups"),
        ({"event": np.zeros(23, dtype=int)}, "no events"),
        ({"rho": -1.0}, "rho"),
        ({"gamma": np.nan}, "gamma"),
        ({"strata": np.zeros(5, dtype=int)}, "lengths must match"),
        ({"group": np.full(23, 0.5)}, "integer"),
    ],
)
def test_invalid_input_raises_statistics_error(kwargs, message):
    time, event, group, _ = data_of("aml")
    arguments = {"time": time, "event": event, "group": group} | kwargs
    with pytest.raises(StatisticsError, match=message):
        logrank_test(**arguments)


def test_invalid_adjustment_is_rejected():
    time, event, group, _ = data_of("aml")
    with pytest.raises(StatisticsError, match="adjust"):
        pairwise_logrank(time, event, group, adjust="hochberg")
