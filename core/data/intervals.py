"""Long-format cohorts (``cohort.rows = "intervals"``): the rules a patient's rows must keep.

Each row is one interval ``(start, stop]`` of one patient (``cohort.id``), with the
covariate values that hold over it and the event status at its end, as R's
``Surv(start, stop, event)`` reads it. Accepted: intervals of a patient in any row order,
gaps between them (the patient is not at risk in a gap); refused, with one line naming the
endpoint, the patient and the intervals: an endpoint without ``entry`` (the start column),
overlapping intervals of one patient, and, unless ``cohort.recurrent``, an event in an
interval that is not the patient's last.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cohortpress.common.errors import DataError

__all__ = ["check_intervals"]


def check_intervals(endpoints, frame: pd.DataFrame, id_column: str, recurrent: bool,
                    file: str, config_file: str) -> None:
    """Raise a DataError unless every endpoint's intervals keep the long-format rules.

    Parameters
    ----------
    endpoints : mapping of str to Endpoint
        The cohort's endpoints, aligned with ``frame``.
    frame : pandas.DataFrame
        The typed, filtered cohort (one row per interval).
    id_column : str
        The patient id column.
    recurrent : bool
        Whether an event may end an interval other than the patient's last.
    file, config_file : str
        The cohort file and the config, for the messages.
    """
    missing = frame[id_column].isna().to_numpy()
    if missing.any():
        raise DataError(f"patient id is missing in {int(missing.sum())} row(s); with "
                        f"cohort.rows = \"intervals\" the id ties each interval to its "
                        f"patient", file=file, column=id_column)
    ids = frame[id_column].astype(str).to_numpy()
    for name, endpoint in endpoints.items():
        if endpoint.entry is None:
            raise DataError(f"endpoint '{name}' has no entry column, but cohort.rows = "
                            f"\"intervals\" (several rows per patient): set entry to the "
                            f"column of each interval's start time",
                            file=config_file, key=f"endpoints.{name}.entry")
        _check_endpoint(name, endpoint, ids, recurrent, file)


def _check_endpoint(name: str, endpoint, ids: np.ndarray, recurrent: bool, file: str) -> None:
    order = np.lexsort((endpoint.entry, ids))
    sorted_ids = ids[order]
    start, stop = endpoint.entry[order], endpoint.time[order]
    event = endpoint.event[order].astype(bool)
    same_patient = sorted_ids[1:] == sorted_ids[:-1]
    overlap = np.flatnonzero(same_patient & (start[1:] < stop[:-1]))
    if overlap.size:
        k = overlap[0]
        raise DataError(f"endpoint '{name}': patient {sorted_ids[k]} has overlapping intervals "
                        f"{_interval(start[k], stop[k])} and {_interval(start[k + 1], stop[k + 1])}"
                        f" ({overlap.size} overlap(s) in all); a patient's intervals must not "
                        f"overlap", file=file, column=endpoint.entry_column)
    if recurrent:
        return
    early = np.flatnonzero(same_patient & event[:-1])
    if early.size:
        k = early[0]
        raise DataError(f"endpoint '{name}': patient {sorted_ids[k]} has an event at the end of "
                        f"{_interval(start[k], stop[k])}, which is not their last interval "
                        f"({early.size} such row(s)); an event ends follow-up unless it can "
                        f"recur: set cohort.recurrent = true for recurrent events",
                        file=file)


def _interval(start: float, stop: float) -> str:
    return f"({start:g}, {stop:g}]"
