"""Table 1 on the engine path equals Table 1 in memory, on the same cohorts.

Each cohort is loaded as a build loads it, put into DuckDB with
``engine_cohort_from_frame``, and the ``demographics`` analysis runs on both: every results
record (numbers to 1e-12 relative, texts identical), every cell and footnote of the table and
the methods sentences must agree. The option sets cover each test, the statistic strings,
quantile types, missing values, empty groups, all-missing variables and one-level variables.
"""

from __future__ import annotations

import functools
import importlib.util
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortpress.data.engine.cohort import engine_cohort_from_frame
from cohortpress.testing.run import run_analysis

# tests/engine_sections.py, loaded by path (the suite imports with --import-mode=importlib)
helpers = importlib.util.module_from_spec(spec := importlib.util.spec_from_file_location(
    "cohortpress_tests_engine_sections", Path(__file__).with_name("engine_sections.py")))
spec.loader.exec_module(helpers)

ROOT = helpers.ROOT
CONFIGS, SECTION_KEYS, cohorts = helpers.CONFIGS, helpers.SECTION_KEYS, helpers.cohorts
close, key, cells, footnotes, assert_same_sections = (
    helpers.close, helpers.key, helpers.cells, helpers.footnotes, helpers.assert_same_sections)


def assert_same(options: dict, pair) -> None:
    """The two paths give the same records, table, footnotes, methods and warnings, on the
    ``(in-memory, engine)`` ``pair`` of one cohort."""
    memory, engine = pair
    expected = run_analysis("demographics", options, memory)
    found = run_analysis("demographics", options, engine)
    assert_same_sections(found, expected)


def configured_sections():
    found = []
    for name, path in CONFIGS.items():
        if path is None:
            continue
        for section in tomllib.loads(path.read_text())["section"]:
            if section["analysis"] == "demographics" and "subset" not in section:
                options = {k: v for k, v in section.items() if k not in SECTION_KEYS}
                found.append(pytest.param(name, options, id=f"{name}-{section['id']}"))
    return found


@pytest.mark.parametrize("name, options", configured_sections())
def test_configured_sections(name, options):
    """Every demographics section of the test configs, the example and the samples."""
    assert_same(options, cohorts(name))


def variables_of(cohort, by=None) -> list[str]:
    return [v for v, info in cohort.variables.items()
            if info.kind in ("categorical", "binary", "continuous", "date") and v != by]


def groupings(cohort) -> list[str]:
    """A grouping of two levels and one of more, where the cohort has them."""
    kinds = [(v, len(info.levels)) for v, info in cohort.variables.items()
             if info.kind in ("categorical", "binary")]
    two = [v for v, n in kinds if n == 2][:1]
    more = [v for v, n in kinds if 2 < n <= 6][:1]
    return two + more


OPTION_SETS = {
    "default": {},
    "parametric": {"tests": "parametric", "smd": True, "overall": True},
    "gtsummary": {"tests": "gtsummary", "percent_of": "all", "missing": "always",
                  "percent_digits": 1},
    "type2": {"quantile_type": 2, "continuous_stat": ["median_iqr", "range", "n", "n_missing",
                                                      "mean_sd"], "overall": True},
    "type6": {"quantile_type": 6, "continuous_statistic": "{median} ({p25}, {p75})",
              "categorical_statistic": "{n} / {N} ({p}%)", "digits": {"mean": 2, "p": 1}},
    "strings": {"continuous_statistic": ["{mean} ({sd})", "{min}, {max}",
                                         "{N_nonmiss} ({p_missing}%)"],
                "missing": "no"},
}


#: The option sets run by each kind of grouping (every set with two groups).
SETS_BY_GROUPING = {"none": ("default", "type2"), "two": tuple(OPTION_SETS),
                    "more": ("default", "parametric", "type6")}


#: The cohorts that run every option set; the others run the default set by two groups
#: (each option's code is the same whatever the cohort; the suite's time is not).
ALL_SETS_ON = ("trial3", "pbc", "demo")


def option_cases():
    found = []
    for name in CONFIGS:
        for grouping, labels in SETS_BY_GROUPING.items():
            for label in labels:
                if name not in ALL_SETS_ON and (grouping, label) != ("two", "default"):
                    continue
                found.append(pytest.param(name, grouping, label,
                                          id=f"{name}-{grouping}-{label}"))
    return found


@pytest.mark.parametrize("name, grouping, label", option_cases())
def test_option_sets(name, grouping, label):
    """Every kind of variable of a cohort, by no group, two groups and more, under each
    option set."""
    memory, _ = cohorts(name)
    options = dict(OPTION_SETS[label])
    by = None
    if grouping != "none":
        found = groupings(memory)
        index = 0 if grouping == "two" else 1
        if len(found) <= index or (grouping == "more" and len(found) < 2):
            pytest.skip(f"{name} has no grouping of {grouping} levels")
        by = found[index]
        options["by"] = by
    options["variables"] = variables_of(memory, by)
    assert_same(options, cohorts(name))


# a cohort of awkward cases -----------------------------------------------------------------


def awkward_cohort():
    """Missing groups and values, an empty group, a group of one, an all-missing continuous
    and categorical variable, a one-level variable, ties, whole numbers, dates, and a small
    tie-free variable (the exact Wilcoxon p-value)."""
    from cohortpress.data.cohort import Cohort, VariableInfo

    rng = np.random.default_rng(21)
    n = 90
    arm = rng.choice(["A", "B", "D"], size=n, p=[0.5, 0.45, 0.05]).astype(object)
    arm[:4] = None
    arm[4] = "D"
    two = np.where(np.arange(n) % 2 == 0, "Yes", "No").astype(object)
    two[5] = None
    score = rng.integers(0, 6, size=n).astype(float)
    score[::7] = np.nan
    level = rng.normal(3.0, 1.5, size=n)
    level[::11] = np.nan
    small = np.full(n, np.nan)
    small[10:40] = rng.permutation(np.arange(30)) * 0.37 + 0.1
    stage = rng.choice(["I", "II", "III", "IV"], size=n).astype(object)
    stage[::9] = None
    single = np.where(np.arange(n) % 3 == 0, "Yes", None).astype(object)
    dates = pd.Series(pd.to_datetime("2020-01-01") + pd.to_timedelta(
        rng.integers(0, 900, size=n), unit="D"))
    dates[::8] = pd.NaT

    def categorical(values, levels):
        return pd.Categorical(values, categories=levels, ordered=True)

    data = pd.DataFrame({
        "arm": categorical(arm, ["A", "B", "C", "D"]),
        "two": categorical(two, ["No", "Yes"]),
        "score": score, "level": level, "small": small, "empty": np.full(n, np.nan),
        "stage": categorical(stage, ["I", "II", "III", "IV"]),
        "none_known": categorical([None] * n, ["x", "y"]),
        "single": categorical(single, ["Yes"]),
        "when": dates,
    })
    info = {
        "arm": VariableInfo("arm", "Arm", "categorical", ("A", "B", "C", "D")),
        "two": VariableInfo("two", "Two", "binary", ("No", "Yes"), positive="Yes"),
        "score": VariableInfo("score", "Score", "continuous"),
        "level": VariableInfo("level", "Level", "continuous", unit="mg/L"),
        "small": VariableInfo("small", "Small", "continuous"),
        "empty": VariableInfo("empty", "Empty", "continuous"),
        "stage": VariableInfo("stage", "Stage", "categorical", ("I", "II", "III", "IV")),
        "none_known": VariableInfo("none_known", "None known", "categorical", ("x", "y")),
        "single": VariableInfo("single", "Single", "categorical", ("Yes",)),
        "when": VariableInfo("when", "Diagnosed", "date"),
    }
    return Cohort(data=data, variables=info)


AWKWARD = ["score", "level", "small", "empty", "stage", "none_known", "single", "when", "two"]
AWKWARD_CASES = {
    "arm-default": {"by": "arm", "variables": AWKWARD},
    "arm-parametric": {"by": "arm", "tests": "parametric", "smd": True, "overall": True,
                       "variables": AWKWARD},
    "two-default": {"by": "two", "overall": True, "variables": [v for v in AWKWARD
                                                                if v != "two"] + ["arm"]},
    "two-difference": {"by": "two", "add_difference": True, "smd": True,
                       "variables": ["score", "level", "small", "stage", "arm"]},
    "two-tests": {"by": "two", "variables": [
        {"variable": "score", "test": "t_test"}, {"variable": "level", "test": "welch"},
        {"variable": "small", "test": "wilcoxon"}, {"variable": "stage", "test": "chisq"},
        {"variable": "arm", "trend": True}]},
    "arm-choices": {"by": "arm", "quantile_type": 3, "percent_of": "all", "variables": [
        {"variable": "stage", "test_missing": True, "exclude_from_test": ["IV"]},
        {"variable": "score", "applies_to": ["A", "B"], "test": "anova",
         "stat": ["median_iqr", "n_missing", "mean_sd"]},
        {"variable": "level", "test": "kruskal", "digits": 2, "missing": "always"},
        {"variable": "small", "significant": 3}]},
    "ungrouped": {"variables": AWKWARD, "quantile_type": 9},
}


@functools.lru_cache(maxsize=None)
def awkward():
    cohort = awkward_cohort()
    return cohort, engine_cohort_from_frame(cohort)


@pytest.mark.parametrize("case", AWKWARD_CASES)
def test_awkward_cohort(case):
    assert_same(AWKWARD_CASES[case], awkward())


@pytest.mark.parametrize("case", ["arm-parametric", "arm-choices", "ungrouped",
                                  "two-default"])
def test_many_distinct_values(case, monkeypatch):
    """With more distinct values than the limit, type-7 quartiles come from the engine's
    quantile_cont and other types from row_number(): the same numbers and texts."""
    from cohortpress.kit import engine_table1

    monkeypatch.setattr(engine_table1, "DISTINCT_LIMIT", 0)
    assert_same(AWKWARD_CASES[case], awkward())


def test_many_distinct_values_in_a_configured_section(monkeypatch):
    from cohortpress.kit import engine_table1

    monkeypatch.setattr(engine_table1, "DISTINCT_LIMIT", 0)
    for name in ("pbc", "trial3", "belgian"):
        for param in configured_sections():
            if param.values[0] == name:
                assert_same(param.values[1], cohorts(name))


def test_exact_wilcoxon_and_one_value_groups_are_exercised():
    """The awkward cohort reaches the exact Wilcoxon p-value and a group with one patient."""
    memory, engine = awkward()
    found = run_analysis("demographics", AWKWARD_CASES["two-tests"], engine)
    notes = {r.variable: r.stat for r in found.results
             if r.context == "test" and r.stat_name == "note"}
    assert notes["small"] == "exact p-value"
    sizes = {r.group_level: r.stat for r in found.results
             if r.context == "group" and r.stat_name == "N" and r.group_level}
    arm = run_analysis("demographics", AWKWARD_CASES["arm-default"], engine)
    sizes = {r.group_level: r.stat for r in arm.results
             if r.context == "group" and r.stat_name == "N" and r.group_level}
    assert sizes["C"] == 0 and sizes["D"] >= 1


def test_disclosure_releases_the_same_records():
    """Under a [disclosure] rule both paths release the same counts."""
    from cohortpress.api.sections import SectionContext
    from cohortpress.common.disclosure import DisclosureRule
    from cohortpress.plugins.demographics import DemographicsOptions, run

    memory, engine = cohorts("veteran")
    options = DemographicsOptions.model_validate(
        {"overall": True, "variables": ["age", "karno", "celltype", "karno_group", "prior"]})
    context = SectionContext(id="t1", title="T1", disclosure=DisclosureRule(min_count=10,
                                                                            round_to=5))
    expected, found = run(memory, options, context), run(engine, options, context)
    assert_same_sections(found, expected)
    assert any(r.stat is None and r.context == "categorical" for r in found.results)


def test_aggregates_refuses_weights_and_strata_by_name():
    from cohortpress.plugins.demographics import DemographicsOptions, cohortpress_analyses

    analysis = cohortpress_analyses()[0]
    plain = DemographicsOptions.model_validate({"variables": ["age"]})
    assert analysis.aggregates(plain) is None
    weighted = DemographicsOptions.model_validate({"variables": ["age"], "weights": "w"})
    assert analysis.aggregates(weighted).startswith("weights = 'w'")
    stratified = DemographicsOptions.model_validate({"variables": ["age"], "strata": "sex"})
    assert analysis.aggregates(stratified).startswith("strata = 'sex'")


@pytest.mark.parametrize("key, value", [("weights", "level"), ("strata", "stage")])
def test_an_engine_cohort_with_options_that_need_rows_is_refused(key, value):
    """Called directly on an engine cohort, weights or strata are one line naming the key,
    never a table computed without them."""
    from cohortpress.common.errors import DataError
    from cohortpress.plugins.demographics import DemographicsOptions

    memory, engine = awkward()
    options = DemographicsOptions.model_validate({"by": "two", "variables": ["score"],
                                                  key: value})
    for call in (lambda: options.check_data(engine),
                 lambda: run_analysis("demographics", options, engine)):
        with pytest.raises(DataError, match=f"statistics = \"engine\": {key} = "):
            call()


def test_check_data_on_the_engine_path():
    """``validate``'s checks give the same lines on an engine cohort."""
    from cohortpress.common.errors import DataError
    from cohortpress.plugins.demographics import DemographicsOptions

    memory, engine = awkward()
    options = DemographicsOptions.model_validate({"by": "arm", "variables": AWKWARD})
    assert options.check_data(engine) == options.check_data(memory)
    two_group = DemographicsOptions.model_validate(
        {"by": "arm", "variables": [{"variable": "level", "test": "wilcoxon"}]})
    messages = []
    for cohort in (memory, engine):
        with pytest.raises(DataError) as caught:
            two_group.check_data(cohort)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


def test_the_comparison_reads_the_table():
    """The table comparison sees every row of the body (a check of the check)."""
    memory, _ = cohorts("pbc")
    section = run_analysis("demographics", {"by": "treatment", "variables": ["age", "sex"]},
                           memory)
    texts = cells(section)
    assert len(texts) >= 5 and any("Median" in row[0] for row in texts)
