"""The typed cohort analyses receive: :class:`Cohort`, :class:`VariableInfo`, :class:`Endpoint`.

Values only, and the methods that read them; :mod:`cohortpress.data.load` builds a cohort
from the file's raw table and the config.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from cohortpress.common.errors import DataError
from cohortpress.common.suggest import did_you_mean


@dataclass(frozen=True)
class VariableInfo:
    """Metadata of one cohort variable.

    ``levels`` are the display labels in order (categorical and binary only);
    ``positive`` is the level a binary row counts.
    """

    name: str
    label: str
    kind: str
    levels: tuple[str, ...] = ()
    unit: str | None = None
    missing_label: str = "Unknown"
    reference: str | None = None
    positive: str | None = None
    derived: bool = False

    def label_with_unit(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


@dataclass(frozen=True, eq=False)
class Endpoint:
    """A time-to-event endpoint, aligned with the cohort's rows.

    Attributes
    ----------
    time : ndarray of float
        Time from start to event or censoring, in ``unit`` (converted from ``data_unit``).
    event : ndarray of int
        1 for the event of interest, 0 censored (a competing event counts as 0 here).
    status : ndarray of int
        0 censored, 1 event of interest, 2, 3, ... one code per competing cause (equals
        ``event`` when the endpoint has no competing causes).
    has_competing : bool
        Whether the endpoint has competing causes.
    cause_labels : tuple of str
        The name of each status code from 1: the event of interest (the endpoint's label),
        then each competing cause.
    entry : ndarray of float or None
        Delayed entry (left truncation): the time each patient enters the risk set, in
        ``unit`` and always before ``time`` (at risk on ``entry < t <= time``, R's
        ``Surv(entry, time, event)``); None when every patient is at risk from 0.
    entry_column : str
        The column ``entry`` came from ("" without delayed entry), for methods and errors.
    """

    name: str
    label: str
    unit: str
    time: np.ndarray
    event: np.ndarray
    status: np.ndarray
    has_competing: bool = False
    definition: str = ""
    #: The unit of the data the times came from: ``"days"``, ``"months"`` or ``"years"`` for
    #: a time column, ``"dates"`` for dates; ``unit`` is the one shown.
    data_unit: str = ""
    cause_labels: tuple[str, ...] = ()
    entry: np.ndarray | None = None
    entry_column: str = ""

    @property
    def causes(self) -> tuple[tuple[int, str], ...]:
        """``(status code, name)`` of every cause, the event of interest first."""
        labels = self.cause_labels or (self.label,)
        return tuple(enumerate(labels, start=1))


class CohortMetadata:
    """Looking up a cohort's variables and endpoints by name, with "did you mean" in the
    error: shared by :class:`Cohort` and the engine path's
    :class:`~cohortpress.data.engine.cohort.EngineCohort` (both have ``variables`` and
    ``endpoints``)."""

    def variable(self, name: str) -> VariableInfo:
        try:
            return self.variables[name]
        except KeyError:
            raise DataError(f"unknown variable '{name}'"
                            f"{did_you_mean(name, self.variables)}") from None

    def label(self, name: str) -> str:
        return self.variable(name).label

    def endpoint(self, name: str):
        try:
            return self.endpoints[name]
        except KeyError:
            raise DataError(f"unknown endpoint '{name}'"
                            f"{did_you_mean(name, self.endpoints)}") from None


@dataclass(frozen=True, eq=False)
class Cohort(CohortMetadata):
    """The typed cohort every analysis receives.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per patient: categorical variables as ordered ``pandas.Categorical`` of their
        display labels, continuous as float, dates as datetime64; missing values as NA.
    variables : mapping of str to VariableInfo
    endpoints : mapping of str to Endpoint
    id_column, group : str or None
        The patient-id column and the default grouping variable.
    source : Path
        The cohort file; ``sha256`` its digest, for the provenance appendix.
    filter_text : str
        ``cohort.filter`` (and a section's subset) in words.
    source_info : mapping of str to str
        For a source other than one file read whole (a DuckDB source): its ``kind`` and
        ``query``, recorded in the provenance.
    filter_unknown : tuple of (str, int)
        Per variable a ``cohort.filter`` condition tests, the patients it removed because
        their value is unknown (a condition such as ``stage != "IV"`` cannot hold for them),
        which the filter's text does not say.
    intervals : bool
        Whether a row is one (start, stop] interval of the patient ``id_column`` names
        (``cohort.rows = "intervals"``: long format, several rows per patient) rather than
        a patient; ``recurrent`` whether a patient may have several events.
    """

    data: pd.DataFrame
    variables: Mapping[str, VariableInfo]
    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)
    id_column: str | None = None
    group: str | None = None
    source: Path = Path("cohort")
    sha256: str = ""
    n_rows_read: int = 0
    filter_text: str = ""
    filter_unknown: tuple[tuple[str, int], ...] = ()
    intervals: bool = False
    recurrent: bool = False
    source_info: Mapping[str, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.data)

    @property
    def n_patients(self) -> int:
        """Patients: the rows, or the distinct ids of a long-format cohort."""
        if not self.intervals:
            return self.n
        return int(self.data[self.id_column].nunique())

    def size_text(self) -> str:
        """``"120 patients"``, or ``"103 patients in 172 intervals"`` in long format."""
        if not self.intervals:
            return f"{self.n} patients"
        return f"{self.n_patients} patients in {self.n} intervals"

    def values(self, name: str) -> pd.Series:
        self.variable(name)
        return self.data[name]

    def subset(self, keep: np.ndarray, description: str) -> "Cohort":
        """The patients where ``keep`` is true, with endpoints cut to match."""
        endpoints = {name: replace(ep, time=ep.time[keep], event=ep.event[keep],
                                   status=ep.status[keep],
                                   entry=None if ep.entry is None else ep.entry[keep])
                     for name, ep in self.endpoints.items()}
        text = "; ".join(t for t in (self.filter_text, description) if t)
        return replace(self, data=self.data.loc[keep].reset_index(drop=True),
                       endpoints=endpoints, filter_text=text)

    def row_names(self, positions: Iterable[int]) -> list[str]:
        """Patient ids (or 1-based row numbers) of rows by position, for messages."""
        if self.id_column:
            ids = self.data[self.id_column].astype(str).to_numpy()
            return [ids[i] for i in positions]
        return [f"row {i + 1}" for i in positions]
