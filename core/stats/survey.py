"""Design-based tests for a weighted Table 1, as R ``survey`` 4.1.

The design is one stage, no strata, no finite-population correction — R's
``svydesign(ids = ~1, weights = ~w)`` — so each observation is its own primary sampling
unit, the design has :math:`n - 1` degrees of freedom, and the variance of an estimated
total :math:`\\hat T = \\sum_i z_i` is the with-replacement estimate
:math:`\\frac{n}{n-1}\\sum_i (z_i - \\bar z)(z_i - \\bar z)^\\top` of ``svyrecvar``.

- :func:`rao_scott_chisq` is ``svychisq(~row + col, design)`` with its default
  ``statistic = "F"``: Pearson's :math:`X^2` of the weighted table scaled to :math:`n`,
  divided by the mean generalised design effect (Rao & Scott's second-order correction) and
  referred to an F distribution with Satterthwaite-type degrees of freedom.
- :func:`weighted_t_test` is ``svyttest(y ~ group, design)``: the group coefficient of a
  weighted least-squares fit with its sandwich (linearisation) standard error, on
  :math:`n - 2` degrees of freedom; :func:`weighted_wald_test` is its extension to
  :math:`k` groups, ``regTermTest(svyglm(y ~ group, design), ~group)``.

statsmodels has no design-based contingency-table test and its weighted least squares
gives model-based, not design-based, standard errors (a ``cov_type="HC0"`` sandwich lacks
survey's :math:`n/(n-1)` factor and the ``n - 2`` reference distribution), so both are
written here, following survey's formulas; the tests compare them with R to 1e-6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import t as t_distribution

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult, float_vector
from cohortpress.stats.distributions import f_sf, t_sf
from cohortpress.stats.weighted import check_weights

__all__ = ["RAO_SCOTT_METHOD", "SVY_T_METHOD", "SVY_WALD_METHOD", "WeightedTTest",
           "rao_scott_chisq", "weighted_t_test", "weighted_wald_test"]

RAO_SCOTT_METHOD = "Pearson's chi-squared test with Rao & Scott's second-order correction"
SVY_T_METHOD = "Design-based t-test"
SVY_WALD_METHOD = "Design-based Wald F test"


@dataclass(frozen=True)
class WeightedTTest:
    """A design-based comparison of two weighted means.

    Attributes
    ----------
    test : TestResult
        The t statistic (group 1 minus group 2), its degrees of freedom and p-value.
    estimate : float
        Weighted mean of group 1 minus that of group 2.
    std_err : float
        Its linearisation (sandwich) standard error.
    conf_low, conf_high : float
        ``estimate`` :math:`\\pm t_{n-2, 1-\\alpha/2}` ``std_err``.
    """

    test: TestResult
    estimate: float
    std_err: float
    conf_low: float
    conf_high: float


def _total_variance(scores: np.ndarray) -> np.ndarray:
    """``svyrecvar`` of one-stage, unstratified with-replacement totals of ``scores``."""
    n = scores.shape[0]
    centred = scores - scores.mean(axis=0)
    return n / (n - 1) * centred.T @ centred


def rao_scott_chisq(rows, columns, weights) -> TestResult:
    """Rao–Scott second-order corrected chi-squared test, ``svychisq(statistic = "F")``.

    With :math:`\\hat p` the weighted cell shares (``svymean`` of the cell indicators,
    rows varying fastest), :math:`V` their design-based covariance, :math:`C` a basis of
    the interaction contrasts (orthogonal to the main effects on the cell grid), :math:`D =
    \\operatorname{diag}(\\hat p)` and :math:`n` the number of observations,

    .. math::

        \\Delta = \\big(C^\\top D^{-1} C / n\\big)^{-1} C^\\top D^{-1} V D^{-1} C, \\qquad
        F = \\frac{X^2}{\\operatorname{tr}\\Delta}, \\qquad
        d_0 = \\frac{(\\operatorname{tr}\\Delta)^2}{\\operatorname{tr}\\Delta^2},

    where :math:`X^2` is Pearson's statistic of the weighted table rescaled to total
    :math:`n`; the p-value is :math:`P(F_{d_0,\\, d_0 (n - 1)} > F)`.

    Parameters
    ----------
    rows, columns : array_like of int
        Codes of the two variables (e.g. level and group); observations with a negative
        code (missing) are dropped, as are levels no observation has.
    weights : array_like of float
        One weight per observation, >= 0.

    Returns
    -------
    TestResult
        ``statistic`` the F value, ``df`` the numerator degrees of freedom :math:`d_0` (the
        denominator's are :math:`d_0 (n - 1)`).

    Raises
    ------
    StatisticsError
        Invalid weights, or fewer than 2 levels of either variable.
    """
    rows = np.asarray(rows, dtype=np.intp)
    columns = np.asarray(columns, dtype=np.intp)
    w = check_weights(weights, len(rows))
    if len(columns) != len(rows):
        raise StatisticsError("rows and columns must have one code per observation")
    keep = (rows >= 0) & (columns >= 0)
    row_levels, row_codes = np.unique(rows[keep], return_inverse=True)
    col_levels, col_codes = np.unique(columns[keep], return_inverse=True)
    w = w[keep]
    n_rows, n_cols, n = len(row_levels), len(col_levels), int(keep.sum())
    if n_rows < 2 or n_cols < 2:
        raise StatisticsError(f"a chi-squared test needs 2 levels of each variable; got "
                              f"{n_rows} x {n_cols}")
    cells = np.zeros((n, n_rows * n_cols))
    cells[np.arange(n), col_codes * n_rows + row_codes] = 1.0
    shares = w @ cells / w.sum()
    covariance = _total_variance(w[:, None] * (cells - shares) / w.sum())
    contrasts = _interaction_contrasts(n_rows, n_cols)
    inverse_shares = np.divide(1.0, shares, out=np.zeros_like(shares), where=shares != 0)
    denominator = contrasts.T @ (inverse_shares[:, None] / n * contrasts)
    numerator = (contrasts.T * inverse_shares) @ covariance @ (inverse_shares[:, None]
                                                               * contrasts)
    delta = np.linalg.solve(denominator, numerator)
    trace = float(np.trace(delta))
    d0 = trace ** 2 / float(np.trace(delta @ delta))
    statistic = _pearson(shares.reshape(n_cols, n_rows).T * n) / trace
    p_value = float(f_sf(statistic, d0, d0 * (n - 1)))
    return TestResult(method=RAO_SCOTT_METHOD, p_value=p_value, statistic=float(statistic),
                      df=d0)


def _interaction_contrasts(n_rows: int, n_cols: int) -> np.ndarray:
    """Interaction columns of the cell grid with the main effects projected out."""
    row = np.tile(np.arange(n_rows), n_cols)
    col = np.repeat(np.arange(n_cols), n_rows)
    row_dummies = (row[:, None] == np.arange(1, n_rows)).astype(float)
    col_dummies = (col[:, None] == np.arange(1, n_cols)).astype(float)
    main = np.column_stack([np.ones(len(row)), row_dummies, col_dummies])
    interaction = (row_dummies[:, :, None] * col_dummies[:, None, :]).reshape(len(row), -1)
    fitted = main @ np.linalg.lstsq(main, interaction, rcond=None)[0]
    return interaction - fitted


def _pearson(table: np.ndarray) -> float:
    """Pearson's X^2 of a table (rows and columns with a zero total dropped)."""
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    return float(np.sum((table - expected) ** 2 / expected))


def _weighted_fit(samples):
    """Weighted least squares of the values on group indicators (the first group the
    reference): coefficients, their sandwich covariance, and ``n``."""
    y = np.concatenate([values for values, _ in samples])
    w = np.concatenate([weights for _, weights in samples])
    group = np.concatenate([np.full(len(values), k) for k, (values, _) in enumerate(samples)])
    design = (group[:, None] == np.arange(len(samples))).astype(float)
    design[:, 0] = 1.0
    information = design.T @ (w[:, None] * design)
    coefficients = np.linalg.solve(information, design.T @ (w * y))
    residuals = y - design @ coefficients
    scores = np.linalg.solve(information, (design * (w * residuals)[:, None]).T).T
    return coefficients, _total_variance(scores), len(y)


def _weighted_samples(samples) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each group's known values and their weights, checked."""
    checked = []
    for k, (x, w) in enumerate(samples):
        values = float_vector(x, f"group {k + 1}")
        weights = check_weights(w, len(values))
        known = ~np.isnan(values)
        if not known.any():
            raise StatisticsError(f"group {k + 1} has no values")
        checked.append((values[known], weights[known]))
    return checked


def weighted_wald_test(samples) -> TestResult:
    """Design-based Wald F test of equal weighted means in :math:`k \\ge 2` groups.

    ``regTermTest(svyglm(y ~ group, design), ~group)``: with :math:`\\hat\\beta` the
    :math:`k - 1` group contrasts of the weighted least-squares fit and :math:`\\hat V`
    their sandwich covariance (as in :func:`weighted_t_test`),
    :math:`F = \\hat\\beta^\\top \\hat V^{-1} \\hat\\beta / (k - 1)` on :math:`k - 1` and
    :math:`n - k` degrees of freedom (``df`` holds :math:`k - 1`). For two groups :math:`F = t^2` of
    :func:`weighted_t_test`, with the same p-value.

    Parameters
    ----------
    samples : sequence of (values, weights)
        One pair of arrays per group; ``NaN`` values are dropped.

    Raises
    ------
    StatisticsError
        Fewer than 2 groups, invalid weights, a group without values, or no variation.
    """
    if len(samples) < 2:
        raise StatisticsError(f"at least 2 groups are needed; got {len(samples)}")
    coefficients, covariance, n = _weighted_fit(_weighted_samples(samples))
    k = len(samples)
    if n <= k:
        raise StatisticsError(f"a Wald test of {k} groups needs more than {k} values; got {n}")
    contrasts, variance = coefficients[1:], covariance[1:, 1:]
    try:
        wald = float(contrasts @ np.linalg.solve(variance, contrasts))
    except np.linalg.LinAlgError:
        raise StatisticsError("no variation: the Wald statistic is not defined") from None
    statistic = wald / (k - 1)
    return TestResult(method=SVY_WALD_METHOD,
                      p_value=float(f_sf(statistic, k - 1, n - k)), statistic=statistic,
                      df=float(k - 1))


def weighted_t_test(x1, w1, x2, w2, conf_level: float = 0.95) -> WeightedTTest:
    """Design-based two-sample t-test, ``svyttest(y ~ group, design)``.

    Fits :math:`y = \\beta_0 + \\beta_1 g` by weighted least squares (:math:`g = 1` in
    group 2) and takes the sandwich variance of :math:`\\hat\\beta` from the scores
    :math:`u_i = A^{-1} w_i x_i r_i`, :math:`A = X^\\top W X`:
    :math:`\\hat V = \\frac{n}{n-1}\\sum_i (u_i - \\bar u)(u_i - \\bar u)^\\top`. The
    statistic is :math:`t = -\\hat\\beta_1 / \\mathrm{se}` on :math:`n - 2` degrees of
    freedom (the sign makes it group 1 minus group 2; R reports group 2 minus group 1).

    Parameters
    ----------
    x1, w1, x2, w2 : array_like of float
        Values (``NaN`` dropped) and weights of each group.
    conf_level : float
        Coverage of the interval of the difference.

    Returns
    -------
    WeightedTTest

    Raises
    ------
    StatisticsError
        Invalid weights, a group without values, or no variation.
    """
    coefficients, covariance, n = _weighted_fit(_weighted_samples([(x1, w1), (x2, w2)]))
    if n < 3:
        raise StatisticsError(f"a t-test needs at least 3 values; got {n}")
    std_err = float(np.sqrt(covariance[1, 1]))
    if std_err == 0:
        raise StatisticsError("no variation: the t statistic is not defined")
    estimate = float(-coefficients[1])
    statistic = estimate / std_err
    df = n - 2
    quantile = float(t_distribution.ppf(1 - (1 - conf_level) / 2, df))
    test = TestResult(method=SVY_T_METHOD, p_value=float(2 * t_sf(abs(statistic), df)),
                      statistic=statistic, df=float(df))
    return WeightedTTest(test=test, estimate=estimate, std_err=std_err,
                         conf_low=estimate - quantile * std_err,
                         conf_high=estimate + quantile * std_err)
