"""The ``finegray`` analysis through the whole pipeline, against R cmprsk::crr.

Two cohorts of tests/data/finegray (exported by tests/fixtures/r/finegray.R) are turned
into what a registry holds: a start date, the date of each cause and a last-contact date,
with a config declaring a date endpoint with ``competing`` dates. ``cohortpress build``
must reproduce crr's coefficients, robust standard errors and p-values (the date endpoint
changes the time scale, which the model does not see: it uses only the order of the
times). The table must be its records, and a non-competing endpoint one error line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortpress.app.build import Progress, build
from cohortpress.api.results import Result
from cohortpress.api.sections import SectionContext

HERE = Path(__file__).parent
FIXTURE = json.loads((HERE / "fixtures" / "finegray.json").read_text())
RTOL = 1e-6
START = pd.Timestamp("2000-01-01")
EDEMA = {"0": "none", "0.5": "resolved or untreated", "1": "despite diuretics"}


def _dated(frame: pd.DataFrame, days_per_unit: float, causes: dict[int, str]) -> pd.DataFrame:
    """Dates from times: each cause's date where it happened, last contact for everyone."""
    end = START + pd.to_timedelta(np.round(frame["time"] * days_per_unit), unit="D")
    out = frame.drop(columns=["time", "status"]).copy()
    out.insert(0, "id", [f"P{i:04d}" for i in range(len(frame))])
    out["start"] = START.date().isoformat()
    for code, column in causes.items():
        out[column] = np.where(frame["status"] == code, end.dt.strftime("%Y-%m-%d"), "")
    out["last_contact"] = end.dt.strftime("%Y-%m-%d")
    return out


PBC_TOML = """
[report]
title = "Fine-Gray on pbc"
[cohort]
path = "cohort.csv"
id = "id"
[variables.age]
label = "Age"
[variables.bili]
label = "Bilirubin"
[variables.edema]
label = "Edema"
kind = "categorical"
levels = ["none", "resolved or untreated", "despite diuretics"]
[endpoints.death]
label = "Death"
start = "start"
events = ["death_date"]
competing = ["transplant_date"]
last_contact = "last_contact"
[endpoints.transplant]
label = "Transplant"
start = "start"
events = ["transplant_date"]
competing = ["death_date"]
last_contact = "last_contact"

[[section]]
id = "fg_death"
analysis = "finegray"
endpoint = "death"
covariates = ["age", "edema", "bili"]

[[section]]
id = "fg_transplant"
analysis = "finegray"
endpoint = "transplant"
covariates = ["age", "edema", "bili"]
"""

MGUS_TOML = """
[report]
title = "Fine-Gray on mgus2"
[cohort]
path = "cohort.csv"
id = "id"
[variables.sex]
kind = "binary"
levels = ["F", "M"]
[endpoints.progression]
label = "Progression"
start = "start"
events = ["progression_date"]
competing = ["death_date"]
last_contact = "last_contact"

[[section]]
id = "fg"
analysis = "finegray"
endpoint = "progression"
covariates = ["age", "sex", "hgb"]
conf_level = 0.9
"""


def _build(folder: Path, toml: str, frame: pd.DataFrame):
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "cohort.csv", index=False)
    (folder / "report.toml").write_text(toml, encoding="utf-8")
    outcome = build(folder / "report.toml", folder / "out", progress=Progress(quiet=True))
    records = json.loads((folder / "out" / "results.json").read_text())["results"]
    return outcome, records


@pytest.fixture(scope="module")
def pbc_built(tmp_path_factory):
    frame = pd.read_csv(HERE / "data" / "finegray" / "pbc.csv", dtype={"edema": str})
    frame["edema"] = frame["edema"].map(EDEMA)
    dated = _dated(frame, 1.0, {2: "death_date", 1: "transplant_date"})
    return _build(tmp_path_factory.mktemp("fg_pbc"), PBC_TOML, dated)


@pytest.fixture(scope="module")
def mgus_built(tmp_path_factory):
    frame = pd.read_csv(HERE / "data" / "finegray" / "mgus2.csv")
    dated = _dated(frame, 30.0, {1: "progression_date", 2: "death_date"})
    return _build(tmp_path_factory.mktemp("fg_mgus"), MGUS_TOML, dated)


def _model(cohort: str, cause: int, terms) -> dict:
    return next(m for m in FIXTURE[cohort]["models"] if m["cause"] == cause
                and list(np.atleast_1d(m["terms"])) == list(terms))


def _where(records, section, **where):
    return [r for r in records if r["section"] == section and r["context"] == "crr"
            and all(r.get(k) == v for k, v in where.items())]


def _column_key(column: str, levels: dict[str, str]) -> tuple[str, str | None]:
    """crr's design column name -> (variable, level label) of the records."""
    for variable, mapping in levels.items():
        for code, label in mapping.items():
            if column == variable + code:
                return variable, label
    return column, None


def _compare(records, section, model, title, levels) -> float:
    worst = 0.0
    for i, column in enumerate(np.atleast_1d(model["columns"])):
        variable, level = _column_key(column, levels)
        for stat, key in (("estimate", "coef"), ("std.error", "se"), ("p.value", "p")):
            (record,) = _where(records, section, variable=variable, variable_level=level,
                               group_level=title, stat_name=stat)
            expected = np.atleast_1d(model["crr"][key])[i]
            assert record["stat"] == pytest.approx(expected, rel=RTOL, abs=0)
            worst = max(worst, abs(record["stat"] - expected) / abs(expected))
    return worst


PBC_LEVELS = {"edema": EDEMA}
MGUS_LEVELS = {"sex": {"M": "M"}}


def test_pbc_death_matches_crr(pbc_built):
    outcome, records = pbc_built
    assert outcome.exit_code == 0
    _compare(records, "fg_death", _model("pbc", 2, ["age", "edema", "bili"]),
             "multivariable", PBC_LEVELS)
    for term in ("age", "edema", "bili"):
        _compare(records, "fg_death", _model("pbc", 2, [term]), "univariable", PBC_LEVELS)
    whole = {r["stat_name"]: r["stat"] for r in _where(records, "fg_death",
                                                        group_level="multivariable",
                                                        variable="death")}
    crr = _model("pbc", 2, ["age", "edema", "bili"])["crr"]
    assert whole["wald.statistic"] == pytest.approx(crr["wald"], rel=RTOL)
    assert whole["wald.p.value"] == pytest.approx(crr["wald_p"], rel=RTOL)
    assert whole["lr.statistic"] == pytest.approx(crr["lr"], rel=RTOL)
    assert whole["loglik"] == pytest.approx(crr["loglik"], rel=RTOL)
    assert whole["n.competing"] == 25 and whole["converged"] is True
    (n,) = _where(records, "fg_death", variable="age", group_level="multivariable",
                  stat_name="nobs")
    (events,) = _where(records, "fg_death", variable="age", group_level="multivariable",
                       stat_name="n.event")
    assert (n["stat"], events["stat"]) == (418, 161)


def test_a_factor_is_tested_by_wald_with_the_robust_variance(pbc_built):
    _, records = pbc_built
    (method,) = _where(records, "fg_death", variable="edema", group_level="multivariable",
                       stat_name="method.term")
    assert method["stat"] == "Wald test"
    crr = _model("pbc", 2, ["age", "edema", "bili"])["crr"]
    beta = np.asarray(crr["coef"])[[1, 2]]
    var = np.asarray(crr["var"])[np.ix_([1, 2], [1, 2])]
    from cohortpress.stats.distributions import chi2_sf
    expected = float(chi2_sf(beta @ np.linalg.solve(var, beta), 2))
    (p,) = _where(records, "fg_death", variable="edema", group_level="multivariable",
                  stat_name="p.value.term")
    assert p["stat"] == pytest.approx(expected, rel=1e-8)


def test_a_model_crr_cannot_fit_is_flagged_and_the_others_match(pbc_built):
    """No transplant among the patients with edema despite diuretics: crr does not
    converge; the table says so instead of printing a meaningless SHR."""
    outcome, records = pbc_built
    assert not [s.id for s in outcome.sections if s.failed]
    flags = _where(records, "fg_transplant", stat_name="not.estimable")
    assert {(r["group_level"], r["variable"]) for r in flags} >= {
        ("univariable", "edema"), ("multivariable", "age")}
    assert all("did not converge" in r["stat"] for r in flags)
    for term in ("age", "bili"):
        _compare(records, "fg_transplant", _model("pbc", 1, [term]), "univariable",
                 PBC_LEVELS)


def test_mgus2_with_ties_matches_crr(mgus_built):
    outcome, records = mgus_built
    assert outcome.exit_code == 0
    worst = _compare(records, "fg", _model("mgus2", 1, ["age", "sex", "hgb"]),
                     "multivariable", MGUS_LEVELS)
    for term in ("age", "sex", "hgb"):
        worst = max(worst, _compare(records, "fg", _model("mgus2", 1, [term]), "univariable",
                                    MGUS_LEVELS))
    assert worst < RTOL
    (level,) = _where(records, "fg", stat_name="conf.level")
    assert level["stat"] == 0.9


def test_the_table_and_methods_say_what_was_done(mgus_built):
    outcome, _ = mgus_built
    (section,) = [s for s in outcome.sections if s.id == "fg"]
    (table,) = [b for b in section.blocks if hasattr(b, "header")]
    assert table.caption == "Fine\u2013Gray competing-risks regression for progression."
    header = [c.text for row in table.header for c in row.cells]
    assert "SHR (90% CI)" in header
    notes = " ".join(f.text for f in table.footnotes)
    assert "robust sandwich variance as R's cmprsk::crr" in notes
    assert "global Wald test" in notes and "competing events" in notes
    methods = " ".join(section.methods)
    assert "Fine\u2013Gray proportional subdistribution-hazards model" in methods
    assert "inverse probability of censoring" in methods


def test_the_table_is_its_records(mgus_built, pbc_built):
    """Rebuilt from the section's records after a round trip through results.json's form,
    the table equals the one shown; a record changed changes it."""
    from cohortpress.plugins.finegray import tables_from_records

    for (outcome, _), section_id in ((mgus_built, "fg"), (pbc_built, "fg_death"),
                                     (pbc_built, "fg_transplant")):
        (section,) = [s for s in outcome.sections if s.id == section_id]
        options = _options(section.id, outcome)
        context = SectionContext(id=section.id, title=section.title)
        records = [Result(**r.as_dict()) for r in section.results]
        (shown,) = [b for b in section.blocks if hasattr(b, "header")]
        assert tables_from_records(records, options, context) == (shown,)
    changed = [Result(**{**r.as_dict(), "formatted": "9.99 (1.00\u20139.99)"})
               if r.stat_name == "shr" and r.variable == "age" else r
               for r in records]
    (table,) = tables_from_records(changed, options, context)
    assert "9.99 (1.00\u20139.99)" in [c.text for row in table.body for c in row.cells]


def _options(section_id, outcome):
    import tomllib

    from cohortpress.app.plugins import make_plugins

    config = tomllib.loads((outcome.output.parent / "report.toml").read_text())
    (keys,) = [s for s in config["section"] if s["id"] == section_id]
    values = {k: v for k, v in keys.items() if k not in ("id", "analysis")}
    return make_plugins(entry_points=False).analysis("finegray").options.model_validate(values)


@pytest.mark.parametrize("body, line", [
    ('endpoint = "os"\ncovariates = ["age"]',
     "key 'section[1].endpoint': endpoint 'os' has no competing events; the Fine\u2013Gray "
     "model needs a competing-risks endpoint (use the cox analysis for this one)"),
    ('endpoint = "os"\ncovariates = ["age"]\ncause = 2',
     "key 'section[1].cause': unknown key"),
])
def test_a_non_competing_endpoint_is_one_error_line(cp, tmp_path, capsys, body, line):
    toml = cp.DEMO_TOML + f'[[section]]\nid = "s"\nanalysis = "finegray"\n{body}\n'
    project = cp.Project(tmp_path / "p", toml=toml)
    for command in ("validate", "build"):
        result = cp.run_cli([command, project.config, "--quiet"], capsys)
        assert result.code == 2, result.err
        assert "Traceback" not in result.err
        assert line in result.err_lines[-1]


SIM_TOML = """
[report]
title = "Fine-Gray on a cause column"

[cohort]
path = "cohort.csv"

[variables.arm]
kind = "categorical"

[variables.sex]
kind = "categorical"

[endpoints.relapse]
time = "time"
time_unit = "days"
event = "cause_text"
event_codes = ["relapse"]
competing_codes = ["death in CR"]
missing_cause = "censored"

[[section]]
id = "fg"
analysis = "finegray"
endpoint = "relapse"
covariates = ["arm", "sex"]
forest = true
"""


def test_a_text_cause_column_endpoint_matches_crr(tmp_path):
    """One time column and one text cause column, the censored with no cause: the layout
    registries use, through the whole build, equals crr (integer times with ties)."""
    frame = pd.read_csv(HERE / "data" / "finegray" / "sim.csv", keep_default_na=False)
    outcome, records = _build(tmp_path, SIM_TOML, frame.drop(columns="status"))
    assert outcome.exit_code == 0
    levels = {"arm": {"B": "B", "C": "C"}, "sex": {"M": "M"}}
    worst = _compare(records, "fg", _model("sim", 1, ["arm", "sex"]), "multivariable", levels)
    for term in ("arm", "sex"):
        worst = max(worst, _compare(records, "fg", _model("sim", 1, [term]), "univariable",
                                    levels))
    assert worst < RTOL
    from cohortpress.api.blocks import Figure

    (section,) = [s for s in outcome.sections if s.id == "fg"]
    (forest,) = [b for b in section.blocks if isinstance(b, Figure)]
    assert forest.caption.startswith("Subdistribution hazard ratios for relapse, "
                                     "multivariable model, with 95% confidence intervals")
    assert "arm: B" in forest.alt or "B:" in forest.alt
