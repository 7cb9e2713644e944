"""Design matrices for regression models, from cohort variables.

Continuous variables enter as they are (derive a transformed or rescaled variable in
``[derived]`` for skewed covariates); binary variables as one indicator of their positive
level; categorical variables as indicators of every level but the reference (the variable's
``reference`` level, or its first). Rows with any missing covariate (or outcome, or stratum)
are dropped: the complete-case rule, stated in the report.

A continuous covariate may instead enter as a natural cubic spline (R's ``ns(x, df)``
basis, :mod:`cohortpress.stats.splines`), and two covariates of the model may enter with
their interaction: the products of their columns, as R's ``model.matrix`` builds ``a:b``
(the first factor's levels varying fastest), leaving out a product no patient has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from cohortpress.common.errors import DataError, StatisticsError


@dataclass(frozen=True)
class Term:
    """One covariate of a model and the design columns it became.

    ``levels`` lists, for a categorical term, the reference first and then the level of
    each column; for a binary term, the reference and the positive level; for an
    interaction, the level of each column (``""`` for a product of two continuous
    covariates). ``kind`` is ``continuous``, ``binary``, ``categorical``, ``spline`` (then
    ``spline`` holds its basis) or ``interaction`` (then ``parents`` names its two
    covariates).
    """

    variable: str
    label: str
    kind: str
    columns: tuple[str, ...]
    levels: tuple[str, ...] = ()
    reference: str | None = None
    spline: object = None
    parents: tuple[str, ...] = ()

    @property
    def is_factor(self) -> bool:
        return self.kind in ("categorical", "binary")


@dataclass(frozen=True, eq=False)
class Design:
    """A dummy-coded design matrix over the complete cases.

    Attributes
    ----------
    X : ndarray, shape (n_complete, p)
    names : tuple of str
        Column names, ``variable`` for continuous terms and ``variable=level`` for indicators.
    terms : tuple of Term
    keep : ndarray of bool
        Which cohort rows are complete cases.
    """

    X: np.ndarray
    names: tuple[str, ...]
    terms: tuple[Term, ...]
    keep: np.ndarray
    raw: dict = field(default_factory=dict)  # spline variable -> its values (complete cases)

    @property
    def n(self) -> int:
        return int(self.keep.sum())

    def references(self) -> dict[str, str]:
        """The reference level chosen for each factor."""
        return {t.variable: t.reference for t in self.terms if t.reference is not None}

    @property
    def n_dropped(self) -> int:
        return int((~self.keep).sum())

    def columns_of(self, terms: Sequence[Term]) -> list[int]:
        wanted = {c for t in terms for c in t.columns}
        return [i for i, name in enumerate(self.names) if name in wanted]

    def subset(self, terms: Sequence[Term]) -> "Design":
        """The design restricted to ``terms`` (same rows)."""
        idx = self.columns_of(terms)
        return Design(self.X[:, idx], tuple(self.names[i] for i in idx), tuple(terms), self.keep,
                      self.raw)

    def linear_in(self, term: Term) -> tuple["Design", tuple[str, ...]]:
        """The same model with one spline column swapped for the covariate itself.

        A natural spline spans the linear function of its covariate (up to a constant), so
        this design fits exactly the same model; dropping the returned columns (the
        spline's others) leaves the linear term: their test is the test of non-linearity.
        The column swapped is the one the linear function leans on most.
        """
        x = self.raw[term.variable]
        idx = self.columns_of([term])
        basis = self.X[:, idx]
        coef, *_ = np.linalg.lstsq(basis, x - x.min(), rcond=None)
        swap = idx[int(np.argmax(np.abs(coef)))]
        X = self.X.copy()
        X[:, swap] = x
        names = list(self.names)
        names[swap] = term.variable
        others = tuple(self.names[i] for i in idx if i != swap)
        return Design(X, tuple(names), self.terms, self.keep, self.raw), others


def build_design(cohort, variables: Sequence[str], also_complete: Sequence[np.ndarray] = (),
                 references: dict[str, str] | None = None, *,
                 splines: dict[str, int] | None = None,
                 interactions: Sequence[Sequence[str]] = ()) -> Design:
    """Dummy-code ``variables`` over the rows complete in them and in ``also_complete``.

    ``references`` fixes the reference level of factors (so that univariable models use the
    reference the multivariable model chose); otherwise it is the variable's ``reference``
    or its first level with patients among the complete cases. ``splines`` gives the df of
    the continuous variables that enter as natural splines; ``interactions`` pairs of
    ``variables`` whose products enter after the main effects.
    """
    keep = np.ones(cohort.n, dtype=bool)
    for mask in also_complete:
        keep &= mask
    for name in variables:
        keep &= cohort.values(name).notna().to_numpy()
    blocks, names, terms = [], [], []
    for name in variables:
        info = cohort.variable(name)
        values = cohort.values(name)
        if info.kind == "continuous" and name in (splines or {}):
            block, cols, term = _spline(name, info, values.to_numpy(dtype=float)[keep],
                                        splines[name])
            blocks.append(block)
            names.extend(cols)
            terms.append(term)
        elif info.kind == "continuous":
            column = values.to_numpy(dtype=float)[keep]
            blocks.append(column[:, None])
            names.append(name)
            terms.append(Term(name, info.label_with_unit(), "continuous", (name,)))
        elif info.kind in ("categorical", "binary"):
            block, cols, term = _indicators(name, info, values, keep,
                                            (references or {}).get(name))
            blocks.append(block)
            names.extend(cols)
            terms.append(term)
        else:
            raise DataError(f"covariate '{name}' is {info.kind}; models take categorical, "
                            f"binary or continuous variables", column=name)
    for pair in interactions:
        block, cols, term = _interaction([_block_of(t, names, blocks) for t in terms
                                          if t.variable in pair], pair)
        blocks.append(block)
        names.extend(cols)
        terms.append(term)
    X = np.hstack(blocks) if blocks else np.empty((int(keep.sum()), 0))
    raw = {t.variable: cohort.values(t.variable).to_numpy(dtype=float)[keep]
           for t in terms if t.kind == "spline"}
    return Design(X, tuple(names), tuple(terms), keep, raw)


def _spline(name: str, info, x: np.ndarray, df: int):
    from cohortpress.stats.splines import natural_spline

    try:
        basis = natural_spline(x, df)
    except StatisticsError as exc:
        raise DataError(f"natural spline of '{name}': {exc}", column=name) from None
    cols = tuple(f"ns({name}, df = {df}){j}" for j in range(1, df + 1))
    term = Term(name, f"{info.label_with_unit()} (natural spline, {df} df)", "spline", cols,
                spline=basis)
    return basis.basis(x), cols, term


def _block_of(term: Term, names: list[str], blocks: list[np.ndarray]):
    """The design columns of ``term`` and their levels (``""`` for a continuous one)."""
    matrix = np.hstack(blocks)
    idx = [names.index(c) for c in term.columns]
    levels = term.levels[1:] if term.is_factor else ("",)
    return term, matrix[:, idx], levels


def _interaction(parts, pair):
    """The products of two terms' columns, the first one's varying fastest (as R)."""
    by_name = {part[0].variable: part for part in parts}
    (a, xa, la), (b, xb, lb) = by_name[pair[0]], by_name[pair[1]]
    blocks, cols, levels = [], [], []
    for j, level_b in enumerate(lb):
        for i, level_a in enumerate(la):
            product = xa[:, i] * xb[:, j]
            if a.is_factor and b.is_factor and not product.any():
                continue  # no patient has both levels: R would give NA; leave it out
            blocks.append(product)
            cols.append(f"{a.columns[i]}:{b.columns[j]}")
            levels.append(" \u00d7 ".join(lv for lv in (level_a, level_b) if lv))
    variable = f"{pair[0]}:{pair[1]}"
    label = f"{a.label} \u00d7 {b.label}"
    block = np.column_stack(blocks) if blocks else np.empty((xa.shape[0], 0))
    return block, tuple(cols), Term(variable, label, "interaction", tuple(cols),
                                    tuple(levels), parents=(pair[0], pair[1]))


def _indicators(name: str, info, values, keep, forced_reference: str | None = None):
    levels = list(info.levels)
    codes = np.asarray(values.cat.codes, dtype=np.int64)[keep]
    present = set(np.unique(codes).tolist())
    term = factor_term(name, info, present, forced_reference)
    block = np.column_stack([(codes == levels.index(lv)).astype(float)
                             for lv in term.levels[1:]]) \
        if len(term.levels) > 1 else np.empty((len(codes), 0))
    return block, term.columns, term


def factor_term(name: str, info, present: set[int], forced_reference: str | None = None) -> Term:
    """The term of a factor whose complete cases have the level codes ``present``: its
    reference level and one indicator column per other level present (shared by the
    in-memory design and the engine's, which reads ``present`` from counts)."""
    levels = list(info.levels)
    if forced_reference is not None and forced_reference in levels:
        reference = forced_reference
        others = [lv for lv in levels if lv != reference]
    elif info.kind == "binary" and info.positive in levels:
        reference = next(lv for lv in levels if lv != info.positive) if len(levels) == 2 \
            else levels[0]
        others = [info.positive]
    elif info.reference is not None:
        reference = info.reference
        if levels.index(reference) not in present:
            raise DataError(f"the reference level '{reference}' of '{name}' has no patients "
                            f"among the complete cases", column=name)
        others = [lv for lv in levels if lv != reference]
    else:
        # The first level that has patients: a level absent from this model (a subset, or
        # complete cases) cannot be the reference.
        reference = next((lv for lv in levels if levels.index(lv) in present), levels[0])
        others = [lv for lv in levels if lv != reference]
    others = [lv for lv in others if levels.index(lv) in present]
    cols = tuple(f"{name}={lv}" for lv in others)
    kind = "binary" if info.kind == "binary" else "categorical"
    return Term(name, info.label, kind, cols, (reference, *others), reference)
