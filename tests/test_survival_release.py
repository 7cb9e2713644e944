"""The released cohort a survival curve is drawn from under a disclosure rule
(:mod:`cohortpress.kit.survival_release`), checked by brute force on every small cohort.

The attacker of these tests sees everything a report shows of a group's curve: the
released curve step by step, with the number at risk (at time 0: the released group size)
and the cumulative events and censorings at every time (more than any report prints). A
rule protects the group when no true count of events at any time can be pinned to a value
from 1 to ``min_count - 1``: for every released output, the cohorts that produce it must not
all share such a count. The same attack on the curve of the full data finds one, so the
check can fail. (How a table's totals relate to each other, n = events + censored, is the
table rule's matter: :mod:`cohortpress.stats.suppression`.)
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest

from cohortpress.common.disclosure import DisclosureRule, release_count
from cohortpress.kit.survival_release import SurvivalRelease, release_unit, released_cohort
from cohortpress.stats.kaplan_meier import kaplan_meier

TIMES = (1.0, 2.0, 3.0, 4.0)


def _cohorts(max_n: int, codes=(0, 1)):
    """Every cohort (a multiset of (time, status) patients) of 1 to ``max_n`` patients."""
    kinds = [(t, c) for t in TIMES for c in codes]
    for n in range(1, max_n + 1):
        for patients in itertools.combinations_with_replacement(kinds, n):
            time = np.array([p[0] for p in patients])
            status = np.array([p[1] for p in patients], dtype=np.int64)
            yield time, status


def _true_events(time, status, code=1) -> tuple[int, ...]:
    return tuple(int(((time == t) & (status == code)).sum()) for t in TIMES)


def _released_view(time, status, rule: DisclosureRule, codes=(1,)):
    """Everything a reader could learn of one group's curve: at every time the released
    cohort's at-risk count and cumulative exits by kind (hidden when from 1 to
    min_count - 1). The curve is a function of these (its steps are the released events
    over the released numbers at risk, as the last test checks), so it adds nothing."""
    release = SurvivalRelease(rule)
    shown = release.cohort(time, status)
    if shown is None:
        return None
    shown_time, shown_status = shown
    steps = []
    for t in TIMES:
        counts = [int((shown_time >= t).sum())]
        counts += [int(((shown_time <= t) & (shown_status == c)).sum())
                   for c in (0, *codes)]
        steps.append(tuple(release_count(n, rule).text for n in counts))
    return tuple(steps)


def _pinned_small_counts(views: dict, rule: DisclosureRule) -> list:
    """The (view, time, count) whose count of events at that time is the same, and from 1
    to min_count - 1, in every cohort that gives the view."""
    found = []
    for view, event_counts in views.items():
        for k in range(len(TIMES)):
            values = {counts[k] for counts in event_counts}
            if len(values) == 1 and 0 < next(iter(values)) < rule.min_count:
                found.append((view, TIMES[k], next(iter(values))))
    return found


@pytest.mark.parametrize("min_count, round_to, max_n", [(3, 1, 6), (3, 2, 6), (4, 2, 6)])
def test_no_released_curve_pins_a_small_count_of_events(min_count, round_to, max_n):
    """Every cohort of up to ``max_n`` patients with times 1 to 4, grouped by what the
    report releases of it: no group of cohorts shares a small count of events at a time.
"""
    rule = DisclosureRule(min_count, round_to)
    views = defaultdict(list)
    for time, status in _cohorts(max_n):
        views[_released_view(time, status, rule)].append(_true_events(time, status))
    assert len(views) > 10
    assert _pinned_small_counts(views, rule) == []


def test_the_attack_finds_small_counts_in_the_curves_of_the_full_data():
    """The same attack on the unreleased curve (its at-risk counts and steps as they are)
    pins single events: the check above can fail."""
    rule = DisclosureRule(3, 1)
    views = defaultdict(list)
    for time, status in _cohorts(6):
        fit = kaplan_meier(time, status)
        view = (tuple(fit.time.tolist()), tuple(fit.n_risk.tolist()),
                tuple(np.round(fit.surv, 12).tolist()))
        views[view].append(_true_events(time, status))
    assert _pinned_small_counts(views, rule)


def test_competing_causes_are_released_cause_by_cause():
    rule = DisclosureRule(3, 2)
    views = defaultdict(list)
    for time, status in _cohorts(5, codes=(0, 1, 2)):
        view = _released_view(time, status, rule, codes=(1, 2))
        views[view].append(_true_events(time, status, 1) + _true_events(time, status, 2))
    pinned = []
    for view, counts in views.items():
        for k in range(2 * len(TIMES)):
            values = {c[k] for c in counts}
            if len(values) == 1 and 0 < next(iter(values)) < rule.min_count:
                pinned.append((view, k, values))
    assert pinned == []


@pytest.mark.parametrize("min_count, round_to", [(10, 5), (8, 5), (10, 1), (5, 10), (7, 3)])
def test_every_count_of_a_released_cohort_is_a_multiple_and_every_step_big(min_count,
                                                                           round_to):
    """On random cohorts of 1 to 300 patients with ties: each step of the released curve
    has a multiple of the unit (so at least min_count) events, every at-risk and cumulative
    count is a multiple of round_to, and the curve is the Kaplan–Meier estimate of those
    counts alone."""
    rule = DisclosureRule(min_count, round_to)
    unit = release_unit(rule)
    assert unit % round_to == 0 and unit >= min_count
    rng = np.random.default_rng(20)
    for _ in range(300):
        n = int(rng.integers(1, 300))
        time = rng.integers(1, rng.integers(2, 60), n).astype(float)
        status = rng.integers(0, 3, n)
        shown = SurvivalRelease(rule).cohort(time, status)
        if n < min_count:
            assert shown is None
            continue
        shown_time, shown_status = shown
        assert shown_time.size == release_count(n, rule).value
        distinct = np.unique(shown_time)
        at_risk = np.array([(shown_time >= t).sum() for t in distinct])
        assert (at_risk % round_to == 0).all()
        for code in (0, 1, 2):
            per_time = np.array([((shown_time == t) & (shown_status == code)).sum()
                                 for t in distinct])
            if code > 0:
                assert (per_time % unit == 0).all()
            if code > 0:  # events are never drawn before they happened
                assert all(((shown_time <= t) & (shown_status == code)).sum()
                           <= ((time <= t) & (status == code)).sum() for t in distinct)
        fit = kaplan_meier(shown_time, (shown_status == 1).astype(int))
        steps = fit.n_event > 0
        drop = 1 - fit.surv[steps] / np.concatenate(([1.0], fit.surv))[:-1][steps]
        assert np.allclose(drop * fit.n_risk[steps], fit.n_event[steps])
        assert (fit.n_event[steps] >= min_count).all()


def test_a_group_smaller_than_min_count_gets_no_curve():
    assert released_cohort(np.arange(9.0), np.ones(9, int), 10, 10) is None
    time, status = released_cohort(np.arange(10.0), np.ones(10, int), 10, 10)
    assert time.tolist() == [9.0] * 10 and status.tolist() == [1] * 10


def test_what_the_floors_leave_is_censored_at_the_last_follow_up():
    # 14 patients, 11 events, 3 censored; unit 5, released size 15
    time = np.array([1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], float)
    status = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1])
    shown_time, shown_status = released_cohort(time, status, 5, 5, total=15)
    assert shown_time.tolist() == [5.0] * 5 + [11.0] * 5 + [13.0] * 5
    assert shown_status.tolist() == [1] * 10 + [0] * 5


def test_curves_the_rule_cannot_release_are_refused_in_one_line():
    from types import SimpleNamespace

    from cohortpress.common.errors import DataError
    from cohortpress.kit.survival_release import refuse_unsupported

    rule = SurvivalRelease(DisclosureRule(min_count=10, round_to=5))
    plain = SimpleNamespace(name="os", entry=None)
    entered = SimpleNamespace(name="os", entry=np.zeros(3))
    refuse_unsupported(None, entered, "w")  # no rule: nothing to refuse
    refuse_unsupported(rule, plain, None)
    with pytest.raises(DataError, match="endpoint 'os' has delayed entry"):
        refuse_unsupported(rule, entered, None)
    with pytest.raises(DataError, match="weights = 'w'"):
        refuse_unsupported(rule, plain, "w")
