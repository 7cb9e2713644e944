"""The ``[endpoints]`` as columns of the view: each endpoint's time and status, in SQL.

The same definitions as :mod:`cohortpress.data.endpoints`, on the typed, filtered view:
from a follow-up time (converted to the display unit with the same two floating-point
operations) and an event code column (status from the code lists, compared as the
in-memory ``as_text`` values a hidden column of the view holds), or from dates (the
earliest event, the earliest competing event, the last contact; whole days between
dates). The checks are the in-memory ones, with the same messages, all counted in one scan
(the first failing one, in the in-memory order, is raised); an error adds how many rows are
at fault and the first patients.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

import pandas as pd

from cohortpress.common.errors import DataError
from cohortpress.config.schema import Config, EndpointSettings
from cohortpress.data.columns import as_text
from cohortpress.data.endpoints import DAYS_PER_UNIT, _column_label, _definition
from cohortpress.data.engine.backend import in_list, literal, quoted
from cohortpress.data.engine.cohort import (EngineCohort, EngineEndpoint, status_column,
                                            time_column)
from cohortpress.data.engine.layers import PREVIOUS, add_layer
from cohortpress.data.engine.typing import cause_column

#: Patients an error names at most.
SHOWN_PATIENTS = 3


def add_endpoints(config: Config, cohort: EngineCohort, typing: Any = None) -> EngineCohort:
    """``cohort`` with every endpoint's time and status columns (layout of
    :mod:`~cohortpress.data.engine.cohort`)."""
    if not config.endpoints:
        return cohort
    selects, endpoints, checks = [], {}, []
    for name, spec in config.endpoints.items():
        key = f"endpoints.{name}"
        if spec.entry:
            raise DataError("delayed entry (entry) is not computed on the engine path; set "
                            "cohort.statistics = \"rows\"", file=str(config.source),
                            key=f"{key}.entry")
        label = spec.label or name
        if spec.form == "columns":
            time, status = _from_columns(config, cohort, spec, key, checks)
            causes = tuple(spec.cause_labels.get(as_text(code), as_text(code))
                           for code in spec.competing_codes)
            data_unit = spec.time_unit
        else:
            time, status = _from_dates(config, cohort, spec, key, checks)
            causes = tuple(_column_label(column, SimpleNamespace(config=config))
                           for column in spec.competing)
            data_unit = "dates"
        selects += [f"{time} AS {quoted(time_column(name))}",
                    f"CAST({status} AS INTEGER) AS {quoted(status_column(name))}"]
        definition = f"{spec.time} and {spec.event}" if spec.form == "columns" else \
            _definition(spec, SimpleNamespace(config=config))
        endpoints[name] = EngineEndpoint(name=name, label=label, unit=spec.display_unit,
                                         has_competing=bool(causes), definition=definition,
                                         data_unit=data_unit, cause_labels=(label, *causes))
    run_checks(cohort, checks)
    return add_layer(cohort, f"SELECT *, {', '.join(selects)} FROM {PREVIOUS}",
                     endpoints=endpoints)


@dataclass(frozen=True)
class Check:
    """A condition no row may meet: ``bad`` (SQL), the column an error names, and its
    message, ``message(value)`` with ``value`` the SQL ``shown`` on the first such row."""

    bad: str
    column: str
    message: Callable[[Any], str]
    shown: str = "NULL"


def run_checks(cohort: EngineCohort, checks: list[Check]) -> None:
    """Count every check's rows in one scan; raise the first failing check's error, in
    the order the in-memory path checks."""
    if not checks:
        return
    counts = cohort.query("SELECT " + ", ".join(
        f"sum(CASE WHEN {c.bad} THEN 1 ELSE 0 END) AS c{i}" for i, c in enumerate(checks))
        + " FROM {cohort}")
    for i, check in enumerate(checks):
        count = counts[f"c{i}"].iloc[0]
        if not pd.isna(count) and int(count) > 0:
            refuse(cohort, check, int(count))


def refuse(cohort: EngineCohort, check: Check, count: int) -> None:
    """Raise the check's error: its message, how many rows, and the first patients."""
    patient = quoted(cohort.id_column) if cohort.id_column else "NULL"
    found = cohort.query(f"SELECT {check.shown} AS value, CAST({patient} AS VARCHAR) AS "
                         f"patient FROM {{cohort}} WHERE {check.bad} LIMIT {SHOWN_PATIENTS}")
    message, column = check.message, check.column
    rows = "row" if count == 1 else "rows"
    patients = ""
    if cohort.id_column:
        patients = "; first: " + ", ".join(f"patient {p}" for p in found["patient"])
    raise DataError(f"{message(found['value'].iloc[0])} ({count:,} {rows}{patients})",
                    file=str(cohort.source), column=column)


def _numeric_time(cohort: EngineCohort, spec: EndpointSettings, key: str, config: Config):
    info = cohort.variables.get(spec.time)
    if info is None:
        _unknown(config, cohort, spec.time, f"{key}.time")
    column = quoted(spec.time)
    return column if info.kind == "continuous" else f"TRY_CAST({column} AS DOUBLE)"


def _unknown(config: Config, cohort: EngineCohort, name: str, key: str) -> None:
    from cohortpress.common.suggest import did_you_mean

    raise DataError(f"unknown column '{name}'{did_you_mean(name, list(cohort.variables))}",
                    file=str(config.source), key=key)


def _from_columns(config: Config, cohort: EngineCohort, spec: EndpointSettings, key: str,
                  checks: list[Check]):
    time = _numeric_time(cohort, spec, key, config)
    checks.append(Check(f"{time} IS NULL", spec.time,
                        lambda _: "follow-up time is missing or not a number"))
    checks.append(Check(f"{time} < 0", spec.time,
                        lambda v: f"follow-up time is negative ({float(v):g})", shown=time))
    factor = f"({time} * {literal(DAYS_PER_UNIT[spec.time_unit])}) / " \
             f"{literal(DAYS_PER_UNIT[spec.display_unit])}"
    if spec.event not in cohort.variables:
        _unknown(config, cohort, spec.event, f"{key}.event")
    return factor, _cause_status(cohort, spec, key, checks)


def _cause_status(cohort: EngineCohort, spec: EndpointSettings, key: str,
                  checks: list[Check]) -> str:
    """The status SQL: 0 censored, 1 an event code, 2, 3, ... the competing codes; a value
    in no list is an error naming every such value with its count (as in memory)."""
    text = quoted(cause_column(spec.event))
    missing = f"({text} IS NULL OR {text} = '')"
    cases = []
    if spec.missing_cause == "censored":
        cases.append(f"WHEN {missing} THEN 0")
    for k, code in reversed(list(enumerate(spec.competing_codes, start=2))):
        cases.append(f"WHEN {text} = {literal(as_text(code))} THEN {k}")
    for codes, status in ((spec.event_codes, 1), (spec.censor_codes, 0)):
        if codes:
            cases.append(f"WHEN {text} IN {in_list([as_text(c) for c in codes])} THEN {status}")
    status = f"CASE {' '.join(cases)} ELSE -1 END"
    checks.append(Check(f"{status} < 0", spec.event,
                        lambda _: _unlisted(cohort, spec, key, status, text, missing)))
    return status


def _unlisted(cohort: EngineCohort, spec: EndpointSettings, key: str, status: str,
              text: str, missing: str) -> str:
    """The message naming every value in no code list, with its count."""
    shown = f"CASE WHEN {missing} THEN '(empty)' ELSE {text} END"
    counts = cohort.query(f"SELECT {shown} AS value, count(*) AS n FROM {{cohort}} "
                          f"WHERE {status} < 0 GROUP BY {shown}")
    pairs = sorted(zip(counts["value"], counts["n"]), key=lambda x: str(x[0]))
    found = ", ".join(f"'{v}' ({n})" if v != "(empty)" else f"empty ({n})"
                      for v, n in pairs[:10])
    more = f" and {len(pairs) - 10} more" if len(pairs) > 10 else ""
    lists = [f"{name} {[as_text(c) for c in codes]}" for name, codes in (
        ("event_codes", spec.event_codes), ("competing_codes", spec.competing_codes),
        ("censor_codes", spec.censor_codes)) if codes]
    hint = (f"; to censor empty values set {key}.missing_cause = \"censored\""
            if "(empty)" in set(counts["value"]) else "")
    return (f"values in no code list of {key} (first here): {found}{more} (listed: "
            f"{', '.join(lists)}){hint}")


def _date(config: Config, cohort: EngineCohort, name: str, key: str) -> str:
    info = cohort.variables.get(name)
    if info is None:
        _unknown(config, cohort, name, key)
    if info.kind != "date":
        raise DataError(f"column '{name}' is not a date column (set variables.{name}.kind = "
                        f"\"date\")", file=str(config.source), key=key)
    return quoted(name)


def _earliest(config: Config, cohort: EngineCohort, columns: list[str], key: str,
              start: str, first_status: int, checks: list[Check]) -> tuple[str, str]:
    """The earliest of ``columns`` (SQL) and the status of the first listed column holding
    it (``first_status``, +1, ...), after checking that none is before the start."""
    if not columns:
        return "CAST(NULL AS DATE)", "NULL"
    dates = [_date(config, cohort, c, f"{key}[{i}]") for i, c in enumerate(columns)]
    for column, date in zip(columns, dates):
        checks.append(Check(f"{date} < {start}", column, lambda v: (
            "event date {} is before the start date {}".format(*v.split("|"))),
            shown=_pair(date, start)))
    earliest = dates[0] if len(dates) == 1 else f"least({', '.join(dates)})"
    which = " ".join(f"WHEN {d} = {earliest} THEN {first_status + i}"
                     for i, d in enumerate(dates))
    return earliest, f"CASE {which} END"


def _pair(first: str, second: str) -> str:
    """Two dates as one text ``first|second`` (NULL shown as ``NaT``, as pandas prints it)."""
    return (f"COALESCE(CAST({first} AS VARCHAR), 'NaT') || '|' || "
            f"COALESCE(CAST({second} AS VARCHAR), 'NaT')")


def _from_dates(config: Config, cohort: EngineCohort, spec: EndpointSettings, key: str,
                checks: list[Check]):
    start = _date(config, cohort, spec.start, f"{key}.start")
    checks.append(Check(f"{start} IS NULL", spec.start, lambda _: "start date is missing"))
    last = _date(config, cohort, spec.last_contact, f"{key}.last_contact")
    event, _ = _earliest(config, cohort, spec.events, f"{key}.events", start, 1, checks)
    comp, cause = _earliest(config, cohort, spec.competing, f"{key}.competing", start, 2,
                            checks)
    has_event = f"({event} IS NOT NULL)"
    has_comp = f"({comp} IS NOT NULL AND ({event} IS NULL OR {comp} < {event}))"
    checks.append(Check(f"NOT {has_event} AND NOT {has_comp} AND {last} IS NULL",
                        spec.last_contact, lambda _: "no event date and no last-contact date"))
    end = f"CASE WHEN {has_comp} THEN {comp} WHEN {has_event} THEN {event} ELSE {last} END"
    days = f"date_diff('day', {start}, {end})"
    checks.append(Check(f"{days} < 0", spec.last_contact, lambda v: (
        "last contact {} is before the start date {}".format(*v.split("|"))),
        shown=_pair(last, start)))
    time = f"CAST({days} AS DOUBLE) / {literal(DAYS_PER_UNIT[spec.unit])}"
    status = f"CASE WHEN {has_comp} THEN {cause} WHEN {has_event} THEN 1 ELSE 0 END"
    return time, status
