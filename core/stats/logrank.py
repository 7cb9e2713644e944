"""Log-rank and weighted log-rank tests between groups, as R's ``survival::survdiff``.

At each distinct event time :math:`t` (within a stratum) let :math:`n_g, d_g` be the number
at risk and the events in group :math:`g`, :math:`N = \\sum_g n_g`, :math:`D = \\sum_g d_g`,
and :math:`w(t)` a weight. Summed over event times and strata,

.. math::

    O_g = \\sum w\\, d_g, \\qquad E_g = \\sum w\\, D \\frac{n_g}{N}, \\qquad
    V_{gh} = \\sum w^2 \\frac{D (N - D)}{N - 1} \\frac{n_g}{N}
             \\Big(\\delta_{gh} - \\frac{n_h}{N}\\Big),

and the statistic is :math:`(O - E)' V^{-} (O - E)`, chi-square with (number of groups with
:math:`E_g > 0`) - 1 degrees of freedom, the generalised inverse taken by dropping the
first such group. The weights are Fleming–Harrington's
:math:`w(t) = \\hat S(t^-)^{\\rho}\\,(1 - \\hat S(t^-))^{\\gamma}`, with :math:`\\hat S` the
Kaplan–Meier estimate of the pooled sample (of the stratum): :math:`\\rho = \\gamma = 0`
is the log-rank test, :math:`\\gamma = 0` is ``survdiff``'s G-rho family (:math:`\\rho = 1`
the Peto–Peto–Prentice test). As in ``survdiff``, :math:`O` is weighted.

With delayed entry (``entry``), :math:`n_g` counts the subjects of group :math:`g` with
:math:`entry < t \\le time`. R's ``survdiff`` refuses such (counting-process) data; the
unweighted test is then the score test of ``coxph(Surv(entry, time, event) ~ factor(group),
ties = "exact")`` (the exact partial likelihood gives the hypergeometric variance), which
``tests/fixtures/r/survival_entry.R`` checks, with survdiff's formulas on the same risk sets
for the weighted tests.

Reference values: ``tests/fixtures/r/survival_logrank.R``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import NamedTuple

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult
from cohortpress.stats.distributions import chi2_sf
from cohortpress.stats.event_times import (
    at_risk_from_counts,
    check_codes,
    check_entry,
    check_counts,
    check_time_event,
    compact_codes,
    entered_later,
    fix_near_ties,
    tabulate_by_time,
)

__all__ = [
    "LogrankResult",
    "PairwiseComparison",
    "PairwiseLogrankResult",
    "StreamedLogrank",
    "logrank_test",
    "logrank_trend_test",
    "pairwise_logrank",
    "adjust_p_values",
    "P_ADJUST_METHODS",
]

P_ADJUST_METHODS = ("holm", "bonferroni", "BH", "none")


@dataclass(frozen=True, eq=False)
class LogrankResult:
    """A (weighted, possibly stratified) log-rank test and its ingredients.

    Attributes
    ----------
    test : TestResult
        Chi-square statistic, degrees of freedom and p-value.
    groups : ndarray of int
        The group codes present, ascending; the arrays below follow this order.
    n : ndarray of int
        Subjects per group.
    events : ndarray of int
        Events per group (unweighted counts).
    observed : ndarray of float
        :math:`O_g`, weighted as ``survdiff``'s ``obs``; summed over strata.
    expected : ndarray of float
        :math:`E_g`, summed over strata.
    variance : ndarray of float, shape (k, k)
        :math:`V`, summed over strata.
    rho, gamma : float
        The Fleming–Harrington weight exponents.
    """

    test: TestResult
    groups: np.ndarray
    n: np.ndarray
    events: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    rho: float
    gamma: float


@dataclass(frozen=True)
class PairwiseComparison:
    """One pair of groups in :func:`pairwise_logrank`.

    Attributes
    ----------
    group_a, group_b : int
        The group codes compared (``group_a < group_b``).
    statistic : float
        Chi-square statistic on 1 df; ``nan`` when the pair cannot be tested.
    p_value : float
        Unadjusted p-value; ``nan`` when the pair cannot be tested.
    p_adjusted : float
        Adjusted p-value.
    """

    group_a: int
    group_b: int
    statistic: float
    p_value: float
    p_adjusted: float


@dataclass(frozen=True)
class PairwiseLogrankResult:
    """All pairwise log-rank tests between groups.

    Attributes
    ----------
    method : str
        The test, as a footnote prints it.
    adjust : str
        The p-value adjustment (one of :data:`P_ADJUST_METHODS`).
    comparisons : tuple of PairwiseComparison
        In the order (0, 1), (0, 2), ..., (1, 2), ... of the group codes present.
    """

    method: str
    adjust: str
    comparisons: tuple[PairwiseComparison, ...]


def logrank_test(time, event, group, rho: float = 0.0, gamma: float = 0.0, strata=None, *,
                 timefix: bool = True, entry=None, counts=None) -> LogrankResult:
    """Compare survival between groups with the (weighted, stratified) log-rank test.

    Matches ``survdiff(Surv(time, event) ~ group, rho = rho)`` for ``gamma = 0``, and
    ``survdiff(Surv(time, event) ~ group + strata(s))`` with strata. The formulas are in
    the module docstring.

    Parameters
    ----------
    time : array_like of float
        Follow-up times, >= 0.
    event : array_like of {0, 1} or bool
        1 for an event, 0 for a censored time.
    group : array_like of int
        Group codes.
    rho, gamma : float
        Fleming–Harrington weight :math:`\\hat S(t^-)^{\\rho} (1 - \\hat S(t^-))^{\\gamma}`,
        both >= 0. ``(0, 0)``: log-rank; ``(1, 0)``: Peto–Peto–Prentice; ``(0, 1)``
        emphasises late differences.
    strata : array_like of int, optional
        Stratum codes: the test sums :math:`O`, :math:`E` and :math:`V` over strata, each
        computed within its stratum (with its own :math:`\\hat S`).
    timefix : bool
        Treat near-identical times as ties, as ``survdiff`` does by default.
    entry : array_like of float, optional
        Delayed entry: a subject is at risk on ``entry < t <= time``. Default: from 0.
    counts : array_like of int, optional
        Patients each row stands for (rows per distinct time, event, group and stratum,
        from aggregates); default one each. Not with ``entry``.

    Returns
    -------
    LogrankResult

    Raises
    ------
    StatisticsError
        For invalid input; when there are fewer than two groups, no events, or fewer than
        two groups with anyone at risk at an event time (``survdiff`` would report a
        chi-square of 0 on 0 df); or when the variance matrix is singular.
    """
    data = _checked_data(time, event, group, strata, timefix, entry, counts)
    _check_weight_exponents(rho, gamma)
    return _logrank_result(_score_components(data, rho, gamma), data.codes, rho, gamma,
                           data.n_strata)


def _logrank_result(parts: "_Components", codes, rho, gamma, n_strata) -> LogrankResult:
    """The test from its components summed over strata."""
    statistic, df = _chi_square(parts.observed - parts.expected, parts.variance,
                                parts.expected > 0)
    test = TestResult(method=_method_name(rho, gamma, n_strata),
                      p_value=float(chi2_sf(statistic, df)), statistic=statistic, df=float(df),
                      note=_weight_note(rho, gamma, n_strata))
    return LogrankResult(test=test, groups=codes, n=parts.n, events=parts.events,
                         observed=parts.observed, expected=parts.expected,
                         variance=parts.variance, rho=float(rho), gamma=float(gamma))


def logrank_trend_test(time, event, group, scores=None, rho: float = 0.0,
                       gamma: float = 0.0, strata=None, *, timefix: bool = True,
                       entry=None, counts=None) -> TestResult:
    """Log-rank score test for a trend across ordered groups.

    With scores :math:`s_g` and :math:`O, E, V` as in :func:`logrank_test` (summed over
    strata), the statistic is

    .. math::

        X^2_{trend} = \\frac{\\big(\\sum_g s_g (O_g - E_g)\\big)^2}{s' V s},

    chi-square on 1 degree of freedom. It tests a monotone trend in the hazard across the
    groups' order, and has more power than the k - 1 df test when there is one.

    Parameters
    ----------
    time, event, group, rho, gamma, strata, timefix, entry, counts
        As for :func:`logrank_test`.
    scores : array_like of float, optional
        One score per group code present, in ascending order of code. Default: 1..k.

    Returns
    -------
    TestResult
        ``statistic`` is :math:`X^2_{trend}`, ``df`` is 1.
    """
    data = _checked_data(time, event, group, strata, timefix, entry, counts)
    _check_weight_exponents(rho, gamma)
    return _trend_result(_score_components(data, rho, gamma), scores, rho, gamma,
                         data.n_strata)


def _trend_result(parts: "_Components", scores, rho, gamma, n_strata) -> TestResult:
    """The trend test from the components summed over strata."""
    weights = _trend_scores(scores, parts.observed.size)
    score = weights @ (parts.observed - parts.expected)
    variance = weights @ parts.variance @ weights
    if not variance > 0:
        raise StatisticsError("the trend test's variance is zero: no informative event times")
    statistic = float(score**2 / variance)
    return TestResult(method="Log-rank test for trend", p_value=float(chi2_sf(statistic, 1)),
                      statistic=statistic, df=1.0,
                      note=_trend_note(scores, rho, gamma, n_strata))


def pairwise_logrank(time, event, group, adjust: str = "holm", rho: float = 0.0,
                     gamma: float = 0.0, strata=None, *, timefix: bool = True,
                     entry=None, counts=None) -> PairwiseLogrankResult:
    """Log-rank tests between every pair of groups, with adjusted p-values.

    Each pair is tested on its own two groups' data (as ``survdiff`` on that subset);
    the p-values are then adjusted together as ``p.adjust(p, method = adjust)``.

    Parameters
    ----------
    time, event, group, rho, gamma, strata, timefix, entry, counts
        As for :func:`logrank_test`.
    adjust : {"holm", "bonferroni", "BH", "none"}
        The adjustment; see :func:`adjust_p_values`.

    Returns
    -------
    PairwiseLogrankResult
        A pair that cannot be tested (e.g. no events in either group) gets ``nan`` and is
        left out of the adjustment, as ``p.adjust`` does with ``NA``.
    """
    if adjust not in P_ADJUST_METHODS:
        raise StatisticsError(
            f"adjust must be one of {', '.join(P_ADJUST_METHODS)}; got {adjust!r}")
    time, event = check_time_event(time, event)
    counts = check_counts(counts, time.size, entry=entry)
    if entry is not None:
        entry = check_entry(entry, time, timefix=False)[0]
    group = check_codes(group, "group", len(time))
    codes, _ = compact_codes(group)
    if codes.size < 2:
        raise StatisticsError("pairwise comparisons need at least two groups")
    if strata is not None:
        strata = check_codes(strata, "strata", len(time))
    _check_weight_exponents(rho, gamma)
    pairs = list(combinations(codes.tolist(), 2))
    results = [_pair_test(time, event, group, strata, pair, rho, gamma, timefix, entry, counts)
               for pair in pairs]
    p_values = np.array([p for _, p in results])
    adjusted = adjust_p_values(p_values, adjust)
    comparisons = tuple(
        PairwiseComparison(group_a=a, group_b=b, statistic=statistic, p_value=float(p),
                           p_adjusted=float(p_adj))
        for (a, b), (statistic, p), p_adj in zip(pairs, results, adjusted))
    n_strata = 1 if strata is None else compact_codes(strata)[0].size
    return PairwiseLogrankResult(method=_method_name(rho, gamma, n_strata), adjust=adjust,
                                 comparisons=comparisons)


class StreamedLogrank:
    """:func:`logrank_test` and :func:`logrank_trend_test` from per-time tables that arrive
    in time order, a piece at a time, for tables too large to hold (about a row per
    patient with exact times in a registry).

    Each piece's :math:`O`, :math:`E` and :math:`V` are those of the whole table's rows it
    holds: the numbers at risk count the patients who leave after the piece (``totals``
    less those already seen), and the Fleming–Harrington weights continue the pooled
    Kaplan–Meier product. The sums over pieces differ from the whole table's only in
    rounding.

    Parameters
    ----------
    totals : array_like of int, shape (n_strata, k)
        Patients per stratum and group, groups in ascending order of code (``codes``).
    codes : array_like of int
        The group codes present.
    rho, gamma : float
        As for :func:`logrank_test`.
    """

    def __init__(self, totals, codes, rho: float = 0.0, gamma: float = 0.0):
        _check_weight_exponents(rho, gamma)
        self.remaining = np.array(totals, dtype=np.int64, ndmin=2)
        self.codes = np.asarray(codes)
        if self.codes.size < 2:
            raise StatisticsError("the log-rank test needs at least two groups; found one")
        self.rho, self.gamma = rho, gamma
        k = self.codes.size
        self.n = self.remaining.sum(axis=0)
        self.surv = np.ones(self.remaining.shape[0])
        self.observed, self.expected = np.zeros(k), np.zeros(k)
        self.variance, self.events = np.zeros((k, k)), np.zeros(k, dtype=np.int64)

    def add(self, stratum: int, table: np.ndarray) -> None:
        """The next piece of stratum ``stratum``: its (time x 2k) table of censorings and
        events per group (as :func:`~cohortpress.stats.event_times.tabulate_by_time` with
        labels ``2 * group + event``), later than every piece before."""
        exits = table[:, 0::2].sum(axis=0) + table[:, 1::2].sum(axis=0)
        self.remaining[stratum] -= exits
        if (self.remaining[stratum] < 0).any():
            raise StatisticsError("a piece of the log-rank table has more patients than "
                                  "its stratum's totals")
        observed, expected, variance, self.surv[stratum] = _stratum_components(
            table, self.rho, self.gamma, beyond=self.remaining[stratum],
            surv_start=self.surv[stratum])
        self.observed += observed
        self.expected += expected
        self.variance += variance
        self.events += table[:, 1::2].sum(axis=0)

    def _components(self) -> _Components:
        return _Components(observed=self.observed, expected=self.expected,
                           variance=self.variance, n=self.n, events=self.events)

    def result(self) -> LogrankResult:
        """The test, as :func:`logrank_test` gives it on the whole table."""
        return _logrank_result(self._components(), self.codes, self.rho, self.gamma,
                               self.remaining.shape[0])

    def trend(self, scores=None) -> TestResult:
        """The trend test, as :func:`logrank_trend_test` gives it on the whole table."""
        return _trend_result(self._components(), scores, self.rho, self.gamma,
                             self.remaining.shape[0])


def adjust_p_values(p_values, method: str = "holm") -> np.ndarray:
    """Adjust p-values for multiple comparisons, as R's ``p.adjust``.

    For the :math:`m` non-missing p-values sorted ascending, :math:`p_{(1)} \\le \\dots`:

    - ``"holm"``: :math:`\\tilde p_{(i)} = \\max_{j \\le i} \\min(1, (m - j + 1) p_{(j)})`;
    - ``"bonferroni"``: :math:`\\min(1, m p_i)`;
    - ``"BH"`` (Benjamini–Hochberg): :math:`\\tilde p_{(i)} = \\min_{j \\ge i}
      \\min(1, m p_{(j)} / j)`;
    - ``"none"``: unchanged.

    Computed by ``statsmodels.stats.multitest.multipletests`` (``"holm"``, ``"bonferroni"``,
    ``"fdr_bh"``), which does not accept missing values: those are set aside here. Holm and
    Bonferroni agree with ``p.adjust`` bit for bit; for BH statsmodels divides by
    :math:`j / m` where R multiplies by :math:`m / j`, which can change the last bit (at
    most about 3e-16 relative on random inputs). statsmodels' Holm branch runs a full
    garbage collection on every call, which costs up to about 0.2 s in a report process
    with WeasyPrint and matplotlib loaded: once per pairwise table, accepted for a
    maintained implementation.

    Parameters
    ----------
    p_values : array_like of float
        ``nan`` entries stay ``nan`` and do not count in :math:`m`.
    method : {"holm", "bonferroni", "BH", "none"}

    Returns
    -------
    ndarray of float
    """
    if method not in P_ADJUST_METHODS:
        raise StatisticsError(
            f"method must be one of {', '.join(P_ADJUST_METHODS)}; got {method!r}")
    p = np.asarray(p_values, dtype=float)
    adjusted = p.copy()
    present = ~np.isnan(p)
    adjusted[present] = _adjust_present(p[present], method)
    return adjusted


# ----------------------------------------------------------------------------------------
# Internals


class _GroupedData(NamedTuple):
    time: np.ndarray
    event: np.ndarray
    group_index: np.ndarray  # position of each subject's group in `codes`
    codes: np.ndarray  # group codes present, ascending
    stratum_index: np.ndarray
    n_strata: int
    timefix: bool  # still to be applied, per stratum table
    entry: np.ndarray | None  # delayed entry, near-ties already merged with the exits
    counts: np.ndarray | None  # patients per row (from aggregates); None: one each


class _Components(NamedTuple):
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    n: np.ndarray
    events: np.ndarray


def _checked_data(time, event, group, strata, timefix, entry=None, counts=None) -> _GroupedData:
    time, event = check_time_event(time, event)
    counts = check_counts(counts, time.size, entry=entry)
    if entry is not None:
        entry, time = check_entry(entry, time, timefix=timefix)
        timefix = False
    group = check_codes(group, "group", len(time))
    codes, group_index = compact_codes(group)
    if codes.size < 2:
        raise StatisticsError("the log-rank test needs at least two groups; found one")
    if strata is None:
        stratum_index, n_strata = np.zeros(len(time), dtype=np.intp), 1
    else:
        stratum_codes, stratum_index = compact_codes(check_codes(strata, "strata", len(time)))
        n_strata = stratum_codes.size
        if timefix:  # survdiff fixes ties on the pooled times, before splitting by stratum
            time, timefix = fix_near_ties(time), False
    return _GroupedData(time=time, event=event, group_index=group_index, codes=codes,
                        stratum_index=stratum_index, n_strata=n_strata, timefix=timefix,
                        entry=entry, counts=counts)


def _check_weight_exponents(rho, gamma) -> None:
    for name, value in (("rho", rho), ("gamma", gamma)):
        if not (isinstance(value, (int, float, np.number)) and np.isfinite(value)
                and value >= 0):
            raise StatisticsError(f"{name} must be a finite number >= 0; got {value!r}")


def _score_components(data: _GroupedData, rho: float, gamma: float) -> _Components:
    """O, E and V summed over strata, with group sizes and event counts."""
    k = data.codes.size
    observed, expected, variance = np.zeros(k), np.zeros(k), np.zeros((k, k))
    labels = data.group_index * 2 + data.event
    for stratum in range(data.n_strata):
        rows = data.stratum_index == stratum if data.n_strata > 1 else slice(None)
        times, counts = tabulate_by_time(
            data.time[rows], labels[rows], 2 * k, timefix=data.timefix,
            counts=None if data.counts is None else data.counts[rows])
        later = (None if data.entry is None else
                 entered_later(times, data.entry[rows], data.group_index[rows], k))
        stratum_observed, stratum_expected, stratum_variance, _ = _stratum_components(
            counts, rho, gamma, later)
        observed += stratum_observed
        expected += stratum_expected
        variance += stratum_variance
    counts_by_label = (np.bincount(labels, minlength=2 * k) if data.counts is None else np.rint(
        np.bincount(labels, weights=data.counts.astype(float), minlength=2 * k)).astype(
        np.int64)).reshape(k, 2)
    return _Components(observed=observed, expected=expected, variance=variance,
                       n=counts_by_label.sum(axis=1), events=counts_by_label[:, 1])


def _stratum_components(counts, rho, gamma, later=None, *, beyond=None, surv_start=1.0):
    """O, E, V of one stratum from its (time x 2k) table of censorings and events (and,
    with delayed entry, its (time x k) table of those not entered yet), and the pooled
    Kaplan–Meier estimate after its last time.

    For a table that is one time-ordered piece of the stratum's (:class:`StreamedLogrank`),
    ``beyond`` holds the patients per group who leave after the piece's last time, and
    ``surv_start`` the pooled estimate before its first time."""
    deaths = counts[:, 1::2].astype(float)
    at_risk = at_risk_from_counts(counts[:, 0::2] + counts[:, 1::2], later)
    if beyond is not None:
        at_risk = at_risk + beyond
    at_risk = at_risk.astype(float)
    event_rows = deaths.sum(axis=1) > 0
    deaths, at_risk = deaths[event_rows], at_risk[event_rows]
    total_deaths, total_at_risk = deaths.sum(axis=1), at_risk.sum(axis=1)
    weight, surv_end = _fleming_harrington_weight(total_deaths, total_at_risk, rho, gamma,
                                                  surv_start)
    share = at_risk / total_at_risk[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        hypergeometric = np.where(
            total_at_risk > 1,
            total_deaths * (total_at_risk - total_deaths) / (total_at_risk - 1), 0.0)
    scaled = (weight**2 * hypergeometric)[:, None] * share
    variance = np.diag(scaled.sum(axis=0)) - scaled.T @ share
    return weight @ deaths, (weight * total_deaths) @ share, variance, surv_end


def _fleming_harrington_weight(total_deaths, total_at_risk, rho, gamma, surv_start=1.0):
    """:math:`\\hat S(t^-)^{\\rho} (1 - \\hat S(t^-))^{\\gamma}` at each event time, and
    :math:`\\hat S` after the last (``surv_start``: :math:`\\hat S` before the first;
    the log-rank test's weights are 1 and leave it as it is)."""
    if rho == 0 and gamma == 0:
        return np.ones_like(total_deaths), surv_start
    # the start prepended: the same products, in the same order, as one whole table's
    surv = np.cumprod(np.concatenate(([surv_start],
                                      (total_at_risk - total_deaths) / total_at_risk)))
    surv_before = surv[:-1]
    return surv_before**rho * (1 - surv_before) ** gamma, float(surv[-1])


def _chi_square(difference, variance, informative) -> tuple[float, int]:
    """:math:`(O - E)' V^{-} (O - E)` on the informative groups, dropping the first."""
    kept = np.flatnonzero(informative)
    if kept.size < 2:
        raise StatisticsError(
            "no test: fewer than two groups have anyone at risk at an event time"
            if informative.any() else "no test: there are no events (with non-zero weight)")
    reduced = kept[1:]
    u = difference[reduced]
    try:
        statistic = float(u @ np.linalg.solve(variance[np.ix_(reduced, reduced)], u))
    except np.linalg.LinAlgError:
        raise StatisticsError("no test: the log-rank variance matrix is singular") from None
    return statistic, kept.size - 1


def _trend_scores(scores, k) -> np.ndarray:
    if scores is None:
        return np.arange(1.0, k + 1)
    values = np.asarray(scores, dtype=float)
    if values.shape != (k,) or not np.isfinite(values).all():
        raise StatisticsError(f"scores must be {k} finite numbers, one per group")
    return values


def _pair_test(time, event, group, strata, pair, rho, gamma, timefix,
               entry, counts=None) -> tuple[float, float]:
    rows = np.isin(group, pair)
    pair_strata = None if strata is None else strata[rows]
    try:
        result = logrank_test(time[rows], event[rows], group[rows], rho, gamma, pair_strata,
                              timefix=timefix, entry=None if entry is None else entry[rows],
                              counts=None if counts is None else counts[rows])
    except StatisticsError:
        return float("nan"), float("nan")
    return float(result.test.statistic), result.test.p_value


#: ``p.adjust`` method names -> statsmodels' ``multipletests`` names.
_MULTIPLETESTS_METHODS = {"holm": "holm", "bonferroni": "bonferroni", "BH": "fdr_bh"}


def _adjust_present(p, method) -> np.ndarray:
    if method == "none" or p.size == 0:
        return p
    # Imported here: statsmodels takes about a second to import, and only pairwise
    # comparisons need it.
    from statsmodels.stats.multitest import multipletests

    return multipletests(p, method=_MULTIPLETESTS_METHODS[method])[1]


def _method_name(rho, gamma, n_strata) -> str:
    base = ("log-rank test" if rho == 0 and gamma == 0
            else f"Fleming-Harrington G(rho={rho:g}, gamma={gamma:g}) weighted log-rank test")
    name = f"Stratified {base}" if n_strata > 1 else base
    return name[0].upper() + name[1:]


def _weight_note(rho, gamma, n_strata) -> str | None:
    parts = []
    if rho or gamma:
        parts.append("weights S(t-)^rho (1 - S(t-))^gamma, S the pooled Kaplan-Meier estimate")
    if n_strata > 1:
        parts.append(f"stratified over {n_strata} strata")
    return "; ".join(parts) or None


def _trend_note(scores, rho, gamma, n_strata) -> str:
    note = "scores 1..k in group order" if scores is None else "user-given group scores"
    extra = _weight_note(rho, gamma, n_strata)
    return f"{note}; {extra}" if extra else note
