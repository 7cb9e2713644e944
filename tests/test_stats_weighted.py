"""Weighted Table 1 statistics, design-based tests, difference columns and the weighted
Kaplan–Meier curve against R.

R: tests/fixtures/r/weighted_table1.R, on survival's pbc (the trial patients with complete
covariates; inverse-probability-of-treatment weights from a logistic propensity model fitted
in R, saved in tests/data/r_cohorts/pbc_iptw.csv) and colon (three arms, for the largest
pairwise SMD): survey's svytable, svymean, svyvar, svyquantile, svychisq (Rao–Scott F),
svyttest; tableone's standardised differences written out with its formulas; t.test and
prop.test(correct = FALSE) intervals; survfit(weights =, robust = TRUE). Tolerance 1e-6
relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats import comparisons
from cohortpress.stats.differences import mean_difference, proportion_difference
from cohortpress.stats.survey import rao_scott_chisq, weighted_t_test, weighted_wald_test
from cohortpress.stats.weighted import (check_weights, weighted_counts, weighted_quantile,
                                        weighted_smd_categorical, weighted_smd_continuous,
                                        weighted_summary)
from cohortpress.stats.weighted_km import (weighted_kaplan_meier,
                                           weighted_kaplan_meier_by_group)
from cohortpress.stats.kaplan_meier import kaplan_meier

HERE = Path(__file__).parent
FIXTURE = json.loads((HERE / "fixtures" / "weighted_table1.json").read_text())
COHORT = pd.read_csv(HERE / "data" / "r_cohorts" / "pbc_iptw.csv", dtype={"edema": str})
GROUP = (COHORT["trt"] == FIXTURE["groups"][1]).to_numpy().astype(int)
W = COHORT["iptw"].to_numpy()
RTOL = 1e-6


def close(ours, theirs, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=rtol,
                               atol=0)


def by_group(values):
    return [(values[GROUP == k], W[GROUP == k]) for k in (0, 1)]


def codes_of(case):
    values = COHORT[case["variable"]].astype(str).tolist()
    return np.array([case["levels"].index(v) for v in values])


@pytest.mark.parametrize("case", FIXTURE["weighted_continuous"], ids=lambda c: c["variable"])
def test_weighted_summaries_match_survey(case):
    values = COHORT[case["variable"]].to_numpy(float)
    for (x, w), expected in zip(by_group(values), case["groups"]):
        summary = weighted_summary(x, w)
        close([summary.mean, summary.sd ** 2, summary.p25, summary.median, summary.p75,
               summary.min, summary.max],
              [expected[k] for k in ("mean", "var", "p25", "median", "p75", "min", "max")])
    overall = weighted_summary(values, W)
    close([overall.mean, overall.sd ** 2, overall.p25, overall.median, overall.p75],
          [case["overall"][k] for k in ("mean", "var", "p25", "median", "p75")])


@pytest.mark.parametrize("case", FIXTURE["weighted_continuous"], ids=lambda c: c["variable"])
def test_weighted_smd_and_t_test_match_tableone_and_svyttest(case):
    (x1, w1), (x2, w2) = by_group(COHORT[case["variable"]].to_numpy(float))
    close(abs(weighted_smd_continuous(x1, w1, x2, w2)), case["smd"])
    result = weighted_t_test(x1, w1, x2, w2)
    expected = case["svyttest"]
    # R reports group 2 minus group 1.
    close([-result.test.statistic, result.test.p_value, result.test.df, -result.estimate,
           -result.conf_high, -result.conf_low],
          [expected[k] for k in ("statistic", "p_value", "df", "estimate", "conf_low",
                                 "conf_high")])


@pytest.mark.parametrize("case", FIXTURE["weighted_categorical"], ids=lambda c: c["variable"])
def test_weighted_counts_smd_and_rao_scott_match_survey(case):
    codes = codes_of(case)
    counts = [weighted_counts(codes[GROUP == k], len(case["levels"]), W[GROUP == k])[0]
              for k in (0, 1)]
    close(np.column_stack(counts), case["counts"])
    close(100 * np.column_stack([c / c.sum() for c in counts]), case["percent"])
    close(weighted_smd_categorical(*counts), case["smd"])
    test = rao_scott_chisq(codes, GROUP, W)
    expected = case["svychisq"]
    close([test.statistic, test.df, test.p_value],
          [expected["statistic"], expected["ndf"], expected["p_value"]])
    close(test.df * (len(COHORT) - 1), expected["ddf"])


def test_rao_scott_with_equal_weights_is_pearson_over_n_minus_1_scale():
    """With all weights 1 the design effects are n/(n-1): F = X^2 (n-1)/n / df."""
    rng = np.random.default_rng(3)
    rows, columns = rng.integers(0, 3, 200), rng.integers(0, 2, 200)
    table = np.array([[np.sum((rows == r) & (columns == c)) for c in range(2)]
                      for r in range(3)])
    pearson = comparisons.chisq_test(table, correct=False)
    test = rao_scott_chisq(rows, columns, np.ones(200))
    close(test.statistic * test.df, pearson.statistic * 199 / 200, rtol=1e-10)
    close(test.df, 2, rtol=1e-10)


def test_weighted_quantile_rule_is_the_inverse_distribution_function():
    assert weighted_quantile([1, 2, 3, 4], [1, 1, 1, 1], 0.5) == 2  # exactly half: x[k*]
    assert weighted_quantile([1, 2, 3, 4], [1, 1, 1, 2], 0.5) == 3
    # survey's edge: the smallest value alone holds more than p of the weight.
    assert weighted_quantile([4, 1, 3], [1, 5, 1], 0.25) == 3
    assert weighted_quantile([4, 1, 3], [1, 5, 1], 0.8) == 3
    assert weighted_quantile([1, 2, 3], [0, 1, 1], 0.5) == 2  # zero weights dropped


@pytest.mark.parametrize("weights, message", [
    ([1, -1, 2], "negative"), ([1, np.nan, 2], "missing"), ([0, 0, 0], "positive")])
def test_bad_weights_are_refused(weights, message):
    with pytest.raises(StatisticsError, match=message):
        check_weights(weights)


@pytest.mark.parametrize("case", FIXTURE["unweighted"]["continuous"],
                         ids=lambda c: c["variable"])
def test_mean_difference_matches_welch_t_test(case):
    values = COHORT[case["variable"]].to_numpy(float)
    difference = mean_difference(values[GROUP == 0], values[GROUP == 1])
    close([difference.estimate, difference.conf_low, difference.conf_high],
          [case["estimate"], case["conf_low"], case["conf_high"]])
    close(abs(comparisons.smd_continuous(values[GROUP == 0], values[GROUP == 1])),
          case["smd"])


@pytest.mark.parametrize("case", FIXTURE["unweighted"]["binary"], ids=lambda c: c["variable"])
def test_proportion_difference_matches_prop_test_without_correction(case):
    (k1, k2), (n1, n2) = case["counts"], case["totals"]
    difference = proportion_difference(k1, n1, k2, n2)
    close([difference.estimate, difference.conf_low, difference.conf_high],
          [case["estimate"], case["conf_low"], case["conf_high"]])


def test_proportion_difference_limits_are_clipped_like_r():
    difference = proportion_difference(10, 10, 0, 10)
    assert (difference.conf_low, difference.conf_high) == (1.0, 1.0)


@pytest.mark.parametrize("case", FIXTURE["unweighted"]["categorical"],
                         ids=lambda c: c["variable"])
def test_categorical_smd_matches_tableone_formula(case):
    values = COHORT[case["variable"]].astype(str).to_numpy()
    levels = sorted(set(values))
    counts = [[np.sum((values == level) & (GROUP == k)) for level in levels] for k in (0, 1)]
    close(comparisons.smd_categorical(*counts), case["smd"])


@pytest.mark.parametrize("variable", ["age", "nodes", "differ"])
def test_pairwise_smds_of_three_arms_match_r(variable):
    colon = FIXTURE["colon"]
    arms, values = np.array(colon["rx"]), np.array(colon[variable], float)
    for index, (a, b) in enumerate(zip(*colon["pairs"])):
        x, y = values[arms == a], values[arms == b]
        if variable == "differ":
            smd = comparisons.smd_categorical([np.sum(x == k) for k in (1, 2, 3)],
                                              [np.sum(y == k) for k in (1, 2, 3)])
        else:
            smd = abs(comparisons.smd_continuous(x, y))
        close(smd, colon["smd"][variable][index])


def test_weighted_kaplan_meier_matches_survfit_robust():
    fits = weighted_kaplan_meier_by_group(COHORT["time"], COHORT["death"], W, GROUP)
    for code, expected in enumerate(FIXTURE["km"]):
        fit = fits[code]
        close(fit.time, expected["time"], rtol=0)
        close(fit.n_risk, expected["n_risk"])
        close(fit.n_event, expected["n_event"])
        close(fit.surv, expected["surv"])
        close(fit.std_err, expected["std_err"])  # survfit(robust = TRUE): logse = FALSE
        close(fit.conf_low, expected["lower"])
        close(fit.conf_high, expected["upper"])


def test_weighted_kaplan_meier_with_unit_weights_keeps_the_point_estimate():
    time, event = COHORT["time"].to_numpy(), COHORT["death"].to_numpy()
    weighted = weighted_kaplan_meier(time, event, np.ones(len(time)))
    plain = kaplan_meier(time, event)
    close(weighted.surv, plain.surv, rtol=1e-12)
    close(weighted.n_risk, plain.n_risk, rtol=0)


STAGE = COHORT["stage"].to_numpy()
STAGES = sorted(set(STAGE))


@pytest.mark.parametrize("case", FIXTURE["by_stage"]["continuous"], ids=lambda c: c["variable"])
def test_wald_test_of_four_groups_matches_regtermtest(case):
    values = COHORT[case["variable"]].to_numpy(float)
    test = weighted_wald_test([(values[STAGE == s], W[STAGE == s]) for s in STAGES])
    close([test.statistic, test.df, test.p_value],
          [case["statistic"], case["df"], case["p_value"]])
    assert len(COHORT) - len(STAGES) == case["ddf"]


@pytest.mark.parametrize("case", FIXTURE["by_stage"]["categorical"], ids=lambda c: c["variable"])
def test_rao_scott_of_four_groups_matches_svychisq(case):
    values = COHORT[case["variable"]].astype(str).to_numpy()
    rows = np.unique(values, return_inverse=True)[1]
    columns = np.unique(STAGE, return_inverse=True)[1]
    test = rao_scott_chisq(rows, columns, W)
    close([test.statistic, test.df, test.p_value],
          [case["statistic"], case["ndf"], case["p_value"]])


def test_wald_test_of_two_groups_is_the_t_test_squared():
    (x1, w1), (x2, w2) = by_group(COHORT["bili"].to_numpy(float))
    t = weighted_t_test(x1, w1, x2, w2)
    wald = weighted_wald_test([(x1, w1), (x2, w2)])
    close(wald.statistic, t.test.statistic ** 2, rtol=1e-10)
    close(wald.p_value, t.test.p_value, rtol=1e-8)
