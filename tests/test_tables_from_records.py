"""Every table is rendered from its section's results records alone (issue 16, item 3).

For each analysis whose tables are built from records, run it (on the demo cohort and on
the sample configs), write its records as ``results.json`` holds them and read them back,
then render the tables again from those records and the layout the config asks for: the
tables must equal the ones in the section. A number a table shows but no record holds would
make the rebuilt table differ (or fail to build).
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from cohortpress.api.blocks import Table
from cohortpress.api.results import Result
from cohortpress.api.sections import SectionContext
from cohortpress.testing import load_demo_cohort, run_analysis

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ("belgian_infant_leukaemia", "mll10_infant_kmt2a")

#: The analyses whose tables are rendered from records, by the module that provides each.
MODULES = {name: f"cohortpress.plugins.{name}"
           for name in ("overview", "crosstab", "kmt2a_partners", "demographics")}


def read_back(results) -> list[Result]:
    """The records as a reader of ``results.json`` gets them (JSON text, parsed)."""
    text = json.dumps([record.as_dict() for record in results], allow_nan=False)
    return [Result(**fields) for fields in json.loads(text)]


def tables_of(section) -> list[Table]:
    return [block for block in section.blocks if isinstance(block, Table)]


def rebuilt(analysis: str, section, cohort, options, context: SectionContext) -> list[Table]:
    module = importlib.import_module(MODULES[analysis])
    table_layout = module.layout(cohort, options, context)
    return module.tables_from_records(read_back(section.results), table_layout)


def demo_context(p_digits: int = 3, percent_digits: int = 0) -> SectionContext:
    return SectionContext(id="test", title="test", p_digits=p_digits,
                          percent_digits=percent_digits)


DEMO_CASES = [
    ("overview", {}),
    ("overview", {"endpoints": ["os"]}),
    ("overview", {"by": "sex", "endpoints": ["os"], "caption": "By sex."}),
    ("crosstab", {"row": "stage"}),
    ("crosstab", {"row": "stage", "column": "sex", "test": "chisq", "percent": "row",
                  "percent_digits": 1}),
    ("crosstab", {"row": "stage", "test": "chisq_yates", "percent": "total",
                  "totals": False}),
    ("crosstab", {"row": "sex", "percent": "none", "missing": "no", "row_header": "Sex",
                  "caption": "Sex by arm."}),
    ("crosstab", {"row": "stage", "missing": "no", "test": "none"}),
    ("demographics", {"variables": ["age", "sex", "stage", "ldh"]}),
    ("demographics", {"variables": ["age", "sex", "stage", "ldh"], "overall": True, "smd": True,
                      "percent_of": "all", "missing": "always"}),
    ("demographics", {"variables": [
        "age", {"variable": "stage", "test": "chisq", "exclude_from_test": ["IV"],
                "test_missing": True, "percent_digits": 1},
        {"variable": "ldh", "stat": "mean_sd", "test": "welch", "digits": 2},
        {"variable": "sex", "applies_to": ["Standard"], "label": "Gender"}]}),
    ("demographics", {"by": "stage", "overall": True, "variables": [
        "age", "sex", {"variable": "ldh", "stat": "median_iqr", "significant": 3,
                       "test": "anova", "missing": "no"}]}),
    ("demographics", {"by": "sex", "variables": ["age", "stage"], "p_value": False,
                      "smd": True}),
    ("demographics", {"by": "stage", "variables": [
        {"variable": "ldh", "test": "kruskal", "applies_to": ["I", "II"]},
        {"variable": "sex", "applies_to": ["III"]}]}),
]


@pytest.mark.parametrize("analysis, options", DEMO_CASES,
                         ids=[f"{a}-{i}" for i, (a, _) in enumerate(DEMO_CASES)])
def test_demo_tables_rebuild_from_records(analysis, options):
    cohort = load_demo_cohort()
    section = run_analysis(analysis, options, cohort, p_digits=3, percent_digits=0)
    module = importlib.import_module(MODULES[analysis])
    validated = module.cohortpress_analyses()[0].options(**options)
    tables = tables_of(section)
    assert tables
    assert rebuilt(analysis, section, cohort, validated, demo_context()) == tables


@pytest.fixture(scope="module")
def sample_runs():
    """Each sample's plan and cohort, loaded once."""
    from cohortpress.app.build import load_cohort, plan_build

    runs = {}
    for sample in SAMPLES:
        plan = plan_build(ROOT / "sample_reports" / sample / "report.toml")
        runs[sample] = (plan, load_cohort(plan))
    return runs


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_tables_rebuild_from_records(sample, sample_runs):
    from cohortpress.app.run import run_section
    from cohortpress.data.conditions import section_subset

    plan, cohort = sample_runs[sample]
    checked = 0
    for planned in plan.sections:
        if planned.analysis.name not in MODULES:
            continue
        section = run_section(planned, cohort, plan.config, timeout=600)
        assert not section.failed, section.blocks
        head = planned.head
        context = SectionContext(id=head.id, title=section.title,
                                 p_digits=plan.config.report.p_digits,
                                 percent_digits=plan.config.report.percent_digits)
        subset = section_subset(cohort, head.subset, head.id) if head.subset else cohort
        tables = tables_of(section)
        assert tables
        assert rebuilt(planned.analysis.name, section, subset, planned.options,
                       context) == tables, head.id
        checked += 1
    assert checked


#: Options the samples do not use, run on a sample's cohort (it has the karyotypes).
SAMPLE_VARIANTS = [
    ("belgian_infant_leukaemia", "kmt2a_partners",
     {"source": "karyotype", "kind": "karyotype", "by": "type", "collapse_below": 3,
      "partner_test": "fisher", "status_test": "fisher", "status_percent_digits": 1}),
    ("belgian_infant_leukaemia", "kmt2a_partners",
     {"source": "karyotype", "by": "type", "partner_table": False, "status_test": "chisq"}),
    ("mll10_infant_kmt2a", "kmt2a_partners",
     {"source": "fusion", "kind": "fusion", "by": "risk_group", "collapse_below": 5,
      "gene_names": True, "partner_test": "chisq_yates"}),
    ("belgian_infant_leukaemia", "crosstab",
     {"row": "after_relapse", "column": "type", "test": "fisher", "percent": "row"}),
]


@pytest.mark.parametrize("sample, analysis, options", SAMPLE_VARIANTS,
                         ids=[f"{s}-{a}-{i}" for i, (s, a, _) in enumerate(SAMPLE_VARIANTS)])
def test_variant_tables_rebuild_from_records(sample, analysis, options, sample_runs):
    _, cohort = sample_runs[sample]
    section = run_analysis(analysis, options, cohort)
    module = importlib.import_module(MODULES[analysis])
    validated = module.cohortpress_analyses()[0].options(**options)
    tables = tables_of(section)
    assert tables
    assert rebuilt(analysis, section, cohort, validated, demo_context()) == tables


def _shifted(record: Result) -> Result:
    """The record with an integer statistic changed (counts, sizes)."""
    from dataclasses import replace

    if isinstance(record.stat, int) and not isinstance(record.stat, bool):
        return replace(record, stat=record.stat + 1000)
    return record


@pytest.mark.parametrize("analysis, options", DEMO_CASES,
                         ids=[f"{a}-{i}" for i, (a, _) in enumerate(DEMO_CASES)])
def test_tables_show_the_records_numbers(analysis, options):
    """The builders read the counts from the records: changed records, changed tables."""
    cohort = load_demo_cohort()
    section = run_analysis(analysis, options, cohort)
    module = importlib.import_module(MODULES[analysis])
    validated = module.cohortpress_analyses()[0].options(**options)
    table_layout = module.layout(cohort, validated, demo_context())
    changed = module.tables_from_records([_shifted(r) for r in read_back(section.results)],
                                         table_layout)
    assert changed != tables_of(section)
    assert any(re.search(r"\b1\d{3}\b", cell.text)  # a count shifted by 1000
               for table in changed for row in table.body for cell in row.cells)


BAR_CASES = [{"variable": "stage"}, {"variable": "stage", "by": "sex", "test": "chisq"},
             {"variable": "sex", "test": "none", "caption": "Sex.", "ylabel": "%"}]


@pytest.mark.parametrize("options", BAR_CASES, ids=[str(i) for i in range(len(BAR_CASES))])
def test_distribution_bars_redraw_from_records(options):
    """The bar chart (counts, percentages, the test's annotation) is drawn from the records
    alone: redrawn from records read back, it is the same figure, byte for byte."""
    from cohortpress.api.blocks import Figure
    from cohortpress.plugins import distribution

    cohort = load_demo_cohort()
    section = run_analysis("distribution", options, cohort)
    validated = distribution.DistributionOptions(**options)
    table_layout = distribution.layout(cohort, validated, demo_context())
    figures = [b for b in section.blocks if isinstance(b, Figure)]
    assert distribution.figures_from_records(read_back(section.results),
                                             table_layout) == figures
    shifted = [_shifted(r) for r in read_back(section.results)]
    assert distribution.figures_from_records(shifted, table_layout) != figures


EDGE_CSV = """\
id,arm,x,y,z,w,start,months,dead,keep
1,A,1.0,,5,u,2010-01-01,24,1,yes
2,A,2.0,,6,u,2010-02-01,35,0,yes
3,A,3.0,,7,v,2010-03-01,10,1,yes
4,B,,,8,v,2010-04-01,45,0,yes
5,B,,,,u,2010-05-01,25,1,yes
6,,4.0,,9,v,2010-06-01,20,0,yes
7,A,5.0,,1,u,2010-07-01,26,1,no
"""

EDGE_TOML = """\
[report]
title = "Edge cases"

[cohort]
path = "cohort.csv"
id = "id"
group = "arm"
filter = [{ variable = "keep", eq = "yes" }]

[variables.arm]
label = "Arm"
levels = ["A", "B"]

[variables.x]
label = "X"
kind = "continuous"

[variables.z]
label = "Z"
kind = "continuous"

[variables.y]
label = "Y"
levels = ["p", "q"]

[variables.w]
label = "W"
levels = ["u", "v"]

[variables.start]
kind = "date"

[endpoints.os]
label = "Overall survival"
time = "months"
time_unit = "months"
unit = "years"
event = "dead"
event_codes = [1]
censor_codes = [0]
"""

EDGE_CASES = [
    # a group without values (not tested), a variable without any value (not tested), dates
    ("demographics", {"variables": ["x", "y", "w", {"variable": "z", "test": "t_test"},
                                    "start"], "overall": True}),
    ("crosstab", {"row": "y"}),  # nothing to test: the "No test" footnote
    ("overview", {"endpoints": ["os"]}),  # patients with no arm; the filter's footnote
]


@pytest.mark.parametrize("analysis, options", EDGE_CASES,
                         ids=[a for a, _ in EDGE_CASES])
def test_edge_case_tables_rebuild_from_records(analysis, options, tmp_path):
    (tmp_path / "cohort.csv").write_text(EDGE_CSV, encoding="utf-8")
    (tmp_path / "report.toml").write_text(EDGE_TOML, encoding="utf-8")
    cohort = load_demo_cohort(tmp_path / "report.toml")
    section = run_analysis(analysis, options, cohort)
    module = importlib.import_module(MODULES[analysis])
    validated = module.cohortpress_analyses()[0].options(**options)
    tables = tables_of(section)
    notes = " ".join(note.text for table in tables for note in table.footnotes)
    assert {"demographics": "Not tested", "crosstab": "No test",
            "overview": "Restricted to"}[analysis] in notes
    assert rebuilt(analysis, section, cohort, validated, demo_context()) == tables


def test_kit_crosstab_table_keeps_working_and_renders_from_its_records():
    """``cohortpress.kit.crosstab_table`` (third-party plugins use it) gives the table its
    own records render, named by the spec's row and column names."""
    import numpy as np

    from cohortpress.kit import CrosstabResult, CrosstabSpec, crosstab_table
    from cohortpress.kit.crosstab import CrosstabLayout, crosstab_from_records

    spec = CrosstabSpec(row_name="Response", row_levels=("Good", "Poor"),
                        row_codes=np.array([0, 1, 1, 0, -1, 1, 0, 0]),
                        col_name="arm", col_label="Arm", col_levels=("A", "B"),
                        col_codes=np.array([0, 0, 1, 1, 1, -1, 0, 1]), test="chisq")
    built = crosstab_table(spec, demo_context())
    assert isinstance(built, CrosstabResult)
    assert built.counts.tolist() == [[2, 2], [1, 1]]
    assert [row.cells[0].text for row in built.table.body] == ["Good", "Poor", "Unknown",
                                                               "Total"]
    assert built.methods and built.table.footnotes[0].text.startswith("P >0.99 (Pearson")
    assert crosstab_from_records(read_back(built.results),
                                 CrosstabLayout.of(spec, demo_context())) == built.table
