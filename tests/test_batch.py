"""Batch reports: one report per level of a variable, in worker processes, and an index."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cohortpress.app.batch import LevelOutcome, batch_levels, folder_names, write_index
from cohortpress.app.plan import plan_build, sliced_config

FAILS_FOR_MEN = ('[[section]]\nid = "women"\nanalysis = "overview"\n'
                 'subset = [{ variable = "sex", eq = "Female" }]\n')


def test_each_level_gets_a_report_and_the_index_lists_them(cp, tmp_path, capsys):
    """Two levels, two workers; the men's report cannot be built (a section's subset leaves
    nobody): the index says why, the women's report is built all the same, and the exit
    code is 1."""
    project = cp.Project(tmp_path / "p", toml=cp.DEMO_TOML + FAILS_FOR_MEN)
    result = cp.run_cli(["build", project.config, "-o", project.out, "--by", "sex",
                         "--jobs", "2"], capsys)
    assert result.code == 1, result.err
    assert "batch by sex: 2 reports" in result.err
    assert "sex = Female: ok, 4 patients" in result.err
    assert "sex = Male: failed: " in result.err
    results = json.loads((project.out / "Female" / "results.json").read_text())
    assert results["report"]["cohort"]["n_rows"] == 4
    assert (project.out / "Female" / "report.pdf").exists()
    assert not (project.out / "Male").exists()
    index = (project.out / "index.md").read_text(encoding="utf-8")
    assert "| Female | 4 | ok | [Female/report.pdf](Female/report.pdf) |" in index
    assert "| Male | – | failed: " in index and "key 'section[1].subset': no patients left " \
        "after the section's subset | – |" in index
    page = (project.out / "index.html").read_text(encoding="utf-8")
    assert '<a href="Female/report.pdf">' in page and "reports by sex" in page.lower()


def test_a_batch_table_in_the_config_and_its_levels(cp, tmp_path, capsys):
    """``[batch]`` with one chosen level; a section failing in it leaves its report written
    (with the error block), the index says which section failed, and the exit code is 1."""
    boom = ('from cohortpress import hookimpl, Analysis\n'
            'def run(cohort, options, context):\n    raise ValueError("boom")\n'
            '@hookimpl\ndef cohortpress_analyses():\n    return [Analysis("boom", run)]\n')
    toml = 'plugins = ["boom.py"]\n' + cp.DEMO_TOML.replace(
        "[cohort]", '[batch]\nby = "arm"\nlevels = ["Arm A"]\njobs = 1\n\n[cohort]') + \
        '[[section]]\nid = "boom"\nanalysis = "boom"\n'
    project = cp.Project(tmp_path / "p", toml=toml)
    project.write("boom.py", boom)
    result = cp.run_cli(["build", project.config, "-o", project.out, "-q"], capsys)
    assert result.code == 1, result.err
    assert result.err_lines == ["cohortpress: report arm = Arm A failed: section boom failed"]
    assert sorted(p.name for p in project.out.iterdir()) == ["Arm_A", "index.html", "index.md"]
    text = (project.out / "Arm_A" / "report.html").read_text(encoding="utf-8")
    assert "Treatment arm: Arm A" in text  # the subtitle names the level
    assert "| Arm A | 4 | failed: section boom failed | [Arm_A/report.pdf](Arm_A/report.pdf) |" \
        in (project.out / "index.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("args, toml, message", [
    (["--by", "sexe"], "", "key '--by': column 'sexe' not found in the cohort; did you mean "
                           "'sex'?"),
    (["--by", "age"], "", "key '--by': 'age' is continuous; a batch splits by a categorical "
                          "variable"),
    (["--jobs", "2"], "", "--jobs applies to batch builds: give --by or a [batch] table"),
    (["--by", "sex", "--jobs", "0"], "", "argument --jobs/-j: expected 1 to 64, found 0"),
    ([], '[batch]\nby = "sex"\nlevels = ["Femal"]\n',
     "key 'batch.levels[0]': 'Femal' is not a level of 'sex' that a patient has; did you "
     "mean 'Female'?"),
    ([], '[batch]\nbye = "sex"\n', "key 'batch.bye': unknown key; did you mean 'by'?"),
])
def test_batch_errors_are_one_line(cp, tmp_path, capsys, args, toml, message):
    project = cp.Project(tmp_path / "p", toml=toml + cp.DEMO_TOML)
    result = cp.run_cli(["build", project.config, "-o", project.out, *args], capsys)
    assert result.code == 2
    lines = [line for line in result.err_lines if "error" in line]
    assert len(lines) == 1 and message in lines[0], result.err
    assert not project.out.exists()


def test_levels_are_the_variables_levels_a_patient_has(cp, tmp_path):
    toml = cp.DEMO_TOML.replace('levels = ["F", "M"]', 'levels = ["F", "M", "X"]')
    project = cp.Project(tmp_path / "p", toml=toml)
    assert batch_levels(plan_build(project.config), "sex", "--by") == ["Female", "Male"]
    assert batch_levels(plan_build(project.config), "arm", "--by") == ["Arm B", "Arm A"]


def test_a_level_s_config_filters_to_it_and_says_so(cp, tmp_path):
    config = plan_build(cp.Project(tmp_path / "p").config).config
    sliced = sliced_config(config, "arm", "Arm A")
    assert [c.model_dump(exclude_none=True) for c in sliced.cohort.filter][-1] == \
        {"variable": "arm", "eq": "Arm A"}
    assert sliced.report.subtitle == "Treatment arm: Arm A" and sliced.batch is None


def test_folder_names_are_safe_and_unique():
    assert folder_names(["Leuven", "St. Luc / Brussels", "a b", "a_b", "..", "A_B"]) == {
        "Leuven": "Leuven", "St. Luc / Brussels": "St._Luc_Brussels", "a b": "a_b",
        "a_b": "a_b_2", "..": "level", "A_B": "A_B_3"}


def test_the_index_escapes_what_it_shows(tmp_path, cp):
    config = plan_build(cp.Project(tmp_path / "p").config).config
    outcomes = [LevelOutcome("<A|B>", "A_B", 12, 0, "", 1.0),
                LevelOutcome("C", "C", None, 2, "cohort.filter: no rows", 0.5)]
    write_index(tmp_path / "out", config, "arm", outcomes)
    markdown = (tmp_path / "out" / "index.md").read_text(encoding="utf-8")
    assert "| <A\\|B> | 12 | ok | [A_B/report.pdf](A_B/report.pdf) |" in markdown
    assert "| C | – | failed: cohort.filter: no rows | – |" in markdown
    assert "&lt;A|B&gt;" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


def test_with_duckdb_each_report_reads_only_its_slice(cp, tmp_path, monkeypatch):
    """The level's condition runs in the engine: only that level's rows are read."""
    import cohortpress.data.duck as duck
    from cohortpress.app.plan import sliced_plan
    from cohortpress.app.load import load_cohort

    project = cp.Project(tmp_path / "p")
    frame = pd.read_csv(project.root / "cohort.csv", dtype=str)
    frame.to_parquet(project.root / "cohort.parquet", index=False)
    project.write("report.toml", cp.DEMO_TOML.replace('path = "cohort.csv"',
                                                      'path = "cohort.parquet"\n'
                                                      'engine = "duckdb"'))
    rows = []
    original = duck.DuckSource.read
    monkeypatch.setattr(duck.DuckSource, "read", lambda self, columns, where="", params=():
                        rows.append((where, len(found := original(self, columns, where,
                                                                  params)))) or found)
    plan = plan_build(project.config)
    cohort = load_cohort(sliced_plan(plan, "sex", "Male"))
    assert rows == [('list_contains(?, "sex")', 3)] and cohort.n == 3
    assert cohort.n_rows_read == len(frame) and "sex = Male" in cohort.filter_text
