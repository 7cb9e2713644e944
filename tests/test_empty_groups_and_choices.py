"""Issue 23, items 4 and 5, for Table 1: an empty group is shown and stated, a test over
fewer groups than the header says so, the choices that change a p-value (levels excluded,
unknown values tested) and the pairwise SMD of three or more groups are in the footnotes,
and the methods paragraph states what it used to leave to "unless stated otherwise"."""

from __future__ import annotations

import tomllib

import numpy as np

from cohortpress.kit.records import Records
from cohortpress.testing import (build_report, demo_cohort_path, demo_config_path,
                                 load_demo_cohort, run_analysis)


def _notes(section) -> list[str]:
    return [note.text for note in section.blocks[0].footnotes]


def _without_stage_iv():
    cohort = load_demo_cohort()
    return cohort.subset(np.asarray(cohort.values("stage") != "IV", dtype=bool),
                         "stage not IV")


def test_an_empty_group_is_shown_stated_and_left_out_of_every_test():
    section = run_analysis("demographics", {"by": "stage", "variables": ["age", "sex"]},
                           cohort=_without_stage_iv())
    header = [cell.text for cell in section.blocks[0].header[0].cells]
    assert "IV (N = 0)" in header
    assert "IV: no patients in this subset; not tested." in _notes(section)
    records = Records(section.results)
    for variable in ("age", "sex"):
        assert records.stat(context="test", stat_name="p.value", variable=variable) is not None
        assert records.stat(context="test", stat_name="not.tested.group", variable=variable,
                            group_level="IV") == "no patients in this subset"
        assert records.select(context="test", stat_name="not.tested", variable=variable) == []


def test_a_test_leaving_out_a_group_with_patients_says_so():
    cohort = load_demo_cohort()
    data = cohort.data.copy()
    data.loc[data["stage"] == "I", "ldh"] = np.nan
    cohort = type(cohort)(**{**cohort.__dict__, "data": data})
    section = run_analysis("demographics", {"by": "stage", "variables": ["ldh"]},
                           cohort=cohort)
    records = Records(section.results)
    assert records.stat(context="test", stat_name="not.tested.group", variable="ldh",
                        group_level="I") == "no known values"
    assert any(n.endswith("the test leaves out I (no known values).") for n in _notes(section))


def test_excluded_levels_and_tested_unknowns_are_in_the_footnote():
    section = run_analysis("demographics", {"variables": [
        {"variable": "stage", "exclude_from_test": ["IV"], "test_missing": True}]})
    records = Records(section.results)
    assert records.stat(context="test", stat_name="excluded.level", variable="stage") == "IV"
    assert records.stat(context="test", stat_name="test.missing", variable="stage") is True
    assert "Stage: IV excluded from the test; values 'Unknown' tested as a category." \
        in _notes(section)


def test_smd_with_three_groups_is_the_largest_pairwise_smd_and_says_so():
    section = run_analysis("demographics", {"by": "stage", "smd": True,
                                            "variables": ["age", "sex"]})
    records = Records(section.results)
    assert records.stat(context="test", stat_name="smd.method", variable="age") == \
        "maximum pairwise"
    assert records.stat(context="test", stat_name="smd", variable="age") > 0
    assert [c.text for c in section.blocks[0].header[0].cells][-1] == "SMD"
    assert any(n.startswith("SMD: with three or more groups, the largest") for n in
               _notes(section))


def test_smd_of_two_groups_has_no_pairwise_note():
    section = run_analysis("demographics", {"smd": True, "variables": ["age"]})
    assert Records(section.results).select(context="test", stat_name="smd.method") == []
    assert not any(n.startswith("SMD:") for n in _notes(section))


def test_methods_state_tested_unknowns_excluded_levels_and_filtered_unknowns(tmp_path):
    document = tomllib.loads(demo_config_path().read_text(encoding="utf-8"))
    document["cohort"].update(path=str(demo_cohort_path()),
                              filter=[{"variable": "stage", "ne": "I"}])
    document["section"] = [{"id": "t1", "analysis": "demographics",
                            "variables": [{"variable": "stage", "exclude_from_test": ["IV"],
                                           "test_missing": True}, "sex"]}]
    built = build_report(document, tmp_path)
    assert built.exit_code == 0, built.error or built.log
    text = " ".join(built.pdf_text().split()).replace("\u2010 ", "")  # hyphenated breaks
    assert "unless stated otherwise" not in text
    assert "except for stage, whose unknown values were tested as a category" in text
    assert "The test of stage left out IV." in text
    assert "the filter also removed 8 patients with unknown stage" in text


def test_a_crosstab_states_an_empty_column_and_leaves_it_out_of_the_test():
    section = run_analysis("crosstab", {"row": "sex", "column": "stage"},
                           cohort=_without_stage_iv())
    records = Records(section.results)
    assert records.stat(context="test", stat_name="not.tested.group",
                        group_level="IV") == "no patients in this subset"
    assert records.stat(context="test", stat_name="p.value") is not None
    assert "IV: no patients in this subset; not tested." in _notes(section)


def test_a_crosstab_with_every_column_used_has_no_left_out_note():
    section = run_analysis("crosstab", {"row": "sex", "column": "stage"})
    assert Records(section.results).select(stat_name="not.tested.group") == []
    assert not any("not tested" in n for n in _notes(section))


def test_a_survival_table_states_an_empty_group_not_tested():
    section = run_analysis("survival", {"endpoints": ["os"], "by": "stage", "landmarks": [2]},
                           cohort=_without_stage_iv())
    records = Records(section.results)
    assert records.stat(context="survdiff", stat_name="not.tested.group",
                        group_level="IV") == "no patients in this subset"
    assert records.stat(context="survdiff", stat_name="p.value") is not None
    assert "IV: no patients in this subset; not tested." in _notes(section)


def test_a_variable_listed_twice_is_refused_with_one_clear_line():
    import pytest

    from cohortpress.common.errors import DataError

    with pytest.raises(DataError) as caught:
        run_analysis("demographics", {"variables": ["age", "sex", {"variable": "age"}]})
    line = caught.value.one_line()
    assert "variables[2]" in line and "'age' is listed twice" in line


def test_a_distribution_figure_states_an_empty_group_in_its_caption():
    for options in ({"variable": "sex", "by": "stage"},
                    {"variable": "age", "by": "stage", "plot": "dots"}):
        section = run_analysis("distribution", options, cohort=_without_stage_iv())
        records = Records(section.results)
        assert records.stat(context="test", stat_name="not.tested.group",
                            group_level="IV") == "no patients in this subset"
        assert section.blocks[0].caption.endswith("IV: no patients in this subset; "
                                                  "not tested.")


def test_the_overview_states_an_empty_group_and_the_unknowns_a_filter_removed():
    section = run_analysis("overview", {"by": "stage"}, cohort=_without_stage_iv())
    assert "IV: no patients in this subset." in _notes(section)
    cohort = load_demo_cohort()
    filtered = type(cohort)(**{**cohort.__dict__, "filter_text": "stage \u2260 I",
                               "filter_unknown": (("stage", 8),)})
    section = run_analysis("overview", {}, cohort=filtered)
    assert Records(section.results).stat(context="overview", stat_name="N_filter_unknown",
                                         variable="stage") == 8
    assert "Restricted to patients with stage \u2260 I; the filter also removed 8 patients " \
           "with unknown stage." in _notes(section)
