"""Splitting a cohort by a grouping variable: the columns of most tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cohortpress.common.errors import DataError


@dataclass(frozen=True, eq=False)
class Grouping:
    """Patients split by a categorical variable.

    Attributes
    ----------
    variable : str or None
        The grouping variable (``None``: everyone in one group).
    label : str
        Its label.
    levels : tuple of str
        The groups, in the variable's level order (empty groups kept: they are reported).
    codes : ndarray of int
        Each patient's group index; -1 where the group is missing.
    sizes : tuple of int
        Patients per group.
    """

    variable: str | None
    label: str
    levels: tuple[str, ...]
    codes: np.ndarray
    sizes: tuple[int, ...]

    @property
    def n_missing(self) -> int:
        return int((self.codes < 0).sum())

    @property
    def n_grouped(self) -> int:
        return int((self.codes >= 0).sum())

    def mask(self, index: int) -> np.ndarray:
        return self.codes == index

    def empty_groups(self) -> list[str]:
        return [lv for lv, n in zip(self.levels, self.sizes) if n == 0]


def group_cohort(cohort, by: str | None) -> Grouping:
    """The :class:`Grouping` of ``cohort`` by ``by`` (everyone together when ``None``)."""
    if by is None:
        codes = np.zeros(cohort.n, dtype=np.int64)
        return Grouping(None, "", ("Overall",), codes, (cohort.n,))
    info = grouping_variable(cohort, by)
    values = cohort.values(by)
    codes = np.asarray(values.cat.codes, dtype=np.int64)
    sizes = tuple(int(n) for n in np.bincount(codes[codes >= 0], minlength=len(info.levels)))
    return Grouping(by, info.label, info.levels, codes, sizes)


def grouping_variable(cohort, by: str):
    """The :class:`~cohortpress.data.cohort.VariableInfo` of a grouping variable, which must
    be categorical (of an in-memory or an engine cohort: nothing is counted)."""
    info = cohort.variable(by)
    if info.kind not in ("categorical", "binary"):
        raise DataError(f"grouping variable '{by}' is {info.kind}; it must be categorical "
                        f"(derive groups with a 'cut' in [derived])", column=by)
    return info


def check_strata(cohort, strata: str) -> None:
    """A strata variable must be categorical: the line every analysis with strata gives."""
    info = cohort.variable(strata)
    if info.kind not in ("categorical", "binary"):
        raise DataError(f"strata variable '{strata}' must be categorical", column=strata)


def empty_group_warnings(groups: Grouping) -> list[str]:
    """One warning per group with no patients (a subset or a level never used empties it):
    the group is shown with no patients and left out of the tests, which is not an error but
    rarely what the config meant."""
    return [f"group '{level}' of '{groups.variable}' has no patients (shown empty, not tested)"
            for level in groups.empty_groups()]
