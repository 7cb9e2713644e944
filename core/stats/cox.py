"""Cox proportional hazards regression, fitted to match R ``survival::coxph``.

The partial likelihood is maximised by Newton--Raphson with the rules of survival's
``coxfit6``: start at beta = 0, stop when the relative change in log partial likelihood is
at most ``1e-9``, at most 20 iterations, and step-halving whenever an iteration lowers the
log-likelihood. Near-equal times are merged as ``coxph(timefix = TRUE)`` does.

All risk-set sums are vectorised: rows are sorted once by stratum and decreasing time, so
every risk set is a prefix of its stratum and its sums are cumulative sums read at the last
row of each distinct time; Efron's tie correction is applied to all tied events at once;
the information matrix is one ``X' diag(c) X`` product. One iteration costs a few passes
over the data (about 0.1 s for a million rows and six covariates).

Notation used in the docstrings: ``x_i`` covariate row, ``eta_i = x_i' beta``,
``w_i = exp(eta_i)``; at a distinct event time ``t_k`` with ``d_k`` events, ``R_k`` is the
set of rows still at risk (time >= t_k, same stratum) and ``D_k`` the rows that fail there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import scipy.linalg

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult, check_finite_columns, design_matrix
from cohortpress.stats.distributions import chi2_sf, norm_ppf, norm_sf

__all__ = ["CoxFit", "fit_cox", "lr_test_terms"]

TIES_METHODS = ("efron", "breslow")

#: survival::coxph.control() defaults.
CONVERGENCE_EPS = 1e-9
MAX_ITERATIONS = 20
INFINITE_TOLERANCE = math.sqrt(CONVERGENCE_EPS)

#: A coefficient whose log hazard ratio per standard deviation of its covariate exceeds this
#: is treated as infinite (a hazard ratio of e^10 = 22,000 per typical difference).
MAX_SCALED_COEFFICIENT = 10.0
#: Relative norm of a centred column left after projecting out the columns before it,
#: below which the column counts as a linear combination of them.
COLLINEARITY_TOLERANCE = 1e-10
#: Linear predictors above this are shifted (per stratum) before exponentiating; the partial
#: likelihood does not change when all risk scores of a stratum are multiplied by a constant.
_OVERFLOW_GUARD = 300.0


@dataclass(frozen=True, eq=False)
class CoxFit:
    """A fitted Cox proportional hazards model.

    Attributes
    ----------
    names : tuple of str
        The covariate (design-matrix column) names.
    coef : numpy.ndarray
        Log hazard ratios ``beta``. For a term in ``separated``, the value where the iteration
        stopped (the true estimate is infinite).
    se : numpy.ndarray
        Standard errors, ``sqrt(diag(I(beta)^-1))`` with ``I`` the observed information.
    z, p : numpy.ndarray
        Wald statistics ``coef / se`` and two-sided p-values ``2 * Phi(-|z|)``; ``nan`` for
        separated terms.
    hr, conf_low, conf_high : numpy.ndarray
        Hazard ratios ``exp(coef)`` and their Wald limits ``exp(coef -/+ q * se)`` with
        ``q = Phi^-1((1 + conf_level) / 2)``; ``nan`` for separated terms.
    conf_level : float
        Confidence level of the limits.
    var : numpy.ndarray
        The covariance matrix ``I(beta)^-1``.
    loglik_null, loglik : float
        Log partial likelihood at ``beta = 0`` and at the estimate.
    lr_test, wald_test, score_test : TestResult
        Whole-model tests of ``beta = 0`` on ``p`` degrees of freedom:
        ``2 (loglik - loglik_null)``, ``beta' I(beta) beta`` and ``U(0)' I(0)^-1 U(0)``
        (the log-rank test when there is one binary covariate and ties are Breslow).
    n, n_events : int
        Rows and events used.
    ties : str
        ``"efron"`` or ``"breslow"``.
    iterations : int
        Newton--Raphson iterations, counted as R counts them (``fit$iter``).
    converged : bool
        Whether the iteration met the convergence rule with every coefficient finite.
    separated : tuple of str
        Covariates whose estimate is infinite (monotone likelihood).
    reason : str or None
        Why ``converged`` is false or ``separated`` is not empty.
    """

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p: np.ndarray
    hr: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    conf_level: float
    var: np.ndarray
    loglik_null: float
    loglik: float
    lr_test: TestResult
    wald_test: TestResult
    score_test: TestResult
    n: int
    n_events: int
    ties: str
    iterations: int
    converged: bool
    separated: tuple[str, ...] = ()
    reason: str | None = None


# ---------------------------------------------------------------------------------------
# Data preparation
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class CoxData:
    """Cox model inputs sorted by stratum and *decreasing* time, with the tie structure.

    Rows are grouped into *time groups*: maximal runs of rows with the same stratum and
    time, events first. Sorting times in decreasing order makes every risk set a prefix of
    its stratum, so risk-set sums are cumulative sums read at the last row of a group, and
    the sums over a group's events are differences of cumulative sums. Covariates are
    stored transposed (one contiguous row per covariate), which makes the passes over the
    data faster.

    Attributes
    ----------
    xt1 : numpy.ndarray, shape (1 + p, n)
        A row of ones, then the covariates minus their column means (as coxph centres
        them), in sorted row order.
    time : numpy.ndarray
        Sorted times, after merging near-equal values.
    event : numpy.ndarray
        Sorted event indicator (bool).
    order : numpy.ndarray
        The sorting permutation of the input rows.
    group_of_row : numpy.ndarray
        Time group of each row.
    group_first_row, group_last_row : numpy.ndarray
        First and last row of each time group; the prefix of the stratum up to the last row
        is the group's risk set.
    stratum_group_start : numpy.ndarray
        First time group of each stratum.
    stratum_row_start : numpy.ndarray
        First row of each stratum.
    event_rows : numpy.ndarray
        Rows that are events, in sorted order.
    event_groups : numpy.ndarray
        The time groups that contain at least one event (``K`` of them).
    deaths : numpy.ndarray
        Number of events ``d_k`` at each of the ``K`` event times.
    event_slot : numpy.ndarray
        For each event, its position ``0..K-1`` in ``event_groups``.
    tied_slots : numpy.ndarray
        The ``T`` event times with more than one event (positions in ``event_groups``).
    tied_run_rows : numpy.ndarray
        The rows of the events at those times, time by time.
    tied_run_slot : numpy.ndarray
        For each of them, its tied time (``0..T-1``).
    tied_run_fraction : numpy.ndarray
        For each of them, ``j / d_k`` with ``j = 0..d_k-1`` its rank among the ``d_k`` events
        of its time; Efron's correction removes that share of the tied risk.
    x_event_sum : numpy.ndarray
        Sum of the centred covariates over the events.
    spread : numpy.ndarray
        Standard deviation of each covariate (within strata, divisor ``n``).
    names : tuple of str
        Column names.
    scratch : numpy.ndarray, shape (1 + p, n)
        Work space reused by every iteration (so a CoxData must not be shared between
        threads).
    """

    xt1: np.ndarray
    time: np.ndarray
    event: np.ndarray
    order: np.ndarray
    group_of_row: np.ndarray
    group_first_row: np.ndarray
    group_last_row: np.ndarray
    stratum_group_start: np.ndarray
    stratum_row_start: np.ndarray
    event_rows: np.ndarray
    event_groups: np.ndarray
    deaths: np.ndarray
    event_slot: np.ndarray
    tied_slots: np.ndarray
    tied_run_rows: np.ndarray
    tied_run_slot: np.ndarray
    tied_run_fraction: np.ndarray
    x_event_sum: np.ndarray
    spread: np.ndarray
    names: tuple[str, ...]
    scratch: np.ndarray

    @property
    def xt(self) -> np.ndarray:
        """The centred covariates, shape (p, n)."""
        return self.xt1[1:]

    @property
    def n(self) -> int:
        return self.xt1.shape[1]

    @property
    def n_events(self) -> int:
        return self.event_rows.size

    @property
    def has_tied_events(self) -> bool:
        return self.tied_slots.size > 0


def prepare_cox_data(X, time, event, names: Sequence[str], strata=None) -> CoxData:
    """Validate Cox model inputs, sort them and precompute the risk-set structure.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Design matrix, already dummy-coded, no intercept.
    time : array_like, shape (n,)
        Follow-up times.
    event : array_like, shape (n,)
        1 for an event, 0 for censored.
    names : sequence of str
        One name per column of ``X``.
    strata : array_like, shape (n,), optional
        Stratum labels (any values); risk sets are formed within strata.

    Returns
    -------
    CoxData

    Raises
    ------
    StatisticsError
        On missing or non-finite values, an event indicator other than 0/1, no events, a
        covariate that is constant (within every stratum) or columns that are collinear.
    """
    x, time, event, names = _validated_arrays(X, time, event, names)
    if not event.any():
        raise StatisticsError("the Cox model needs at least one event; there are none")
    stratum_codes = _stratum_codes(strata, time.size)
    _check_constant_columns(x, stratum_codes, names)
    order, sorted_time = _sort_order(time, event, stratum_codes)
    sorted_strata = None if stratum_codes is None else stratum_codes[order]
    xt1 = np.empty((x.shape[1] + 1, x.shape[0]))
    xt1[0] = 1.0
    xt1[1:] = x.T[:, order]
    # Each covariate is centred on the mean of its own (contiguous) row, so a column gives
    # the same bits whichever other columns are in the model (see _kept_columns).
    xt1[1:] -= xt1[1:].mean(axis=1, keepdims=True)
    stratum_changes = (np.zeros(time.size - 1, dtype=bool) if sorted_strata is None
                       else sorted_strata[1:] != sorted_strata[:-1])
    stratum_row_start = _run_starts(stratum_changes)
    gram = _check_collinearity(xt1[1:], stratum_row_start, names)
    spread = np.sqrt(np.diag(gram) / time.size)
    return _build_layout(xt1, sorted_time, event[order], stratum_changes, stratum_row_start,
                         order, names, spread)


def _validated_arrays(X, time, event, names):
    x, names = design_matrix(X, names)
    n, p = x.shape
    if len(set(names)) != p:
        raise StatisticsError("design-matrix column names must be unique")
    if p == 0:
        raise StatisticsError("the Cox model needs at least one covariate")
    time = np.asarray(time, dtype=float).ravel()
    event = np.asarray(event, dtype=float).ravel()
    if time.size != n or event.size != n:
        raise StatisticsError(f"time ({time.size}), event ({event.size}) and the design "
                              f"matrix ({n} rows) must have the same length")
    for label, values in (("time", time), ("event", event)):
        if not np.isfinite(values).all():
            raise StatisticsError(f"{label} has missing or non-finite values")
    check_finite_columns(x, names)
    if not ((event == 0.0) | (event == 1.0)).all():
        raise StatisticsError("event must be coded 0 (censored) or 1 (event)")
    return x, time, event == 1.0, names


def _stratum_codes(strata, n: int) -> np.ndarray | None:
    if strata is None:
        return None
    labels = np.asarray(strata).ravel()
    if labels.size != n:
        raise StatisticsError(f"strata has {labels.size} values for {n} rows")
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise StatisticsError("strata has missing values")
    if labels.dtype.kind == "O" and any(label is None for label in labels):
        raise StatisticsError("strata has missing values")
    codes = np.unique(labels, return_inverse=True)[1].ravel()
    return codes if codes.max() > 0 else None


def _sort_order(time: np.ndarray, event: np.ndarray, stratum_codes: np.ndarray | None):
    """Sort by stratum, decreasing (merged) time, events before censored rows of a time.

    Returns the order and the merged times in that order. Merging near ties maps times
    monotonically, so it keeps the sort; putting events first is then a stable sort of an
    almost sorted key, which costs little.
    """
    if stratum_codes is None:
        order = np.argsort(-time)
    else:
        order = np.lexsort((-time, stratum_codes))
    sorted_time = _merge_near_ties(time[order], globally_sorted=stratum_codes is None)
    new_group = np.ones(time.size, dtype=bool)
    new_group[1:] = sorted_time[1:] != sorted_time[:-1]
    if stratum_codes is not None:
        sorted_strata = stratum_codes[order]
        new_group[1:] |= sorted_strata[1:] != sorted_strata[:-1]
    key = 2 * np.cumsum(new_group) + ~event[order]
    events_first = np.argsort(key, kind="stable")
    return order[events_first], sorted_time[events_first]


def _merge_near_ties(sorted_time: np.ndarray, globally_sorted: bool) -> np.ndarray:
    """Replace times closer than ``sqrt(machine eps)`` by the smallest of their run.

    The rule of ``survival::aeqSurv`` (coxph's ``timefix``): a gap ``dy <= tol`` or
    ``dy / mean(|y|) <= tol`` between consecutive distinct times ``y`` ties them.
    ``sorted_time`` is in decreasing order, within strata unless ``globally_sorted``.
    """
    if globally_sorted:
        changes = np.concatenate(([True], sorted_time[1:] != sorted_time[:-1]))
        distinct = sorted_time[changes][::-1]
    else:
        distinct = np.unique(sorted_time)
    if distinct.size < 2:
        return sorted_time
    tolerance = math.sqrt(np.finfo(float).eps)
    gaps = np.diff(distinct)
    tied = (gaps <= tolerance) | (gaps / np.abs(distinct).mean() <= tolerance)
    if not tied.any():
        return sorted_time
    cuts = distinct[np.concatenate(([True], ~tied))]
    return cuts[np.searchsorted(cuts, sorted_time, side="right") - 1]


def _check_constant_columns(x: np.ndarray, stratum_codes: np.ndarray | None,
                            names: tuple[str, ...]) -> None:
    """Raise if a column is constant (within every stratum: only variation within strata
    informs a stratified Cox model)."""
    if stratum_codes is None:
        constant = x.max(axis=0) == x.min(axis=0)
    else:
        constant = np.ones(x.shape[1], dtype=bool)
        for code in range(stratum_codes.max() + 1):
            rows = x[stratum_codes == code]
            constant &= rows.max(axis=0) == rows.min(axis=0)
    if constant.any():
        where = "within every stratum" if stratum_codes is not None else "in the data used"
        raise StatisticsError(
            "covariate(s) " + ", ".join(f"'{names[j]}'" for j in np.flatnonzero(constant))
            + f" constant {where}; the Cox model cannot estimate their effect")


def _check_collinearity(centred_xt: np.ndarray, stratum_row_start: np.ndarray,
                        names: tuple[str, ...]) -> np.ndarray:
    """Raise if covariates are collinear within strata; return their within-strata Gram matrix.

    ``centred_xt`` holds the sorted, globally centred covariates, one per row; each stratum
    is a contiguous block of columns.
    """
    if stratum_row_start.size == 1:
        gram = centred_xt @ centred_xt.T
    else:
        blocks = _within_strata_blocks(centred_xt, stratum_row_start)
        gram = sum(block @ block.T for block in blocks)
    if not gram_is_well_conditioned(gram):
        columns = (centred_xt if stratum_row_start.size == 1
                   else np.hstack(list(_within_strata_blocks(centred_xt, stratum_row_start))))
        raise_if_collinear(columns.T, names, gram)
    return gram


def _within_strata_blocks(xt: np.ndarray, stratum_row_start: np.ndarray):
    bounds = np.append(stratum_row_start, xt.shape[1])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        block = xt[:, lo:hi]
        yield block - block.mean(axis=1, keepdims=True)


def gram_is_well_conditioned(gram: np.ndarray) -> bool:
    """Whether every column keeps more than 1e-4 of its norm after projecting out the others.

    Read from the Cholesky factor of the Gram matrix scaled to unit diagonal, this
    settles the easy cases without touching the data again.
    """
    norms = np.sqrt(np.diag(gram))
    try:
        return bool(np.diag(np.linalg.cholesky(gram / np.outer(norms, norms))).min() > 1e-4)
    except np.linalg.LinAlgError:
        return False


def raise_if_collinear(columns: np.ndarray, names: Sequence[str],
                       gram: np.ndarray | None = None) -> None:
    """Raise StatisticsError naming each column that is a linear combination of earlier ones.

    With the columns scaled to unit norm, column ``j`` is dependent when the norm left after
    projecting out the columns before it (``|R_jj|`` of a QR decomposition) is below
    ``COLLINEARITY_TOLERANCE``. The QR is skipped when the Cholesky factor of the scaled Gram
    matrix already shows every such norm to be far above the tolerance.

    Parameters
    ----------
    columns : numpy.ndarray, shape (n, p)
        The design columns, none of them identically zero; centre them first when an
        intercept or strata absorb the means.
    names : sequence of str
        Column names, used in the message.
    gram : numpy.ndarray, optional
        ``columns' columns``, if already computed.
    """
    gram = columns.T @ columns if gram is None else gram
    if gram_is_well_conditioned(gram):
        return
    scaled = columns / np.sqrt(np.diag(gram))
    residual_norms = np.abs(np.diag(np.linalg.qr(scaled, mode="r")))
    dependent = np.flatnonzero(residual_norms < COLLINEARITY_TOLERANCE)
    if dependent.size == 0:
        return
    independent = np.setdiff1d(np.arange(scaled.shape[1]), dependent)
    clauses = []
    for j in dependent:
        earlier = independent[independent < j]
        weights = np.linalg.lstsq(scaled[:, earlier], scaled[:, j], rcond=None)[0]
        partners = [names[k] for k, c in zip(earlier, weights) if abs(c) > 1e-8]
        clauses.append(f"'{names[j]}' is a linear combination of "
                       + ", ".join(f"'{name}'" for name in partners))
    raise StatisticsError("collinear covariates: " + "; ".join(clauses)
                          + "; drop or merge them")


def _run_starts(changes: np.ndarray) -> np.ndarray:
    """Positions where a new run starts, given ``changes[i]`` = "i differs from i-1"."""
    return np.flatnonzero(np.concatenate(([True], changes)))


def _build_layout(xt1, time, event, stratum_changes, stratum_row_start, order, names,
                  spread) -> CoxData:
    n = time.size
    group_starts = _run_starts((time[1:] != time[:-1]) | stratum_changes)
    group_sizes = np.diff(np.append(group_starts, n))
    group_of_row = np.repeat(np.arange(group_starts.size), group_sizes)

    event_rows = np.flatnonzero(event)
    group_of_event = group_of_row[event_rows]
    run_start = _run_starts(group_of_event[1:] != group_of_event[:-1])
    deaths = np.diff(np.append(run_start, event_rows.size))
    event_slot = np.repeat(np.arange(run_start.size), deaths)
    tied_slots = np.flatnonzero(deaths > 1)
    tied_deaths = deaths[tied_slots]
    in_tied_run = np.repeat(deaths > 1, deaths)
    tied_run_slot = np.repeat(np.arange(tied_slots.size), tied_deaths)
    rank_in_run = np.arange(tied_run_slot.size) - np.repeat(
        np.cumsum(tied_deaths) - tied_deaths, tied_deaths)
    return CoxData(
        xt1=xt1, time=time, event=event, order=order, group_of_row=group_of_row,
        group_first_row=group_starts, group_last_row=group_starts + group_sizes - 1,
        stratum_group_start=group_of_row[stratum_row_start],
        stratum_row_start=stratum_row_start,
        event_rows=event_rows, event_groups=group_of_event[run_start], deaths=deaths,
        event_slot=event_slot, tied_slots=tied_slots,
        tied_run_rows=event_rows[in_tied_run], tied_run_slot=tied_run_slot,
        tied_run_fraction=rank_in_run / tied_deaths[tied_run_slot],
        x_event_sum=xt1[1:, event_rows].sum(axis=1), spread=spread,
        names=names, scratch=np.empty_like(xt1))


# ---------------------------------------------------------------------------------------
# Partial likelihood, score and information
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class RiskSetTerms:
    """The partial-likelihood pieces at one ``beta``, per event time.

    Event ``e`` at time ``t_k`` with tie fraction ``f_e`` (0 for Breslow) has denominator
    ``den_e = S0_k - f_e D0_k`` and risk-set mean ``mean_e = (S1_k - f_e D1_k) / den_e``,
    where ``(S0_k, S1_k)`` are the sums of ``(w, w x)`` over the risk set and ``(D0_k, D1_k)``
    over the events at ``t_k``. The score and information need only the sums, over the
    events of one time, of ``f^a / den^b``; without ties (or for Breslow) these are
    ``d_k / S0_k`` and ``d_k / S0_k^2``, and Efron's versions are kept for tied times only.

    Attributes
    ----------
    loglik : float
        ``sum_e eta_e - sum_e log(den_e)``.
    w : numpy.ndarray
        Risk scores ``exp(eta)`` of the sorted rows (rescaled per stratum if very large).
    at_risk : numpy.ndarray, shape (1 + p, K)
        ``(S0_k, S1_k)``.
    inv_den, inv_den_sq : numpy.ndarray, shape (K,)
        ``sum_e 1/den_e`` and ``sum_e 1/den_e^2``.
    dying : numpy.ndarray or None, shape (1 + p, T)
        ``(D0_k, D1_k)`` at the ``T`` tied event times (``CoxData.tied_slots``); None
        without Efron's correction.
    frac_inv_den, frac_inv_den_sq, frac_sq_inv_den_sq : numpy.ndarray or None, shape (T,)
        ``sum_e f_e/den_e``, ``sum_e f_e/den_e^2`` and ``sum_e f_e^2/den_e^2`` at the tied
        event times.
    """

    loglik: float
    w: np.ndarray
    at_risk: np.ndarray
    inv_den: np.ndarray
    inv_den_sq: np.ndarray
    dying: np.ndarray | None = None
    frac_inv_den: np.ndarray | None = None
    frac_inv_den_sq: np.ndarray | None = None
    frac_sq_inv_den_sq: np.ndarray | None = None


def risk_set_terms(data: CoxData, beta: np.ndarray, efron: bool) -> RiskSetTerms:
    """Compute the log partial likelihood and the risk-set sums at ``beta``.

    The Efron log partial likelihood is
    ``sum_k [ sum_{i in D_k} eta_i - sum_{j=0}^{d_k-1} log( S0_k - (j/d_k) D0_k ) ]``;
    Breslow drops the ``j/d_k`` term.
    """
    eta = _guard_overflow(beta @ data.xt, data.stratum_row_start)
    w = np.exp(eta)
    cumulative = np.multiply(data.xt1, w, out=data.scratch)
    _cumsum_within(cumulative, data.stratum_row_start, out=cumulative)
    at_risk = cumulative[:, data.group_last_row[data.event_groups]]
    s0 = at_risk[0]
    log_den_sums = data.deaths * np.log(s0)
    terms = dict(w=w, at_risk=at_risk, inv_den=data.deaths / s0,
                 inv_den_sq=data.deaths / s0 ** 2)
    if efron and data.has_tied_events:
        terms.update(_efron_tie_sums(data, cumulative, s0, log_den_sums, terms))
    loglik = float(eta[data.event_rows].sum() - log_den_sums.sum())
    return RiskSetTerms(loglik=loglik, **terms)


def _efron_tie_sums(data: CoxData, cumulative: np.ndarray, s0: np.ndarray,
                    log_den_sums: np.ndarray, terms: dict) -> dict:
    """Efron's per-time sums at the tied event times (updating the Breslow ones in place).

    A time group's events are its first ``d_k`` rows, so ``D_k`` is the cumulative sum at
    the last of them minus the cumulative sum just before the group (zero at a stratum's
    start). The difference loses nothing that matters: its error is of the order of the
    rounding in the risk-set sum it is subtracted from.
    """
    slots = data.tied_slots
    first = data.group_first_row[data.event_groups[slots]]
    dying = cumulative[:, first + data.deaths[slots] - 1]
    continuing = ~np.isin(first, data.stratum_row_start)
    dying[:, continuing] -= cumulative[:, first[continuing] - 1]
    run_slot = data.tied_run_slot
    fraction = data.tied_run_fraction
    inv_den = 1.0 / (s0[slots][run_slot] - fraction * dying[0, run_slot])
    frac_inv_den = fraction * inv_den
    per_time = lambda values: np.bincount(run_slot, values, minlength=slots.size)  # noqa: E731
    log_den_sums[slots] = -per_time(np.log(inv_den))
    terms["inv_den"][slots] = per_time(inv_den)
    terms["inv_den_sq"][slots] = per_time(inv_den ** 2)
    return dict(dying=dying, frac_inv_den=per_time(frac_inv_den),
                frac_inv_den_sq=per_time(frac_inv_den * inv_den),
                frac_sq_inv_den_sq=per_time(frac_inv_den ** 2))


def _guard_overflow(eta: np.ndarray, stratum_row_start: np.ndarray) -> np.ndarray:
    if eta.max() <= _OVERFLOW_GUARD:
        return eta
    counts = np.diff(np.append(stratum_row_start, eta.size))
    return eta - np.repeat(np.maximum.reduceat(eta, stratum_row_start), counts)


def _cumsum_within(values: np.ndarray, segment_starts: np.ndarray,
                   out: np.ndarray | None = None) -> np.ndarray:
    """Cumulative sums along the last axis, restarting at each segment start.

    With times decreasing, this accumulates the smallest risk sets first, as coxph does.
    """
    if out is None:
        out = np.empty_like(values)
    bounds = np.append(segment_starts, values.shape[-1])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        np.cumsum(values[..., lo:hi], axis=-1, out=out[..., lo:hi])
    return out


def _reverse_cumsum_within(values: np.ndarray, segment_starts: np.ndarray) -> np.ndarray:
    """Sums from each position to the end of its segment (1-D)."""
    result = np.empty_like(values)
    bounds = np.append(segment_starts, values.size)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        result[lo:hi] = np.cumsum(values[lo:hi][::-1])[::-1]
    return result


def event_mean_total(data: CoxData, terms: RiskSetTerms,
                     time_weight: np.ndarray | None = None) -> np.ndarray:
    """``sum_e q_e mean_e = sum_k q_k (S1_k sum_e 1/den_e - D1_k sum_e f_e/den_e)``."""
    q = 1.0 if time_weight is None else time_weight
    total = terms.at_risk[1:] @ (q * terms.inv_den)
    if terms.dying is not None:
        q_tied = 1.0 if time_weight is None else time_weight[data.tied_slots]
        total -= terms.dying[1:] @ (q_tied * terms.frac_inv_den)
    return total


def score_vector(data: CoxData, terms: RiskSetTerms) -> np.ndarray:
    """The score ``U(beta) = sum_e (x_e - mean_e)``."""
    return data.x_event_sum - event_mean_total(data, terms)


def weighted_information(data: CoxData, terms: RiskSetTerms,
                         time_weight: np.ndarray | None = None) -> np.ndarray:
    """The observed information, optionally with a weight per event time.

    ``I = sum_e q_e [ (S2_k - f_e D2_k) / den_e - mean_e mean_e' ]`` with ``S2_k``, ``D2_k``
    the sums of ``w x x'`` over the risk set and the events of ``t_k``, and ``q_e`` the weight
    of the event's time (1 for the ordinary information; ``g(t)`` and ``g(t)^2`` give the
    blocks ``cox.zph`` needs).

    The second-moment part is never formed per event time: it equals ``X' diag(c) X`` with
    ``c_i = w_i (sum over event times k <= t_i in the stratum of q_k sum_e 1/den_e, minus
    q_k sum_e f_e/den_e at its own time if row i is an event)``, one matrix product in all.
    The mean part expands ``mean_e mean_e'`` into ``S1 S1'``, ``S1 D1'`` and ``D1 D1'`` with
    per-time weights.

    Parameters
    ----------
    data : CoxData
    terms : RiskSetTerms
    time_weight : numpy.ndarray, optional
        One weight per event time (length ``K``).

    Returns
    -------
    numpy.ndarray, shape (p, p)
    """
    q = np.ones(data.event_groups.size) if time_weight is None else time_weight
    per_group = np.zeros(data.group_last_row.size)
    per_group[data.event_groups] = q * terms.inv_den
    # Row i is in the risk set of every event time of its stratum at or before t_i: with
    # times decreasing, its own time group and all later groups of the stratum.
    row_weight = _reverse_cumsum_within(per_group, data.stratum_group_start)[data.group_of_row]
    s1 = terms.at_risk[1:]
    mean_part = (s1 * (q * terms.inv_den_sq)) @ s1.T
    if terms.dying is not None:
        q_tied = q[data.tied_slots]
        row_weight[data.tied_run_rows] -= (q_tied * terms.frac_inv_den)[data.tied_run_slot]
        d1 = terms.dying[1:]
        cross = (s1[:, data.tied_slots] * (q_tied * terms.frac_inv_den_sq)) @ d1.T
        mean_part += (d1 * (q_tied * terms.frac_sq_inv_den_sq)) @ d1.T - cross - cross.T
    row_weight *= terms.w
    weighted_x = np.multiply(data.xt, row_weight, out=data.scratch[1:])
    return weighted_x @ data.xt.T - mean_part


# ---------------------------------------------------------------------------------------
# Newton--Raphson
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _NewtonResult:
    beta: np.ndarray
    terms: RiskSetTerms
    score: np.ndarray
    information: np.ndarray
    loglik_null: float
    score_statistic: float
    iterations: int
    converged: bool


def _evaluate(data: CoxData, beta: np.ndarray, efron: bool):
    terms = risk_set_terms(data, beta, efron)
    return terms, score_vector(data, terms), weighted_information(data, terms)


def solve_information(information: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``information @ x = rhs`` by Cholesky, falling back to least squares."""
    try:
        factor = scipy.linalg.cho_factor(information)
        return scipy.linalg.cho_solve(factor, rhs)
    except (np.linalg.LinAlgError, ValueError):
        return np.linalg.lstsq(information, rhs, rcond=None)[0]


def _newton_raphson(data: CoxData, efron: bool, max_iter: int, eps: float) -> _NewtonResult:
    """Maximise the partial likelihood with coxfit6's iteration and step-halving rules."""
    beta = np.zeros(data.xt.shape[0])
    terms, score, information = _evaluate(data, beta, efron)
    loglik_null = terms.loglik
    step = solve_information(information, score)
    score_statistic = float(score @ step)
    best = (beta, terms, score, information)
    best_loglik = loglik_null
    candidate = beta + step
    halving = 0
    for iteration in range(1, max_iter + 1):
        terms, score, information = _evaluate(data, candidate, efron)
        finite = (math.isfinite(terms.loglik) and np.isfinite(score).all()
                  and np.isfinite(information).all())
        # coxfit6's |1 - old/new| <= eps, written so that a log-likelihood of 0 is allowed.
        if finite and abs(terms.loglik - best_loglik) <= eps * abs(terms.loglik):
            return _NewtonResult(candidate, terms, score, information, loglik_null,
                                 score_statistic, iteration, True)
        if not finite or terms.loglik < best_loglik:
            halving += 1
            candidate = (candidate + halving * best[0]) / (halving + 1.0)
        else:
            halving = 0
            best_loglik = terms.loglik
            best = (candidate, terms, score, information)
            candidate = candidate + solve_information(information, score)
    beta, terms, score, information = best
    return _NewtonResult(beta, terms, score, information, loglik_null, score_statistic,
                         max_iter, False)


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------

def fit_cox(X, time, event, names: Sequence[str], ties: str = "efron", strata=None, *,
            conf_level: float = 0.95, max_iter: int = MAX_ITERATIONS,
            eps: float = CONVERGENCE_EPS, prepared: CoxData | None = None) -> CoxFit:
    """Fit a Cox proportional hazards model by Newton--Raphson on the partial likelihood.

    Maximises ``l(beta) = sum_k [ sum_{i in D_k} x_i' beta - sum_{j=0}^{d_k-1}
    log( sum_{i in R_k} w_i - (j/d_k) sum_{i in D_k} w_i ) ]`` (Efron; Breslow without the
    ``j/d_k`` term), with ``w_i = exp(x_i' beta)`` and risk sets formed within strata.
    Matches ``survival::coxph(Surv(time, event) ~ X + strata(strata), ties = ties)``.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Design matrix, dummy-coded by the caller, without an intercept.
    time : array_like, shape (n,)
        Follow-up times.
    event : array_like, shape (n,)
        1 = event, 0 = censored.
    names : sequence of str
        Column names of ``X``.
    ties : {"efron", "breslow"}
        Handling of tied event times.
    strata : array_like, shape (n,), optional
        Stratum labels; each stratum has its own baseline hazard.
    conf_level : float
        Confidence level of the hazard-ratio limits.
    max_iter : int
        Maximum Newton--Raphson iterations (coxph's ``iter.max``).
    eps : float
        Convergence tolerance on the relative change in log partial likelihood.
    prepared : CoxData, optional
        ``prepare_cox_data(X, time, event, names, strata)``, when the caller has it already
        (to reuse it for :func:`lr_test_terms` and ``cox_zph``); ``X``, ``time``, ``event``,
        ``names`` and ``strata`` are then not read again.

    Returns
    -------
    CoxFit
        Separated (monotone-likelihood) terms are listed in ``separated`` with ``nan``
        hazard ratio, limits and p-value, and ``converged`` is false.

    Raises
    ------
    StatisticsError
        If there is no event, values are missing, a covariate is constant (within every
        stratum) or covariates are collinear.
    """
    ties = _checked_ties(ties)
    _check_conf_level(conf_level)
    data = prepared if prepared is not None else prepare_cox_data(X, time, event, names, strata)
    return _fit_prepared(data, ties, conf_level, max_iter, eps)


def lr_test_terms(X, time, event, names: Sequence[str], drop: Sequence[str],
                  ties: str = "efron", strata=None, *, full_fit: CoxFit | None = None,
                  prepared: CoxData | None = None) -> TestResult:
    """Likelihood-ratio test for dropping a group of columns (e.g. all dummies of a factor).

    ``LR = 2 (l_full - l_reduced)`` on ``len(drop)`` degrees of freedom, where the reduced
    model is refitted without the columns in ``drop`` (the null model when nothing is
    left). Matches ``anova(reduced, full)`` and ``drop1(full, test = "Chisq")`` in R.

    Parameters
    ----------
    X, time, event, names, ties, strata
        As for :func:`fit_cox`, describing the full model.
    drop : sequence of str
        Names of the columns to remove.
    full_fit : CoxFit, optional
        The already fitted full model, to save refitting it.
    prepared : CoxData, optional
        The full model's ``prepare_cox_data``: the reduced model keeps its sort order and
        tie structure (they depend on the rows only) and takes a subset of its centred
        covariates, which gives the same numbers as preparing the reduced model anew.

    Returns
    -------
    TestResult
    """
    names = tuple(str(name) for name in names)
    drop = tuple(str(name) for name in drop)
    unknown = [name for name in drop if name not in names]
    if unknown or not drop:
        raise StatisticsError("columns to drop must be a non-empty subset of the model's "
                              f"columns; unknown: {', '.join(unknown) or '(none given)'}")
    full = full_fit or fit_cox(X, time, event, names, ties, strata, prepared=prepared)
    keep = [j for j, name in enumerate(names) if name not in drop]
    if keep:
        kept_names = [names[j] for j in keep]
        if prepared is not None:
            reduced = fit_cox(None, None, None, kept_names, ties,
                              prepared=_kept_columns(prepared, keep))
        else:
            x = np.asarray(X, dtype=float).reshape(len(time), -1)
            reduced = fit_cox(x[:, keep], time, event, kept_names, ties, strata)
        reduced_loglik = reduced.loglik
        unreliable = bool(reduced.separated) or not reduced.converged
    else:
        reduced_loglik = full.loglik_null
        unreliable = False
    statistic = max(2.0 * (full.loglik - reduced_loglik), 0.0)
    df = len(drop)
    note = None
    if unreliable or full.separated or not full.converged:
        note = "a model did not converge or has an infinite coefficient; the test is approximate"
    return TestResult("Likelihood-ratio test", float(chi2_sf(statistic, df)),
                      statistic, float(df), note)


def _kept_columns(data: CoxData, keep: Sequence[int]) -> CoxData:
    """``data`` with covariates ``keep`` only (a sub-model on the same rows)."""
    xt1 = data.xt1[[0, *(1 + j for j in keep)]]
    names = tuple(data.names[j] for j in keep)
    gram = _check_collinearity(xt1[1:], data.stratum_row_start, names)
    return replace(data, xt1=xt1, names=names, x_event_sum=xt1[1:, data.event_rows].sum(axis=1),
                   spread=np.sqrt(np.diag(gram) / data.n), scratch=np.empty_like(xt1))


def _checked_ties(ties: str) -> str:
    ties = str(ties).lower()
    if ties not in TIES_METHODS:
        raise StatisticsError(f"ties must be one of {', '.join(TIES_METHODS)}, not '{ties}'")
    return ties


def _check_conf_level(conf_level: float) -> None:
    if not 0.0 < conf_level < 1.0:
        raise StatisticsError(f"conf_level must be between 0 and 1, not {conf_level}")


def _fit_prepared(data: CoxData, ties: str, conf_level: float, max_iter: int,
                  eps: float) -> CoxFit:
    result = _newton_raphson(data, ties == "efron", max_iter, eps)
    var = solve_information(result.information, np.eye(result.beta.size))
    infinite, reason = _infinite_coefficients(data, result, var)
    if not infinite.any():
        _check_information(data, result.information, result.iterations)
    se = np.sqrt(np.diag(var))
    z, p_values, hr, conf_low, conf_high = _wald_table(result.beta, se, infinite, conf_level)
    return CoxFit(
        names=data.names, coef=result.beta, se=se, z=z, p=p_values, hr=hr,
        conf_low=conf_low, conf_high=conf_high, conf_level=conf_level, var=var,
        loglik_null=result.loglik_null, loglik=result.terms.loglik,
        **_model_tests(result, infinite),
        n=data.n, n_events=data.n_events, ties=ties, iterations=result.iterations,
        converged=result.converged and not infinite.any(),
        separated=tuple(data.names[j] for j in np.flatnonzero(infinite)), reason=reason)


def _check_information(data: CoxData, information: np.ndarray, iterations: int) -> None:
    """Raise if the information matrix at the estimate is singular.

    That happens when covariates carry no information within the risk sets of the events
    (say, every event is alone in its risk set), which the rank check of the whole design
    cannot see; coxph then reports NA coefficients.
    """
    try:
        scipy.linalg.cho_factor(information)
        return
    except (np.linalg.LinAlgError, ValueError):
        pass
    scale = data.n_events * data.spread ** 2
    empty = np.diag(information) <= 1e-10 * scale
    detail = (" no information on " + ", ".join(f"'{data.names[j]}'" for j in np.flatnonzero(empty))
              if empty.any() else " covariates are collinear within the risk sets")
    raise StatisticsError("the Cox model cannot be estimated: the information matrix is "
                          f"singular after {iterations} iteration(s);{detail} (no variation "
                          "among the subjects at risk at the event times)")


def _wald_table(beta, se, infinite, conf_level):
    """z, p, exp(beta) and its Wald limits; ``nan`` where the coefficient is infinite."""
    quantile = norm_ppf(0.5 + conf_level / 2.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = np.where(infinite, np.nan, beta / se)
        ratio = np.where(infinite, np.nan, np.exp(beta))
        low = np.where(infinite, np.nan, np.exp(beta - quantile * se))
        high = np.where(infinite, np.nan, np.exp(beta + quantile * se))
    return z, 2.0 * norm_sf(np.abs(z)), ratio, low, high


def _model_tests(result: _NewtonResult, infinite: np.ndarray) -> dict[str, TestResult]:
    """Likelihood-ratio, Wald and score tests of ``beta = 0``, as coxph reports them."""
    df = float(result.beta.size)
    lr = 2.0 * (result.terms.loglik - result.loglik_null)
    wald = float(result.beta @ result.information @ result.beta)
    if infinite.any():
        wald_test = TestResult("Wald test", math.nan, wald, df,
                               "not valid: a coefficient is infinite")
        lr_note = "log-likelihood at the last iterate; its supremum is not attained"
    else:
        wald_test = TestResult("Wald test", float(chi2_sf(wald, df)), wald, df)
        lr_note = None
    return dict(
        lr_test=TestResult("Likelihood-ratio test", float(chi2_sf(lr, df)), lr, df,
                           lr_note),
        wald_test=wald_test,
        score_test=TestResult("Score (log-rank) test",
                              float(chi2_sf(result.score_statistic, df)),
                              result.score_statistic, df))


def _infinite_coefficients(data: CoxData, result: _NewtonResult, var: np.ndarray):
    """Flag coefficients that diverge (monotone likelihood) and say why.

    Three symptoms, any of which flags a coefficient ``j``:

    * coxph's rule: after convergence the one-step Newton increment ``|U' V|_j`` is still
      larger than ``max(eps, sqrt(eps) |beta_j|)`` -- the likelihood flattened out before the
      coefficient did;
    * ``|beta_j|`` times the standard deviation of its covariate (within strata) exceeds
      ``MAX_SCALED_COEFFICIENT``;
    * the iteration ran out with a linear predictor above 500 (coxph's warning), which
      flags the coefficients that are still moving.
    """
    beta = result.beta
    increment = np.abs(result.score @ var)
    flagged = ~np.isfinite(increment) | (np.abs(beta) * data.spread > MAX_SCALED_COEFFICIENT)
    if result.converged:
        flagged |= (increment > CONVERGENCE_EPS) & (increment > INFINITE_TOLERANCE * np.abs(beta))
    elif np.abs(beta @ data.xt).max() > 500:
        flagged |= increment > INFINITE_TOLERANCE * np.abs(beta)
    names = [data.names[j] for j in np.flatnonzero(flagged)]
    if names:
        values = ", ".join(f"'{data.names[j]}' = {beta[j]:.3g}" for j in np.flatnonzero(flagged))
        return flagged, ("monotone likelihood: the estimate of " + values
                         + " (where the iteration stopped) is infinite, typically because "
                         "a category has no events or only events; its hazard ratio "
                         "cannot be estimated -- merge sparse categories or use a "
                         "penalised model")
    if not result.converged:
        return flagged, (f"no convergence in {result.iterations} iterations; the results "
                         "are those of the last improving step")
    return flagged, None
