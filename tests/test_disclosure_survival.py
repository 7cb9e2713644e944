"""Survival sections under ``[disclosure]`` (min_count = 10, round_to = 5), end to end, on
cohorts no other test uses: R survival's veteran (Kaplan–Meier by cell type, with the
risk table's three rows and the RMST) and the hormone-treated patients of rotterdam
(recurrence with death competing, by tumour size, in separate and stacked figures).

``tests/fixtures/r/disclosure_survival.R`` applies the released-curve rule of
docs/disclosure.md independently in R and computes, with survival and cmprsk, what the
report must release: the table totals by the count rule, the curves' landmark estimates,
intervals, medians and numbers at risk from the released cohorts, and the tests and the
RMST on the full data. Beyond agreeing with R, no count from 1 to 9 may reach the PDF's
tables, the numbers under the figures or results.json, and every released count is a
multiple of 5.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cohortpress.api.sections import SectionContext
from cohortpress.app.build import Progress, build
from cohortpress.common.disclosure import COUNT_STAT_NAMES, DisclosureRule
from cohortpress.kit import figures

HERE = Path(__file__).resolve().parent
COHORTS = HERE / "data" / "r_cohorts"
KEY = ("section", "context", "variable", "variable_level", "group", "group_level", "stat_name")
RULE = DisclosureRule(10, 5)
ROW_LABELS = ("squamous", "smallcell", "adeno", "large", "Overall", "<=20", "20-50", ">50")
#: Contexts of the numbers a survival section shows about its curves and groups.
SURVIVAL_CONTEXTS = ("survfit", "cuminc", "cuminc.cause2", "risktable", "rmst")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = {}
    for name in ("veteran_km", "rotterdam_cr"):
        folder = tmp_path_factory.mktemp(name) / "report"
        build(COHORTS / f"{name}.toml", folder, progress=Progress(quiet=True))
        out[name] = folder
    return out


def _records(folder: Path) -> list[dict]:
    return json.loads((folder / "results.json").read_text(encoding="utf-8"))["results"]


def _released_count(value) -> bool:
    """0, or a multiple of 5 of at least 10."""
    return value == 0 or (value >= 10 and value % 5 == 0)


def test_the_report_releases_what_r_computes_under_the_same_rule(built):
    expected = json.loads((HERE / "fixtures" / "disclosure_survival.json").read_text())
    ours = {tuple(r[f] for f in KEY): r for folder in built.values()
            for r in _records(folder)}
    assert len(expected["records"]) > 300
    for record in expected["records"]:
        key = tuple(record[f] for f in KEY)
        assert key in ours, f"no record {key}"
        got, want = ours[key]["stat"], record["stat"]
        if want is None or got is None:
            assert got == want, key
        else:
            assert math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12), (key, got, want)


def test_no_survival_record_holds_a_count_below_10_or_an_unmarked_count(built):
    for folder in built.values():
        for r in _records(folder):
            if r["context"] not in SURVIVAL_CONTEXTS or r["stat_name"] not in COUNT_STAT_NAMES:
                continue
            assert "disclosure" in r, r
            if r["stat"] is None:
                assert r["formatted"] == "<10" and r["disclosure"].startswith("suppressed"), r
            else:
                assert _released_count(r["stat"]), r


def test_estimates_from_released_cohorts_are_marked_and_tests_are_not(built):
    records = [r for folder in built.values() for r in _records(folder)]
    for r in records:
        if r["context"] in ("survfit", "cuminc", "cuminc.cause2") and \
                r["stat_name"] in ("surv", "estimate", "conf.low", "median"):
            assert r["disclosure"].startswith("coarsened"), r
        if r["stat_name"] in ("statistic", "p.value") or r["context"] == "rmst" and \
                r["stat_name"] == "estimate":
            assert "disclosure" not in r, r


def _pdf_text(folder: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(folder / "report.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout


def test_the_pdf_tables_show_no_count_below_10(built):
    rows = 0
    for folder in built.values():
        for line in _pdf_text(folder).splitlines():
            tokens = line.split()
            if len(tokens) < 2 or tokens[0] not in ROW_LABELS or \
                    not re.fullmatch(r"<?\d+", tokens[1]):  # a heading, not a row
                continue
            rows += 1
            for token in tokens[1:]:  # estimates and medians have decimals; counts do not
                if re.fullmatch(r"\d+", token):
                    assert _released_count(int(token)), line
                else:
                    assert not re.fullmatch(r"<\d+", token) or token == "<10", line
    assert rows >= 25


def test_the_exported_tables_show_no_count_below_10(built):
    seen = 0
    for folder in built.values():
        for csv in (folder / "tables").glob("*.csv"):
            for line in csv.read_text(encoding="utf-8").splitlines():
                cells = line.split(",")
                if cells[0].strip() not in ROW_LABELS:
                    continue
                for cell in cells[1:]:
                    if re.fullmatch(r"\d+", cell):
                        seen += 1
                        assert _released_count(int(cell)), (csv.name, line)
    assert seen > 40


def test_the_numbers_under_the_figures_are_released(monkeypatch):
    """Run each section in this process with the rule, catching what every figure is
    asked to print under its axis."""
    from cohortpress.app.load import load_cohort
    from cohortpress.app.plan import plan_build
    from cohortpress.plugins import survival

    printed = []
    original = figures.step_figure

    def spy(curves, **kwargs):
        table = kwargs.get("risk_rows") or [figures.RiskRows(
            "Number at risk", [figures.at_risk(c, kwargs["risk_times"])
                               for c in kwargs.get("risk_curves") or curves])]
        printed.extend(n for block in table for row in block.numbers for n in row)
        return original(curves, **kwargs)

    monkeypatch.setattr(figures, "step_figure", spy)
    for name in ("veteran_km", "rotterdam_cr"):
        plan = plan_build(COHORTS / f"{name}.toml")
        cohort = load_cohort(plan)
        for head in plan.config.section:
            options = survival.SurvivalOptions.model_validate(head.model_extra)
            survival.run(cohort, options, SectionContext(id=head.id, title=head.title,
                                                         disclosure=RULE))
    assert len(printed) > 100
    assert all(n == "<10" or (isinstance(n, (int, np.integer)) and _released_count(n))
               for n in printed), sorted(set(map(str, printed)))


def test_without_the_rule_the_figures_count_the_full_data(monkeypatch):
    from cohortpress.app.load import load_cohort
    from cohortpress.app.plan import plan_build
    from cohortpress.plugins import survival

    calls = []
    monkeypatch.setattr(figures, "step_figure",
                        lambda curves, **kwargs: calls.append((curves, kwargs)) or b"")
    plan = plan_build(COHORTS / "veteran_km.toml")
    cohort = load_cohort(plan)
    head = plan.config.section[0]
    section = survival.run(cohort, survival.SurvivalOptions.model_validate(head.model_extra),
                           SectionContext(id=head.id, title=head.title))
    assert all(r.disclosure is None for r in section.results)
    ((curves, kwargs),) = calls
    at_zero = [row[0] for row in kwargs["risk_rows"][0].numbers]
    assert at_zero == [35, 48, 27, 27]  # the cell types' sizes


def test_the_released_tables_rebuild_from_the_records_read_back_from_json():
    """Under the rule too, the survival tables come from the records alone: the hidden
    counts' text and the footnote of the coarsened estimates are in the records."""
    from cohortpress.api.blocks import Table
    from cohortpress.api.results import Result
    from cohortpress.app.load import load_cohort
    from cohortpress.app.plan import plan_build
    from cohortpress.plugins import survival

    for name in ("veteran_km", "rotterdam_cr"):
        plan = plan_build(COHORTS / f"{name}.toml")
        cohort = load_cohort(plan)
        head = plan.config.section[0]
        options = survival.SurvivalOptions.model_validate(head.model_extra)
        context = SectionContext(id=head.id, title=head.title, disclosure=RULE)
        section = survival.run(cohort, options, context)
        text = json.dumps([r.as_dict() for r in section.results], allow_nan=False)
        read_back = [Result(**fields) for fields in json.loads(text)]
        tables = [b for b in section.blocks if isinstance(b, Table)]
        assert list(survival.tables_from_records(read_back, options, context)) == tables
        notes = [note.text for table in tables for note in table.footnotes]
        assert any(note.startswith("Estimates, numbers at risk and medians from counts "
                                   "coarsened to steps of 10") for note in notes)


def test_groups_below_min_count_are_hidden_and_not_drawn(tmp_path, monkeypatch):
    """Two cell types of 5 and 6 patients beside one of 20, and a competing-risks cohort
    whose every group is below 10: those rows show <10 and no estimate, and no curve of
    theirs is drawn; the figure says so."""
    from cohortpress.app.load import load_cohort
    from cohortpress.app.plan import plan_build
    from cohortpress.plugins import survival

    lines = (COHORTS / "veteran_km.csv").read_text().splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if ",squamous," in line][:20] + \
        [line for line in lines[1:] if ",adeno," in line][:5] + \
        [line for line in lines[1:] if ",large," in line][:6]
    (tmp_path / "veteran_km.csv").write_text("\n".join(kept) + "\n")
    config = (COHORTS / "veteran_km.toml").read_text().replace("rmst = true", "")
    (tmp_path / "veteran_km.toml").write_text(config)
    lines = (COHORTS / "rotterdam_cr.csv").read_text().splitlines()
    (tmp_path / "rotterdam_cr.csv").write_text("\n".join(lines[:9]) + "\n")
    (tmp_path / "rotterdam_cr.toml").write_text((COHORTS / "rotterdam_cr.toml").read_text())
    drawn = []
    monkeypatch.setattr(figures, "step_figure",
                        lambda curves, **kwargs: drawn.append([c.label for c in curves]) or b"")
    sections = []
    for name in ("veteran_km", "rotterdam_cr"):
        plan = plan_build(tmp_path / f"{name}.toml")
        cohort = load_cohort(plan)
        head = plan.config.section[0]
        sections.append(survival.run(
            cohort, survival.SurvivalOptions.model_validate(head.model_extra),
            SectionContext(id=head.id, title=head.title, disclosure=RULE)))
    km, competing = sections
    assert drawn == [["squamous"]]
    records = [r for r in km.results if r.context == "survfit" and r.stat_name == "n"]
    assert [(r.group_level, r.formatted or str(r.stat)) for r in records] == [
        ("squamous", "20"), ("smallcell", "0"), ("adeno", "<10"), ("large", "<10"),
        (None, "30")]
    assert not any(r.group_level in ("adeno", "large") and r.variable_level is not None
                   for r in km.results if r.context == "survfit")
    assert km.blocks[-1].caption.endswith("Groups of fewer than 10 patients are not drawn.")
    from cohortpress.api.blocks import Figure

    assert not [b for b in competing.blocks if isinstance(b, Figure)]
