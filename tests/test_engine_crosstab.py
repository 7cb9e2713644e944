"""The crosstab analysis on the engine path equals the crosstab in memory, on the same cohorts.

Each cohort is loaded as a build loads it, put into DuckDB with
``engine_cohort_from_frame``, and the ``crosstab`` analysis runs on both: every results
record (numbers to 1e-12 relative, texts identical), every cell and footnote of the table,
the methods sentences and the warnings must agree. The options cover each percent base,
each test, the missing row and the totals, on the test configs' cohorts, the demo cohort
and the pbc example, and on a cohort of awkward cases (an empty column, patients with no
column, an all-missing row variable, a one-level row, the row variable as its own column,
a Fisher test simulated by Monte Carlo, a subset, a disclosure rule).
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortpress.data.engine.backend import quoted
from cohortpress.data.engine.cohort import engine_cohort_from_frame
from cohortpress.kit.engine_crosstab import engine_tabulation
from cohortpress.testing.run import run_analysis


# tests/engine_sections.py, loaded by path (the suite imports with --import-mode=importlib)
helpers = importlib.util.module_from_spec(spec := importlib.util.spec_from_file_location(
    "cohortpress_tests_engine_sections", Path(__file__).with_name("engine_sections.py")))
spec.loader.exec_module(helpers)
ROOT = helpers.ROOT
CONFIGS = {name: helpers.CONFIGS[name] for name in ("trial3", "small2", "pbc", "demo")}
cohorts, close, assert_same_sections = helpers.cohorts, helpers.close, \
    helpers.assert_same_sections


def crosstab():
    return helpers.analysis("crosstab")


def assert_same(options: dict, pair) -> None:
    helpers.assert_same("crosstab", options, pair)


@pytest.mark.parametrize("name, section, options",
                         helpers.configured_sections("crosstab", tuple(CONFIGS)))
def test_configured_sections(name, section, options):
    """Every crosstab section of the test configs."""
    assert_same(options, cohorts(name))


def row_and_column(cohort) -> tuple[str, str]:
    """A categorical row variable (one with missing values when the cohort has one) and a
    grouping of another variable."""
    kinds = [v for v, info in cohort.variables.items() if info.kind in ("categorical", "binary")
             and 2 <= len(info.levels) <= 6]
    missing = [v for v in kinds if cohort.values(v).isna().any()]
    row = (missing or kinds)[0]
    column = cohort.group if cohort.group not in (None, row) else \
        next(v for v in kinds if v != row)
    return row, column


#: Each percent base with each missing-row choice and each totals choice, and each pair of
#: missing-row and totals choices (every pair of values; the test is independent of them).
LAYOUTS = [("column", "ifany", True), ("column", "no", False), ("row", "ifany", False),
           ("row", "no", True), ("total", "ifany", True), ("total", "no", False),
           ("none", "ifany", False), ("none", "no", True)]
TESTS = ("fisher", "chisq", "chisq_yates", "none")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_percent_base_missing_row_and_totals(name):
    """Each percent base, with and without the missing row and the totals (with a test)."""
    memory, engine = cohorts(name)
    row, column = row_and_column(memory)
    for percent, missing, totals in LAYOUTS:
        assert_same(dict(row=row, column=column, percent=percent, missing=missing,
                         totals=totals, test="chisq", percent_digits=1), (memory, engine))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_test(name):
    """Each test of association, with the missing row shown and not."""
    memory, engine = cohorts(name)
    row, column = row_and_column(memory)
    for test, missing in zip(TESTS, itertools.cycle(("ifany", "no"))):
        assert_same(dict(row=row, column=column, test=test, missing=missing),
                    (memory, engine))


def test_the_cohorts_group_is_the_default_column():
    memory, engine = cohorts("trial3")
    row, _ = row_and_column(memory)
    assert memory.group is not None
    assert_same(dict(row=row, caption="By the default group.", row_header="Row"),
                (memory, engine))


# a cohort of awkward cases -----------------------------------------------------------------


def awkward_cohort():
    """Patients with no arm, an arm with none (C), a one-level variable, an all-missing one,
    and a six-level variable whose Fisher test by arm is too costly to enumerate."""
    from cohortpress.data.cohort import Cohort, VariableInfo

    rng = np.random.default_rng(29)
    n = 400
    arm = rng.choice(["A", "B", "D"], size=n, p=[0.45, 0.45, 0.1]).astype(object)
    arm[:7] = None
    stage = rng.choice(["I", "II", "III", "IV"], size=n).astype(object)
    stage[::9] = None
    single = np.where(np.arange(n) % 3 == 0, "Yes", None).astype(object)
    wide = rng.choice(list("uvwxyz"), size=n).astype(object)
    site = np.where(np.arange(n) % 4 == 0, "north", "south").astype(object)

    def categorical(values, levels):
        return pd.Categorical(values, categories=levels, ordered=True)

    data = pd.DataFrame({
        "arm": categorical(arm, ["A", "B", "C", "D"]),
        "stage": categorical(stage, ["I", "II", "III", "IV"]),
        "single": categorical(single, ["Yes"]),
        "none_known": categorical([None] * n, ["x", "y"]),
        "wide": categorical(wide, list("uvwxyz")),
        "site": categorical(site, ["north", "south"]),
    })
    info = {
        "arm": VariableInfo("arm", "Arm", "categorical", ("A", "B", "C", "D")),
        "stage": VariableInfo("stage", "Stage", "categorical", ("I", "II", "III", "IV")),
        "single": VariableInfo("single", "Single", "categorical", ("Yes",)),
        "none_known": VariableInfo("none_known", "None known", "categorical", ("x", "y")),
        "wide": VariableInfo("wide", "Wide", "categorical", tuple("uvwxyz")),
        "site": VariableInfo("site", "Site", "binary", ("north", "south"), positive="north"),
    }
    return Cohort(data=data, variables=info)


@functools.lru_cache(maxsize=None)
def awkward():
    cohort = awkward_cohort()
    return cohort, engine_cohort_from_frame(cohort)


AWKWARD_CASES = {
    "empty-column": dict(row="stage", column="arm", test="fisher"),
    "empty-column-chisq": dict(row="stage", column="arm", test="chisq", percent="row"),
    "one-level-row": dict(row="single", column="arm"),
    "all-missing-row": dict(row="none_known", column="arm", percent="total"),
    "all-missing-row-no": dict(row="none_known", column="arm", missing="no"),
    "row-is-column": dict(row="arm", column="arm", test="chisq"),
    "monte-carlo": dict(row="wide", column="arm", monte_carlo_tables=2000, seed=7),
    "binary-column": dict(row="stage", column="site", test="chisq_yates", totals=False),
}


@pytest.mark.parametrize("case", list(AWKWARD_CASES))
def test_awkward_cases(case):
    assert_same(AWKWARD_CASES[case], awkward())


def test_the_awkward_cases_are_what_they_claim():
    """The cases above reach what they are named for: the simulated p-value, the empty
    column left out of the test (and warned of), the untested one-level row."""
    _, engine = awkward()
    simulated = run_analysis(crosstab(), AWKWARD_CASES["monte-carlo"], engine)
    notes = [r.stat for r in simulated.results if r.stat_name == "note"]
    assert len(notes) == 1 and "exceed" in notes[0]
    empty = run_analysis(crosstab(), AWKWARD_CASES["empty-column"], engine)
    assert [r.group_level for r in empty.results if r.stat_name == "not.tested.group"] == ["C"]
    single = run_analysis(crosstab(), AWKWARD_CASES["one-level-row"], engine)
    assert not [r for r in single.results if r.context == "test"]
    missing = {r.group_level: r.stat for r in empty.results if r.stat_name == "N_miss"}
    assert missing[None] > 0


def test_check_data_gives_the_same_warnings():
    from cohortpress.plugins.crosstab import CrosstabOptions

    memory, engine = awkward()
    options = CrosstabOptions.model_validate(AWKWARD_CASES["empty-column"])
    warnings = options.check_data(engine)
    assert warnings == options.check_data(memory)
    assert any("'C'" in w for w in warnings)


def test_a_continuous_row_is_refused_the_same_way():
    from cohortpress.common.errors import DataError
    from cohortpress.plugins.crosstab import CrosstabOptions

    memory, engine = cohorts("pbc")
    continuous = next(v for v, info in memory.variables.items() if info.kind == "continuous")
    options = CrosstabOptions.model_validate(dict(row=continuous, column=memory.group or
                                                  row_and_column(memory)[1]))
    messages = []
    for cohort in (memory, engine):
        with pytest.raises(DataError) as raised:
            options.check_data(cohort)
        messages.append(raised.value.message)
    assert messages[0] == messages[1] and "categorical" in messages[0]


def test_a_subset_runs_in_the_engine():
    from cohortpress.api.sections import SectionContext
    from cohortpress.plugins.crosstab import CrosstabOptions, run

    memory, engine = awkward()
    keep = (memory.values("site") == "north").to_numpy()
    mine = engine.subset(f"{quoted('site')} = 0", "site north")
    theirs = memory.subset(keep, "site north")
    options = CrosstabOptions.model_validate(dict(row="stage", column="arm", test="fisher"))
    context = SectionContext(id="xt", title="Subset")
    expected, found = run(theirs, options, context), run(mine, options, context)
    assert_same_sections(found, expected)
    assert sum(r.stat for r in found.results if r.stat_name == "N_obs") == int(
        (keep & (memory.values("arm").notna().to_numpy())).sum())


@pytest.mark.parametrize("rule", [dict(min_count=10), dict(min_count=5, round_to=5)])
def test_disclosure_releases_the_same_records(rule):
    """Under a [disclosure] rule both paths release (and hide) the same counts."""
    from cohortpress.api.sections import SectionContext
    from cohortpress.common.disclosure import DisclosureRule
    from cohortpress.plugins.crosstab import CrosstabOptions, run

    memory, engine = awkward()
    options = CrosstabOptions.model_validate(dict(row="wide", column="arm", test="chisq"))
    context = SectionContext(id="xt", title="X", disclosure=DisclosureRule(**rule))
    expected, found = run(memory, options, context), run(engine, options, context)
    assert_same_sections(found, expected)
    assert any(r.stat is None and r.context == "crosstab" for r in found.results)


def test_no_option_needs_the_rows():
    """Every option computes from counts: ``aggregates`` refuses none."""
    from cohortpress.plugins.crosstab import CrosstabOptions, cohortpress_analyses

    analysis = cohortpress_analyses()[0]
    for percent, missing, totals in itertools.product(("column", "row", "total", "none"),
                                                      ("ifany", "no"), (True, False)):
        for test in TESTS:
            options = CrosstabOptions.model_validate(dict(
                row="stage", column="arm", percent=percent, missing=missing, totals=totals,
                test=test, percent_digits=2, caption="c", row_header="h",
                monte_carlo_tables=5000, seed=3))
            assert analysis.aggregates(options) is None


def test_the_section_asks_one_aggregate_query():
    """The engine path asks one small query of counts (never the rows) for the section."""
    from cohortpress.api.sections import SectionContext
    from cohortpress.plugins.crosstab import CrosstabOptions, run

    memory, engine = awkward()
    asked = []
    original = type(engine).query

    def spy(self, sql, *args, **kwargs):
        found = original(self, sql, *args, **kwargs)
        asked.append((sql, len(found)))
        return found

    options = CrosstabOptions.model_validate(AWKWARD_CASES["monte-carlo"])
    type(engine).query = spy
    try:
        run(engine, options, SectionContext(id="xt", title="X"))
        tabulation = engine_tabulation(engine, "wide", "arm", 6, 4)
    finally:
        type(engine).query = original
    assert len(asked) == 2 and asked[0] == asked[1] and asked[0][1] <= 7 * 4
    assert tabulation.counts.sum() + tabulation.missing_by_col.sum() == int(
        memory.values("arm").notna().sum())


# a whole report, from a Parquet file ------------------------------------------------------


@pytest.mark.slow
def test_a_report_from_parquet_is_the_same_with_rows_and_engine(tmp_path):
    """small2's crosstab sections and an overview, built by the command line's build from a
    Parquet copy of its cohort with ``statistics = "rows"`` and ``"engine"``: the same
    results file."""
    import duckdb

    config = CONFIGS["small2"]
    document = tomllib.loads(config.read_text(encoding="utf-8"))
    parquet = tmp_path / "small2.parquet"
    source = (config.parent / document["cohort"]["path"]).resolve()
    duckdb.sql(f"COPY (SELECT * FROM read_csv_auto('{source}', all_varchar = true)) "
               f"TO '{parquet}' (FORMAT parquet)")
    document["cohort"]["path"] = str(parquet)
    document["section"] = [s for s in document["section"] if s["analysis"] == "crosstab"]
    document["section"].append(dict(id="glance", analysis="overview", endpoints=["os"]))
    document["report"].pop("exports", None)
    assert len(document["section"]) >= 3
    built = helpers.built_both_ways(document, tmp_path)
    assert built["engine"]["report"]["cohort"]["statistics"] == "engine"
    rows, engine = built["rows"]["results"], built["engine"]["results"]
    assert {r["section"] for r in engine} == {s["id"] for s in document["section"]}
    assert [{k: v for k, v in r.items() if k != "stat"} for r in rows] == \
        [{k: v for k, v in r.items() if k != "stat"} for r in engine]
    assert all(close(a["stat"], b["stat"]) for a, b in zip(rows, engine))


def test_the_docs_name_the_analyses_without_an_engine_path():
    """docs/engine.md lists the built-in analyses that have no engine path: exactly those
    without ``aggregates``."""
    import re

    from cohortpress.app.plugins import make_plugins

    text = (ROOT / "docs/engine.md").read_text(encoding="utf-8")
    sentence = re.search(r"have no engine path yet: ([^.]*)\.", text).group(1)
    listed = set(re.findall(r"`(\w+)`", sentence))
    analyses = make_plugins(entry_points=False).analyses
    assert listed == {name for name, a in analyses.items() if a.aggregates is None}
    assert "crosstab" in analyses and "crosstab" not in listed


def test_the_query_translates_for_spark():
    """The counts query is portable SQL: SQLGlot writes it for Spark as it is, quoted."""
    from cohortpress.data.engine.translate import translate

    asked = []

    class Recorder:
        engine = True

        def query(self, sql):
            asked.append(sql)
            return pd.DataFrame({"row_code": [], "col_code": [], "n": []})

    engine_tabulation(Recorder(), "stage", "arm", 4, 3)
    engine_tabulation(Recorder(), "arm", "arm", 3, 3)
    spark = [translate(sql.replace("{cohort}", "cohort"), "spark") for sql in asked]
    assert spark[0] == ("SELECT CAST(`stage` AS INT) AS row_code, CAST(`arm` AS INT) AS "
                        "col_code, COUNT(*) AS n FROM cohort WHERE NOT `arm` IS NULL "
                        "GROUP BY `stage`, `arm`")
    assert spark[1].endswith("GROUP BY `arm`")
