"""The number-at-risk table under a Kaplan–Meier figure: its times, its records and its rows.

The table's numbers are results records first (context ``risktable``), and the figure's
rows are read back from them, so what results.json holds is what the figure prints.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cohortpress.api.results import Result
from cohortpress.kit.figures import RISK_ROW_TITLES, Curve, RiskRows, at_risk

__all__ = ["risk_table_records", "risk_rows_from_records", "default_risk_times"]

#: The records each row of the table is read from.
ROW_STATS = {"at_risk": "n.risk", "events": "n.event.cum", "censored": "n.censor.cum"}


def risk_table_records(name: str, curves, drawn: Sequence[Curve], times: Sequence[float],
                       by: str | None) -> list[Result]:
    """The numbers of the risk table as records (context ``risktable``, the time as
    ``variable_level``): per curve and time, ``n.risk`` (patients whose time is at or after
    t and, with delayed entry, who entered before t, as printed), and ``n.event.cum`` and ``n.censor.cum`` (events and censorings at or
    before t). ``curves`` are ``(level, fit)`` pairs; ``by`` is the grouping variable, or
    None for one curve of the whole cohort."""
    out = []
    for (level, fit), curve in zip(curves, drawn):
        where = dict(group=by, group_level=level) if by is not None else {}
        n_risk = at_risk(curve, times)
        for k, t in enumerate(times):
            upto = fit.time <= t
            for stat, value in (("n.risk", n_risk[k]),
                                ("n.event.cum", int(fit.n_event[upto].sum())),
                                ("n.censor.cum", int(fit.n_censor[upto].sum()))):
                out.append(Result("risktable", stat, int(value), variable=name,
                                  variable_level=float(t), **where))
    return out


def risk_rows_from_records(results: Sequence[Result], name: str,
                           rows: Sequence[str]) -> list[RiskRows]:
    """The blocks of the table ``rows`` asks for (``at_risk``, ``events``, ``censored``),
    read from the endpoint's ``risktable`` records (a count a disclosure rule hid as its
    text, ``<10``)."""
    mine = [r for r in results if r.context == "risktable" and r.variable == name]
    levels = list(dict.fromkeys(r.group_level for r in mine))
    return [RiskRows(RISK_ROW_TITLES[row], [[r.stat if r.stat is not None else r.formatted
                                             for r in mine if r.group_level == level
                                             and r.stat_name == ROW_STATS[row]]
                                            for level in levels])
            for row in rows]


def default_risk_times(time: np.ndarray, xmax: float | None) -> list[float]:
    """Evenly spaced times from 0 to ``xmax`` or the last follow-up, at a round step (a
    fifth of the range rounded up to 1, 2, 2.5 or 5 times a power of ten)."""
    limit = xmax or float(np.max(time)) if len(time) else 1.0
    step = _nice_step(limit)
    return list(np.arange(0.0, limit + 1e-9, step))


def _nice_step(limit: float) -> float:
    raw = limit / 5 if limit > 0 else 1.0
    magnitude = 10 ** np.floor(np.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)
