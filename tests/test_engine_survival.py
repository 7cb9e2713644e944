"""The survival analysis on the engine path (issue 21, item 2) gives the in-memory path's
results: every record equal at 1e-12 relative (in practice bit for bit: both paths tabulate
the same per-time counts), the same tables and figures, the same checks and warnings.

The engine cohort is :func:`engine_cohort_from_frame` of the in-memory cohort: the same
patients in DuckDB, from which the section asks one aggregate table per endpoint. The
estimators' ``counts=`` argument (rows standing for several patients) is checked on its own
against the patients' rows, on data with ties, competing causes, strata and empty groups.
"""

from __future__ import annotations

import dataclasses
import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from cohortpress.api.sections import SectionContext
from cohortpress.app.run import finished
from cohortpress.common.disclosure import DisclosureRule
from cohortpress.common.errors import DataError, StatisticsError
from cohortpress.data.engine.cohort import engine_cohort_from_frame
from cohortpress.kit import engine_survival, engine_survival_stream
from cohortpress.kit.engine_survival import survival_aggregates
from cohortpress.kit.survival_release import released_cohort
from cohortpress.plugins.survival import cohortpress_analyses
from cohortpress.stats import competing, kaplan_meier as km, logrank, rmst
from cohortpress.testing import load_demo_cohort

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SURVIVAL = cohortpress_analyses()[0]
RELATIVE = 1e-12


# ------------------------------------------------------------------ helpers


def run_section(options: dict, cohort, disclosure: DisclosureRule | None = None):
    """One survival section as a build runs it (records released under ``disclosure``)."""
    validated = SURVIVAL.options.model_validate(options)
    context = SectionContext(id="s", title="S", p_digits=3, percent_digits=0,
                             config_dir=str(ROOT), disclosure=disclosure)
    return finished(SURVIVAL.run(cohort, validated, context), context)


def assert_same_records(rows_section, engine_section) -> None:
    mine = [r.as_dict() for r in rows_section.results]
    theirs = [r.as_dict() for r in engine_section.results]
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert a.keys() == b.keys()
        for key, value in a.items():
            other = b[key]
            if isinstance(value, float) and isinstance(other, (int, float)):
                if math.isnan(value):
                    assert math.isnan(other), (a, b)
                else:
                    assert other == pytest.approx(value, rel=RELATIVE, abs=0), (a, b)
            else:
                assert value == other, (key, a, b)


def assert_same_blocks(rows_section, engine_section) -> None:
    assert [type(b).__name__ for b in rows_section.blocks] == \
        [type(b).__name__ for b in engine_section.blocks]
    for a, b in zip(rows_section.blocks, engine_section.blocks):
        assert repr(a) == repr(b)
    assert engine_section.methods == rows_section.methods
    assert engine_section.warnings == rows_section.warnings


def assert_paths_agree(options: dict, cohort, engine=None, disclosure=None):
    engine = engine_cohort_from_frame(cohort) if engine is None else engine
    rows_section = run_section(options, cohort, disclosure)
    engine_section = run_section(options, engine, disclosure)
    assert_same_records(rows_section, engine_section)
    assert_same_blocks(rows_section, engine_section)
    return engine_section


def assert_same(a, b) -> None:
    """Two results (dataclasses) equal field by field, NaN equal to NaN."""
    np.testing.assert_equal(dataclasses.asdict(a), dataclasses.asdict(b))


def aggregate(time, status, *codes):
    """Rows of counts: one per distinct (codes..., time, status), as the engine's query."""
    keys = np.column_stack([*codes, time, status])
    distinct, counts = np.unique(keys, axis=0, return_counts=True)
    columns = [distinct[:, k] for k in range(distinct.shape[1])]
    return [c.astype(np.int64) for c in columns[:len(codes)]], columns[-2], \
        columns[-1].astype(np.int64), counts.astype(np.int64)


def tied_data(seed: int = 4, n: int = 400):
    """Times with many ties (rounded), three causes, three groups (one tiny), two strata."""
    rng = np.random.default_rng(seed)
    time = np.round(rng.exponential(5.0, n), 0) + 0.5
    status = rng.choice([0, 1, 2], size=n, p=[0.4, 0.4, 0.2])
    group = rng.choice([0, 1, 2], size=n, p=[0.49, 0.5, 0.01])
    group[0], group[1:] = 2, np.where(group[1:] == 2, 1, group[1:])  # group 2: one patient
    strata = rng.integers(0, 2, n)
    return time, status, group, strata


# ------------------------------------------------------------------ estimators with counts


@pytest.mark.parametrize("conf_type", km.CONF_TYPES)
def test_kaplan_meier_from_counts_is_the_fit_of_the_rows(conf_type):
    time, status, _, _ = tied_data()
    event = (status == 1).astype(int)
    _, t, e, n = aggregate(time, event)
    rows = km.kaplan_meier(time, event, conf_type, 0.9)
    counted = km.kaplan_meier(t, e, conf_type, 0.9, counts=n)
    for field in ("time", "n_risk", "n_event", "n_censor", "surv", "std_err", "conf_low",
                  "conf_high"):
        np.testing.assert_array_equal(getattr(counted, field), getattr(rows, field))
    assert counted.n == rows.n == time.size
    assert_same(km.km_median(counted), km.km_median(rows))
    assert_same(km.reverse_km_median_followup(t, e, counts=n),
                km.reverse_km_median_followup(time, event))
    assert_same(rmst.rmst(t, e, 6.0, counts=n), rmst.rmst(time, event, 6.0))


@pytest.mark.parametrize("rho, gamma", [(0, 0), (1, 0), (0, 1), (0.5, 2)])
@pytest.mark.parametrize("stratified", [False, True])
def test_log_rank_family_from_counts_is_the_test_of_the_rows(rho, gamma, stratified):
    time, status, group, strata = tied_data()
    event = (status == 1).astype(int)
    (g, s), t, e, n = aggregate(time, event, group, strata)
    kwargs = dict(rho=rho, gamma=gamma)
    rows = logrank.logrank_test(time, event, group, strata=strata if stratified else None,
                                **kwargs)
    counted = logrank.logrank_test(t, e, g, strata=s if stratified else None, counts=n,
                                   **kwargs)
    assert_same(counted.test, rows.test)
    np.testing.assert_array_equal(counted.n, rows.n)
    np.testing.assert_array_equal(counted.events, rows.events)
    np.testing.assert_array_equal(counted.variance, rows.variance)
    trend_rows = logrank.logrank_trend_test(time, event, group,
                                            strata=strata if stratified else None, **kwargs)
    assert_same(logrank.logrank_trend_test(t, e, g, strata=s if stratified else None,
                                           counts=n, **kwargs), trend_rows)
    pairs_rows = logrank.pairwise_logrank(time, event, group,
                                          strata=strata if stratified else None, **kwargs)
    pairs = logrank.pairwise_logrank(t, e, g, strata=s if stratified else None, counts=n,
                                     **kwargs)
    assert_same(pairs, pairs_rows)


@pytest.mark.parametrize("cause", [1, 2])
def test_cumulative_incidence_and_gray_from_counts_are_those_of_the_rows(cause):
    time, status, group, strata = tied_data(seed=9)
    (g, s), t, st, n = aggregate(time, status, group, strata)
    rows = competing.cumulative_incidence(time, status, cause)
    counted = competing.cumulative_incidence(t, st, cause, counts=n)
    for field in ("time", "estimate", "variance"):
        np.testing.assert_array_equal(getattr(counted, field), getattr(rows, field))
    assert (counted.n, counted.last_time) == (rows.n, rows.last_time)
    for stratified in (None, True):
        gray_rows = competing.gray_test(time, status, group, cause,
                                        strata=strata if stratified else None)
        gray = competing.gray_test(t, st, g, cause, strata=s if stratified else None,
                                   counts=n)
        assert_same(gray.test, gray_rows.test)
        np.testing.assert_array_equal(gray.variance, gray_rows.variance)


def test_released_cohort_from_counts_draws_the_curve_of_the_rows():
    time, status, _, _ = tied_data(seed=2, n=300)
    (), t, st, n = aggregate(time, status)
    pseudo_time, pseudo_status = released_cohort(time, status, 10, 10, total=300)
    rows_time, rows_status, rows_counts = released_cohort(t, st, 10, 10, total=300, counts=n)
    assert rows_counts.sum() == pseudo_time.size == 300
    assert rows_counts.size < pseudo_time.size
    np.testing.assert_array_equal(np.repeat(rows_time, rows_counts), pseudo_time)
    for cause in (1, 2):
        a = competing.cumulative_incidence(pseudo_time, pseudo_status, cause)
        b = competing.cumulative_incidence(rows_time, rows_status, cause, counts=rows_counts)
        np.testing.assert_array_equal(a.estimate, b.estimate)
    assert released_cohort(t[:3], st[:3], 10, 10, counts=np.array([3, 3, 3])) is None


@pytest.mark.parametrize("counts, message", [
    (np.array([1, 0, 2]), "positive integers"),
    (np.array([1.0, 2.0, 2.0]), "positive integers"),
    (np.array([1, 2]), "one value per row"),
])
def test_counts_must_be_positive_integers_one_per_row(counts, message):
    with pytest.raises(StatisticsError, match=message):
        km.kaplan_meier([1.0, 2.0, 3.0], [1, 0, 1], counts=counts)


def test_counts_with_delayed_entry_are_refused():
    with pytest.raises(StatisticsError, match="delayed entry"):
        km.kaplan_meier([2.0, 3.0], [1, 1], entry=[0.5, 1.0], counts=np.array([1, 2]))


# ------------------------------------------------------------------ the analysis, both paths


DEMO_OPTIONS = [
    dict(endpoints=["os"]),
    dict(endpoints=["os"], by="arm", landmarks=[1, 2, 3], rmst=True, followup=True),
    dict(endpoints=["os"], by="stage", conf_type="log-log", estimate="se", pairwise=True,
         adjust="BH", median_line=True, ci_bands=True, fun="event",
         risk_table_rows=["at_risk", "events", "censored"]),
    dict(endpoints=["os"], by="stage", conf_type="plain", conf_level=0.9, test="trend",
         rho=1.0, gamma=0.5, landmarks=[0.5, 5, 50], rmst=True, rmst_horizon=2.0,
         overall=False),
    dict(endpoints=["os"], by="arm", strata="sex", rho=0, gamma=1, rmst=True,
         rmst_horizon=20.0, rmst_extend=True, risk_times=[0, 1, 2, 4]),
    dict(endpoints=["os"], by="sex", test="none", median=False, figure=False),
]


@pytest.fixture(scope="module")
def demo():
    cohort = load_demo_cohort()
    return cohort, engine_cohort_from_frame(cohort)


@pytest.mark.parametrize("options", DEMO_OPTIONS, ids=range(len(DEMO_OPTIONS)))
def test_demo_cohort_both_paths_agree(demo, options):
    cohort, engine = demo
    section = assert_paths_agree(options, cohort, engine)
    if options.get("figure", True):
        assert any(type(b).__name__ == "Figure" for b in section.blocks)


def _section_options(toml: Path) -> list[tuple[str, dict]]:
    import tomllib

    config = tomllib.loads(toml.read_text(encoding="utf-8"))
    return [(s["id"], {k: v for k, v in s.items() if k not in ("id", "analysis", "title")})
            for s in config.get("section", []) if s["analysis"] == "survival"
            and "subset" not in s]


CONFIGS = [HERE / "data" / "e2e" / f"{name}.toml" for name in
           ("trial3", "small2", "cr_pbc", "cr_mgus2")] + \
    [HERE / "data" / "r_cohorts" / "veteran_km.toml", HERE / "data" / "r_cohorts" /
     "rotterdam_cr.toml", ROOT / "examples" / "pbc" / "report.toml"]
SECTIONS = [(config, section_id, options) for config in CONFIGS
            for section_id, options in _section_options(config)]


@pytest.fixture(scope="module")
def cohorts():
    loaded = {}

    def get(config):
        if config not in loaded:
            cohort = load_demo_cohort(config)
            loaded[config] = cohort, engine_cohort_from_frame(cohort)
        return loaded[config]
    return get


@pytest.mark.parametrize("config, section_id, options", SECTIONS,
                         ids=[f"{c.stem}-{s}" for c, s, _ in SECTIONS])
def test_test_cohorts_sections_agree_on_both_paths(cohorts, config, section_id, options):
    cohort, engine = cohorts(config)
    assert_paths_agree(options, cohort, engine)


#: Under the rule, one Kaplan–Meier and one cumulative-incidence section suffice: the
#: release code is the same for every section, and each costs the suite two runs.
RELEASED_SECTIONS = [s for s in SECTIONS
                     if s[1] in ("km_celltype", "cif_sex_stacked")] or SECTIONS[:2]


@pytest.mark.parametrize("config, section_id, options", RELEASED_SECTIONS,
                         ids=[f"{c.stem}-{s}" for c, s, _ in RELEASED_SECTIONS])
def test_disclosure_rule_releases_the_same_records_on_both_paths(cohorts, config, section_id,
                                                                 options):
    cohort, engine = cohorts(config)
    options = {k: v for k, v in options.items() if k != "weights"}
    section = assert_paths_agree(options, cohort, engine, DisclosureRule(10, 5))
    counts = [r for r in section.results if r.stat_name in ("n", "n.event", "n.risk")
              and isinstance(r.stat, int)]
    assert counts and all(r.stat == 0 or (r.stat >= 10 and r.stat % 5 == 0) for r in counts)


def test_veteran_engine_path_with_every_option(cohorts):
    config = HERE / "data" / "r_cohorts" / "veteran_km.toml"
    cohort, engine = cohorts(config)
    by = next(options["by"] for _, options in _section_options(config))
    for options in (dict(endpoints=list(cohort.endpoints), by=by, landmarks=[30, 90, 180],
                         pairwise=True, adjust="bonferroni", rmst=True, followup=True,
                         conf_type="log-log"),
                    dict(endpoints=list(cohort.endpoints), by=by, test="trend", rho=1)):
        assert_paths_agree(options, cohort, engine)


# ------------------------------------------------------------------ edge cases


EDGE_TOML = """
[report]
title = "Edge cases"

[cohort]
path = "cohort.csv"
id = "id"

[variables.arm]
label = "Arm"
kind = "categorical"
levels = ["A", "B", "C", "D", "E"]

[variables.site]
label = "Site"
kind = "categorical"
levels = ["x", "y"]

[endpoints.pfs]
label = "Progression"
time = "time"
time_unit = "months"
event = "status"
event_codes = [1]
competing_codes = [2]
cause_labels = { "2" = "Death" }

[endpoints.os]
label = "Overall survival"
time = "time"
time_unit = "months"
event = "dead"

[[section]]
id = "km"
analysis = "survival"
endpoints = ["os"]
"""


def edge_csv() -> str:
    """Ties everywhere; arm C without events, D one patient, E none; arm and site missing
    for some patients."""
    rng = np.random.default_rng(11)
    lines = ["id,arm,site,time,status,dead"]
    for i in range(120):
        arm = "AB"[i % 2] if i < 110 else "C"
        if i == 119:
            arm = "D"
        if i in (7, 8):
            arm = ""
        time = float(rng.integers(1, 13))
        status = int(rng.choice([0, 1, 2])) if arm != "C" else 0
        dead = int(status > 0) if arm != "C" else 0
        site = "" if i == 5 else "xy"[i % 3 == 0]
        lines.append(f"{i},{arm},{site},{time},{status},{dead}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    folder = tmp_path_factory.mktemp("edge")
    (folder / "report.toml").write_text(EDGE_TOML, encoding="utf-8")
    (folder / "cohort.csv").write_text(edge_csv(), encoding="utf-8")
    cohort = load_demo_cohort(folder / "report.toml")
    return cohort, engine_cohort_from_frame(cohort)


@pytest.mark.parametrize("options", [
    dict(endpoints=["os"], by="arm", landmarks=[3, 6, 12], rmst=True, rmst_extend=True,
         rmst_horizon=12.0, followup=True, pairwise=True),
    dict(endpoints=["os"], by="arm", strata="site", test="trend"),
    dict(endpoints=["os", "pfs"], by="arm", landmarks=[3, 6]),
    dict(endpoints=["pfs"], by="arm", cif_causes="stacked", landmarks=[6]),
    dict(endpoints=["pfs"], cumulative_incidence=False, by="site", conf_type="plain",
         landmarks=[2, 12]),
    dict(endpoints=["os", "pfs"]),
], ids=range(6))
def test_ties_empty_groups_and_a_group_of_one_agree(edge, options):
    cohort, engine = edge
    section = assert_paths_agree(options, cohort, engine)
    assert any("no events" in w or "no patients" in w for w in section.warnings) \
        or options.get("by") in (None, "site")


def test_engine_checks_give_the_same_warnings_and_errors(edge):
    cohort, engine = edge
    for options in (dict(endpoints=["os", "pfs"], by="arm", landmarks=[30]),
                    dict(endpoints=["os"], by="site")):
        validated = SURVIVAL.options.model_validate(options)
        assert validated.check_data(engine) == validated.check_data(cohort)
    late = SURVIVAL.options.model_validate(dict(endpoints=["os"], by="arm", rmst=True,
                                                rmst_horizon=100.0))
    with pytest.raises(DataError) as rows_error:
        late.check_data(cohort)
    with pytest.raises(DataError) as engine_error:
        late.check_data(engine)
    assert str(engine_error.value) == str(rows_error.value)


def test_a_subset_runs_in_the_engine(edge):
    cohort, engine = edge
    from cohortpress.data.engine.backend import quoted

    subset = engine.subset(f"{quoted('site')} = 0", "site x")
    keep = np.asarray(cohort.values("site") == "x", dtype=bool)
    rows_section = run_section(dict(endpoints=["os"], by="arm", landmarks=[6]),
                               cohort.subset(keep, "site x"))
    engine_section = run_section(dict(endpoints=["os"], by="arm", landmarks=[6]), subset)
    assert_same_records(rows_section, engine_section)


# ------------------------------------------------------------------ what needs the rows


def test_aggregates_refuses_weights_by_name_and_accepts_the_rest():
    for options in DEMO_OPTIONS:
        assert survival_aggregates(SURVIVAL.options.model_validate(options)) is None
    weighted = SURVIVAL.options.model_validate(dict(endpoints=["os"], weights="w", test="none"))
    line = survival_aggregates(weighted)
    assert line.startswith("'weights'") and "rows" in line and "\n" not in line
    assert SURVIVAL.aggregates is survival_aggregates


def test_the_engine_path_never_fetches_a_row_per_patient(demo, monkeypatch):
    cohort, engine = demo
    sizes = []
    for method in ("query", "query_columns"):  # a DataFrame, or NumPy arrays by name
        original = getattr(type(engine), method)

        def counting(self, sql, original=original):
            answer = original(self, sql)
            sizes.append(len(next(iter(answer.values()))) if isinstance(answer, dict)
                         else len(answer))
            return answer
        monkeypatch.setattr(type(engine), method, counting)
    run_section(DEMO_OPTIONS[1], engine)
    endpoint = cohort.endpoint("os")
    codes = np.asarray(cohort.values("arm").cat.codes)
    cells = np.unique(np.column_stack([codes, endpoint.time, endpoint.status]), axis=0)
    assert sizes and max(sizes) == len(cells)  # the aggregate table, nothing larger


# ------------------------------------------------------------------ streamed endpoints


def stream_every_endpoint(monkeypatch, chunk_rows: int) -> None:
    """Every endpoint's table counts as too large, and its rows come in small chunks."""
    monkeypatch.setattr(engine_survival, "TABLE_LIMIT", 0)
    monkeypatch.setattr(engine_survival_stream, "CHUNK_ROWS", chunk_rows)


def assert_streamed_agree(options: dict, cohort, engine):
    """The streamed section gives the rows path's records, tables and warnings, plus a
    ``rows.streamed`` record and methods sentence per Kaplan–Meier endpoint."""
    rows_section = run_section(options, cohort)
    engine_section = run_section(options, engine)
    streamed = [r for r in engine_section.results if r.stat_name == "rows.streamed"]
    assert [r.variable for r in streamed] == list(options["endpoints"])
    kept = dataclasses.replace(engine_section, results=tuple(
        r for r in engine_section.results if r.stat_name != "rows.streamed"))
    assert_same_records(rows_section, kept)
    tables = [(type(b).__name__, repr(b) if type(b).__name__ == "Table" else None)
              for b in engine_section.blocks]
    assert tables == [(type(b).__name__, repr(b) if type(b).__name__ == "Table" else None)
                      for b in rows_section.blocks]
    assert engine_section.warnings == rows_section.warnings
    added = [m for m in engine_section.methods if m not in rows_section.methods]
    assert len(added) == 1 and "in time order" in added[0]
    assert all(r.stat in added or len(streamed) > 1 for r in streamed)
    return engine_section


STREAMABLE = [{k: v for k, v in options.items() if k not in ("pairwise", "adjust") and
               not k.startswith("rmst")} for options in DEMO_OPTIONS]


@pytest.mark.parametrize("options", STREAMABLE, ids=range(len(STREAMABLE)))
@pytest.mark.parametrize("chunk_rows", [1, 37, 100_000])
def test_a_streamed_endpoint_gives_the_records_of_the_rows(demo, monkeypatch, options,
                                                           chunk_rows):
    cohort, engine = demo
    stream_every_endpoint(monkeypatch, chunk_rows)
    assert_streamed_agree(options, cohort, engine)


def _kaplan_meier_only(config: Path, options: dict) -> bool:
    """Whether a section has only what a streamed endpoint gives: no competing causes'
    incidence, restricted mean, pairwise tests or weights."""
    import tomllib

    endpoints = tomllib.loads(config.read_text(encoding="utf-8")).get("endpoints", {})
    competing = any(endpoints.get(name, {}).get("competing")
                    or endpoints.get(name, {}).get("competing_codes")
                    for name in options["endpoints"])
    return not (competing and options.get("cumulative_incidence", True)) and not any(
        options.get(key) for key in ("pairwise", "rmst", "weights"))


KM_SECTIONS = [(config, section_id, options) for config, section_id, options in SECTIONS
               if _kaplan_meier_only(config, options)]


@pytest.mark.parametrize("config, section_id, options", KM_SECTIONS,
                         ids=[f"{c.stem}-{s}" for c, s, _ in KM_SECTIONS])
def test_test_cohorts_streamed_give_the_records_of_the_rows(cohorts, monkeypatch, config,
                                                            section_id, options):
    cohort, engine = cohorts(config)
    stream_every_endpoint(monkeypatch, 53)
    assert_streamed_agree(options, cohort, engine)


def near_tie_csv() -> str:
    """Times in chains of near-ties (gaps of 4e-9, below aeqSurv's tolerance), across
    groups and strata, so that runs of near-ties span the chunks' ends."""
    rng = np.random.default_rng(5)
    lines = ["id,arm,site,time,status,dead"]
    for i in range(150):
        arm = "" if i == 3 else "AB"[int(rng.integers(0, 2))]
        time = float(rng.integers(1, 9)) + float(rng.integers(0, 5)) * 4e-9
        dead = int(rng.random() < 0.6)
        site = "" if i == 8 else "xy"[int(rng.integers(0, 2))]
        lines.append(f"{i},{arm},{site},{time!r},{dead},{dead}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("chunk_rows", [1, 2, 7, 1000])
@pytest.mark.parametrize("options", [
    dict(endpoints=["os"], by="arm", landmarks=[2, 5], rho=1),
    dict(endpoints=["os"], by="arm", strata="site", test="trend", conf_type="log-log"),
], ids=range(2))
def test_near_ties_spanning_chunks_merge_as_in_the_whole_table(tmp_path, monkeypatch, options,
                                                               chunk_rows):
    (tmp_path / "report.toml").write_text(EDGE_TOML, encoding="utf-8")
    (tmp_path / "cohort.csv").write_text(near_tie_csv(), encoding="utf-8")
    cohort = load_demo_cohort(tmp_path / "report.toml")
    stream_every_endpoint(monkeypatch, chunk_rows)
    section = assert_streamed_agree(options, cohort, engine_cohort_from_frame(cohort))
    assert any(r.stat_name == "n.risk" for r in section.results)


def test_an_endpoint_whose_table_would_not_fit_in_memory_is_streamed(demo, monkeypatch):
    cohort, engine = demo
    options = dict(endpoints=["os"], by="arm", landmarks=[1, 3])
    endpoint = cohort.endpoint("os")
    codes = np.asarray(cohort.values("arm").cat.codes)
    rows = len(np.unique(np.column_stack([codes, endpoint.time, endpoint.status]), axis=0))
    validated = SURVIVAL.options.model_validate(options)
    # within the limit (HyperLogLog errs by a few percent): the aggregate table
    monkeypatch.setattr(engine_survival, "TABLE_LIMIT", 2 * rows * engine_survival.BYTES_PER_ROW)
    validated.check_data(engine)
    assert not any(r.stat_name == "rows.streamed" for r in run_section(options, engine).results)
    # beyond it: streamed, and the checks before the section accept it
    monkeypatch.setattr(engine_survival, "TABLE_LIMIT", rows * engine_survival.BYTES_PER_ROW // 2)
    validated.check_data(engine)
    section = run_section(options, engine)
    assert [r.variable for r in section.results if r.stat_name == "rows.streamed"] == ["os"]
    assert any("in time order" in m for m in section.methods)


def test_nearly_a_table_row_per_patient_is_streamed_where_the_options_allow_it(demo,
                                                                              monkeypatch):
    cohort, engine = demo
    monkeypatch.setattr(engine_survival, "STREAM_MIN_ROWS", 10)
    monkeypatch.setattr(engine_survival, "STREAM_FRACTION", 0.01)
    streamed = assert_streamed_agree(dict(endpoints=["os"], by="stage"), cohort, engine)
    assert streamed.methods
    # pairwise tests need the table: it is used, and no option is refused
    options = dict(endpoints=["os"], by="stage", pairwise=True)
    SURVIVAL.options.model_validate(options).check_data(engine)
    section = assert_paths_agree(options, cohort, engine)
    assert not any(r.stat_name == "rows.streamed" for r in section.results)


@pytest.mark.parametrize("options, key", [
    (dict(endpoints=["os"], by="arm", rmst=True), "'rmst'"),
    (dict(endpoints=["os"], by="stage", pairwise=True), "'pairwise'"),
])
def test_what_a_streamed_endpoint_cannot_give_is_refused_before_the_build(demo, monkeypatch,
                                                                          options, key):
    _, engine = demo
    stream_every_endpoint(monkeypatch, 100)
    with pytest.raises(DataError) as caught:
        SURVIVAL.options.model_validate(options).check_data(engine)
    message = str(caught.value)
    assert message.startswith("endpoint 'os' has too many distinct times") and key in message
    assert "\n" not in message


def test_competing_causes_and_a_disclosure_rule_are_refused_when_streamed(edge, monkeypatch):
    _, engine = edge
    stream_every_endpoint(monkeypatch, 100)
    with pytest.raises(DataError, match="competing causes' cumulative incidence"):
        SURVIVAL.options.model_validate(dict(endpoints=["pfs"])).check_data(engine)
    with pytest.raises(DataError, match="disclosure rule"):
        run_section(dict(endpoints=["os"], by="arm"), engine, DisclosureRule(10, 5))


def test_an_engine_that_keeps_its_rows_refuses_a_streamed_endpoint(demo, monkeypatch):
    _, engine = demo
    stream_every_endpoint(monkeypatch, 100)
    monkeypatch.setattr(type(engine.backend), "streams_rows", False)
    with pytest.raises(DataError) as caught:
        SURVIVAL.options.model_validate(dict(endpoints=["os"])).check_data(engine)
    message = str(caught.value)
    assert message.startswith("endpoint 'os' has about ") and "does not stream" in message
    assert "recorded to the day" in message and "\n" not in message


def test_pairs_of_groups_are_compared_as_on_the_rows():
    time, status, group, _ = tied_data()
    event = (status == 1).astype(int)
    (g,), t, e, n = aggregate(time, event, group)
    for pair in combinations(range(3), 2):
        rows = np.isin(group, pair)
        kept = np.isin(g, pair)
        try:
            expected = logrank.logrank_test(time[rows], event[rows], group[rows]).test
        except StatisticsError:
            continue
        assert_same(logrank.logrank_test(t[kept], e[kept], g[kept], counts=n[kept]).test,
                    expected)


def test_engine_sections_render(cohorts, demo):
    from cohortpress.testing.html import assert_section_renders

    cohort, engine = cohorts(HERE / "data" / "e2e" / "cr_pbc.toml")
    competing_section = run_section(dict(endpoints=["death"], by="stage",
                                         landmarks=[1000, 2000]), engine)
    km_section = run_section(dict(endpoints=["os"], by="stage", landmarks=[1, 2],
                                  risk_table_rows=["at_risk", "events"], rmst=True), demo[1])
    for section in (competing_section, km_section):
        html = assert_section_renders(section)
        assert html.count("<img") >= 1 and "<table" in html
