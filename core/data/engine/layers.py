"""Building the view ``cohort`` in layers: typing, derived variables, the filter, endpoints.

Each step replaces the view ``cohort`` by a SELECT over the view as it was: the previous
view is renamed (``cohort_layer_<k>``) and a new ``cohort`` reads from it. A step can so
query the view it extends (through :meth:`EngineCohort.query`) while it is being built,
and every step only adds statements and small lookup tables to the
:class:`~cohortpress.data.engine.backend.BackendSpec`: nothing of the rows is held.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import pandas as pd

from cohortpress.data.engine.backend import COHORT
from cohortpress.data.engine.cohort import EngineCohort

#: Written where the new layer's SELECT names the view it extends.
PREVIOUS = "{previous}"


def add_layer(cohort: EngineCohort, select: str, frames: Mapping[str, pd.DataFrame] = {},
              **changes: Any) -> EngineCohort:
    """``cohort`` with its view replaced by ``select`` (DuckDB dialect), in which
    ``{previous}`` names the view as it was; ``frames`` are the lookup tables ``select``
    joins (their names must be new); ``changes`` replace attributes of the cohort
    (``variables``, ``endpoints``, ``n``...)."""
    spec = cohort.spec
    clash = sorted(set(frames) & set(spec.frames))
    if clash:
        raise ValueError(f"lookup table '{clash[0]}' is already registered")
    previous = f"{COHORT}_layer_{layer_count(cohort)}"
    statements = (*spec.statements, f"ALTER VIEW {COHORT} RENAME TO {previous}",
                  f"CREATE VIEW {COHORT} AS {select.replace(PREVIOUS, previous)}")
    return replace(cohort, spec=replace(spec, statements=statements,
                                        frames={**spec.frames, **frames}), **changes)


def layer_count(cohort: EngineCohort) -> int:
    """How many layers the view already has above its first."""
    return sum(1 for s in cohort.spec.statements if s.startswith(f"ALTER VIEW {COHORT} "))
