"""Design matrices for regression models, from cohort variables.

Continuous variables enter as they are (derive a transformed or rescaled variable in
``[derived]`` for skewed covariates); binary variables as one indicator of their positive
level; categorical variables as indicators of every level but the reference (the variable's
``reference`` level, or its first). Rows with any missing covariate (or outcome, or stratum)
are dropped: the complete-case rule, stated in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cohortpress.common.errors import DataError


@dataclass(frozen=True)
class Term:
    """One covariate of a model and the design columns it became.

    ``levels`` lists, for a categorical term, the reference first and then the level of
    each column; for a binary term, the reference and the positive level.
    """

    variable: str
    label: str
    kind: str
    columns: tuple[str, ...]
    levels: tuple[str, ...] = ()
    reference: str | None = None

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
        return Design(self.X[:, idx], tuple(self.names[i] for i in idx), tuple(terms), self.keep)


def build_design(cohort, variables: Sequence[str], also_complete: Sequence[np.ndarray] = (),
                 references: dict[str, str] | None = None) -> Design:
    """Dummy-code ``variables`` over the rows complete in them and in ``also_complete``.

    ``references`` fixes the reference level of factors (so that univariable models use the
    reference the multivariable model chose); otherwise it is the variable's ``reference``
    or its first level with patients among the complete cases.
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
        if info.kind == "continuous":
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
    X = np.hstack(blocks) if blocks else np.empty((int(keep.sum()), 0))
    return Design(X, tuple(names), tuple(terms), keep)


def _indicators(name: str, info, values, keep, forced_reference: str | None = None):
    levels = list(info.levels)
    codes = np.asarray(values.cat.codes, dtype=np.int64)[keep]
    present = set(np.unique(codes).tolist())
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
    block = np.column_stack([(codes == levels.index(lv)).astype(float) for lv in others]) \
        if others else np.empty((len(codes), 0))
    cols = tuple(f"{name}={lv}" for lv in others)
    kind = "binary" if info.kind == "binary" else "categorical"
    return block, cols, Term(name, info.label, kind, cols, (reference, *others), reference)
