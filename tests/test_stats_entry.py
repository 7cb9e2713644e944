"""Delayed entry (left truncation) in the survival estimators against R ``survival``
(fixtures from tests/fixtures/r/survival_entry.R): Kaplan–Meier, landmarks, medians,
RMST and reverse-KM follow-up as ``survfit(Surv(entry, time, event) ~ ...)``; the log-rank
test and its weighted, stratified, trend and pairwise variants as the score tests of
``coxph(Surv(entry, time, event) ~ ..., ties = "exact")`` and survdiff's formulas on the
same risk sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.competing import cif_at, cumulative_incidence
from cohortpress.stats.kaplan_meier import (kaplan_meier, kaplan_meier_by_group, km_at,
                                            km_median, reverse_km_median_followup)
from cohortpress.stats.logrank import logrank_test, logrank_trend_test, pairwise_logrank
from cohortpress.stats.rmst import rmst_from_fit

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "survival_entry.json").read_text())
REL = 1e-9

KM_CASES = {
    "lung": ("event", "sex"),
    "pbc_age": ("event", "trt"),
    "mgus2_age": (None, "sex"),
}


def arrays(case: str):
    data = FIXTURE[case]["data"]
    entry, time = np.array(data["entry"], float), np.array(data["time"], float)
    event_key, group_key = KM_CASES[case]
    event = (np.array(data[event_key]) if event_key
             else (np.array(data["status"]) == 1).astype(int))
    return entry, time, event, np.array(data[group_key])


def close(actual, expected, rel=REL):
    expected = np.array([np.nan if v is None else v for v in np.atleast_1d(expected)], float)
    np.testing.assert_allclose(np.atleast_1d(actual).astype(float), expected, rtol=rel,
                               atol=1e-12, equal_nan=True)


def check_curve(fit, ref, log_fit):
    close(fit.time, ref["time"])
    close(fit.n_risk, ref["n_risk"])
    close(fit.n_event, ref["n_event"])
    close(fit.n_censor, ref["n_censor"])
    close(fit.surv, ref["surv"])
    close(fit.std_err_log, ref["std_err_log"])
    close(fit.conf_low, ref["log_low"])
    close(fit.conf_high, ref["log_high"])
    close(log_fit.conf_low, ref["loglog_low"])
    close(log_fit.conf_high, ref["loglog_high"])
    median = km_median(fit)
    close([median.median, median.conf_low, median.conf_high],
          [ref["median"], ref["median_low"], ref["median_high"]])
    assert fit.n == ref["n"]


@pytest.mark.parametrize("case", KM_CASES)
def test_kaplan_meier_with_entry_matches_survfit(case):
    entry, time, event, _ = arrays(case)
    ref = FIXTURE[case]["km"]["overall"]
    check_curve(kaplan_meier(time, event, entry=entry), ref,
                kaplan_meier(time, event, "log-log", entry=entry))


@pytest.mark.parametrize("case", KM_CASES)
def test_kaplan_meier_by_group_with_entry_matches_survfit(case):
    entry, time, event, group = arrays(case)
    fits = kaplan_meier_by_group(time, event, group, entry=entry)
    log_fits = kaplan_meier_by_group(time, event, group, "log-log", entry=entry)
    for code, ref in enumerate(FIXTURE[case]["km"]["groups"]):
        check_curve(fits[code], ref, log_fits[code])


@pytest.mark.parametrize("case", KM_CASES)
def test_landmarks_rmst_and_reverse_followup_with_entry(case):
    entry, time, event, group = arrays(case)
    ref = FIXTURE[case]["km"]
    fit = kaplan_meier(time, event, entry=entry)
    marks = km_at(fit, ref["landmarks"]["time"])
    for ours, theirs in (("n_risk", "n_risk"), ("n_event", "n_event"),
                         ("n_censor", "n_censor"), ("surv", "surv"), ("std_err", "std_err"),
                         ("conf_low", "low"), ("conf_high", "high")):
        close(getattr(marks, ours), ref["landmarks"][theirs])
    rmst = rmst_from_fit(fit, ref["rmst"]["tau"])
    close([rmst.estimate, rmst.std_err], [ref["rmst"]["rmean"], ref["rmst"]["se"]])
    fits = kaplan_meier_by_group(time, event, group, entry=entry)
    for code, theirs in enumerate(ref["rmst_groups"]):
        ours = rmst_from_fit(fits[code], theirs["tau"], extend=True)
        close([ours.estimate, ours.std_err], [theirs["rmean"], theirs["se"]])
    followup = reverse_km_median_followup(time, event, entry=entry)
    close([followup.median, followup.conf_low, followup.conf_high],
          [ref["reverse"]["median"], ref["reverse"]["low"], ref["reverse"]["high"]])


LOGRANK_CASES = [("lung", "by_sex", "sex", None), ("lung", "by_agegroup", "agegroup", None),
                 ("lung", "by_ecog", "ecog", None), ("lung", "by_sex_strata_ecog", "sex", "ecog"),
                 ("pbc_age", "by_trt", "trt", None), ("mgus2_age", "by_sex", "sex", None)]


def logrank_arrays(case, group_key, strata_key):
    entry, time, event, _ = arrays(case)
    data = FIXTURE[case]["data"]
    strata = None if strata_key is None else np.array(data[strata_key])
    return entry, time, event, np.array(data[group_key]), strata


@pytest.mark.parametrize("case, test, group_key, strata_key", LOGRANK_CASES)
def test_logrank_variants_with_entry(case, test, group_key, strata_key):
    entry, time, event, group, strata = logrank_arrays(case, group_key, strata_key)
    ref = FIXTURE[case][test]
    for name, rho, gamma in (("logrank", 0, 0), ("peto", 1, 0), ("fh01", 0, 1)):
        result = logrank_test(time, event, group, rho, gamma, strata, entry=entry)
        close(result.test.statistic, ref[name]["chisq"])
        close(result.test.p_value, ref[name]["p"])
        assert result.test.df == ref[name]["df"]
        close(result.observed, ref[name]["observed"])
        close(result.expected, ref[name]["expected"])
        close(result.variance.ravel(), np.array(ref[name]["variance"]).T.ravel())
    close(logrank_test(time, event, group, strata=strata, entry=entry).test.statistic,
          ref["logrank"]["score_test"])
    trend = logrank_trend_test(time, event, group, strata=strata, entry=entry)
    close([trend.statistic, trend.p_value], [ref["trend"]["chisq"], ref["trend"]["p"]])
    close(trend.statistic, ref["trend"]["score_test"])


@pytest.mark.parametrize("case, test, group_key", [("lung", "by_agegroup", "agegroup"),
                                                   ("lung", "by_ecog", "ecog")])
def test_pairwise_logrank_with_entry(case, test, group_key):
    entry, time, event, group, _ = logrank_arrays(case, group_key, None)
    ref = FIXTURE[case][test]
    result = pairwise_logrank(time, event, group, "holm", entry=entry)
    assert [[c.group_a, c.group_b] for c in result.comparisons] == [
        p["groups"] for p in ref["pairs"]]
    close([c.statistic for c in result.comparisons], [p["chisq"] for p in ref["pairs"]])
    close([c.p_adjusted for c in result.comparisons], ref["pairs_holm"])


def test_entry_zero_gives_the_right_censored_results():
    _, time, event, group = arrays("lung")
    zero = np.zeros_like(time)
    plain, entered = kaplan_meier(time, event), kaplan_meier(time, event, entry=zero)
    np.testing.assert_array_equal(plain.n_risk, entered.n_risk)
    np.testing.assert_allclose(plain.surv, entered.surv, rtol=1e-15)
    assert (logrank_test(time, event, group).test.statistic
            == pytest.approx(logrank_test(time, event, group, entry=zero).test.statistic,
                             rel=1e-14))


def test_late_entry_shrinks_the_risk_set_and_changes_the_estimate():
    time = np.array([2.0, 3.0, 4.0, 5.0])
    event = np.array([1, 1, 1, 0])
    fit = kaplan_meier(time, event, entry=np.array([0.0, 2.5, 0.0, 3.0]))
    # at 2 only the two entered at 0 are at risk; at 3 those at (0, 4] and (2.5, 3]
    assert fit.n_risk.tolist() == [2, 2, 2, 1]
    np.testing.assert_allclose(fit.surv, [0.5, 0.25, 0.125, 0.125])


@pytest.mark.parametrize("entry, words", [([0.0, 3.0], "not before their exit"),
                                          ([0.0], "lengths must match"),
                                          ([0.0, -1.0], "negative")])
def test_bad_entry_is_a_statistics_error(entry, words):
    with pytest.raises(StatisticsError, match=words):
        kaplan_meier([2.0, 3.0], [1, 0], entry=entry)


CIF_CASES = {"pbc_age": "trt", "mgus2_age": "sex"}


@pytest.mark.parametrize("case", CIF_CASES)
def test_cumulative_incidence_with_entry_matches_survfit_aalen_johansen(case):
    data = FIXTURE[case]["data"]
    entry, time = np.array(data["entry"], float), np.array(data["time"], float)
    status, group = np.array(data["status"]), np.array(data[CIF_CASES[case]])
    ref = FIXTURE[case]["cif"]
    landmarks = {"pbc_age": [45, 55, 65, 75], "mgus2_age": [60, 70, 80, 90]}[case]
    for rows, part in [(np.ones(time.size, bool), ref["overall"])] + [
            (group == code, g) for code, g in enumerate(ref["groups"])]:
        for index, cause in enumerate((1, 2)):
            fit = cumulative_incidence(time[rows], status[rows], cause, entry=entry[rows])
            r_time = np.array(part["time"], float)
            at = np.searchsorted(r_time, fit.time)
            np.testing.assert_allclose(r_time[at], fit.time, rtol=1e-12)
            close(fit.estimate, np.array(part["estimate"][index])[at])
            close(np.sqrt(fit.variance), np.array(part["std_err"][index])[at])
            r_estimate = np.array(part["estimate"][index])
            r_jumps = r_time[np.diff(r_estimate, prepend=0.0) > 0]
            assert np.isin(r_jumps, fit.time).all()
            marks = cif_at(fit, landmarks)
            close(marks.estimate, part["landmark_estimate"][index])
            close(marks.std_err, part["landmark_std_err"][index])


def direct_influence_variance(time, status, entry, cause):
    """The infinitesimal jackknife carried subject by subject (the recursion in
    aalen_johansen_with_entry's docstring), O(n) per event time: the oracle for the
    O(n log n) computation on data R was not run on."""
    label = np.where(status == 0, 0, np.where(status == cause, 1, 2))
    influence_f, influence_s = np.zeros(time.size), np.zeros(time.size)
    surv, out = 1.0, {}
    for s in np.unique(time[label > 0]):
        at_risk = (entry < s) & (time >= s)
        here = time == s
        y = at_risk.sum()
        hazard_k = (here & (label == 1)).sum() / y
        hazard = (here & (label > 0)).sum() / y
        influence_f = influence_f + hazard_k * influence_s + surv * (
            (here & (label == 1)) - at_risk * hazard_k) / y
        influence_s = (1 - hazard) * influence_s - surv * ((here & (label > 0))
                                                           - at_risk * hazard) / y
        surv *= 1 - hazard
        out[s] = influence_f @ influence_f
    return out


@pytest.mark.parametrize("seed", range(6))
def test_jackknife_variance_equals_the_direct_recursion_with_ties_and_a_dead_end(seed):
    from cohortpress.stats.competing_entry import aalen_johansen_with_entry

    rng = np.random.default_rng(seed)
    n = 60
    entry = rng.integers(0, 6, n).astype(float)
    time = entry + rng.integers(1, 8, n)
    status = rng.choice([0, 1, 2], n, p=[0.3, 0.4, 0.3])
    if seed % 2:  # the last patients all have events: the survival reaches 0
        last = time == time.max()
        status[last] = 1
    for cause in (1, 2):
        times, incidence, variance, _ = aalen_johansen_with_entry(time, status, entry, cause)
        oracle = direct_influence_variance(time, status, entry, cause)
        np.testing.assert_allclose(variance, [oracle[t] for t in times], rtol=1e-9, atol=1e-15)


def test_no_event_of_any_cause_gives_an_empty_curve():
    fit = cumulative_incidence([2.0, 3.0], [0, 0], 1, entry=[0.0, 1.0])
    assert fit.time.size == 0 and fit.last_time == 3.0


def test_survival_reaching_zero_before_later_entries_freezes_the_curve():
    from cohortpress.stats.competing_entry import aalen_johansen_with_entry

    entry = np.array([0.0, 0.0, 2.0, 3.0, 0.5])
    time = np.array([1.0, 1.0, 5.0, 6.0, 1.0])
    status = np.array([1, 2, 1, 0, 1])
    for cause in (1, 2):
        times, incidence, variance, _ = aalen_johansen_with_entry(time, status, entry, cause)
        oracle = direct_influence_variance(time, status, entry, cause)
        np.testing.assert_allclose(variance, [oracle[t] for t in times], rtol=1e-12,
                                   atol=1e-15)
    times, incidence, _, _ = aalen_johansen_with_entry(time, status, entry, 1)
    np.testing.assert_allclose(incidence, [2 / 3, 2 / 3])  # nothing added after S = 0
