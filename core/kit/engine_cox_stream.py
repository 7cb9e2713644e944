"""The Newton scans of the engine-path Cox models when the distinct times are too many for
sums per time: the section's rows streamed from the engine in decreasing time.

:class:`~cohortpress.kit.engine_cox_scan.Scanner` asks the engine for sums per (stratum,
time, group key); with exact (continuous) times those sums are as many as the rows, and a
registry's would not fit in memory. Here the rows, stored in the engine sorted by
decreasing time, are read in chunks of :data:`CHUNK_ROWS` -- the design's columns computed
by the engine (the same SQL expressions as the grouped scans), one flag per model's
complete cases -- and each model still iterating adds each chunk to its evaluation
(:class:`~cohortpress.stats.coxph.stream.StreamedCox`). Nothing is kept between chunks but
running sums, so memory does not grow with the rows. Only an in-process engine streams
rows (``streams_rows``); on a cluster engine the fit is refused by
:func:`~cohortpress.kit.engine_cox._streams`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cohortpress.common.errors import DataError
from cohortpress.kit.engine_cox_scan import ModelScans
from cohortpress.stats.coxph.aggregate import AggregateFit, ScanRequest, _shift
from cohortpress.stats.coxph.stream import (DistinctTimeScale, EventTimes, RowsOutOfOrder,
                                            RunSplitter, StreamedCox, zph_streamed, zph_sums)

__all__ = ["StreamScanner", "CHUNK_ROWS"]

#: Rows read from the engine at a time (the benchmark's section reads 20 columns: 10 MB).
CHUNK_ROWS = 1 << 16


class StreamScanner(ModelScans):
    """``scan(requests)``: every request's terms, from one pass over the rows streamed in
    decreasing time. ``batches`` lists the models (keys) of each call, ``queries`` counts
    the passes (with the one measuring each model's distinct times)."""

    def __init__(self, cohort, endpoint, stratum: str, designs: dict, subsets: dict,
                 zph: dict | None = None):
        super().__init__(cohort, designs, subsets)
        self.endpoint_name = endpoint.name
        #: design key -> the time transform of the cox.zph it will be asked (its event
        #: times are recorded by its first evaluation)
        self.zph_transforms = dict(zph or {})
        self.expressions = list(dict.fromkeys(e for d in designs.values()
                                              for e in d.expressions))
        self.conditions = list(dict.fromkeys(d.condition for d in designs.values()))
        flag = "CASE WHEN {} THEN 1 ELSE 0 END"
        # A factor's indicator columns (a level's, a product of levels) are made here from
        # the factors' codes: computing them in the engine took most of its time per pass.
        keys = {e: key for d in designs.values()
                for e, key in zip(d.expressions, getattr(d, "keys", ()) or ())}
        #: design column -> the (variable, code) pairs whose indicators' product it is
        self.indicators = {f"x{k}": keys[e] for k, e in enumerate(self.expressions)
                           if keys.get(e)}
        factors = dict.fromkeys(v for key in self.indicators.values() for v, _ in key)
        self.codes = {v: f"c{k}" for k, v in enumerate(factors)}
        #: Everything a scan reads, by name: a pass asks only for its models'.
        self.columns_sql = {
            "t": f"CAST({endpoint.time} AS DOUBLE) AS t",
            "s": f"CAST({stratum} AS BIGINT) AS s",
            "e": f"{flag.format(f'{endpoint.status} = 1')} AS e",
            **{f"m{k}": f"{flag.format(c)} AS m{k}" for k, c in enumerate(self.conditions)},
            **{f"x{k}": f"CAST({e} AS DOUBLE) AS x{k}" for k, e in enumerate(self.expressions)
               if f"x{k}" not in self.indicators},
            **{name: f"{cohort.column(v)} AS {name}" for v, name in self.codes.items()}}
        #: The times and the models' complete-case flags (the pass measuring the scales).
        self.times_sql = ", ".join(self.columns_sql[n] for n in
                                   ["t", *(f"m{k}" for k in range(len(self.conditions)))])
        self.scales: dict[str, float] = {}
        self.chunk_rows = CHUNK_ROWS
        self.events: dict = {}  # design key -> EventTimes of its first evaluation

    def __call__(self, requests: Sequence[ScanRequest]):
        self.batches.append(tuple(request.model.key for request in requests))
        self._measure_scales()
        consumers = []
        for request in requests:
            design, used = self.model_of(request.model.key)
            events = None
            key = request.model.key
            if key in self.zph_transforms and request.model.start is None \
                    and key not in self.events:
                events = self.events[key] = EventTimes(self.zph_transforms[key])
            consumers.append((design, used, request.model, StreamedCox(
                request.model, request.beta, request.shift, request.efron,
                self.scales[design.condition], events=events)))
        self._stream(consumers)
        return [evaluation.finish() for *_, evaluation in consumers]

    def zph(self, fitted: AggregateFit, transform: str, groups):
        """``cox.zph`` of a model fitted by these scans, in one more pass at its ``beta``."""
        model, fit = fitted.model, fitted.fit
        if self.events[model.key].transform != transform:
            raise ValueError("cox.zph asked with another transform than its scans recorded")
        sums = zph_sums(self.events.pop(model.key))
        design, used = self.model_of(model.key)
        shift = _shift(model, np.asarray(fit.coef, dtype=float))  # as the fit's evaluations
        self.batches.append((model.key,))
        evaluation = StreamedCox(model, np.asarray(fit.coef, dtype=float), shift,
                                 fit.ties == "efron", self.scales[design.condition], zph=sums)
        self._stream([(design, used, model, evaluation)])
        evaluation.finish()
        return zph_streamed(fit, sums, transform, groups)

    # ------------------------------------------------------------------ passes

    def _chunks(self, columns: str):
        self.queries += 1
        return self.cohort.stream_columns(f"SELECT {columns} FROM {{cohort}}", self.chunk_rows)

    def _measure_scales(self) -> None:
        """Each model's mean absolute distinct time (the relative tolerance of merging
        near-equal times), in one pass over the times and the complete-case flags."""
        if self.scales:
            return
        found = {condition: DistinctTimeScale() for condition in self.conditions}
        for chunk in self._chunks(self.times_sql):
            for k, condition in enumerate(self.conditions):
                found[condition].add(chunk["t"][chunk[f"m{k}"] == 1])
        self.scales = {condition: scale.scale for condition, scale in found.items()}

    def _stream(self, consumers) -> None:
        """One pass: per chunk and complete-case condition, the rows cut into pieces of
        whole runs of tied times once, each model then adding its columns."""
        position = {e: k for k, e in enumerate(self.expressions)}
        by_condition: dict[str, list] = {}
        for design, used, model, evaluation in consumers:
            names = [f"x{position[design.expressions[j]]}" for j in used]
            by_condition.setdefault(design.condition, []).append((names, model, evaluation))
        splitters = {c: RunSplitter(self.scales[c]) for c in by_condition}

        def add(condition, pieces):
            for piece, run_start in pieces:
                for names, model, evaluation in by_condition[condition]:
                    evaluation.add_runs(piece, run_start, names, model.means)

        flags = [f"m{self.conditions.index(c)}" for c in by_condition]
        names = {n for models in by_condition.values() for names, _, _ in models for n in names}
        names = sorted(names, key=lambda n: int(n[1:]))
        made = [n for n in names if n in self.indicators]
        codes = dict.fromkeys(self.codes[v] for n in made for v, _ in self.indicators[n])
        # only the columns this pass's models read (the engine computes each one per row)
        read = ["t", "s", "e", *flags, *(n for n in names if n not in made), *codes]
        try:
            self._pass(read, made, by_condition, splitters, add)
        except RowsOutOfOrder:
            raise DataError(f"endpoint '{self.endpoint_name}': the engine returned its stored "
                            f"rows out of time order") from None
        for condition, splitter in splitters.items():
            add(condition, splitter.flush())

    def _pass(self, read, made, by_condition, splitters, add) -> None:
        """The chunks of one pass, each cut into pieces per complete-case condition."""
        for chunk in self._chunks(", ".join(self.columns_sql[n] for n in read)):
            chunk.update((name, self._indicator(chunk, name)) for name in made)
            for condition, models in by_condition.items():
                rows = chunk[f"m{self.conditions.index(condition)}"] == 1
                every = bool(rows.all())  # no copies then
                needed = {name for names, _, _ in models for name in names}
                columns = {name: chunk[name] if every else chunk[name][rows]
                           for name in ["t", "s", "e", *needed]}
                columns.update(e=columns["e"] == 1,
                               s=np.searchsorted(models[0][1].strata, columns["s"]))
                add(condition, splitters[condition].pieces(columns))

    def _indicator(self, chunk: dict, name: str) -> np.ndarray:
        """Design column ``name``, a product of factor levels' indicators, from the codes
        (a missing code is no level, as the engine's ``CASE WHEN`` has it)."""
        (variable, code), *others = self.indicators[name]
        value = chunk[self.codes[variable]] == code
        for variable, code in others:
            value &= chunk[self.codes[variable]] == code
        return value.astype(float)
