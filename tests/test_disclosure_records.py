"""Released records (kit.disclosure): a cross-table's and a Table 1 variable's counts are
released as a table, percentages follow the released counts, and the tables built from the
released records print what the rule allows."""

from __future__ import annotations

import numpy as np

from cohortpress.api.results import Result
from cohortpress.api.sections import SectionContext
from cohortpress.common.disclosure import DisclosureRule
from cohortpress.kit.crosstab import (CrosstabLayout, CrosstabSpec, crosstab_from_records,
                                      crosstab_records)
from cohortpress.kit.disclosure import few_per_parameter, release_records
from cohortpress.stats.suppression import SECONDARY


def spec(counts: list[list[int]], unknown: int = 0) -> CrosstabSpec:
    rows, cols = [], []
    for i, line in enumerate(counts):
        for j, n in enumerate(line):
            rows += [i] * n
            cols += [j] * n
    rows += [-1] * unknown
    cols += [0] * unknown
    return CrosstabSpec(row_name="stage", row_levels=[f"s{i}" for i in range(len(counts))],
                        row_codes=np.array(rows), col_name="arm", col_label="Arm",
                        col_levels=[f"a{j}" for j in range(len(counts[0]))],
                        col_codes=np.array(cols), test="none")


CONTEXT = SectionContext("x", "X")


def released_table(counts, rule, unknown=0):
    results = crosstab_records(spec(counts, unknown), CONTEXT).results
    out = release_records(results, rule)
    return out, crosstab_from_records(out, CrosstabLayout.of(spec(counts, unknown), CONTEXT))


def body_texts(table):
    return [[c.text for c in row.cells] for row in table.body]


def test_without_a_rule_records_are_untouched():
    results = crosstab_records(spec([[3, 20], [15, 12]]), CONTEXT).results
    assert release_records(results, None) == results


def test_a_small_cell_with_exact_margins_takes_a_rectangle_of_cells_with_it():
    records, table = released_table([[3, 20, 30], [15, 12, 40]], DisclosureRule(10))
    assert body_texts(table) == [
        ["s0", "<10", "<10", "30 (43%)", "53 (44%)"],
        ["s1", "<10", "<10", "40 (57%)", "67 (56%)"],
        ["Total", "18 (100%)", "32 (100%)", "70 (100%)", "120 (100%)"]]
    reasons = {r.disclosure for r in records if r.stat_name == "n" and r.stat is None}
    assert reasons == {"suppressed: fewer than 10", f"suppressed: {SECONDARY}"}


def test_percentages_are_of_released_counts_and_hidden_with_their_count():
    records, table = released_table([[3, 22], [13, 12]], DisclosureRule(10, 5))
    assert body_texts(table)[0][1] == "<10"
    p = {(r.variable_level, r.group_level): r.stat for r in records
         if r.stat_name == "p" and r.context == "crosstab"}
    assert p[("s0", "a0")] is None
    n = {(r.variable_level, r.group_level): r.stat for r in records if r.stat_name == "n"}
    assert p[("s1", "a0")] == n[("s1", "a0")] / n[(None, "a0")]
    assert all(r.disclosure for r in records if r.stat_name in ("n", "N", "p"))


def test_an_unknown_row_is_part_of_the_table():
    records, table = released_table([[30, 20], [15, 12]], DisclosureRule(10), unknown=4)
    texts = body_texts(table)
    assert texts[2][0] == "Unknown" and texts[2][1] == "<10"
    # the column's patients (N_obs) minus its known total would give the unknowns back
    n_obs = [r for r in records if r.stat_name == "N_obs" and r.group_level == "a0"][0]
    total = [r for r in records if r.stat_name == "n" and r.variable_level is None
             and r.group_level == "a0"][0]
    assert n_obs.stat is None or total.stat is None


def test_releasing_twice_changes_nothing():
    records, _ = released_table([[3, 20], [15, 12]], DisclosureRule(10, 5))
    assert release_records(records, DisclosureRule(10, 5)) == records


def test_other_counts_are_released_one_by_one():
    out = release_records([Result("coxph", "nobs", 137), Result("coxph", "n.event", 4),
                           Result("coxph", "estimate", 0.5)], DisclosureRule(10, 5))
    assert [r.stat for r in out] == [135, None, 0.5]
    assert out[1].formatted == "<10" and out[2].disclosure is None


def test_the_events_per_parameter_warning_does_not_give_the_count_back():
    text = few_per_parameter(28, "events", 3, 10, DisclosureRule(10, 5))
    assert "30 events" in text and "9.3" not in text


# --------------------------------------------------------------------------- validate


def _validate_lines(tmp_path, rule_table: str) -> list[str]:
    import io
    import shutil
    from pathlib import Path

    from cohortpress.app.build import validate
    from cohortpress.common.progress import Progress

    data = Path(__file__).parent / "data" / "disclosure"
    shutil.copy(data / "veteran.csv", tmp_path)
    text = (data / "veteran.toml").read_text(encoding="utf-8")
    text = text.replace("[disclosure]\nmin_count = 10\nround_to = 5\n", rule_table)
    (tmp_path / "report.toml").write_text(text, encoding="utf-8")
    stream = io.StringIO()
    validate(tmp_path / "report.toml", Progress(stream=stream))
    return [line for line in stream.getvalue().splitlines() if "warning" in line]


def test_validate_names_the_sections_the_rule_will_mostly_hide(tmp_path):
    lines = _validate_lines(tmp_path, "[disclosure]\nmin_count = 10\nround_to = 5\n")
    assert lines == ["cohortpress: warning: section 'cells_poor': 7 of its 8 non-empty table "
                     "cells count fewer than 10 patients: under the disclosure rule most of "
                     "its tables will show <10"]


def test_validate_warns_of_a_section_smaller_than_the_threshold(tmp_path):
    lines = _validate_lines(tmp_path, "[disclosure]\nmin_count = 40\n")
    assert any("section 'cells_poor': its 37 patients are fewer than the disclosure rule's "
               "min_count (40)" in line for line in lines)
    assert not _validate_lines(tmp_path, "")


def test_kmt2a_lists_unreadable_karyotypes_by_patient_only_without_the_rule(tmp_path):
    from cohortpress.app.build import validate
    from cohortpress.common.progress import Progress
    from cohortpress.plugins import kmt2a_partners

    rows = ["id,group,karyotype"]
    rows += [f"P{i:02d},{'A' if i % 2 else 'B'},\"46,XX,t(4;11)(q21;q23)\"" for i in range(30)]
    rows += ["P90,A,not a karyotype at all", "P91,B,???"]
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "report.toml").write_text(
        '[report]\ntitle = "T"\n[cohort]\npath = "c.csv"\nid = "id"\ngroup = "group"\n'
        '[variables.karyotype]\nkind = "text"\n'
        '[[section]]\nid = "k"\nanalysis = "kmt2a_partners"\nsource = "karyotype"\n'
        'kind = "karyotype"\n', encoding="utf-8")
    plan, cohort = validate(tmp_path / "report.toml", Progress(quiet=True))
    options = plan.sections[0].options
    plain = kmt2a_partners.run(cohort, options, SectionContext("k", "K"))
    assert any("P90" in w for w in plain.warnings)
    ruled = kmt2a_partners.run(cohort, options,
                               SectionContext("k", "K", disclosure=DisclosureRule(10, 5)))
    assert ruled.warnings == ("<10 values of 'karyotype' could not be read; under the "
                              "disclosure rule the report does not list them (cohortpress "
                              "validate does).",)


def test_a_share_without_a_released_denominator_is_not_released():
    out = release_records([Result("categorical", "n", 12, variable="v", variable_level="a"),
                           Result("categorical", "p", 0.4, variable="v", variable_level="a")],
                          DisclosureRule(10, 5))
    assert out[1].stat is None and "denominator" in out[1].disclosure


def _distribution(plot: str, variable: str, rule, monkeypatch, by: str = "trt"):
    """The distribution section of the veteran check cohort under ``rule``, with the labels
    its bar chart was drawn with."""
    from pathlib import Path

    from cohortpress.app.load import load_cohort
    from cohortpress.app.plan import plan_build
    from cohortpress.kit import figures
    from cohortpress.plugins import distribution

    drawn = []
    original = figures.grouped_bars

    def spy(categories, groups, percents, labels, **kwargs):
        drawn.append(labels)
        return original(categories, groups, percents, labels, **kwargs)

    monkeypatch.setattr(figures, "grouped_bars", spy)
    plan = plan_build(Path(__file__).parent / "data" / "disclosure" / "veteran.toml")
    cohort = load_cohort(plan)
    options = distribution.DistributionOptions(variable=variable, by=by, plot=plot)
    section = distribution.run(cohort, options, SectionContext("d", "D", disclosure=rule))
    return section, drawn


def test_the_bar_chart_of_a_distribution_shows_released_counts_only(monkeypatch):
    section, drawn = _distribution("bars", "celltype", DisclosureRule(10, 5), monkeypatch)
    labels = [text for row in drawn[0] for text in row]
    assert "<10" in labels
    assert all(text == "<10" or int(text) % 5 == 0 for text in labels), labels
    figure_text = section.blocks[0].alt + section.blocks[0].caption
    assert not any(f" {n};" in figure_text or f" {n}," in figure_text for n in range(1, 10))
    counts = [r for r in section.results if r.stat_name == "n"]
    assert counts and all(r.disclosure is not None for r in counts)


def test_without_a_rule_the_bar_chart_shows_the_counts(monkeypatch):
    _, drawn = _distribution("bars", "celltype", None, monkeypatch)
    assert all(text.isdigit() for row in drawn[0] for text in row)


def test_a_dot_plot_under_the_rule_draws_no_patient(monkeypatch):
    from cohortpress.kit import figures

    calls = []
    original = figures.dot_plot

    def spy(groups, samples, **kwargs):
        calls.append((samples, kwargs["summary_only"]))
        return original(groups, samples, **kwargs)

    monkeypatch.setattr(figures, "dot_plot", spy)
    section, _ = _distribution("dots", "age", DisclosureRule(30, 5), monkeypatch,
                               by="celltype")
    (samples, summary_only), = calls
    assert summary_only
    sizes = [len(s) for s in samples]
    assert 0 in sizes and any(n >= 30 for n in sizes) and all(n == 0 or n >= 30 for n in sizes)
    caption = section.blocks[0].caption
    assert "no patient's value is drawn" in caption and "fewer than 30" in caption
    assert "patients" not in section.blocks[0].alt.split(caption)[-1]
    _distribution("dots", "age", None, monkeypatch)
    assert calls[-1][1] is False
