"""Issue 23, item 4: the results records say how each number was computed.

A Monte Carlo p-value is told from an exact one, with its number of tables and seed; each
model estimate has its limits on the same scale, and a record says which scale is which.
"""

from __future__ import annotations

import math

import numpy as np

from cohortpress.kit.records import Records, hypothesis_test_records
from cohortpress.stats import comparisons
from cohortpress.testing import run_analysis

#: A 4x3 table whose exact test needs more than a handful of network steps.
TABLE = np.array([[12, 5, 7], [3, 9, 4], [6, 2, 11], [8, 8, 1]])


def test_a_monte_carlo_fisher_p_is_recorded_with_its_tables_and_seed():
    result = comparisons.fisher_test(TABLE, max_steps=1, n_tables=2000, seed=7)
    records = Records(hypothesis_test_records(result, "0.01", variable="row", group="col"))
    assert records.stat(stat_name="method") == "Fisher's exact test"
    assert records.stat(stat_name="method.monte_carlo") is True
    assert records.stat(stat_name="n.tables") == 2000
    assert records.stat(stat_name="seed") == 7
    assert "2,000 simulated tables (seed 7)" in records.stat(stat_name="note")


def test_an_exact_fisher_p_has_no_monte_carlo_records():
    result = comparisons.fisher_test(TABLE[:2, :2])
    records = Records(hypothesis_test_records(result, "0.5", variable="row", group="col"))
    assert records.stat(stat_name="method") == "Fisher's exact test"
    assert records.select(stat_name="method.monte_carlo") == []
    assert records.select(stat_name="n.tables") == []


def test_a_chi_squared_test_records_its_statistic_and_df():
    result = comparisons.chisq_test(TABLE)
    records = Records(hypothesis_test_records(result, "0.01", variable="row", group="col"))
    assert records.stat(stat_name="df") == 6
    assert records.stat(stat_name="statistic") == result.statistic


def test_cox_records_put_each_estimate_beside_limits_on_its_own_scale():
    section = run_analysis("cox", {"endpoint": "os", "covariates": ["age", "sex"]})
    records = Records(section.results)
    scale = records.stat(context="coxph", stat_name="scale")
    assert scale.startswith("log: estimate, std.error, conf.low.log, conf.high.log;")
    assert "exp: estimate.exp, hr, conf.low, conf.high" in scale
    found = 0
    for estimate in records.select(context="coxph", stat_name="estimate"):
        where = dict(context="coxph", variable=estimate.variable,
                     variable_level=estimate.variable_level, group=estimate.group,
                     group_level=estimate.group_level)
        low, high = (records.stat(stat_name=s, **where) for s in ("conf.low", "conf.high"))
        log_low, log_high = (records.stat(stat_name=s, **where)
                             for s in ("conf.low.log", "conf.high.log"))
        ratio = records.stat(stat_name="estimate.exp", **where)
        assert ratio == records.stat(stat_name="hr", **where)
        assert math.isclose(ratio, math.exp(estimate.stat), rel_tol=1e-12)
        assert math.isclose(log_low, math.log(low), rel_tol=1e-12)
        assert math.isclose(log_high, math.log(high), rel_tol=1e-12)
        assert log_low < estimate.stat < log_high and low < ratio < high
        found += 1
    assert found >= 2


def test_logistic_records_say_their_scales_with_the_odds_ratio():
    section = run_analysis("logistic", {"outcome": "sex", "covariates": ["age"]})
    records = Records(section.results)
    assert "exp: estimate.exp, or, conf.low, conf.high" in \
        records.stat(context="logistic", stat_name="scale")
    estimate = records.one(context="logistic", stat_name="estimate", variable="age")
    assert math.isclose(records.stat(context="logistic", stat_name="estimate.exp",
                                     variable="age", group_level=estimate.group_level),
                        math.exp(estimate.stat), rel_tol=1e-12)
