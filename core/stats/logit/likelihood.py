"""Exact maximisation of the logistic log-likelihood or Firth's penalised one.

Used for Firth fits, for likelihood-ratio tests and for profile likelihoods, where some
coefficients are held fixed. Firth's method maximises ``l*(b) = l(b) + 0.5 log det I(b)``,
``I(b) = X' W X``, ``W = diag(p_i (1 - p_i))``, whose estimates are finite even under
separation; its score is ``U*(b) = X' (y - p + h (1/2 - p))`` with ``h`` the diagonal of
``W^1/2 X I^-1 X' W^1/2``. The penalty always uses the full design matrix, as in R's
``logistf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy import special

from cohortpress.stats.linalg import solve_symmetric
from cohortpress.stats.logit.design import Design

__all__ = ["State", "evaluate_state", "maximise", "constrained", "exact_optimum",
           "drop_statistic"]

#: Newton iterations of the exact (profile, Firth) fits stop once no coefficient moves by more.
_STEP_TOLERANCE = 1e-11
_MAX_NEWTON_ITERATIONS = 200
#: logistf's cap on the largest change of one coefficient in one Newton step.
_MAX_STEP = 5.0


@dataclass(frozen=True, eq=False)
class State:
    """The (penalised) log-likelihood at ``beta`` and what its score and information need.

    ``cholesky`` is the lower factor of ``information`` (Firth fits only), from which both
    ``log det I`` and the hat values come.
    """

    beta: np.ndarray
    objective: float
    loglik: float
    mu: np.ndarray
    weights: np.ndarray
    information: np.ndarray
    cholesky: np.ndarray | None


def evaluate_state(design: Design, beta: np.ndarray, firth: bool) -> State:
    """The log-likelihood ``l``, or Firth's ``l*`` when ``firth``, and its parts at ``beta``."""
    eta = design.x @ beta
    mu = special.expit(eta)
    weights = mu * (1.0 - mu)
    loglik = float(np.sum(design.y * eta - np.logaddexp(0.0, eta)))
    information = (design.x * weights[:, None]).T @ design.x
    if not firth:
        return State(beta, loglik, loglik, mu, weights, information, None)
    try:
        cholesky = np.linalg.cholesky(information)
    except np.linalg.LinAlgError:
        return State(beta, -math.inf, loglik, mu, weights, information, None)
    log_det = 2.0 * float(np.sum(np.log(np.diag(cholesky))))
    return State(beta, loglik + 0.5 * log_det, loglik, mu, weights, information, cholesky)


def _score(design: Design, state: State) -> np.ndarray:
    """``X'(y - p)``, plus Firth's ``X' h (1/2 - p)``.

    The hat values are ``h_i = w_i x_i' I^-1 x_i``.
    """
    residual = design.y - state.mu
    if state.cholesky is not None:
        inverse = scipy.linalg.cho_solve((state.cholesky, True), np.eye(state.beta.size))
        hat = np.einsum("ij,ij->i", design.x @ inverse, design.x) * state.weights
        residual = residual + hat * (0.5 - state.mu)
    return design.x.T @ residual


def maximise(design: Design, start: np.ndarray, free: np.ndarray, firth: bool):
    """Maximise ``l`` (or ``l*``) over the coefficients in ``free``, the rest held fixed.

    Newton (Fisher scoring for ``l*``, as logistf) steps ``I_ff^-1 U_f``, each capped at
    ``_MAX_STEP`` per coefficient and halved until the objective does not fall.

    Returns
    -------
    (State, numpy.ndarray, int, bool)
        The final state, its score (``U`` or ``U*``), the iterations used and whether the
        steps became negligible.
    """
    state = evaluate_state(design, start, firth)
    score = _score(design, state)
    if not free.any():
        return state, score, 0, True
    for iteration in range(_MAX_NEWTON_ITERATIONS):
        step = np.zeros_like(state.beta)
        step[free] = solve_symmetric(state.information[np.ix_(free, free)], score[free])
        largest = np.abs(step).max()
        if not np.isfinite(largest):
            return state, score, iteration, False
        if largest <= _STEP_TOLERANCE * max(1.0, np.abs(state.beta).max()):
            return state, score, iteration, True
        if largest > _MAX_STEP:
            step *= _MAX_STEP / largest
        improved = _line_search(design, state, step, firth)
        if improved is None:
            return state, score, iteration, False
        state = improved
        score = _score(design, state)
    return state, score, _MAX_NEWTON_ITERATIONS, False


def _line_search(design: Design, state: State, step: np.ndarray,
                 firth: bool) -> State | None:
    """The first of ``beta + step / 2^k`` that does not lower the objective, or None."""
    allowed_loss = 1e-12 * (1.0 + abs(state.objective))
    for _ in range(40):
        candidate = evaluate_state(design, state.beta + step, firth)
        if math.isfinite(candidate.objective) and \
                candidate.objective >= state.objective - allowed_loss:
            return candidate
        step = step / 2.0
    return None


def constrained(design: Design, best: State, var: np.ndarray, fixed: np.ndarray,
                 values: np.ndarray, firth: bool) -> tuple[State, np.ndarray]:
    """Maximum of ``l`` (``l*``) with the coefficients ``fixed`` held at ``values``.

    Starts from the first-order shift of the other estimates,
    ``b_free + V_free,fixed V_fixed^-1 (values - b_fixed)``. Returns the state and its
    score, whose ``fixed`` entries are the derivative of the profile log-likelihood.
    """
    shift = values - best.beta[fixed]
    start = best.beta + var[:, fixed] @ np.linalg.solve(var[np.ix_(fixed, fixed)], shift)
    start[fixed] = values
    free = np.ones(start.size, dtype=bool)
    free[fixed] = False
    state, score, _, _ = maximise(design, start, free, firth)
    return state, score



def exact_optimum(design: Design, firth: bool, start: np.ndarray | None = None):
    """The fully converged (penalised) maximum, its covariance and iterations."""
    if start is None:
        start = np.zeros(design.x.shape[1])
        if design.has_intercept:
            start[0] = special.logit((design.y.sum() + 0.5) / (design.y.size + 1.0))
    best, _, iterations, converged = maximise(design, start,
                                               np.ones(start.size, dtype=bool), firth)
    var = solve_symmetric(best.information, np.eye(start.size))
    return best, var, iterations, converged


def drop_statistic(design: Design, best: State, var: np.ndarray, fixed: np.ndarray,
                    firth: bool) -> float:
    state, _ = constrained(design, best, var, fixed, np.zeros(fixed.size), firth)
    return float(max(2.0 * (best.objective - state.objective), 0.0))


