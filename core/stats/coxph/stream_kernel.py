"""The running sums of the streamed Cox fit (:mod:`.stream`), compiled with numba.

Why compiled: the streamed fit's risk sets are running sums along the rows in decreasing
time (``sum w`` and ``sum w x`` per stratum), read at each event time, and each event
time's terms depend on them one after the other. NumPy forms running sums only with
``cumsum`` and ``reduceat`` over whole arrays (about 3 ns per value on the benchmark
machine) and needed some hundred further array operations per piece of 8,192 rows
(grouping the rows by stratum and time, gathering the events, Efron's expansion). This
loop reads each row once; with it the benchmark fit of ``benchmarks/stream_cox.py`` (2e6
rows) takes 4.1 CPU-s instead of 10.3. The ``p x p`` sums stay matrix products in
:mod:`.stream` (BLAS is several times faster at them than a compiled scalar loop); this
loop gives them their weights.

The arithmetic is :func:`.aggregate._terms`'s and :func:`.aggregate._efron_sums`'s, term
by term; only the order of some additions differs (rounding noise).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["scan_runs", "workspace"]

# cache=True: compiled once (a few seconds), then loaded from __pycache__ (git-ignored).
# error_model="numpy": a division by zero gives inf or nan, as NumPy's errstate("ignore").
# Arrays are indexed in the loops, never sliced nor passed to calls: either costs
# reference counting (atomic operations), a third of a first version's time.
_compiled = njit(cache=True, error_model="numpy")


@_compiled
def scan_runs(x, beta, shift, stratum, event, run_start, g, efron, carry, score, totals,
              test_score, work):
    """One pass over a piece's rows (whole runs of near-equal times, in decreasing time):
    the risk sets, each event time's terms, and the weights of the ``p x p`` sums.

    Parameters
    ----------
    x : numpy.ndarray, shape (p, rows)
        The model's centred columns, one row of the array per column.
    beta : numpy.ndarray, shape (p,)
    shift : numpy.ndarray, shape (S,)
        Per stratum, subtracted from the linear predictor before ``exp``.
    stratum : numpy.ndarray of int64
        Each row's stratum position.
    event : numpy.ndarray of bool
    run_start : numpy.ndarray of int64
        The first row of each run of near-equal times (the last run ends with the rows).
    g : numpy.ndarray
        Each run's ``g(t)`` for ``cox.zph``'s test, whose event times weigh ``1``, ``g``
        and ``g^2``; empty without the test (one weight, 1).
    efron : bool
    carry : numpy.ndarray, shape (S, 1 + p)
        Per stratum, the risk set's ``sum w`` and ``sum w x`` over the earlier pieces
        (updated).
    score : numpy.ndarray, shape (p,)
        Less ``sum_k (S1_k / den_k - Efron's part)`` over the event times (updated).
    totals : numpy.ndarray, shape (4,)
        The log-likelihood less ``beta' sum x_events``, the largest ``|x' beta|``, and
        for the test the deaths and their ``g`` (updated).
    test_score : numpy.ndarray, shape (2, p)
        The test's score parts with weights 1 and ``g`` (updated).
    work : tuple of numpy.ndarray
        :func:`workspace`'s arrays for at least the piece's rows, which receive:

        - ``w``, per row: ``exp(x' beta - shift)``;
        - ``weight``, ``(W, rows)``: per row, ``w`` times the sum of ``h q`` over its
          stratum's event times from its own down in this piece (``h = 1 / den``,
          Efron's summed), its weight in ``sum_k h_k q_k S2_k``;
        - ``s1``, ``d1``, ``(E, p)``: per event time (of a stratum), the risk set's and
          the events' ``sum w x``;
        - ``coef``, ``(E, 3, W)``: per event time and weight, ``q sum 1 / den^2``,
          ``q sum f / den^2`` and ``q sum f^2 / den^2`` (``f = j / d``; the last two 0
          without ties): the risk-set means' outer products are ``s1 s1'`` times the
          first, less ``s1 d1' + d1 s1'`` times the second, plus ``d1 d1'`` times the
          third;
        - ``h_total``, ``(S, W)``: per stratum, the sum of ``h q`` over the piece's event
          times, the weight of the earlier pieces' ``sum w x x'``;
        - ``tied_rows`` and ``tied``, ``(W, T)``: the event rows at tied times (Efron)
          and their weights ``w q sum_j (j / d) / den_j`` in the events' ``sum w x x'``.

    Returns
    -------
    (int, int)
        The event times ``E`` and the tied event rows ``T``.
    """
    w, weight, s1, d1, coef, h, time_end, time_stratum, h_total, tied_rows, tied = work
    n = stratum.size
    p = beta.size
    strata = carry.shape[0]
    test = g.size > 0
    weights = 3 if test else 1
    deaths = np.zeros(strata, np.int64)  # the current run's, per stratum
    dead = np.empty(strata, np.int64)  # the strata with deaths in the current run
    event_sum = np.zeros((strata, 1 + p))  # the run's events' sum w, sum w x
    event_x = np.zeros((strata, p))  # their sum x (the test)
    # The risk sets: carry (the earlier pieces' rows) plus this piece's rows added up from
    # zero -- one long running sum of every row would lose digits (a binary column's two
    # weights, added millions of times, round alike).
    partial = np.zeros((strata, 1 + p))
    at_risk = np.empty((strata, 1 + p))
    q = np.ones(weights)
    largest = totals[1]
    k = 0  # event times so far
    t = 0  # tied event rows so far
    for r in range(run_start.size):
        lo = run_start[r]
        hi = run_start[r + 1] if r + 1 < run_start.size else n
        found = 0
        for i in range(lo, hi):
            s = stratum[i]
            eta = 0.0
            for j in range(p):
                eta += beta[j] * x[j, i]
            largest = max(largest, abs(eta))
            wi = math.exp(eta - shift[s])
            w[i] = wi
            partial[s, 0] += wi
            for j in range(p):
                partial[s, 1 + j] += wi * x[j, i]
            if event[i]:
                if deaths[s] == 0:
                    dead[found] = s
                    found += 1
                deaths[s] += 1
                event_sum[s, 0] += wi
                for j in range(p):
                    event_sum[s, 1 + j] += wi * x[j, i]
                if test:
                    for j in range(p):
                        event_x[s, j] += x[j, i]
        if test:
            q[1] = g[r]
            q[2] = g[r] * g[r]
        for m in range(found):
            s = dead[m]
            d = deaths[s]
            for j in range(1 + p):
                at_risk[s, j] = carry[s, j] + partial[s, j]
            s0, d0 = at_risk[s, 0], event_sum[s, 0]
            log_den, inv_den, inv_den_sq, frac0, frac1, frac2 = _denominators(s0, d0, d, efron)
            totals[0] -= log_den + d * shift[s]
            for j in range(p):
                s1[k, j] = at_risk[s, 1 + j]
                d1[k, j] = event_sum[s, 1 + j]
                score[j] -= at_risk[s, 1 + j] * inv_den - event_sum[s, 1 + j] * frac0
            for c in range(weights):
                h[k, c] = q[c] * inv_den
                coef[k, 0, c] = q[c] * inv_den_sq
                coef[k, 1, c] = q[c] * frac1
                coef[k, 2, c] = q[c] * frac2
            if test:  # cox.zph's score parts, g(t) = q[1]
                for j in range(p):
                    value = event_x[s, j] - (at_risk[s, 1 + j] * inv_den
                                             - event_sum[s, 1 + j] * frac0)
                    test_score[0, j] += value
                    test_score[1, j] += q[1] * value
                totals[2] += d
                totals[3] += d * q[1]
            time_end[k] = hi
            time_stratum[k] = s
            k += 1
            if efron and d > 1:
                for i in range(lo, hi):
                    if stratum[i] == s and event[i]:
                        tied_rows[t] = i
                        for c in range(weights):
                            tied[c, t] = w[i] * (q[c] * frac0)
                        t += 1
            deaths[s] = 0
            for j in range(1 + p):
                event_sum[s, j] = 0.0
            if test:
                for j in range(p):
                    event_x[s, j] = 0.0
    totals[1] = largest
    for s in range(strata):
        for j in range(1 + p):
            carry[s, j] += partial[s, j]
    _row_weights(stratum, k, time_end, time_stratum, h, w, weight, h_total)
    return k, t


def workspace(rows: int, p: int, strata: int, weights: int) -> tuple:
    """The arrays :func:`scan_runs` fills, for pieces of up to ``rows`` rows: allocated
    once per evaluation (fresh arrays per piece cost page faults, a third of the time)."""
    return (np.empty(rows), np.empty((weights, rows)), np.empty((rows, p)),
            np.empty((rows, p)), np.empty((rows, 3, weights)), np.empty((rows, weights)),
            np.empty(rows, np.int64), np.empty(rows, np.int64), np.empty((strata, weights)),
            np.empty(rows, np.int64), np.empty((weights, rows)))


@_compiled
def _row_weights(stratum, times, time_end, time_stratum, h, w, weight, below):
    """Each row's ``w`` times the sum of its stratum's ``h q`` over the event times whose
    run ends after it (its own run's and the later ones), added up backwards, into
    ``weight``; each stratum's total into ``below``."""
    weights = h.shape[1]
    below[:] = 0.0
    k = times - 1
    for i in range(stratum.size - 1, -1, -1):
        while k >= 0 and time_end[k] > i:
            for c in range(weights):
                below[time_stratum[k], c] += h[k, c]
            k -= 1
        for c in range(weights):
            weight[c, i] = w[i] * below[stratum[i], c]


@_compiled
def _denominators(s0, d0, d, efron):
    """The sums over Efron's ``j = 0..d-1`` (``f = j / d``, ``den = s0 - f d0``) of
    ``log den``, ``1 / den``, ``1 / den^2``, ``f / den``, ``f / den^2`` and
    ``f^2 / den^2`` at a time with ``d`` deaths, as :func:`.aggregate._efron_sums` gives
    them; Breslow's (``f = 0``, one ``den``) without ties. Scalars only: a compiled call
    passing arrays costs reference counting, which made the loop a third slower."""
    if not efron or d < 2:
        return d * math.log(s0), d / s0, d / s0 ** 2, 0.0, 0.0, 0.0
    log_den = inv_den = inv_den_sq = frac0 = frac1 = frac2 = 0.0
    for j in range(d):
        fraction = j / d
        denominator = s0 - fraction * d0
        inv = 1.0 / denominator
        weighted = fraction * inv
        log_den += math.log(denominator)
        inv_den += inv
        inv_den_sq += inv * inv
        frac0 += weighted
        frac1 += weighted * inv
        frac2 += weighted * weighted
    return log_den, inv_den, inv_den_sq, frac0, frac1, frac2
