"""Harrell's concordance of regression models as records, footnotes and methods text.

The multivariable model's C is recorded under the endpoint (``variable``) with
``group = "model"``, ``group_level = "multivariable"``; each univariable model's C under the
endpoint with the covariate as ``variable_level`` and ``group_level = "univariable"``. The
table's footnote and the methods sentence are built from those records alone.
"""

from __future__ import annotations

from typing import Sequence

from cohortpress.api.blocks import Footnote
from cohortpress.api.results import Result


def concordance_records(context_name: str, c, endpoint: str, level: str,
                        covariate: str | None = None) -> list[Result]:
    """The records of one model's concordance ``c`` (none when ``c`` is None).

    Parameters
    ----------
    context_name : str
    c : cohortpress.stats.coxph.Concordance or None
    endpoint : str
        The records' ``variable``.
    level : str
        ``"multivariable"`` or ``"univariable"`` (the records' ``group_level``).
    covariate : str, optional
        The covariate of a univariable model (the records' ``variable_level``).
    """
    if c is None:
        return []
    common = dict(variable=endpoint, variable_level=covariate, group="model",
                  group_level=level)
    return [Result(context_name, "concordance", c.concordance,
                   formatted=f"{c.concordance:.3f} (SE {c.std_error:.3f})", **common),
            Result(context_name, "concordance.std.error", c.std_error, **common),
            Result(context_name, "concordance.pairs.concordant", c.concordant, **common),
            Result(context_name, "concordance.pairs.discordant", c.discordant, **common),
            Result(context_name, "concordance.pairs.tied", c.tied_x, **common)]


def concordance_notes(records: Sequence[Result]) -> list[Footnote]:
    """The table's footnotes on concordance: the multivariable model's C, then the
    univariable models' C by covariate (labelled as the table's rows)."""
    found = [r for r in records if r.stat_name == "concordance"]
    labels = {r.variable: r.stat for r in records
              if r.stat_name == "label" and r.group is None}
    multi = [r for r in found if r.group_level == "multivariable"]
    uni = [r for r in found if r.group_level == "univariable"]
    notes = [Footnote(f"Harrell's concordance (C) of the multivariable model: "
                      f"{r.formatted}, standard error by the infinitesimal jackknife.")
             for r in multi]
    if len(uni) == 1 and not multi:
        notes.append(Footnote(f"Harrell's concordance (C) of the univariable model: "
                              f"{uni[0].formatted}, standard error by the infinitesimal "
                              f"jackknife."))
    elif uni:
        each = "; ".join(f"{labels.get(r.variable_level, r.variable_level)} {r.formatted}"
                         for r in uni)
        notes.append(Footnote(f"Harrell's concordance (C, standard error by the "
                              f"infinitesimal jackknife) of each univariable model: {each}."))
    return notes


def concordance_methods(records: Sequence[Result], context_name: str) -> list[str]:
    """The methods sentence on concordance, naming the models it was computed for."""
    levels = {r.group_level for r in records
              if r.context == context_name and r.stat_name == "concordance"}
    if not levels:
        return []
    which = {frozenset({"multivariable"}): "the model of all covariates",
             frozenset({"univariable"}): "each univariable model",
             frozenset({"multivariable", "univariable"}):
                 "each univariable model and the model of all covariates"}[frozenset(levels)]
    return [f"Discrimination was summarised by Harrell's concordance index of {which}, with "
            f"its infinitesimal-jackknife standard error (as R's survival::concordance)."]
