"""Logistic regression: maximum likelihood as R ``glm(family = binomial)``, or Firth's.

Maximum likelihood follows ``glm.fit`` step by step (same starting values, iteratively
reweighted least squares, convergence when ``|dev - dev_old| / (|dev| + 0.1) < 1e-8``, at
most 25 iterations), so estimates, standard errors, deviances and AIC agree with R to
rounding (the weighted least-squares steps use the normal equations instead of R's QR,
which changes nothing above about 1e-12). Profile-likelihood intervals are, by default, the
exact roots of the signed root deviance; R's ``confint()`` (``MASS::confint.glm``)
interpolates a spline through a grid of the same function and differs from them by up to
about 3e-3 relative, and ``profile_method="mass"`` reproduces its numbers instead.

Separation is detected before fitting with a linear program (as in Konis 2007 and the
``detectseparation`` package): a direction ``d != 0`` with ``s_i x_i' d >= 0`` for every row
(``s_i = +1`` for events, ``-1`` otherwise) makes the likelihood increase without bound along
``d``; the coefficients that some such direction moves are infinite. Those terms are
flagged instead of reported with an enormous odds ratio.

Firth's method maximises the penalised log-likelihood
``l*(b) = l(b) + 0.5 log det I(b)``, ``I(b) = X' W X``, ``W = diag(p_i (1 - p_i))``, whose
estimates are finite even under separation; its score is
``U*(b) = X' (y - p + h (1/2 - p))`` with ``h`` the diagonal of ``W^1/2 X I^-1 X' W^1/2``.
Intervals and per-coefficient p-values use the penalised profile likelihood, as R's
``logistf`` does (the penalty always uses the full design matrix).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.linalg
from scipy import special

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult, check_finite_columns, design_matrix
from cohortpress.stats.distributions import chi2_ppf, chi2_sf, norm_ppf, norm_sf
from cohortpress.stats.cox import raise_if_collinear

__all__ = ["LogisticFit", "fit_logistic", "lr_test_terms", "detect_separation"]

INTERCEPT = "(Intercept)"

#: glm.control() defaults.
GLM_EPSILON = 1e-8
GLM_MAX_ITERATIONS = 25
#: R's logit link clamps the linear predictor beyond +/- 30 (family.c).
_LINK_THRESHOLD = 30.0
_DBL_EPSILON = np.finfo(float).eps

#: Newton iterations of the exact (profile, Firth) fits stop once no coefficient moves by more.
_STEP_TOLERANCE = 1e-11
_MAX_NEWTON_ITERATIONS = 200
#: logistf's cap on the largest change of one coefficient in one Newton step.
_MAX_STEP = 5.0
#: A profile limit further than this many standard errors from the estimate is infinite.
_PROFILE_SEARCH_SE = 60.0
#: Components of a separating direction (columns scaled to max |x| = 1) counted as non-zero,
#: and the slack allowed in the linear program's constraints (HiGHS is feasible to 1e-7).
_SEPARATION_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class LogisticFit:
    """A fitted logistic regression.

    Attributes
    ----------
    names : tuple of str
        Coefficient names; ``"(Intercept)"`` first when the model has one.
    coef, se : numpy.ndarray
        Log odds ratios and standard errors ``sqrt(diag(I^-1))``.
    z, p : numpy.ndarray
        Wald statistics and two-sided p-values; ``nan`` for separated terms.
    odds_ratio : numpy.ndarray
        ``exp(coef)``; ``nan`` for separated terms.
    conf_low, conf_high : numpy.ndarray
        Wald limits of the odds ratio, ``exp(coef -/+ q se)``.
    profile_low, profile_high : numpy.ndarray
        Profile (penalised, for Firth) likelihood limits of the odds ratio: the values of
        ``exp(b_j)`` where ``2 (l(b_hat) - max_{b: b_j fixed} l(b)) = q^2``. ``nan`` when not
        computed or when the model is separated; ``0`` or ``inf`` when unbounded.
    p_lr : numpy.ndarray
        Likelihood-ratio p-value of each coefficient (``b_j = 0`` against free), the
        p-value ``logistf`` reports for Firth fits; ``nan`` when not computed.
    conf_level : float
        Confidence level of the limits.
    var : numpy.ndarray
        Covariance matrix ``I^-1``.
    deviance, null_deviance : float
        ``-2 l(b_hat)`` and the same for the intercept-only model (binary outcome, so the
        saturated log-likelihood is 0). For Firth fits ``l`` is the unpenalised part.
    df_residual, df_null : int
        ``n - p`` and ``n - 1`` (``n`` without an intercept).
    aic : float
        ``deviance + 2 p``; ``nan`` for Firth fits.
    loglik : float
        ``l(b_hat)``.
    penalised_loglik : float or None
        ``l*(b_hat)`` for Firth fits.
    lr_test : TestResult
        Likelihood-ratio (penalised, for Firth) test of all coefficients but the intercept.
    n, n_events : int
        Rows and rows with outcome 1.
    iterations : int
        IRLS iterations (R's ``fit$iter``), or Newton iterations for Firth.
    converged : bool
        The iteration converged and no coefficient is infinite.
    separated : tuple of str
        Coefficients whose maximum-likelihood estimate is infinite (empty for Firth fits).
    reason : str or None
        Why ``converged`` is false, ``separated`` is not empty, or intervals are missing.
    method : str
        ``"maximum likelihood"`` or ``"Firth penalised likelihood"``.
    """

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p: np.ndarray
    odds_ratio: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    profile_low: np.ndarray
    profile_high: np.ndarray
    p_lr: np.ndarray
    conf_level: float
    var: np.ndarray
    deviance: float
    null_deviance: float
    df_residual: int
    df_null: int
    aic: float
    loglik: float
    penalised_loglik: float | None
    lr_test: TestResult
    n: int
    n_events: int
    iterations: int
    converged: bool
    separated: tuple[str, ...]
    reason: str | None
    method: str


# ---------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _Design:
    x: np.ndarray
    y: np.ndarray
    names: tuple[str, ...]
    has_intercept: bool


def _prepare_design(X, y, names: Sequence[str], intercept: bool) -> _Design:
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
    return _Design(x, outcome, names, intercept)


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


# ---------------------------------------------------------------------------------------
# Separation
# ---------------------------------------------------------------------------------------

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
    design = _prepare_design(X, y, names, intercept)
    return tuple(design.names[j] for j in np.flatnonzero(_infinite_directions(design)))


def _infinite_directions(design: _Design) -> np.ndarray:
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


# ---------------------------------------------------------------------------------------
# glm.fit's IRLS
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _IrlsResult:
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


def _binomial_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """``-2 sum(y log mu + (1 - y) log(1 - mu))`` for a 0/1 outcome."""
    return float(-2.0 * np.sum(np.where(y == 1.0, np.log(mu), np.log1p(-mu))))


def _glm_irls(x: np.ndarray, y: np.ndarray, offset: np.ndarray | float = 0.0,
              eta_start: np.ndarray | None = None) -> _IrlsResult:
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
    deviance_old = _binomial_deviance(y, mu)
    coef = np.zeros(x.shape[1])
    for iteration in range(1, GLM_MAX_ITERATIONS + 1):
        mu_eta = _r_logit_mu_eta(eta)
        weights = np.sqrt(mu_eta ** 2 / (mu * (1.0 - mu)))
        working = eta - offset + (y - mu) / mu_eta
        coef = _least_squares(x * weights[:, None], working * weights)
        eta = x @ coef + offset
        mu = _r_logit_inverse(eta)
        deviance = _binomial_deviance(y, mu)
        if abs(deviance - deviance_old) / (abs(deviance) + 0.1) < GLM_EPSILON:
            return _IrlsResult(coef, mu, weights, iteration, True, deviance)
        deviance_old = deviance
    return _IrlsResult(coef, mu, weights, GLM_MAX_ITERATIONS, False, deviance)


def _least_squares(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``argmin |a c - b|`` by the normal equations, with one step of refinement.

    glm.fit uses a QR decomposition; on a shared machine LAPACK's multithreaded QR of a
    tall thin matrix can be a hundred times slower than the ``p x p`` Gram matrix and its
    Cholesky factor, and with columns scaled by powers of two and one refinement step the
    result agrees with the QR solution to about 1e-12 on well-conditioned problems.
    """
    scale = _power_of_two_scale(a)
    scaled = a / scale
    factor = scipy.linalg.cho_factor(scaled.T @ scaled)
    solution = scipy.linalg.cho_solve(factor, scaled.T @ b)
    solution += scipy.linalg.cho_solve(factor, scaled.T @ (b - scaled @ solution))
    return solution / scale


def _power_of_two_scale(a: np.ndarray) -> np.ndarray:
    """Column scales that are powers of two (exact to divide by) near the column norms."""
    norms = np.sqrt(np.einsum("ij,ij->j", a, a))
    return np.exp2(np.round(np.log2(np.where(norms > 0, norms, 1.0))))


def _covariance_from_weights(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(X' W X)^-1`` with ``W^1/2 = diag(weights)``, R's ``chol2inv(qr.R)``."""
    scaled_x = x * weights[:, None]
    scale = _power_of_two_scale(scaled_x)
    scaled_x = scaled_x / scale
    inverse = _solve_symmetric(scaled_x.T @ scaled_x, np.eye(x.shape[1]))
    return inverse / np.outer(scale, scale)


# ---------------------------------------------------------------------------------------
# Exact (penalised) likelihood maximisation, for profiles, tests and Firth
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _State:
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


def _state(design: _Design, beta: np.ndarray, firth: bool) -> _State:
    eta = design.x @ beta
    mu = special.expit(eta)
    weights = mu * (1.0 - mu)
    loglik = float(np.sum(design.y * eta - np.logaddexp(0.0, eta)))
    information = (design.x * weights[:, None]).T @ design.x
    if not firth:
        return _State(beta, loglik, loglik, mu, weights, information, None)
    try:
        cholesky = np.linalg.cholesky(information)
    except np.linalg.LinAlgError:
        return _State(beta, -math.inf, loglik, mu, weights, information, None)
    log_det = 2.0 * float(np.sum(np.log(np.diag(cholesky))))
    return _State(beta, loglik + 0.5 * log_det, loglik, mu, weights, information, cholesky)


def _score(design: _Design, state: _State) -> np.ndarray:
    """``X'(y - p)``, plus Firth's ``X' h (1/2 - p)``.

    The hat values are ``h_i = w_i x_i' I^-1 x_i``.
    """
    residual = design.y - state.mu
    if state.cholesky is not None:
        inverse = scipy.linalg.cho_solve((state.cholesky, True), np.eye(state.beta.size))
        hat = np.einsum("ij,ij->i", design.x @ inverse, design.x) * state.weights
        residual = residual + hat * (0.5 - state.mu)
    return design.x.T @ residual


def _maximise(design: _Design, start: np.ndarray, free: np.ndarray, firth: bool):
    """Maximise ``l`` (or ``l*``) over the coefficients in ``free``, the rest held fixed.

    Newton (Fisher scoring for ``l*``, as logistf) steps ``I_ff^-1 U_f``, each capped at
    ``_MAX_STEP`` per coefficient and halved until the objective does not fall.

    Returns
    -------
    (_State, numpy.ndarray, int, bool)
        The final state, its score (``U`` or ``U*``), the iterations used and whether the
        steps became negligible.
    """
    state = _state(design, start, firth)
    score = _score(design, state)
    if not free.any():
        return state, score, 0, True
    for iteration in range(_MAX_NEWTON_ITERATIONS):
        step = np.zeros_like(state.beta)
        step[free] = _solve_symmetric(state.information[np.ix_(free, free)], score[free])
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


def _line_search(design: _Design, state: _State, step: np.ndarray,
                 firth: bool) -> _State | None:
    """The first of ``beta + step / 2^k`` that does not lower the objective, or None."""
    allowed_loss = 1e-12 * (1.0 + abs(state.objective))
    for _ in range(40):
        candidate = _state(design, state.beta + step, firth)
        if math.isfinite(candidate.objective) and \
                candidate.objective >= state.objective - allowed_loss:
            return candidate
        step = step / 2.0
    return None


def _solve_symmetric(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        return scipy.linalg.cho_solve(scipy.linalg.cho_factor(matrix), rhs)
    except (np.linalg.LinAlgError, ValueError):
        return np.linalg.lstsq(matrix, rhs, rcond=None)[0]


def _constrained(design: _Design, best: _State, var: np.ndarray, fixed: np.ndarray,
                 values: np.ndarray, firth: bool) -> tuple[_State, np.ndarray]:
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
    state, score, _, _ = _maximise(design, start, free, firth)
    return state, score


# ---------------------------------------------------------------------------------------
# Profile likelihood
# ---------------------------------------------------------------------------------------

def _profile_limits(design: _Design, best: _State, var: np.ndarray, j: int, firth: bool,
                    conf_level: float) -> tuple[float, float]:
    """Roots of ``z(b) = sign(b - b_hat) sqrt(2 (l(b_hat) - l_j(b))) = -/+ q``.

    ``l_j(b)`` is the maximum with coefficient ``j`` fixed at ``b``. By the envelope theorem
    ``dl_j/db`` is the ``j``-th score at that constrained maximum, so ``dz/db = -U_j / z``
    comes free with each evaluation and a safeguarded Newton iteration (bisection whenever
    Newton would leave the bracket) needs only a few constrained fits. The search starts at
    the Wald limit; a limit beyond ``_PROFILE_SEARCH_SE`` standard errors is infinite.
    """
    quantile = norm_ppf(0.5 + conf_level / 2.0)
    estimate = best.beta[j]
    se = math.sqrt(var[j, j])
    fixed = np.array([j])

    def signed_root(value: float) -> tuple[float, float]:
        state, score = _constrained(design, best, var, fixed, np.array([value]), firth)
        drop = max(2.0 * (best.objective - state.objective), 0.0)
        z = math.copysign(math.sqrt(drop), value - estimate)
        return z, (-score[j] / z if z != 0.0 else 1.0 / se)

    return (_signed_root_solution(signed_root, estimate, se, -quantile),
            _signed_root_solution(signed_root, estimate, se, quantile))


def _signed_root_solution(signed_root, estimate: float, se: float, target: float) -> float:
    """Solve ``signed_root(b) = target`` on the side of ``estimate`` given by ``target``'s sign.

    ``signed_root`` returns the value and the derivative. Keeps ``inner`` (below the target
    in the search direction) and, once found, ``outer`` (beyond it).
    """
    side = math.copysign(1.0, target)
    inner, outer = estimate, None
    value = estimate + target * se
    for _ in range(100):
        z, slope = signed_root(value)
        gap = z - target
        if abs(gap) <= 1e-10 * abs(target):
            return value
        if side * gap < 0:
            inner = value
        else:
            outer = value
        if outer is not None and abs(outer - inner) <= 1e-13 * max(1.0, abs(value)):
            return value
        proposal = value - gap / slope if slope > 0 and math.isfinite(slope) else math.nan
        if outer is None:
            furthest = estimate + 2.0 * (value - estimate)
            value = proposal if side * (proposal - value) > 0 else furthest
            value = estimate + side * min(abs(value - estimate), abs(furthest - estimate))
            if abs(inner - estimate) > _PROFILE_SEARCH_SE * se:
                return side * math.inf
        elif math.isfinite(proposal) and min(inner, outer) < proposal < max(inner, outer):
            value = proposal
        else:
            value = 0.5 * (inner + outer)
    return value


def _mass_profile_limits(design: _Design, irls: _IrlsResult, se: np.ndarray, j: int,
                         conf_level: float) -> tuple[float, float]:
    """Profile limits computed the way R's ``MASS::confint.glm`` computes them.

    ``profile.glm`` evaluates the signed root deviance ``z`` at ``b_j + k delta se_j``,
    ``k = +/-1..9`` (``delta = z_max / 5``, ``z_max = sqrt(chi2_1(1 - (1 - level) / 4))``,
    stopping a side once ``|z| >= z_max``), each constrained fit being ``glm.fit`` warm-started
    from the previous one; ``confint.profile.glm`` then interpolates ``z(b)`` with an FMM
    cubic spline at ``3 m`` equally spaced points and inverts it linearly at ``-/+ q``.
    """
    alpha = (1.0 - conf_level) / 4.0
    z_max = math.sqrt(chi2_ppf(1.0 - alpha, 1))
    step_size = z_max / 5.0 * se[j]
    others = np.delete(design.x, j, axis=1)
    estimate = irls.coef[j]
    values, signed_roots = [estimate], [0.0]
    for side in (-1.0, 1.0):
        eta = design.x @ irls.coef
        z = 0.0
        for step in range(1, 10):
            if abs(z) >= z_max:
                break
            value = estimate + side * step * step_size
            offset = design.x[:, j] * value
            fit = _glm_irls(others, design.y, offset, eta_start=eta)
            eta = others @ fit.coef + offset
            rise = fit.deviance - irls.deviance
            if rise < -1e-3:
                raise StatisticsError("profiling found a better fit than the estimate; "
                                      "the original fit had not converged")
            z = side * math.sqrt(max(rise, 0.0))
            values.append(value)
            signed_roots.append(z)
    order = np.argsort(signed_roots, kind="stable")
    grid, curve = _fmm_spline_grid(np.asarray(values)[order], np.asarray(signed_roots)[order])
    quantile = norm_ppf(0.5 + conf_level / 2.0)
    by_z = np.argsort(curve, kind="stable")
    limits = np.interp([-quantile, quantile], curve[by_z], grid[by_z],
                       left=np.nan, right=np.nan)
    return float(limits[0]), float(limits[1])


def _fmm_spline_grid(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R's ``spline(x, y)``: the FMM cubic spline at ``3 len(x)`` equally spaced points.

    The Forsythe--Malcolm--Moler spline interpolates ``(x_i, y_i)`` with the end conditions
    that its third derivative on the first (last) interval equals that of the cubic through
    the first (last) four points. With second derivatives ``M_i``, steps ``h_i`` and slopes
    ``s_i``, the interior equations are
    ``h_{i-1} M_{i-1} + 2 (h_{i-1} + h_i) M_i + h_i M_{i+1} = 6 (s_i - s_{i-1})`` and the end
    rows ``M_2 - M_1 = 6 h_1 f[x_1..x_4]``, ``M_n - M_{n-1} = 6 h_{n-1} f[x_{n-3}..x_n]``.
    """
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    grid = np.linspace(x[0], x[-1], 3 * x.size)
    h = np.diff(x)
    slope = np.diff(y) / h
    n = x.size
    if n < 3:
        return grid, y[0] + slope[0] * (grid - x[0])
    system = np.zeros((n, n))
    rhs = np.zeros(n)
    for i in range(1, n - 1):
        system[i, i - 1:i + 2] = (h[i - 1], 2.0 * (h[i - 1] + h[i]), h[i])
        rhs[i] = 6.0 * (slope[i] - slope[i - 1])
    system[0, :2] = (-1.0, 1.0)
    system[-1, -2:] = (-1.0, 1.0)
    if n > 3:
        rhs[0] = 6.0 * h[0] * _third_divided_difference(x[:4], y[:4])
        rhs[-1] = 6.0 * h[-1] * _third_divided_difference(x[-4:], y[-4:])
    second = np.linalg.solve(system, rhs)
    interval = np.clip(np.searchsorted(x, grid, side="right") - 1, 0, n - 2)
    dx = grid - x[interval]
    linear = slope[interval] - h[interval] * (2.0 * second[interval] + second[interval + 1]) / 6.0
    cubic = (second[interval + 1] - second[interval]) / (6.0 * h[interval])
    values = y[interval] + dx * (linear + dx * (second[interval] / 2.0 + dx * cubic))
    return grid, values


def _third_divided_difference(x: np.ndarray, y: np.ndarray) -> float:
    first = np.diff(y) / np.diff(x)
    second = np.diff(first) / (x[2:] - x[:-2])
    return float((second[1] - second[0]) / (x[3] - x[0]))


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------

PROFILE_METHODS = ("exact", "mass")


def fit_logistic(X, y, names: Sequence[str], firth: bool = False, *, intercept: bool = True,
                 conf_level: float = 0.95, profile: bool = True,
                 profile_method: str = "exact") -> LogisticFit:
    """Fit a logistic regression of ``y`` on ``X``.

    ``logit P(y_i = 1) = b_0 + x_i' b``, estimated by maximum likelihood (as
    ``glm(y ~ X, family = binomial)``) or, with ``firth=True``, by maximising Firth's
    penalised log-likelihood ``l(b) + 0.5 log det(X' W X)``.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Design matrix, dummy-coded by the caller, *without* an intercept column.
    y : array_like, shape (n,)
        Outcome coded 0/1.
    names : sequence of str
        Column names of ``X``.
    firth : bool
        Use Firth's penalised likelihood.
    intercept : bool
        Add an intercept (named ``"(Intercept)"``, first).
    conf_level : float
        Confidence level of the intervals.
    profile : bool
        Compute profile-likelihood intervals and likelihood-ratio p-values per
        coefficient (2 root searches and 1 constrained fit per coefficient).
    profile_method : {"exact", "mass"}
        ``"exact"`` solves for the limits to about 1e-12; ``"mass"`` reproduces R's
        ``confint()`` (MASS's grid and spline interpolation) digit for digit, which differs
        from the exact limits by up to about 1e-3 relative. Maximum likelihood only.

    Returns
    -------
    LogisticFit

    Raises
    ------
    StatisticsError
        On missing values, an outcome that is not 0/1 or does not vary, a constant or
        collinear column, or fewer rows than coefficients.
    """
    if not 0.0 < conf_level < 1.0:
        raise StatisticsError(f"conf_level must be between 0 and 1, not {conf_level}")
    if profile_method not in PROFILE_METHODS or (firth and profile_method != "exact"):
        raise StatisticsError(f"profile_method must be one of {', '.join(PROFILE_METHODS)} "
                              "('exact' only with firth=True)")
    design = _prepare_design(X, y, names, intercept)
    infinite = _infinite_directions(design)
    if firth:
        return _fit_firth(design, infinite, conf_level, profile)
    return _fit_maximum_likelihood(design, infinite, conf_level,
                                   profile_method if profile else None)


def lr_test_terms(X, y, names: Sequence[str], drop: Sequence[str], firth: bool = False, *,
                  intercept: bool = True) -> TestResult:
    """Likelihood-ratio test for setting a group of coefficients to zero.

    ``LR = 2 (l(b_hat) - max_{b: b_drop = 0} l(b))`` on ``len(drop)`` degrees of freedom;
    for maximum likelihood this is ``drop1(fit, test = "Chisq")`` for a factor's dummies,
    for Firth fits the penalised likelihood-ratio test of logistf (penalty from the full
    design).

    Parameters
    ----------
    X, y, names, firth, intercept
        As for :func:`fit_logistic`.
    drop : sequence of str
        The columns to test.

    Returns
    -------
    TestResult
    """
    design = _prepare_design(X, y, names, intercept)
    position = {name: j for j, name in enumerate(design.names)}
    drop = [str(name) for name in drop]
    unknown = [name for name in drop if name not in position]
    if unknown or not drop:
        raise StatisticsError("columns to drop must be a non-empty subset of the model's "
                              f"columns; unknown: {', '.join(unknown) or '(none given)'}")
    method = "Penalised likelihood-ratio test" if firth else "Likelihood-ratio test"
    df = float(len(drop))
    if not firth and _infinite_directions(design).any():
        return TestResult(method, math.nan, None, df,
                          "not computed: the model is separated (infinite estimates)")
    best, var, _, converged = _exact_optimum(design, firth)
    statistic = _drop_statistic(design, best, var, np.array([position[n] for n in drop]), firth)
    note = None if converged else "the fit did not converge; the test is approximate"
    return TestResult(method, float(chi2_sf(statistic, df)), statistic, df, note)


def _exact_optimum(design: _Design, firth: bool, start: np.ndarray | None = None):
    """The fully converged (penalised) maximum, its covariance and iterations."""
    if start is None:
        start = np.zeros(design.x.shape[1])
        if design.has_intercept:
            start[0] = special.logit((design.y.sum() + 0.5) / (design.y.size + 1.0))
    best, _, iterations, converged = _maximise(design, start,
                                               np.ones(start.size, dtype=bool), firth)
    var = _solve_symmetric(best.information, np.eye(start.size))
    return best, var, iterations, converged


def _drop_statistic(design: _Design, best: _State, var: np.ndarray, fixed: np.ndarray,
                    firth: bool) -> float:
    state, _ = _constrained(design, best, var, fixed, np.zeros(fixed.size), firth)
    return float(max(2.0 * (best.objective - state.objective), 0.0))


def _null_test(design: _Design, best: _State, var: np.ndarray, firth: bool) -> TestResult:
    slopes = np.arange(1 if design.has_intercept else 0, design.x.shape[1])
    method = "Penalised likelihood-ratio test" if firth else "Likelihood-ratio test"
    if slopes.size == 0:
        return TestResult(method, math.nan, None, 0.0, "the model has only an intercept")
    statistic = _drop_statistic(design, best, var, slopes, firth)
    return TestResult(method, float(chi2_sf(statistic, slopes.size)), statistic,
                      float(slopes.size))


def _per_coefficient_profiles(design, best, var, firth, conf_level, limits=None):
    """Profile limits (log-odds scale) and likelihood-ratio p-value of every coefficient.

    ``limits(j)`` overrides the exact profile limits (used for MASS's method).
    """
    p_columns = best.beta.size
    low, high, p_lr = (np.empty(p_columns) for _ in range(3))
    for j in range(p_columns):
        if limits is None:
            low[j], high[j] = _profile_limits(design, best, var, j, firth, conf_level)
        else:
            low[j], high[j] = limits(j)
        statistic = _drop_statistic(design, best, var, np.array([j]), firth)
        p_lr[j] = chi2_sf(statistic, 1)
    return low, high, p_lr


def _null_deviance(design: _Design) -> float:
    mean = design.y.mean() if design.has_intercept else 0.5
    return _binomial_deviance(design.y, np.full(design.y.size, mean))


def _fit_maximum_likelihood(design: _Design, infinite: np.ndarray, conf_level: float,
                            profile_method: str | None) -> LogisticFit:
    irls = _glm_irls(design.x, design.y)
    var = _covariance_from_weights(design.x, irls.last_weights)
    deviance = _binomial_deviance(design.y, irls.mu)
    nan = np.full(irls.coef.size, np.nan)
    profile_low, profile_high, p_lr = nan, nan.copy(), nan.copy()
    reason = _separation_reason(design, infinite) if infinite.any() else None
    if infinite.any():
        # The likelihood's supremum is reached only in the limit, where the deviance still
        # has a finite value: the likelihood-ratio test stays valid (R's anova of the glm
        # fits agrees to 1e-8), while Wald statistics do not.
        slopes = irls.coef.size - (1 if design.has_intercept else 0)
        statistic = max(_null_deviance(design) - deviance, 0.0)
        lr_test = TestResult("Likelihood-ratio test",
                             float(chi2_sf(statistic, slopes)) if slopes else math.nan,
                             statistic, float(slopes),
                             "the maximum likelihood is reached in the limit (separation)")
    else:
        best, exact_var, _, _ = _exact_optimum(design, False, start=irls.coef)
        lr_test = _null_test(design, best, exact_var, False)
        if profile_method is not None:
            se = np.sqrt(np.diag(var))
            mass = None if profile_method == "exact" else (
                lambda j: _mass_profile_limits(design, irls, se, j, conf_level))
            profile_low, profile_high, p_lr = _per_coefficient_profiles(
                design, best, exact_var, False, conf_level, mass)
        if not irls.converged:
            reason = f"glm's IRLS did not converge in {GLM_MAX_ITERATIONS} iterations"
    p_columns = irls.coef.size
    return _assemble(
        design, irls.coef, var, infinite, conf_level, profile_low, profile_high, p_lr,
        deviance=deviance, aic=deviance + 2.0 * p_columns, penalised_loglik=None,
        lr_test=lr_test, iterations=irls.iterations,
        converged=irls.converged and not infinite.any(), reason=reason,
        method="maximum likelihood")


def _fit_firth(design: _Design, infinite: np.ndarray, conf_level: float,
               profile: bool) -> LogisticFit:
    best, var, iterations, converged = _exact_optimum(design, True)
    nan = np.full(best.beta.size, np.nan)
    profile_low, profile_high, p_lr = nan, nan.copy(), nan.copy()
    if profile:
        profile_low, profile_high, p_lr = _per_coefficient_profiles(
            design, best, var, True, conf_level)
    reason = None
    if not converged:
        reason = f"Firth's iteration did not converge in {iterations} iterations"
    elif infinite.any():
        reason = ("the data are separated ("
                  + ", ".join(f"'{design.names[j]}'" for j in np.flatnonzero(infinite))
                  + " infinite by maximum likelihood); the Firth estimates are finite")
    return _assemble(
        design, best.beta, var, np.zeros(best.beta.size, dtype=bool), conf_level,
        profile_low, profile_high, p_lr, deviance=-2.0 * best.loglik, aic=math.nan,
        penalised_loglik=best.objective, lr_test=_null_test(design, best, var, True),
        iterations=iterations, converged=converged, reason=reason,
        method="Firth penalised likelihood")


def _separation_reason(design: _Design, infinite: np.ndarray) -> str:
    names = ", ".join(f"'{design.names[j]}'" for j in np.flatnonzero(infinite))
    return (f"separation: the maximum-likelihood estimate of {names} is infinite (some "
            "combination of covariates predicts the outcome perfectly); odds ratios and "
            "intervals of those terms are not reported, and profile intervals are not "
            "computed -- use Firth's penalised likelihood (firth=True)")


def _assemble(design: _Design, coef, var, infinite, conf_level, profile_low, profile_high,
              p_lr, *, deviance, aic, penalised_loglik, lr_test, iterations, converged,
              reason, method) -> LogisticFit:
    se = np.sqrt(np.diag(var))
    quantile = norm_ppf(0.5 + conf_level / 2.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        z = np.where(infinite, np.nan, coef / se)
        odds_ratio = np.where(infinite, np.nan, np.exp(coef))
        conf_low = np.where(infinite, np.nan, np.exp(coef - quantile * se))
        conf_high = np.where(infinite, np.nan, np.exp(coef + quantile * se))
        profile_low, profile_high = np.exp(profile_low), np.exp(profile_high)
    n = design.y.size
    return LogisticFit(
        names=design.names, coef=coef, se=se, z=z, p=2.0 * norm_sf(np.abs(z)),
        odds_ratio=odds_ratio, conf_low=conf_low, conf_high=conf_high,
        profile_low=profile_low, profile_high=profile_high, p_lr=p_lr,
        conf_level=conf_level, var=var, deviance=deviance,
        null_deviance=_null_deviance(design), df_residual=n - coef.size,
        df_null=n - 1 if design.has_intercept else n, aic=aic, loglik=-0.5 * deviance,
        penalised_loglik=penalised_loglik, lr_test=lr_test, n=n,
        n_events=int(design.y.sum()), iterations=iterations, converged=converged,
        separated=tuple(design.names[j] for j in np.flatnonzero(infinite)), reason=reason,
        method=method)
