"""tests/by_meaning.py: what counts as the same report on another machine, and what not."""

from __future__ import annotations

import copy
import math

import pytest


def document() -> dict:
    record = {"section": "table1", "context": "continuous", "variable": "age_days",
              "variable_level": None, "group": "type", "group_level": "ALL",
              "stat_name": "sd", "stat": 116.35566165855447, "formatted": "116.4"}
    return {
        "report": {"title": "T", "generated_with": {
            "cohortpress": "0.1.0", "python": "3.11.7", "numpy": "2.4.6",
            "plugin:extra.py": "1.0"}, "cohort": {"source": "cohort.csv", "n_rows": 50}},
        "results": [
            {**record, "stat_name": "N", "stat": 25, "formatted": None},
            record,
            {**record, "context": "test", "stat_name": "p.value", "stat": 3.2e-14,
             "formatted": "<0.001"},
            {**record, "stat_name": "missing", "stat": math.nan, "formatted": None},
            {**record, "stat_name": "exact", "stat": True, "formatted": None},
        ],
    }


def changed(path, value) -> dict:
    """``document()`` with the value at ``path`` (a tuple of keys and indices) replaced."""
    doc = copy.deepcopy(document())
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


@pytest.fixture
def differences(cp):
    return lambda other: cp.by_meaning.json_differences(document(), other)


def test_the_same_document_and_last_digits_agree(differences):
    assert differences(document()) == []
    assert differences(changed(("results", 1, "stat"), 116.35566165855445)) == []
    assert differences(changed(("results", 1, "stat"), 116.35566165855447 * (1 + 5e-10))) == []
    assert differences(changed(("results", 2, "stat"), 0.0)) == []  # within 1e-12 of zero


def test_a_change_past_the_tolerance_is_named_by_its_path(differences):
    found = differences(changed(("results", 1, "stat"), 116.35566165855447 * (1 + 2e-9)))
    assert len(found) == 1
    assert found[0].startswith("$.results[1].stat (section table1, continuous, age_days ALL, "
                               "sd): 116.35566165855447 != ")
    assert "relative difference 2e-09" in found[0]
    assert differences(changed(("results", 2, "stat"), 2e-12)) != []


@pytest.mark.parametrize(("path", "value"), [
    (("results", 0, "stat"), 26),  # integers exactly
    (("results", 0, "stat"), 25.0),  # an integer that became a float
    (("results", 1, "formatted"), "116.3"),  # the rounded text a reader sees
    (("results", 3, "stat"), 0.0),  # NaN is only NaN
    (("results", 4, "stat"), 1),
    (("report", "title"), "T2"),
    (("report", "cohort", "n_rows"), 49),
    (("report", "generated_with", "cohortpress"), "0.2.0"),  # the code's own version
    (("report", "generated_with", "plugin:extra.py"), "1.1"),  # a plugin is the analysis
])
def test_everything_else_must_be_equal(differences, path, value):
    found = differences(changed(path, value))
    assert len(found) == 1, found
    assert found[0].startswith("$." + ".".join(f"[{p}]" if isinstance(p, int) else p
                                               for p in path).replace(".[", "["))


def test_the_versions_of_python_and_the_libraries_are_environment(differences):
    other = changed(("report", "generated_with", "python"), "3.11.9")
    other["report"]["generated_with"]["numpy"] = "2.4.7"
    assert differences(other) == []
    del other["report"]["generated_with"]["numpy"]  # but not a library left out
    assert differences(other) == ["$.report.generated_with: keys ['numpy'] only in the "
                                  "first, [] only in the second"]


def test_records_added_or_lost_are_reported(differences):
    other = document()
    other["results"].pop()
    assert differences(other) == ["$.results: 5 items, then 4"]


def test_the_first_differences_only(cp):
    many = {"results": [float(i) for i in range(100)]}
    other = {"results": [float(i) + 1 for i in range(100)]}
    assert len(cp.by_meaning.json_differences(many, other)) == 20
    assert len(cp.by_meaning.json_differences(many, other, limit=3)) == 3


def test_environment_names(cp):
    assert cp.by_meaning.environment_names(document()) == ["python", "numpy"]


def test_pdf_text_is_normalised_for_versions_and_line_breaks(cp):
    meaning = cp.by_meaning
    packages = ["python", "numpy", "scipy"]
    committed = ("Analyses were performed in Python 3.11.7 with cohortpress 0.1.0 (NumPy "
                 "2.4.6 and\nSciPy 1.17.1). Fig\u2010\nures were drawn.\n\fSoftware "
                 "numpy 2.4.6,\npython 3.11.7\n")
    rebuilt = ("Analyses were performed in Python 3.12.10 with cohortpress 0.1.0 (NumPy\n"
               "2.5.0rc1 and SciPy 1.17.1). Figures were\ndrawn.\n\fSoftware numpy\n2.5.0rc1, "
               "python 3.12.10\n")
    before = meaning.normalise_text(committed, packages)
    assert before == ("Analyses were performed in Python <version> with cohortpress 0.1.0 "
                      "(NumPy <version> and SciPy <version>). Figures were drawn. Software "
                      "numpy <version>, python <version>")
    assert meaning.text_differences(before, meaning.normalise_text(rebuilt, packages)) == ""
    # The code's version and every number of the report still count.
    for other in (rebuilt.replace("cohortpress 0.1.0", "cohortpress 0.2.0"),
                  rebuilt.replace("drawn", "drawn 0.1")):
        why = meaning.text_differences(before, meaning.normalise_text(other, packages))
        assert why.startswith("the texts part at character ") and "committed: …" in why
