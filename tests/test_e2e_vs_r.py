"""End to end against R: whole reports of synthetic cohorts, record by record.

Two SYNTHETIC cohorts unlike the sample reports (``tests/data/e2e/``, made by
``make_cohorts.py``): ``trial3``, a 3-arm trial of 300 patients (heavy censoring, tied times,
missing covariates and strata, a 4-level factor with a non-default reference, a skewed
covariate and its log, dates with a competing event, time in whole months), and ``small2``,
36 patients in 2 groups (zero cells, an empty declared level, exact Wilcoxon, a survival
curve sitting at exactly 0.5, a median not reached, landmarks past the last follow-up, a
covariate separating the logistic outcome, a factor whose first level drops out of the
complete cases). Each config uses every built-in analysis with options unlike the defaults.
Two competing-risks cohorts from R's own data sets, their CSVs written by their R scripts:
``cr_mgus2`` (survival's mgus2: one time column and a text cause column, many ties) and
``cr_pbc`` (survival's pbc: numeric codes with death as code 2, empty causes censored, no
transplant in stage 1); every cause's cumulative incidence, variance and interval at three
landmarks by group and overall, the medians, the numbers at risk and Gray's test per cause.

Each report is built once per module through :func:`cohortpress.app.build.build`; its
``results.json`` is compared with the records R computed from the same CSV
(``tests/fixtures/r/e2e_<cohort>.R`` writes ``tests/fixtures/e2e_<cohort>.json``): every R
record must be in the report and agree to a relative 1e-6 (counts exactly), and every record
of the report must have an R counterpart (apart from the method names R does not produce).
Sections where the report is wrong are strict xfails (``KNOWN_DISAGREEMENTS``, diagnosed).

The PDF is rendered by a stub through the documented ``cohortpress_render_pdf`` hook, so the
tests take seconds: the results file does not depend on the PDF. Set
``COHORTPRESS_E2E_PDF=1`` to render it with WeasyPrint as a normal build does.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from pathlib import Path

import pytest

from cohortpress import hookimpl
from cohortpress.app.build import Progress, build
from cohortpress.app.plugins import make_plugins

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "e2e"
FIXTURES = HERE / "fixtures"
COHORTS = ("trial3", "small2")
#: Competing-risks cohorts from R's own data sets, with their CSV written by their R script.
COMPETING_COHORTS = ("cr_mgus2", "cr_pbc")
KEY = ("section", "context", "variable", "variable_level", "group", "group_level", "stat_name")
REL_TOL, ABS_TOL = 1e-6, 1e-12

#: R's names of the tests, and ours.
R_METHODS = {
    "Fisher's Exact Test for Count Data": "Fisher's exact test",
    "Pearson's Chi-squared test": "Pearson's chi-squared test",
    "Pearson's Chi-squared test with Yates' continuity correction":
        "Pearson's chi-squared test with Yates' continuity correction",
    "Two Sample t-test": "Two-sample t-test",
    "Welch Two Sample t-test": "Welch two-sample t-test",
    "Wilcoxon rank sum exact test": "Wilcoxon rank-sum (Mann–Whitney U) test",
    "Wilcoxon rank sum test with continuity correction":
        "Wilcoxon rank-sum (Mann–Whitney U) test",
    "Kruskal-Wallis rank sum test": "Kruskal–Wallis test",
    "One-way analysis of means": "One-way ANOVA",
}

#: Records of the report that R has no counterpart for: (context, stat_name).
NOT_FROM_R = {("coxph", "method.term"), ("logistic", "method.term"), ("survdiff", "method")}
#: ... nor for the records that say what a table shows besides its numbers (labels, levels,
#: the methods its footnotes name): the tables are built from the records alone.
NOT_FROM_R |= {(context, name) for context in ("coxph", "logistic") for name in (
    "model.title", "not.estimable", "note", "label", "var_type", "reference_row",
    "outcome.label", "outcome.level", "conf.level", "ties", "strata", "n.incomplete",
    "method", "conf.method", "p.method", "term.type", "variance", "cluster")}
NOT_FROM_R |= {("survfit", name) for name in ("label", "time.unit", "time.unit.data",
                                             "conf.level", "conf.type",
                                             "row.label")}
NOT_FROM_R |= {("cuminc", name) for name in ("label", "time.unit", "time.unit.data", "conf.level",
                                            "conf.type", "variance", "row.label")}
NOT_FROM_R |= {(context, name) for context in ("cuminc", *(f"cuminc.cause{k}" for k in (2, 3)))
               for name in ("cause.label", "method")}
NOT_FROM_R |= {("survdiff.pairwise", "adjust.method")}
#: ... and our tests' own remarks, which the table footnotes show; R words its own.
NOT_FROM_R |= {("test", "note"), ("test", "not.tested")}
#: ... and the records that say how a number was computed (docs/results.md): the choices
#: made (levels excluded, unknowns tested, weights, strata, Monte Carlo tables and seed),
#: the groups a test left out, the scale of model estimates, and the risk tables. The
#: log/exp twins of model estimates are functions of records compared here.
NOT_FROM_R |= {("test", name) for name in ("excluded.level", "test.missing",
                                           "not.tested.group", "smd.method",
                                           "method.monte_carlo", "n.tables", "seed")}
NOT_FROM_R |= {("survdiff", name) for name in ("rho", "gamma", "strata", "strata.label",
                                              "not.tested.group")}
NOT_FROM_R |= {("cuminc", "not.tested.group")}
#: (The risk tables are checked against R's summary(survfit, times) on R survival's pbc in
#: tests/test_survival_figure_options.py.)
NOT_FROM_R |= {("risktable", name) for name in ("n.risk", "n.event.cum", "n.censor.cum")}
NOT_FROM_R |= {(context, name) for context in ("coxph", "logistic")
               for name in ("scale", "estimate.exp", "conf.low.log", "conf.high.log")}

#: Sections where the report disagrees with R, diagnosed; their tests are strict xfails.
#: (Fixed and emptied: pairwise log-rank now uses the section's strata and weights, and
#: univariable models use the multivariable model's reference level.)
KNOWN_DISAGREEMENTS: dict[tuple[str, str], str] = {}


#: Single records where the report disagrees with R: (cohort, section, stat_names) -> why.
#: The rest of their sections is compared as usual; these are strict xfails on their own.
KNOWN_RECORD_DISAGREEMENTS: dict[tuple[str, str, tuple[str, ...]], str] = {}


def _known_record(cohort: str, key: tuple) -> bool:
    return any(c == cohort and s == key[0] and key[6] in names
               for c, s, names in KNOWN_RECORD_DISAGREEMENTS)


# --------------------------------------------------------------------------- building


class _StubPdf:
    """Writes a placeholder PDF: the results file does not depend on WeasyPrint."""

    @hookimpl
    def cohortpress_render_pdf(self, html, output, settings):
        Path(output).write_bytes(b"%PDF-1.4\n% cohortpress e2e test stub\n%%EOF\n")
        return True


def _plugins():
    plugins = make_plugins(entry_points=False)
    if os.environ.get("COHORTPRESS_E2E_PDF") != "1":
        plugins.manager.register(_StubPdf(), name="e2e_stub_pdf")
    return plugins


class Built:
    """One built report: the build outcome, results.json and R's expected records."""

    def __init__(self, cohort: str, out: Path):
        self.cohort = cohort
        self.config = DATA / f"{cohort}.toml"
        self.outcome = build(self.config, out, progress=Progress(quiet=True),
                             plugins=_plugins())
        self.results_file = json.loads((out / "results.json").read_text(encoding="utf-8"))
        self.ours: dict[tuple, dict] = {}
        for record in self.results_file["results"]:
            key = tuple(record[f] for f in KEY)
            assert key not in self.ours, f"two records with the key {key}"
            self.ours[key] = record
        self.fixture = json.loads((FIXTURES / f"e2e_{cohort}.json").read_text(encoding="utf-8"))
        self.expected = {tuple(r[f] for f in KEY): r for r in self.fixture["records"]}

    def section(self, section_id: str):
        return next(s for s in self.outcome.sections if s.id == section_id)

    def stat(self, section, context, variable, stat_name, variable_level=None, group=None,
             group_level=None):
        key = (section, context, variable, variable_level, group, group_level, stat_name)
        return self.ours[key]["stat"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    cache: dict[str, Built] = {}

    def get(cohort: str) -> Built:
        if cohort not in cache:
            cache[cohort] = Built(cohort, tmp_path_factory.mktemp(f"e2e-{cohort}") / "report")
        return cache[cohort]

    return get


# --------------------------------------------------------------------------- comparing


def _section_ids(cohort: str) -> list[str]:
    with open(DATA / f"{cohort}.toml", "rb") as handle:
        return [s["id"] for s in tomllib.load(handle)["section"]]


def _cases():
    for cohort in COHORTS + COMPETING_COHORTS:
        for section in _section_ids(cohort):
            reason = KNOWN_DISAGREEMENTS.get((cohort, section))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(cohort, section, marks=marks, id=f"{cohort}-{section}")


def disagreement(ours, r_value) -> str | None:
    """Why a value of ours differs from R's, or None when they agree."""
    if r_value is None or ours is None:
        return None if r_value is None and ours is None else "one is missing (NA/NaN)"
    if isinstance(r_value, str):
        wanted = R_METHODS.get(r_value, r_value)
        return None if ours == wanted else f"R's {r_value!r} is our {wanted!r}"
    if isinstance(ours, str) or isinstance(ours, bool):
        return f"not a number: {ours!r}"
    if isinstance(r_value, int) and float(ours).is_integer():
        return None if int(ours) == r_value else "whole numbers differ"
    if math.isclose(ours, r_value, rel_tol=REL_TOL, abs_tol=ABS_TOL):
        return None
    return f"relative difference {abs(ours - r_value) / max(abs(r_value), 1e-300):.2e}"


@pytest.mark.parametrize(("cohort", "section_id"), list(_cases()))
def test_section_agrees_with_r(reports, cohort, section_id):
    built = reports(cohort)
    section = built.section(section_id)
    assert not section.failed, f"section '{section_id}' failed: {section.blocks[0].message}"
    expected = {k: r for k, r in built.expected.items() if k[0] == section_id}
    assert expected, f"the R fixture has no records for section '{section_id}'"
    problems = []
    for key, r in expected.items():
        if _known_record(cohort, key):
            continue
        if key not in built.ours:
            problems.append(f"missing from results.json: {key} (R: {r['stat']!r})")
            continue
        why = disagreement(built.ours[key]["stat"], r["stat"])
        if why:
            problems.append(f"{key}: ours {built.ours[key]['stat']!r}, R {r['stat']!r}: {why}")
    for key, record in built.ours.items():
        if key[0] == section_id and key not in expected and not _known_record(cohort, key) \
                and (record["context"], record["stat_name"]) not in NOT_FROM_R:
            problems.append(f"no R value for {key} = {record['stat']!r}")
    assert not problems, f"{len(problems)} disagreements with R:\n" + "\n".join(problems[:25])


# Diagnosed disagreements are strict xfails, so that a fix shows. With none diagnosed the
# test is not defined at all (an empty parametrisation would read as a skipped check).
if KNOWN_RECORD_DISAGREEMENTS:
    @pytest.mark.parametrize(("cohort", "section_id", "stat_names"), [
        pytest.param(*key, marks=pytest.mark.xfail(strict=True, reason=reason),
                     id=f"{key[0]}-{key[1]}-{'+'.join(key[2])}")
        for key, reason in KNOWN_RECORD_DISAGREEMENTS.items()])
    def test_known_record_disagreements(reports, cohort, section_id, stat_names):
        built = reports(cohort)
        expected = {k: r for k, r in built.expected.items()
                    if k[0] == section_id and k[6] in stat_names}
        assert expected
        for key, r in expected.items():
            assert disagreement(built.ours.get(key, {}).get("stat"), r["stat"]) is None, key


# --------------------------------------------------------------------------- the whole report


@pytest.mark.parametrize("cohort", COHORTS + COMPETING_COHORTS)
def test_results_file_describes_the_cohort(reports, cohort):
    built = reports(cohort)
    report = built.results_file["report"]
    csv = DATA / f"{cohort}.csv"
    assert report["cohort"]["sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
    n_rows = len(csv.read_text(encoding="utf-8").splitlines()) - 1
    assert report["cohort"]["n_rows"] == n_rows
    assert built.fixture["cohort"] == f"tests/data/e2e/{cohort}.csv"
    # Every section of the config is in the report, in order, and every record names one.
    assert [s.id for s in built.outcome.sections] == _section_ids(cohort)
    assert {r["section"] for r in built.results_file["results"]} <= set(_section_ids(cohort))
    failed = {s.id for s in built.outcome.sections if s.failed}
    assert failed <= {s for c, s in KNOWN_DISAGREEMENTS if c == cohort}


@pytest.mark.parametrize("cohort", COHORTS)
def test_anova_f_equals_aov(reports, cohort):
    """Our one-way ANOVA F against R's aov() table (oneway.test is in the main records)."""
    built = reports(cohort)
    checks = [e for e in built.fixture["extra"] if e["kind"] == "anova_vs_oneway"]
    assert checks
    for e in checks:
        ours = built.stat(e["section"], "test", e["variable"], "statistic",
                          group=_group_of(built, e["section"]))
        assert math.isclose(ours, e["aov"], rel_tol=REL_TOL)


def _group_of(built: Built, section_id: str) -> str:
    with open(built.config, "rb") as handle:
        config = tomllib.load(handle)
    head = next(s for s in config["section"] if s["id"] == section_id)
    return head.get("by") or config["cohort"]["group"]


def test_profile_limits_agree_with_mass_confint(reports):
    """R's own profile CI (MASS's confint: a spline through a grid) is within 2e-4 of ours.

    The main comparison uses exact roots of the profile deviance computed in R, to 1e-6;
    ``confint()`` interpolates, so it agrees only to the spline's accuracy.
    """
    built = reports("trial3")
    checks = [e for e in built.fixture["extra"] if e["kind"] == "profile_vs_mass"]
    assert len(checks) >= 10
    worst = 0.0
    for e in checks:
        for stat, mass in zip(("conf.low", "conf.high"), e["mass"]):
            ours = built.stat(e["section"], "logistic", e["variable"], stat,
                              e["variable_level"], "model", e["group_level"])
            worst = max(worst, abs(ours - mass) / mass)
    assert worst < 2e-4


def test_separated_covariate_is_flagged_not_estimated(reports):
    built = reports("small2")
    r = next(e for e in built.fixture["extra"] if e["kind"] == "separation")
    # R's glm "converges" to a meaningless estimate (odds ratio ~1e8, SE in the thousands).
    assert r["estimate"] > 15 and r["std_error"] > 1000
    # ...while its LR test of the model is the limit's (the fixture's lr.statistic).
    lr = built.expected[("logit_sep", "logistic", "response", None, "model", "multivariable",
                         "lr.statistic")]["stat"]
    assert r["lr_anova"] == pytest.approx(lr, rel=1e-6)
    section = built.section("logit_sep")
    assert not section.failed, section.blocks[0].message
    assert not [k for k in built.ours if k[0] == "logit_sep" and k[2] == "marker"
                and k[6] in ("or", "estimate")]
    texts = [c.text for row in section.blocks[0].body for c in row.cells]
    assert "not estimable" in texts
    notes = " ".join(f.text for f in section.blocks[0].footnotes)
    assert "Wald limits" in notes  # the multivariable biomarker CI is compared with R's Wald
