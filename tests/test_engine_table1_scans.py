"""Table 1 on the engine path asks for each kind of aggregate once per section: the
whole-number check of all continuous variables in one scan (and not again when the
summariser asks after the layout), the level counts of all categorical rows in one scan,
the first pass of all continuous rows in one scan; the records stay those of the in-memory
path."""

from __future__ import annotations

import math

import pytest

from cohortpress.data.engine.cohort import engine_cohort_from_frame
from cohortpress.kit import engine_table1
from cohortpress.testing import load_demo_cohort
from cohortpress.testing.run import run_analysis



def assert_same_sections(found, expected) -> None:
    """Same records (numbers to 1e-12 relative, texts identical) and the same table."""
    assert len(found.results) == len(expected.results)
    for mine, theirs in zip(found.results, expected.results):
        assert (mine.context, mine.stat_name, mine.variable, mine.variable_level, mine.group,
                mine.group_level) == (theirs.context, theirs.stat_name, theirs.variable,
                                      theirs.variable_level, theirs.group, theirs.group_level)
        if isinstance(mine.stat, float) and isinstance(theirs.stat, float):
            assert mine.stat == theirs.stat or math.isclose(mine.stat, theirs.stat,
                                                             rel_tol=1e-12)
        else:
            assert mine.stat == theirs.stat
        assert mine.formatted == theirs.formatted
    assert [[c.text for c in row.cells] for block in found.blocks
            for row in getattr(block, "body", ())] == \
        [[c.text for c in row.cells] for block in expected.blocks
         for row in getattr(block, "body", ())]

OPTIONS = {"by": "arm", "overall": True,
           "variables": ["age", "sex", "stage", {"variable": "ldh", "stat": "median_iqr"},
                         "start_date"]}


@pytest.fixture(scope="module")
def pair():
    memory = load_demo_cohort(None)
    return memory, engine_cohort_from_frame(memory)


def queries_of(engine, monkeypatch) -> list[str]:
    """Every SQL text the engine cohort runs from now on."""
    seen = []
    backend_class = type(engine.backend)
    original = backend_class.query

    def counting(self, sql):
        seen.append(sql)
        return original(self, sql)

    monkeypatch.setattr(backend_class, "query", counting)
    return seen


def test_each_aggregate_kind_is_one_scan_per_section(pair, monkeypatch):
    memory, engine = pair
    engine = engine_cohort_from_frame(memory)  # a fresh cohort: nothing cached yet
    seen = queries_of(engine, monkeypatch)
    found = run_analysis("demographics", OPTIONS, engine)
    assert_same_sections(found, run_analysis("demographics", OPTIONS, memory))
    whole = [q for q in seen if "floor(" in q]
    first = [q for q in seen if "approx_count_distinct" in q]
    counts = [q for q in seen if "count(*) AS n FROM" in q and "extra0" in q]
    assert len(whole) == 1 and '"age"' in whole[0] and '"ldh"' in whole[0]
    assert len(first) == 1 and '"age"' in first[0] and '"ldh"' in first[0]
    assert len(counts) == 1 and all(f'"{v}"' in counts[0] for v in ("sex", "stage"))


def test_whole_number_answers_are_kept_per_cohort(pair, monkeypatch):
    memory, _ = pair
    engine = engine_cohort_from_frame(memory)
    seen = queries_of(engine, monkeypatch)
    first = engine_table1.engine_all_whole(engine, "age", ("age", "ldh"))
    assert len(seen) == 1
    assert engine_table1.engine_all_whole(engine, "ldh") == \
        engine_table1.engine_all_whole(engine_cohort_from_frame(memory), "ldh")
    assert engine_table1.engine_all_whole(engine, "age") is first
    assert len(seen) == 2  # the fresh cohort's own check only


def test_level_counts_one_variable_at_a_time_beyond_the_limit(pair, monkeypatch):
    memory, engine = pair
    monkeypatch.setattr(engine_table1, "JOINT_COUNT_LIMIT", 0)
    engine = engine_cohort_from_frame(memory)
    seen = queries_of(engine, monkeypatch)
    found = run_analysis("demographics", OPTIONS, engine)
    assert_same_sections(found, run_analysis("demographics", OPTIONS, memory))
    counts = [q for q in seen if "count(*) AS n FROM" in q and "extra0" in q]
    assert len(counts) == 2 and all("extra1" not in q for q in counts)


def test_median_quartiles_and_rank_test_read_one_table_of_values(pair, monkeypatch):
    memory, _ = pair
    engine = engine_cohort_from_frame(memory)
    seen = queries_of(engine, monkeypatch)
    options = {"by": "sex", "variables": ["age", {"variable": "ldh", "stat": "median_iqr"}]}
    found = run_analysis("demographics", options, engine)
    assert_same_sections(found, run_analysis("demographics", options, memory))
    by_value = [q for q in seen if "AS value, count(*) AS c" in q]
    assert len(by_value) == 2 and not any("WITH tied" in q for q in seen)


def test_many_distinct_values_keep_ranks_in_the_engine(pair, monkeypatch):
    memory, _ = pair
    monkeypatch.setattr(engine_table1, "DISTINCT_LIMIT", 0)
    engine = engine_cohort_from_frame(memory)
    seen = queries_of(engine, monkeypatch)
    options = {"by": "sex", "variables": ["age"]}
    found = run_analysis("demographics", options, engine)
    assert_same_sections(found, run_analysis("demographics", options, memory))
    assert any("WITH tied" in q for q in seen)
    assert not any("AS value, count(*) AS c" in q for q in seen)


def test_dates_share_the_first_pass_scan(pair, monkeypatch):
    memory, _ = pair
    engine = engine_cohort_from_frame(memory)
    seen = queries_of(engine, monkeypatch)
    options = {"by": "sex", "overall": True,
               "variables": ["start_date", "age", "death_date", "stage"]}
    found = run_analysis("demographics", options, engine)
    assert_same_sections(found, run_analysis("demographics", options, memory))
    assert not any("min(" in q and "approx_count_distinct" not in q for q in seen)
    first = [q for q in seen if "approx_count_distinct" in q]
    assert len(first) == 1 and '"start_date"' in first[0] and '"death_date"' in first[0]


def test_group_sizes_are_counted_once_per_cohort_and_variable(pair, monkeypatch):
    # The plan's checks and the section both ask for the sizes; a subset is other rows.
    from cohortpress.kit.engine_grouping import engine_grouping

    memory, _ = pair
    engine = engine_cohort_from_frame(memory)
    seen = queries_of(engine, monkeypatch)
    first, again = engine_grouping(engine, "arm"), engine_grouping(engine, "arm")
    assert len([q for q in seen if "AS code, count(*)" in q]) == 1
    assert (first.sizes, first.n_missing) == (again.sizes, again.n_missing)
    narrowed = engine.subset('"sex" = 0', "sex = 0")
    part = engine_grouping(narrowed, "arm")
    assert len([q for q in seen if "AS code, count(*)" in q]) == 2
    assert sum(part.sizes) + part.n_missing == narrowed.n < engine.n
    other = engine_cohort_from_frame(memory)  # another cohort: counted again
    engine_grouping(other, "arm")
    assert len([q for q in seen if "AS code, count(*)" in q]) == 3
