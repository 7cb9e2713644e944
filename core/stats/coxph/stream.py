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
(the Kaplan--Meier transform runs forward in time): the model's first evaluation records
one number per merged event time for the transform (:class:`EventTimes`, 8 bytes per
event time), and one more pass, at the final ``beta``, adds the test's terms
(:func:`zph_streamed`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cohortpress.stats.coxph.aggregate import (AggregateModel, EfronTies, _efron_sums,
                                               _Terms)
from cohortpress.stats.event_times import near_tied

__all__ = ["StreamRows", "RunSplitter", "RunLayout", "StreamedCox", "DistinctTimeScale",
           "EventTimes", "ZphSums", "distinct_time_scale", "zph_sums", "zph_streamed"]

#: Rows evaluated at a time: the pieces of a chunk, cut at runs of tied times, stay in
#: the processor's cache (at 10^6 rows, pieces of 8,192 rows took a third of the time of
#: pieces of 65,536).
PIECE_ROWS = 8192


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


class RunSplitter:
    """Cuts rows streamed in decreasing time into pieces of whole runs of near-equal
    times (``aeqSurv``'s rule: gaps between distinct times of at most ``sqrt(eps)``, or of
    at most ``sqrt(eps)`` times ``scale``, the mean absolute distinct time), each of at
    most :data:`PIECE_ROWS` rows unless one run is longer. The last run of a chunk waits
    for the next chunk (its next time may tie with it).

    The rows travel as a dict of columns (``"t"`` the times; any others, 1-D or 2-D, cut
    alike), so that models on the same rows share the cutting."""

    def __init__(self, scale: float):
        self.scale = scale
        self.held: dict | None = None
        self.last_time = math.inf

    def pieces(self, columns: dict):
        """The pieces ``(columns, run_start)`` of whole runs this chunk completes."""
        time = columns["t"]
        if time.size:
            if time[0] > self.last_time or (np.diff(time) > 0).any():
                raise RuntimeError("the streamed rows are not in decreasing time")
            self.last_time = float(time[-1])
        if self.held is not None:
            columns = {k: np.concatenate((self.held[k], v)) for k, v in columns.items()}
        if not columns["t"].size:
            return
        run_start = self.run_starts(columns["t"])
        last = run_start[-1]
        self.held = {k: v[last:] for k, v in columns.items()}
        yield from self._cut({k: v[:last] for k, v in columns.items()}, run_start[:-1])

    def flush(self):
        """The pieces of the rows still held, after the last chunk."""
        if self.held is not None and self.held["t"].size:
            held, self.held = self.held, None
            yield from self._cut(held, self.run_starts(held["t"]))

    def run_starts(self, time: np.ndarray) -> np.ndarray:
        """The first row of each run of near-equal distinct times."""
        new = np.empty(time.size, dtype=bool)
        new[0] = True
        np.not_equal(time[1:], time[:-1], out=new[1:])
        distinct = np.flatnonzero(new)
        tied = near_tied(time[distinct[:-1]] - time[distinct[1:]], self.scale)
        return distinct[np.concatenate(([True], ~tied))]

    @staticmethod
    def _cut(columns: dict, run_start: np.ndarray):
        if not run_start.size:
            return
        rows = columns["t"].size
        cuts = np.unique(np.searchsorted(run_start, np.arange(0, rows, PIECE_ROWS),
                                         side="right") - 1)
        edges = np.append(run_start[cuts], rows)
        for lo, hi in zip(edges[:-1], edges[1:]):
            inside = run_start[(run_start >= lo) & (run_start < hi)] - lo
            yield {name: v[lo:hi] for name, v in columns.items()}, inside


@dataclass(frozen=True, eq=False)
class RunLayout:
    """A piece of whole runs grouped by (stratum, run), the groups in decreasing time
    within each stratum; fixed by the rows, shared by every model on them.

    Attributes
    ----------
    order : numpy.ndarray or None
        The rows in group order (None: already, one stratum).
    stratum : numpy.ndarray
        Each row's stratum position, in group order.
    starts, group_stratum, group_run, group_count, group_deaths : numpy.ndarray
        Per group: its first row, stratum, run, rows and deaths.
    event_rows, event_starts, dead, deaths : numpy.ndarray
        The event rows (in group order), the first of each group's, the groups with
        deaths and their deaths.
    runs : int
    run_time : numpy.ndarray
        Each run's merged time (its smallest).
    """

    order: np.ndarray | None
    stratum: np.ndarray
    starts: np.ndarray
    group_stratum: np.ndarray
    group_run: np.ndarray
    group_count: np.ndarray
    group_deaths: np.ndarray
    event_rows: np.ndarray
    event_starts: np.ndarray
    dead: np.ndarray
    deaths: np.ndarray
    runs: int
    run_time: np.ndarray

    @classmethod
    def of(cls, stratum: np.ndarray, time: np.ndarray, event: np.ndarray,
           run_start: np.ndarray) -> "RunLayout":
        rows = time.size
        run = np.repeat(np.arange(run_start.size), np.diff(np.append(run_start, rows)))
        run_time = time[np.append(run_start[1:], rows) - 1]
        order = None
        if (stratum != stratum[0]).any():  # strata: each stratum's groups together
            order = np.lexsort((run, stratum))
            stratum, run, event = stratum[order], run[order], event[order]
        new = np.ones(rows, dtype=bool)
        new[1:] = (stratum[1:] != stratum[:-1]) | (run[1:] != run[:-1])
        starts = np.flatnonzero(new)
        group = np.cumsum(new) - 1
        event_rows = np.flatnonzero(event)
        event_group = group[event_rows]
        first = np.ones(event_rows.size, dtype=bool)
        first[1:] = event_group[1:] != event_group[:-1]
        event_starts = np.flatnonzero(first)
        return cls(order, stratum, starts, stratum[starts], run[starts],
                   np.diff(np.append(starts, rows)),
                   np.bincount(event_group, minlength=starts.size), event_rows,
                   event_starts, event_group[event_starts],
                   np.diff(np.append(event_starts, event_rows.size)).astype(float),
                   run_start.size, run_time)


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
    """What ``cox.zph``'s time transform needs of each merged event time, recorded as the
    stream meets them (decreasing time): one number each (8 bytes; at 10^8 patients with
    exact times, some 400 MB), with the event times' deaths and numbers at risk pooled
    over strata -- ``km``: the Kaplan--Meier factor ``1 - d / n``; ``rank``: the rows at
    risk less half the rows at the time plus one; ``identity`` and ``log``: the merged
    time (the smallest of its run). ``rows`` is the model's rows in all."""

    transform: str
    values: list = field(default_factory=list)
    rows: int = 0

    def __post_init__(self):
        from cohortpress.common.errors import StatisticsError
        from cohortpress.stats.coxph.zph import TRANSFORMS

        if self.transform not in TRANSFORMS:
            raise StatisticsError(f"transform must be one of {', '.join(TRANSFORMS)}, "
                                  f"not '{self.transform}'")

    def record(self, time, deaths, at_risk, count) -> None:
        """Take the event times of a piece (arrays in decreasing time)."""
        if self.transform == "km":
            self.values.append(1.0 - deaths / at_risk)
        elif self.transform == "rank":
            self.values.append(at_risk - (count + 1.0) / 2.0)
        else:
            self.values.append(np.array(time, dtype=float))

    def transformed(self) -> np.ndarray:
        """``g(t)`` of each event time in increasing time, uncentred, as
        :func:`.aggregate_tests._transformed_time` gives it."""
        from cohortpress.common.errors import StatisticsError

        values = np.concatenate(self.values)[::-1] if self.values else np.empty(0)
        self.values = []  # (hundreds of MB for a registry)
        if self.transform == "identity":
            return values
        if self.transform == "log":
            if (values <= 0).any():
                raise StatisticsError("the log transform needs positive times")
            return np.log(values)
        if self.transform == "rank":
            return self.rows - values
        g = np.empty(values.size)
        if g.size:  # 1 - the Kaplan-Meier estimate just before each event time
            g[0] = 1.0
            np.cumprod(values[:-1], out=g[1:])
        return np.subtract(1.0, g, out=g)


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

    The risk sets' second moments enter the information only through
    ``sum_k h_k S2_k`` (``h_k`` the weight of event time ``k``, ``d_k / S0_k`` for
    Breslow). Per piece of rows, ``S2_k`` is the stratum's ``sum w x x'`` over the
    earlier pieces (one ``p x p`` sum kept per stratum) plus the piece's rows from the
    top down to ``k``: the piece adds the first times the sum of its ``h``, and each of
    its rows ``w x x'`` times the sum of the ``h`` from its own time down -- two matrix
    products per piece, only sums of like-signed terms, and no ``p x p`` sums per time.

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
        p = self.p = beta.size
        strata = model.strata.size
        weights = 3 if zph is not None else 1  # h q_k with q = 1 (and g, g^2 for the test)
        self.carry = np.zeros((strata, 1 + p))  # risk sums of w and w x per stratum
        self.risk_moment = np.zeros((strata, p, p))  # sum of w x x' of the rows seen
        self.second = np.zeros((weights, p, p))  # sum over event times of h q S2
        self.tied_second = np.zeros((weights, p, p))  # Efron's event-set correction
        self.pooled_at_risk = 0
        self.splitter = RunSplitter(scale)
        self.loglik = 0.0
        self.score = np.array(model.x_event_sum, dtype=float)
        self.mean_part = np.zeros((weights, p, p))
        self.max_abs_eta = 0.0

    # ------------------------------------------------------------------ chunks

    def add(self, rows: StreamRows) -> None:
        """Take a chunk; the rows of its last run of near-equal times wait for the next."""
        columns = dict(s=rows.stratum, t=rows.time, e=rows.event, x=rows.x)
        for piece, run_start in self.splitter.pieces(columns):
            self._add(piece, run_start)

    def add_piece(self, layout: RunLayout, x: np.ndarray) -> None:
        """Take a piece of whole runs already laid out (shared by the models on the same
        rows), with this model's centred columns in the piece's row order."""
        self._add_runs(layout, x if layout.order is None else x[layout.order])

    def finish(self) -> _Terms:
        """The terms, after the last chunk."""
        for piece, run_start in self.splitter.flush():
            self._add(piece, run_start)
        if self.events is not None:
            self.events.rows = self.pooled_at_risk
        information = self._information(0)
        if self.zph is not None:
            self.zph.information = [self._information(k) for k in range(3)]
        loglik = float(self.beta @ self.model.x_event_sum) + self.loglik
        return _Terms(loglik, self.score, information, *([None] * 10), self.max_abs_eta)

    def _add(self, piece: dict, run_start: np.ndarray) -> None:
        self.add_piece(RunLayout.of(piece["s"], piece["t"], piece["e"], run_start), piece["x"])

    def _information(self, k: int) -> np.ndarray:
        """The information with weight ``q`` number ``k`` on the event times."""
        return self.second[k] - self.tied_second[k] - self.mean_part[k]

    # ------------------------------------------------------------------ runs

    def _add_runs(self, layout: RunLayout, x: np.ndarray) -> None:
        """The terms of a piece of whole runs (``x`` in the layout's row order)."""
        eta = x @ self.beta
        self.max_abs_eta = max(self.max_abs_eta, float(np.abs(eta).max()))
        w = np.exp(eta - self.shift[layout.stratum] if self.shift.any() else eta)
        weighted = np.empty((w.size, 1 + self.p))
        weighted[:, 0] = w
        np.multiply(w[:, None], x, out=weighted[:, 1:])
        # exact times: most pieces have one row per group, nothing to add up
        groups = weighted if layout.starts.size == w.size else \
            np.add.reduceat(weighted, layout.starts, axis=0)
        at_risk = self._risk_sums(groups, layout.group_stratum)
        g = None
        if self.events is not None or self.zph is not None:
            g = self._pooled(layout)
        h = np.zeros((self.second.shape[0], layout.starts.size))  # h q per group
        dead = layout.dead
        if dead.size:
            events = np.add.reduceat(weighted[layout.event_rows], layout.event_starts, axis=0)
            q = None if self.zph is None else g[layout.group_run[dead]]
            h[:, dead] = self._add_event_groups(layout, x, at_risk[dead], events, q)
        self._add_moments(layout, x, w, h)

    def _risk_sums(self, every: np.ndarray, group_stratum: np.ndarray) -> np.ndarray:
        """Per group, the sums over its stratum's rows at or after its time: a running sum
        in decreasing time, continued from the earlier chunks."""
        out = np.empty_like(every)
        for lo, hi in _segments(group_stratum):
            s = group_stratum[lo]
            block = np.cumsum(every[lo:hi], axis=0)
            block += self.carry[s]
            out[lo:hi] = block
            self.carry[s] = block[-1]
        return out

    def _add_moments(self, layout: RunLayout, x_all, w, h) -> None:
        """Add ``sum_k h_k S2_k`` over the piece's event times: ``S2_k`` is the stratum's
        ``sum w x x'`` over the earlier pieces plus, within this piece, over the rows
        at or before the time of ``k`` in the stream -- so each row weighs the sum of the
        piece's ``h`` from its own group on."""
        group_stratum = layout.group_stratum
        row_starts = np.append(layout.starts, w.size)
        for lo, hi in _segments(group_stratum):
            s = group_stratum[lo]
            x = x_all[row_starts[lo]:row_starts[hi]]
            ws = w[row_starts[lo]:row_starts[hi]]
            sizes = np.diff(row_starts[lo:hi + 1])
            for k in range(h.shape[0]):
                from_here = np.cumsum(h[k, lo:hi][::-1])[::-1]
                per_row = np.repeat(from_here, sizes) * ws
                self.second[k] += from_here[0] * self.risk_moment[s] \
                    + x.T @ (x * per_row[:, None])
            self.risk_moment[s] += x.T @ (x * ws[:, None])

    def _pooled(self, layout: RunLayout) -> np.ndarray | None:
        """Per run (all strata pooled): record the event times, and return each run's
        ``g`` for the test (None without it)."""
        runs, run_time = layout.runs, layout.run_time
        run_deaths = np.bincount(layout.group_run, layout.group_deaths, minlength=runs)
        run_count = np.bincount(layout.group_run, layout.group_count,
                                minlength=runs).astype(np.int64)
        at_risk = self.pooled_at_risk + np.cumsum(run_count)
        self.pooled_at_risk = int(at_risk[-1])
        dead = run_deaths > 0
        if self.events is not None:
            self.events.record(run_time[dead], run_deaths[dead], at_risk[dead].astype(float),
                               run_count[dead].astype(float))
        if self.zph is None:
            return None
        g = np.zeros(runs)
        taken = int(dead.sum())
        g[dead] = self.zph.g[self.zph.seen:self.zph.seen + taken]
        self.zph.seen += taken
        return g

    def _add_event_groups(self, layout: RunLayout, x, at_risk, events, q) -> np.ndarray:
        """:func:`.aggregate._terms`'s sums over a piece's event groups, added up; returns
        each group's weights ``h q`` of the second moments."""
        deaths, stratum = layout.deaths, layout.group_stratum[layout.dead]
        # contiguous copies: matrix products of strided columns skip BLAS (10x slower)
        s0, s1 = at_risk[:, 0], np.ascontiguousarray(at_risk[:, 1:])
        d0, d1 = events[:, 0], np.ascontiguousarray(events[:, 1:])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            inv_den = deaths / s0
            inv_den_sq = deaths / s0 ** 2
            log_den = deaths * np.log(s0)
            frac = [np.zeros(deaths.size) for _ in range(3)]
            ties = EfronTies(deaths)
            if self.efron:
                _efron_sums(ties, s0, d0, log_den, inv_den, inv_den_sq, frac)
            self.loglik -= float(log_den.sum()) + float(deaths @ self.shift[stratum])
            self.score -= s1.T @ inv_den - d1.T @ frac[0]
            weights = [np.ones(deaths.size)] if q is None else [np.ones_like(q), q, q * q]
            tied = ties.tied if self.efron else np.empty(0, dtype=np.intp)
            for k, v in enumerate(weights):
                self.mean_part[k] += s1.T @ (s1 * (v * inv_den_sq)[:, None])
                if tied.size:  # Efron's terms: zero at times with one death
                    self.mean_part[k] += _efron_mean_part(
                        s1[tied], d1[tied], (v * frac[1])[tied], (v * frac[2])[tied])
            if self.efron and ties.tied.size:
                self._add_tied_second(layout, x, ties.tied, [v * frac[0] for v in weights])
            if q is not None:
                x_events = np.add.reduceat(x[layout.event_rows], layout.event_starts, axis=0)
                part = x_events - (s1 * inv_den[:, None] - d1 * frac[0][:, None])
                self.zph.score[0] = self.zph.score[0] + part.sum(axis=0)
                self.zph.score[1] = self.zph.score[1] + q @ part
                self.zph.deaths += float(deaths.sum())
                self.zph.deaths_g += float(deaths @ q)
        return np.array([v * inv_den for v in weights])

    def _add_tied_second(self, layout: RunLayout, x_all, tied, fractions) -> None:
        """Efron's ``sum w x x'`` over the events of each tied time, weighted by the time's
        fraction: only times with more than one death have a nonzero one."""
        event_rows = layout.event_rows
        size = np.diff(np.append(layout.event_starts, event_rows.size))
        slot = np.repeat(np.arange(size.size), size)
        members = np.flatnonzero(np.isin(slot, tied))
        rows = event_rows[members]
        x = x_all[rows]
        w = np.exp(x @ self.beta - self.shift[layout.stratum[rows]])
        for k, fraction in enumerate(fractions):
            self.tied_second[k] += x.T @ (x * (w * fraction[slot[members]])[:, None])


def _segments(labels: np.ndarray):
    """``(lo, hi)`` of each run of equal values of ``labels``."""
    bounds = np.flatnonzero(np.diff(labels)) + 1
    return zip(np.append(0, bounds), np.append(bounds, labels.size))


def _efron_mean_part(s1, d1, frac1, frac2) -> np.ndarray:
    """Efron's part of the risk-set means' outer products at tied times
    (:func:`.aggregate._terms`'s ``mean_part`` less its Breslow term)."""
    cross = s1.T @ (d1 * frac1[:, None])
    return d1.T @ (d1 * frac2[:, None]) - cross - cross.T


def zph_sums(events: EventTimes) -> ZphSums:
    """The empty sums of ``cox.zph``'s test for the recorded event times, ``g`` in the
    order the stream meets them."""
    return ZphSums(events.transformed()[::-1])


def zph_streamed(fit, sums: ZphSums, transform: str, groups=None):
    """``cox.zph`` (:func:`~.aggregate_tests.zph_result`) from the streamed sums at the
    fit's ``beta``."""
    from cohortpress.stats.coxph.aggregate_tests import zph_result

    score, information = sums.centred()
    return zph_result(fit, score, information, transform, groups)
