"""Kaplan–Meier from per-time counts that arrive in time order, keeping the rows a report reads.

With exact times a registry's curve has about a row per patient: at 10^8 patients its
arrays (times, numbers at risk, estimates, standard errors, limits) would take some 7 GB.
:class:`StreamedKaplanMeier` takes the per-time table a piece at a time and computes every
row as :func:`~cohortpress.stats.kaplan_meier.kaplan_meier` does on the whole table, with
the same products and sums in the same order (each piece continues the previous one's
last survival and Greenwood sum), so the rows it keeps are the whole curve's, digit for
digit. It keeps:

- the first and last row of each piece, which include the curve's first and last rows;
- the first and last row in each of ``buckets`` equal slices of the time axis, enough to
  draw the curve at print resolution;
- for each probe time (landmarks, the risk table's times) the last row at or before it and
  the first row at or after it;
- the rows the median and its limits are read from: the first row at which each of the
  survival, the lower and the upper limit is at or below 0.5 and, when that row is at 0.5
  (a plateau), the next row lower.

The events and censorings of the rows left out are added to the next row kept, so sums
up to any kept row stay exact. The kept curve therefore gives exactly what
:func:`~cohortpress.stats.kaplan_meier.km_at` (at the probe times),
:func:`~cohortpress.stats.kaplan_meier.km_median`, the numbers at risk and cumulative
counts at the probe times, and the drawn figure read from the whole curve; what needs
every row (the restricted mean's area) does not take it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.event_times import R_TOLERANCE, read_only
from cohortpress.stats.kaplan_meier import (KMFit, check_conf_type, confidence_limits,
                                            z_value)

__all__ = ["StreamedKaplanMeier", "DRAWN_BUCKETS"]

#: Slices of the time axis whose first and last rows a kept curve holds: more than the
#: dots of the widest figure (180 mm at 600 dpi is about 4,250).
DRAWN_BUCKETS = 8192


@dataclass
class _HalfCrossing:
    """Where one curve (survival or a limit) first reaches 0.5: the row's value once found,
    and whether the next lower row is still wanted (a plateau at exactly 0.5)."""

    value: float | None = None
    awaiting_lower: bool = False

    def rows(self, values: np.ndarray) -> list[int]:
        """Rows of this piece to keep for the crossing; updates the state."""
        defined = ~np.isnan(values)
        found = []
        start = 0
        if self.value is None:
            at_or_below = np.flatnonzero(defined & (values < 0.5 + R_TOLERANCE))
            if not at_or_below.size:
                return found
            first = int(at_or_below[0])
            found.append(first)
            self.value = float(values[first])
            self.awaiting_lower = abs(self.value - 0.5) < R_TOLERANCE
            start = first + 1
        if self.awaiting_lower:
            lower = np.flatnonzero(defined[start:] & (values[start:] < self.value))
            if lower.size:
                found.append(start + int(lower[0]))
                self.awaiting_lower = False
        return found


@dataclass
class _Kept:
    """The kept rows so far, piece by piece."""

    parts: dict = field(default_factory=lambda: {k: [] for k in (
        "time", "n_risk", "n_event", "n_censor", "surv", "std_err_log", "conf_low",
        "conf_high")})

    def add(self, **columns) -> None:
        for name, values in columns.items():
            self.parts[name].append(values)

    def column(self, name: str, dtype) -> np.ndarray:
        pieces = self.parts[name]
        return np.concatenate(pieces).astype(dtype, copy=False) if pieces else \
            np.empty(0, dtype=dtype)


class StreamedKaplanMeier:
    """One Kaplan–Meier curve from its per-time table in time-ordered pieces.

    Parameters
    ----------
    n : int
        Patients of the curve (its number at risk at the first time).
    conf_type, conf_level
        As for :func:`~cohortpress.stats.kaplan_meier.kaplan_meier`.
    probes : sequence of float
        Times whose neighbouring rows are kept (landmarks, risk-table times).
    horizon : float
        The last time of the axis the figure draws (the longest follow-up); 0: keep no
        rows for drawing.
    buckets : int
        Slices of ``[0, horizon]`` whose first and last rows are kept.
    """

    def __init__(self, n: int, conf_type: str = "log", conf_level: float = 0.95, *,
                 probes=(), horizon: float = 0.0, buckets: int = DRAWN_BUCKETS):
        check_conf_type(conf_type)
        self.z = z_value(conf_level)
        self.conf_type, self.conf_level = conf_type, float(conf_level)
        self.n = int(n)
        self.remaining = int(n)
        self.surv, self.greenwood = 1.0, 0.0
        self.events_seen, self.censored_seen = 0, 0
        self.probes = np.sort(np.asarray(probes, dtype=float))
        self.horizon, self.buckets = float(horizon), int(buckets)
        self.crossings = [_HalfCrossing() for _ in range(3)]
        self.kept = _Kept()

    def add(self, times: np.ndarray, n_event: np.ndarray, n_censor: np.ndarray) -> None:
        """The next piece of the curve's table: distinct times (ascending, after every
        earlier piece's) with their events and censorings, no row without either."""
        if not times.size:
            return
        exits = n_event + n_censor
        after = self.remaining - np.cumsum(exits)
        if after[-1] < 0:
            raise StatisticsError("a piece of the Kaplan–Meier table has more patients than "
                                  "the curve's total")
        n_risk = after + exits
        risk, deaths = n_risk.astype(float), n_event.astype(float)
        # the previous piece's last value prepended: the products and sums of one table
        surv = np.cumprod(np.concatenate(([self.surv], (risk - deaths) / risk)))[1:]
        with np.errstate(divide="ignore"):
            greenwood = np.cumsum(np.concatenate(([self.greenwood],
                                                  deaths / (risk * (risk - deaths)))))[1:]
        std_err_log = np.sqrt(greenwood)
        low, high = confidence_limits(surv, std_err_log, self.conf_type, self.z)
        rows = self._rows_kept(times, (surv, low, high))
        events = np.cumsum(n_event) + self.events_seen
        censored = np.cumsum(n_censor) + self.censored_seen
        # every piece's last row is kept: the counts since the last kept row start after it
        self.kept.add(time=times[rows], n_risk=n_risk[rows],
                      n_event=np.diff(events[rows], prepend=self.events_seen),
                      n_censor=np.diff(censored[rows], prepend=self.censored_seen),
                      surv=surv[rows], std_err_log=std_err_log[rows], conf_low=low[rows],
                      conf_high=high[rows])
        self.remaining = int(after[-1])
        self.surv, self.greenwood = float(surv[-1]), float(greenwood[-1])
        self.events_seen, self.censored_seen = int(events[-1]), int(censored[-1])

    def _rows_kept(self, times: np.ndarray, curves) -> np.ndarray:
        """Indices (ascending) of this piece's rows the kept curve holds."""
        keep = np.zeros(times.size, dtype=bool)
        keep[[0, -1]] = True
        if self.horizon > 0 and self.buckets > 0:
            bucket = np.minimum(times * (self.buckets / self.horizon), self.buckets)
            bucket = bucket.astype(np.int64)
            changes = np.flatnonzero(bucket[1:] != bucket[:-1])
            keep[changes] = True       # last row of a slice
            keep[changes + 1] = True   # first row of the next
        if self.probes.size:
            at_or_before = np.searchsorted(times, self.probes, side="right") - 1
            at_or_after = np.searchsorted(times, self.probes, side="left")
            keep[at_or_before[at_or_before >= 0]] = True
            keep[at_or_after[at_or_after < times.size]] = True
        for crossing, values in zip(self.crossings, curves):
            keep[crossing.rows(values)] = True
        return np.flatnonzero(keep)

    def fit(self) -> KMFit | None:
        """The kept curve, or None for a curve without patients."""
        if self.n == 0:
            return None
        if self.remaining:
            raise StatisticsError(f"the Kaplan–Meier table ended with {self.remaining} of "
                                  f"its {self.n} patients not seen")
        kept = self.kept
        surv = kept.column("surv", float)
        std_err_log = kept.column("std_err_log", float)
        with np.errstate(invalid="ignore"):
            std_err = surv * std_err_log
        return KMFit(
            time=read_only(kept.column("time", float)),
            n_risk=read_only(kept.column("n_risk", np.int64)),
            n_event=read_only(kept.column("n_event", np.int64)),
            n_censor=read_only(kept.column("n_censor", np.int64)),
            surv=read_only(surv), std_err=read_only(std_err),
            std_err_log=read_only(std_err_log),
            conf_low=read_only(kept.column("conf_low", float)),
            conf_high=read_only(kept.column("conf_high", float)),
            conf_type=self.conf_type, conf_level=self.conf_level, n=self.n)
