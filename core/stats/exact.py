"""Fisher's exact test: table checks, the exact 2x2 test and the seeded Monte Carlo r x c test.

Under independence, with both margins fixed, a table ``x`` with row margins ``R_i``, column
margins ``C_j`` and total ``N`` has the multivariate hypergeometric probability

.. math::

    P(x) = \\frac{\\prod_i R_i! \\, \\prod_j C_j!}{N! \\, \\prod_{ij} x_{ij}!}.

The two-sided p-value is the total probability of all tables with the observed margins that
are no more probable than the observed table, ``P(y) <= P(x_obs) * (1 + tolerance)``. The
tolerance absorbs rounding so that tables tied with the observed one are counted, and is R's:
a relative ``1e-7`` in the 2x2 code of ``fisher.test`` and ``3.45254e-7`` on the log scale in
its r x c code (FEXACT). The exact r x c test is :mod:`cohortpress.stats.exact_rxc`; this
module's Monte Carlo test is its fallback when that would cost too much.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.common import TestResult

__all__ = ["FISHER_METHOD", "DEFAULT_MONTE_CARLO_TABLES", "DEFAULT_MONTE_CARLO_SEED",
           "as_contingency_table", "drop_empty_margins", "log_factorials", "log_factorial",
           "fisher_exact_2x2", "fisher_monte_carlo"]

FISHER_METHOD = "Fisher's exact test"

RELATIVE_TOLERANCE_2X2 = 1e-7
"""R ``fisher.test`` (2x2): tables with ``P <= P_obs * (1 + 1e-7)`` count."""

DEFAULT_MONTE_CARLO_TABLES = 100_000
DEFAULT_MONTE_CARLO_SEED = 20_240_101

_MONTE_CARLO_CHUNK = 20_000


# --------------------------------------------------------------------------------------------
# Input handling


def as_contingency_table(table) -> np.ndarray:
    """Validate a contingency table and return it as an ``int64`` array.

    Parameters
    ----------
    table : array_like
        2-D array of non-negative integer counts (rows = levels, columns = groups).

    Returns
    -------
    numpy.ndarray
        The counts as ``int64``.

    Raises
    ------
    StatisticsError
        If the table is not 2-D, is empty, has negative, non-integer or non-finite entries,
        or has no observations.
    """
    array = np.asarray(table)
    if array.ndim != 2 or 0 in array.shape:
        raise StatisticsError(
            f"a contingency table must be a 2-D array with at least one row and one column; "
            f"got shape {array.shape}")
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == bool):
        raise StatisticsError("contingency table entries must be numbers")
    values = array.astype(np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values != np.round(values)):
        raise StatisticsError("contingency table entries must be non-negative whole numbers")
    counts = values.astype(np.int64)
    if counts.sum() == 0:
        raise StatisticsError("the contingency table has no observations")
    return counts


def drop_empty_margins(counts: np.ndarray) -> np.ndarray:
    """Remove the all-zero rows and all-zero columns of a table of counts.

    A level or group with no observations carries no information about association; R's
    ``fisher.test`` (r x c) gives the same p-value with or without them, whereas
    ``chisq.test`` returns ``NaN`` because of the zero expected counts.
    """
    return counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]


def log_factorials(n: int) -> np.ndarray:
    """``log(k!)`` for ``k = 0..n``."""
    return log_factorial(np.arange(n + 1))


def log_factorial(counts) -> np.ndarray:
    """``log(k!)`` of each count, ``gammaln(k + 1.0)``: the entries of
    :func:`log_factorials`, without its table of ``N + 1`` values (800 MB at ``N = 10^8``),
    so memory does not grow with ``N``."""
    return gammaln(np.asarray(counts, dtype=np.float64) + 1.0)


# --------------------------------------------------------------------------------------------
# 2x2


def fisher_exact_2x2(table) -> TestResult:
    """Two-sided Fisher's exact test for a 2x2 table, exactly as R's ``fisher.test``.

    With ``m``, ``n`` the column totals, ``k`` the first row total and ``x`` the top-left
    cell, ``X`` is hypergeometric on ``lo..hi`` (``lo = max(0, k - n)``, ``hi = min(k, m)``)
    with ``d(s) = C(m, s) C(n, k - s) / C(m + n, k)``. Then

    .. math:: p = \\sum_{s:\\, d(s) \\le d(x)(1 + 10^{-7})} d(s).

    Parameters
    ----------
    table : array_like
        2x2 table of non-negative integer counts.

    Returns
    -------
    TestResult
        ``method="Fisher's exact test"``, ``statistic=None``.
    """
    counts = as_contingency_table(table)
    if counts.shape != (2, 2):
        raise StatisticsError(f"fisher_exact_2x2 needs a 2x2 table; got shape {counts.shape}")
    m, n = (int(v) for v in counts.sum(axis=0))
    k = int(counts[0].sum())
    x = int(counts[0, 0])
    lo, hi = max(0, k - n), min(k, m)
    first, last = _support_window(m, n, k, lo, hi)
    window = np.arange(first, last + 1)
    log_d = _log_density_2x2(window, m, n, k)
    d = np.exp(log_d - log_d.max())
    size = hi - lo + 1
    d /= _padded_sum(d, first - lo, size)
    d_observed = d[x - first] if first <= x <= last else 0.0
    selected = d[d <= d_observed * (1 + RELATIVE_TOLERANCE_2X2)]
    zeros_before, zeros_after = first - lo, hi - last
    p_value = _padded_sum(selected, zeros_before, zeros_before + selected.size + zeros_after)
    return TestResult(method=FISHER_METHOD, p_value=min(1.0, p_value))


_UNDERFLOW_MARGIN = 760.0
"""``exp(-t)`` is exactly ``0.0`` in double precision for ``t > 745.2``; the margin adds room
for the rounding of the log-densities (about ``1e-6`` at ``N = 10^9``)."""

_WHOLE_SUPPORT_MAX = 4096
"""Up to this many support points the 2x2 test enumerates all of them."""


def _log_density_2x2(support: np.ndarray, m: int, n: int, k: int) -> np.ndarray:
    """``log d(s)`` up to the constant ``log(m! n! k! (N-k)! / N!)``, as ``log(s!)`` etc.

    Each ``log(j!)`` is ``gammaln(j + 1.0)``, the entry :func:`log_factorials` would hold, so
    the values do not depend on which points are evaluated.
    """
    return -(log_factorial(support) + log_factorial(m - support)
             + log_factorial(k - support) + log_factorial(n - k + support))


def _support_window(m: int, n: int, k: int, lo: int, hi: int) -> tuple[int, int]:
    """The first and last support point whose density does not underflow to zero.

    The hypergeometric density is log-concave, so the points whose log-density lies within
    :data:`_UNDERFLOW_MARGIN` of the largest one form one interval around the mode; outside
    it ``exp(log d(s) - max)`` is exactly ``0.0``, so leaving those points out changes no
    bit of the p-value (their zeros are accounted for by :func:`_padded_sum`). Each end is
    found by bisection, which keeps the cost ``O(sqrt(N))`` instead of ``O(min margin)``:
    at ``N = 10^8`` the whole support holds tens of millions of points.
    """
    if hi - lo + 1 <= _WHOLE_SUPPORT_MAX:
        return lo, hi
    mode = min(hi, max(lo, (k + 1) * (m + 1) // (m + n + 2)))

    def log_density(s: int) -> float:
        return float(_log_density_2x2(np.array([s]), m, n, k)[0])

    floor = log_density(mode) - _UNDERFLOW_MARGIN

    def last_kept(inside: int, outside: int) -> int:
        """The last point from ``inside`` towards ``outside`` still above ``floor``."""
        while abs(outside - inside) > 1:
            middle = (inside + outside) // 2
            if log_density(middle) >= floor:
                inside = middle
            else:
                outside = middle
        return inside

    first = lo if log_density(lo) >= floor else last_kept(mode, lo)
    last = hi if log_density(hi) >= floor else last_kept(mode, hi)
    return first, last


def _padded_sum(values: np.ndarray, zeros_before: int, length: int) -> float:
    """``numpy.sum`` of ``values`` padded with zeros to ``length``, without the zeros.

    NumPy sums a float64 array pairwise: a run of fewer than 8 values one by one, up to 128
    values in 8 interleaved partial sums, longer runs as the sum of two halves (the first a
    multiple of 8 long). Where the zeros sit changes which values are added together, so this
    follows the same splits over the padded positions and sums only the parts that hold
    values; a part of zeros only adds ``0.0``. The result is bit-identical to summing the
    padded array (tested), in ``O(len(values) + log(length))`` time and no padding memory.
    """
    start, stop = zeros_before, zeros_before + values.size

    def pairwise(offset: int, count: int) -> float:
        end = offset + count
        if end <= start or offset >= stop:
            return 0.0
        if start <= offset and end <= stop:
            return float(values[offset - start:end - start].sum())
        if count <= _PAIRWISE_BLOCK:
            part = np.zeros(count)
            first, last = max(offset, start), min(end, stop)
            part[first - offset:last - offset] = values[first - start:last - start]
            return float(part.sum())
        half = count // 2
        half -= half % 8
        return pairwise(offset, half) + pairwise(offset + half, count - half)

    return pairwise(0, length)


_PAIRWISE_BLOCK = 128
"""NumPy's block size of pairwise summation (``PW_BLOCKSIZE``)."""


# --------------------------------------------------------------------------------------------
# r x c, Monte Carlo


def _simulated_scores(row_margins: np.ndarray, column_margins: np.ndarray, n_tables: int,
                      rng: np.random.Generator) -> np.ndarray:
    """``-sum(log x!)`` of ``n_tables`` random tables with the given margins.

    Each table is drawn uniformly among the arrangements of the ``N`` observations, as a
    random permutation (and R's ``r2dtable``) would, cell by cell: the count of row ``i`` in
    column ``j`` is hypergeometric given what remains of the row margins and of the column.
    """
    remaining_rows = np.tile(row_margins, (n_tables, 1))
    scores = np.zeros(n_tables)
    for column_total in column_margins[:-1]:
        left = np.full(n_tables, column_total, dtype=np.int64)
        others = remaining_rows.sum(axis=1)
        for row in range(len(row_margins) - 1):
            others = others - remaining_rows[:, row]
            cell = rng.hypergeometric(remaining_rows[:, row], others, left)
            remaining_rows[:, row] -= cell
            left -= cell
            scores -= log_factorial(cell)
        remaining_rows[:, -1] -= left
        scores -= log_factorial(left)
    scores -= log_factorial(remaining_rows).sum(axis=1)
    return scores


def fisher_monte_carlo(table, n_tables: int = DEFAULT_MONTE_CARLO_TABLES,
                       seed: int = DEFAULT_MONTE_CARLO_SEED) -> TestResult:
    """Fisher's exact test with a Monte Carlo p-value, as R's ``simulate.p.value = TRUE``.

    With ``B`` tables simulated under independence with the observed margins and
    ``S(x) = -sum(log x_ij!)``,

    .. math:: p = \\frac{1 + \\#\\{b : S(y_b) \\le S(x) / (1 + 64\\varepsilon)\\}}{B + 1}.

    All-zero rows and columns are dropped first, as R does.

    Parameters
    ----------
    table : array_like
        Table of non-negative integer counts with at least 2 non-empty rows and columns.
    n_tables : int, optional
        Number of simulated tables ``B``.
    seed : int, optional
        Seed of the random generator (``numpy.random.default_rng``); the same seed gives the
        same p-value.

    Returns
    -------
    TestResult
        ``method="Fisher's exact test"``; ``note`` gives the number of tables and the seed.
    """
    counts = drop_empty_margins(as_contingency_table(table))
    if min(counts.shape) < 2:
        raise StatisticsError("Fisher's exact test needs at least 2 non-empty rows and columns")
    if int(n_tables) < 1:
        raise StatisticsError(f"n_tables must be at least 1; got {n_tables}")
    n_tables = int(n_tables)
    observed_score = -log_factorial(counts).sum()
    cutoff = observed_score / (1 + 64 * np.finfo(float).eps)
    rng = np.random.default_rng(seed)
    row_margins, column_margins = counts.sum(axis=1), counts.sum(axis=0)
    n_as_extreme = 0
    for start in range(0, n_tables, _MONTE_CARLO_CHUNK):
        size = min(_MONTE_CARLO_CHUNK, n_tables - start)
        scores = _simulated_scores(row_margins, column_margins, size, rng)
        n_as_extreme += int(np.count_nonzero(scores <= cutoff))
    return TestResult(
        method=FISHER_METHOD,
        p_value=(1 + n_as_extreme) / (n_tables + 1),
        note=f"Monte Carlo p-value from {n_tables:,} simulated tables (seed {seed})",
        monte_carlo_tables=n_tables, seed=seed)
