"""Harrell's concordance of a Cox model with its infinitesimal-jackknife standard error.

As ``survival::concordance(fit)`` (survival >= 3): a pair of rows of one stratum is
comparable when the one with the shorter time has an event (a censored time equal to an
event time counts as longer; two events at one time are not comparable); it is concordant
when that row has the larger linear predictor, discordant when the smaller, tied when they
are equal (counting one half). The standard error is the infinitesimal jackknife of
Somers' ``d = 2C - 1``, with the rows of a cluster summed. Counted event time by event time
with sorted searches: ``O(K n log n)`` for ``K`` event times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cohortpress.common.errors import StatisticsError

__all__ = ["Concordance", "concordance"]


@dataclass(frozen=True)
class Concordance:
    """Harrell's C and the pair counts behind it.

    Attributes
    ----------
    concordance : float
        ``(concordant + tied / 2) / (concordant + discordant + tied)``.
    std_error : float
        ``sqrt(sum_i dC_i^2)``, ``dC_i`` the infinitesimal-jackknife influence of row ``i``
        (or of cluster ``i``).
    concordant, discordant, tied_x : int
        Comparable pairs by their order in the linear predictor (``tied_x``: equal).
    """

    concordance: float
    std_error: float
    concordant: int
    discordant: int
    tied_x: int


def _below_equal(sorted_values: np.ndarray, values: np.ndarray):
    """How many of ``sorted_values`` are below, and equal to, each of ``values``."""
    left = np.searchsorted(sorted_values, values, "left")
    return left, np.searchsorted(sorted_values, values, "right") - left


def concordance(time, event, risk, strata=None, cluster=None) -> Concordance:
    """Harrell's concordance of ``risk`` (a higher value predicting an earlier event).

    Parameters
    ----------
    time, event : array_like, shape (n,)
        Follow-up times and 0/1 event indicators.
    risk : array_like, shape (n,)
        The linear predictor of the model.
    strata : array_like, optional
        Only rows of one stratum are compared.
    cluster : array_like, optional
        Rows of a cluster have their influences summed before squaring.

    Returns
    -------
    Concordance
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    risk = np.asarray(risk, dtype=float)
    n = time.size
    strata = np.zeros(n, dtype=int) if strata is None else np.unique(
        np.asarray(strata), return_inverse=True)[1]
    influence = np.zeros((n, 3))  # concordant, discordant, tied_x pairs of each row
    for stratum in np.unique(strata):
        rows = np.flatnonzero(strata == stratum)
        _count_stratum(time[rows], event[rows], risk[rows], rows, influence)
    # Every pair was counted once for each of its two rows.
    concordant, discordant, tied = influence.sum(axis=0) / 2.0
    pairs = concordant + discordant + tied
    if pairs == 0:
        raise StatisticsError("no comparable pair of patients: the concordance is undefined")
    somers = (concordant - discordant) / pairs
    dfbeta = ((influence[:, 0] - influence[:, 1]) - somers * influence.sum(axis=1)) / pairs
    if cluster is not None:
        _, codes = np.unique(np.asarray(cluster), return_inverse=True)
        dfbeta = np.bincount(codes, weights=dfbeta)
    std_error = math.sqrt(float(np.sum(dfbeta ** 2)) / 4.0)
    return Concordance((somers + 1.0) / 2.0, std_error, int(concordant), int(discordant),
                       int(tied))


def _count_stratum(time, event, risk, rows, influence) -> None:
    """Add each row's concordant, discordant and tied pairs within one stratum."""
    for t in np.unique(time[event]):
        dying = event & (time == t)
        later = (time > t) | ((time == t) & ~event)
        if not later.any():
            continue
        later_risk = risk[later]
        sorted_later = np.sort(later_risk)
        below, equal = _below_equal(sorted_later, risk[dying])
        above = later_risk.size - below - equal
        influence[rows[dying], 0] += below
        influence[rows[dying], 1] += above
        influence[rows[dying], 2] += equal
        sorted_dying = np.sort(risk[dying])
        below, equal = _below_equal(sorted_dying, later_risk)
        above = sorted_dying.size - below - equal
        influence[rows[later], 0] += above
        influence[rows[later], 1] += below
        influence[rows[later], 2] += equal
