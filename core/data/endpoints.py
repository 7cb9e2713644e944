"""Time-to-event endpoints from the ``[endpoints]`` settings, and time units.

An endpoint comes either from a follow-up time and an event code column, or from dates: a
start, the events (the earliest counts), competing events and the last contact. Times are
converted to the endpoint's unit with :data:`DAYS_PER_UNIT`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from cohortpress.common.errors import DataError
from cohortpress.common.formatting import humanise, in_sentence
from cohortpress.common.suggest import did_you_mean
from cohortpress.config.schema import EndpointSettings
from cohortpress.data.cohort import Endpoint, VariableInfo
from cohortpress.data.columns import ColumnTyper, as_text, map_distinct

#: Days in each time unit (a year of 365.25 days, a month of a twelfth of it).
DAYS_PER_UNIT = {"days": 1.0, "months": 365.25 / 12.0, "years": 365.25}


def build_endpoint(name: str, spec: EndpointSettings, frame: pd.DataFrame,
                   infos: Mapping[str, VariableInfo], typer: ColumnTyper) -> Endpoint:
    """The endpoint ``name`` from a time and event code column, or from dates."""
    key = f"endpoints.{name}"
    label = spec.label or name
    if spec.form == "columns":
        time, event, definition = _endpoint_from_columns(spec, frame, typer, key)
        status = event.copy()
        competing = False
    else:
        time, status, definition = _endpoint_from_dates(spec, frame, typer, key)
        event = (status == 1).astype(np.int8)
        competing = bool(spec.competing)
    return Endpoint(name, label, spec.display_unit, time, event, status, competing, definition,
                    data_unit=spec.time_unit if spec.form == "columns" else "dates")


def _column(frame: pd.DataFrame, name: str, key: str, typer: ColumnTyper) -> pd.Series:
    if name not in frame.columns:
        raise DataError(f"unknown column '{name}'{did_you_mean(name, list(frame.columns))}",
                        file=str(typer.config.source), key=key)
    return frame[name]


def _endpoint_from_columns(spec: EndpointSettings, frame, typer: ColumnTyper, key: str):
    raw_time = _column(frame, spec.time, f"{key}.time", typer)
    time = pd.to_numeric(raw_time, errors="coerce").to_numpy(dtype=float)
    missing = np.isnan(time)
    if missing.any():
        pos = int(np.flatnonzero(missing)[0])
        raise typer.fail("follow-up time is missing or not a number", spec.time, pos)
    infinite = np.isinf(time)
    if infinite.any():
        pos = int(np.flatnonzero(infinite)[0])
        raise typer.fail(f"follow-up time is not a finite number ({time[pos]:g})", spec.time,
                         pos)
    negative = time < 0
    if negative.any():
        pos = int(np.flatnonzero(negative)[0])
        raise typer.fail(f"follow-up time is negative ({time[pos]:g})", spec.time, pos)
    time = time * DAYS_PER_UNIT[spec.time_unit] / DAYS_PER_UNIT[spec.display_unit]
    events = _column(frame, spec.event, f"{key}.event", typer)
    text = map_distinct(events, as_text)
    event_codes = {as_text(c) for c in spec.event_codes}
    censor_codes = {as_text(c) for c in spec.censor_codes}
    is_event = text.isin(event_codes).to_numpy()
    is_censor = text.isin(censor_codes).to_numpy()
    other = ~(is_event | is_censor)
    if other.any():
        pos = int(np.flatnonzero(other)[0])
        raw_event = events.astype(object)
        value = "missing" if pd.isna(raw_event.iloc[pos]) else f"'{raw_event.iloc[pos]}'"
        raise typer.fail(f"event code {value} is neither an event {sorted(event_codes)} nor "
                         f"censored {sorted(censor_codes)} (set {key}.event_codes and "
                         f"censor_codes)", spec.event, pos)
    return time, is_event.astype(np.int8), f"{spec.time} and {spec.event}"


def _endpoint_from_dates(spec: EndpointSettings, frame, typer: ColumnTyper, key: str):
    start = _date_column(frame, spec.start, f"{key}.start", typer)
    if start.isna().any():
        pos = int(np.flatnonzero(start.isna().to_numpy())[0])
        raise typer.fail("start date is missing", spec.start, pos)
    last = _date_column(frame, spec.last_contact, f"{key}.last_contact", typer)
    first_event, first_col = _earliest(frame, spec.events, f"{key}.events", typer, start)
    first_comp, _ = _earliest(frame, spec.competing, f"{key}.competing", typer, start)
    has_event = first_event.notna().to_numpy()
    has_comp = first_comp.notna().to_numpy() & (~has_event | (first_comp < first_event).to_numpy())
    censored = ~has_event & ~has_comp
    no_contact = censored & last.isna().to_numpy()
    if no_contact.any():
        pos = int(np.flatnonzero(no_contact)[0])
        raise typer.fail("no event date and no last-contact date", spec.last_contact, pos)
    end = last.mask(has_event, first_event).mask(has_comp, first_comp)
    days = (end - start).dt.days.to_numpy(dtype=float)
    negative = days < 0
    if negative.any():
        pos = int(np.flatnonzero(negative)[0])
        raise typer.fail(f"last contact {last.iloc[pos].date()} is before the start date "
                         f"{start.iloc[pos].date()}", spec.last_contact, pos)
    status = np.where(has_event & ~has_comp, 1, np.where(has_comp, 2, 0)).astype(np.int8)
    definition = _definition(spec, typer)
    return days / DAYS_PER_UNIT[spec.unit], status, definition


def _definition(spec: EndpointSettings, typer: ColumnTyper) -> str:
    """The endpoint in words, for the methods: "from diagnosis to the earliest of relapse,
    second malignancy or death" (labels where the config gives them, else the column names
    as words)."""

    def word(column: str) -> str:
        label = typer.config.variables.get(column)
        if label is not None and label.label:
            return in_sentence(label.label)
        return humanise(column)

    events = [word(c) for c in spec.events]
    if len(events) == 1:
        return f"from {word(spec.start)} to {events[0]}"
    return f"from {word(spec.start)} to the earliest of {', '.join(events[:-1])} or {events[-1]}"


def _date_column(frame, name: str, key: str, typer: ColumnTyper) -> pd.Series:
    series = _column(frame, name, key, typer)
    if not pd.api.types.is_datetime64_any_dtype(series):
        raise DataError(f"column '{name}' is not a date column (set variables.{name}.kind = "
                        f"\"date\")", file=str(typer.config.source), key=key)
    return series


def _earliest(frame, columns: list[str], key: str, typer: ColumnTyper, start: pd.Series):
    earliest = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    which = pd.Series(None, index=frame.index, dtype=object)
    for i, col in enumerate(columns):
        dates = _date_column(frame, col, f"{key}[{i}]", typer)
        before = (dates < start).to_numpy()
        if before.any():
            pos = int(np.flatnonzero(before)[0])
            raise typer.fail(f"event date {dates.iloc[pos].date()} is before the start date "
                             f"{start.iloc[pos].date()}", col, pos)
        earlier = dates.notna() & (earliest.isna() | (dates < earliest))
        earliest = earliest.mask(earlier, dates)
        which = which.mask(earlier, col)
    return earliest, which
