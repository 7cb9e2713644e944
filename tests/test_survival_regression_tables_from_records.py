"""Each table of the cox, logistic and survival analyses is its section's records, rendered.

One source of truth, as gtsummary renders from the cards ARD: every table is rebuilt by the
analysis's ``tables_from_records`` from the section's records alone — after a round trip
through ``Result.as_dict()``, as they stand in ``results.json`` — plus the layout options,
and must equal the table the section shows, cell for cell, footnote for footnote.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from cohortpress.api.blocks import Table
from cohortpress.api.results import Result
from cohortpress.api.sections import SectionContext
from cohortpress.testing import run_analysis

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted(ROOT.glob("sample_reports/*/report.toml"))
#: Competing-risks cohorts from R's data sets (text and numeric causes, a cause never seen
#: in one group, estimates without variance).
COMPETING = sorted(ROOT.glob("tests/data/e2e/cr_*.toml"))
ANALYSES = ("cox", "logistic", "survival")


def round_trip(results) -> list[Result]:
    """The records as a reader of ``results.json`` gets them back."""
    return [Result(**record.as_dict()) for record in results]


def rebuilt_tables(analysis, records, options, context) -> tuple[Table, ...]:
    module = importlib.import_module(analysis.run.__module__)
    return tuple(module.tables_from_records(round_trip(records), options, context))


def shown_tables(section) -> tuple[Table, ...]:
    return tuple(block for block in section.blocks if isinstance(block, Table))


def assert_rebuilt(analysis, section, options, context) -> None:
    shown = shown_tables(section)
    assert shown, f"section {section.id} shows no table"
    rebuilt = rebuilt_tables(analysis, section.results, options, context)
    assert len(rebuilt) == len(shown)
    for ours, theirs in zip(rebuilt, shown):
        assert ours.caption == theirs.caption
        assert ours.header == theirs.header
        assert ours.body == theirs.body
        assert ours.footnotes == theirs.footnotes
        assert ours == theirs


DEMO_CASES = {
    "cox": {"endpoint": "os", "covariates": ["arm", "age", "stage", "ldh", "sex"]},
    "cox-strata-breslow": {"endpoint": "os", "covariates": ["arm", "age"], "strata": "sex",
                           "ties": "breslow", "ph_check": "footnote", "conf_level": 0.9,
                           "digits": 3, "caption": "Hazards."},
    "cox-univariable-only": {"endpoint": "os", "covariates": ["stage"],
                             "multivariable": False, "ph_check": "none"},
    "cox-single-covariate": {"endpoint": "os", "covariates": ["stage"], "univariable": False},
    "logistic": {"outcome": "sex", "covariates": ["arm", "age", "stage", "ldh"]},
    "logistic-firth-wald": {"outcome": "sex", "covariates": ["arm", "stage"], "firth": True,
                            "ci": "wald", "conf_level": 0.9, "digits": 3},
    "logistic-multivariable-only": {"outcome": "arm", "covariates": ["sex", "ldh"],
                                    "univariable": False, "caption": "Odds."},
    "survival": {"endpoints": ["os"], "landmarks": [5, 1, 3], "figure": False},
    "survival-pairwise": {"endpoints": ["os"], "by": "stage", "pairwise": True,
                          "adjust": "BH", "landmarks": [2], "estimate": "se",
                          "conf_type": "log-log", "caption": "By stage.", "figure": False},
    "survival-trend-strata": {"endpoints": ["os"], "by": "stage", "test": "trend",
                              "strata": "sex", "median": False, "followup": False,
                              "figure": False},
    "survival-no-test": {"endpoints": ["os"], "by": "sex", "test": "none", "overall": False,
                         "conf_type": "plain", "conf_level": 0.9, "time_digits": 2,
                         "landmarks": [4], "figure": False},
}


@pytest.mark.parametrize("case", sorted(DEMO_CASES))
def test_demo_cohort_tables_are_their_records(case):
    from cohortpress.app.plugins import make_plugins

    name = case.split("-")[0]
    analysis = make_plugins(entry_points=False).analysis(name)
    options = analysis.options.model_validate(DEMO_CASES[case])
    section = run_analysis(analysis, options)
    assert_rebuilt(analysis, section, options, SectionContext(id="test", title="test"))


@pytest.fixture(scope="module", params=SAMPLES + COMPETING,
                ids=[p.parent.name for p in SAMPLES] + [p.stem for p in COMPETING])
def sample(request):
    from cohortpress.app.build import load_cohort, plan_build

    plan = plan_build(request.param)
    return plan, load_cohort(plan)


def test_sample_tables_are_their_records(sample):
    from cohortpress.app.run import run_section

    plan, cohort = sample
    checked = 0
    for planned in plan.sections:
        if planned.analysis.name not in ANALYSES:
            continue
        section = run_section(planned, cohort, plan.config, timeout=600)
        assert not section.failed, section.blocks
        context = SectionContext(id=section.id, title=section.title,
                                 p_digits=plan.config.report.p_digits,
                                 percent_digits=plan.config.report.percent_digits)
        assert_rebuilt(planned.analysis, section, planned.options, context)
        checked += 1
    assert checked


def test_a_competing_cause_record_changed_changes_its_column_group():
    from cohortpress.app.build import load_cohort, plan_build
    from cohortpress.app.run import run_section

    plan = plan_build(ROOT / "tests/data/e2e/cr_pbc.toml")
    (planned,) = plan.sections
    section = run_section(planned, load_cohort(plan), plan.config, timeout=600)
    records = [Result(**{**r.as_dict(), "formatted": "77.7 (1.0\u201399.0)"})
               if r.context == "cuminc.cause2" and r.stat_name == "estimate"
               and r.variable_level == 3000.0 and r.group_level is None else r
               for r in section.results]
    context = SectionContext(id="test", title="test")
    # three landmarks: each cause has a table of its own, the transplant's the second
    _, table = rebuilt_tables(planned.analysis, records, planned.options, context)
    overall = next(row for row in table.body if row.role == "total")
    assert overall.cells[-2].text == "77.7 (1.0\u201399.0)"  # the transplant's 3000-day
    assert table != shown_tables(section)[1]


def test_a_record_changed_changes_the_table():
    """The rebuilt table reads the records, not something else: change one, see it."""
    from cohortpress.app.plugins import make_plugins

    analysis = make_plugins(entry_points=False).analysis("cox")
    options = analysis.options.model_validate(DEMO_CASES["cox"])
    section = run_analysis(analysis, options)
    records = [Result(**{**r.as_dict(), "formatted": "9.99 (1.00\u20139.99)"})
               if r.stat_name == "hr" and r.variable == "age" else r for r in section.results]
    context = SectionContext(id="test", title="test")
    (table,) = rebuilt_tables(analysis, records, options, context)
    assert "9.99 (1.00\u20139.99)" in [c.text for row in table.body for c in row.cells]
    assert table != shown_tables(section)[0]


def test_the_kits_regression_table_builds_from_model_columns_through_records():
    """A plugin author's ``RegressionTable`` of hand-made columns goes through the records
    as well: the texts, the flags and their marks, the n row."""
    from cohortpress.api.blocks import Footnote
    from cohortpress.kit import ModelColumn, RegressionTable, Term
    from cohortpress.kit.regression import Estimate

    age = Term("age", "Age, years", "continuous", ("age",))
    stage = Term("stage", "Stage", "categorical", ("stage=II", "stage=III"), ("I", "II", "III"),
                 "I")
    univariable = ModelColumn(
        "Univariable", term_tests={"stage": (0.0312, "Likelihood-ratio test")},
        n={"age": (100, 40), "stage": (98, 39)},
        estimates={"age": Estimate("age", 0.1, 0.05, 2.0, 0.045, 1.105, 1.002, 1.219),
                   "stage=II": Estimate("stage=II", -0.7, 0.3, -2.0, 0.05, 0.5, 0.25, 1.0),
                   "stage=III": Estimate("stage=III", 0.7, 0.1, 7.0, 1e-5, 2.0, 1.5, 2.5)})
    multivariable = ModelColumn(
        "Multivariable", flags={"stage": "separation"}, n={"age": (98, 39), "stage": (98, 39)},
        estimates={"age": Estimate("age", 0.18, 0.04, 4.5, 0.2, 1.2, 1.1, 1.3)})
    table = RegressionTable([age, stage], [univariable, multivariable], ratio_name="HR",
                            conf_level=0.95, context=SectionContext("t", "t"))
    assert [[c.text for c in row.cells] for row in table.body()] == [
        ["Age, years", "1.11 (1.00\u20131.22)", "0.045", "1.20 (1.10\u20131.30)", "0.200"],
        ["Stage", "", "0.031", "not estimable", ""],
        ["I", "1 (reference)", "", "", ""],
        ["II", "0.50 (0.25\u20131.00)", "0.050", "", ""],
        ["III", "2.00 (1.50\u20132.50)", "<0.001", "", ""],
        ["Patients (events)", "98\u2013100 per model", "", "98 (39)", ""],
    ]
    assert [c.text for c in table.header()[1].cells] == ["HR (95% CI)", "p-value"] * 2
    assert table.footnotes() == [Footnote("Likelihood-ratio test.", "a"),
                                 Footnote("separation.", "b")]
    # ten records per estimate (log and exponentiated scales) and one record of the scales
    assert len(table.results) == 4 * 10 + 1 and len(table.term_records()) == 10
