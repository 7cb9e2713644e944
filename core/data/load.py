"""From a cohort file and the config to a typed :class:`~cohortpress.data.cohort.Cohort`.

Steps, in order: read only the columns the report uses (through the reader hook, which
:func:`needed_columns` tells which), check patient ids, type every column from its
``[variables]`` metadata (:mod:`~cohortpress.data.columns`), compute ``[derived]``
variables (:mod:`~cohortpress.data.derive`), apply ``cohort.filter``
(:mod:`~cohortpress.data.conditions`), and build the ``[endpoints]``
(:mod:`~cohortpress.data.endpoints`). Every problem is a
:class:`~cohortpress.common.errors.DataError` naming the file, the column, and the row
(and patient id) at fault.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from cohortpress.common.errors import DataError
from cohortpress.common.suggest import did_you_mean
from cohortpress.config.schema import Config, VariableSettings
from cohortpress.data.cohort import Cohort, VariableInfo
from cohortpress.data.columns import ColumnTyper, check_ids, check_level_counts, column_roles
from cohortpress.data.conditions import apply_filters, filter_unknowns
from cohortpress.data.derive import Deriver, derivation_order, derived_sources
from cohortpress.data.endpoints import build_endpoint
from cohortpress.data.intervals import check_intervals


@dataclass(frozen=True)
class ReadInfo:
    """What the whole source held when only some of its rows were read.

    Attributes
    ----------
    extra_values : mapping of str to pandas.Series
        Per column, its distinct values in the whole source, typed with the rows read so
        that kinds and levels are the whole column's.
    n_rows : int or None
        The rows of the whole source (the filter's "n of N records").
    filter_unknown : tuple or None
        :attr:`Cohort.filter_unknown` counted over the whole source.
    source_info : mapping
        What the provenance says about the source besides its path and digest (its kind,
        the query).
    """

    extra_values: Mapping[str, pd.Series] = field(default_factory=dict)
    n_rows: int | None = None
    filter_unknown: tuple[tuple[str, int], ...] | None = None
    source_info: Mapping[str, str] = field(default_factory=dict)


def needed_columns(config: Config, references: Iterable[str]) -> set[str]:
    """The file columns a build needs: variables used by sections, derivations, endpoints."""
    # Every derived variable is computed (and so checked), whether a section uses it or not.
    names = set(references) | set(config.variables) | set(config.derived)
    for opt in (config.cohort.id, config.cohort.group):
        if opt:
            names.add(opt)
    names |= {c.variable for c in config.cohort.filter}
    names |= {c.variable for head in config.section for c in head.subset}
    for ep in config.endpoints.values():
        names |= set(ep.columns)
    # Replace derived names by their sources, transitively.
    columns: set[str] = set()
    stack = list(names)
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        spec = config.derived.get(name)
        if spec is None:
            columns.add(name)
        else:
            stack.extend(derived_sources(spec))
    return columns


def build_cohort(config: Config, raw_data: pd.DataFrame, *, file_labels: Mapping[str, str] = {},
                 sha256: str = "", used: Iterable[str] = (), read: ReadInfo | None = None
                 ) -> Cohort:
    """Type, derive, filter and build endpoints from the raw table read from the file.

    ``read``: when ``raw_data`` holds only the rows a filter run in the database kept, what
    the whole source held (see :class:`ReadInfo`).
    """
    read = read or ReadInfo()
    file = str(config.cohort.path)
    data = raw_data.reset_index(drop=True)
    if len(data) == 0:
        raise DataError("the cohort has no rows", file=file)
    id_column = config.cohort.id
    intervals = config.cohort.rows == "intervals"
    if id_column and not intervals:
        check_ids(data, id_column, file)
    typer = ColumnTyper(config, data, file, file_labels, id_column, read.extra_values)
    roles = column_roles(config)
    columns: dict[str, pd.Series] = {}
    infos: dict[str, VariableInfo] = {}
    for name in data.columns:
        settings = config.variables.get(name, VariableSettings())
        series, info = typer.type_column(name, settings, roles.get(name))
        columns[name] = series
        infos[name] = info
    frame = pd.DataFrame(columns)
    deriver = Deriver(config, frame, infos, typer)
    for name in derivation_order(config, set(used) | set(config.derived)):
        deriver.derive(name)
    frame, infos = deriver.frame, deriver.infos
    check_level_counts(config, infos, [*used, config.cohort.group], file)
    unknown_removed = filter_unknowns(config, frame) if read.filter_unknown is None \
        else read.filter_unknown
    frame, filter_text = apply_filters(config, frame, infos)
    if config.cohort.group:
        _check_group(config, frame, infos, file)
    endpoints = {name: build_endpoint(name, spec, frame, infos, typer)
                 for name, spec in config.endpoints.items()}
    if intervals:
        check_intervals(endpoints, frame, id_column, config.cohort.recurrent, file,
                        str(config.source))
    return Cohort(data=frame, variables=infos, endpoints=endpoints, id_column=id_column,
                  group=config.cohort.group, source=config.cohort.path, sha256=sha256,
                  n_rows_read=len(raw_data) if read.n_rows is None else read.n_rows,
                  filter_text=filter_text, filter_unknown=unknown_removed,
                  intervals=intervals, recurrent=config.cohort.recurrent,
                  source_info=dict(read.source_info))


def file_sha256(path: Path) -> str:
    """The SHA-256 digest of a file, read in chunks, for the provenance appendix."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_group(config: Config, frame: pd.DataFrame, infos: dict[str, VariableInfo],
                 file: str) -> None:
    """The grouping variable (``cohort.group``) exists and is categorical."""
    name = config.cohort.group
    if name not in frame.columns:
        raise DataError(f"unknown variable '{name}'{did_you_mean(name, list(frame.columns))}",
                        file=str(config.source), key="cohort.group")
    if infos[name].kind not in ("categorical", "binary"):
        raise DataError(f"the grouping variable must be categorical, '{name}' is "
                        f"{infos[name].kind}", file=str(config.source), key="cohort.group")
