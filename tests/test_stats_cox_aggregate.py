"""Tests of cohortpress.stats.coxph.aggregate: the Cox fit from per-time sums.

The sums are formed here in NumPy (what the engine's query computes, grouped by stratum and
time), so these tests check the estimator alone against R's coxph and cox.zph (the fixture
of tests/fixtures/r/cox_models.R) and against the in-memory fit; the SQL is tested in
tests/test_engine_cox.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from cohortpress.common.errors import StatisticsError
from cohortpress.stats.coxph import cox_zph, fit_cox
from cohortpress.stats.coxph import aggregate, stream
from cohortpress.stats.coxph.aggregate import (TimeSums, fit_cox_aggregated, model_moments,
                                               pair_indices)
from cohortpress.stats.coxph.aggregate_tests import cox_zph_aggregated, lr_test_aggregated

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "cox_models.json").read_text())
CASES = {case["name"]: case for case in FIXTURE["cases"]}
REGULAR = [name for name in CASES if name != "monotone"]
TIES = ("efron", "breslow")


def assert_close(actual, expected, rtol=1e-8, atol=1e-10):
    np.testing.assert_allclose(np.asarray(actual, dtype=float),
                               np.asarray(expected, dtype=float), rtol=rtol, atol=atol)


class Rows:
    """A cohort's rows and the aggregates the engine would return, computed in NumPy."""

    def __init__(self, X, time, event, strata=None):
        self.X = np.asarray(X, dtype=float).reshape(len(time), -1)
        self.time = np.asarray(time, dtype=float)
        self.event = np.asarray(event, dtype=float)
        labels = np.zeros(len(time), dtype=int) if strata is None else np.asarray(strata)
        self.stratum = np.unique(labels, return_inverse=True)[1].ravel()
        self.scans = 0

    def model(self, key, names):
        """The moments of columns ``key[1]`` (as the engine's second query gives them)."""
        x = self.X[:, key[1]]
        columns = key[1]
        p = len(columns)
        codes = np.unique(self.stratum)
        i, j = pair_indices(p)
        per = [self.stratum == s for s in codes]
        return model_moments(
            key, names, codes, np.array([m.sum() for m in per], dtype=float),
            np.array([x[m].sum(axis=0) for m in per]),
            np.array([(x[m][:, i] * x[m][:, j]).sum(axis=0) for m in per]),
            np.array([x[m].min(axis=0) for m in per]), np.array([x[m].max(axis=0) for m in per]),
            x[self.event == 1].sum(axis=0), int(self.event.sum()))

    def scan(self, requests):
        self.scans += 1
        keys = np.stack([self.stratum, self.time])
        groups, index = np.unique(keys, axis=1, return_inverse=True)
        index = index.ravel()
        out = []
        for request in requests:
            columns = request.model.key[1]
            x = self.X[:, columns] - request.model.means
            eta = x @ request.beta
            shift = request.shift[np.searchsorted(request.model.strata, self.stratum)]
            w = np.exp(eta - shift)
            i, j = pair_indices(x.shape[1])
            add = lambda v: np.stack([np.bincount(index, c, minlength=groups.shape[1])  # noqa
                                      for c in np.atleast_2d(v.T)], axis=1)
            xx = x[:, i] * x[:, j]
            ev = self.event
            out.append(TimeSums(
                groups[0].astype(int), groups[1], add(np.ones_like(w))[:, 0],
                add(ev)[:, 0], add(w)[:, 0], add(w[:, None] * x), add(w[:, None] * xx),
                add(ev * w)[:, 0], add((ev * w)[:, None] * x), add((ev * w)[:, None] * xx),
                float(np.abs(eta).max())))
        return out


def rows_of(case):
    return Rows(np.column_stack(case["x"]), case["time"], case["event"], case["strata"])


def fit_case(case, ties, columns=None):
    rows = rows_of(case)
    columns = list(range(len(case["columns"]))) if columns is None else columns
    model = rows.model(("m", columns), [case["columns"][j] for j in columns])
    (fitted,) = fit_cox_aggregated([model], rows.scan, ties)
    return fitted, rows


@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("name", REGULAR)
def test_the_fit_from_per_time_sums_matches_coxph(name, ties):
    case, reference = CASES[name], CASES[name]["fits"][ties]
    fit = fit_case(case, ties)[0].fit
    assert_close(fit.coef, reference["coef"])
    assert_close(fit.se, reference["se"])
    assert_close(fit.p, reference["p"], rtol=1e-7, atol=1e-14)
    assert_close([fit.loglik_null, fit.loglik], reference["loglik"], rtol=1e-12)
    assert fit.iterations == reference["iter"]
    assert (fit.n, fit.n_events) == (reference["n"], reference["n_events"])
    for ours, key in ((fit.lr_test, "lr"), (fit.wald_test, "wald"), (fit.score_test, "score")):
        assert_close(ours.statistic, reference[key]["statistic"])
        assert ours.df == reference[key]["df"]
    assert fit.converged and fit.separated == ()


@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("name", REGULAR)
def test_it_equals_the_in_memory_fit(name, ties):
    case = CASES[name]
    ours = fit_case(case, ties)[0].fit
    X = np.column_stack(case["x"]).astype(float)
    theirs = fit_cox(X, case["time"], case["event"], case["columns"], ties=ties,
                     strata=case["strata"])
    for attribute in ("coef", "se", "var", "loglik", "loglik_null"):
        assert_close(getattr(ours, attribute), getattr(theirs, attribute), rtol=1e-10)
    assert_close(ours.score_test.statistic, theirs.score_test.statistic, rtol=1e-10)


@pytest.mark.parametrize("name", [n for n in REGULAR if CASES[n]["drop_tests"]])
def test_warm_started_refits_match_anova(name):
    case = CASES[name]
    for reference in case["drop_tests"]:
        full, rows = fit_case(case, reference["ties"])
        keep = [j for j, c in enumerate(case["columns"]) if c not in reference["columns"]]
        reduced = None
        if keep:
            model = full.model.subset(keep, ("m", keep), full.fit.coef[keep])
            (reduced,) = fit_cox_aggregated([model], rows.scan, reference["ties"])
            reduced = reduced.fit
        result = lr_test_aggregated(full.fit, reduced, len(reference["columns"]))
        assert_close(result.statistic, reference["statistic"])
        assert result.df == reference["df"]


def multivariable_and_univariable(case):
    """The case's rows, and its multivariable model followed by each univariable one."""
    rows = rows_of(case)
    p = len(case["columns"])
    models = [rows.model(("m", list(range(p))), case["columns"])]
    models += [rows.model(("m", [j]), [case["columns"][j]]) for j in range(p)]
    return rows, models


def test_several_models_share_each_scan():
    case = CASES["lung"]
    rows, models = multivariable_and_univariable(case)
    p = len(case["columns"])
    fits = fit_cox_aggregated(models, rows.scan, "efron")
    assert rows.scans == 1 + max(f.fit.iterations for f in fits)
    for j in range(p):
        alone = fit_case(case, "efron", [j])[0].fit
        assert_close(fits[1 + j].fit.coef, alone.coef, rtol=1e-12)


def test_efron_expansion_recomputed_in_small_chunks_gives_the_same_fit(monkeypatch):
    # A registry's expansion is too large to keep: it is then computed again at each
    # Newton step, a chunk at a time; the terms and their order are the same.
    rows, models = multivariable_and_univariable(CASES["lung"])
    kept = fit_cox_aggregated(models, rows.scan, "efron")
    monkeypatch.setattr(aggregate, "EFRON_CHUNK", 3)
    monkeypatch.setattr(aggregate, "EFRON_KEPT_TERMS", 0)
    again = fit_cox_aggregated(models, rows.scan, "efron")
    for a, b in zip(kept, again):
        assert np.array_equal(a.fit.coef, b.fit.coef) and a.fit.loglik == b.fit.loglik
        assert np.array_equal(a.fit.var, b.fit.var)
    # Models on the same rows share one expansion.
    shared = {id(f.layout.ties) for f in kept}
    assert len(shared) < len(kept)
    assert all(f.layout.ties.terms > 0 for f in kept)


@pytest.mark.parametrize("ties", TIES)
def test_monotone_likelihood_is_flagged_as_in_memory(ties):
    case = CASES["monotone"]
    fit = fit_case(case, ties)[0].fit
    reference = case["fits"][ties]
    assert fit.separated == ("flag",) and not fit.converged
    assert "monotone likelihood" in fit.reason
    assert fit.iterations == reference["iter"]
    assert_close(fit.loglik, reference["loglik"][1], rtol=1e-12)


@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("name", list(CASES))
def test_cox_zph_from_the_final_sums_matches_r(name, ties):
    case, reference = CASES[name], CASES[name]["fits"][ties]["zph"]
    result = cox_zph_aggregated(fit_case(case, ties)[0])
    assert result.names + ("GLOBAL",) == tuple(reference["names"])
    assert_close(np.append(result.chisq, result.global_test.statistic), reference["chisq"],
                 atol=1e-9)


@pytest.mark.parametrize("streamed", [False, True], ids=["per-time", "streamed"])
@pytest.mark.parametrize("variant", CASES["lung"]["zph_variants"],
                         ids=lambda v: f"{v['transform']}-terms{v['terms']}")
def test_cox_zph_transforms_and_terms_match_r(variant, streamed):
    groups = None
    if variant["terms"]:
        groups = {term: np.atleast_1d(columns).tolist()
                  for term, columns in variant["groups"].items()}
    if streamed:
        fitted, rows = streamed_case(CASES["lung"], "efron", 11, variant["transform"])
        result = rows.zph(fitted, groups)
    else:
        result = cox_zph_aggregated(fit_case(CASES["lung"], "efron")[0],
                                    transform=variant["transform"], groups=groups)
    assert_close(np.append(result.chisq, result.global_test.statistic),
                 variant["table"]["chisq"], atol=1e-9)


def test_near_equal_times_are_merged_as_in_memory():
    rng = np.random.default_rng(7)
    time = np.round(rng.exponential(5, 300), 1)
    time[::7] += 1e-10  # as coxph's timefix, these tie with their neighbours
    event = (rng.random(300) < 0.7).astype(float)
    x = np.column_stack([rng.normal(size=300), rng.integers(0, 3, 300) == 1])
    rows = Rows(x, time, event, rng.integers(0, 2, 300))
    (ours,) = fit_cox_aggregated([rows.model(("m", [0, 1]), ["a", "b"])], rows.scan, "efron")
    theirs = fit_cox(x, time, event, ["a", "b"], strata=rows.stratum)
    assert_close(ours.fit.coef, theirs.coef, rtol=1e-10)
    assert_close(ours.fit.loglik, theirs.loglik, rtol=1e-12)
    zph = cox_zph(theirs, x, time, event, rows.stratum)
    assert_close(cox_zph_aggregated(ours).chisq, zph.chisq, rtol=1e-9)


def test_large_linear_predictors_are_shifted_without_changing_the_fit():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 1)) * 100 + 5000  # centred, but |x b| > 300 early on
    time = rng.exponential(1 / np.exp((x[:, 0] - 5000) / 100))
    event = np.ones(200)
    rows = Rows(x, time, event)
    (ours,) = fit_cox_aggregated([rows.model(("m", [0]), ["x"])], rows.scan, "breslow")
    theirs = fit_cox(x, time, event, ["x"], ties="breslow")
    assert_close(ours.fit.coef, theirs.coef, rtol=1e-9)


def test_constant_and_collinear_columns_and_no_events_are_refused_by_name():
    rows = Rows(np.column_stack([np.ones(10), np.arange(10.0), 2 * np.arange(10.0)]),
                np.arange(1.0, 11.0), np.ones(10))
    with pytest.raises(StatisticsError, match="'a' constant"):
        rows.model(("m", [0]), ["a"])
    with pytest.raises(StatisticsError, match="'c' is a linear combination of 'b'"):
        rows.model(("m", [1, 2]), ["b", "c"])
    rows.event[:] = 0
    with pytest.raises(StatisticsError, match="at least one event"):
        rows.model(("m", [1]), ["b"])


def test_the_null_model_is_the_reduced_model_when_nothing_is_left():
    full = fit_case(CASES["ovarian"], "efron")[0].fit
    result = lr_test_aggregated(full, None, len(full.names))
    assert math.isclose(result.statistic, full.lr_test.statistic, rel_tol=1e-12)


# --------------------------------------------------------------------------- streamed rows

class StreamedRows(Rows):
    """The same rows streamed in decreasing time in chunks of ``chunk`` rows (all strata
    together), each scan evaluating the terms itself (stats.coxph.stream), as the engine's
    streamed scan does when the distinct times are too many for sums per time."""

    def __init__(self, X, time, event, strata=None, chunk=7, transform="km"):
        super().__init__(X, time, event, strata)
        self.chunk = chunk
        self.transform = transform  # cox.zph's, whose event times the first scan records
        self.order = np.argsort(-self.time, kind="stable")
        self.events: dict = {}

    def stream(self, model, evaluation):
        x = self.X[:, model.key[1]] - model.means
        position = np.searchsorted(model.strata, self.stratum)
        for lo in range(0, self.time.size, self.chunk):
            part = self.order[lo:lo + self.chunk]
            evaluation.add(stream.StreamRows(position[part], self.time[part],
                                             self.event[part] == 1, x[part]))
        return evaluation.finish()

    def scale(self, model):
        return stream.distinct_time_scale(self.time[self.order])

    def scan(self, requests):
        self.scans += 1
        out = []
        for request in requests:
            model = request.model
            name = repr(model.key)
            events = None if name in self.events else \
                self.events.setdefault(name, stream.EventTimes(self.transform))
            out.append(self.stream(model, stream.StreamedCox(
                model, request.beta, request.shift, request.efron, self.scale(model),
                events=events)))
        return out

    def zph(self, fitted, groups=None):
        sums = stream.zph_sums(self.events[repr(fitted.model.key)])
        transform = self.transform
        model = fitted.model
        self.stream(model, stream.StreamedCox(model, fitted.fit.coef, np.zeros(
            model.strata.size), fitted.fit.ties == "efron", self.scale(model), zph=sums))
        return stream.zph_streamed(fitted.fit, sums, transform, groups)


def streamed_case(case, ties, chunk, transform="km"):
    rows = StreamedRows(np.column_stack(case["x"]), case["time"], case["event"],
                        case["strata"], chunk, transform)
    columns = list(range(len(case["columns"])))
    (fitted,) = fit_cox_aggregated([rows.model(("m", columns), case["columns"])], rows.scan,
                                   ties)
    return fitted, rows


@pytest.mark.parametrize("chunk", [1, 5, 64, 10_000])
@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("name", list(CASES))
def test_the_streamed_fit_and_cox_zph_match_coxph(name, ties, chunk):
    case, reference = CASES[name], CASES[name]["fits"][ties]
    fitted, rows = streamed_case(case, ties, chunk)
    fit, grouped = fitted.fit, fit_case(case, ties)[0].fit
    assert fit.iterations == reference["iter"]
    assert_close([fit.loglik_null, fit.loglik], reference["loglik"], rtol=1e-12)
    if name != "monotone":
        assert_close(fit.coef, reference["coef"])
        assert_close(fit.se, reference["se"])
        assert fit.converged
        for attribute in ("coef", "var"):  # monotone: the last iterate's, on its way out
            assert_close(getattr(fit, attribute), getattr(grouped, attribute), rtol=1e-10)
    assert_close(fit.loglik, grouped.loglik, rtol=1e-12)
    assert fit.separated == grouped.separated
    assert_close(fit.score_test.statistic, grouped.score_test.statistic, rtol=1e-10)
    zph = rows.zph(fitted)
    assert_close(np.append(zph.chisq, zph.global_test.statistic),
                 reference["zph"]["chisq"], atol=1e-9)


@pytest.mark.parametrize("chunk", [1, 3, 50])
def test_streamed_near_equal_times_merge_across_chunks_and_strata(chunk):
    # Runs of near-equal times (aeqSurv) bridged by another stratum's time, and split
    # between chunks: merged over the pooled distinct times, as in memory.
    rng = np.random.default_rng(11)
    n = 400
    time = np.round(rng.exponential(5, n), 1)
    time[::5] += 1e-8 * rng.integers(1, 4, n)[::5]  # chains of gaps below the tolerance
    event = (rng.random(n) < 0.6).astype(float)
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 3, n) == 1])
    strata = rng.integers(0, 3, n)
    rows = StreamedRows(x, time, event, strata, chunk)
    (ours,) = fit_cox_aggregated([rows.model(("m", [0, 1]), ["a", "b"])], rows.scan, "efron")
    theirs = fit_cox(x, time, event, ["a", "b"], strata=rows.stratum)
    assert_close(ours.fit.coef, theirs.coef, rtol=1e-10)
    assert_close(ours.fit.var, theirs.var, rtol=1e-10)
    assert_close(ours.fit.loglik, theirs.loglik, rtol=1e-12)
    zph = cox_zph(theirs, x, time, event, rows.stratum)
    assert_close(rows.zph(ours).chisq, zph.chisq, rtol=1e-9)


def test_streamed_rows_out_of_time_order_are_refused():
    rows = StreamedRows(np.arange(6.0)[:, None], np.arange(1.0, 7.0), np.ones(6))
    model = rows.model(("m", [0]), ["x"])
    evaluation = stream.StreamedCox(model, np.zeros(1), np.zeros(1), True, 3.5)
    with pytest.raises(RuntimeError, match="decreasing time"):
        evaluation.add(stream.StreamRows(np.zeros(6, dtype=int), np.arange(1.0, 7.0),
                                         np.ones(6, dtype=bool), np.zeros((6, 1))))
