"""Tail probabilities and quantiles of the reference distributions, from ``scipy.special``.

The statistics need six functions of four distributions; ``scipy.stats`` provides them but
takes about half a second to import, a sixth of the time a small report may take end to
end. These are the same special functions ``scipy.stats`` calls (``chdtrc``, ``stdtr``,
``fdtrc``, ``ndtr``, ``ndtri``, ``gammaincinv``) with the same handling of the support
bounds and of invalid parameters, so the values are identical to the last bit (checked
against ``scipy.stats`` in ``tests/test_stats_distributions.py``).

Every function takes scalars or arrays (broadcast together) and returns a NumPy float or
array: ``nan`` for a ``nan`` argument or an invalid parameter (degrees of freedom not > 0),
1 below the support and 0 above it for the survival functions.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def _tail(function, x, lower: float, shapes) -> np.ndarray | np.floating:
    """``function(*shapes, x)`` inside the support, the bounds' values outside it."""
    x, *shapes = np.broadcast_arrays(np.asarray(x, dtype=float),
                                     *(np.asarray(s, dtype=float) for s in shapes))
    valid = np.ones(x.shape, dtype=bool)
    for shape in shapes:
        valid &= shape > 0  # False for nan
    out = np.full(x.shape, np.nan)
    inside = valid & (x > lower) & (x < np.inf)
    out[inside] = function(*(s[inside] for s in shapes), x[inside])
    out[valid & (x <= lower)] = 1.0
    out[valid & (x == np.inf)] = 0.0
    return out[()]


def chi2_sf(x, df):
    """Upper tail P(X > x) of the chi-squared distribution (R: ``pchisq(x, df, lower=FALSE)``)."""
    return _tail(special.chdtrc, x, 0.0, (df,))


def t_sf(x, df):
    """Upper tail P(T > x) of Student's t distribution (R: ``pt(x, df, lower=FALSE)``)."""
    return _tail(lambda d, v: special.stdtr(d, -v), x, -np.inf, (df,))


def f_sf(x, dfn, dfd):
    """Upper tail P(F > x) of the F distribution (R: ``pf(x, dfn, dfd, lower=FALSE)``)."""
    return _tail(special.fdtrc, x, 0.0, (dfn, dfd))


def norm_sf(x):
    """Upper tail P(Z > x) of the standard normal distribution (R: ``pnorm(x, lower=FALSE)``)."""
    return special.ndtr(-np.asarray(x, dtype=float))[()]


def norm_ppf(q):
    """Quantile of the standard normal distribution (R: ``qnorm(q)``); ``nan`` outside [0, 1]."""
    q = np.asarray(q, dtype=float)
    return np.where((q >= 0) & (q <= 1), special.ndtri(q), np.nan)[()]


def chi2_ppf(q, df):
    """Quantile of the chi-squared distribution (R: ``qchisq(q, df)``).

    ``nan`` for ``q`` outside [0, 1] or ``df`` not > 0; 0 at ``q = 0`` and infinity at ``q = 1``.
    """
    q, df = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(df, dtype=float))
    out = np.full(q.shape, np.nan)
    valid = df > 0
    inside = valid & (q > 0) & (q < 1)
    out[inside] = 2.0 * special.gammaincinv(df[inside] / 2.0, q[inside])
    out[valid & (q == 0)] = 0.0
    out[valid & (q == 1)] = np.inf
    return out[()]


def rank_average(values) -> np.ndarray:
    """Ranks 1..n, ties given the mean of their ranks (R: ``rank(x)``).

    For finite values (``nan`` would get ranks of its own, where ``scipy.stats.rankdata``
    returns all ``nan``; callers check their data first).
    """
    values = np.asarray(values)
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    first = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    dense = np.empty(values.size, dtype=np.intp)
    dense[order] = np.cumsum(first)
    starts = np.concatenate((np.flatnonzero(first), [values.size]))
    return 0.5 * (starts[dense] + starts[dense - 1] + 1)
