"""Spline and interaction terms of the logistic analysis against R's glm.

R: tests/fixtures/r/logistic_terms.R on survival's pbc (tests/data/r_cohorts/pbc_logistic):
glm(binomial) with ns(bili, df = 3) and age:sex, coefficients and standard errors in
model.matrix order, each term's likelihood-ratio test, the spline's test of non-linearity,
and the univariable spline model. Tolerance 1e-6 relative.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from cohortpress.testing import build_report

HERE = Path(__file__).parent
R = json.loads((HERE / "fixtures" / "logistic_terms.json").read_text())
CONFIG = HERE / "data" / "r_cohorts" / "pbc_logistic.toml"


def close(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=1e-6,
                               atol=1e-12)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    document = tomllib.loads(CONFIG.read_text())
    document["cohort"]["path"] = str(CONFIG.parent / document["cohort"]["path"])
    document["section"] = [{"id": "logit", "analysis": "logistic", "outcome": "dead",
                            "covariates": ["bili", "age", "sex", "edema"],
                            "splines": ["bili"], "spline_df": 3, "ci": "wald",
                            "interactions": [["age", "sex"]]}]
    report = build_report(document, tmp_path_factory.mktemp("logit"))
    assert report.exit_code == 0, report.error
    return report


def test_multivariable_coefficients_match_glm(built):
    rows = built.results(section="logit", group_level="multivariable")
    estimate = [r["stat"] for r in rows if r["stat_name"] == "estimate"]
    se = [r["stat"] for r in rows if r["stat_name"] == "std.error"]
    # the intercept's records come after the terms'
    close(estimate[-1:] + estimate[:-1], R["coef"])
    close(se[-1:] + se[:-1], R["se"])


def test_term_tests_match_anova_of_nested_glms(built):
    for term in R["terms"]:
        got = {r["stat_name"]: r["stat"] for r in built.results(
            section="logit", variable=term["variable"], group_level="multivariable")}
        close([got["statistic.term"], got["df.term"], got["p.value.term"]],
              [term["lr"]["statistic"], term["lr"]["df"], term["lr"]["p"]])
        if "nonlinear" in term:
            close([got["statistic.nonlinear"], got["df.nonlinear"], got["p.value.nonlinear"]],
                  [term["nonlinear"]["statistic"], term["nonlinear"]["df"],
                   term["nonlinear"]["p"]])


def test_the_univariable_spline_model_matches_glm(built):
    model = R["univariable"][0]
    got = {}
    for r in built.results(section="logit", variable="bili", group_level="univariable"):
        got.setdefault(r["stat_name"], []).append(r["stat"])
    close(got["estimate"], model["coef"])
    close(got["statistic.term"], [model["lr"]["statistic"]])
    close(got["statistic.nonlinear"], [model["nonlinear"]["statistic"]])


def test_the_table_and_methods_name_the_terms(built):
    text = " ".join(built.pdf_text().split())
    assert "Bilirubin (natural spline, 3 df)" in text
    assert "Age \u00d7 Sex: f" in text
    assert "entered as a natural cubic spline with 3 degrees" in text
