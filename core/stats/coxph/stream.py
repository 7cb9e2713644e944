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

from cohortpress.stats.coxph.aggregate import AggregateModel, _Terms
from cohortpress.stats.event_times import near_tied

__all__ = ["StreamRows", "RunSplitter", "StreamedCox", "DistinctTimeScale",
           "EventTimes", "ZphSums", "distinct_time_scale", "zph_sums", "zph_streamed"]


#: Rows evaluated at a time: the pieces of a chunk, cut at runs of tied times. Each piece's
#: sums start from zero and are then added to the earlier pieces' (:meth:`StreamedCox.
#: _add_moments`): one running sum over millions of rows would lose digits (a binary
#: column's two weights, added alike again and again, round alike); the pieces also stay
#: in the processor's cache.
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

    The rows travel as a dict of 1-D columns (``"t"`` the times; any others cut alike),
    so that models on the same rows share the cutting. The pieces are views of the chunk's
    columns but for the first, which begins with the rows held from the chunk before."""

    def __init__(self, scale: float):
        self.scale = scale
        self.held: dict | None = None
        self.last_time = math.inf

    def pieces(self, columns: dict):
        """The pieces ``(columns, run_start)`` of the whole runs this chunk completes."""
        time = columns["t"]
        if time.size:
            if time[0] > self.last_time or (np.diff(time) > 0).any():
                raise RowsOutOfOrder("the streamed rows are not in decreasing time")
            self.last_time = float(time[-1])
        held = self.held if self.held is not None else {k: v[:0] for k, v in columns.items()}
        rows = _Rows(held, columns)
        if not rows.size:
            return
        run_start = self.run_starts(np.concatenate((held["t"], time)))
        last = run_start[-1]
        self.held = rows.take(last, rows.size, copy=True)
        yield from self._cut(rows, run_start[:-1], last)

    def flush(self):
        """The pieces of the rows still held, after the last chunk."""
        if self.held is not None and self.held["t"].size:
            held, self.held = self.held, None
            rows = _Rows(held, {k: v[:0] for k, v in held.items()})
            yield from self._cut(rows, self.run_starts(held["t"]), rows.size)

    def run_starts(self, time: np.ndarray) -> np.ndarray:
        """The first row of each run of near-equal distinct times."""
        new = np.empty(time.size, dtype=bool)
        new[0] = True
        np.not_equal(time[1:], time[:-1], out=new[1:])
        distinct = np.flatnonzero(new)
        tied = near_tied(time[distinct[:-1]] - time[distinct[1:]], self.scale)
        return distinct[np.concatenate(([True], ~tied))]

    @staticmethod
    def _cut(rows: "_Rows", run_start: np.ndarray, end: int):
        """The pieces of the rows up to ``end``, whose runs begin at ``run_start``."""
        if not run_start.size:
            return
        cuts = np.unique(np.searchsorted(run_start, np.arange(0, end, PIECE_ROWS),
                                         side="right") - 1)
        edges = np.append(cuts, run_start.size)
        for first, last in zip(edges[:-1], edges[1:]):
            lo = run_start[first]
            hi = run_start[last] if last < run_start.size else end
            yield rows.take(lo, hi), run_start[first:last] - lo


class _Rows:
    """The rows held from the chunk before followed by a chunk's, without copying the
    chunk: :meth:`take` gives rows ``lo:hi`` of the two, as views when they lie in one."""

    def __init__(self, held: dict, columns: dict):
        self.held, self.columns = held, columns
        self.start = held["t"].size
        self.size = self.start + columns["t"].size

    def take(self, lo: int, hi: int, copy: bool = False) -> dict:
        start = self.start
        if lo >= start:
            out = {k: v[lo - start:hi - start] for k, v in self.columns.items()}
        elif hi <= start:
            out = {k: v[lo:hi] for k, v in self.held.items()}
        else:
            return {k: np.concatenate((v[lo:], self.columns[k][:hi - start]))
                    for k, v in self.held.items()}
        # held rows are copied: a view would keep the whole chunk alive
        return {k: v.copy() for k, v in out.items()} if copy else out


class RowsOutOfOrder(RuntimeError):
    """Rows streamed in another order than by decreasing time."""


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

    Feed every chunk to :meth:`add` (or its complete runs to :meth:`add_runs`), then
    :meth:`finish` gives the terms of :mod:`.aggregate`'s Newton step (log-likelihood,
    score, information, largest ``|x' beta|``; no per-time arrays). ``events`` records
    :class:`EventTimes`; ``zph`` adds the test's sums for the event times' ``g``.

    Per piece of rows (:class:`RunSplitter`), the risk sets and the event times' terms
    come from one compiled pass (:func:`.stream_kernel.scan_runs`: running sums per
    stratum), the ``p x p`` sums from matrix products weighted by it. The risk sets'
    second moments enter the information only through ``sum_k h_k S2_k`` (``h_k`` the
    weight of event time ``k``, ``d_k / S0_k`` for Breslow), added up per piece without
    ``p x p`` sums per time (:meth:`_add_moments`).

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
        self.model, self.efron = model, efron
        self.beta = np.ascontiguousarray(beta, dtype=float)
        self.shift = np.ascontiguousarray(shift, dtype=float)
        self.scale = scale
        self.events, self.zph = events, zph
        p = self.p = self.beta.size
        strata = model.strata.size
        weights = 3 if zph is not None else 1  # h q_k with q = 1 (and g, g^2 for the test)
        self.carry = np.zeros((strata, 1 + p))  # risk sums of w and w x per stratum
        self.moment = np.zeros((strata, p, p))  # sum of w x x' of the rows seen
        # sum over event times of h q S2, Efron's event-set correction, the means' part
        self.sums = np.zeros((3, weights, p, p))
        self.totals = np.zeros(4)  # loglik part, largest |eta|, the test's deaths and g
        self.test_score = np.zeros((2, p))
        self.pooled_at_risk = 0
        self.splitter = RunSplitter(scale)
        self.score = np.array(model.x_event_sum, dtype=float)
        self.work = None  # scan_runs's arrays, kept from piece to piece

    # ------------------------------------------------------------------ chunks

    def add(self, rows: StreamRows) -> None:
        """Take a chunk; the rows of its last run of near-equal times wait for the next."""
        x = np.asarray(rows.x, dtype=float)
        columns = dict(s=rows.stratum, t=rows.time, e=rows.event,
                       **{f"x{j}": x[:, j] for j in range(self.p)})
        for piece, run_start in self.splitter.pieces(columns):
            self.add_runs(piece, run_start)

    def add_runs(self, piece: dict, run_start: np.ndarray, columns=None, means=None) -> None:
        """Take rows of whole runs of near-equal times (``run_start`` their first rows),
        as :class:`RunSplitter` gives them: the model's columns are ``piece``'s
        ``columns`` (default: ``x0``, ``x1``, ...; models on the same rows share the
        piece), centred at ``means`` (default: already centred)."""
        # imported here: numba takes most of a second to import, and only a streamed fit
        # needs it (a module-level import reached every build through the engine's Cox)
        from cohortpress.stats.coxph.stream_kernel import scan_runs, workspace

        if columns is None:
            columns, means = [f"x{j}" for j in range(self.p)], np.zeros(self.p)
        stratum = np.asarray(piece["s"], dtype=np.int64)
        x = np.empty((self.p, stratum.size))
        for j, name in enumerate(columns):
            np.subtract(piece[name], means[j], out=x[j])
        g = self._pooled(piece["t"], piece["e"], run_start)
        rows = stratum.size
        if self.work is None or self.work[0].size < rows:
            # room for more: a piece holds whole runs, so it may exceed PIECE_ROWS
            self.work = workspace(2 * rows, self.p, self.carry.shape[0], self.sums.shape[1])
        times, tied = scan_runs(x, self.beta, self.shift, stratum,
                                np.asarray(piece["e"], dtype=bool),
                                np.asarray(run_start, dtype=np.int64), g, self.efron,
                                self.carry, self.score, self.totals, self.test_score,
                                self.work)
        w, weight, s1, d1, coef, _, _, _, h_total, tied_rows, tied_weight = self.work
        self._add_moments(x, stratum, w[:rows], weight[:, :rows], h_total)
        self._add_means(s1[:times].T, d1[:times].T, coef[:times])
        if tied:  # Efron's events at tied times
            x_tied = x[:, tied_rows[:tied]]
            for k, second in enumerate(self.sums[1]):
                second += _gram(x_tied, x_tied, tied_weight[k, :tied])

    def _add_moments(self, x, stratum, w, weight, h_total) -> None:
        """Add ``sum_k h_k q_k S2_k`` over the piece's event times: ``S2_k`` is the
        stratum's ``sum w x x'`` over the earlier pieces (``moment``), whose weight is the
        sum of the piece's ``h q``, plus the piece's rows down to the time of ``k``, each
        weighing the sum of its stratum's ``h q`` from its own time down (``weight``) --
        sums of like-signed terms only (a "total minus later" variant lost digits)."""
        for k, second in enumerate(self.sums[0]):
            for s in np.flatnonzero(h_total[:, k]):
                second += h_total[s, k] * self.moment[s]
            second += _gram(x, x, weight[k])
        if self.moment.shape[0] == 1:
            self.moment[0] += _gram(x, x, w)
            return
        for s in np.unique(stratum):
            rows = np.flatnonzero(stratum == s)
            x_s = x[:, rows]
            self.moment[s] += _gram(x_s, x_s, w[rows])

    def _add_means(self, s1, d1, coef) -> None:
        """Add the risk-set means' outer products over the piece's event times, with
        Efron's terms at the tied ones (:func:`.aggregate._terms`'s ``mean_part``)."""
        tied = np.flatnonzero(coef[:, 1, 0])
        s1_tied, d1_tied = s1[:, tied], d1[:, tied]
        for k, mean in enumerate(self.sums[2]):
            mean += _gram(s1, s1, coef[:, 0, k])
            if tied.size:
                cross = _gram(s1_tied, d1_tied, coef[tied, 1, k])
                mean += _gram(d1_tied, d1_tied, coef[tied, 2, k]) - cross - cross.T

    def finish(self) -> _Terms:
        """The terms, after the last chunk."""
        for piece, run_start in self.splitter.flush():
            self.add_runs(piece, run_start)
        if self.events is not None:
            self.events.rows = self.pooled_at_risk
        information = self._information(0)
        if self.zph is not None:
            self.zph.information = [self._information(k) for k in range(3)]
            self.zph.score = [self.test_score[0].copy(), self.test_score[1].copy()]
            self.zph.deaths, self.zph.deaths_g = float(self.totals[2]), float(self.totals[3])
        loglik = float(self.beta @ self.model.x_event_sum) + float(self.totals[0])
        return _Terms(loglik, self.score, information, *([None] * 10), float(self.totals[1]))

    def _information(self, k: int) -> np.ndarray:
        """The information with weight ``q`` number ``k`` on the event times."""
        second, tied, mean = self.sums[:, k]
        return second - tied - mean

    def _pooled(self, time: np.ndarray, event: np.ndarray,
                run_start: np.ndarray) -> np.ndarray:
        """Per run (all strata pooled): record the event times, and return each run's
        ``g`` for the test (empty without it)."""
        if self.events is None and self.zph is None:
            return _NO_TEST
        rows = time.size
        run_count = np.diff(np.append(run_start, rows))
        run_deaths = np.add.reduceat(np.asarray(event, dtype=np.int64), run_start)
        at_risk = self.pooled_at_risk + np.cumsum(run_count)
        self.pooled_at_risk = int(at_risk[-1])
        dead = run_deaths > 0
        if self.events is not None:
            run_time = time[np.append(run_start[1:], rows) - 1]
            self.events.record(run_time[dead], run_deaths[dead].astype(float),
                               at_risk[dead].astype(float), run_count[dead].astype(float))
        if self.zph is None:
            return _NO_TEST
        g = np.zeros(run_start.size)
        taken = int(dead.sum())
        g[dead] = self.zph.g[self.zph.seen:self.zph.seen + taken]
        self.zph.seen += taken
        return g


_NO_TEST = np.empty(0)
#: Columns of a weighted product taken at a time (:func:`_gram`): larger products make
#: BLAS start threads, whose waiting doubled the CPU seconds of the fit.
GRAM_COLUMNS = 8192


def _gram(u: np.ndarray, v: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``sum_i weight_i u_i v_i'`` over the columns ``i`` of ``u`` and ``v``, ``(p, n)``."""
    if weight.size <= GRAM_COLUMNS:
        return u @ (v * weight).T
    out = np.zeros((u.shape[0], v.shape[0]))
    for lo in range(0, weight.size, GRAM_COLUMNS):
        part = slice(lo, lo + GRAM_COLUMNS)
        out += u[:, part] @ (v[:, part] * weight[part]).T
    return out


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
