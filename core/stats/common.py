"""Result types and input checks shared by the statistical modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cohortpress.common.errors import StatisticsError


@dataclass(frozen=True)
class TestResult:
    """The outcome of a hypothesis test.

    Attributes
    ----------
    method : str
        The test's name as a footnote prints it, e.g. ``"Fisher's exact test"``.
    p_value : float
        Two-sided p-value unless ``method`` says otherwise; ``nan`` when not computable.
    statistic : float or None
        The test statistic (chi-square, t, W, H, F); ``None`` for exact tests without one.
    df : float or None
        Degrees of freedom where the reference distribution has them.
    note : str or None
        Anything the reader must know to reproduce the p-value, e.g. the number of Monte
        Carlo tables and the seed, or that an exact test fell back to an approximation.
    monte_carlo_tables, seed : int or None
        For a p-value simulated by Monte Carlo: the number of simulated tables and the
        random seed (``None`` for a p-value computed exactly or from a distribution), so
        that the results file can say which kind of p-value it holds.
    """

    __test__ = False  # not a pytest test class, despite the name

    method: str
    p_value: float
    statistic: float | None = None
    df: float | None = None
    note: str | None = None
    monte_carlo_tables: int | None = None
    seed: int | None = None


def design_matrix(X, names: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """``X`` as a 2-D float array (a vector is one column) with one name per column.

    Raises
    ------
    StatisticsError
        If ``X`` has more than two dimensions or the names do not match its columns.
    """
    x = np.asarray(X, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise StatisticsError(f"the design matrix must be 2-dimensional, not {x.ndim}-dimensional")
    names = tuple(str(name) for name in names)
    if len(names) != x.shape[1]:
        raise StatisticsError(f"{len(names)} names given for {x.shape[1]} design-matrix columns")
    return x, names


def linear_predictor(X, coef) -> np.ndarray:
    """``X @ coef`` computed column by column, so that identical rows give identical values.

    A BLAS matrix-vector product may round two identical rows differently depending on
    where they fall in its vectorised blocks, and how it does so depends on the CPU. Rank
    statistics on the linear predictor (Harrell's concordance, the AUC) count exact ties,
    so such a last-bit difference would turn a tied pair into a concordant one on some
    machines; elementwise products and sums are rounded the same for every row.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Covariates.
    coef : array_like, shape (p,)
        Coefficients.

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    x = np.asarray(X, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    out = np.zeros(x.shape[0])
    for j, b in enumerate(np.asarray(coef, dtype=float)):
        out += x[:, j] * b
    return out


def check_finite_columns(x: np.ndarray, names: Sequence[str]) -> None:
    """Raise a StatisticsError naming every column of ``x`` with a missing or infinite value."""
    finite = np.isfinite(x).all(axis=0)
    if not finite.all():
        raise StatisticsError("missing or non-finite values in column(s) " + ", ".join(
            f"'{names[j]}'" for j in np.flatnonzero(~finite)))


def float_vector(values, name: str = "values") -> np.ndarray:
    """``values`` as a 1-D float array (missing values stay ``nan``).

    Raises
    ------
    StatisticsError
        If the values are not numbers or not one-dimensional; ``name`` says which input.
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise StatisticsError(f"{name} must contain numbers") from None
    if array.ndim != 1:
        raise StatisticsError(f"{name} must be a 1-D array; got {array.ndim} dimensions")
    return array


def check_conf_level(conf_level: float) -> None:
    """Raise a StatisticsError unless ``0 < conf_level < 1`` (``nan`` included)."""
    if not 0.0 < conf_level < 1.0:
        raise StatisticsError(f"conf_level must be between 0 and 1; got {conf_level!r}")
