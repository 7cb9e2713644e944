"""The engine path's queries give the same numbers on Spark as on DuckDB (issue 21, item 4).

Every query is written once in DuckDB's dialect; the Spark backend translates it with
SQLGlot. A representative set of the aggregates the analyses ask for (counts by group with
missing values, exact quantiles, average ranks over ties by window sums, events and
censorings per distinct time with a reverse cumulative sum for the risk set, exp-weighted
sums in doubles as a Cox scan makes them) runs on both engines, on a made-up cohort with
ties and NULLs and on the test cohorts (demo, trial3, cr_pbc), and the results must agree:
counts exactly, doubles to 1e-12 relative.

The Spark tests need PySpark (``pip install -e '.[spark]'``) and Java; without them they
skip, saying which is missing. One Spark session serves the whole module.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortpress.common.errors import DataError
from cohortpress.data.engine.backend import BackendSpec, open_backend
from cohortpress.data.engine.cohort import EngineCohort, engine_cohort_from_frame, quoted
from cohortpress.data.engine.spark import (FILE_VIEW, on_spark, source_options,
                                           spark_available)
from cohortpress.data.engine.translate import translate

REPO = Path(__file__).resolve().parents[1]
RTOL = 1e-12
SPARK_MISSING = spark_available()
needs_spark = pytest.mark.skipif(SPARK_MISSING is not None,
                                 reason=f"Spark tests skipped: {SPARK_MISSING}")


# --------------------------------------------------------------------------- translation


def test_duckdb_one_argument_log_is_base_ten_on_spark():
    assert translate("SELECT log(x) FROM t", "spark") == "SELECT LOG(10, x) FROM t"
    assert translate("SELECT ln(x), log(2, x) FROM t", "spark") == \
        "SELECT LN(x), LOG(2, x) FROM t"


def test_quantile_cont_becomes_spark_exact_percentile():
    assert translate("SELECT quantile_cont(x, 0.25), median(x) FROM t", "spark") == \
        "SELECT PERCENTILE(x, 0.25), PERCENTILE(x, 0.5) FROM t"


def test_views_become_temporary_views_replaced_on_rerun():
    assert translate('CREATE VIEW cohort AS SELECT "a" FROM f', "spark") == \
        "CREATE OR REPLACE TEMPORARY VIEW cohort AS SELECT `a` FROM f"


def test_duckdb_dialect_is_unchanged_and_bad_sql_is_one_line():
    sql = "SELECT a::DOUBLE FROM t"
    assert translate(sql, "duckdb") is sql
    with pytest.raises(DataError, match=r"^cannot translate SQL for spark \(SQLGlot: .*\)$"):
        translate("SELECT FROM WHERE", "spark")
    with pytest.raises(DataError, match="expected one statement, found 2"):
        translate("SELECT 1; SELECT 2", "spark")


# --------------------------------------------------------------------------- the queries

#: The representative aggregates, DuckDB dialect, ``{cohort}`` the rows (g: a group code
#: with NULLs, s: a binary code, x: a double with ties and NULLs, t/st: time and status,
#: d: a date). Each ends with ORDER BY: Spark returns rows in no particular order.
QUERIES = {
    "counts by group": """
        SELECT g, s, count(*) AS n, count(x) AS n_x,
               sum(CASE WHEN x IS NULL THEN 1 ELSE 0 END) AS n_missing,
               count(DISTINCT x) AS n_values
        FROM {cohort} GROUP BY g, s ORDER BY g NULLS LAST, s NULLS LAST""",
    "quantiles": """
        SELECT g, quantile_cont(x, 0.025) AS q025, quantile_cont(x, 0.25) AS q25,
               quantile_cont(x, 0.5) AS q50, quantile_cont(x, 0.75) AS q75,
               quantile_cont(x, 0.975) AS q975, quantile_cont(x, 1.0) AS q100,
               min(x) AS low, max(x) AS high, avg(x) AS mean, var_samp(x) AS variance,
               stddev_samp(x) AS sd
        FROM {cohort} GROUP BY g ORDER BY g NULLS LAST""",
    "window rank sums with ties": """
        SELECT g, count(*) AS n, sum(average_rank) AS rank_sum,
               sum(average_rank * average_rank) AS rank_squares
        FROM (SELECT g, rank() OVER (ORDER BY x)
                        + (count(*) OVER (PARTITION BY x) - 1) / 2.0 AS average_rank
              FROM {cohort} WHERE x IS NOT NULL AND g IS NOT NULL) AS ranked
        GROUP BY g ORDER BY g""",
    "rank sums over distinct values": """
        WITH v AS (SELECT x, count(*) AS n FROM {cohort}
                   WHERE x IS NOT NULL AND g IS NOT NULL GROUP BY x),
             r AS (SELECT x, n, sum(n) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING
                                             AND CURRENT ROW) - (n - 1) / 2.0 AS average_rank
                   FROM v)
        SELECT cohort_rows.g, sum(r.average_rank) AS rank_sum,
               max(r.n * r.n * r.n - r.n) AS largest_tie_term
        FROM {cohort} JOIN r ON cohort_rows.x = r.x
        WHERE cohort_rows.g IS NOT NULL GROUP BY cohort_rows.g ORDER BY cohort_rows.g""",
    "events per time with the risk set": """
        SELECT g, t, sum(CASE WHEN st = 1 THEN 1 ELSE 0 END) AS events,
               sum(CASE WHEN st = 0 THEN 1 ELSE 0 END) AS censored,
               sum(CASE WHEN st >= 2 THEN 1 ELSE 0 END) AS competing,
               sum(count(*)) OVER (PARTITION BY g ORDER BY t DESC
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS at_risk
        FROM {cohort} WHERE t IS NOT NULL GROUP BY g, t ORDER BY g NULLS LAST, t""",
    "exp-weighted sums per time": """
        WITH lp AS (SELECT t, st, x, exp(0.3 * x - 0.2 * CAST(s AS DOUBLE)) AS w
                    FROM {cohort} WHERE x IS NOT NULL AND s IS NOT NULL AND t IS NOT NULL),
             per AS (SELECT t, sum(w) AS s0, sum(x * w) AS s1, sum(x * x * w) AS s2,
                            sum(CASE WHEN st = 1 THEN w ELSE 0 END) AS event_s0,
                            sum(CASE WHEN st = 1 THEN x ELSE 0 END) AS event_x,
                            sum(CASE WHEN st = 1 THEN 1 ELSE 0 END) AS events
                     FROM lp GROUP BY t)
        SELECT t, events, s0, s1, s2, event_s0, event_x,
               sum(s0) OVER (ORDER BY t DESC ROWS BETWEEN UNBOUNDED PRECEDING
                             AND CURRENT ROW) AS risk_s0,
               sum(s2) OVER (ORDER BY t DESC ROWS BETWEEN UNBOUNDED PRECEDING
                             AND CURRENT ROW) AS risk_s2
        FROM per ORDER BY t""",
    "dates": """
        SELECT g, min(d) AS first, max(d) AS last, count(d) AS n_dates,
               avg(date_diff('day', DATE '2000-01-01', d)) AS mean_days,
               log(max(x)) AS log10_max, ln(max(x)) AS ln_max
        FROM {cohort} GROUP BY g ORDER BY g NULLS LAST""",
}


def made_up_rows(n: int = 3000, seed: int = 21) -> pd.DataFrame:
    """Rows with what makes engines differ: NULL groups and values, many ties, dates."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 3, n).astype(float)
    g[rng.random(n) < 0.05] = np.nan
    x = np.round(rng.normal(50, 12, n), 1)
    x[rng.random(n) < 0.08] = np.nan
    t = np.round(rng.exponential(20, n), 0) + 1
    days = rng.integers(0, 9000, n)
    dates = pd.Series(pd.Timestamp("2000-01-01") + pd.to_timedelta(days, unit="D"))
    dates[rng.random(n) < 0.1] = pd.NaT
    return pd.DataFrame({
        "g": pd.array(np.where(np.isnan(g), None, g), dtype="Int32"),
        "s": pd.array(rng.integers(0, 2, n), dtype="Int32"),
        "x": x, "t": t.astype("float64"),
        "st": rng.choice([0, 1, 2], n, p=[0.4, 0.45, 0.15]).astype("int32"),
        "d": dates})


def view_spec(kind: str, frame: pd.DataFrame) -> BackendSpec:
    return BackendSpec(kind=kind, frames={"rows": frame}, statements=(
        'CREATE VIEW cohort AS SELECT g, s, x, t, st, CAST(d AS DATE) AS d FROM rows',))


def assert_same(duck: pd.DataFrame, spark: pd.DataFrame, what: str) -> None:
    """Same columns and rows; integers and dates exactly, doubles to :data:`RTOL`."""
    assert list(duck.columns) == list(spark.columns), what
    assert len(duck) == len(spark), what
    for name in duck.columns:
        a, b = duck[name], spark[name]
        assert a.isna().tolist() == b.isna().tolist(), f"{what}: missing in {name}"
        a, b = a[a.notna()], b[b.notna()]
        if pd.api.types.is_numeric_dtype(a.dtype) and pd.api.types.is_numeric_dtype(b.dtype):
            x, y = a.to_numpy(dtype="float64"), b.to_numpy(dtype="float64")
            if pd.api.types.is_integer_dtype(a.dtype) or pd.api.types.is_integer_dtype(b.dtype):
                assert np.array_equal(x, y), f"{what}: counts in {name} differ"
            else:
                np.testing.assert_allclose(y, x, rtol=RTOL, atol=0, err_msg=f"{what}: {name}")
        else:
            assert a.tolist() == b.tolist(), f"{what}: {name}"


@pytest.fixture(scope="module")
def engines():
    if SPARK_MISSING:
        pytest.skip(f"Spark tests skipped: {SPARK_MISSING}")
    frame = made_up_rows()
    duck_spec, spark_spec = view_spec("duckdb", frame), view_spec("spark", frame)
    return (EngineCohort(spec=duck_spec, variables={}, n=len(frame)),
            EngineCohort(spec=spark_spec, variables={}, n=len(frame)))


@needs_spark
@pytest.mark.parametrize("name", list(QUERIES))
def test_the_same_aggregates_on_duckdb_and_spark(engines, name):
    duck, spark = engines
    expected = duck.query(QUERIES[name])
    assert len(expected) > 1 or name == "dates"
    assert_same(expected, spark.query(QUERIES[name]), name)


@needs_spark
def test_a_subset_applies_on_spark_as_on_duckdb(engines):
    duck, spark = engines
    condition, description = "s = 1 AND (g IS NULL OR g <> 2)", "s is 1, g not 2"
    narrowed = [cohort.subset(condition, description) for cohort in engines]
    assert narrowed[0].n == narrowed[1].n < duck.n
    for name in ("counts by group", "events per time with the risk set"):
        assert_same(narrowed[0].query(QUERIES[name]), narrowed[1].query(QUERIES[name]), name)


@needs_spark
def test_a_spark_error_is_one_line(engines):
    with pytest.raises(DataError, match=r"^the engine \(Spark\) failed: .*no_such_column"):
        engines[1].query("SELECT no_such_column FROM {cohort}")


# --------------------------------------------------------------------------- test cohorts


def cohort_queries(cohort: EngineCohort) -> dict[str, str]:
    """For the variables and endpoints of a typed cohort, the aggregates its analyses ask
    for, in four queries (a Spark job each): counts per level, continuous summaries, date
    ranges, and events per distinct time with the risk set."""
    group = quoted(cohort.group) if cohort.group else "CAST(0 AS INTEGER)"
    kinds = {kind: [quoted(n) for n, info in cohort.variables.items() if info.kind in kinds]
             for kind, kinds in (("codes", ("categorical", "binary")),
                                 ("continuous", ("continuous",)), ("date", ("date",)))}
    queries = {}
    if kinds["codes"]:
        queries["counts"] = " UNION ALL ".join(
            f"SELECT '{column}' AS variable, {group} AS grp, {column} AS code, count(*) AS n "
            f"FROM {{cohort}} GROUP BY {group}, {column}" for column in kinds["codes"]) \
            + " ORDER BY variable, grp NULLS LAST, code NULLS LAST"
    if kinds["continuous"]:
        queries["continuous"] = (f"SELECT {group} AS grp, " + ", ".join(
            f"count({c}) AS n{i}, avg({c}) AS mean{i}, stddev_samp({c}) AS sd{i}, "
            + ", ".join(f"quantile_cont({c}, {p}) AS q{i}_{j}"
                        for j, p in enumerate((0.1, 0.25, 0.5, 0.75, 0.9)))
            for i, c in enumerate(kinds["continuous"]))
            + f" FROM {{cohort}} GROUP BY {group} ORDER BY grp NULLS LAST")
    if kinds["date"]:
        queries["dates"] = (f"SELECT {group} AS grp, " + ", ".join(
            f"min({c}) AS first{i}, max({c}) AS last{i}, count({c}) AS n{i}"
            for i, c in enumerate(kinds["date"]))
            + f" FROM {{cohort}} GROUP BY {group} ORDER BY grp NULLS LAST")
    queries["endpoints"] = " UNION ALL ".join(
        f"SELECT '{name}' AS endpoint, {group} AS grp, {ep.time} AS time, "
        f"sum(CASE WHEN {ep.status} = 1 THEN 1 ELSE 0 END) AS events, "
        f"sum(CASE WHEN {ep.status} > 1 THEN 1 ELSE 0 END) AS competing, "
        f"count(*) AS n, sum(count(*)) OVER (PARTITION BY {group} ORDER BY {ep.time} DESC "
        f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS at_risk "
        f"FROM {{cohort}} WHERE {ep.time} IS NOT NULL GROUP BY {group}, {ep.time}"
        for name, ep in cohort.endpoints.items()) \
        + " ORDER BY endpoint, grp NULLS LAST, time"
    return queries


TEST_COHORTS = [None, "tests/data/e2e/trial3.toml", "tests/data/e2e/cr_pbc.toml"]


@needs_spark
@pytest.mark.parametrize("config", TEST_COHORTS, ids=["demo", "trial3", "cr_pbc"])
def test_test_cohorts_give_the_same_aggregates_on_spark(engines, config):
    from cohortpress.testing import load_demo_cohort

    cohort = load_demo_cohort(REPO / config if config else None)
    duck = engine_cohort_from_frame(cohort)
    spark = on_spark(duck)
    queries = cohort_queries(duck)
    assert cohort.endpoints and len(queries) >= 3
    for name, sql in queries.items():
        assert_same(duck.query(sql), spark.query(sql), f"{config or 'demo'}: {name}")


# --------------------------------------------------------------------------- sources


@needs_spark
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_spark_reads_the_source_file_and_types_it_in_a_view(engines, tmp_path, fmt):
    rows = made_up_rows(400, seed=4)
    path = tmp_path / f"cohort.{fmt}"
    if fmt == "parquet":
        # Spark reads timestamps in microseconds, not pandas' default nanoseconds.
        rows.to_parquet(path, coerce_timestamps="us")
        scan = f"read_parquet('{path.as_posix()}')"
    else:
        rows.to_csv(path, index=False)
        scan = f"read_csv('{path.as_posix()}', header = true, all_varchar = true)"
    typed = (f"CREATE VIEW cohort AS SELECT CAST(g AS INTEGER) AS g, CAST(s AS INTEGER) AS s, "
             f"CAST(x AS DOUBLE) AS x, CAST(t AS DOUBLE) AS t, CAST(st AS INTEGER) AS st, "
             f"CAST(d AS DATE) AS d FROM {FILE_VIEW}")
    duck = EngineCohort(spec=BackendSpec(statements=(
        f"CREATE VIEW {FILE_VIEW} AS SELECT * FROM {scan}", typed)), variables={})
    spark = EngineCohort(spec=BackendSpec(kind="spark", statements=(typed,),
                                          options=source_options(**{fmt: str(path)})),
                         variables={})
    for name in ("counts by group", "quantiles", "events per time with the risk set"):
        assert_same(duck.query(QUERIES[name]), spark.query(QUERIES[name]), f"{fmt}: {name}")


@needs_spark
def test_an_unreadable_source_is_one_line(engines, tmp_path):
    spec = BackendSpec(kind="spark", options=source_options(parquet=str(tmp_path / "none")))
    with pytest.raises(DataError, match=r"^Spark cannot read parquet source '.*none': "):
        open_backend(spec)


def test_a_source_is_exactly_one_of_parquet_csv_or_table():
    assert source_options(table="registry.patients") == {
        "source_format": "table", "source_table": "registry.patients"}
    with pytest.raises(ValueError):
        source_options(parquet="a.parquet", table="t")
    assert math.isfinite(RTOL)


# --------------------------------------------------------------------------- the typed view

VIEW_CONFIGS = ["tests/data/e2e/trial3.toml", "tests/data/e2e/cr_mgus2.toml"]


def load_engine(config_path: Path, **cohort_keys):
    """The engine cohort a build makes of a config's source (no section run)."""
    from dataclasses import replace

    from cohortpress.app.load import load_cohort
    from cohortpress.app.plan import plan_build

    plan = plan_build(config_path)
    config = plan.config
    cohort = config.cohort.model_copy(update={"statistics": "engine", **cohort_keys})
    return load_cohort(replace(plan, config=config.model_copy(update={"cohort": cohort}),
                               sections=[]))


@needs_spark
@pytest.mark.parametrize("config", VIEW_CONFIGS, ids=["trial3", "cr_mgus2"])
def test_engine_spark_builds_the_same_typed_view_from_the_file(engines, config):
    duck = load_engine(REPO / config)
    spark = load_engine(REPO / config, engine="spark")
    assert spark.spec.kind == "spark" and duck.spec.kind == "duckdb"
    assert spark.source_info["engine"].startswith("spark ")
    assert (spark.n, dict(spark.variables), list(spark.endpoints)) == \
        (duck.n, dict(duck.variables), list(duck.endpoints))
    order = f"ORDER BY {quoted(duck.id_column)}"
    assert_same(duck.query(f"SELECT * FROM {{cohort}} {order}"),
                spark.query(f"SELECT * FROM {{cohort}} {order}"), config)


# --------------------------------------------------------------------------- config keys

CONFIG_HEAD = '[report]\ntitle = "t"\n[cohort]\npath = "c.csv"\n'


@pytest.mark.parametrize("keys, key, message", [
    ('spark_master = "local[1]"', "cohort", "spark_master applies only to engine = \"spark\""),
    ('spark_conf = { "spark.executor.memory" = "2g" }', "cohort",
     "spark_conf applies only to engine = \"spark\""),
    ('engine = "spark"\nstatistics = "rows"', "cohort.statistics", "from aggregates"),
    ('engine = "spark"\ntable = "patients"', "cohort.table", "does not apply to engine"),
    ('engine = "spark"\nquery = "SELECT * FROM cohort"', "cohort.query",
     "does not apply to engine"),
    ('engine = "spark"\nsheet = 1', "cohort.sheet", "does not apply to engine"),
])
def test_each_spark_key_is_refused_where_it_does_not_apply(tmp_path, keys, key, message):
    from cohortpress.common.errors import ConfigError
    from cohortpress.config.schema import load_config

    (tmp_path / "c.csv").write_text("id,a\n1,x\n")
    (tmp_path / "report.toml").write_text(CONFIG_HEAD + keys + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "report.toml")
    assert caught.value.key == key and message in str(caught.value)


def test_spark_reads_parquet_and_csv_only(tmp_path):
    from cohortpress.common.errors import ConfigError
    from cohortpress.config.schema import load_config
    from cohortpress.data.duck import source_kind

    (tmp_path / "c.xlsx").write_bytes(b"")
    (tmp_path / "report.toml").write_text(CONFIG_HEAD.replace("c.csv", "c.xlsx")
                                          + 'engine = "spark"\n')
    with pytest.raises(ConfigError, match="Spark reads Parquet and CSV files, not Excel"):
        source_kind(load_config(tmp_path / "report.toml"))


def test_spark_keys_are_accepted_with_spark(tmp_path):
    from cohortpress.config.schema import load_config

    (tmp_path / "c.csv").write_text("id,a\n1,x\n")
    (tmp_path / "report.toml").write_text(
        CONFIG_HEAD + 'engine = "spark"\nspark_master = "local[1]"\n'
        'spark_conf = { "spark.sql.shuffle.partitions" = "1" }\n')
    cohort = load_config(tmp_path / "report.toml").cohort
    assert (cohort.engine, cohort.spark_master, cohort.spark_conf) == \
        ("spark", "local[1]", {"spark.sql.shuffle.partitions": "1"})


# --------------------------------------------------------------------------- report sections

#: Sections of tests/data/e2e/trial3.toml run on both engines: competing risks with Gray's
#: test, and a Cox model (Newton steps from per-time sums). Table 1 (t1_arm) gives the same
#: records too, but asks many small queries, each a Spark job: its aggregates are in
#: QUERIES above, and the section is left out to keep the module's time down.
SECTIONS = {"prog_cuminc": 1e-12, "cox_os": 1e-8, "xt_stage_arm": 1e-12, "glance": 1e-12}


def trial3_sections() -> dict[str, tuple[str, dict]]:
    import tomllib

    config = tomllib.loads((REPO / "tests/data/e2e/trial3.toml").read_text(encoding="utf-8"))
    return {s["id"]: (s["analysis"], {k: v for k, v in s.items()
                                      if k not in ("id", "analysis", "title")})
            for s in config["section"] if s["id"] in SECTIONS}


@needs_spark
def test_report_sections_give_the_same_records_on_spark(engines):
    from cohortpress.testing import load_demo_cohort
    from cohortpress.testing.run import run_analysis

    duck = engine_cohort_from_frame(load_demo_cohort(REPO / "tests/data/e2e/trial3.toml"))
    spark = on_spark(duck)
    sections = trial3_sections()
    assert sorted(sections) == sorted(SECTIONS)
    for section_id, (analysis, options) in sections.items():
        expected = run_analysis(analysis, options, duck).results
        found = run_analysis(analysis, options, spark).results
        assert len(found) == len(expected) > 0, section_id
        for a, b in zip(expected, found):
            a, b = a.as_dict(), b.as_dict()
            assert a.keys() == b.keys(), section_id
            for key, value in a.items():
                if isinstance(value, float) and isinstance(b[key], (int, float)):
                    assert (math.isnan(value) and math.isnan(b[key])) or \
                        b[key] == pytest.approx(value, rel=SECTIONS[section_id], abs=0), \
                        (section_id, key, a, b)
                else:
                    assert value == b[key], (section_id, key, a, b)
