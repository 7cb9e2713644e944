"""Cox models from rows streamed in decreasing time: the fit when the distinct times are
too many for sums per time.

:mod:`.aggregate` fits from sums per distinct (stratum, time), which the engine computes
in one query. With exact (continuous) times there is about one distinct time per patient,
and those sums -- ``p (p + 1) / 2`` numbers per time for the information alone -- are as
large as the rows. Here the rows of a model arrive instead in chunks, all strata together
in decreasing time: the risk set of a time is then a running sum (per stratum) of what has
been seen, so each chunk's event times add their terms to the log-likelihood, score and
information and nothing per time is kept. Memory is one chunk, whatever the number of rows
or times. The numbers are those of :mod:`.aggregate` (the same terms, added up in another
order): near-equal times are merged by the rule of ``survival::aeqSurv`` over the model's
distinct times pooled across strata (the rows of the run a chunk ends in wait for the next
chunk), Efron's or Breslow's ties, the overflow shift per stratum.

``cox.zph`` needs ``g(t)`` at each event time before the events are seen in this order
(the Kaplan--Meier transform runs forward in time): one evaluation records the pooled
deaths and numbers at risk of every merged event time (:class:`EventTimes`, 32 bytes per
event time), and a second, at the final ``beta``, adds the test's terms
(:func:`zph_streamed`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cohortpress.stats.coxph.aggregate import (AggregateModel, EfronTies, _efron_sums,
                                               _Terms, pair_indices, unpack)

__all__ = ["StreamRows", "StreamedCox", "DistinctTimeScale", "EventTimes", "ZphSums",
           "distinct_time_scale", "zph_sums", "zph_streamed"]

#: ``aeqSurv``'s tolerance, absolute and relative to the mean distinct time.
_TOLERANCE = math.sqrt(np.finfo(float).eps)


@dataclass(frozen=True, eq=False)
class StreamRows:
    """A chunk of one model's rows, in decreasing time (all strata together).

    Attributes
    ----------
    stratum : numpy.ndarray of int
        Each row's stratum as its position in ``model.strata``.
    time : numpy.ndarray of float
        Non-increasing.
    event : numpy.ndarray of bool
    x : numpy.ndarray, shape (rows, p)
        The centred design columns.
    """

    stratum: np.ndarray
    time: np.ndarray
    event: np.ndarray
    x: np.ndarray

    def __len__(self) -> int:
        return self.time.size

    def take(self, part) -> "StreamRows":
        return StreamRows(self.stratum[part], self.time[part], self.event[part], self.x[part])

    @staticmethod
    def joined(first: "StreamRows | None", second: "StreamRows") -> "StreamRows":
        if first is None or not len(first):
            return second
        return StreamRows(*(np.concatenate((a, b)) for a, b in
                            zip((first.stratum, first.time, first.event, first.x),
                                (second.stratum, second.time, second.event, second.x))))


class DistinctTimeScale:
    """The mean absolute value of a model's distinct times, from its rows streamed in
    decreasing time: the scale of ``aeqSurv``'s relative tolerance."""

    def __init__(self):
        self.total = 0.0
        self.count = 0
        self.last = math.nan

    def add(self, time: np.ndarray) -> None:
        if not time.size:
            return
        new = np.empty(time.size, dtype=bool)
        new[0] = time[0] != self.last
        np.not_equal(time[1:], time[:-1], out=new[1:])
        distinct = time[new]
        self.total += float(np.abs(distinct).sum())
        self.count += distinct.size
        self.last = float(time[-1])

    @property
    def scale(self) -> float:
        return self.total / self.count if self.count else 1.0


def distinct_time_scale(time: np.ndarray) -> float:
    """:class:`DistinctTimeScale` of one array of times in decreasing order."""
    found = DistinctTimeScale()
    found.add(time)
    return found.scale


@dataclass
class EventTimes:
    """Per merged event time, in decreasing time order: the merged time (the smallest of
    its run), the deaths and the rows at risk (all strata pooled), and the rows at that
    time; ``rows`` the model's rows in all."""

    time: list = field(default_factory=list)
    deaths: list = field(default_factory=list)
    at_risk: list = field(default_factory=list)
    count: list = field(default_factory=list)
    rows: int = 0

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The four columns in increasing time."""
        return tuple(np.concatenate(part)[::-1] if part else np.empty(0)
                     for part in (self.time, self.deaths, self.at_risk, self.count))

    def transformed(self, transform: str) -> np.ndarray:
        """``g(t)`` of each event time in increasing time, uncentred, as
        :func:`.aggregate_tests._transformed_time` gives it."""
        from cohortpress.common.errors import StatisticsError

        time, deaths, at_risk, count = self.arrays()
        if transform == "identity":
            return time
        if transform == "log":
            if (time <= 0).any():
                raise StatisticsError("the log transform needs positive times")
            return np.log(time)
        if transform == "rank":
            return (self.rows - at_risk) + (count + 1.0) / 2.0
        survival_after = np.cumprod(1.0 - deaths / at_risk)
        return 1.0 - np.concatenate(([1.0], survival_after[:-1]))


@dataclass
class ZphSums:
    """What ``cox.zph``'s score test adds up over the event times, with ``g`` uncentred:
    the score parts with weight 1 and ``g``, the information with weight 1, ``g`` and
    ``g^2``, the deaths and their ``g``. Centring afterwards (:meth:`centred`) is algebra:
    ``g - mean`` expands into these sums."""

    g: np.ndarray  # per event time in DEcreasing order (the order the stream meets them)
    score: list = field(default_factory=lambda: [0.0, 0.0])
    information: list = field(default_factory=lambda: [0.0, 0.0, 0.0])
    deaths: float = 0.0
    deaths_g: float = 0.0
    seen: int = 0

    def centred(self) -> tuple[np.ndarray, np.ndarray]:
        """The score of the ``x g(t)`` terms and the ``2p x 2p`` information, ``g``
        centred at its mean over the events."""
        mean = self.deaths_g / self.deaths
        score = self.score[1] - mean * self.score[0]
        one, g, g2 = self.information
        cross = g - mean * one
        square = g2 - 2.0 * mean * g + mean * mean * one
        return score, np.block([[one, cross], [cross, square]])


class StreamedCox:
    """One evaluation of a model at ``beta`` over its rows streamed in decreasing time.

    Feed every chunk to :meth:`add`, then :meth:`finish` gives the terms of
    :mod:`.aggregate`'s Newton step (log-likelihood, score, information, largest
    ``|x' beta|``; no per-time arrays). ``events`` records :class:`EventTimes`; ``zph``
    adds the test's sums for the event times' ``g``.

    Parameters
    ----------
    model : AggregateModel
    beta, shift : numpy.ndarray
        As :class:`~.aggregate.ScanRequest`.
    efron : bool
    scale : float
        The mean absolute distinct time (:class:`DistinctTimeScale`) of the model's rows.
    """

    def __init__(self, model: AggregateModel, beta: np.ndarray, shift: np.ndarray,
                 efron: bool, scale: float, *, events: EventTimes | None = None,
                 zph: ZphSums | None = None):
        self.model, self.beta, self.shift, self.efron = model, beta, shift, efron
        self.scale = scale
        self.events, self.zph = events, zph
        p = beta.size
        self.p, self.pairs = p, pair_indices(p)
        width = len(self.pairs[0])
        self.carry = np.zeros((model.strata.size, 1 + p + width))  # risk sums per stratum
        self.pooled_at_risk = 0
        self.held: StreamRows | None = None
        self.last_time = math.inf
        self.loglik = 0.0
        self.score = np.array(model.x_event_sum, dtype=float)
        self.second = np.zeros(width)
        self.mean_part = np.zeros((p, p))
        self.max_abs_eta = 0.0

    # ------------------------------------------------------------------ chunks

    def add(self, rows: StreamRows) -> None:
        """Take a chunk; the rows of its last run of near-equal times wait for the next."""
        if rows.time.size:
            if rows.time[0] > self.last_time or (np.diff(rows.time) > 0).any():
                raise RuntimeError("the streamed rows are not in decreasing time")
            self.last_time = float(rows.time[-1])
        rows = StreamRows.joined(self.held, rows)
        if not len(rows):
            return
        run_start = self._run_starts(rows.time)
        last = run_start[-1]
        self.held = rows.take(slice(last, None))
        if last:
            self._add_runs(rows.take(slice(0, last)), run_start[:-1])

    def finish(self) -> _Terms:
        """The terms, after the last chunk."""
        if self.held is not None and len(self.held):
            self._add_runs(self.held, self._run_starts(self.held.time))
            self.held = None
        if self.events is not None:
            self.events.rows = self.pooled_at_risk
        information = unpack(self.second, self.p) - self.mean_part
        loglik = float(self.beta @ self.model.x_event_sum) + self.loglik
        return _Terms(loglik, self.score, information, *([None] * 10), self.max_abs_eta)

    def _run_starts(self, time: np.ndarray) -> np.ndarray:
        """The first row of each run of near-equal distinct times (``aeqSurv``'s rule)."""
        new = np.empty(time.size, dtype=bool)
        new[0] = True
        np.not_equal(time[1:], time[:-1], out=new[1:])
        distinct = np.flatnonzero(new)
        gaps = time[distinct[:-1]] - time[distinct[1:]]
        tied = (gaps <= _TOLERANCE) | (gaps / self.scale <= _TOLERANCE)
        return distinct[np.concatenate(([True], ~tied))]

    # ------------------------------------------------------------------ runs

    def _add_runs(self, rows: StreamRows, run_start: np.ndarray) -> None:
        """The terms of whole runs (their merged time the last, smallest, row's)."""
        i, j = self.pairs
        eta = rows.x @ self.beta
        self.max_abs_eta = max(self.max_abs_eta, float(np.abs(eta).max()))
        run = np.repeat(np.arange(run_start.size), np.diff(np.append(run_start, len(rows))))
        run_time = rows.time[np.append(run_start[1:], len(rows)) - 1]
        if (rows.stratum != rows.stratum[0]).any():  # strata: each stratum's groups together
            order = np.lexsort((run, rows.stratum))
            rows, run, eta = rows.take(order), run[order], eta[order]
        w = np.exp(eta - self.shift[rows.stratum])
        new = np.ones(run.size, dtype=bool)
        new[1:] = (rows.stratum[1:] != rows.stratum[:-1]) | (run[1:] != run[:-1])
        starts = np.flatnonzero(new)
        wx = w[:, None] * rows.x
        values = np.concatenate((w[:, None], wx, wx[:, i] * rows.x[:, j]), axis=1)
        group_stratum = rows.stratum[starts]
        at_risk = self._risk_sums(np.add.reduceat(values, starts, axis=0), group_stratum)
        # The event rows' groups, in order: the groups with deaths.
        event_rows = np.flatnonzero(rows.event)
        group = np.cumsum(new) - 1
        event_group = group[event_rows]
        first = np.ones(event_rows.size, dtype=bool)
        first[1:] = event_group[1:] != event_group[:-1]
        event_starts = np.flatnonzero(first)
        dead = event_group[event_starts]
        deaths = np.diff(np.append(event_starts, event_rows.size)).astype(float)
        g = None
        if self.events is not None or self.zph is not None:
            g = self._pooled(run_start.size, run[starts], np.bincount(
                group[event_rows], minlength=starts.size), np.diff(np.append(starts, run.size)),
                run_time)
        if not dead.size:
            return
        events = np.add.reduceat(values[event_rows], event_starts, axis=0)
        x_events = None if self.zph is None else \
            np.add.reduceat(rows.x[event_rows], event_starts, axis=0)
        self._add_event_groups(at_risk[dead], events, deaths, group_stratum[dead], x_events,
                               None if g is None else g[run[starts][dead]])

    def _risk_sums(self, every: np.ndarray, group_stratum: np.ndarray) -> np.ndarray:
        """Per group, the sums over its stratum's rows at or after its time: a running sum
        in decreasing time, continued from the earlier chunks."""
        out = np.empty_like(every)
        bounds = np.flatnonzero(np.diff(group_stratum)) + 1
        for lo, hi in zip(np.append(0, bounds), np.append(bounds, group_stratum.size)):
            s = group_stratum[lo]
            block = np.cumsum(every[lo:hi], axis=0)
            block += self.carry[s]
            out[lo:hi] = block
            self.carry[s] = block[-1]
        return out

    def _pooled(self, runs: int, group_run, deaths, count, run_time) -> np.ndarray | None:
        """Per run (all strata pooled): record the event times, and return each run's
        ``g`` for the test (None without it)."""
        run_deaths = np.bincount(group_run, deaths, minlength=runs)
        run_count = np.bincount(group_run, count, minlength=runs).astype(np.int64)
        at_risk = self.pooled_at_risk + np.cumsum(run_count)
        self.pooled_at_risk = int(at_risk[-1])
        dead = run_deaths > 0
        if self.events is not None:
            self.events.time.append(run_time[dead])
            self.events.deaths.append(run_deaths[dead])
            self.events.at_risk.append(at_risk[dead].astype(float))
            self.events.count.append(run_count[dead].astype(float))
        if self.zph is None:
            return None
        g = np.zeros(runs)
        taken = int(dead.sum())
        g[dead] = self.zph.g[self.zph.seen:self.zph.seen + taken]
        self.zph.seen += taken
        return g

    def _add_event_groups(self, at_risk, events, deaths, stratum, x_events, g) -> None:
        """:func:`.aggregate._terms`'s sums over a chunk's event groups, added up."""
        p = self.p
        s0, s1, s2 = at_risk[:, 0], at_risk[:, 1:1 + p], at_risk[:, 1 + p:]
        d0, d1, d2 = events[:, 0], events[:, 1:1 + p], events[:, 1 + p:]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            inv_den = deaths / s0
            inv_den_sq = deaths / s0 ** 2
            log_den = deaths * np.log(s0)
            frac = [np.zeros(deaths.size) for _ in range(3)]
            if self.efron:
                _efron_sums(EfronTies(deaths), s0, d0, log_den, inv_den, inv_den_sq, frac)
            self.loglik -= float(log_den.sum()) + float(deaths @ self.shift[stratum])
            self.score -= s1.T @ inv_den - d1.T @ frac[0]
            self.second += s2.T @ inv_den - d2.T @ frac[0]
            self.mean_part += _mean_part(s1, d1, inv_den_sq, frac)
            if self.zph is not None:
                self._add_zph(s1, s2, d1, d2, x_events, deaths, g,
                              (inv_den, inv_den_sq, *frac))

    def _add_zph(self, s1, s2, d1, d2, x_events, deaths, g, weights) -> None:
        inv_den, inv_den_sq, frac0, frac1, frac2 = weights
        zph, p = self.zph, self.p
        part = x_events - (s1 * inv_den[:, None] - d1 * frac0[:, None])
        zph.score[0] = zph.score[0] + part.sum(axis=0)
        zph.score[1] = zph.score[1] + g @ part
        for k, q in enumerate((np.ones_like(g), g, g * g)):
            second = unpack(s2.T @ (q * inv_den) - d2.T @ (q * frac0), p)
            zph.information[k] = zph.information[k] + second - _mean_part(
                s1, d1, q * inv_den_sq, [q * frac0, q * frac1, q * frac2])
        zph.deaths += float(deaths.sum())
        zph.deaths_g += float(deaths @ g)


def _mean_part(s1, d1, inv_den_sq, frac) -> np.ndarray:
    """The risk-set means' outer products (:func:`.aggregate._terms`'s ``mean_part``)."""
    mean_part = (s1.T * inv_den_sq) @ s1
    cross = (s1.T * frac[1]) @ d1
    return mean_part + (d1.T * frac[2]) @ d1 - cross - cross.T


def zph_sums(events: EventTimes, transform: str) -> ZphSums:
    """The empty sums of ``cox.zph``'s test for the recorded event times, ``g`` in the
    order the stream meets them."""
    from cohortpress.common.errors import StatisticsError
    from cohortpress.stats.coxph.zph import TRANSFORMS

    if transform not in TRANSFORMS:
        raise StatisticsError(f"transform must be one of {', '.join(TRANSFORMS)}, "
                              f"not '{transform}'")
    return ZphSums(np.ascontiguousarray(events.transformed(transform)[::-1]))


def zph_streamed(fit, sums: ZphSums, transform: str, groups=None):
    """``cox.zph`` (:func:`~.aggregate_tests.zph_result`) from the streamed sums at the
    fit's ``beta``."""
    from cohortpress.stats.coxph.aggregate_tests import zph_result

    score, information = sums.centred()
    return zph_result(fit, score, information, transform, groups)
