"""Natural cubic spline basis, as R's ``splines::ns(x, df)`` computes it.

The coefficients of a model with a spline term depend on the basis, not only on the space
it spans; to match R's coefficients (and let a reader refit the model in R) the basis is
built the way ``ns`` builds it: boundary knots at the range of ``x``, ``df - 1`` interior
knots at the quantiles (type 7) of ``x``, the cubic B-spline basis on those knots
(scipy's :class:`~scipy.interpolate.BSpline`), its first column dropped (no intercept),
and the natural constraint (zero second derivative at both boundary knots) imposed by the
QR decomposition of the constraint matrix: the basis is multiplied by ``Q`` and its first
two columns dropped. A Householder QR without pivoting gives the same ``Q`` whether LINPACK
(R's default ``qr``) or LAPACK (numpy) computes it. Values outside the boundary knots are
extrapolated linearly, as ``ns`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import BSpline

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import float_vector


@dataclass(frozen=True, eq=False)
class NaturalSpline:
    """A natural cubic spline basis fixed by its knots.

    Attributes
    ----------
    knots : ndarray
        The interior knots.
    boundary_knots : ndarray, shape (2,)
    df : int
        The number of basis columns.
    """

    knots: np.ndarray
    boundary_knots: np.ndarray

    @property
    def df(self) -> int:
        return self.knots.size + 1

    def _all_knots(self) -> np.ndarray:
        low, high = self.boundary_knots
        return np.concatenate([[low] * 4, self.knots, [high] * 4])

    def _bspline(self, x: np.ndarray, derivative: int = 0) -> np.ndarray:
        """The cubic B-spline basis (all columns) at ``x`` (within the boundary knots)."""
        t = self._all_knots()
        n = t.size - 4
        out = np.empty((x.size, n))
        for j in range(n):
            c = np.zeros(n)
            c[j] = 1.0
            spline = BSpline(t, c, 3, extrapolate=True)
            out[:, j] = spline.derivative(derivative)(x) if derivative else spline(x)
        return out

    def _q(self) -> np.ndarray:
        const = self._bspline(self.boundary_knots, 2)[:, 1:]
        q, _ = np.linalg.qr(const.T, mode="complete")
        return q

    def basis(self, x) -> np.ndarray:
        """The basis at ``x``: shape (len(x), df), as ``predict(ns(...), x)`` in R.

        Parameters
        ----------
        x : array_like
            Finite values.

        Returns
        -------
        ndarray
        """
        x = float_vector(x, "x")
        if not np.isfinite(x).all():
            raise StatisticsError("x must be finite to evaluate a spline basis")
        low, high = self.boundary_knots
        inside = (x >= low) & (x <= high)
        raw = np.zeros((x.size, self.knots.size + 4))
        if inside.any():
            raw[inside] = self._bspline(x[inside])
        for pivot, side in ((low, x < low), (high, x > high)):
            if side.any():
                at = np.array([pivot])
                value, slope = self._bspline(at)[0], self._bspline(at, 1)[0]
                raw[side] = value + np.outer(x[side] - pivot, slope)
        return (raw[:, 1:] @ self._q())[:, 2:]


def natural_spline(x, df: int) -> NaturalSpline:
    """The basis R's ``ns(x, df = df)`` builds on ``x``.

    Parameters
    ----------
    x : array_like
        The covariate's values (finite; at least two distinct).
    df : int
        Degrees of freedom, >= 1 (1 is a linear term on the ``ns`` scale).

    Returns
    -------
    NaturalSpline
        Evaluate it with :meth:`NaturalSpline.basis`.
    """
    x = float_vector(x, "x")
    if x.size == 0 or not np.isfinite(x).all():
        raise StatisticsError("a spline needs finite values of its covariate")
    if int(df) < 1:
        raise StatisticsError(f"a spline needs df >= 1; got {df}")
    low, high = float(x.min()), float(x.max())
    if low == high:
        raise StatisticsError("a spline needs a covariate with at least two distinct values")
    probs = np.linspace(0.0, 1.0, int(df) + 1)[1:-1]
    knots = np.quantile(x, probs, method="linear") if probs.size else np.empty(0)
    if np.unique(np.concatenate([[low], knots, [high]])).size < knots.size + 2:
        raise StatisticsError(f"too few distinct values for a spline with {df} df: knots "
                              f"coincide")
    return NaturalSpline(np.asarray(knots, dtype=float), np.array([low, high]))
