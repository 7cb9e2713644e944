"""The Wald table of a regression: standard errors, z, p-values, ratios and their limits.

One place for what the Cox and logistic fits both report per coefficient: ``se`` from the
covariance matrix, ``z = coef / se``, the two-sided normal p-value, ``exp(coef)`` (hazard or
odds ratio) and the Wald limits ``exp(coef -/+ q se)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cohortpress.stats.distributions import norm_ppf, norm_sf

__all__ = ["WaldTable", "wald_table"]


class WaldTable(NamedTuple):
    """Per-coefficient Wald statistics; every entry is ``nan`` for an infinite coefficient
    except ``se``."""

    se: np.ndarray
    z: np.ndarray
    p: np.ndarray
    ratio: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray


def wald_table(coef: np.ndarray, var: np.ndarray, infinite: np.ndarray,
               conf_level: float) -> WaldTable:
    """Wald statistics of each coefficient on the exponentiated (ratio) scale.

    Parameters
    ----------
    coef : numpy.ndarray, shape (p,)
        Estimates on the log scale (log hazard or log odds ratios).
    var : numpy.ndarray, shape (p, p)
        Their covariance matrix; ``se = sqrt(diag(var))``.
    infinite : numpy.ndarray of bool, shape (p,)
        Coefficients whose estimate is infinite: their z, p, ratio and limits are ``nan``.
    conf_level : float
        Coverage of the limits ``exp(coef -/+ q se)``, ``q = Phi^-1((1 + conf_level) / 2)``.

    Returns
    -------
    WaldTable
        ``p = 2 Phi(-|z|)``.
    """
    se = np.sqrt(np.diag(var))
    quantile = norm_ppf(0.5 + conf_level / 2.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = np.where(infinite, np.nan, coef / se)
        ratio = np.where(infinite, np.nan, np.exp(coef))
        low = np.where(infinite, np.nan, np.exp(coef - quantile * se))
        high = np.where(infinite, np.nan, np.exp(coef + quantile * se))
    return WaldTable(se, z, 2.0 * norm_sf(np.abs(z)), ratio, low, high)
