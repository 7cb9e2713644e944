"""The demographics analysis with weights, a difference column and strata, against R.

R: tests/fixtures/r/weighted_table1.R on survival's pbc with inverse-probability-of-treatment
weights (tests/data/r_cohorts/pbc_iptw.csv): the weighted balance table's counts,
percentages, means, SDs, quantiles and SMDs (survey, tableone's formulas), its Rao–Scott and
design-based t tests, and the unweighted difference column (t.test, prop.test(correct =
FALSE)). Tolerance 1e-6 relative. Then the stratified table, the tables rebuilt from the
records as results.json holds them, and the lines a bad config gets.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from cohortpress.api.blocks import Table
from cohortpress.api.results import Result
from cohortpress.api.sections import SectionContext
from cohortpress.common.errors import DataError
from cohortpress.plugins import demographics
from cohortpress.testing import load_demo_cohort, run_analysis

HERE = Path(__file__).parent
CONFIG = HERE / "data" / "r_cohorts" / "pbc_iptw.toml"
FIXTURE = json.loads((HERE / "fixtures" / "weighted_table1.json").read_text())
GROUPS = FIXTURE["groups"]
VARIABLES = ["age", "sex", "albumin", "bili", "copper", "edema", "stage", "hepato"]
RTOL = 1e-6


@pytest.fixture(scope="module")
def cohort():
    return load_demo_cohort(CONFIG)


@pytest.fixture(scope="module")
def weighted(cohort):
    return run_analysis("demographics", {"variables": VARIABLES, "weights": "iptw",
                                         "smd": True, "overall": True}, cohort)


def stat(section, **fields):
    found = [r for r in section.results
             if all(getattr(r, k) == v for k, v in fields.items())]
    assert len(found) == 1, (fields, found)
    return found[0].stat


def close(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=RTOL,
                               atol=0)


@pytest.mark.parametrize("case", FIXTURE["weighted_continuous"], ids=lambda c: c["variable"])
def test_weighted_continuous_rows_match_survey(weighted, case):
    for group, expected in zip(GROUPS, case["groups"]):
        where = dict(context="continuous", variable=case["variable"], group_level=group)
        close([stat(weighted, stat_name="mean", **where), stat(weighted, stat_name="sd",
                                                               **where) ** 2,
               stat(weighted, stat_name="p25", **where),
               stat(weighted, stat_name="median", **where),
               stat(weighted, stat_name="p75", **where)],
              [expected[k] for k in ("mean", "var", "p25", "median", "p75")])
    overall = dict(context="continuous", variable=case["variable"], group_level=None)
    close(stat(weighted, stat_name="mean", **overall), case["overall"]["mean"])
    close(stat(weighted, context="test", stat_name="smd", variable=case["variable"]),
          case["smd"])
    test = dict(context="test", variable=case["variable"], group="trt")
    assert stat(weighted, stat_name="method", **test) == "Design-based t-test"
    close(stat(weighted, stat_name="p.value", **test), case["svyttest"]["p_value"])


@pytest.mark.parametrize("case", FIXTURE["weighted_categorical"], ids=lambda c: c["variable"])
def test_weighted_categorical_rows_match_survey(weighted, case):
    shown = {"sex": ["f"], "hepato": ["yes"]}.get(case["variable"], case["levels"])
    for k, level in enumerate(case["levels"]):
        if level not in shown:
            continue
        for j, group in enumerate(GROUPS):
            where = dict(context="categorical", variable=case["variable"],
                         variable_level=level, group_level=group)
            close(stat(weighted, stat_name="n", **where), case["counts"][k][j])
            close(stat(weighted, stat_name="p", **where), case["percent"][k][j] / 100)
    close(stat(weighted, context="test", stat_name="smd", variable=case["variable"]),
          case["smd"])
    test = dict(context="test", variable=case["variable"], group="trt")
    assert "Rao & Scott" in stat(weighted, stat_name="method", **test)
    close([stat(weighted, stat_name="statistic", **test),
           stat(weighted, stat_name="p.value", **test)],
          [case["svychisq"]["statistic"], case["svychisq"]["p_value"]])


def test_weighted_table_says_so_and_rounds_sums_of_weights(weighted):
    table = next(b for b in weighted.blocks if isinstance(b, Table))
    notes = " ".join(note.text for note in table.footnotes)
    assert "Weighted by IPT weight" in notes and "design-based" in notes
    hepato = next(row for row in table.as_rows() if row[0].strip() == "Hepatomegaly")
    counts = FIXTURE["weighted_categorical"][3]["counts"][1]
    assert hepato[1].startswith(f"{round(counts[0])} (")
    assert any("weighted by IPT weight" in m for m in weighted.methods)


@pytest.mark.parametrize("case", FIXTURE["unweighted"]["continuous"][:3],
                         ids=lambda c: c["variable"])
def test_difference_column_matches_welch(cohort, case):
    section = run_analysis("demographics", {"variables": [case["variable"]],
                                            "add_difference": True}, cohort)
    where = dict(context="difference", variable=case["variable"], group="trt")
    close([stat(section, stat_name=s, **where) for s in ("estimate", "conf.low", "conf.high")],
          [case["estimate"], case["conf_low"], case["conf_high"]])
    assert "Welch" in stat(section, stat_name="method", **where)


@pytest.mark.parametrize("case", FIXTURE["unweighted"]["binary"], ids=lambda c: c["variable"])
def test_difference_column_matches_prop_test(cohort, case):
    section = run_analysis("demographics", {"variables": [case["variable"]],
                                            "add_difference": True}, cohort)
    where = dict(context="difference", variable=case["variable"], group="trt")
    close([stat(section, stat_name=s, **where) for s in ("estimate", "conf.low", "conf.high")],
          [case["estimate"], case["conf_low"], case["conf_high"]])
    table = next(b for b in section.blocks if isinstance(b, Table))
    assert table.header[0].cells[-1].text == "Difference (95% CI)"
    assert any("Wald interval" in note.text for note in table.footnotes)


def test_categorical_difference_is_its_smd(cohort):
    section = run_analysis("demographics", {"variables": ["edema"], "add_difference": True},
                           cohort)
    case = next(c for c in FIXTURE["unweighted"]["categorical"] if c["variable"] == "edema")
    close(stat(section, context="difference", stat_name="estimate", variable="edema"),
          case["smd"])


def test_weighted_difference_is_svyttest(cohort):
    section = run_analysis("demographics", {"variables": ["bili"], "weights": "iptw",
                                            "add_difference": True}, cohort)
    expected = next(c for c in FIXTURE["weighted_continuous"]
                    if c["variable"] == "bili")["svyttest"]
    where = dict(context="difference", variable="bili", group="trt")
    # R: placebo minus D-penicillamine; the table: the first group minus the second.
    close([stat(section, stat_name="estimate", **where),
           stat(section, stat_name="conf.high", **where)],
          [-expected["estimate"], -expected["conf_low"]])


def read_back(results) -> list[Result]:
    text = json.dumps([record.as_dict() for record in results], allow_nan=False)
    return [Result(**fields) for fields in json.loads(text)]


@pytest.mark.parametrize("options", [
    {"variables": VARIABLES, "weights": "iptw", "smd": True, "overall": True},
    {"variables": ["age", "sex", "edema"], "add_difference": True, "weights": "iptw"},
    {"variables": ["age", "sex", "edema"], "add_difference": True},
], ids=["weighted", "weighted-difference", "difference"])
def test_tables_are_rebuilt_from_the_records(cohort, options):
    section = run_analysis("demographics", options, cohort)
    parsed = demographics.DemographicsOptions.model_validate(options)
    context = SectionContext(id="test", title="test", p_digits=3, percent_digits=0)
    again = demographics.tables_from_records(read_back(section.results),
                                             demographics.layout(cohort, parsed, context))
    assert again == [b for b in section.blocks if isinstance(b, Table)]


@pytest.mark.parametrize("layout", ["side", "stacked"])
def test_stratified_table_has_one_table_per_stratum(cohort, layout):
    options = {"variables": ["age", "edema", "hepato"], "strata": "sex",
               "strata_layout": layout}
    section = run_analysis("demographics", options, cohort)
    table = next(b for b in section.blocks if isinstance(b, Table))
    sizes = {r.variable_level: r.stat for r in section.results
             if r.context == "strata" and r.stat_name == "N"}
    assert sizes == {"m": int((cohort.values("sex") == "m").sum()),
                     "f": int((cohort.values("sex") == "f").sum())}
    strata = {r.strata_level for r in section.results if r.context == "test"}
    assert strata == {"m", "f"}
    assert section.methods[0] == ("Characteristics were described and compared within each "
                                  "level of female sex separately.")
    text = "\n".join(" | ".join(row) for row in table.as_rows())
    assert f"Female sex: m (N = {sizes['m']})" in text
    if layout == "side":
        assert len(table.header) == 2 and len(table.header[1].cells) == 1 + 2 * 3
    else:
        # per stratum: its heading, age (2 rows), oedema (1 + 3 levels), hepatomegaly
        assert len(table.header) == 1 and len(table.body) == 2 * (1 + 2 + 4 + 1)
    # The same per stratum as a table of that stratum's patients alone.
    males = cohort.subset((cohort.values("sex") == "m").to_numpy(), "")
    alone = run_analysis("demographics", {"variables": ["age"]}, males)
    assert stat(alone, context="test", stat_name="p.value", variable="age") == \
        stat(section, context="test", stat_name="p.value", variable="age", strata_level="m")
    parsed = demographics.DemographicsOptions.model_validate(options)
    context = SectionContext(id="test", title="test", p_digits=3, percent_digits=0)
    again = demographics.stratified_tables_from_records(
        read_back(section.results), demographics.layout(cohort, parsed, context),
        cohort.label("sex"), layout)
    assert again == [table]


def with_weight(cohort, row: int, value: float):
    data = cohort.data.copy()
    data.loc[row, "iptw"] = value
    return dataclasses.replace(cohort, data=data)


@pytest.mark.parametrize("value, words", [(-1.0, "1 row has a negative weight (P00"),
                                          (np.nan, "1 row has a missing weight (P00")])
def test_bad_weights_are_one_line_naming_the_column(cohort, value, words):
    with pytest.raises(DataError, match=r"weights column 'iptw': " + re.escape(words)):
        run_analysis("demographics", {"variables": ["age"], "weights": "iptw"},
                     with_weight(cohort, 4, value))


@pytest.mark.parametrize("options, words", [
    ({"variables": [{"variable": "age", "test": "wilcoxon"}], "weights": "iptw"},
     "test 'wilcoxon' is not design-based"),
    ({"variables": ["age"], "by": "stage", "add_difference": True},
     "add_difference compares two groups; 'stage' has 4"),
    ({"variables": ["age"], "strata": "trt"}, "strata 'trt' is the grouping variable"),
    ({"variables": ["age"], "strata": "age"}, "strata variable 'age' must be categorical"),
    ({"variables": ["age"], "weights": "iptw", "tests": "gtsummary"},
     "tests = 'gtsummary' chooses unweighted tests"),
])
def test_what_a_table_refuses(cohort, options, words):
    parsed = demographics.DemographicsOptions.model_validate(options)
    with pytest.raises(DataError, match=re.escape(words)):
        parsed.check_data(cohort)
    with pytest.raises(DataError, match=re.escape(words)):
        run_analysis("demographics", options, cohort)


def test_keys_that_do_not_apply():
    options = demographics.DemographicsOptions.model_validate(
        {"variables": ["age"], "strata_layout": "stacked"})
    assert options.inapplicable_keys(None) == [
        ("strata_layout", "applies to a stratified table; strata is not set")]
    options = demographics.DemographicsOptions.model_validate(
        {"variables": ["age"], "weights": "iptw", "quantile_type": 2})
    assert [key for key, _ in options.inapplicable_keys(None)] == ["quantile_type"]



def test_weights_under_the_disclosure_rule_are_refused_by_key():
    """The rule releases counts of patients; sums of weights would leave unreleased."""
    from types import SimpleNamespace

    from cohortpress.plugins.demographics import DemographicsOptions

    options = DemographicsOptions.model_validate({"variables": ["age"], "weights": "w"})
    assert options.inapplicable_keys(SimpleNamespace(disclosure=None)) == []
    found = options.inapplicable_keys(SimpleNamespace(disclosure=object()))
    assert [key for key, _ in found] == ["weights"]
    assert "[disclosure]" in found[0][1]
    unweighted = DemographicsOptions.model_validate({"variables": ["age"]})
    assert unweighted.inapplicable_keys(SimpleNamespace(disclosure=object())) == []
