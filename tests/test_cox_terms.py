"""Spline and interaction terms of the Cox analysis, and univariable concordance, against R.

R: tests/fixtures/r/cox_terms.R on survival's lung, veteran, pbc and colon: splines::ns
bases (knots, values inside and outside the range), coxph fits with ns() terms and a:b
interactions (coefficients and standard errors in model.matrix order), each term's
likelihood-ratio and Wald tests, each spline's test of non-linearity, and the univariable
models' tests and concordance(fit). Whole builds through the cox analysis are compared:
records, the table's rows and footnotes, the methods text. Tolerance 1e-6 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohortpress.stats.splines import natural_spline
from cohortpress.testing import build_report

HERE = Path(__file__).parent
FIXTURE = json.loads((HERE / "fixtures" / "cox_terms.json").read_text())
COHORTS = HERE / "data" / "r_cohorts"
RTOL = 1e-6


def close(ours, theirs, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=rtol,
                               atol=1e-12)


@pytest.mark.parametrize("case", FIXTURE["bases"], ids=lambda c: f"df{c['df']}")
def test_natural_spline_basis_matches_splines_ns(case):
    basis = natural_spline(case["x"], case["df"])
    close(basis.knots, case["knots"] if case["df"] > 1 else [])
    close(basis.boundary_knots, case["boundary"])
    close(basis.basis(case["x"]), np.reshape(case["values"], (len(case["x"]), case["df"])))
    # predict(ns(...), newx): linear beyond the boundary knots
    close(basis.basis(case["at"]), np.reshape(case["at_values"], (len(case["at"]), case["df"])))


def test_a_spline_of_too_few_values_is_refused():
    from cohortpress.common.errors import StatisticsError

    with pytest.raises(StatisticsError, match="knots coincide"):
        natural_spline([1, 1, 1, 1, 2], 4)


LUNG = {"variables": {"age": {"label": "Age", "kind": "continuous"},
                      "sex": {"label": "Sex", "levels": ["m", "f"]},
                      "ecog": {"label": "ECOG", "levels": ["E0", "E1", "E2+"]},
                      "inst": {"kind": "text"}},
        "path": "lung.csv"}
VETERAN = {"variables": {"karno": {"label": "Karnofsky score", "kind": "continuous"},
                         "age": {"kind": "continuous"},
                         "trt": {"label": "Treatment", "levels": ["standard", "test"]},
                         "celltype": {"label": "Cell type",
                                      "levels": ["squamous", "smallcell", "adeno", "large"]}},
           "path": "veteran.csv"}
PBC = {"variables": {"bili": {"label": "Bilirubin", "kind": "continuous"},
                     "age": {"label": "Age", "kind": "continuous"},
                     "edema": {"label": "Oedema", "levels": ["no", "yes"]},
                     "sex": {"levels": ["m", "f"]}},
       "path": "pbc_cox.csv"}
COLON = {"variables": {"rx": {"label": "Treatment", "levels": ["Obs", "Lev", "Lev5FU"]},
                       "sex": {"label": "Sex", "levels": ["female", "male"]},
                       "age": {"label": "Age", "kind": "continuous"}},
         "path": "colon_cox.csv"}

#: fixture case -> (cohort, the section's options)
CASES = {
    "lung": (LUNG, dict(covariates=["age", "sex", "ecog"], splines=["age"], spline_df=3,
                        interactions=[["sex", "ecog"]])),
    "lung_age_sex": (LUNG, dict(covariates=["age", "sex"], interactions=[["age", "sex"]])),
    "veteran": (VETERAN, dict(covariates=["karno", "trt", "celltype"], splines=["karno"],
                              interactions=[["trt", "celltype"]])),
    "pbc": (PBC, dict(covariates=["bili", "age", "edema"], splines=["bili"],
                      interactions=[["age", "edema"]])),
    "colon": (COLON, dict(covariates=["rx", "sex", "age"], interactions=[["rx", "sex"]])),
}


def _config(cohort, options):
    return {"report": {"title": "Terms"},
            "cohort": {"path": str(COHORTS / cohort["path"]), "id": "id"},
            "variables": cohort["variables"],
            "endpoints": {"os": {"label": "Overall survival", "time": "time",
                                 "time_unit": "days", "event": "dead"}},
            "section": [{"id": "cox", "analysis": "cox", "endpoint": "os",
                         "ph_check": "none", **options}]}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = {}
    for name, (cohort, options) in CASES.items():
        report = build_report(_config(cohort, options), tmp_path_factory.mktemp(name))
        assert report.exit_code == 0, report.error
        out[name] = report
    return out


def _stats(report, stat_name, level):
    return [r for r in report.results(section="cox", stat_name=stat_name, group="model",
                                      group_level=level)]


@pytest.mark.parametrize("name", list(CASES))
def test_multivariable_coefficients_match_coxph(built, name):
    r = FIXTURE["cases"][name]["fit"]
    report = built[name]
    close([x["stat"] for x in _stats(report, "estimate", "multivariable")], r["coef"])
    close([x["stat"] for x in _stats(report, "std.error", "multivariable")], r["se"])
    loglik = report.results(section="cox", stat_name="loglik", group_level="multivariable")
    close([loglik[0]["stat"]], [r["loglik"]])


@pytest.mark.parametrize("name", list(CASES))
def test_term_tests_match_r(built, name):
    """Each spline and interaction: the LR test of dropping it (drop1), and a spline's
    LR test against its covariate's linear term."""
    report = built[name]
    for term in FIXTURE["cases"][name]["terms"]:
        variable = term["variable"]
        assert variable in _variables(report)
        got = {x["stat_name"]: x["stat"] for x in report.results(
            section="cox", variable=variable, group_level="multivariable")}
        close([got["statistic.term"], got["df.term"], got["p.value.term"]],
              [term["lr"]["statistic"], term["lr"]["df"], term["lr"]["p"]])
        assert got["method.term"] == "Likelihood-ratio test"
        if "nonlinear" in term:
            close([got["statistic.nonlinear"], got["df.nonlinear"], got["p.value.nonlinear"]],
                  [term["nonlinear"]["statistic"], term["nonlinear"]["df"],
                   term["nonlinear"]["p"]])


def _variables(report):
    return {x["variable"] for x in report.results(section="cox", stat_name="label")}


@pytest.mark.parametrize("name", list(CASES))
def test_univariable_models_and_their_concordance_match_r(built, name):
    report = built[name]
    for model in FIXTURE["cases"][name]["univariable"]:
        variable = model["variable"]
        got = [x["stat"] for x in report.results(section="cox", stat_name="estimate",
                                                   variable=variable,
                                                   group_level="univariable")]
        close(got, np.atleast_1d(model["coef"]))
        conc = {x["stat_name"]: x["stat"] for x in report.results(
            section="cox", variable="os", variable_level=variable, group_level="univariable")}
        close([conc["concordance"], conc["concordance.std.error"]],
              [model["concordance"], model["concordance_se"]])
        tests = {x["stat_name"]: x["stat"] for x in report.results(
            section="cox", variable=variable, group_level="univariable")}
        if "statistic.term" in tests:
            close([tests["statistic.term"], tests["df.term"]],
                  [model["lr"]["statistic"], model["lr"]["df"]])
        if "nonlinear" in model:
            close([tests["statistic.nonlinear"], tests["p.value.nonlinear"]],
                  [model["nonlinear"]["statistic"], model["nonlinear"]["p"]])


def test_wald_tests_of_the_terms_match_r():
    """The design build_design makes (R's model.matrix order) fitted directly, and the
    Wald test of each spline and interaction on its columns."""
    from cohortpress.app.build import load_cohort, plan_build
    from cohortpress.kit.design import build_design
    from cohortpress.stats.coxph import fit_cox, wald_test_terms

    import tempfile

    for name in ("lung", "veteran", "pbc", "colon"):
        cohort_spec, options = CASES[name]
        with tempfile.TemporaryDirectory() as folder:
            from cohortpress.testing.report import dump_toml

            path = Path(folder) / "report.toml"
            path.write_text(dump_toml(_config(cohort_spec, options)))
            cohort = load_cohort(plan_build(path))
        design = build_design(cohort, options["covariates"],
                              splines={v: options.get("spline_df", 4)
                                       for v in options.get("splines", [])},
                              interactions=options["interactions"])
        endpoint = cohort.endpoint("os")
        fit = fit_cox(design.X, endpoint.time, endpoint.event, design.names, "efron")
        r = FIXTURE["cases"][name]
        close(fit.coef, r["fit"]["coef"])
        for term, expected in zip([t for t in design.terms if t.kind in
                                   ("spline", "interaction")], r["terms"]):
            test = wald_test_terms(fit, term.columns)
            close([test.statistic, test.df, test.p_value],
                  [expected["wald"]["statistic"], expected["wald"]["df"],
                   expected["wald"]["p"]])


def test_the_table_shows_one_row_per_spline_and_the_interaction_rows(built):
    text = built["lung"].pdf_text()
    assert "Age (natural spline, 3 df)" in text
    assert "Sex \u00d7 ECOG" in text
    assert "natural cubic spline as R's splines::ns" in text
    assert "test of non-linearity" in text
    assert "interaction terms" in text
    # no hazard ratio of a single spline column is printed
    table = [b for s in built["lung"].sections for b in s.blocks
             if type(b).__name__ == "Table"][0]
    labels = [row.cells[0].text for row in table.body]
    assert labels[0] == "Age (natural spline, 3 df)"
    assert table.body[0].cells[1].text == "" and table.body[0].cells[3].text == ""
    assert "f \u00d7 E1" in labels and "f \u00d7 E2+" in labels
    single = [b for s in built["lung_age_sex"].sections for b in s.blocks
              if type(b).__name__ == "Table"][0]
    assert "Age \u00d7 Sex: f" in [row.cells[0].text for row in single.body]


def test_methods_describe_splines_interactions_and_univariable_concordance(built):
    text = " ".join(built["lung"].pdf_text().split())
    assert "The continuous covariate age entered as a natural cubic spline with 3 degrees" \
        in text
    assert "included the interaction sex \u00d7 ECOG" in text
    assert "of each univariable model and the model of all covariates" in text


@pytest.mark.parametrize("options, message", [
    (dict(covariates=["age", "sex"], splines=["ecog"]), "splines[0]"),
    (dict(covariates=["age", "sex"], interactions=[["age", "ecog"]]), "interactions[0]"),
    (dict(covariates=["age", "sex"], interactions=[["age", "age"]]), "two different"),
    (dict(covariates=["age", "sex"], interactions=[["age", "sex"]], multivariable=False),
     "multivariable = false"),
    (dict(covariates=["age", "sex"], splines=["age"], interactions=[["age", "sex"]]),
     "spline"),
    (dict(covariates=["age", "sex"], spline_df=3), "spline_df"),
    (dict(covariates=["age", "sex"], splines=["sex"]), "natural spline needs a continuous"),
])
def test_term_options_that_cannot_apply_are_one_clear_error(tmp_path, options, message):
    report = build_report(_config(LUNG, options), tmp_path)
    assert report.exit_code == 2
    assert message in report.error
    assert "Traceback" not in report.error


def test_clustered_spline_tests_are_robust_wald_tests_as_r(tmp_path):
    """With cluster = inst the spline and its non-linearity are tested by the robust Wald
    test (the LR test assumes independent rows)."""
    options = dict(covariates=["age", "sex"], splines=["age"], spline_df=3, cluster="inst",
                   univariable=False)
    report = build_report(_config(LUNG, options), tmp_path)
    assert report.exit_code == 0, report.error
    r = FIXTURE["cases"]["lung_cluster"]
    close([x["stat"] for x in _stats(report, "std.error", "multivariable")], r["fit"]["se"])
    got = {x["stat_name"]: x["stat"] for x in report.results(
        section="cox", variable="age", group_level="multivariable")}
    term = r["terms"][0]
    close([got["statistic.term"], got["df.term"], got["p.value.term"]],
          [term["wald"]["statistic"], term["wald"]["df"], term["wald"]["p"]])
    close([got["statistic.nonlinear"], got["df.nonlinear"], got["p.value.nonlinear"]],
          [term["nonlinear_wald"]["statistic"], term["nonlinear_wald"]["df"],
           term["nonlinear_wald"]["p"]])
    assert got["method.nonlinear"] == "Wald test (robust variance)"
    methods = " ".join(report.pdf_text().split())
    assert "against a linear term (non-linearity) by Wald tests" in methods


def test_tables_and_forest_are_rebuilt_from_the_records_alone(built):
    """The splines' and interactions' rows and footnotes come from the records: rebuilt
    from results.json's form, the table is the one the section shows."""
    from cohortpress.api.blocks import Table
    from cohortpress.api.results import Result
    from cohortpress.api.sections import SectionContext
    from cohortpress.plugins import cox
    from cohortpress.kit.forest import forest_rows

    for name in ("lung", "veteran", "lung_age_sex"):
        section = built[name].sections[0]
        records = [Result(**r.as_dict()) for r in section.results]
        options = cox.CoxOptions(endpoint="os", **CASES[name][1])
        rebuilt = cox.tables_from_records(records, options,
                                          SectionContext(id=section.id, title=section.title))
        assert tuple(rebuilt) == tuple(b for b in section.blocks if isinstance(b, Table))
    rows = forest_rows(records, context_name="coxph", ratio_stat="hr", model="multivariable")
    labels = [row.label for row in rows]
    assert "Age \u00d7 Sex: f" in labels


def test_the_spline_row_is_drawn_without_a_point_in_the_forest(built):
    from cohortpress.kit.forest import forest_rows

    rows = forest_rows(built["lung"].sections[0].results, context_name="coxph",
                       ratio_stat="hr", model="multivariable")
    spline = next(row for row in rows if row.label.startswith("Age (natural spline"))
    assert spline.ratio is None and spline.text == "spline: see the table"
    assert [row.label for row in rows if row.indent][-2:] == ["f \u00d7 E1", "f \u00d7 E2+"]


def test_the_spline_knots_are_recorded_as_r_places_them(built):
    knots = {x["variable_level"]: x["stat"] for x in built["veteran"].results(
        section="cox", variable="karno", stat_name="spline.knot")}
    boundary = {x["variable_level"]: x["stat"] for x in built["veteran"].results(
        section="cox", variable="karno", stat_name="spline.boundary.knot")}
    r = next(b for b in FIXTURE["bases"] if b["df"] == 4 and max(b["x"]) == 99)
    close([knots[str(j)] for j in range(1, 4)], r["knots"])
    close([boundary["lower"], boundary["upper"]], r["boundary"])


def test_the_spline_curve_matches_r_and_is_drawn_from_its_records(tmp_path):
    """spline_figure: the HR across the Karnofsky score against its median, with its
    pointwise 95% interval (R: predict(ns) differences times coef and vcov)."""
    from cohortpress.api.blocks import Figure
    from cohortpress.api.results import Result
    from cohortpress.kit.spline_curve import spline_figures

    options = dict(CASES["veteran"][1], spline_figure=True)
    report = build_report(_config(VETERAN, options), tmp_path)
    assert report.exit_code == 0, report.error
    r = FIXTURE["curve"]

    def series(name):
        rows = report.results(section="cox", variable="karno", stat_name=name)
        return [x["stat"] for x in sorted(rows, key=lambda x: int(x["variable_level"]))]

    close(series("curve.x"), r["x"])
    close(series("curve.ratio"), r["hr"])
    close(series("curve.conf.low"), r["low"])
    close(series("curve.conf.high"), r["high"])
    reference = report.results(section="cox", stat_name="curve.reference")
    assert reference[0]["stat"] == r["reference"] and \
        reference[0]["group_level"] == "multivariable"
    section = report.sections[0]
    figures = [b for b in section.blocks if isinstance(b, Figure)]
    assert len(figures) == 1 and "relative to Karnofsky score = 60" in figures[0].caption
    records = [Result(**x.as_dict()) for x in section.results]
    assert spline_figures(records, "coxph", ratio_title="Hazard ratio",
                          conf_level=0.95)[0].png == figures[0].png
    assert "pointwise Wald confidence bands" in " ".join(report.pdf_text().split())


def test_a_spline_reference_not_among_the_splines_is_refused(tmp_path):
    options = dict(covariates=["age", "sex"], splines=["age"], spline_reference={"sex": 1.0})
    report = build_report(_config(LUNG, options), tmp_path)
    assert report.exit_code == 2 and "spline_reference.sex" in report.error
