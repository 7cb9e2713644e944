"""Derived variables on the engine path give the in-memory Deriver's columns and metadata.

Each test builds a cohort in memory (with its derived variables), puts it into DuckDB
without them, adds them with :func:`cohortpress.data.engine.derive.derived_view`, and
compares row by row with :func:`engine_frame` of the in-memory cohort: the same codes,
values to 1e-15 relative, the same ``VariableInfo``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cohortpress.common.errors import DataError
from cohortpress.config.schema import Config, load_config
from cohortpress.data.derive import Deriver, derivation_order
from cohortpress.data.cohort import VariableInfo
from cohortpress.data.engine.backend import quoted
from cohortpress.data.engine.cohort import engine_cohort_from_frame, engine_frame
from cohortpress.data.engine.derive import LOOKUP_LIMIT, derived_view
from cohortpress.data.load import build_cohort
from cohortpress.testing import load_demo_cohort
from cohortpress.testing.demo import demo_config_path

ROOT = Path(__file__).resolve().parents[1]
ROW = "__row"


def engine_derived(cohort, config: Config, *, id_column=None):
    """(engine rows with the derived columns, the engine cohort) for an in-memory cohort:
    its typed rows without the derived columns (and with a row number) put into DuckDB
    by engine_cohort_from_frame, then derived_view."""
    names = derivation_order(config, set(config.derived))
    keep = [n for n in cohort.variables if n not in names]
    data = cohort.data[keep].assign(**{ROW: np.arange(cohort.n, dtype=float)})
    variables = {**{n: cohort.variables[n] for n in keep},
                 ROW: VariableInfo(ROW, ROW, "continuous")}
    base = dataclasses.replace(cohort, data=data, variables=variables, id_column=id_column)
    derived = derived_view(config, names, engine_cohort_from_frame(base))
    rows = derived.query(f"SELECT * FROM {{cohort}} ORDER BY {quoted(ROW)}")
    return rows, derived, names


def assert_same_derived(cohort, config: Config, *, id_column=None):
    rows, derived, names = engine_derived(cohort, config, id_column=id_column)
    expected = engine_frame(cohort)
    assert names, "the cohort has no derived variables to compare"
    assert len(rows) == len(expected)
    assert {n: derived.variables[n] for n in names} == {n: cohort.variables[n] for n in names}
    assert list(derived.variables)[-len(names):] == names
    for name in names:
        info = cohort.variables[name]
        got = pd.to_numeric(rows[name].astype(object).where(rows[name].notna(), np.nan))
        want = expected[name].astype(object).where(expected[name].notna(), np.nan)
        got, want = got.to_numpy(dtype=float), pd.to_numeric(want).to_numpy(dtype=float)
        if info.kind == "continuous":
            np.testing.assert_allclose(got, want, rtol=1e-15, atol=0, equal_nan=True,
                                       err_msg=name)
        else:
            np.testing.assert_array_equal(got, want, err_msg=name)
    return rows, derived


# --------------------------------------------------------------------------- real configs

CONFIGS = [
    ROOT / "tests/data/e2e/trial3.toml",
    ROOT / "tests/data/disclosure/veteran.toml",
    ROOT / "sample_reports/belgian_infant_leukaemia/report.toml",
    ROOT / "sample_reports/mll10_infant_kmt2a/report.toml",
]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem if p.stem != "report"
                         else p.parent.name)
def test_configs_with_derived_variables(path):
    config = load_config(path)
    cohort = load_demo_cohort(path)
    assert_same_derived(cohort, config)


# --------------------------------------------------------------------------- synthetic cohorts

def config_of(derived: dict, variables: dict | None = None) -> Config:
    return Config.model_validate({
        "report": {"title": "derived"},
        "cohort": {"path": "memory.csv", "id": "pid"},
        "variables": variables or {
            "grp": {"levels": ["a", "b", "c"]},
            "stage": {"levels": ["1", "2", "3", "4"], "missing": ["9"]},
            "yn": {"kind": "binary", "levels": ["no", "yes"]},
            "x": {"kind": "continuous"},
            "w": {"kind": "continuous"},
            "d0": {"kind": "date"},
            "d1": {"kind": "date"},
            "note": {"kind": "text"},
        },
        "derived": derived,
    })


def synthetic(n: int = 400, seed: int = 21) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.choice([-3.0, -0.0, 0.0, 1e-300, 0.5, 1.0, 10.0, 60.0, 70.0, 119.999, 120.0,
                    np.nan, 1e12], n)
    w = rng.normal(50, 30, n).round(3)
    w[rng.random(n) < 0.1] = np.nan
    start = pd.Timestamp("1999-12-31") + pd.to_timedelta(rng.integers(0, 4000, n), unit="D")
    end = start + pd.to_timedelta(rng.integers(-400, 3000, n), unit="D")
    # leap days and the turn of a leap century
    start = start.where(np.arange(n) % 7 != 0, pd.Timestamp("2000-02-29"))
    end = end.where(np.arange(n) % 11 != 0, pd.Timestamp("2004-02-29"))

    def text(values):
        return pd.Series(values, dtype=object).where(rng.random(n) > 0.1, None)

    return pd.DataFrame({
        "pid": [f"P{i:04d}" for i in range(n)],
        "grp": text(rng.choice(["a", "b", "c"], n)),
        "stage": text(rng.choice(["1", "2", "3", "4", "9"], n)),
        "yn": text(rng.choice(["no", "yes"], n)),
        "x": [None if np.isnan(v) else repr(float(v)) for v in x],
        "w": [None if np.isnan(v) else repr(float(v)) for v in w],
        "d0": text(start.strftime("%Y-%m-%d")),
        "d1": text(end.strftime("%Y-%m-%d")),
        "note": text(rng.choice([" alpha", "beta ", "gamma", "10", "2"], n)),
    }, dtype=object)


def check(derived: dict, raw: pd.DataFrame | None = None, variables: dict | None = None):
    config = config_of(derived, variables)
    raw = synthetic() if raw is None else raw
    cohort = build_cohort(config, raw)
    return assert_same_derived(cohort, config, id_column="pid")


@pytest.mark.parametrize("right", [False, True])
def test_cut_closure_and_break_boundaries(right):
    check({"band": {"type": "cut", "source": "w", "breaks": [-1000, 0, 50.5, 60, 1000],
                    "labels": ["neg", "low", "mid", "high"], "right": right},
           "exact": {"type": "cut", "source": "x",
                     "breaks": [-3.0, 0.0, 1e-300, 60.0, 120.0, 1e12],
                     "labels": ["a", "b", "c", "d", "e"], "right": right,
                     "label": "Exact edges", "unit": "u", "missing_label": "NK"}}
          if right else
          {"band": {"type": "cut", "source": "w", "breaks": [-1000, 0, 50.5, 60, 1000],
                    "labels": ["neg", "low", "mid", "high"]},
           "exact": {"type": "cut", "source": "x",
                     "breaks": [-3.0, 0.0, 1e-300, 60.0, 120.0, 1e13],
                     "labels": ["a", "b", "c", "d", "e"]}})


def test_cut_with_infinite_breaks():
    check({"band": {"type": "cut", "source": "x", "breaks": [float("-inf"), 0, float("inf")],
                    "labels": ["negative", "not negative"]}})


def engine_error(derived: dict, raw: pd.DataFrame | None = None) -> str:
    """The engine path's error for derived variables the in-memory path refuses too."""
    config = config_of(derived)
    raw = synthetic() if raw is None else raw
    with pytest.raises(DataError) as in_memory:
        build_cohort(config, raw)
    cohort = build_cohort(config_of({}), raw)
    with pytest.raises(DataError) as caught:
        engine_derived(cohort, config, id_column="pid")
    text = caught.value.one_line()
    assert "\n" not in text
    assert in_memory.value.key == caught.value.key
    return text


def test_cut_outside_the_breaks_is_one_line_naming_the_key():
    text = engine_error({"band": {"type": "cut", "source": "x", "breaks": [-3.0, 0.0, 120.0],
                                  "labels": ["a", "b"]}})
    assert "key 'derived.band.breaks'" in text and "column 'x'" in text
    assert "value 120.0 of 'x' is outside the breaks [-3.0, 0.0, 120.0]" in text
    assert "patients: P" in text


@pytest.mark.parametrize("function", ["log", "log2", "log10", "sqrt"])
def test_transform_functions(function):
    raw = synthetic()
    raw["w"] = [repr(float(v)) for v in np.random.default_rng(3).lognormal(0, 3, len(raw))]
    raw.loc[::9, "w"] = None
    raw.loc[1, "w"] = "1"
    check({"t": {"type": "transform", "source": "w", "function": function}}, raw)


def test_transform_scale_and_zero_for_sqrt():
    raw = synthetic()
    raw.loc[raw["x"].isin(["-3.0"]), "x"] = "0.0"
    check({"per10": {"type": "transform", "source": "w", "function": "scale", "per": 10},
           "per3": {"type": "transform", "source": "x", "function": "scale", "per": 3},
           "root": {"type": "transform", "source": "x", "function": "sqrt"}}, raw)


def test_the_first_refused_derived_variable_is_the_error_as_in_memory():
    cut = {"type": "cut", "source": "x", "breaks": [-3.0, 0.0, 120.0], "labels": ["a", "b"]}
    log = {"type": "transform", "source": "x", "function": "log"}
    assert "key 'derived.a_cut.breaks'" in engine_error({"a_cut": cut, "b_log": log})
    assert "key 'derived.a_log.function'" in engine_error({"a_log": log, "b_cut": cut})
    # a config error of a later derived variable comes after the refused values
    assert "key 'derived.a_cut.breaks'" in engine_error(
        {"a_cut": cut, "b_bad": {"type": "transform", "source": "nothing", "function": "log"}})


@pytest.mark.parametrize("function", ["log", "sqrt"])
def test_transform_undefined_is_one_line(function):
    text = engine_error({"t": {"type": "transform", "source": "x", "function": function}})
    assert "key 'derived.t.function'" in text and f"{function} of -3.0 is undefined" in text


@pytest.mark.parametrize("unit", ["days", "months", "years"])
def test_date_diff_units_across_leap_years(unit):
    check({"span": {"type": "date_diff", "start": "d0", "end": "d1", "unit_of_time": unit}})


def test_recode_with_and_without_other_and_levels():
    check({"r1": {"type": "recode", "source": "stage", "mapping": {"1": "early", "2": "early"}},
           "r2": {"type": "recode", "source": "grp", "mapping": {"a": "A"}, "other": "rest",
                  "levels": ["rest", "A"]},
           "r3": {"type": "recode", "source": "note", "mapping": {"alpha": "first"}},
           "r4": {"type": "recode", "source": "yn", "mapping": {"yes": "Y"}},
           "r5": {"type": "recode", "source": "x", "mapping": {"0": "zero", "-3": "minus"},
                  "other": "other"},
           "r6": {"type": "recode", "source": "d0", "other": "other",
                  "mapping": {"2000-02-29 00:00:00": "leap day"}}})


def test_recode_of_a_derived_variable_chains():
    check({"band": {"type": "cut", "source": "w", "breaks": [-1000, 50, 1000],
                    "labels": ["low", "high"]},
           "band2": {"type": "recode", "source": "band", "mapping": {"low": "L"}},
           "flag2": {"type": "flag", "when": [{"variable": "band2", "eq": "L"}]}})


def test_recode_levels_missing_a_value_is_the_same_error():
    with pytest.raises(DataError, match="derived.r.levels.*not among levels"):
        check({"r": {"type": "recode", "source": "grp", "mapping": {"a": "A"},
                     "levels": ["A"]}})


CONDITIONS = [
    {"variable": "w", "ge": 50}, {"variable": "w", "lt": 50.5}, {"variable": "x", "eq": 0},
    {"variable": "x", "ne": 60}, {"variable": "x", "le": 1e-300}, {"variable": "x", "gt": -0.0},
    {"variable": "x", "in": [1, 10, 120]}, {"variable": "x", "not_in": [1, 10]},
    {"variable": "x", "in": []}, {"variable": "grp", "not_in": []},
    {"variable": "grp", "eq": "b"}, {"variable": "grp", "ne": "b"},
    {"variable": "grp", "in": ["a", "c"]}, {"variable": "grp", "not_in": ["a"]},
    {"variable": "stage", "ge": 3}, {"variable": "stage", "lt": 2},
    {"variable": "yn", "eq": "yes"}, {"variable": "note", "eq": "gamma"},
    {"variable": "note", "in": ["alpha", "beta"]}, {"variable": "note", "le": 5},
    {"variable": "d0", "missing": True}, {"variable": "x", "missing": False},
]


@pytest.mark.parametrize("condition", CONDITIONS, ids=str)
def test_flag_of_each_condition(condition):
    raw = synthetic()
    if condition["variable"] == "note" and "le" in condition:
        raw["note"] = raw["note"].map(lambda v: v if v in ("10", "2", None) else "2")
    check({"f": {"type": "flag", "when": [condition], "yes": "Y", "no": "N"},
           "g": {"type": "flag", "when": [condition, {"variable": "grp", "ne": "c"}]}}, raw)


@pytest.mark.parametrize("unknown", ["skip", "missing"])
@pytest.mark.parametrize("default", [None, "rest"])
def test_case_chains(unknown, default):
    case = {"type": "case", "unknown": unknown, "cases": [
        {"when": [{"variable": "w", "ge": 60}, {"variable": "yn", "eq": "yes"}], "value": "hi"},
        {"when": [{"variable": "stage", "in": ["3", "4"]}], "value": "mid"},
        {"when": [{"variable": "d1", "missing": True}], "value": "nodate"},
        {"when": [{"variable": "x", "lt": 1}], "value": "hi"}]}
    if default is not None:
        case["default"] = default
    check({"c": case,
           "c2": {**case, "levels": ["mid", "hi"], "label": "Case", "missing_label": "?"}})


def test_condition_that_cannot_hold_is_the_same_error():
    assert "not a level" in engine_error(
        {"f": {"type": "flag", "when": [{"variable": "grp", "eq": "z"}]}})
    assert "'lt' compares numbers, but 'note' is text" in engine_error(
        {"f": {"type": "flag", "when": [{"variable": "note", "lt": 3}]}})
    assert "'d0' is a date" in engine_error(
        {"f": {"type": "flag", "when": [{"variable": "d0", "eq": 3}]}})


def test_unknown_source_is_the_same_error_with_did_you_mean():
    text = engine_error({"t": {"type": "transform", "source": "ww", "function": "log"}})
    assert "key 'derived.t.source'" in text and "unknown variable 'ww'" in text
    assert "did you mean" in text


def test_kmt2a_from_distinct_karyotypes():
    raw = synthetic()
    karyotypes = ["46,XX,t(4;11)(q21;q23)", "46,XY", "46,XX,t(9;11)(p22;q23)", "garbled",
                  "46,XY,del(11)(q23)", None]
    raw["note"] = [karyotypes[i % len(karyotypes)] for i in range(len(raw))]
    check({"k": {"type": "kmt2a", "source": "note", "kind": "karyotype"},
           "k2": {"type": "kmt2a", "source": "note", "deletion_counts": True,
                  "negative": "neg", "positive": "pos"}}, raw)


def test_many_distinct_text_values(monkeypatch):
    monkeypatch.setattr("cohortpress.data.engine.derive.LOOKUP_LIMIT", 3)
    check({"f": {"type": "flag", "when": [{"variable": "note", "in": ["gamma", "10"]}]},
           "g": {"type": "flag", "when": [{"variable": "note", "ne": "gamma"}]}})
    cohort = build_cohort(config_of({}), synthetic())
    for derived, key in (({"r": {"type": "recode", "source": "note", "mapping": {"10": "t"}}},
                          "derived.r.source"),
                         ({"f": {"type": "flag", "when": [{"variable": "note", "ge": 3}]}},
                          "derived.f.when[0]")):
        with pytest.raises(DataError) as caught:
            engine_derived(cohort, config_of(derived))
        text = caught.value.one_line()
        assert f"key '{key}'" in text and "more than 3 distinct values" in text


def test_lookup_tables_are_returned_for_reopening():
    config = config_of({"r": {"type": "recode", "source": "grp", "mapping": {"a": "A"}}})
    cohort = build_cohort(config, synthetic())
    _, derived, _ = engine_derived(cohort, config)
    assert {"derived__r"} <= set(derived.spec.frames)
    assert len(derived.spec.frames["derived__r"]) <= LOOKUP_LIMIT


def test_demo_cohort_with_every_kind():
    """Derived variables added to the demo config, derived in memory from its typed rows."""
    cohort = load_demo_cohort()
    kinds = {n: i.kind for n, i in cohort.variables.items()}
    continuous = next(n for n, k in kinds.items() if k == "continuous")
    categorical = next(n for n, k in kinds.items() if k == "categorical")
    levels = cohort.variables[categorical].levels
    derived = Config.model_validate({"report": {"title": "t"}, "cohort": {"path": "x.csv"},
                                     "derived": {
        "c1": {"type": "cut", "source": continuous, "breaks": [-1e9, 40, 60, 1e9],
               "labels": ["lo", "mid", "hi"], "right": True},
        "r1": {"type": "recode", "source": categorical, "mapping": {levels[0]: "first"}},
        "f1": {"type": "flag", "when": [{"variable": continuous, "ge": 50},
                                        {"variable": categorical, "eq": levels[-1]}]},
        "s1": {"type": "transform", "source": continuous, "function": "scale", "per": 7},
        "k1": {"type": "case", "cases": [{"when": [{"variable": "c1", "eq": "hi"}],
                                          "value": "old"}], "default": "young"},
    }}).derived
    config = load_config(demo_config_path()).model_copy(update={"derived": derived})
    deriver = Deriver(config, cohort.data, dict(cohort.variables), typer=None)
    for name in derivation_order(config, set(derived)):
        deriver.derive(name)
    full = dataclasses.replace(cohort, data=deriver.frame, variables=deriver.infos)
    assert_same_derived(full, config)


# --------------------------------------------------------------------------- from the source

def engine_cohort_of_source(config: Config):
    """The engine cohort e21data's view builder makes from the config's own source file."""
    from cohortpress.data.duck import open_source, source_kind
    from cohortpress.data.engine.view import build_engine_cohort
    from cohortpress.data.load import needed_columns

    engine = config.model_copy(update={"cohort": config.cohort.model_copy(
        update={"statistics": "engine"})})
    with open_source(engine, source_kind(engine), str(config.cohort.path)) as source:
        return build_engine_cohort(engine, source, sorted(needed_columns(engine, [])), [], {})


def assert_same_as_source(config: Config, cohort) -> None:
    """Derived columns of the engine cohort built from the source file, patient by patient."""
    engine = engine_cohort_of_source(config)
    names = [n for n, info in cohort.variables.items() if info.derived]
    assert names and engine.n == cohort.n
    assert {n: engine.variables[n] for n in names} == {n: cohort.variables[n] for n in names}
    ids = cohort.id_column
    rows = engine.query(f"SELECT * FROM {{cohort}} ORDER BY {quoted(ids)}")
    expected = engine_frame(cohort).assign(**{ids: cohort.data[ids].astype(str).to_numpy()})
    expected = expected.sort_values(ids, kind="stable").reset_index(drop=True)
    assert rows[ids].astype(str).tolist() == expected[ids].tolist()
    for name in names:
        got = pd.to_numeric(rows[name].astype(object).where(rows[name].notna(), np.nan))
        want = pd.to_numeric(expected[name].astype(object).where(expected[name].notna(),
                                                                 np.nan))
        np.testing.assert_allclose(got.to_numpy(dtype=float), want.to_numpy(dtype=float),
                                   rtol=1e-15, atol=0, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("path", CONFIGS[:2], ids=lambda p: p.stem)
def test_test_cohorts_from_their_source_files(path):
    assert_same_as_source(load_config(path), load_demo_cohort(path))


def test_every_kind_from_a_csv_source(tmp_path):
    derived = {
        "c1": {"type": "cut", "source": "w", "breaks": [-1000, 0, 50.5, 60, 1000],
               "labels": ["neg", "low", "mid", "high"], "right": True},
        "t1": {"type": "transform", "source": "w", "function": "scale", "per": 3},
        "span": {"type": "date_diff", "start": "d0", "end": "d1", "unit_of_time": "months"},
        "r1": {"type": "recode", "source": "stage", "mapping": {"1": "early", "2": "early"}},
        "r2": {"type": "recode", "source": "c1", "mapping": {"neg": "low"}},
        "f1": {"type": "flag", "when": [{"variable": "x", "ge": 1}, {"variable": "yn",
                                                                      "eq": "yes"}]},
        "k1": {"type": "case", "unknown": "missing", "default": "rest", "cases": [
            {"when": [{"variable": "r1", "eq": "early"}], "value": "E"},
            {"when": [{"variable": "note", "in": ["gamma", "10"]}], "value": "G"}]},
    }
    raw = synthetic()
    raw.to_csv(tmp_path / "cohort.csv", index=False)
    config = config_of(derived).model_copy(update={
        "source": tmp_path / "report.toml",
        "cohort": config_of({}).cohort.model_copy(update={"path": tmp_path / "cohort.csv"})})
    assert_same_as_source(config, build_cohort(config, pd.read_csv(
        tmp_path / "cohort.csv", dtype=str, keep_default_na=False).replace("", None)))


# --------------------------------------------------------------------------- random edges

EDGES = [-np.inf, -5.0, -0.0, 5e-324, 1e-300, 0.1, 0.30000000000000004, 1.0, 2.5, 1e300,
         np.inf]


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(breaks=st.lists(st.sampled_from(EDGES), min_size=2, max_size=6, unique=True),
       values=st.lists(st.sampled_from([*EDGES[1:-1], 0.0, None, 0.2, 3.0]), min_size=3,
                       max_size=30),
       right=st.booleans(), bound=st.sampled_from(EDGES[1:-1]),
       op=st.sampled_from(["lt", "le", "gt", "ge", "eq", "ne"]))
def test_random_edges_of_cuts_and_comparisons(breaks, values, right, bound, op):
    """Values on and next to the breaks and bounds, the infinities and -0.0 included."""
    breaks = sorted(set(breaks))
    assume(len(breaks) >= 2)
    inside = [v for v in values if v is None or (
        (breaks[0] <= v <= breaks[-1]) and (right or v < breaks[-1]))]
    assume(any(v is not None for v in inside))
    raw = pd.DataFrame({"pid": [f"P{i}" for i in range(len(inside))],
                        "x": [None if v is None else repr(float(v)) for v in inside]},
                       dtype=object)
    config = config_of({
        "c": {"type": "cut", "source": "x", "breaks": breaks, "right": right,
              "labels": [f"b{i}" for i in range(len(breaks) - 1)]},
        "f": {"type": "flag", "when": [{"variable": "x", op: bound}]},
        "k": {"type": "case", "unknown": "missing", "default": "none", "cases": [
            {"when": [{"variable": "c", "eq": "b0"}], "value": "first"},
            {"when": [{"variable": "x", op: bound}], "value": "bound"}]},
    }, {"x": {"kind": "continuous"}})
    assert_same_derived(build_cohort(config, raw), config)


@pytest.mark.parametrize("derived", [
    {"f": {"type": "flag", "when": [{"variable": "w", "lt": float("nan")}], "yes": "Y", "no": "N"}},
    {"f": {"type": "flag", "when": [{"variable": "w", "ne": float("nan")}], "yes": "Y", "no": "N"}},
    {"f": {"type": "flag", "when": [{"variable": "x", "in": [float("nan"), 60.0]}]}},
    {"f": {"type": "flag", "when": [{"variable": "x", "not_in": [float("nan"), float("inf"), 60.0]}]}},
    {"f": {"type": "case", "cases": [{"when": [{"variable": "w", "gt": float("nan")}], "value": "a"}],
           "default": "b"}},
    {"s": {"type": "transform", "source": "w", "function": "scale", "per": float("nan")}},
    {"s": {"type": "transform", "source": "w", "function": "scale", "per": float("inf")}},
    {"f": {"type": "flag", "when": [{"variable": "note", "in": ["it's", "a\\b", "10"]}]}},
], ids=str)
def test_nan_and_infinity_in_derived_variables_as_in_memory(derived):
    """TOML's nan and inf as bounds and divisors: what Python's comparisons make of them."""
    check(derived)
