"""Cox regression from per-time sums: the fit when the rows stay in an SQL engine.

The Cox partial likelihood, its score and its information depend on the rows only through
sums per distinct time (within strata): over the rows of a time, ``sum w``, ``sum w x``
and ``sum w x x'`` with ``w = exp(x' beta)``, and the same sums over the events of that
time. Risk sets are then reverse cumulative sums over time, so one aggregate query over
the rows per Newton step gives exactly the numbers the in-memory fit
(:mod:`.likelihood`) gets from the rows, up to rounding. Several models (the multivariable
one, each univariable one, the likelihood-ratio refits) share each query.

This module holds no SQL: the caller supplies ``scan(requests) -> [TimeSums]`` (one
aggregate query evaluating every request), and the moments of each model's columns
(:func:`model_moments`). The iteration follows coxfit6 exactly as :mod:`.fit` does (start
at 0, relative change in log-likelihood at most 1e-9, at most 20 iterations, step-halving),
covariates are centred at their means, near-equal times are merged as ``timefix`` does,
and the model is reported as a :class:`~cohortpress.stats.coxph.fit.CoxFit`; ``cox.zph``
comes from the sums at the final ``beta`` (:mod:`.aggregate_tests`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult, check_conf_level
from cohortpress.stats.coxph.fit import (CONVERGENCE_EPS, MAX_ITERATIONS, CoxFit,
                                         check_information, infinite_coefficients)
from cohortpress.stats.distributions import chi2_sf
from cohortpress.stats.event_times import fix_near_ties
from cohortpress.stats.linalg import (COLLINEARITY_TOLERANCE, gram_is_well_conditioned,
                                      solve_symmetric)
from cohortpress.stats.wald import wald_table

__all__ = ["AggregateModel", "ScanRequest", "TimeSums", "AggregateFit", "pair_indices",
           "model_moments", "fit_cox_aggregated", "merged_groups"]

#: Linear predictors whose bound exceeds this are shifted per stratum before exponentiating
#: (the partial likelihood does not change), as :mod:`.likelihood` does.
OVERFLOW_GUARD = 300.0
#: The gram matrix alone resolves a column's residual norm to about 1e-8, not the 1e-10 of
#: the in-memory QR check: below this relative norm a column counts as collinear here.
GRAM_COLLINEARITY_TOLERANCE = 1e-6
#: Efron's tied events are expanded in chunks of at most this many (bounded memory).
EFRON_CHUNK = 1_000_000
#: Terms of Efron's expansion kept between Newton steps, over all models of one fit (16
#: bytes each: 512 MB). Models with the same deaths per time share one expansion; beyond
#: this many terms a model's is recomputed at each step (a registry of 10^8 patients has
#: tens of millions of tied deaths per model).
EFRON_KEPT_TERMS = 32_000_000


def pair_indices(p: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(i, j)``, ``i <= j``, of a packed symmetric ``p x p`` matrix, in the order of
    the packed columns of :class:`TimeSums` (row by row)."""
    return np.triu_indices(p)


def unpack(packed: np.ndarray, p: int) -> np.ndarray:
    """The symmetric ``p x p`` matrix of a packed one (:func:`pair_indices`)."""
    i, j = pair_indices(p)
    full = np.zeros((p, p))
    full[i, j] = packed
    full[j, i] = packed
    return full


@dataclass(frozen=True, eq=False)
class AggregateModel:
    """One Cox model the engine evaluates: its columns, centring and rows' moments.

    Attributes
    ----------
    key : Any
        The caller's name for the model (which columns and rows the scan uses).
    names : tuple of str
        Design-column names.
    means : numpy.ndarray, shape (p,)
        The centring (each column's mean over the model's rows, as coxph centres).
    spread : numpy.ndarray, shape (p,)
        Standard deviation of each column within strata (divisor n).
    x_event_sum : numpy.ndarray, shape (p,)
        Sum over the events of the centred columns.
    low, high : numpy.ndarray, shape (S, p)
        Per stratum, the least and greatest centred value of each column (bound the linear
        predictor for the overflow guard).
    strata : numpy.ndarray, shape (S,)
        The stratum codes of ``low`` and ``high``'s rows.
    n, n_events : int
    start : numpy.ndarray or None
        A warm start (the full model's estimate for a refit); None starts at 0 as coxph.
    """

    key: Any
    names: tuple[str, ...]
    means: np.ndarray
    spread: np.ndarray
    x_event_sum: np.ndarray
    low: np.ndarray
    high: np.ndarray
    strata: np.ndarray
    n: int
    n_events: int
    start: np.ndarray | None = None

    def subset(self, keep: Sequence[int], key: Any, start: np.ndarray) -> "AggregateModel":
        """The model with columns ``keep`` only (same rows), warm-started at ``start``."""
        keep = list(keep)
        return AggregateModel(key, tuple(self.names[j] for j in keep), self.means[keep],
                              self.spread[keep], self.x_event_sum[keep], self.low[:, keep],
                              self.high[:, keep], self.strata, self.n, self.n_events,
                              np.asarray(start, dtype=float))


@dataclass(frozen=True, eq=False)
class ScanRequest:
    """Evaluate ``model`` at ``beta`` (centred columns); ``shift[s]`` is subtracted from the
    linear predictor of stratum ``model.strata[s]`` before exponentiating; ``efron`` says
    how ties are handled (for a scan that evaluates the terms itself, :mod:`.stream`)."""

    model: AggregateModel
    beta: np.ndarray
    shift: np.ndarray
    efron: bool = True


@dataclass(frozen=True, eq=False)
class TimeSums:
    """A model's sums per (stratum, time) group at one ``beta``.

    Groups are sorted by stratum, then increasing time; groups without rows of the model
    may be included (``count`` 0). With ``w = exp(eta - shift)`` and ``x`` the centred
    columns: ``s0, s1, s2`` the sums of ``w, w x, w x x'`` (packed, :func:`pair_indices`)
    over the group's rows, ``d0, d1, d2`` over its events; ``count`` rows and ``deaths``
    events; ``max_abs_eta`` the largest ``|eta|`` (before the shift) over the model's rows.
    """

    stratum: np.ndarray
    time: np.ndarray
    count: np.ndarray
    deaths: np.ndarray
    s0: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    d0: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    max_abs_eta: float = 0.0


# --------------------------------------------------------------------------- moments

def model_moments(key, names: Sequence[str], strata: np.ndarray, count: np.ndarray,
                  sums: np.ndarray, cross: np.ndarray, low: np.ndarray, high: np.ndarray,
                  event_sums: np.ndarray, n_events: int) -> AggregateModel:
    """A model's centring and checks from per-stratum moments of its raw columns.

    Parameters
    ----------
    key : Any
    names : sequence of str
    strata : numpy.ndarray, shape (S,)
        Stratum codes.
    count : numpy.ndarray, shape (S,)
        The model's rows per stratum.
    sums, cross : numpy.ndarray, shape (S, p) and (S, q)
        Per stratum, the sums of the columns and of their products (packed).
    low, high : numpy.ndarray, shape (S, p)
        Per stratum, each column's least and greatest value.
    event_sums : numpy.ndarray, shape (p,)
        Sum of each column over the events.
    n_events : int

    Raises
    ------
    StatisticsError
        As :func:`~cohortpress.stats.coxph.prepare_cox_data`: no events, a column constant
        (within every stratum), collinear columns.
    """
    names = tuple(names)
    if not names:
        raise StatisticsError("the Cox model needs at least one covariate")
    if n_events == 0:
        raise StatisticsError("the Cox model needs at least one event; there are none")
    keep = count > 0
    strata, count, sums, cross = strata[keep], count[keep], sums[keep], cross[keep]
    low, high = low[keep], high[keep]
    n = int(count.sum())
    p = len(names)
    constant = (high == low).all(axis=0)
    if constant.any():
        where = "within every stratum" if strata.size > 1 else "in the data used"
        raise StatisticsError(
            "covariate(s) " + ", ".join(f"'{names[j]}'" for j in np.flatnonzero(constant))
            + f" constant {where}; the Cox model cannot estimate their effect")
    means = sums.sum(axis=0) / n
    gram = np.zeros((p, p))
    for s in range(strata.size):
        within = sums[s] / count[s]
        gram += unpack(cross[s], p) - count[s] * np.outer(within, within)
    _raise_if_collinear_gram(gram, names)
    return AggregateModel(key, names, means, np.sqrt(np.diag(gram) / n),
                          event_sums - n_events * means, low - means, high - means, strata, n,
                          int(n_events))


def _raise_if_collinear_gram(gram: np.ndarray, names: tuple[str, ...]) -> None:
    """:func:`~cohortpress.stats.linalg.raise_if_collinear` from the Gram matrix alone."""
    if gram_is_well_conditioned(gram):
        return
    norms = np.sqrt(np.diag(gram))
    scaled = gram / np.outer(norms, norms)
    independent: list[int] = []
    clauses = []
    tolerance = max(GRAM_COLLINEARITY_TOLERANCE, COLLINEARITY_TOLERANCE)
    for j in range(scaled.shape[0]):
        if independent:
            block = scaled[np.ix_(independent, independent)]
            weights = np.linalg.lstsq(block, scaled[independent, j], rcond=None)[0]
            residual = scaled[j, j] - scaled[j, independent] @ weights
        else:
            weights, residual = np.empty(0), scaled[j, j]
        if math.sqrt(max(residual, 0.0)) < tolerance:
            partners = [names[k] for k, c in zip(independent, weights) if abs(c) > 1e-8]
            clauses.append(f"'{names[j]}' is a linear combination of "
                           + ", ".join(f"'{name}'" for name in partners))
        else:
            independent.append(j)
    if clauses:
        raise StatisticsError("collinear covariates: " + "; ".join(clauses)
                              + "; drop or merge them")


# --------------------------------------------------------------------------- risk sets

@dataclass(frozen=True, eq=False)
class _Layout:
    """How a model's scanned groups become its merged time groups (fixed by the rows)."""

    keep: np.ndarray          # scanned groups with rows of the model
    run_start: np.ndarray     # merged group starts among the kept groups
    stratum_start: np.ndarray  # first merged group of each stratum
    stratum_of: np.ndarray    # stratum position (in model.strata) of each merged group
    time: np.ndarray          # merged time of each merged group
    count: np.ndarray
    deaths: np.ndarray
    ties: "EfronTies | None" = None  # Efron's expansion of the tied deaths


def _layout(model: AggregateModel, sums: TimeSums, expansions: "EfronStore") -> _Layout:
    keep = sums.count > 0
    stratum, time = sums.stratum[keep], sums.time[keep]
    merged = fix_near_ties(time)
    new = np.ones(time.size, dtype=bool)
    new[1:] = (merged[1:] != merged[:-1]) | (stratum[1:] != stratum[:-1])
    run_start = np.flatnonzero(new)
    group_stratum = stratum[run_start]
    changes = np.ones(run_start.size, dtype=bool)
    changes[1:] = group_stratum[1:] != group_stratum[:-1]
    position = np.searchsorted(model.strata, group_stratum)
    deaths = np.add.reduceat(sums.deaths[keep], run_start)
    return _Layout(keep, run_start, np.flatnonzero(changes), position, merged[run_start],
                   np.add.reduceat(sums.count[keep], run_start), deaths,
                   expansions.ties(deaths[deaths > 0]))


@dataclass(frozen=True, eq=False)
class _Terms:
    """The partial-likelihood pieces at one ``beta`` (see :class:`.likelihood.RiskSetTerms`),
    per event time ``k``: risk-set sums ``S``, event sums ``D``, and the sums over the
    events of a time of ``1/den``, ``1/den^2``, ``f/den``, ``f/den^2``, ``f^2/den^2``."""

    loglik: float
    score: np.ndarray
    information: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    inv_den: np.ndarray
    inv_den_sq: np.ndarray
    frac_inv_den: np.ndarray
    frac_inv_den_sq: np.ndarray
    frac_sq_inv_den_sq: np.ndarray
    event_groups: np.ndarray
    max_abs_eta: float


def merged_groups(values: np.ndarray, layout: _Layout) -> np.ndarray:
    """Per-group sums of a scan added up over the merged time groups of a model."""
    return np.add.reduceat(values[layout.keep], layout.run_start, axis=0)


def _reverse_cumsum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums from each group to the last of its stratum (the risk set), along axis 0."""
    out = np.empty_like(values)
    bounds = np.append(starts, values.shape[0])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        out[lo:hi] = np.cumsum(values[lo:hi][::-1], axis=0)[::-1]
    return out


def _terms(model: AggregateModel, layout: _Layout, sums: TimeSums, beta: np.ndarray,
           shift: np.ndarray, efron: bool) -> _Terms:
    p = beta.size
    at_risk = [_reverse_cumsum(merged_groups(a, layout), layout.stratum_start)
               for a in (sums.s0, sums.s1, sums.s2)]
    events = layout.deaths > 0
    groups = np.flatnonzero(events)
    s0, s1, s2 = (a[groups] for a in at_risk)
    d0, d1, d2 = (merged_groups(a, layout)[groups] for a in (sums.d0, sums.d1, sums.d2))
    deaths = layout.deaths[groups].astype(float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inv_den = deaths / s0
        inv_den_sq = deaths / s0 ** 2
        log_den = deaths * np.log(s0)
        zeros = np.zeros(groups.size)
        frac = [zeros.copy(), zeros.copy(), zeros.copy()]
        if efron:
            _efron_sums(layout.ties, s0, d0, log_den, inv_den, inv_den_sq, frac)
        shifted = float(deaths @ shift[layout.stratum_of[groups]])
        loglik = float(beta @ model.x_event_sum - log_den.sum() - shifted)
        score = model.x_event_sum - (s1.T @ inv_den - d1.T @ frac[0])
        second = unpack(s2.T @ inv_den - d2.T @ frac[0], p)
        mean_part = (s1.T * inv_den_sq) @ s1
        cross = (s1.T * frac[1]) @ d1
        mean_part += (d1.T * frac[2]) @ d1 - cross - cross.T
    return _Terms(loglik, score, second - mean_part, s1, s2, d1, d2, inv_den, inv_den_sq,
                  frac[0], frac[1], frac[2], groups, sums.max_abs_eta)


class EfronTies:
    """Efron's expansion of a model's tied deaths, in chunks of at most
    :data:`EFRON_CHUNK` terms (bounded memory): per chunk, the event times it covers
    (positions among the times with deaths), each term's time (position within the
    chunk), the first term of each time, and each term's fraction ``j / d``.

    Fixed by the deaths per time, so computed once and kept when :class:`EfronStore`'s
    budget allows (``keep``), else computed again at each use."""

    def __init__(self, deaths: np.ndarray):
        self.tied = np.flatnonzero(deaths > 1)
        self.counts = deaths[self.tied].astype(np.int64)
        self.terms = int(self.counts.sum())
        self.keep = False  # keep the chunks once computed
        self._kept: tuple | None = None

    def chunks(self):
        if self._kept is not None:
            return self._kept
        chunks = map(self._chunk, self._spans())
        if self.keep:
            self._kept = tuple(chunks)
            return self._kept
        return chunks

    def _spans(self) -> list[np.ndarray]:
        bounds = np.searchsorted(np.cumsum(self.counts),
                                 np.arange(EFRON_CHUNK, self.terms, EFRON_CHUNK))
        spans = np.split(np.arange(self.tied.size), np.unique(bounds + 1))
        return [span for span in spans if span.size]

    def _chunk(self, span: np.ndarray) -> tuple:
        d = self.counts[span]
        first = np.cumsum(d) - d
        run = np.repeat(np.arange(span.size), d)
        return self.tied[span], run, first, (np.arange(run.size) - first[run]) / d[run]


class EfronStore:
    """The Efron expansions of one fit's models: one per distinct deaths-per-time vector
    (the models fitted on the same rows share it), kept while their terms fit
    :data:`EFRON_KEPT_TERMS`."""

    def __init__(self, budget: int | None = None):
        self.budget = EFRON_KEPT_TERMS if budget is None else budget
        self._known: dict[bytes, EfronTies] = {}

    def ties(self, deaths: np.ndarray) -> EfronTies:
        key = np.ascontiguousarray(deaths, dtype=float).tobytes()
        found = self._known.get(key)
        if found is None:
            found = EfronTies(deaths)
            found.keep = found.terms <= self.budget
            if found.keep:
                self.budget -= found.terms
            self._known[key] = found
        return found


def _efron_sums(ties: EfronTies, s0, d0, log_den, inv_den, inv_den_sq, frac) -> None:
    """Efron's sums over ``j = 0..d-1`` at the tied times, replacing Breslow's in place."""
    for slots, run, first, fraction in ties.chunks():
        denominator = s0[slots][run] - fraction * d0[slots][run]
        inv = 1.0 / denominator
        weighted = fraction * inv
        per_time = lambda v: np.add.reduceat(v, first)  # noqa: E731
        log_den[slots] = per_time(np.log(denominator))
        inv_den[slots] = per_time(inv)
        inv_den_sq[slots] = per_time(inv * inv)
        frac[0][slots] = per_time(weighted)
        frac[1][slots] = per_time(weighted * inv)
        frac[2][slots] = per_time(weighted * weighted)


def _shift(model: AggregateModel, beta: np.ndarray) -> np.ndarray:
    """Per stratum, a bound of the linear predictor when it could overflow ``exp``, else 0."""
    bound = np.maximum(model.low * beta, model.high * beta).sum(axis=1)
    return np.where(bound > OVERFLOW_GUARD, bound, 0.0)


# --------------------------------------------------------------------------- Newton

@dataclass(eq=False)
class _Newton:
    """coxfit6's iteration for one model, advanced one evaluation at a time."""

    model: AggregateModel
    efron: bool
    max_iter: int
    eps: float
    candidate: np.ndarray = None
    layout: _Layout | None = None
    best: tuple | None = None   # (beta, terms, sums, shift)
    first: tuple | None = None  # (loglik, score statistic, sums) at the start
    halving: int = 0
    iterations: int = 0
    converged: bool = False
    done: bool = False
    final: tuple | None = None
    expansions: EfronStore = field(default_factory=EfronStore)

    def __post_init__(self):
        p = len(self.model.names)
        self.candidate = (np.zeros(p) if self.model.start is None
                          else np.array(self.model.start, dtype=float))

    def request(self) -> ScanRequest:
        return ScanRequest(self.model, self.candidate, _shift(self.model, self.candidate),
                           self.efron)

    def update(self, request: ScanRequest, sums: "TimeSums | _Terms") -> None:
        if isinstance(sums, _Terms):  # evaluated by the scan itself (streamed rows)
            terms = sums
        else:
            if self.layout is None:
                self.layout = _layout(self.model, sums, self.expansions)
            terms = _terms(self.model, self.layout, sums, request.beta, request.shift,
                           self.efron)
        state = (request.beta, terms, sums, request.shift)
        if self.best is None:
            step = solve_symmetric(terms.information, terms.score)
            self.first = (terms.loglik, float(terms.score @ step), sums)
            self.best = state
            self.candidate = request.beta + step
            return
        self.iterations += 1
        best_loglik = self.best[1].loglik
        finite = (math.isfinite(terms.loglik) and np.isfinite(terms.score).all()
                  and np.isfinite(terms.information).all())
        if finite and abs(terms.loglik - best_loglik) <= self.eps * abs(terms.loglik):
            self.converged, self.done, self.final = True, True, state
            return
        if not finite or terms.loglik < best_loglik:
            self.halving += 1
            self.candidate = (self.candidate + self.halving * self.best[0]) / (self.halving + 1.0)
        else:
            self.halving = 0
            self.best = state
            self.candidate = self.candidate + solve_symmetric(terms.information, terms.score)
        if self.iterations >= self.max_iter:
            self.done, self.final = True, self.best


@dataclass(frozen=True, eq=False)
class AggregateFit:
    """A model fitted from aggregates: the :class:`CoxFit`, and what ``cox.zph`` needs."""

    fit: CoxFit
    model: AggregateModel
    terms: _Terms = field(repr=False)
    layout: _Layout = field(repr=False)
    start_sums: TimeSums = field(repr=False)


def fit_cox_aggregated(models: Sequence[AggregateModel],
                       scan: Callable[[Sequence[ScanRequest]], Sequence[TimeSums]],
                       ties: str = "efron", *, conf_level: float = 0.95,
                       max_iter: int = MAX_ITERATIONS,
                       eps: float = CONVERGENCE_EPS) -> list[AggregateFit | StatisticsError]:
    """Fit several Cox models by Newton--Raphson, one ``scan`` per iteration for all.

    Each model iterates exactly as :func:`~cohortpress.stats.coxph.fit_cox` (coxfit6's
    rules), from 0 or from its warm start; the models still iterating share each scan, so
    the scans number the most iterations any model needs, plus one.

    Parameters
    ----------
    models : sequence of AggregateModel
    scan : callable
        ``scan(requests)`` returns the :class:`TimeSums` of each request, in order (one
        aggregate query over the rows), or the request's terms when the scan evaluates
        them itself (:class:`~.stream.StreamedCox`; the fit then has no per-time sums).
    ties : {"efron", "breslow"}
    conf_level, max_iter, eps
        As :func:`~cohortpress.stats.coxph.fit_cox`.

    Returns
    -------
    list
        Per model, its :class:`AggregateFit`, or the StatisticsError saying why it cannot
        be estimated (a singular information matrix).
    """
    check_conf_level(conf_level)
    if ties not in ("efron", "breslow"):
        raise StatisticsError(f"ties must be one of efron, breslow, not '{ties}'")
    expansions = EfronStore()
    states = [_Newton(model, ties == "efron", max_iter, eps, expansions=expansions)
              for model in models]
    while True:
        active = [state for state in states if not state.done]
        if not active:
            break
        requests = [state.request() for state in active]
        for state, request, sums in zip(active, requests, scan(requests)):
            state.update(request, sums)
    out: list[AggregateFit | StatisticsError] = []
    for state in states:
        try:
            out.append(_report(state, ties, conf_level))
        except StatisticsError as exc:
            out.append(exc)
    return out


def _report(state: _Newton, ties: str, conf_level: float) -> AggregateFit:
    model = state.model
    beta, terms, _, _ = state.final
    var = solve_symmetric(terms.information, np.eye(beta.size))
    infinite, reason = _infinite_coefficients(state, beta, terms, var)
    if not infinite.any():
        check_information(model, terms.information, state.iterations)
    table = wald_table(beta, var, infinite, conf_level)
    df = float(beta.size)
    loglik_null, score_statistic, start_sums = state.first
    lr = 2.0 * (terms.loglik - loglik_null)
    wald = float(beta @ terms.information @ beta)
    if infinite.any():
        wald_test = TestResult("Wald test", math.nan, wald, df,
                               "not valid: a coefficient is infinite")
        lr_note = "log-likelihood at the last iterate; its supremum is not attained"
    else:
        wald_test = TestResult("Wald test", float(chi2_sf(wald, df)), wald, df)
        lr_note = None
    fit = CoxFit(
        names=model.names, coef=beta, se=table.se, z=table.z, p=table.p, hr=table.ratio,
        conf_low=table.conf_low, conf_high=table.conf_high, conf_level=conf_level, var=var,
        loglik_null=loglik_null, loglik=terms.loglik,
        lr_test=TestResult("Likelihood-ratio test", float(chi2_sf(lr, df)), lr, df, lr_note),
        wald_test=wald_test,
        score_test=TestResult("Score (log-rank) test", float(chi2_sf(score_statistic, df)),
                              score_statistic, df),
        n=model.n, n_events=model.n_events, ties=ties, iterations=state.iterations,
        converged=state.converged and not infinite.any(),
        separated=tuple(model.names[j] for j in np.flatnonzero(infinite)), reason=reason)
    return AggregateFit(fit, model, terms, state.layout, start_sums)


def _infinite_coefficients(state: _Newton, beta: np.ndarray, terms: _Terms, var: np.ndarray):
    """The rule of :func:`.fit._infinite_coefficients`, with the largest ``|x' beta|`` read
    from the scan."""
    model = state.model
    return infinite_coefficients(model.names, model.spread, beta, terms.score, var,
                                 state.converged, state.iterations,
                                 lambda _: terms.max_abs_eta)

