"""Logistic model inputs: the checked design matrix, and separation found by linear programming.

Separation is detected before fitting with a linear program (as in Konis 2007 and the
``detectseparation`` package): a direction ``d != 0`` with ``s_i x_i' d >= 0`` for every row
(``s_i = +1`` for events, ``-1`` otherwise) makes the likelihood increase without bound along
``d``; the coefficients that some such direction moves are infinite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import check_finite_columns, design_matrix
from cohortpress.stats.linalg import raise_if_collinear

__all__ = ["INTERCEPT", "Design", "prepare_design", "detect_separation", "infinite_directions"]

INTERCEPT = "(Intercept)"

#: Components of a separating direction (columns scaled to max |x| = 1) counted as non-zero,
#: and the slack allowed in the linear program's constraints (HiGHS is feasible to 1e-7).
_SEPARATION_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class Design:
    """A checked design: ``x`` with the intercept column (if any) first, ``y`` coded 0/1."""

    x: np.ndarray
    y: np.ndarray
    names: tuple[str, ...]
    has_intercept: bool


def prepare_design(X, y, names: Sequence[str], intercept: bool) -> Design:
    """Check the inputs of a logistic fit and add the intercept column.

    Raises
    ------
    StatisticsError
        On missing values, an outcome that is not 0/1 or does not vary, a constant or
        collinear column, or fewer rows than coefficients.
    """
    x, names = design_matrix(X, names)
    outcome = np.asarray(y, dtype=float).ravel()
    if outcome.size != x.shape[0]:
        raise StatisticsError(f"y has {outcome.size} values for {x.shape[0]} rows")
    if not np.isfinite(outcome).all():
        raise StatisticsError("y has missing or non-finite values")
    check_finite_columns(x, names)
    if not ((outcome == 0.0) | (outcome == 1.0)).all():
        raise StatisticsError("y must be coded 0/1")
    if outcome.min() == outcome.max():
        raise StatisticsError(f"y is {int(outcome[0])} for every row; there is nothing to model")
    if intercept:
        x = np.column_stack((np.ones(x.shape[0]), x))
        names = (INTERCEPT,) + names
    if len(set(names)) != len(names):
        raise StatisticsError("design-matrix column names must be unique")
    if x.shape[1] == 0:
        raise StatisticsError("the model has no coefficients")
    _check_rank(x, names, intercept)
    return Design(x, outcome, names, intercept)


def _check_rank(x: np.ndarray, names: tuple[str, ...], intercept: bool) -> None:
    if x.shape[0] <= x.shape[1]:
        raise StatisticsError(f"{x.shape[0]} rows are too few for {x.shape[1]} coefficients")
    if not intercept:
        zero = ~x.any(axis=0)
        if zero.any():
            raise StatisticsError("column(s) " + ", ".join(
                f"'{names[j]}'" for j in np.flatnonzero(zero)) + " are all zero")
        raise_if_collinear(x, names)
        return
    covariates = x[:, 1:]
    constant = covariates.max(axis=0) == covariates.min(axis=0)
    if constant.any():
        raise StatisticsError("covariate(s) " + ", ".join(
            f"'{names[1 + j]}'" for j in np.flatnonzero(constant))
            + " constant in the data used (collinear with the intercept)")
    if covariates.shape[1]:
        raise_if_collinear(covariates - covariates.mean(axis=0), names[1:])



def detect_separation(X, y, names: Sequence[str], intercept: bool = True) -> tuple[str, ...]:
    """Names of the coefficients whose maximum-likelihood estimate is infinite.

    Solves, with columns scaled to ``max |x| = 1`` and ``d`` in the box ``[-1, 1]^p``, the
    linear program ``max sum_i s_i x_i' d`` subject to ``s_i x_i' d >= 0`` for every row
    (``s_i = 2 y_i - 1``). A positive optimum means (quasi-)complete separation. Coefficient
    ``j`` is flagged when some feasible ``d`` has ``d_j != 0``, checked by maximising and
    minimising ``d_j`` over the same set: the likelihood never decreases along ``d``, so the
    profile likelihood of ``b_j`` does not fall on that side, and ``b_j`` has neither a finite
    estimate nor a finite profile limit.

    Parameters
    ----------
    X, y, names, intercept
        As for :func:`fit_logistic`.

    Returns
    -------
    tuple of str
        Empty when there is no separation.
    """
    design = prepare_design(X, y, names, intercept)
    return tuple(design.names[j] for j in np.flatnonzero(infinite_directions(design)))


def infinite_directions(design: Design) -> np.ndarray:
    import scipy.optimize  # only here: a third of a second to import

    scale = np.abs(design.x).max(axis=0)
    signed = design.x / scale * (2.0 * design.y - 1.0)[:, None]
    p_columns = signed.shape[1]
    bounds = [(-1.0, 1.0)] * p_columns
    zero = np.zeros(signed.shape[0])

    def extreme_direction(objective):
        solution = scipy.optimize.linprog(objective, A_ub=-signed, b_ub=zero, bounds=bounds,
                                          method="highs")
        if solution.status != 0:
            return None
        direction = solution.x
        margins = signed @ direction
        if margins.min() < -_SEPARATION_TOLERANCE or margins.sum() <= _SEPARATION_TOLERANCE:
            return None
        return direction

    direction = extreme_direction(-signed.sum(axis=0))
    infinite = np.zeros(p_columns, dtype=bool)
    if direction is None:
        return infinite
    infinite |= np.abs(direction) > _SEPARATION_TOLERANCE
    for j in np.flatnonzero(~infinite):
        for sign in (-1.0, 1.0):
            unit = np.zeros(p_columns)
            unit[j] = sign
            found = extreme_direction(unit)
            if found is not None and abs(found[j]) > _SEPARATION_TOLERANCE:
                infinite[j] = True
                break
    return infinite


