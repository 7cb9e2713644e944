"""Time-to-event endpoints from the ``[endpoints]`` settings, and time units.

An endpoint comes either from a follow-up time and an event (or cause) code column, or from
dates: a start, the events (the earliest counts), competing events and the last contact.
Times are converted to the endpoint's unit with :data:`DAYS_PER_UNIT`.

Competing causes get status codes 2, 3, ... in the order the config lists them: for a cause
column, one per ``competing_codes`` entry (named by ``cause_labels`` or the code); for
dates, one per ``competing`` column (named by the column's variable label). A patient with
several competing dates has the earliest; on the same day, the one listed first.

Delayed entry (``entry``): a time column in ``time_unit``, or a date column counted from
``start`` as the exit is, converted to the shown unit like the exit time. R's ``Surv(entry,
exit, event)`` turns a row whose entry is not before its exit into a missing value and drops
it; here such a row is an error naming the rows, so that no patient leaves the analysis
unseen.
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
        time, status, definition = _endpoint_from_columns(spec, frame, typer, key)
        causes = tuple(spec.cause_labels.get(as_text(code), as_text(code))
                       for code in spec.competing_codes)
    else:
        time, status, definition = _endpoint_from_dates(spec, frame, typer, key)
        causes = tuple(_column_label(column, typer) for column in spec.competing)
    event = (status == 1).astype(np.int8)
    entry = _entry_times(spec, frame, typer, key, time) if spec.entry else None
    return Endpoint(name, label, spec.display_unit, time, event, status, bool(causes),
                    definition, cause_labels=(label, *causes),
                    data_unit=spec.time_unit if spec.form == "columns" else "dates",
                    entry=entry, entry_column=spec.entry or "")


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
    causes = _column(frame, spec.event, f"{key}.event", typer)
    status = _cause_status(spec, causes, typer, key)
    return time, status, f"{spec.time} and {spec.event}"


def _cause_status(spec: EndpointSettings, causes: pd.Series, typer: ColumnTyper,
                  key: str) -> np.ndarray:
    """0 censored, 1 an event code, 2, 3, ... the competing codes in the order listed.

    A value listed in no code list is an error naming every such value with its count; an
    empty value is one too unless ``missing_cause = "censored"``.
    """
    text = map_distinct(causes, as_text)
    missing = (causes.isna() | (text == "")).to_numpy()
    status = np.full(len(text), -1, dtype=np.int8)
    status[text.isin({as_text(c) for c in spec.censor_codes}).to_numpy()] = 0
    status[text.isin({as_text(c) for c in spec.event_codes}).to_numpy()] = 1
    for k, code in enumerate(spec.competing_codes, start=2):
        status[(text == as_text(code)).to_numpy()] = k
    if spec.missing_cause == "censored":
        status[missing] = 0
    unlisted = status < 0
    if unlisted.any():
        shown = text.mask(pd.Series(missing, index=text.index), "(empty)")[unlisted]
        counts = shown.value_counts(sort=False)
        found = ", ".join(f"'{v}' ({n})" if v != "(empty)" else f"empty ({n})"
                          for v, n in sorted(counts.items(), key=lambda x: str(x[0]))[:10])
        more = f" and {len(counts) - 10} more" if len(counts) > 10 else ""
        lists = [f"{name} {[as_text(c) for c in codes]}" for name, codes in (
            ("event_codes", spec.event_codes), ("competing_codes", spec.competing_codes),
            ("censor_codes", spec.censor_codes)) if codes]
        hint = (f"; to censor empty values set {key}.missing_cause = \"censored\""
                if missing[unlisted].any() else "")
        raise DataError(f"values in no code list of {key} (first here): {found}{more} (listed: "
                        f"{', '.join(lists)}){hint}", file=typer.file, column=spec.event,
                        row=typer.where(int(np.flatnonzero(unlisted)[0])))
    return status


def _column_label(column: str, typer: ColumnTyper) -> str:
    """A date column's name for its cause: its variable label, else the column as words."""
    settings = typer.config.variables.get(column)
    if settings is not None and settings.label:
        return settings.label
    return humanise(column)[:1].upper() + humanise(column)[1:]


def _endpoint_from_dates(spec: EndpointSettings, frame, typer: ColumnTyper, key: str):
    start = _date_column(frame, spec.start, f"{key}.start", typer)
    if start.isna().any():
        pos = int(np.flatnonzero(start.isna().to_numpy())[0])
        raise typer.fail("start date is missing", spec.start, pos)
    last = _date_column(frame, spec.last_contact, f"{key}.last_contact", typer)
    first_event, first_col = _earliest(frame, spec.events, f"{key}.events", typer, start)
    first_comp, comp_col = _earliest(frame, spec.competing, f"{key}.competing", typer, start)
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
    cause = comp_col.map({col: k for k, col in enumerate(spec.competing, start=2)})
    cause = cause.fillna(0).to_numpy(dtype=np.int8)
    status = np.where(has_event & ~has_comp, 1, np.where(has_comp, cause, 0)).astype(np.int8)
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


def _entry_times(spec: EndpointSettings, frame, typer: ColumnTyper, key: str,
                 time: np.ndarray) -> np.ndarray:
    """Each patient's entry into the risk set, in the shown unit, checked to be at or after
    the origin and before the exit."""
    column = spec.entry
    if spec.form == "columns":
        raw = _column(frame, column, f"{key}.entry", typer)
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        _refuse_rows(~np.isfinite(values), "entry time is missing or not a finite number",
                     column, typer)
        _refuse_rows(values < 0, "entry time is negative (times count from 0)", column, typer)
        entry = values * DAYS_PER_UNIT[spec.time_unit] / DAYS_PER_UNIT[spec.display_unit]
    else:
        dates = _date_column(frame, column, f"{key}.entry", typer)
        start = frame[spec.start]
        _refuse_rows(dates.isna().to_numpy(), "entry date is missing", column, typer)
        _refuse_rows((dates < start).to_numpy(), f"entry date is before the start date "
                     f"({spec.start})", column, typer)
        entry = (dates - start).dt.days.to_numpy(dtype=float) / DAYS_PER_UNIT[spec.unit]
    _refuse_rows(entry >= time, "entry is not before the exit (event or censoring) time; a "
                 "patient must enter the risk set before leaving it (R's Surv(entry, exit) "
                 "would drop these rows)", column, typer)
    return entry


def _refuse_rows(bad: np.ndarray, problem: str, column: str, typer: ColumnTyper) -> None:
    """One error naming how many rows have ``problem`` and the first few of them."""
    if not bad.any():
        return
    positions = np.flatnonzero(bad)
    shown = ", ".join(typer.where(int(p)) for p in positions[:5])
    more = ", ..." if len(positions) > 5 else ""
    rows = "row" if len(positions) == 1 else "rows"
    raise DataError(f"{problem}: {len(positions)} {rows} ({rows} {shown}{more})",
                    file=typer.file, column=column)
