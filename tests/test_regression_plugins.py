"""The cox and logistic analyses on data that defeats a model.

Separation, non-convergence, collinear or constant covariates and too few events must each
give a flag and one clear footnote in the table — never an estimate such as an HR of 1e9 with
a CI of 0 to infinity — and the rest of the report must be built.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortpress.app.build import Progress, build


def _cohort(n: int = 120, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 10, n).round(1)
    arm = rng.choice(["A", "B"], n)
    time = rng.exponential(4, n).round(3) + 0.01
    status = rng.choice([0, 1], n, p=[0.4, 0.6])
    # separated for the logistic outcome: every 'marker = yes' patient responds
    response = rng.choice(["no", "yes"], n)
    marker = np.where(rng.random(n) < 0.25, "yes", "no")
    response = np.where(marker == "yes", "yes", response)
    # separated for Cox: nobody with 'protected = yes' has an event
    protected = np.where(rng.random(n) < 0.3, "yes", "no")
    status = np.where(protected == "yes", 0, status)
    return pd.DataFrame({
        "id": [f"P{i:03d}" for i in range(n)], "arm": arm, "age": age,
        "age_twice": age * 2, "constant": np.ones(n), "marker": marker,
        "protected": protected, "response": response, "time": time, "status": status,
        "one_event": np.r_[1, np.zeros(n - 1, dtype=int)],
    })


CONFIG = """
[report]
title = "Models that cannot be fitted"
exports = ["csv"]
[cohort]
path = "cohort.csv"
id = "id"
[variables.marker]
kind = "binary"
levels = ["no", "yes"]
[variables.protected]
kind = "binary"
levels = ["no", "yes"]
[variables.response]
levels = ["no", "yes"]
positive = "yes"
[variables.constant]
kind = "continuous"
[endpoints.os]
time = "time"
time_unit = "years"
event = "status"
[endpoints.single]
time = "time"
time_unit = "years"
event = "one_event"

[[section]]
id = "overview"
analysis = "overview"
endpoints = ["os"]

[[section]]
id = "logit_separated"
analysis = "logistic"
outcome = "response"
covariates = ["arm", "age", "marker"]

[[section]]
id = "logit_firth"
analysis = "logistic"
outcome = "response"
covariates = ["arm", "age", "marker"]
firth = true

[[section]]
id = "cox_separated"
analysis = "cox"
endpoint = "os"
covariates = ["arm", "age", "protected"]

[[section]]
id = "cox_collinear"
analysis = "cox"
endpoint = "os"
covariates = ["age", "age_twice"]

[[section]]
id = "cox_constant"
analysis = "cox"
endpoint = "os"
covariates = ["arm", "constant"]

[[section]]
id = "cox_single_event"
analysis = "cox"
endpoint = "single"
covariates = ["arm", "age"]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    _cohort().to_csv(folder / "cohort.csv", index=False)
    (folder / "report.toml").write_text(CONFIG, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def built(project):
    folder = project
    out = folder / "out"
    outcome = build(folder / "report.toml", out, progress=Progress(quiet=True))
    records = json.loads((out / "results.json").read_text(encoding="utf-8"))["results"]
    tables = {p.stem: p.read_text(encoding="utf-8") for p in (out / "tables").glob("*.csv")}
    return outcome, records, tables


def _records(records, section, **where):
    return [r for r in records if r["section"] == section
            and all(r.get(k) == v for k, v in where.items())]


def test_every_section_is_built_and_none_fails(built):
    outcome, _, tables = built
    assert outcome.exit_code == 0
    assert not [s.id for s in outcome.sections if s.failed]
    assert "overview" in tables


def test_a_separated_logistic_covariate_is_flagged_not_estimated(built):
    _, records, tables = built
    text = tables["logit_separated"]
    assert "not estimable" in text
    assert "separation" in text
    assert not _records(records, "logit_separated", variable="marker", stat_name="or")
    # the other covariates are estimated, with finite odds ratios
    ors = _records(records, "logit_separated", variable="age", stat_name="or")
    assert ors and all(math.isfinite(r["stat"]) and 0.1 < r["stat"] < 10 for r in ors)


def test_a_separated_cox_covariate_is_flagged_never_an_absurd_hazard_ratio(built):
    _, records, tables = built
    text = tables["cox_separated"]
    assert "not estimable" in text and "monotone likelihood" in text
    for r in _records(records, "cox_separated", stat_name="hr"):
        assert r["variable"] != "protected"
        assert 1e-3 < r["stat"] < 1e3
    for r in _records(records, "cox_separated", stat_name="conf.high"):
        assert r["stat"] is not None and r["stat"] < 1e3


def test_collinear_covariates_give_one_clear_line(built):
    _, records, tables = built
    text = tables["cox_collinear"]
    assert "collinear" in text
    # each covariate alone is fine in its univariable model
    assert _records(records, "cox_collinear", variable="age", group_level="univariable",
                    stat_name="hr")


def test_a_constant_covariate_is_named(built):
    _, _, tables = built
    text = tables["cox_constant"]
    assert "not estimable" in text
    assert "constant" in text


def test_a_single_event_gives_a_flag_or_a_finite_estimate(built):
    _, records, tables = built
    hrs = _records(records, "cox_single_event", stat_name="hr")
    assert "not estimable" in tables["cox_single_event"] or \
        all(math.isfinite(r["stat"]) for r in hrs)
    for r in hrs:
        assert 1e-6 < r["stat"] < 1e6


def test_few_events_per_variable_are_warned_about(built):
    outcome, _, _ = built
    section = next(s for s in outcome.sections if s.id == "cox_single_event")
    assert any("events for" in w and "per parameter" in w for w in section.warnings) or \
        any(b.kind == "table" and "not estimable" in str(b) for b in section.blocks)


def test_firth_gives_a_finite_penalised_estimate_for_the_separated_covariate(built):
    _, records, tables = built
    ors = _records(records, "logit_firth", variable="marker", stat_name="or")
    assert len(ors) == 2  # univariable and multivariable
    for r in ors:
        assert math.isfinite(r["stat"]) and r["stat"] > 1
    highs = _records(records, "logit_firth", variable="marker", stat_name="conf.high")
    assert all(r["stat"] is not None and math.isfinite(r["stat"]) for r in highs)
    assert "Firth" in tables["logit_firth"]


def test_flagged_tables_are_rebuilt_from_their_records_alone(project):
    """Flags, their footnotes and the models' notes are records too: each table, rebuilt
    from its section's records after a round trip through ``results.json``'s form, is the
    table the section shows."""
    import importlib

    from cohortpress.api.blocks import Table
    from cohortpress.api.results import Result
    from cohortpress.api.sections import SectionContext
    from cohortpress.app.build import load_cohort, plan_build
    from cohortpress.app.run import run_section

    plan = plan_build(project / "report.toml")
    cohort = load_cohort(plan)
    flagged = 0
    for planned in plan.sections:
        if planned.analysis.name not in ("cox", "logistic"):
            continue
        section = run_section(planned, cohort, plan.config, timeout=600)
        records = [Result(**r.as_dict()) for r in section.results]
        module = importlib.import_module(planned.analysis.run.__module__)
        context = SectionContext(id=section.id, title=section.title)
        rebuilt = module.tables_from_records(records, planned.options, context)
        assert tuple(rebuilt) == tuple(b for b in section.blocks if isinstance(b, Table))
        flagged += any(r.stat_name == "not.estimable" for r in records)
    assert flagged >= 4
