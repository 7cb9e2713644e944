"""The Cox analysis on the engine path gives the in-memory path's records.

Each cohort is put into DuckDB with engine_cohort_from_frame and the section is run both
ways: every record (coefficients, standard errors, limits, p-values, log-likelihoods, the
model tests, the likelihood-ratio tests of factors, cox.zph, n and events per model, the
complete-case counts) must agree to 1e-8 relative; concordance is the one difference, said
in a record and a footnote. Also: the number of scans is the iterations', not the models',
and the options that need the rows are refused by name.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from cohortpress.api.sections import SectionContext
from cohortpress.app.load import load_cohort
from cohortpress.app.plan import plan_build
from cohortpress.common.errors import DataError
from cohortpress.data.conditions import section_subset
from cohortpress.data.engine.cohort import EngineCohort, engine_cohort_from_frame
from cohortpress.kit.engine_cox import CONCORDANCE_NOTE, aggregates_refusal, engine_cox_models
from cohortpress.plugins import cox
from cohortpress.testing import load_demo_cohort

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"small2": ROOT / "tests/data/e2e/small2.toml",
           "trial3": ROOT / "tests/data/e2e/trial3.toml",
           "veteran": ROOT / "tests/data/disclosure/veteran.toml",
           "pbc": ROOT / "examples/pbc/report.toml"}
_COHORTS = {}


def cohort_of(name):
    if name not in _COHORTS:
        if name == "demo":
            _COHORTS[name] = (None, load_demo_cohort())
        else:
            plan = plan_build(CONFIGS[name])
            _COHORTS[name] = (plan, load_cohort(plan))
    return _COHORTS[name]


def key(record):
    return (record.context, record.stat_name, record.variable, record.variable_level,
            record.group, record.group_level)


def engine_only(record) -> bool:
    """Records only the engine path has: concordance left out, rows streamed."""
    return record.stat_name.startswith("concordance") or record.stat_name == "rows.streamed"


def assert_same_records(rows, engine):
    expected = {key(r): r for r in rows.results if not engine_only(r)}
    got = {key(r): r for r in engine.results if not engine_only(r)}
    assert set(got) == set(expected)
    for k, record in expected.items():
        a, b = record.stat, got[k].stat
        if isinstance(a, float) and isinstance(b, float):
            assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-8,
                                                                     abs_tol=1e-300), k
        else:
            assert a == b, k
        assert record.formatted == got[k].formatted, k


def run_both(cohort, options):
    context = SectionContext(id="cox", title="Cox")
    rows = cox.run(cohort, options, context)
    engine = cox.run(engine_cohort_from_frame(cohort), options, context)
    return rows, engine


SECTIONS = [("small2", "cox"), ("small2", "cox_ref"), ("trial3", "cox_os"),
            ("trial3", "cox_ttf"), ("veteran", "cox"), ("pbc", "cox")]


@pytest.mark.parametrize("name,section", SECTIONS)
def test_the_test_cohorts_sections_agree(name, section):
    plan, cohort = cohort_of(name)
    head = next(h for h in plan.config.section if h.id == section)
    if head.subset:
        cohort = section_subset(cohort, head.subset, "section")
    rows, engine = run_both(cohort, cox.CoxOptions.model_validate(head.model_extra))
    assert_same_records(rows, engine)
    notes = [r for r in engine.results if r.stat_name == "concordance.note"]
    assert [r.stat for r in notes] == [CONCORDANCE_NOTE]
    assert any(r.stat_name == "concordance" for r in rows.results)
    assert not any(r.stat_name == "concordance" for r in engine.results)


VARIANTS = [
    # missing values (complete cases per model), an interaction of factors, Efron ties
    ("trial3", dict(endpoint="os", covariates=["arm", "stage", "sex", "crp_log"],
                    interactions=[["arm", "sex"]])),
    # an interaction with a continuous covariate, strata with a missing level, Breslow
    ("trial3", dict(endpoint="efs", covariates=["arm", "age", "ecog"],
                    interactions=[["arm", "age"]], strata="centre", ties="breslow")),
    # univariable models only; a reference level set by the multivariable design
    ("trial3", dict(endpoint="progression", covariates=["age_group", "crp"],
                    multivariable=False)),
    ("pbc", dict(endpoint="os", covariates=["oedema", "stage", "bilirubin", "ascites"],
                 strata="sex", ph_check="footnote")),
    ("demo", dict(endpoint="os", covariates=["arm", "age", "stage", "ldh", "sex"])),
    ("demo", dict(endpoint="os", covariates=["stage"], univariable=False, ties="breslow")),
]


@pytest.mark.parametrize("name,values", VARIANTS)
def test_option_variants_agree(name, values):
    _, cohort = cohort_of(name)
    rows, engine = run_both(cohort, cox.CoxOptions.model_validate(values))
    assert_same_records(rows, engine)


def test_one_scan_per_iteration_covers_every_model(monkeypatch):
    _, cohort = cohort_of("trial3")
    engine = engine_cohort_from_frame(cohort)
    queries = _spied_queries(monkeypatch)
    options = cox.CoxOptions.model_validate(dict(endpoint="os", covariates=[
        "arm", "age", "stage", "crp_log", "sex", "ecog"]))
    models, scanner = engine_cox_models(engine, options, "separated")
    # counts, moments and the distinct times, then the iterations
    assert len(queries) == 3 + scanner.queries
    first = scanner.batches[0]
    assert set(first) == {"multi", *(("uni", v) for v in options.covariates)}
    # Each model is in one scan per iteration (plus its start): the scans are as many as
    # the slowest model of each stage needs, however many models there are.
    appearances = {}
    for batch in scanner.batches:
        assert len(set(batch)) == len(batch)
        for model in batch:
            appearances[model] = appearances.get(model, 0) + 1
    stage1 = max(n for m, n in appearances.items() if m[0] != "refit")
    refits = [n for m, n in appearances.items() if m[0] == "refit"]
    assert refits  # arm, stage and ecog have more than two levels
    assert scanner.scans == stage1 + max(refits)
    assert appearances["multi"] == models.multivariable.fit.iterations + 1


@pytest.mark.parametrize("values,option", [
    (dict(splines=["age"]), "splines"), (dict(robust=True), "robust"),
    (dict(cluster="centre"), "cluster")])
def test_options_that_need_the_rows_are_refused_by_name(values, option):
    options = cox.CoxOptions.model_validate(dict(endpoint="os", covariates=["age"], **values))
    assert aggregates_refusal(options).startswith(option)
    assert aggregates_refusal(cox.CoxOptions.model_validate(
        dict(endpoint="os", covariates=["age"], interactions=[], strata="centre"))) is None


def test_the_table_says_concordance_is_not_computed():
    _, cohort = cohort_of("veteran")
    options = cox.CoxOptions.model_validate(dict(endpoint="os", covariates=["celltype", "age"]))
    _, engine = run_both(cohort, options)
    (table,) = [b for b in engine.blocks if hasattr(b, "footnotes")]
    assert any("concordance was not computed" in note.text for note in table.footnotes)
    assert any("concordance was not computed" in m for m in engine.methods)


def test_check_data_on_the_engine():
    _, cohort = cohort_of("trial3")
    engine = engine_cohort_from_frame(cohort)
    assert cox.CoxOptions.model_validate(dict(endpoint="os", covariates=["arm"])
                                         ).check_data(engine) == []
    with pytest.raises(DataError, match="'rand_date' is date"):
        cox.CoxOptions.model_validate(dict(endpoint="os", covariates=["rand_date"])
                                      ).check_data(engine)
    with pytest.raises(DataError, match="strata variable 'age' must be categorical"):
        cox.CoxOptions.model_validate(dict(endpoint="os", covariates=["arm"], strata="age")
                                      ).check_data(engine)


def _spied_queries(monkeypatch) -> list[str]:
    """The SQL of every query engine cohorts run from now on, in order."""
    queries = []
    for method in ("query", "query_columns"):
        original = getattr(EngineCohort, method)
        monkeypatch.setattr(EngineCohort, method, lambda self, sql, original=original:
                            queries.append(sql) or original(self, sql))
    return queries


def _scan_queries(monkeypatch, engine, values):
    queries = _spied_queries(monkeypatch)
    models, scanner = engine_cox_models(engine, cox.CoxOptions.model_validate(values),
                                        "separated")
    return [q for q in queries if "GROUP BY s, t, k" in q], scanner


def test_scan_aggregates_do_not_grow_with_factor_levels(monkeypatch):
    # The scans group by the factor codes: a factor's levels add groups, not aggregates per
    # row, so a two-level and a many-level factor next to one continuous covariate ask
    # for the same aggregates.
    _, cohort = cohort_of("trial3")
    engine = engine_cohort_from_frame(cohort)
    levels = {name: len(cohort.variable(name).levels) for name in ("sex", "ecog")}
    assert levels["ecog"] > levels["sex"] == 2
    counts = []
    for factor in ("sex", "ecog"):
        scans, _ = _scan_queries(monkeypatch, engine, dict(
            endpoint="os", covariates=["age", factor], univariable=False))
        counts.append([len(re.findall(r" AS c\d+\b", q)) for q in scans])
    assert counts[0][0] == counts[1][0]
    assert counts[0][1:] and max(counts[0][1:]) == max(counts[1][1:])


def test_models_of_factors_only_need_one_query(monkeypatch):
    # Their sums per group are counts times exp(b'f): the same counts at every beta.
    _, cohort = cohort_of("trial3")
    engine = engine_cohort_from_frame(cohort)
    scans, scanner = _scan_queries(monkeypatch, engine, dict(
        endpoint="os", covariates=["sex", "ecog", "arm"]))
    assert scanner.scans > 2
    assert scanner.queries == len(scans) == 1


@pytest.mark.parametrize("values", [
    dict(endpoint="os", covariates=["age", "age_copy"]),       # collinear continuous
    dict(endpoint="os", covariates=["arm", "constant"]),       # constant within the data
    dict(endpoint="os", covariates=["age", "constant"], strata="sex"),
])
def test_models_that_cannot_be_fitted_say_so_as_in_memory(values):
    import dataclasses

    import pandas as pd

    _, cohort = cohort_of("trial3")
    frame = cohort.data.copy()
    frame["age_copy"] = 2.0 * frame["age"] + 1.0
    frame["constant"] = 3.0
    info = dict(cohort.variables)
    info["age_copy"] = dataclasses.replace(info["age"], name="age_copy", label="Age copy")
    info["constant"] = dataclasses.replace(info["age"], name="constant", label="Constant")
    extended = dataclasses.replace(cohort, data=pd.DataFrame(frame), variables=info)
    rows, engine = run_both(extended, cox.CoxOptions.model_validate(values))
    assert_same_records(rows, engine)
    assert any(r.stat_name == "not.estimable" for r in engine.results)


def test_the_rows_are_stored_once_and_dropped_after_the_fit(monkeypatch):
    from cohortpress.data.engine.backend import DuckDBBackend

    _, cohort = cohort_of("trial3")
    engine = engine_cohort_from_frame(cohort).subset('"sex" = 0', "women only")
    stored, released = [], []
    materialise, release = DuckDBBackend.materialise, DuckDBBackend.release

    def spy_materialise(self, sql):
        relation = materialise(self, sql)
        stored.append((relation, self._stored[relation][1]))
        return relation

    monkeypatch.setattr(DuckDBBackend, "materialise", spy_materialise)
    monkeypatch.setattr(DuckDBBackend, "release",
                        lambda self, relation: released.append(relation) or release(self, relation))
    options = cox.CoxOptions.model_validate(dict(endpoint="os", covariates=["arm", "age"]))
    engine_cox_models(engine, options, "separated")
    assert [relation for relation, _ in stored] == released and len(stored) == 1
    assert not Path(stored[0][1]).exists()


def test_rows_can_be_stored_beside_a_read_only_database(tmp_path):
    import duckdb

    from cohortpress.data.engine.backend import BackendSpec, DuckDBBackend

    database = tmp_path / "registry.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("CREATE TABLE patients AS SELECT range AS i, 100 - range AS t "
                           "FROM range(100)")
    backend = DuckDBBackend(BackendSpec(database=str(database), statements=(
        "CREATE TEMP VIEW cohort AS SELECT * FROM patients",)))
    relation = backend.materialise("SELECT i, t FROM cohort ORDER BY t")
    folder = Path(backend._stored[relation][1])
    assert backend.query(f"SELECT i FROM {relation} LIMIT 3")["i"].tolist() == [99, 98, 97]
    backend.close()
    assert not folder.exists()


def test_covariates_named_like_the_scans_own_columns():
    import dataclasses

    import pandas as pd

    _, cohort = cohort_of("trial3")
    names = {"age": "t", "crp_log": "in0", "sex": "s", "arm": "k"}
    frame = cohort.data.rename(columns=names)
    info = {names.get(k, k): dataclasses.replace(v, name=names.get(k, k))
            for k, v in cohort.variables.items()}
    renamed = dataclasses.replace(cohort, data=pd.DataFrame(frame), variables=info,
                                  group=names.get(cohort.group, cohort.group))
    rows, engine = run_both(renamed, cox.CoxOptions.model_validate(
        dict(endpoint="os", covariates=["t", "in0", "s", "k"], strata="stage")))
    assert_same_records(rows, engine)


def test_rows_a_stopped_worker_left_behind_are_removed(tmp_path, monkeypatch):
    import subprocess
    import sys
    import tempfile

    from cohortpress.data.engine import backend

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True).stdout.strip()
    abandoned = tmp_path / f"{backend.ROWS_PREFIX}{ended}-abc"
    ours = tmp_path / f"{backend.ROWS_PREFIX}{os.getpid()}-def"
    for folder in (abandoned, ours):
        folder.mkdir()
        (folder / "rows.duckdb").write_bytes(b"x")
    backend.remove_abandoned_rows()
    assert not abandoned.exists() and ours.exists()


def test_sums_taken_a_few_groups_at_a_time_are_the_same_numbers(monkeypatch):
    # A registry's groups are reduced through a small workspace, a slice of whole
    # (stratum, time, event) blocks at a time; every block is summed in the same order,
    # so the fit is bit for bit the one from all groups at once.
    from cohortpress.kit import engine_cox_scan

    _, cohort = cohort_of("trial3")
    options = cox.CoxOptions.model_validate(dict(
        endpoint="os", covariates=["arm", "age", "stage", "crp_log", "sex"], strata="centre"))
    context = SectionContext(id="cox", title="Cox")
    whole = cox.run(engine_cohort_from_frame(cohort), options, context)
    monkeypatch.setattr(engine_cox_scan, "_WORKSPACE", 40)  # a few groups per slice
    sliced = cox.run(engine_cohort_from_frame(cohort), options, context)
    assert [(key(r), r.stat) for r in sliced.results] == [
        (key(r), r.stat) for r in whole.results]


STREAMED = [("trial3", dict(endpoint="os", covariates=["arm", "stage", "sex", "crp_log"],
                            interactions=[["arm", "sex"]])),
            ("trial3", dict(endpoint="efs", covariates=["arm", "age", "ecog"],
                            interactions=[["arm", "age"]], strata="centre", ties="breslow")),
            ("pbc", dict(endpoint="os", covariates=["oedema", "stage", "bilirubin", "ascites"],
                         strata="sex", ph_check="footnote")),
            ("veteran", None)]


@pytest.mark.parametrize("name,values", STREAMED)
def test_too_many_distinct_times_stream_the_rows_with_the_same_numbers(name, values,
                                                                      monkeypatch):
    # Exact times give a registry about one distinct time per patient: sums per time are
    # then as large as the rows, and the rows are streamed in decreasing time instead, in
    # chunks (here of 37 rows, so runs of tied times and strata straddle them).
    from cohortpress.kit import engine_cox as module
    from cohortpress.kit import engine_cox_stream

    plan, cohort = cohort_of(name)
    if values is None:
        head = next(h for h in plan.config.section if h.id == "cox")
        values = head.model_extra
    options = cox.CoxOptions.model_validate(values)
    monkeypatch.setattr(module, "TIME_SUMS_LIMIT", 1000)
    monkeypatch.setattr(engine_cox_stream, "CHUNK_ROWS", 37)
    rows, engine = run_both(cohort, options)
    assert_same_records(rows, engine)
    (note,) = [r.stat for r in engine.results if r.stat_name == "rows.streamed"]
    assert "distinct times" in note and "chunks of 37" in note and note in engine.methods
    assert not any(r.stat_name == "rows.streamed" for r in rows.results)
    models, scanner = engine_cox_models(engine_cohort_from_frame(cohort), options, "separated")
    assert type(scanner).__name__ == "StreamScanner"
    assert models.multivariable is None or models.multivariable.fit.converged


def test_an_engine_that_keeps_its_rows_refuses_too_many_distinct_times(monkeypatch):
    from cohortpress.data.engine.backend import DuckDBBackend
    from cohortpress.kit import engine_cox as module

    _, cohort = cohort_of("trial3")
    engine = engine_cohort_from_frame(cohort)
    options = cox.CoxOptions.model_validate(dict(endpoint="os", covariates=["arm", "age"]))
    monkeypatch.setattr(module, "TIME_SUMS_LIMIT", 1000)
    monkeypatch.setattr(DuckDBBackend, "streams_rows", False)
    with pytest.raises(DataError) as caught:
        engine_cox_models(engine, options, "separated")
    message = str(caught.value)
    assert "endpoint 'os' has about" in message and "distinct times" in message
    assert "3 models" in message and "keeps its rows" in message
    assert "\n" not in message