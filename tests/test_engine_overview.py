"""The overview analysis on the engine path equals the overview in memory, on the same cohorts.

The overview is counts and extremes: patients per group and without one, and per endpoint
the events and the shortest and longest follow-up, overall and per group. Each cohort is
put into DuckDB with ``engine_cohort_from_frame`` and the analysis runs on both; records,
cells, footnotes, methods and warnings must agree (tests/engine_sections.py). The cases
cover every endpoint of each test cohort (competing causes included), groupings with
patients in no group, no grouping at all, a cohort.filter that removed patients with an
unknown value, a subset that empties groups, and disclosure rules.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from cohortpress.data.engine.backend import quoted
from cohortpress.testing.run import run_analysis


# tests/engine_sections.py, loaded by path (the suite imports with --import-mode=importlib)
helpers = importlib.util.module_from_spec(spec := importlib.util.spec_from_file_location(
    "cohortpress_tests_engine_sections", Path(__file__).with_name("engine_sections.py")))
spec.loader.exec_module(helpers)
cohorts = helpers.cohorts
#: The cohorts every case runs on: with and without competing causes, a cohort.filter.
NAMES = ("trial3", "small2", "cr_mgus2", "veteran", "pbc", "demo")


def assert_same(options: dict, pair) -> None:
    helpers.assert_same("overview", options, pair)


@pytest.mark.parametrize("name, section, options",
                         helpers.configured_sections("overview", NAMES))
def test_configured_sections(name, section, options):
    """Every overview section of the test configs."""
    assert_same(options, cohorts(name))


def groupings(cohort) -> list[str]:
    """The cohort's group and a categorical variable with missing values, where it has
    them."""
    found = [cohort.group] if cohort.group else []
    found += [v for v, info in cohort.variables.items()
              if info.kind in ("categorical", "binary") and v not in found
              and cohort.values(v).isna().any()][:1]
    return found


@pytest.mark.parametrize("name", NAMES)
def test_every_endpoint_by_each_grouping(name):
    memory, engine = cohorts(name)
    endpoints = list(memory.endpoints)
    assert endpoints
    for by in groupings(memory):
        assert_same(dict(by=by, endpoints=endpoints, caption="At a glance."),
                    (memory, engine))
    assert_same(dict(endpoints=endpoints[:1]), (memory, engine))
    assert_same({}, (memory, engine))


def test_patients_in_no_group_are_counted():
    memory, engine = cohorts("demo")
    by = groupings(memory)[-1]
    section = run_analysis(helpers.analysis("overview"), dict(by=by), engine)
    unknown = [r.stat for r in section.results if r.stat_name == "N_unknown"]
    assert unknown == [int(memory.values(by).isna().sum())] and unknown[0] > 0


def test_no_grouping():
    """A cohort without a group: the overall column only."""
    memory, engine = cohorts("trial3")
    pair = (dataclasses.replace(memory, group=None), dataclasses.replace(engine, group=None))
    assert_same(dict(endpoints=list(memory.endpoints)), pair)
    section = run_analysis(helpers.analysis("overview"), {}, pair[1])
    assert all(r.group is None for r in section.results)


def test_a_filter_that_removed_unknown_values_is_reported_the_same():
    memory, engine = cohorts("veteran")
    assert memory.filter_text
    assert_same(dict(endpoints=["os"]), (memory, engine))


def test_a_subset_that_empties_groups():
    """A subset run as SQL in the engine: the groups it empties have events 0 and no
    range, and a footnote, on both paths."""
    from cohortpress.api.sections import SectionContext
    from cohortpress.plugins.overview import OverviewOptions, run

    memory, engine = cohorts("trial3")
    by = memory.group
    first = memory.variable(by).levels[0]
    keep = (memory.values(by) == first).to_numpy()
    pair = (memory.subset(keep, f"{by} {first}"), engine.subset(f"{quoted(by)} = 0",
                                                                 f"{by} {first}"))
    options = OverviewOptions.model_validate(dict(endpoints=list(memory.endpoints)))
    context = SectionContext(id="glance", title="Glance")
    expected, found = run(pair[0], options, context), run(pair[1], options, context)
    helpers.assert_same_sections(found, expected)
    assert any("no patients in this subset" in note for note in helpers.footnotes(found))
    warnings = options.check_data(pair[1])
    assert warnings == options.check_data(pair[0]) and warnings


@pytest.mark.parametrize("rule", [dict(min_count=10), dict(min_count=5, round_to=5)])
def test_disclosure_releases_the_same_records(rule):
    from cohortpress.api.sections import SectionContext
    from cohortpress.common.disclosure import DisclosureRule
    from cohortpress.plugins.overview import OverviewOptions, run

    memory, engine = cohorts("trial3")
    options = OverviewOptions.model_validate(dict(endpoints=list(memory.endpoints),
                                                  by=groupings(memory)[-1]))
    context = SectionContext(id="glance", title="Glance", disclosure=DisclosureRule(**rule))
    expected, found = run(memory, options, context), run(engine, options, context)
    helpers.assert_same_sections(found, expected)
    assert any((r.disclosure or "").startswith("suppressed" if len(rule) == 1 else "rounded")
               for r in found.results)


def test_no_option_needs_the_rows():
    from cohortpress.plugins.overview import OverviewOptions

    options = OverviewOptions.model_validate(dict(by="arm", endpoints=["os"], caption="c"))
    assert helpers.analysis("overview").aggregates(options) is None
    assert helpers.analysis("overview").aggregates(OverviewOptions()) is None


def test_the_section_asks_one_aggregate_query():
    """Group sizes, and per endpoint and group a count and two extremes: one query, a row
    per group."""
    from cohortpress.api.sections import SectionContext
    from cohortpress.kit.engine_overview import engine_overview
    from cohortpress.plugins.overview import OverviewOptions, run

    memory, engine = cohorts("trial3")
    asked = []
    original = type(engine).query

    def spy(self, sql, *args, **kwargs):
        found = original(self, sql, *args, **kwargs)
        asked.append(len(found))
        return found

    levels = memory.variable(memory.group).levels
    options = OverviewOptions.model_validate(dict(endpoints=list(memory.endpoints)))
    type(engine).query = spy
    try:
        run(engine, options, SectionContext(id="glance", title="Glance"))
        groups, found = engine_overview(engine, list(memory.endpoints), memory.group)
    finally:
        type(engine).query = original
    assert len(asked) == 2 and asked[0] <= len(levels) + 1
    assert groups.sizes == tuple(int((memory.values(memory.group) == level).sum())
                                 for level in levels)
    assert set(found) == set(memory.endpoints)
    for name, per_group in found.items():
        assert list(per_group) == [None, *levels]
        assert per_group[None].events == int(memory.endpoint(name).event.sum())
