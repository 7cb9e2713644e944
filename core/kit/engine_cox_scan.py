"""The Newton scans of the engine-path Cox models: one aggregate query per call, every
model's sums per (stratum, time) assembled from it.

Rows are grouped by (stratum, time, event) AND the codes of the models' factor variables.
Within such a group every factor column (a level's indicator, a product of levels) is one
number, so ``exp(x' beta) = exp(b_f' f) exp(b_c' c)`` with ``f`` the factor part, the same
for the whole group, and ``c`` the continuous columns (values of the rows). The query
therefore aggregates only the continuous parts -- ``sum exp(b_c' c)``, ``sum c exp(.)``,
``sum c c' exp(.)`` per model with continuous columns -- and the factor parts are put back
here from the group's codes; the aggregates per row no longer grow with factor levels. A
model with no continuous column needs only the rows per group, the same at every beta:
they are counted by the first query (per distinct complete-case condition) and later
evaluations of such models need no query at all.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cohortpress.data.engine.backend import literal
from cohortpress.stats.coxph.aggregate import ScanRequest, TimeSums, pair_indices

__all__ = ["ModelScans", "Scanner", "group_key_sql", "decode_group_key"]


def number_sql(value: float) -> str:
    """A float as an SQL literal (NaN and infinities as casts)."""
    value = float(value)
    if np.isfinite(value):
        # Parenthesised when negative: "x - -1.5" must never read as a comment ("--").
        return literal(value) if value >= 0 else f"({literal(value)})"
    return "CAST('NaN' AS DOUBLE)" if np.isnan(value) else \
        f"CAST('{'Infinity' if value > 0 else '-Infinity'}' AS DOUBLE)"


class _Columns:
    """Aggregates of one query, named c0, c1, ... in the order they are asked for."""

    def __init__(self):
        self.sql: list[str] = []

    def add(self, expression: str) -> str:
        name = f"c{len(self.sql)}"
        self.sql.append(f"{expression} AS {name}")
        return name


def _levels(cohort, factors: Sequence[str]) -> list[int]:
    """Per factor, its number of codes plus one (the last stands for a missing code)."""
    return [len(cohort.variable(v).levels) + 1 for v in factors]


def group_key_sql(cohort, factors: Sequence[str], endpoint) -> str:
    """One integer per row for the event indicator and every factor's code: hashing one
    key is cheaper for the engine than grouping by each."""
    key = "CAST(0 AS BIGINT)"
    for v, size in zip(factors, _levels(cohort, factors)):
        key = f"({key}) * {size} + CAST(COALESCE({cohort.column(v)}, {size - 1}) AS BIGINT)"
    return f"({key}) * 2 + CASE WHEN {endpoint.status} = 1 THEN 1 ELSE 0 END"


def decode_group_key(cohort, factors: Sequence[str],
                     key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The event indicator and the factors' codes (NaN when missing) of
    :func:`group_key_sql`'s keys."""
    event = (key % 2).astype(float)
    key = key // 2
    sizes = _levels(cohort, factors)
    codes = np.empty((key.size, len(sizes)))
    for i in reversed(range(len(sizes))):
        code = key % sizes[i]
        key = key // sizes[i]
        codes[:, i] = np.where(code == sizes[i] - 1, np.nan, code)
    return event, codes


class ModelScans:
    """What both kinds of scan keep: the cohort, the designs and the refits' subsets of
    them, the models (keys) of each call (``batches``) and the queries sent."""

    def __init__(self, cohort, designs: dict, subsets: dict):
        self.cohort = cohort
        self.designs = designs
        self.subsets = subsets  # refit key -> (design key, kept column positions)
        self.batches: list[tuple] = []
        self.queries = 0
        self.distinct_times = 0  # the endpoint's (approximately), said in the methods

    @property
    def scans(self) -> int:
        return len(self.batches)

    def model_of(self, key) -> tuple:
        """A scanned model's design and the positions of the design's columns it uses:
        its own design's, or for a refit the kept columns of its full model's."""
        if key in self.subsets:
            base, keep = self.subsets[key]
            return self.designs[base], list(keep)
        design = self.designs[key]
        return design, list(range(len(design.expressions)))


#: Values of the workspace :meth:`Scanner._reduce_blocks` fills at a time (8 MB).
_WORKSPACE = 1 << 20


class Scanner(ModelScans):
    """``scan(requests)``: every request's sums per (stratum, time), from at most one
    aggregate query. ``batches`` lists the models (keys) of each call, ``queries`` counts
    the queries actually sent."""

    def __init__(self, cohort, endpoint, stratum_sql: str, designs: dict, subsets: dict,
                 factors: Sequence[str], key_sql: str | None = None):
        super().__init__(cohort, designs, subsets)
        self.endpoint = endpoint
        self.stratum_sql = stratum_sql
        self.factors = list(factors)
        for design in designs.values():
            if not set(design.key_variables) <= set(self.factors):
                raise ValueError("a model's factor is not in the scan's group key")
        self.key_sql = key_sql or group_key_sql(cohort, self.factors, endpoint)
        self.counts: dict[str, np.ndarray] = {}  # row condition -> rows per group
        self.groups = None  # (stratum, time, event, codes) of the groups, fixed by the rows
        self._keys = None  # the groups' keys (event and codes), to check later queries
        self._group_starts = None


    def __call__(self, requests: Sequence[ScanRequest]) -> list[TimeSums]:
        self.batches.append(tuple(request.model.key for request in requests))
        plans = []
        for request in requests:
            design, used = self.model_of(request.model.key)
            continuous = [k for k, j in enumerate(used) if design.keys[j] is None]
            plans.append((design, used, continuous))
        wanted = {design.row_condition for design, _, _ in plans} - set(self.counts)
        if self.groups is None or wanted or any(c for _, _, c in plans):
            frame, asked = self._query(requests, plans, wanted)
        else:
            frame, asked = None, [None] * len(requests)
        return [self._sums(request, plan, frame, a)
                for request, plan, a in zip(requests, plans, asked)]

    def _query(self, requests, plans, wanted):
        # The first layer keeps every column of the rows (the design's expressions read
        # them), so its own columns carry a prefix no variable's name has; the layers
        # above select by name.
        flag = "cohortpress_flag_"
        flags = [f"{self.stratum_sql} AS {flag}s", f"{self.endpoint.time} AS {flag}t",
                 f"{self.key_sql} AS {flag}k"]
        inner = [f"{flag}s AS s", f"{flag}t AS t", f"{flag}k AS k"]
        middle = ["s", "t", "k"]
        weighted = ["s", "t", "k"]
        columns = _Columns()
        conditions = sorted(wanted)
        counted = {}
        for i, condition in enumerate(conditions):
            flags.append(f"1 AS {flag}n{i}" if condition == "TRUE"
                         else f"CASE WHEN {condition} THEN 1 ELSE 0 END AS {flag}n{i}")
            inner.append(f"{flag}n{i} AS n{i}")
            middle.append(f"n{i}")
            weighted.append(f"n{i}")
            counted[condition] = columns.add(f"SUM(n{i})")
        asked = []
        for r, (request, (design, used, continuous)) in enumerate(zip(requests, plans)):
            if not continuous:
                asked.append(None)
                continue
            # NULL outside the complete cases of the continuous variables (evaluated once
            # per row): so are the columns, eta and weight, which the aggregates then skip.
            flags.append(f"CASE WHEN {design.row_condition} THEN 1.0 END AS {flag}in{r}")
            xs = []
            for j, k in enumerate(continuous):
                e = design.expressions[used[k]]
                inner.append(f"{flag}in{r} * ({e} - {number_sql(request.model.means[k])}) "
                             f"AS x{r}_{j}")
                xs.append(f"x{r}_{j}")
            middle += xs
            beta = request.beta[continuous]
            eta = " + ".join(f"{number_sql(b)} * {x}" for b, x in zip(beta, xs))
            middle.append(f"{eta} AS e{r}")
            middle.append(f"EXP({eta}{self._shift_sql(request)}) AS w{r}")
            weighted += [f"e{r}", f"w{r}", *xs,
                         *(f"w{r} * {x} AS wx{r}_{j}" for j, x in enumerate(xs))]
            asked.append(dict(
                s0=columns.add(f"SUM(w{r})"),
                s1=[columns.add(f"SUM(wx{r}_{j})") for j in range(len(xs))],
                s2=[columns.add(f"SUM(wx{r}_{i} * {xs[j]})")
                    for i, j in zip(*pair_indices(len(xs)))],
                low=columns.add(f"MIN(e{r})"), high=columns.add(f"MAX(e{r})")))
        group = "s, t, k"
        sql = (f"SELECT {group}, {', '.join(columns.sql)} FROM (SELECT {', '.join(weighted)} "
               f"FROM (SELECT {', '.join(middle)} FROM (SELECT {', '.join(inner)} FROM "
               f"(SELECT *, {', '.join(flags)} FROM {{cohort}}) AS flagged) AS typed) "
               f"AS eta) AS weighted GROUP BY {group}")
        columns = self.cohort.query_columns(sql)
        self.queries += 1
        # Sorted here rather than by the engine (a quarter of the query's time): by
        # stratum, time, event, then the factors' codes (the key), a total order. Rows
        # without a stratum (a missing strata variable) are left out.
        stratum = columns["s"]
        inside = np.flatnonzero(~np.isnan(stratum)) if stratum.dtype.kind == "f" else None
        if inside is not None:
            columns = {name: values[inside] for name, values in columns.items()}
        key = columns["k"].astype(np.int64)
        stratum, time = columns["s"].astype(np.int64), columns["t"].astype(float)
        order = np.lexsort([key, key % 2, time, stratum])
        frame = {name: np.nan_to_num(values[order].astype(float), nan=0.0)
                 for name, values in columns.items() if name not in ("s", "t", "k")}
        stratum, time, key = stratum[order], time[order], key[order]
        if self.groups is None:
            self._keys = key
            self.groups = (stratum, time, *decode_group_key(self.cohort, self.factors, key))
        elif not all(np.array_equal(a, b, equal_nan=True) for a, b in
                     zip((self.groups[0], self.groups[1], self._keys), (stratum, time, key))):
            raise RuntimeError("the scan's groups changed between queries")
        for condition, name in counted.items():
            self.counts[condition] = frame[name]
        return frame, asked

    def _sums(self, request: ScanRequest, plan, frame, asked) -> TimeSums:
        """A request's sums per (stratum, time): its factor part from the group codes, its
        continuous part from the query.

        The per-group columns are laid out as rows of a ``(columns, groups)`` array (each
        written contiguously) and summed by ``reduceat`` over the (stratum, time, event)
        blocks the groups are sorted in (:meth:`_reduce_blocks`); all rows and the events
        then follow from the blocks."""
        design, used, continuous = plan
        stratum, time, event, codes = self.groups
        model = request.model
        p = len(used)
        valid = np.ones(stratum.size, dtype=bool)
        for v in design.key_variables:
            valid &= ~np.isnan(codes[:, self.factors.index(v)])
        count = np.where(valid, self.counts[design.row_condition], 0.0)
        factor = [k for k in range(p) if k not in continuous]
        f = np.empty((len(factor), stratum.size))
        for a, k in enumerate(factor):
            indicator = np.ones(stratum.size)
            for variable, code in design.keys[used[k]]:
                indicator *= codes[:, self.factors.index(variable)] == code
            f[a] = indicator - model.means[k]
        eta_f = request.beta[factor] @ f
        if asked is None:
            weight = np.exp(eta_f - self._shift_of(request, stratum))
            base = count
            eta_bound = np.abs(eta_f[valid & (count > 0)]).max(initial=0.0)
        else:
            weight = np.exp(eta_f)
            get = frame.__getitem__
            base = get(asked["s0"])
            has = valid & (count > 0)
            low = get(asked["low"])[has] + eta_f[has]
            high = get(asked["high"])[has] + eta_f[has]
            eta_bound = max(np.abs(low).max(initial=0.0), np.abs(high).max(initial=0.0))
        weight = np.where(valid, weight, 0.0)
        continuous_sums = [get(asked["s1"][j]) for j in range(len(continuous))]
        continuous_products = {}
        for m, (i, j) in enumerate(zip(*pair_indices(len(continuous)))):
            continuous_products[continuous[i], continuous[j]] = get(asked["s2"][m])

        def fill(part: slice, out: np.ndarray) -> None:
            """The groups ``part``'s rows of sums: count, S0, S1, then S2's pairs."""
            w, b = weight[part], base[part]
            out[0] = count[part]
            np.multiply(b, w, out=out[1])
            # Per group: each column's sum over the rows, before the factor weight.
            x = {k: f[a, part] * b for a, k in enumerate(factor)}
            x.update((k, sums[part]) for k, sums in zip(continuous, continuous_sums))
            for k in range(p):
                np.multiply(x[k], w, out=out[2 + k])
            # A pair (i, j) with a factor column: that column's value times the other's
            # sum; two continuous columns: their aggregated products.
            for m, (i, j) in enumerate(zip(*pair_indices(p))):
                row = out[2 + p + m]
                if i in position:
                    np.multiply(f[position[i], part], x[j], out=row)
                elif j in position:
                    np.multiply(f[position[j], part], x[i], out=row)
                else:
                    row[:] = continuous_products[i, j][part]
                row *= w

        position = {k: a for a, k in enumerate(factor)}
        blocks = self._reduce_blocks(2 + p + len(pair_indices(p)[0]), fill)
        every, events = self._by_time(blocks)
        cut = np.cumsum([1, 1, p])
        (n_all, s0, s1, s2_all), (n_events, d0, d1, d2) = (
            np.split(every, cut, axis=1), np.split(events, cut, axis=1))
        first = self._blocks()[1]
        return TimeSums(stratum[first], time[first], n_all[:, 0], n_events[:, 0], s0[:, 0],
                        s1, s2_all, d0[:, 0], d1, d2, float(eta_bound))

    def _reduce_blocks(self, rows: int, fill) -> np.ndarray:
        """``(rows, blocks)``: per (stratum, time, event) block, the sums over its groups
        of the ``rows`` values ``fill(part, out)`` writes for the groups ``part``.

        The groups are taken a slice of whole blocks at a time, written into one small
        array and reduced: an array of all groups at once (hundreds of MB at 10^7
        patients, allocated per Newton step) cost more in page faults and cache misses
        than the arithmetic. Each block is summed in the same order either way."""
        starts = self._blocks()[0]
        total = self.groups[0].size
        width = max(1, _WORKSPACE // rows)
        cuts = np.unique(np.searchsorted(starts, np.arange(0, total, width)))
        bounds = np.append(starts, total)
        edges = np.append(cuts, starts.size)
        workspace = np.empty((rows, int(np.diff(bounds[edges]).max(initial=0))))
        blocks = np.empty((rows, starts.size))
        for first, last in zip(edges[:-1], edges[1:]):
            low, high = bounds[first], bounds[last]
            out = workspace[:, :high - low]
            fill(slice(low, high), out)
            blocks[:, first:last] = np.add.reduceat(out, starts[first:last] - low, axis=1)
        return blocks

    def _blocks(self) -> tuple[np.ndarray, ...]:
        """The first group of each (stratum, time, event) block; the first group of each
        (stratum, time); the first block of each (stratum, time); the blocks holding
        events, and their (stratum, time)'s position."""
        if self._group_starts is None:
            stratum, time, event = self.groups[0], self.groups[1], self.groups[2]
            new_time = np.ones(stratum.size, dtype=bool)
            new_time[1:] = (stratum[1:] != stratum[:-1]) | (time[1:] != time[:-1])
            new_block = new_time.copy()
            new_block[1:] |= event[1:] != event[:-1]
            blocks = np.flatnonzero(new_block)
            is_event = event[blocks] == 1
            time_of = np.cumsum(new_time[blocks]) - 1
            self._group_starts = (blocks, np.flatnonzero(new_time),
                                  np.flatnonzero(new_time[blocks]), is_event,
                                  time_of[is_event])
        return self._group_starts

    def _by_time(self, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per (stratum, time), as rows: the blocks' sums over all rows, and over the
        events (each time has at most two blocks, its events' last)."""
        _, _, time_blocks, is_event, event_times = self._blocks()
        every = np.add.reduceat(blocks, time_blocks, axis=1)
        events = np.zeros_like(every)
        events[:, event_times] = blocks[:, is_event]
        return np.ascontiguousarray(every.T), np.ascontiguousarray(events.T)

    @staticmethod
    def _shift_of(request: ScanRequest, stratum: np.ndarray) -> np.ndarray:
        lookup = dict(zip(request.model.strata.tolist(), request.shift.tolist()))
        return np.array([lookup.get(int(s), 0.0) for s in stratum]) if np.any(request.shift) \
            else np.zeros(stratum.size)

    @staticmethod
    def _shift_sql(request: ScanRequest) -> str:
        if not np.any(request.shift):
            return ""
        cases = " ".join(f"WHEN {int(s)} THEN {number_sql(v)}"
                         for s, v in zip(request.model.strata, request.shift))
        return f" - CASE s {cases} ELSE 0.0 END"
