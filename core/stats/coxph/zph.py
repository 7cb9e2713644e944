"""Test of the proportional hazards assumption, matching R ``survival::cox.zph`` (>= 3.0).

Since survival 3.0, ``cox.zph`` is a score test: for each covariate ``x_j`` it asks whether
adding the time-varying term ``x_j g(t)`` to the fitted model improves it, where ``g`` is a
transform of time centred at its mean over the events. At the fitted ``beta`` (and a zero
coefficient for the new terms) the score of the ``p`` added terms is

    u_j = sum_e g_e (x_ej - mean_ej)

(events ``e``, risk-set means as in the Cox fit, Efron or Breslow as the fit), and the
information of the ``2p`` parameters has the blocks

    [[ sum_e V_e,      sum_e g_e V_e   ],
     [ sum_e g_e V_e,  sum_e g_e^2 V_e ]]

with ``V_e`` the risk-set covariance used by the fit. The statistic for a set ``J`` of
covariates is ``U' A^-1 U`` over the rows and columns ``(1..p, p + J)``, with ``U`` zero
in its first ``p`` entries (the score of the fitted model); the GLOBAL test uses all ``2p``.
It is *not* the older Grambsch--Therneau approximation of survival 2.x.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult
from cohortpress.stats.coxph.data import CoxData, prepare_cox_data
from cohortpress.stats.coxph.fit import CoxFit
from cohortpress.stats.coxph.likelihood import (event_mean_total, risk_set_terms,
                                                weighted_information)
from cohortpress.stats.distributions import chi2_sf, rank_average
from cohortpress.stats.linalg import solve_symmetric

__all__ = ["ZphResult", "cox_zph"]

TRANSFORMS = ("km", "identity", "rank", "log")


@dataclass(frozen=True, eq=False)
class ZphResult:
    """Per-term and global tests of proportional hazards.

    Attributes
    ----------
    names : tuple of str
        The terms tested: one per covariate, or the groups given to :func:`cox_zph`.
    chisq, df, p : numpy.ndarray
        Score statistic, degrees of freedom and p-value of each term.
    global_test : TestResult
        The joint test of all covariates (R's ``GLOBAL`` row).
    transform : str
        The time transform ``g``.
    """

    names: tuple[str, ...]
    chisq: np.ndarray
    df: np.ndarray
    p: np.ndarray
    global_test: TestResult
    transform: str

    def test(self, name: str) -> TestResult:
        """The test of one term, as a TestResult."""
        j = self.names.index(name)
        return TestResult(_method(self.transform), float(self.p[j]), float(self.chisq[j]),
                          float(self.df[j]))


def cox_zph(fit: CoxFit, X, time, event, strata=None, *, transform: str = "km",
            groups: Mapping[str, Sequence[str]] | None = None,
            prepared: CoxData | None = None, entry=None) -> ZphResult:
    """Score tests of proportional hazards for a fitted Cox model.

    Matches ``cox.zph(fit, transform = transform, terms = FALSE)`` of survival 3.x; with
    ``groups`` (term name -> its columns, e.g. the dummies of one factor) it matches
    ``terms = TRUE``, testing each group on ``len(columns)`` degrees of freedom.

    Parameters
    ----------
    fit : CoxFit
        The model, fitted by :func:`cohortpress.stats.coxph.fit_cox` on the same data.
    X, time, event, strata, entry
        The data the model was fitted to (``entry``: counting-process start times).
    transform : {"km", "identity", "rank", "log"}
        The function of time: ``km`` is one minus the Kaplan--Meier estimate (all strata
        pooled; with start times, the risk sets of counting-process data) just before each
        time; ``rank`` the average rank of the (stop) time among all rows.
    groups : mapping of str to sequence of str, optional
        Terms to test jointly; every covariate must belong to exactly one group.
    prepared : CoxData, optional
        The ``prepare_cox_data`` the model was fitted from, when the caller has it (the
        data arguments are then not read again).

    Returns
    -------
    ZphResult

    Raises
    ------
    StatisticsError
        If the data do not match the fit, or on an unknown transform.
    """
    if transform not in TRANSFORMS:
        raise StatisticsError(f"transform must be one of {', '.join(TRANSFORMS)}, "
                              f"not '{transform}'")
    data = (prepared if prepared is not None
            else prepare_cox_data(X, time, event, fit.names, strata, entry))
    if data.n != fit.n or data.n_events != fit.n_events:
        raise StatisticsError("the data given to cox_zph are not those the model was fitted to")
    term_names, term_columns = _term_columns(fit.names, groups)
    score, information = _time_interaction_score(data, fit, transform)
    p_columns = len(fit.names)
    chisq = np.array([_score_statistic(score, information, p_columns, columns)
                      for columns in term_columns])
    df = np.array([float(len(columns)) for columns in term_columns])
    global_chisq = _score_statistic(score, information, p_columns, np.arange(p_columns))
    return ZphResult(
        names=term_names, chisq=chisq, df=df, p=chi2_sf(chisq, df),
        global_test=TestResult(_method(transform),
                               float(chi2_sf(global_chisq, p_columns)),
                               global_chisq, float(p_columns)),
        transform=transform)


def _method(transform: str) -> str:
    return f"Score test of proportional hazards (cox.zph, {transform} time scale)"


def _term_columns(names: tuple[str, ...], groups: Mapping[str, Sequence[str]] | None):
    if groups is None:
        return names, [np.array([j]) for j in range(len(names))]
    position = {name: j for j, name in enumerate(names)}
    term_columns = []
    for term, columns in groups.items():
        columns = [columns] if isinstance(columns, str) else list(columns)
        unknown = [c for c in columns if c not in position]
        if unknown or not columns:
            raise StatisticsError(f"term '{term}' lists columns not in the model: "
                                  + ", ".join(unknown or ["(none)"]))
        term_columns.append(np.array([position[c] for c in columns]))
    used = np.sort(np.concatenate(term_columns))
    if not np.array_equal(used, np.arange(len(names))):
        raise StatisticsError("every model column must belong to exactly one term")
    return tuple(groups), term_columns


def _time_interaction_score(data: CoxData, fit: CoxFit, transform: str):
    """The score of the ``x g(t)`` terms and the ``2p x 2p`` information matrix."""
    g = _transformed_time(data, transform)
    g -= g[data.event_rows].mean()
    terms = risk_set_terms(data, np.asarray(fit.coef, dtype=float), fit.ties == "efron")
    g_event = g[data.event_rows]
    g_time = np.zeros(data.event_groups.size)
    g_time[data.event_slot] = g_event
    score = data.xt[:, data.event_rows] @ g_event - event_mean_total(data, terms, g_time)
    blocks = [weighted_information(data, terms, weight)
              for weight in (None, g_time, g_time ** 2)]
    information = np.block([[blocks[0], blocks[1]], [blocks[1], blocks[2]]])
    return score, information


def _transformed_time(data: CoxData, transform: str) -> np.ndarray:
    """``g(t)`` for every (sorted) row."""
    time = data.time
    if transform == "identity":
        return time.astype(float).copy()
    if transform == "log":
        if (time <= 0).any():
            raise StatisticsError("the log transform needs positive times")
        return np.log(time)
    if transform == "rank":
        return rank_average(time)
    entry = None if data.entry is None else data.entry.entry
    return 1.0 - _km_just_before(time, data.event, entry)


def _km_just_before(time: np.ndarray, event: np.ndarray,
                    entry: np.ndarray | None = None) -> np.ndarray:
    """Kaplan--Meier survival (all rows pooled) just before each row's time, ``S(t-)``.

    ``S(t-) = prod over event times s < t of (1 - d_s / n_s)`` with ``n_s`` the rows with
    time ``>= s`` (and start ``< s`` when there are start times) and ``d_s`` the events at
    ``s``.
    """
    distinct, index, counts = np.unique(time, return_inverse=True, return_counts=True)
    index = index.ravel()
    deaths = np.bincount(index, event.astype(float), minlength=distinct.size)
    at_risk = np.cumsum(counts[::-1])[::-1]
    if entry is not None:
        at_risk = at_risk - (entry.size - np.searchsorted(np.sort(entry), distinct,
                                                          side="left"))
    survival_after = np.cumprod(1.0 - deaths / at_risk)
    survival_before = np.concatenate(([1.0], survival_after[:-1]))
    return survival_before[index]


def _score_statistic(score: np.ndarray, information: np.ndarray, p_columns: int,
                     columns: np.ndarray) -> float:
    keep = np.concatenate((np.arange(p_columns), p_columns + np.asarray(columns)))
    u = np.concatenate((np.zeros(p_columns), score[columns]))
    return float(u @ solve_symmetric(information[np.ix_(keep, keep)], u))
