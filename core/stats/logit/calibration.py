"""How well a fitted logistic model separates and calibrates: the AUC and Hosmer--Lemeshow.

The AUC (c-statistic) is the Mann--Whitney probability that a patient with the outcome has
a higher predicted risk than one without (ties count one half), with DeLong's variance and
a normal confidence interval as R's ``pROC::ci.auc`` computes by default. The
Hosmer--Lemeshow statistic groups the patients by deciles of predicted risk as
``ResourceSelection::hoslem.test`` does. Both are a few lines of arithmetic on the fitted
probabilities; they are written here (not taken from scikit-learn or statsmodels, which
have neither DeLong's interval nor this grouping) so that they follow R's definitions
exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult, check_conf_level
from cohortpress.stats.distributions import chi2_sf, norm_ppf

__all__ = ["AucResult", "auc_delong", "hosmer_lemeshow"]


@dataclass(frozen=True)
class AucResult:
    """The area under the ROC curve with DeLong's standard error and interval.

    Attributes
    ----------
    auc : float
        ``P(risk_case > risk_control) + P(risk_case = risk_control) / 2``.
    std_error : float
        DeLong's standard error ``sqrt(S10 / m + S01 / n)``.
    conf_low, conf_high : float
        ``auc -/+ q std_error``, ``q = Phi^-1((1 + conf_level) / 2)``, kept within [0, 1].
    conf_level : float
    n_cases, n_controls : int
    """

    auc: float
    std_error: float
    conf_low: float
    conf_high: float
    conf_level: float
    n_cases: int
    n_controls: int


def _binary(outcome, risk) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(outcome, dtype=float).ravel()
    p = np.asarray(risk, dtype=float).ravel()
    if y.shape != p.shape:
        raise StatisticsError("the outcome and the predicted risks differ in length")
    if not (np.isfinite(y).all() and np.isfinite(p).all()):
        raise StatisticsError("the outcome and the predicted risks must have no missing value")
    if not np.isin(y, (0.0, 1.0)).all():
        raise StatisticsError("the outcome must be coded 0/1")
    return y, p


def auc_delong(outcome, risk, conf_level: float = 0.95) -> AucResult:
    """The AUC of ``risk`` for ``outcome`` with DeLong's confidence interval.

    With cases ``X_i`` (outcome 1, ``m`` of them) and controls ``Y_j`` (``n``), the kernel
    ``psi(x, y) = 1 if x > y, 1/2 if x = y, 0 otherwise``; the placements
    ``V10_i = mean_j psi(X_i, Y_j)`` and ``V01_j = mean_i psi(X_i, Y_j)``; the AUC their mean;
    ``S10`` and ``S01`` their sample variances (divisor ``m - 1`` and ``n - 1``) and
    ``Var(AUC) = S10 / m + S01 / n`` (DeLong, DeLong and Clarke-Pearson, Biometrics 1988).
    Higher risk is taken to predict the outcome (pROC's ``direction = "<"``).

    Parameters
    ----------
    outcome : array_like of 0/1
    risk : array_like
        Predicted probabilities (or any increasing function of them, such as the linear
        predictor: the AUC depends on the ranking only).
    conf_level : float

    Returns
    -------
    AucResult

    Raises
    ------
    StatisticsError
        If there are fewer than two cases or two controls.
    """
    check_conf_level(conf_level)
    y, p = _binary(outcome, risk)
    cases, controls = p[y == 1], p[y == 0]
    m, n = cases.size, controls.size
    if m < 2 or n < 2:
        raise StatisticsError(f"the AUC's DeLong interval needs two patients with and two "
                              f"without the outcome; there are {m} and {n}")
    # Each placement counts the other group's values below (and half of those equal) by
    # binary search in the sorted other group: O((m + n) log(m + n)).
    sorted_controls, sorted_cases = np.sort(controls), np.sort(cases)
    v10 = (np.searchsorted(sorted_controls, cases, "left")
           + np.searchsorted(sorted_controls, cases, "right")) / (2.0 * n)
    v01 = ((m - np.searchsorted(sorted_cases, controls, "right"))
           + (m - np.searchsorted(sorted_cases, controls, "left"))) / (2.0 * m)
    auc = float(v10.mean())
    variance = float(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n)
    se = math.sqrt(variance)
    q = float(norm_ppf(0.5 + conf_level / 2.0))
    return AucResult(auc, se, max(auc - q * se, 0.0), min(auc + q * se, 1.0), conf_level,
                     int(m), int(n))


@dataclass(frozen=True)
class HosmerLemeshow:
    """The Hosmer--Lemeshow test and the groups it was computed on.

    Attributes
    ----------
    test : TestResult
        ``X^2 = sum over groups and outcomes of (observed - expected)^2 / expected`` on
        ``g - 2`` degrees of freedom (``g`` the groups asked for, as hoslem.test).
    groups : int
        The groups actually formed (fewer than asked when quantiles of the risks coincide).
    observed, expected : numpy.ndarray, shape (groups,)
        Patients with the outcome and the sum of their predicted risks, per group.
    size : numpy.ndarray, shape (groups,)
        Patients per group.
    """

    test: TestResult
    groups: int
    observed: np.ndarray
    expected: np.ndarray
    size: np.ndarray


def hosmer_lemeshow(outcome, risk, groups: int = 10) -> HosmerLemeshow:
    """Hosmer--Lemeshow goodness-of-fit test by quantile groups of the predicted risk.

    The cut points are the distinct ``k / g`` quantiles (R's default type 7) of the risks,
    each group the interval ``(q_{k-1}, q_k]`` (the first closed on the left), exactly as
    ``ResourceSelection::hoslem.test(outcome, risk, g)``; the statistic adds
    ``(O - E)^2 / E`` over the groups for both outcomes (``E`` the sums of ``risk`` and of
    ``1 - risk``) and refers it to chi-square on ``g - 2`` degrees of freedom.

    Parameters
    ----------
    outcome : array_like of 0/1
    risk : array_like
        Fitted probabilities, in (0, 1).
    groups : int
        ``g``, at least 3.

    Returns
    -------
    HosmerLemeshow
    """
    y, p = _binary(outcome, risk)
    if groups < 3:
        raise StatisticsError(f"the Hosmer-Lemeshow test needs at least 3 groups, not {groups}")
    if ((p <= 0) | (p >= 1)).any():
        raise StatisticsError("the predicted risks must lie strictly between 0 and 1")
    cuts = np.unique(np.quantile(p, np.linspace(0.0, 1.0, groups + 1)))
    # cut(..., include.lowest = TRUE): (c_{k-1}, c_k], the first interval closed.
    group = np.clip(np.searchsorted(cuts, p, "left") - 1, 0, cuts.size - 2)
    formed = cuts.size - 1
    size = np.bincount(group, minlength=formed).astype(float)
    observed = np.bincount(group, weights=y, minlength=formed)
    expected = np.bincount(group, weights=p, minlength=formed)
    statistic = float(np.sum((observed - expected) ** 2 / expected)
                      + np.sum(((size - observed) - (size - expected)) ** 2
                               / (size - expected)))
    df = groups - 2
    test = TestResult("Hosmer-Lemeshow test", float(chi2_sf(statistic, df)), statistic,
                      float(df))
    return HosmerLemeshow(test, int(formed), observed, expected, size)
