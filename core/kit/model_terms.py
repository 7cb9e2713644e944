"""Spline and interaction terms of a regression section: option checks and methods text.

A section's options name its covariates, ``splines`` (covariates that enter as natural
splines of ``spline_df`` degrees of freedom) and ``interactions`` (pairs of covariates). The
checks here refuse what the model cannot mean, each with one line naming the key: a spline
or an interaction of a variable that is not a covariate, an interaction without a
multivariable model, a pair that is not two distinct covariates or is given twice, a
spline inside an interaction, a spline of a variable that is not continuous.
"""

from __future__ import annotations

from typing import Sequence

from pydantic import Field

from cohortpress.api.results import Result
from cohortpress.common.errors import DataError
from cohortpress.common.formatting import in_sentence


def splines_field():
    """The ``splines`` option of a regression section."""
    return Field(default_factory=list, description="continuous covariates (also listed in "
                 "covariates) that enter as natural cubic splines, R's ns(x, df = "
                 "spline_df): one table row each with the test of the whole spline and a "
                 "test of non-linearity", examples=[["age"]])


def spline_df_field():
    """The ``spline_df`` option: one df for every spline of the section."""
    return Field(4, ge=1, le=10, description="degrees of freedom of each spline (its basis "
                 "columns; df - 1 interior knots at quantiles)", examples=[3])


def interactions_field():
    """The ``interactions`` option: pairs of covariates."""
    return Field(default_factory=list, description="pairs of covariates (both listed in "
                 "covariates) whose interaction enters the multivariable model, as a:b in "
                 "R: the products of their columns, with the term's overall test",
                 examples=[[["age", "sex"]]])


def spline_figure_field():
    """The ``spline_figure`` option."""
    return Field(False, description="draw each spline's ratio against its covariate, with "
                 "a pointwise confidence band, relative to spline_reference (the "
                 "multivariable model; the only model with one covariate)", examples=[True])


def spline_reference_field():
    """The ``spline_reference`` option: where each spline's curve is 1."""
    return Field(default_factory=dict, description="the value of a spline covariate where "
                 "its curve's ratio is 1, by covariate; default: the median among the "
                 "model's patients", examples=[{"age": 60}])


def spline_map(options) -> dict[str, int]:
    """The df of each covariate that enters as a spline."""
    return {name: options.spline_df for name in options.splines}


def term_option_problems(options) -> list[tuple[str, str]]:
    """``(key, why)`` for each spline or interaction option that cannot apply."""
    covariates = list(options.covariates)
    problems = []
    for i, name in enumerate(options.splines):
        if name not in covariates:
            problems.append((f"splines[{i}]", f"'{name}' is not among the covariates "
                             f"{covariates}: a spline replaces a covariate's linear term"))
        elif name in options.splines[:i]:
            problems.append((f"splines[{i}]", f"'{name}' is given twice"))
    for key in ("spline_df", "spline_figure"):
        if key in options.model_fields_set and not options.splines:
            problems.append((key, "no covariate is named in splines"))
    for name in getattr(options, "spline_reference", {}):
        if name not in options.splines:
            problems.append((f"spline_reference.{name}", f"'{name}' is not among the "
                             f"splines {list(options.splines)}"))
    seen = set()
    for i, pair in enumerate(options.interactions):
        key = f"interactions[{i}]"
        if len(pair) != 2 or pair[0] == pair[1]:
            problems.append((key, f"an interaction is a pair of two different covariates, "
                             f"not {list(pair)}"))
            continue
        missing = [name for name in pair if name not in covariates]
        if missing:
            problems.append((key, f"{missing} not among the covariates {covariates}: an "
                             f"interaction needs both main effects in the model"))
        elif frozenset(pair) in seen:
            problems.append((key, f"the interaction {list(pair)} is given twice"))
        elif set(pair) & set(options.splines):
            problems.append((key, "an interaction with a spline term is not supported: "
                             "interact the linear covariate, or leave the spline alone"))
        elif not options.multivariable:
            problems.append((key, "interactions enter the multivariable model, and "
                             "multivariable = false fits none"))
        seen.add(frozenset(pair))
    return problems


def check_term_kinds(cohort, options) -> None:
    """A spline of a variable that is not continuous: one DataError naming it."""
    for name in options.splines:
        kind = cohort.variable(name).kind
        if kind != "continuous":
            raise DataError(f"splines: '{name}' is {kind}; a natural spline needs a "
                            f"continuous covariate", column=name)


def term_methods(results: Sequence[Result], context_name: str) -> list[str]:
    """The methods sentences on the splines and interactions a section fitted."""
    mine = [r for r in results if r.context == context_name and r.group is None]
    kinds = {r.variable: r.stat for r in mine if r.stat_name == "var_type"}
    labels = {r.variable: r.stat for r in mine if r.stat_name == "label"}
    df = {r.variable: r.stat for r in mine if r.stat_name == "spline.df"}
    tests = {str(r.stat) for r in results if r.context == context_name
             and r.stat_name in ("method.term", "method.nonlinear")}
    test = "likelihood-ratio" if tests and all("ikelihood" in t for t in tests) else "Wald"
    out = []
    splines = [v for v, kind in kinds.items() if kind == "spline"]
    if splines:
        names = ", ".join(in_sentence(labels[v].split(" (natural spline")[0]) for v in splines)
        dfs = sorted({df[v] for v in splines})
        several = len(splines) > 1
        out.append(f"The continuous covariate{'s' if several else ''} {names} entered as "
                   f"{'natural cubic splines' if several else 'a natural cubic spline'} "
                   f"with {' or '.join(map(str, dfs))} "
                   f"degrees of freedom (as R's splines::ns, boundary knots at the range, interior "
                   f"knots at quantiles); each spline was tested as a whole and against a "
                   f"linear term (non-linearity) by {test} tests.")
    if any(r.context == context_name and r.stat_name == "curve.reference" for r in results):
        out.append("Each spline's ratio was drawn against its covariate, relative to the "
                   "value stated under the figure, with pointwise Wald confidence bands.")
    interactions = [v for v, kind in kinds.items() if kind == "interaction"]
    if interactions:
        names = ", ".join(in_sentence(labels[v]) for v in interactions)
        out.append(f"The multivariable model included the interaction"
                   f"{'s' if len(interactions) > 1 else ''} {names} (products of the "
                   f"covariates' columns, as R's a:b), each tested as a whole by a {test} "
                   f"test; the main effects of interacting covariates are then their effects "
                   f"at the reference level (or zero) of the other.")
    return out
