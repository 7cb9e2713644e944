"""The typed view built in the engine from a DuckDB source is the in-memory cohort.

For every test cohort config, the :class:`EngineCohort` that ``cohort.statistics =
"engine"`` builds from the source holds exactly what
:func:`~cohortpress.data.engine.cohort.engine_frame` makes of the in-memory cohort: the
same variables and :class:`VariableInfo`, codes, endpoint times (1e-12 relative) and
statuses, the same n, with filters and section subsets; the same errors; and the SQL
typing of columns with many distinct values gives the lookup typing's view.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortpress.app.load import load_cohort
from cohortpress.app.plan import plan_build
from cohortpress.common.errors import UserError
from cohortpress.config.schema import Condition
from cohortpress.data.conditions import section_subset
from cohortpress.data.engine.cohort import engine_frame

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [*sorted((ROOT / "tests" / "data" / "e2e").glob("*.toml")),
           ROOT / "tests" / "data" / "disclosure" / "veteran.toml",
           ROOT / "examples" / "pbc" / "report.toml",
           *sorted((ROOT / "sample_reports").glob("*/report.toml"))]
REL = 1e-12


def load(config_path: Path, statistics: str, **cohort_keys):
    """The cohort of a config's plan (its sections' references; no section refused)."""
    plan = plan_build(config_path)
    config = plan.config
    cohort = config.cohort.model_copy(update={"statistics": statistics, **cohort_keys})
    plan = replace(plan, config=config.model_copy(update={"cohort": cohort}), sections=[])
    return load_cohort(plan)


def view_of(engine) -> pd.DataFrame:
    """The rows of the view, in patient order (a test may fetch them; analyses may not)."""
    rows = engine.query("SELECT * FROM {cohort}")
    return rows.sort_values(engine.id_column, kind="stable").reset_index(drop=True)


def assert_same(memory, engine) -> None:
    """The engine cohort holds exactly the view of the in-memory cohort."""
    assert getattr(engine, "engine", False)
    assert engine.n == memory.n
    assert dict(engine.variables) == dict(memory.variables)
    for name, endpoint in memory.endpoints.items():
        got = engine.endpoints[name]
        assert (got.label, got.unit, got.has_competing, got.definition, got.data_unit,
                got.cause_labels) == (endpoint.label, endpoint.unit, endpoint.has_competing,
                                      endpoint.definition, endpoint.data_unit,
                                      endpoint.cause_labels)
    assert list(engine.endpoints) == list(memory.endpoints)
    assert (engine.filter_text, engine.filter_unknown, engine.n_rows_read) == \
        (memory.filter_text, memory.filter_unknown, memory.n_rows_read)
    expected = engine_frame(memory)
    expected = expected.sort_values(memory.id_column, kind="stable").reset_index(drop=True)
    got = view_of(engine)
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected) == memory.n
    for column in expected.columns:
        want, have = expected[column], got[column]
        if column.endswith("__time") or (column in memory.variables and
                                         memory.variables[column].kind == "continuous"):
            a, b = want.to_numpy(dtype=float), have.to_numpy(dtype=float)
            assert np.array_equal(np.isnan(a), np.isnan(b)), column
            np.testing.assert_allclose(b[~np.isnan(b)], a[~np.isnan(a)], rtol=REL, atol=0,
                                       err_msg=column)
        elif column in memory.variables and memory.variables[column].kind == "date":
            assert pd.to_datetime(have).tolist() == pd.to_datetime(want).tolist(), column
        else:
            assert [None if pd.isna(v) else str(v) for v in have] == \
                [None if pd.isna(v) else str(v) for v in want], column


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_view_is_the_in_memory_cohort(config):
    assert_same(load(config, "rows"), load(config, "engine"))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_subsets_select_the_same_patients(config):
    memory, engine = load(config, "rows"), load(config, "engine")
    for name, info in memory.variables.items():
        if info.kind not in ("categorical", "binary", "continuous") or info.derived:
            continue
        if info.kind == "continuous":
            value = float(np.nanmedian(pd.to_numeric(memory.data[name], errors="coerce")))
            conditions = [Condition(variable=name, le=value)]
        else:
            conditions = [Condition(variable=name, is_in=list(info.levels[:1]))]
        try:
            mine = section_subset(memory, conditions, "section[0]")
        except UserError as exc:
            with pytest.raises(UserError) as raised:
                section_subset(engine, conditions, "section[0]")
            assert raised.value.message == exc.message
            continue
        theirs = section_subset(engine, conditions, "section[0]")
        assert theirs.n == mine.n, name
        assert theirs.filter_text == mine.filter_text
        ids = theirs.query(f'SELECT "{engine.id_column}" AS id FROM {{cohort}}')["id"]
        assert sorted(ids) == sorted(mine.data[memory.id_column].astype(str)), name


SMALL2 = ROOT / "tests" / "data" / "e2e" / "small2.toml"


@pytest.mark.parametrize("filters", [
    [{"variable": "grade", "ne": "low"}],
    [{"variable": "weight", "lt": 75}, {"variable": "group", "eq": "B"}],
    [{"variable": "site", "not_in": ["X"]}, {"variable": "score", "missing": False}],
    [{"variable": "biomarker", "ge": 5.5}, {"variable": "mutation", "in": ["present"]}],
])
def test_filters_keep_the_same_patients(filters):
    conditions = [Condition(**f) for f in filters]
    assert_same(load(SMALL2, "rows", filter=conditions),
                load(SMALL2, "engine", filter=conditions))


@pytest.mark.parametrize("condition", [
    {"variable": "weight", "gt": 1e9},          # keeps nobody
    {"variable": "grade", "eq": "extreme"},     # not a level
    {"variable": "weight", "eq": "heavy"},      # a word for a continuous variable
    {"variable": "group", "lt": 3},             # an order on words
])
def test_a_bad_filter_is_the_same_error(condition):
    conditions = [Condition(**condition)]
    messages = []
    for statistics in ("rows", "engine"):
        with pytest.raises(UserError) as raised:
            load(SMALL2, statistics, filter=conditions)
        messages.append(raised.value.one_line())
    assert messages[0] == messages[1]


def test_many_valued_columns_typed_by_sql_give_the_same_view(monkeypatch):
    """With a profile limit of 5 the continuous columns and ids are typed by SQL casts."""
    import cohortpress.data.duck as duck

    config = ROOT / "examples" / "pbc" / "report.toml"
    memory = load(config, "rows")
    monkeypatch.setattr(duck, "PROFILE_LIMIT", 5)
    try:
        engine = load(config, "engine")
    except UserError as exc:  # a categorical column with more than 5 values
        pytest.fail(str(exc))
    assert_same(memory, engine)


@pytest.mark.parametrize("config", [ROOT / "examples" / "pbc" / "report.toml",
                                    ROOT / "tests" / "data" / "e2e" / "trial3.toml"],
                         ids=["pbc", "trial3"])
def test_lookup_tables_give_the_case_expressions_view(monkeypatch, config):
    """Columns with many distinct values are joined to lookup tables: forced for all."""
    import cohortpress.data.engine.typing as typing

    monkeypatch.setattr(typing, "CASE_LIMIT", 0)
    assert_same(load(config, "rows"), load(config, "engine"))


def test_parquet_source_gives_the_same_view(tmp_path):
    folder = tmp_path / "pbc"
    shutil.copytree(ROOT / "examples" / "pbc", folder)
    pd.read_csv(folder / "pbc.csv").to_parquet(folder / "pbc.parquet")
    text = (folder / "report.toml").read_text(encoding="utf-8")
    (folder / "report.toml").write_text(text.replace('path = "pbc.csv"',
                                                     'path = "pbc.parquet"'), encoding="utf-8")
    assert_same(load(folder / "report.toml", "rows"), load(folder / "report.toml", "engine"))


@pytest.mark.parametrize("keys", ['table = "patients"',
                                  'query = "SELECT * FROM patients WHERE os_days >= 0"'],
                         ids=["table", "query"])
def test_duckdb_database_source_gives_the_same_view(tmp_path, keys):
    """A database is opened read-only: the engine's views live beside it, in memory."""
    import duckdb

    frame = pd.read_csv(SMALL2.with_suffix(".csv"))
    with duckdb.connect(str(tmp_path / "small2.duckdb")) as connection:
        connection.register("frame", frame)
        connection.execute("CREATE TABLE patients AS SELECT * FROM frame")
    text = SMALL2.read_text(encoding="utf-8").replace('path = "small2.csv"',
                                                      f'path = "small2.duckdb"\n{keys}')
    (tmp_path / "small2.toml").write_text(text, encoding="utf-8")
    assert_same(load(tmp_path / "small2.toml", "rows"), load(tmp_path / "small2.toml", "engine"))


# ---------------------------------------------------------------------------- errors


def broken(tmp_path: Path, change) -> Path:
    """small2 with its cohort changed by ``change(frame)``."""
    folder = tmp_path / "small2"
    folder.mkdir()
    shutil.copy(SMALL2, folder / "small2.toml")
    frame = pd.read_csv(SMALL2.with_suffix(".csv"), dtype=str, keep_default_na=False)
    change(frame)
    frame.to_csv(folder / "small2.csv", index=False)
    return folder / "small2.toml"


def both_errors(config: Path) -> tuple[UserError, UserError]:
    errors = []
    for statistics in ("rows", "engine"):
        with pytest.raises(UserError) as raised:
            load(config, statistics)
        errors.append(raised.value)
    return errors[0], errors[1]


def set_value(column: str, row: int, value: str):
    def change(frame):
        frame.loc[row, column] = value
    return change


@pytest.mark.parametrize("change, column", [
    (set_value("grade", 3, "extreme"), "grade"),          # a value not among the levels
    (set_value("weight", 4, "heavy"), "weight"),          # not a number
    (set_value("os_days", 2, "-5"), "os_days"),           # negative time
    (set_value("os_days", 5, ""), "os_days"),             # missing time
    (set_value("dead", 6, "7"), "dead"),                  # an event code in no list
    (set_value("group", 7, "C"), "group"),
])
def test_data_errors_are_the_in_memory_errors(tmp_path, change, column):
    memory, engine = both_errors(broken(tmp_path, change))
    assert engine.column == memory.column == column
    assert engine.message.startswith(memory.message), (engine.message, memory.message)
    assert "\n" not in engine.one_line()


@pytest.mark.parametrize("change", [set_value("id", 7, "S03"), set_value("id", 4, "")],
                         ids=["duplicate", "missing"])
def test_patient_id_errors_are_the_in_memory_errors(tmp_path, change):
    memory, engine = both_errors(broken(tmp_path, change))
    assert engine.one_line() == memory.one_line()


def test_colliding_id_hashes_fall_back_to_the_exact_check(monkeypatch):
    """Every id hashed alike (a collision for each pair): the exact check finds no
    duplicate, and the view is the in-memory one."""
    import cohortpress.data.engine.typing as typing

    monkeypatch.setattr(typing, "ID_HASH", "length({}) * 0")
    assert_same(load(SMALL2, "rows"), load(SMALL2, "engine"))


def test_a_missing_column_is_the_same_error(tmp_path):
    memory, engine = both_errors(broken(tmp_path, lambda f: f.drop(columns=["score"],
                                                                     inplace=True)))
    assert engine.one_line() == memory.one_line()


def test_an_unparseable_date_is_the_same_error(tmp_path):
    config = broken(tmp_path, lambda f: f.insert(1, "seen", ["2020-01-0%d" % (i % 9 + 1)
                                                             for i in range(len(f))]))
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[endpoints.os]", '[variables.seen]\nkind = "date"\n\n'
                                   "[endpoints.os]"), encoding="utf-8")
    frame = pd.read_csv(config.with_suffix(".csv"), dtype=str, keep_default_na=False)
    frame.loc[4, "seen"] = "31/12/2020"
    frame.to_csv(config.with_suffix(".csv"), index=False)
    memory, engine = both_errors(config)
    assert engine.one_line() == memory.one_line()


TRIAL3 = ROOT / "tests" / "data" / "e2e" / "trial3.toml"


def broken_trial3(tmp_path: Path, change) -> Path:
    folder = tmp_path / "trial3"
    folder.mkdir()
    shutil.copy(TRIAL3, folder / "trial3.toml")
    frame = pd.read_csv(TRIAL3.with_suffix(".csv"), dtype=str, keep_default_na=False)
    change(frame)
    frame.to_csv(folder / "trial3.csv", index=False)
    return folder / "trial3.toml"


@pytest.mark.parametrize("change, column", [
    (set_value("prog_date", 3, "1990-01-01"), "prog_date"),     # an event before the start
    (set_value("rand_date", 4, ""), "rand_date"),               # no start date
    (set_value("last_contact", 1, "1990-01-01"), "last_contact"),  # contact before start
    (set_value("ttf_status", 2, "unknown"), "ttf_status"),      # a code in no list
])
def test_date_endpoint_errors_are_the_in_memory_errors(tmp_path, change, column):
    memory, engine = both_errors(broken_trial3(tmp_path, change))
    assert engine.column == memory.column == column
    assert engine.message.startswith(memory.message), (engine.message, memory.message)
    assert "patient TR" in engine.message

# ---------------------------------------------------------------------- NaN and infinities
# TOML writes nan and inf; a Parquet DOUBLE column holds NaN apart from NULL, and +-Infinity.
# SQL engines order NaN above every number and make it equal to itself, where the in-memory
# path reads NaN as missing and Python never finds it equal to, below or above anything.

NAN, INF = float("nan"), float("inf")

CONDITIONS = [
    {"variable": "weight", "lt": NAN}, {"variable": "weight", "eq": NAN},
    {"variable": "weight", "ne": NAN}, {"variable": "weight", "ge": NAN},
    {"variable": "weight", "in": [NAN, 70.2]}, {"variable": "weight", "not_in": [NAN, 70.2]},
    {"variable": "weight", "in": [NAN]}, {"variable": "weight", "not_in": [NAN]},
    {"variable": "weight", "gt": INF}, {"variable": "weight", "lt": INF},
    {"variable": "weight", "ge": -INF}, {"variable": "weight", "ne": INF},
    {"variable": "weight", "in": [INF, 70.2]}, {"variable": "weight", "eq": 2 ** 70},
    {"variable": "grade", "eq": NAN}, {"variable": "grade", "in": ["it's", "a\\b"]},
]


def outcome(action):
    """The number of patients ``action`` keeps, or its error's one line."""
    try:
        return action().n
    except UserError as exc:
        return exc.one_line()


@pytest.fixture(scope="module")
def small2_both():
    """small2 from the rows and from the engine, loaded once for the module."""
    return load(SMALL2, "rows"), load(SMALL2, "engine")


@pytest.mark.parametrize("sql_comparison", [False, True], ids=["distinct values", "sql"])
@pytest.mark.parametrize("condition", CONDITIONS, ids=str)
def test_nan_and_infinite_bounds_select_as_in_memory(monkeypatch, small2_both, condition,
                                                     sql_comparison):
    """A section's subset, compared value by value (few distinct values) or in SQL (a
    continuous variable with many)."""
    import cohortpress.data.engine.conditions as engine_conditions

    if sql_comparison:
        if condition["variable"] != "weight":
            pytest.skip("only a continuous variable is compared in SQL")
        monkeypatch.setattr(engine_conditions, "DISTINCT_LIMIT", 1)
    conditions = [Condition(**condition)]
    memory, engine = small2_both
    assert outcome(lambda: section_subset(engine, conditions, "section[0]")) == \
        outcome(lambda: section_subset(memory, conditions, "section[0]"))


@pytest.mark.parametrize("condition", [{"variable": "weight", "le": NAN},
                                       {"variable": "weight", "not_in": [NAN, 70.2]},
                                       {"variable": "weight", "lt": INF}], ids=str)
def test_nan_and_infinite_bounds_filter_as_in_memory(monkeypatch, condition):
    """``cohort.filter`` with such a bound, compared in SQL."""
    import cohortpress.data.engine.conditions as engine_conditions

    monkeypatch.setattr(engine_conditions, "DISTINCT_LIMIT", 1)
    conditions = [Condition(**condition)]
    assert outcome(lambda: load(SMALL2, "engine", filter=conditions)) == \
        outcome(lambda: load(SMALL2, "rows", filter=conditions))


def parquet_small2(folder: Path, change, toml_change=lambda text: text) -> Path:
    """small2 as Parquet with its numbers as DOUBLE columns, changed by ``change(frame)``."""
    folder.mkdir()
    text = SMALL2.read_text(encoding="utf-8").replace('path = "small2.csv"',
                                                      'path = "small2.parquet"')
    (folder / "small2.toml").write_text(toml_change(text), encoding="utf-8")
    frame = pd.read_csv(SMALL2.with_suffix(".csv"))
    for column in ("biomarker", "score", "weight", "os_days", "dead"):
        frame[column] = frame[column].astype(float)
    change(frame)
    frame.to_parquet(folder / "small2.parquet")
    return folder / "small2.toml"


def setting(column: str, rows: list[int], value):
    def change(frame):
        frame.loc[rows, column] = value
    return change


def both(config: Path):
    """The cohort (or the error's one line) from the rows and from the engine."""
    found = []
    for statistics in ("rows", "engine"):
        try:
            found.append(load(config, statistics))
        except UserError as exc:
            found.append(exc.one_line().split(": ", 1)[1])
    return found


def censor_missing_causes(text: str) -> str:
    return text.replace('event = "dead"\n', 'event = "dead"\nmissing_cause = "censored"\n')


@pytest.fixture(params=[False, True], ids=["profiled", "typed by sql"])
def typed_by_sql(request, monkeypatch):
    """Columns typed from their distinct values, or (a profile limit of 5) by SQL casts."""
    if request.param:
        import cohortpress.data.duck as duck

        monkeypatch.setattr(duck, "PROFILE_LIMIT", 5)
    return request.param


@pytest.mark.parametrize("missing", [NAN, None], ids=["NaN", "NULL"])
@pytest.mark.parametrize("column, rows, toml_change", [
    ("weight", [1, 5, 20], None),                # continuous
    ("score", [2], None),                        # continuous, few values
    ("os_days", [3], None),                      # an endpoint's time: an error
    ("dead", [4], None),                         # an event code: an error...
    ("dead", [4, 9], censor_missing_causes),     # ... or censored
], ids=["weight", "score", "time", "event", "event censored"])
def test_nan_in_a_double_column_is_missing_as_in_memory(tmp_path, typed_by_sql, missing,
                                                        column, rows, toml_change):
    config = parquet_small2(tmp_path / "cohort", setting(column, rows, missing),
                            toml_change or (lambda text: text))
    memory, engine = both(config)
    if isinstance(memory, str):
        assert isinstance(engine, str), engine
        assert engine.startswith(memory.split(": row ")[0]), (memory, engine)
        assert memory.split("): ", 1)[-1] in engine, (memory, engine)
        return
    assert_same(memory, engine)


@pytest.mark.parametrize("value", [INF, -INF], ids=["inf", "-inf"])
@pytest.mark.parametrize("column", ["weight", "score", "os_days", "dead"])
def test_infinity_in_a_double_column_is_the_in_memory_error(tmp_path, typed_by_sql, value,
                                                            column):
    config = parquet_small2(tmp_path / "cohort", setting(column, [6], value))
    memory, engine = both(config)
    assert isinstance(memory, str) and isinstance(engine, str), (memory, engine)
    if " (1 row; first: " in engine:  # the endpoint checks count the rows instead
        assert engine.split(" (1 row; first: ")[0] == memory.replace(
            "row 7 (patient S07): ", "")
    else:
        assert engine == memory


@pytest.mark.parametrize("codes", [["inf"], ["-inf"], ["99"], ["99.0"], ["1e3"], ["nan"],
                                   ["Infinity"], [99], [1000.5]], ids=str)
def test_missing_codes_of_a_double_column_match_as_in_memory(tmp_path, typed_by_sql, codes):
    """A value is missing when its text (99.0 written "99") is a code, on both paths."""
    def change(frame):
        frame.loc[[1, 2], "weight"] = 99.0
        frame.loc[[3], "weight"] = 1000.0
        frame.loc[[4], "weight"] = 1000.5
        written = str(codes[0]).lower()
        if "inf" in written:  # else the in-memory error on an infinity would hide the rest
            frame.loc[[5], "weight"] = -INF if written.startswith("-") else INF

    def declare(text):
        return text.replace('unit = "kg"', f'unit = "kg"\nmissing = {json.dumps(codes)}'
                            .replace("NaN", "nan"))

    memory, engine = both(parquet_small2(tmp_path / "cohort", change, declare))
    if isinstance(memory, str):
        assert engine == memory
    else:
        assert_same(memory, engine)
