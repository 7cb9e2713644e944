"""Delayed entry (left truncation) in words and records, for the time-to-event analyses.

An endpoint with an ``entry`` column counts each patient at risk from entry to exit
(R's ``Surv(entry, exit, event)``). Every number that changes with it says so: a record per
endpoint (``entry`` and ``entry.label``, in the analysis's context) that the tables read
back for their footnote, a sentence of the methods paragraph, and a sentence under the
figures.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cohortpress.api.blocks import Footnote
from cohortpress.api.results import Result
from cohortpress.common.formatting import in_sentence

__all__ = ["entry_of", "entry_label", "exact_risk", "entry_records", "entry_footnotes", "entry_sentence",
           "figure_note", "GRAY_REFUSED", "at_risk_at"]

#: Why Gray's test is not given with delayed entry: one line for the section's warnings.
GRAY_REFUSED = ("Gray's test is not given with delayed entry: R's cmprsk, its reference, "
                "has no delayed entry, so no p-value could be checked")


def entry_of(endpoint, mask=None) -> np.ndarray | None:
    """The endpoint's entry times (of the rows ``mask`` selects), or None without entry."""
    entry = getattr(endpoint, "entry", None)
    if entry is None:
        return None
    entry = np.asarray(entry)
    return entry if mask is None else entry[mask]


def entry_label(cohort, endpoint) -> str:
    """The entry column's variable label (its name when the cohort has no such variable)."""
    column = getattr(endpoint, "entry_column", "")
    return cohort.variable(column).label if column in cohort.variables else column


def at_risk_at(time: np.ndarray, entry: np.ndarray | None, t: float, counts=None) -> int:
    """Patients at risk at ``t``: followed at ``t`` and, with delayed entry, entered before
    (``counts``: patients per row, for rows from aggregates)."""
    followed = time >= t
    at_risk = followed if entry is None else followed & (entry < t)
    return int(at_risk.sum() if counts is None else counts[at_risk].sum())


def exact_risk(time: np.ndarray, entry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times and numbers at risk for a figure's risk table with delayed entry.

    The number at risk (``entry < t <= time``) is constant between consecutive entry or
    exit times, so at each of them, ``b``, it is given for the interval that ends there:
    looking up the first such time at or after ``t`` (as
    :func:`cohortpress.kit.figures.at_risk` does) gives the exact count at ``t``, 0 before
    the first entry. R's ``summary(survfit, times)`` instead reports the count at the next
    event or censoring time, which with delayed entry can include patients not yet entered
    at ``t``; the tables' landmark records keep R's number, the figures print this one.
    """
    points = np.unique(np.concatenate((entry, time)))
    followed = time.size - np.searchsorted(np.sort(time), points, side="left")
    not_entered = entry.size - np.searchsorted(np.sort(entry), points, side="left")
    return points, followed - not_entered


def entry_records(context: str, endpoint, label: str) -> list[Result]:
    """``entry`` (the column) and ``entry.label`` (its label) of an endpoint with delayed
    entry, in ``context``; none without."""
    column = getattr(endpoint, "entry_column", "")
    if getattr(endpoint, "entry", None) is None or not column:
        return []
    return [Result(context, "entry", column, variable=endpoint.name),
            Result(context, "entry.label", label, variable=endpoint.name)]


def _entries(records: Sequence[Result], context: str,
             endpoints: Sequence[str] | None = None) -> dict[str, str]:
    """Endpoint name -> the entry's label, for the endpoints with delayed entry."""
    return {r.variable: r.stat for r in records if r.context == context
            and r.stat_name == "entry.label" and (endpoints is None or r.variable in endpoints)}


def _endpoint_labels(records: Sequence[Result], context: str) -> dict[str, str]:
    return {r.variable: r.stat for r in records if r.context == context
            and r.stat_name == "label" and r.variable is not None}


def entry_footnotes(records: Sequence[Result], context: str,
                    endpoints: Sequence[str] | None = None) -> list[Footnote]:
    """The tables' footnote: "Delayed entry at age at entry: patients counted at risk from
    entry (left truncation)." (endpoints named when not all of them have it)."""
    entries = _entries(records, context, endpoints)
    if not entries:
        return []
    labels = _endpoint_labels(records, context)
    shown = endpoints if endpoints is not None else list(labels)
    notes = []
    for name, entry in entries.items():
        who = f"{labels.get(name, name)}: d" if len(shown) > 1 else "D"
        notes.append(Footnote(f"{who}elayed entry at {in_sentence(entry)}: patients counted at "
                              f"risk from entry (left truncation), as R's "
                              f"Surv(entry, exit, event)."))
    return notes


def entry_sentence(records: Sequence[Result], context: str) -> str | None:
    """The methods' sentence: "Overall survival was analysed with delayed entry at age at
    entry; patients were counted at risk from entry (left truncation)."."""
    entries = _entries(records, context)
    if not entries:
        return None
    labels = _endpoint_labels(records, context)
    clauses = [f"{labels.get(name, name) if k == 0 else in_sentence(labels.get(name, name))} "
               f"was analysed with delayed entry at {in_sentence(entry)}"
               for k, (name, entry) in enumerate(entries.items())]
    return (f"{'; '.join(clauses)}; patients were counted at risk from entry (left "
            f"truncation), as R's Surv(entry, exit, event).")


def figure_note(endpoint, label: str) -> str:
    """A sentence for a figure's caption, or "" without delayed entry."""
    if getattr(endpoint, "entry", None) is None:
        return ""
    return f" Delayed entry at {in_sentence(label)}: patients at risk from entry."
