"""How a Cox section's rows enter the risk sets: delayed entry, or a long-format cohort.

Records, the table footnote (built from the records alone) and the methods sentence for a
Cox model fitted in counting-process form, ``Surv(start, stop, event)``: an endpoint with
an ``entry`` column (each patient at risk from that time), or ``cohort.rows = "intervals"``
(several (start, stop] rows per patient, covariates that change between them). Nothing for
an ordinary cohort, whose rows are patients at risk from time 0.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from cohortpress.api.blocks import Footnote
from cohortpress.api.results import Result
from cohortpress.common.formatting import fmt_count

__all__ = ["data_form_records", "data_form_notes", "data_form_methods"]


def data_form_records(cohort, endpoint, endpoint_name: str, design,
                      patients: np.ndarray | None) -> list[Result]:
    """``entry`` (the start column), and for a long-format cohort the intervals and
    patients of the multivariable design and whether events may recur."""
    if endpoint.entry is None:
        return []
    common = dict(variable=endpoint_name)
    out = [Result("coxph", "entry", endpoint.entry_column, **common)]
    if patients is not None:
        out += [Result("coxph", "n.intervals", int(design.n), **common),
                Result("coxph", "n.patients", int(np.unique(patients[design.keep]).size),
                       **common),
                Result("coxph", "recurrent", bool(cohort.recurrent), **common)]
    return out


def data_form_notes(about: Mapping[str, Result]) -> list[Footnote]:
    """The footnote saying how patients were at risk, from the section's records."""
    entry = about.get("entry")
    if entry is None:
        return []
    if "n.intervals" not in about:
        return [Footnote(f"Delayed entry: each patient is at risk from the entry time "
                         f"({entry.stat}), not from time 0 (counting-process form, as R's "
                         f"Surv(entry, time, event)).")]
    recurrent = ("; a patient may have several events" if about["recurrent"].stat
                 else "")
    return [Footnote(f"Long format: {fmt_count(about['n.patients'].stat)} patients contributed "
                     f"{fmt_count(about['n.intervals'].stat)} (start, stop] intervals (start times "
                     f"in {entry.stat}), with covariates that may change between a patient's "
                     f"intervals (counting-process form, as R's Surv(start, stop, event)); "
                     f"patients are counted once{recurrent}.")]


def data_form_methods(cohort, endpoint) -> list[str]:
    """The methods sentence for counting-process data; none for an ordinary cohort."""
    if endpoint.entry is None:
        return []
    if cohort.intervals:
        recurrent = (" A patient could have several events (recurrent events), each "
                     "ending an interval." if cohort.recurrent else "")
        return ["The cohort was in long format: each patient's follow-up was split into "
                "(start, stop] intervals over which the covariates were constant, and the Cox "
                "models took the counting-process form (as R's coxph(Surv(start, stop, event) "
                "~ ...)), each interval contributing to the risk sets of the event times it "
                f"covers; numbers of patients count each patient once.{recurrent}"]
    return ["Patients entered the risk sets at their entry time rather than at time 0 "
            "(delayed entry, or left truncation), in the counting-process form of the Cox "
            "model (as R's coxph(Surv(entry, time, event) ~ ...))."]
