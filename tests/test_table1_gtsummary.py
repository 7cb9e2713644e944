"""Table 1 as gtsummary prints it, against R: continuous2 rows, statistic strings with
per-field decimals, quartiles of type 2, gtsummary's and the parametric test rules, and the
trend tests.

R: tests/fixtures/r/table1_gtsummary.R on survival's pbc (tests/data/r_cohorts/
pbc_table1.csv), computing in base R what gtsummary computes (its choices are listed in the
script) and coin's lbl_test. Numbers at 1e-6 relative; cells as R rounds them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cohortpress.app.build import Progress, build
from cohortpress.common.errors import UserError
from cohortpress.stats.summaries import continuous_summary, quantile_of_sorted
from cohortpress.stats.trend import cochran_armitage_test, linear_by_linear_test

HERE = Path(__file__).parent
FIXTURE = json.loads((HERE / "fixtures" / "table1_gtsummary.json").read_text())
CONFIG = HERE / "data" / "r_cohorts" / "pbc_table1.toml"
RTOL = 1e-6
METHODS = {"wilcoxon": "Wilcoxon rank-sum (Mann–Whitney U) test",
           "kruskal": "Kruskal–Wallis test", "welch": "Welch two-sample t-test",
           "anova": "One-way ANOVA", "chisq": "Pearson's chi-squared test",
           "fisher": "Fisher's exact test",
           "cochran_armitage": "Cochran–Armitage test for trend",
           "linear_by_linear": "Linear-by-linear association test"}
FIELDS = {"N_nonmiss": "N", "mean": "mean", "sd": "sd", "median": "median", "p25": "p25",
          "p75": "p75", "min": "min", "max": "max"}


def close(ours, theirs, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=rtol,
                               atol=0)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("pbc_table1") / "out"
    outcome = build(CONFIG, out, progress=Progress(quiet=True))
    assert outcome.exit_code == 0
    records = json.loads((out / "results.json").read_text())["results"]
    return outcome, records


def _stat(records, section, context, stat_name, variable, level=None, group_level=None):
    found = [r["stat"] for r in records if r["section"] == section and r["context"] == context
             and r["stat_name"] == stat_name and r["variable"] == variable
             and r["variable_level"] == level and r["group_level"] == group_level]
    assert len(found) == 1, (section, context, stat_name, variable, level, group_level, found)
    return found[0]


def _table(outcome, section):
    return next(s for s in outcome.sections if s.id == section).blocks[0]


@pytest.mark.parametrize("case", FIXTURE["quantile_grid"],
                         ids=lambda c: f"n{c['n']}-type{c['type']}-p{c['p']}")
def test_quantile_types_match_r(case):
    values = np.sort(np.asarray(FIXTURE["quantile_values"][:case["n"]], float))
    close(quantile_of_sorted(values, case["p"], case["type"]), case["q"], rtol=1e-12)


def test_summary_quartiles_follow_the_type_and_the_median_stays_rs():
    values = np.asarray(FIXTURE["quantile_values"], float)
    grid = {(c["n"], c["type"], c["p"]): c["q"] for c in FIXTURE["quantile_grid"]}
    for quantile_type in range(1, 10):
        summary = continuous_summary(values, quantile_type)
        close([summary.p25, summary.p75],
              [grid[(25, quantile_type, 0.25)], grid[(25, quantile_type, 0.75)]], rtol=1e-12)
        assert summary.median == np.median(values)
    with pytest.raises(Exception, match="1 to 9"):
        continuous_summary(values, 10)


@pytest.mark.parametrize("section", list(FIXTURE["tables"]))
def test_summaries_counts_and_tests_match_r(built, section):
    _, records = built
    reference = FIXTURE["tables"][section]
    for group, size in reference["N"].items():
        assert _stat(records, section, "group", "N", reference["by"], group_level=group) == size
    for variable, expected in reference["variables"].items():
        if expected["kind"] == "continuous":
            for group, fields in expected["fields"].items():
                close([_stat(records, section, "continuous", FIELDS[f], variable,
                             group_level=group) for f in FIELDS],
                      [fields[f] for f in FIELDS])
                assert _stat(records, section, "continuous", "N_miss", variable,
                             group_level=group) == expected["missing"][group]
        else:
            for group, counts in expected["counts"].items():
                for level, n in counts.items():
                    if variable == "ascites" and level == "no":
                        continue  # a binary row records its positive level
                    assert _stat(records, section, "categorical", "n", variable, level,
                                 group) == n
                    assert _stat(records, section, "categorical", "N", variable, level,
                                 group) == expected["known"][group]
        test = expected["test"]
        assert _stat(records, section, "test", "method", variable,
                     group_level=None) == METHODS[test["method"]], variable
        close(_stat(records, section, "test", "p.value", variable), test["p"])
        if "statistic" in test:
            close(_stat(records, section, "test", "statistic", variable), test["statistic"])


def test_cells_are_gtsummarys_as_rounded(built):
    outcome, _ = built
    rows = [[cell.text for cell in row.cells] for row in _table(outcome, "gtsummary").body]
    labels = [row[0] for row in rows]

    def block(label, size):
        start = labels.index(label) + 1
        return rows[start:start + size]

    groups = FIXTURE["tables"]["gtsummary"]["groups"]
    cells = FIXTURE["cells"]
    age = block("Age", 3)
    assert [row[0] for row in age] == ["Median (Q1, Q3)", "Mean (SD)", "Min, Max"]
    assert [row[1:3] for row in age] == [[cells[g]["age"][i] for g in groups] for i in range(3)]
    chol = block("Cholesterol", 3)  # median_iqr, range, n_missing: the missing row once
    assert [row[0] for row in chol] == ["Median (IQR)", "Range", "Unknown"]
    assert [row[1:3] for row in chol] == [[cells[g]["chol"][i] for g in groups]
                                          for i in range(3)]
    assert labels.count("Unknown") == 2  # cholesterol's (where n_missing stands), platelets'
    platelet = block("Platelets", 2)
    assert platelet[0][1:3] == [cells[g]["platelet"] for g in groups]
    assert platelet[1][0] == "Unknown"
    sex = block("Sex", 2)
    assert [row[1:3] for row in sex] == [[cells[g]["sex"][i] for g in groups] for i in range(2)]


def test_one_p_value_per_variable_on_its_label_row_with_the_test_named(built):
    outcome, _ = built
    table = _table(outcome, "gtsummary")
    marks = {}
    for row in table.body:
        p_cell = row.cells[-1]
        if row.indent:
            assert p_cell.text == ""
        elif p_cell.text:
            marks[row.cells[0].text] = p_cell.marks[0]
    notes = {note.mark: note.text for note in table.footnotes if note.mark}
    named = {label: notes[mark] for label, mark in marks.items()}
    assert named["Age"].startswith(METHODS["wilcoxon"])
    assert named["Sex"].startswith(METHODS["chisq"])
    assert named["Bilirubin group"].startswith(METHODS["fisher"])
    assert named["Histologic stage"] == f"{METHODS['cochran_armitage']} (levels scored 1 to 4)."
    assert len(marks) == 8
    plain = [note.text for note in table.footnotes if not note.mark]
    assert "Sex, Ascites, Oedema, Bilirubin group, Histologic stage: n / N (%)." in plain


def test_the_quantile_type_is_stated_when_not_rs_default(built):
    outcome, records = built
    texts = {s: " ".join(n.text for n in _table(outcome, s).footnotes)
             for s in ("gtsummary", "parametric")}
    assert "quantile type 2" in texts["gtsummary"]
    assert "quantile type" not in texts["parametric"]  # type 7, and no quartile shown
    assert _stat(records, "gtsummary", "continuous", "quantile.type", "chol") == 2
    assert not [r for r in records if r["section"] == "parametric"
                and r["stat_name"] == "quantile.type"]
    methods = " ".join(next(s for s in outcome.sections if s.id == "gtsummary").methods)
    assert "quantile type 2" in methods and "Cochran" in methods


def test_trend_tests_match_r_on_their_own():
    t1 = FIXTURE["tables"]["gtsummary"]["variables"]["stage"]
    table = np.array([[t1["counts"][g][level] for g in ("D-penicillamine", "Placebo")]
                      for level in "1234"])
    result = cochran_armitage_test(table)
    close([result.statistic, result.p_value], [t1["test"]["statistic"], t1["test"]["p"]])
    edema = FIXTURE["tables"]["by_stage"]["variables"]["edema"]
    table = np.array([[edema["counts"][g][level] for g in "1234"]
                      for level in ("none", "untreated", "treated")])
    result = linear_by_linear_test(table)
    close([result.statistic, result.p_value], [edema["test"]["statistic"], edema["test"]["p"]])
    # with two groups M^2 = (N - 1) / N times the Cochran–Armitage statistic
    two = np.array([[10, 20], [12, 25], [15, 18], [20, 14]])
    n = two.sum()
    close(linear_by_linear_test(two).statistic,
          (n - 1) / n * cochran_armitage_test(two).statistic, rtol=1e-12)


def _build_with(tmp_path, old: str, new: str):
    folder = tmp_path / "cohort"
    folder.mkdir()
    shutil.copy(CONFIG.parent / "pbc_table1.csv", folder)
    text = CONFIG.read_text()
    assert old in text
    (folder / "report.toml").write_text(text.replace(old, new, 1))
    return build(folder / "report.toml", tmp_path / "out", progress=Progress(quiet=True))


@pytest.mark.parametrize("old, new, message", [
    ('"{median} ({p25}, {p75})"', '"{median} ({p25}, {p57})"',
     "unknown field '{p57}' in \"{median} ({p25}, {p57})\"; did you mean 'p75'?"),
    ("digits = { p = 1 }", "digits = { pp = 1 }",
     "digits names field 'pp', which does not exist; did you mean 'p'?"),
    ('statistic = "{mean} ({sd})", digits = 0', 'statistic = "{n} ({sd})"',
     "unknown field '{n}' in \"{n} ({sd})\" for a continuous row"),
    ('statistic = "{mean} ({sd})", digits = 0', 'statistic = "{mean:.2f}"',
     "decimals are set by digits"),
    ('statistic = "{mean} ({sd})", digits = 0', 'statistic = "{mean}", stat = "mean"',
     "give stat or statistic, not both"),
    ('"sex", "ascites"', '{ variable = "sex", stat = "mean_sd" }, "ascites"',
     "stat applies to continuous variables; 'sex' is categorical"),
    ('"sex", "ascites"', '{ variable = "sex", statistic = ["{n}", "{p}"] }, "ascites"',
     "a list of rows is for continuous variables"),
    ('{ variable = "stage", trend = true }', '{ variable = "stage", trend = true, test = "fisher" }',
     "cannot be combined with test = 'fisher'"),
    ('{ variable = "stage", trend = true }', '{ variable = "stage", trend = true, test_missing = true }',
     "drop test_missing"),
    ('statistic = "{mean} ({sd})", digits = 0', 'trend = true',
     "trend applies to categorical variables; 'platelet' is continuous"),
    ('continuous_stat = ["median_iqr", "mean_sd"]', 'continuous_stat = "median_iq"',
     "did you mean 'median_iqr'?"),
    ('continuous_stat = ["median_iqr", "mean_sd"]',
     'continuous_stat = "mean"\ncontinuous_statistic = "{mean}"',
     "give continuous_stat or continuous_statistic, not both"),
    ('continuous_stat = ["median_iqr", "mean_sd"]', 'continuous_statistic = "{n} ({p}%)"',
     "unknown field '{n}' in \"{n} ({p}%)\" for a continuous row"),
    ('categorical_statistic = "{n} / {N} ({p}%)"', 'categorical_statistic = "{mean}"',
     "unknown field '{mean}' in \"{mean}\" for a categorical row"),
    ('tests = "parametric"', 'tests = "parametrc"', "did you mean 'parametric'?"),
    ("quantile_type = 2", "quantile_type = 0", "quantile_type"),
])
def test_a_bad_statistic_option_is_one_clear_line(tmp_path, old, new, message):
    with pytest.raises(UserError) as caught:
        _build_with(tmp_path, old, new)
    text = str(caught.value)
    assert message in text, text
    assert "\n" not in text
