"""R's ``glm.fit`` for the binomial family: its link, deviance and IRLS iteration.

Followed step by step (same starting values, iteratively reweighted least squares,
convergence when ``|dev - dev_old| / (|dev| + 0.1) < 1e-8``, at most 25 iterations), so
estimates, standard errors and deviances agree with R to rounding (the weighted
least-squares steps use the normal equations instead of R's QR, which changes nothing above
about 1e-12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cohortpress.stats.linalg import least_squares, power_of_two_scale, solve_symmetric

__all__ = ["GLM_EPSILON", "GLM_MAX_ITERATIONS", "IrlsResult", "binomial_deviance",
           "covariance_from_weights", "glm_irls"]

#: glm.control() defaults.
GLM_EPSILON = 1e-8
GLM_MAX_ITERATIONS = 25
#: R's logit link clamps the linear predictor beyond +/- 30 (family.c).
_LINK_THRESHOLD = 30.0
_DBL_EPSILON = np.finfo(float).eps


@dataclass(frozen=True, eq=False)
class IrlsResult:
    """Where glm's IRLS stopped: ``last_weights`` are the working weights of its last
    least-squares step, from which R takes the standard errors."""

    coef: np.ndarray
    mu: np.ndarray
    last_weights: np.ndarray
    iterations: int
    converged: bool
    deviance: float


def _r_logit_inverse(eta: np.ndarray) -> np.ndarray:
    """R's ``binomial()$linkinv``: ``e / (1 + e)`` with ``e = exp(eta)`` clamped to
    ``[eps, 1/eps]`` beyond ``|eta| > 30``."""
    clamped = np.where(eta < -_LINK_THRESHOLD, _DBL_EPSILON,
                       np.where(eta > _LINK_THRESHOLD, 1.0 / _DBL_EPSILON,
                                np.exp(np.clip(eta, -_LINK_THRESHOLD, _LINK_THRESHOLD))))
    return clamped / (1.0 + clamped)


def _r_logit_mu_eta(eta: np.ndarray) -> np.ndarray:
    """R's ``binomial()$mu.eta``: ``e / (1 + e)^2``, or ``eps`` beyond ``|eta| > 30``."""
    e = np.exp(np.clip(eta, -_LINK_THRESHOLD, _LINK_THRESHOLD))
    return np.where(np.abs(eta) > _LINK_THRESHOLD, _DBL_EPSILON, e / (1.0 + e) ** 2)


def binomial_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """``-2 sum(y log mu + (1 - y) log(1 - mu))`` for a 0/1 outcome."""
    return float(-2.0 * np.sum(np.where(y == 1.0, np.log(mu), np.log1p(-mu))))


def glm_irls(x: np.ndarray, y: np.ndarray, offset: np.ndarray | float = 0.0,
              eta_start: np.ndarray | None = None) -> IrlsResult:
    """Iteratively reweighted least squares exactly as R's ``glm.fit`` runs it.

    Start from ``eta_start`` or ``mu = (y + 1/2) / 2``; each iteration regresses the working
    response ``z = eta - offset + (y - mu) / mu'(eta)`` on ``X`` with weights
    ``w^2 = mu'(eta)^2 / (mu (1 - mu))``. R's standard errors come from the weights of the
    last regression (before its update), which ``last_weights`` keeps.
    """
    if eta_start is None:
        mu = (y + 0.5) / 2.0
        eta = np.log(mu / (1.0 - mu))
    else:
        eta = eta_start
        mu = _r_logit_inverse(eta)
    deviance_old = binomial_deviance(y, mu)
    coef = np.zeros(x.shape[1])
    for iteration in range(1, GLM_MAX_ITERATIONS + 1):
        mu_eta = _r_logit_mu_eta(eta)
        weights = np.sqrt(mu_eta ** 2 / (mu * (1.0 - mu)))
        working = eta - offset + (y - mu) / mu_eta
        coef = least_squares(x * weights[:, None], working * weights)
        eta = x @ coef + offset
        mu = _r_logit_inverse(eta)
        deviance = binomial_deviance(y, mu)
        if abs(deviance - deviance_old) / (abs(deviance) + 0.1) < GLM_EPSILON:
            return IrlsResult(coef, mu, weights, iteration, True, deviance)
        deviance_old = deviance
    return IrlsResult(coef, mu, weights, GLM_MAX_ITERATIONS, False, deviance)


def covariance_from_weights(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(X' W X)^-1`` with ``W^1/2 = diag(weights)``, R's ``chol2inv(qr.R)``."""
    scaled_x = x * weights[:, None]
    scale = power_of_two_scale(scaled_x)
    scaled_x = scaled_x / scale
    inverse = solve_symmetric(scaled_x.T @ scaled_x, np.eye(x.shape[1]))
    return inverse / np.outer(scale, scale)


