"""Survival on the engine path when an endpoint's aggregate table would not fit in memory.

With exact times the aggregate table of :mod:`cohortpress.kit.engine_survival` has about a
row per patient, and at registry scale (10^8 patients) neither it nor the curves computed
from it fit in memory. Here the engine stores the endpoint's rows once, sorted by time,
and the section reads them twice, in chunks of :data:`CHUNK_ROWS`:

1. the patients of each curve and each stratum, and the mean distinct time of each set
   of rows whose near-ties are merged together (``aeqSurv``'s scale: each group's curve,
   the overall curve and follow-up, the test's rows);
2. each chunk's per-time table, tabulated as the whole table would be (the same scale,
   the chunk cut where no near-tie can span the cut), fed to one
   :class:`~cohortpress.stats.km_stream.StreamedKaplanMeier` per curve (and one for the
   reverse Kaplan–Meier follow-up) and a :class:`~cohortpress.stats.logrank.StreamedLogrank`.

The curves keep the rows the table, the figure and the risk table read; every number is
the one the in-memory estimators give on the whole table. What needs all of a curve's
rows (the restricted mean), every pair of groups (pairwise tests), the competing causes'
incidence or a disclosure rule's released cohort is refused in one line before the build
(:func:`streamed_refusal`). Like the streamed Cox fit, this reads the patients' rows into
this process, a chunk at a time; the section says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cohortpress.common.errors import DataError, StatisticsError
from cohortpress.kit.engine_survival import code_sql, small_codes
from cohortpress.stats.event_times import near_tied, tabulate_by_time
from cohortpress.stats.coxph.stream import DistinctTimeScale
from cohortpress.stats.km_stream import StreamedKaplanMeier

#: Rows per chunk read from the engine.
CHUNK_ROWS = 1 << 20

#: Options a streamed endpoint cannot honour, and why (:func:`streamed_refusal`).
STREAM_REFUSED = {
    "rmst": "the restricted mean needs every row of the curve",
    "pairwise": "pairwise tests need each pair's own table",
}

GROUPED = "grouped"  # the curve of every patient with a group: "Overall"


@dataclass
class StreamedEndpoint:
    """What the section reports of one streamed endpoint: per curve (by its level) the kept
    Kaplan–Meier fit (None without patients), its patients and events; the group test or
    the reason there is none; the reverse Kaplan–Meier follow-up fit."""

    fits: dict = field(default_factory=dict)
    patients: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)
    test: object = None
    test_error: str | None = None
    too_few_groups: bool = False
    followup: object = None


def streamed_refusal(options, endpoint, disclosure: bool = False) -> str | None:
    """The line refusing what a streamed ``endpoint`` cannot compute under ``options`` (and
    a disclosure rule), or None."""
    where = (f"endpoint '{endpoint.name}' has too many distinct times for its aggregate "
             f"table to fit in memory, so its survival is computed from its rows in time "
             f"order, which")
    if endpoint.has_competing and options.cumulative_incidence:
        return f"{where} does not give the competing causes' cumulative incidence yet"
    if disclosure:
        return f"{where} cannot apply the disclosure rule's released cohort yet"
    for key, why in STREAM_REFUSED.items():
        if getattr(options, key):
            return f"{where} cannot give '{key}' ({why}); leave it out for this cohort"
    return None


@dataclass(frozen=True)
class _Layout:
    """Codes of the stored rows: the group index of each code, the curves, the strata."""

    group_index: np.ndarray   # code + 1 -> index of the group among the present (-1: none)
    stratum_index: np.ndarray  # code + 1 -> index of the stratum among the present
    group_codes: np.ndarray   # group codes present in the test's rows, ascending
    n_strata: int


def streamed_endpoint(cohort, name: str, by: str | None, strata: str | None, members,
                      options, probes, horizon: float) -> StreamedEndpoint:
    """Kaplan–Meier curves, the group test and the follow-up of endpoint ``name`` from its
    rows in time order (the module's two passes).

    Parameters
    ----------
    cohort : EngineCohort
    name : str
        The endpoint.
    by, strata : str or None
        The grouping and stratifying variables.
    members : sequence of (str, int or str)
        The curves: a level and the group index of its patients, or :data:`GROUPED`.
    options : SurvivalOptions
        ``conf_type``, ``conf_level``, ``test``, ``rho``, ``gamma``, ``followup``.
    probes : sequence of float
        Times whose rows the curves keep (landmarks, the risk table's times).
    horizon : float
        The figure's last time.
    """
    endpoint = cohort.endpoint(name)
    computed = {"g": code_sql(cohort, by), "s": code_sql(cohort, strata), "t": endpoint.time,
                "status": f"CAST({endpoint.status} AS INTEGER)"}
    with cohort.stored_rows([], computed, ["t"]) as rows:
        def chunks():
            return _checked(name, rows.stream_columns(
                'SELECT "g", "s", "t", "status" FROM {cohort}', CHUNK_ROWS))

        census = _census(chunks(), members)
        layout = census.layout()
        out = StreamedEndpoint()
        curves = {level: StreamedKaplanMeier(census.patients(key), options.conf_type,
                                             options.conf_level, probes=probes,
                                             horizon=horizon)
                  for level, key in members}
        reverse = StreamedKaplanMeier(census.patients(GROUPED), conf_level=options.conf_level) \
            if options.followup and census.patients(GROUPED) else None
        test = _test_stream(census, layout, options, out)
        scales = census.scales()
        carry = None
        for chunk in chunks():
            chunk = chunk if carry is None else {k: np.concatenate((carry[k], chunk[k]))
                                                 for k in chunk}
            cut = _safe_cut(chunk["t"], max(scales.values(), default=0.0))
            done = {k: v[:cut] for k, v in chunk.items()}
            carry = {k: v[cut:] for k, v in chunk.items()}
            _feed(done, members, curves, reverse, test, layout, scales)
        if carry is not None and carry["t"].size:
            _feed(carry, members, curves, reverse, test, layout, scales)
    for level, key in members:
        out.fits[level] = curves[level].fit()
        out.patients[level] = census.patients(key)
        out.events[level] = curves[level].events_seen
    if test is not None:
        try:
            out.test = test.trend() if options.test == "trend" else test.result().test
        except StatisticsError as exc:
            out.test_error = str(exc)
    if reverse is not None:
        from cohortpress.stats.kaplan_meier import km_median

        out.followup = km_median(reverse.fit())
    return out


def streamed_sentence(endpoints) -> str:
    """The methods sentence of a section's streamed endpoints: ``(label, distinct times)``
    pairs, in order."""
    from cohortpress.common.formatting import in_sentence
    from cohortpress.kit.prose import join_list

    labels = [label if k == 0 else in_sentence(label) for k, (label, _) in enumerate(endpoints)]
    counts = join_list(f"{n:,}" for _, n in endpoints)
    one = len(endpoints) == 1
    return (f"{join_list(labels)} {'has' if one else 'have'} about {counts} distinct times"
            f"{'' if one else ', respectively'} (counted per group), too many for a table "
            f"of counts per time in memory: {'its' if one else 'their'} estimates were computed from the patients' rows "
            f"read from the engine in time order, in chunks of {CHUNK_ROWS:,}, keeping "
            f"running sums and the rows of each curve the report shows.")


def _checked(name: str, chunks):
    """The stored rows' chunks as NumPy arrays (codes -1 for NULL), checked: no missing
    time or status, times in ascending order (the order the rows were stored in)."""
    last = -np.inf
    for chunk in chunks:
        time = np.asarray(chunk["t"], dtype=float)
        if np.isnan(time).any():
            raise DataError(f"endpoint '{name}' has missing times in the engine's view")
        status = np.asarray(chunk["status"], dtype=float)
        if np.isnan(status).any():
            raise DataError(f"endpoint '{name}' has missing status codes in the engine's view")
        if time.size and (time[0] < last or (np.diff(time) < 0).any()):
            raise DataError(f"endpoint '{name}': the engine returned its stored rows out of "
                            f"time order")
        last = time[-1] if time.size else last
        # int64: the census combines the codes arithmetically
        yield {"t": time, "event": status == 1, "g": small_codes(chunk["g"]).astype(np.int64),
               "s": small_codes(chunk["s"]).astype(np.int64)}


class _Census:
    """The first pass: patients per (group code, stratum code) and, per set of rows whose
    near-ties merge together, the sum and number of its distinct times."""

    def __init__(self, members):
        self.keys = list(dict.fromkeys([key for _, key in members] + [GROUPED, "test"]))
        self.times = {key: DistinctTimeScale() for key in self.keys}
        self.cells: dict[tuple[int, int], int] = {}

    def add(self, chunk) -> None:
        g, s = chunk["g"], chunk["s"]
        width = int(s.max()) + 2 if s.size else 1  # codes from -1: a bincount, not a sort
        cells = np.bincount((g + 1) * width + (s + 1))
        for cell in np.flatnonzero(cells).tolist():
            key = (cell // width - 1, cell % width - 1)
            self.cells[key] = self.cells.get(key, 0) + int(cells[cell])
        for key in self.keys:
            self.times[key].add(chunk["t"][_rows_of(key, g, s)])

    def patients(self, key) -> int:
        return sum(n for (code, stratum), n in self.cells.items()
                   if _member(key, code, stratum))

    def scales(self) -> dict:
        """The mean absolute distinct time of each set of rows (``aeqSurv``'s scale)."""
        return {key: times.scale for key, times in self.times.items() if times.count}

    def layout(self) -> _Layout:
        tested = [(code, stratum) for (code, stratum), n in self.cells.items()
                  if n and code >= 0 and stratum >= 0]
        codes = np.array(sorted({c for c, _ in tested}), dtype=np.int64)
        strata = sorted({s for _, s in tested})
        width = max([c for c, _ in self.cells] + [s for _, s in self.cells] + [0]) + 2
        group_index = np.full(width, -1)
        group_index[codes + 1] = np.arange(codes.size)
        stratum_index = np.full(width, -1)
        stratum_index[np.array(strata, dtype=np.int64) + 1] = np.arange(len(strata))
        return _Layout(group_index, stratum_index, codes, len(strata))

    def test_totals(self, layout: _Layout) -> np.ndarray:
        totals = np.zeros((layout.n_strata, layout.group_codes.size), dtype=np.int64)
        for (code, stratum), n in self.cells.items():
            if code >= 0 and stratum >= 0:
                totals[layout.stratum_index[stratum + 1], layout.group_index[code + 1]] += n
        return totals


def _census(chunks, members) -> _Census:
    census = _Census(members)
    for chunk in chunks:
        census.add(chunk)
    return census


def _member(key, code: int, stratum: int) -> bool:
    if key == GROUPED:
        return code >= 0
    if key == "test":
        return code >= 0 and stratum >= 0
    return code == key


def _rows_of(key, g: np.ndarray, s: np.ndarray) -> np.ndarray:
    if key == GROUPED:
        return g >= 0
    if key == "test":
        return (g >= 0) & (s >= 0)
    return g == key


def _test_stream(census: _Census, layout: _Layout, options, out: StreamedEndpoint):
    """The streamed group test (None without one; ``out`` says when there are too few
    groups)."""
    from cohortpress.stats.logrank import StreamedLogrank

    if options.test == "none":
        return None
    if layout.group_codes.size < 2:
        out.too_few_groups = True
        return None
    return StreamedLogrank(census.test_totals(layout), layout.group_codes, options.rho,
                           options.gamma)


def _safe_cut(time: np.ndarray, scale: float) -> int:
    """How many of a chunk's first rows to tabulate now: up to the last gap between
    consecutive times that no set of rows merges (:func:`near_tied` at the largest
    scale), so that no run of near-ties spans the cut."""
    gaps = np.flatnonzero(~near_tied(np.diff(time), scale))
    return int(gaps[-1]) + 1 if gaps.size else 0


def _feed(rows, members, curves, reverse, test, layout: _Layout, scales) -> None:
    """One time-ordered piece of the rows, tabulated per curve and for the test."""
    if not rows["t"].size:
        return
    g, s, time, event = rows["g"], rows["s"], rows["t"], rows["event"]
    for level, key in members:
        picked = _rows_of(key, g, s)
        if picked.any():
            times, table = tabulate_by_time(time[picked], event[picked].astype(np.intp), 2,
                                            scale=scales[key])
            curves[level].add(times, table[:, 1], table[:, 0])
            if reverse is not None and key == GROUPED:
                reverse.add(times, table[:, 0], table[:, 1])
    if reverse is not None and GROUPED not in [key for _, key in members]:
        picked = g >= 0
        if picked.any():
            times, table = tabulate_by_time(time[picked], event[picked].astype(np.intp), 2,
                                            scale=scales[GROUPED])
            reverse.add(times, table[:, 0], table[:, 1])
    if test is not None:
        picked = (g >= 0) & (s >= 0)
        if picked.any():
            k = layout.group_codes.size
            labels = (layout.stratum_index[s[picked] + 1] * k
                      + layout.group_index[g[picked] + 1]) * 2 + event[picked]
            _, table = tabulate_by_time(time[picked], labels, 2 * k * layout.n_strata,
                                        scale=scales["test"])
            for stratum in range(layout.n_strata):
                piece = table[:, 2 * k * stratum:2 * k * (stratum + 1)]
                if piece.any():
                    test.add(stratum, piece)
