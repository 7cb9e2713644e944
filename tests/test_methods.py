"""The statistical-methods section is written from what ran: it changes when the config
changes a method, and reads in the order of a paper's Methods (descriptive statistics and
tests, survival, regression, missing data, software)."""

from __future__ import annotations

import pytest

from cohortpress.render.methods import (compose_methods, merge_parallel, missing_counts,
                                 section_kind, software_paragraph)
from cohortpress.api.blocks import Figure
from cohortpress.api.results import Result
from cohortpress.api.sections import Section


def cohort_csv() -> str:
    """40 patients in two arms, with a missing sex code and deterministic follow-up."""
    lines = ["id,arm,sex,age,months,status"]
    for i in range(40):
        arm = "A" if i % 2 else "B"
        sex = "U" if i in (3, 17) else ("F" if i % 3 else "M")
        age = 30 + (i * 7) % 41
        months = 3 + (i * 11) % 57 + (6 if arm == "A" else 0)
        status = "dead" if (i * 5) % 7 < (3 if arm == "A" else 4) else "alive"
        lines.append(f"P{i:02d},{arm},{sex},{age},{months},{status}")
    return "\n".join(lines) + "\n"


TOML = """\
[report]
title = "Methods check"

[cohort]
path = "cohort.csv"
id = "id"
group = "arm"

[variables.arm]
label = "Arm"
levels = ["A", "B"]

[variables.sex]
label = "Sex"
levels = ["F", "M"]
missing = ["U"]

[variables.age]
label = "Age"
kind = "continuous"

[endpoints.os]
label = "Overall survival"
time = "months"
time_unit = "months"
unit = "years"
event = "status"
event_codes = ["dead"]
censor_codes = ["alive"]

[[section]]
id = "cox"
analysis = "cox"
title = "Cox"
endpoint = "os"
covariates = ["sex", "age"]
ties = "efron"

[[section]]
id = "km"
analysis = "survival"
title = "Survival"
endpoints = ["os"]
conf_type = "log"
figure = false

[[section]]
id = "table1"
analysis = "demographics"
title = "Table 1"
variables = [{ variable = "sex", test = "fisher" }, { variable = "age", test = "t_test" }]
"""


def compose(cp, tmp_path, toml: str = TOML) -> list[str]:
    from cohortpress.app.load import load_cohort
    from cohortpress.app.run import run_section
    from cohortpress.render.context import methods_paragraphs

    project = cp.Project(tmp_path / "p", toml=toml, csv=cohort_csv())
    plan = project.plan()
    cohort = load_cohort(plan)
    sections = [run_section(p, cohort, plan.config, 120) for p in plan.sections]
    assert not [s.id for s in sections if s.failed]
    return methods_paragraphs(plan, cohort, sections)


@pytest.fixture(scope="module")
def default(cp, tmp_path_factory) -> list[str]:
    return compose(cp, tmp_path_factory.mktemp("methods"))


def test_paragraphs_follow_the_order_of_a_methods_section(default):
    # The config lists Cox, then survival, then Table 1; the text does not.
    assert len(default) == 5, default
    descriptive, survival, regression, missing, software = default
    assert descriptive.startswith("Characteristics were compared between the A and B groups")
    assert "Kaplan\u2013Meier" in survival and "log-rank" in survival
    assert "Cox proportional-hazards regression" in regression
    assert missing.startswith("Missing values were reported in their own row")
    assert software.startswith("Analyses were performed in Python ")


def test_missing_values_are_counted_from_the_results(default):
    assert "values were missing for sex (2 patients)" in default[3]
    # The Cox sentence already says complete cases: not repeated.
    assert "Regression models were fitted to complete cases" not in default[3]


def test_software_with_versions(default):
    import numpy
    import scipy

    from cohortpress.common.version import __version__

    software = default[-1]
    assert f"cohortpress {__version__}" in software
    assert f"NumPy {numpy.__version__}" in software and f"SciPy {scipy.__version__}" in software
    assert "lifelines" not in software  # not what computed the statistics
    assert software.endswith("All tests were two-sided.")
    assert "matplotlib" not in software  # no figure was drawn


@pytest.mark.parametrize("old, new, before, after", [
    ('{ variable = "age", test = "t_test" }', '{ variable = "age", test = "wilcoxon" }',
     "t-test for age", "Wilcoxon"),
    ('conf_type = "log"', 'conf_type = "log-log"', "on the log transform",
     "on the log(\u2212log) transform"),
    ('ties = "efron"', 'ties = "breslow"', "Efron", "Breslow"),
])
def test_the_text_changes_when_the_config_changes_a_method(cp, tmp_path, default, old, new,
                                                           before, after):
    assert old in TOML
    changed = compose(cp, tmp_path, TOML.replace(old, new))
    text_before, text_after = " ".join(default), " ".join(changed)
    assert before in text_before and after not in text_before
    assert after in text_after and before not in text_after
    # Only the paragraph of that method changed.
    assert sum(a != b for a, b in zip(default, changed)) == 1


def test_a_restricted_section_and_a_population_filter_are_stated(cp, tmp_path):
    toml = TOML.replace('group = "arm"\n', 'group = "arm"\nfilter = [{ variable = "age", le = 65 }]\n')
    toml = toml.replace('ties = "efron"\n', 'ties = "efron"\nsubset = [{ variable = "sex", eq = "F" }]\n')
    paragraphs = compose(cp, tmp_path, toml)
    text = " ".join(paragraphs)
    assert "The analysis in \u201cCox\u201d was restricted to the " in text
    assert "patients with sex = F." in text
    assert "The analysis population was restricted to patients with" in paragraphs[3]


# --------------------------------------------------------------------------- composition


def test_sentences_differing_only_in_their_subject_are_merged():
    sentences = [
        "Associations with event-free survival were estimated with Cox regression (Efron ties).",
        "The proportional-hazards assumption was checked with Schoenfeld residuals.",
        "Associations with overall survival were estimated with Cox regression (Efron ties).",
        "Associations with relapse-free survival were estimated with Cox regression (Efron ties).",
    ]
    assert merge_parallel(sentences) == [
        "Associations with event-free, overall and relapse-free survival were estimated with "
        "Cox regression (Efron ties).",
        "The proportional-hazards assumption was checked with Schoenfeld residuals.",
    ]


def test_sentences_differing_only_in_their_singular_subject_are_merged():
    sentences = [
        "Overall survival was analysed with the follow-up time and event status recorded.",
        "EFS was analysed with the follow-up time and event status recorded.",
        "Relapse-free survival was analysed with the follow-up time and event status recorded.",
    ]
    assert merge_parallel(sentences) == [
        "Overall survival, EFS and relapse-free survival were analysed with the follow-up time "
        "and event status recorded."]


@pytest.mark.parametrize("a, b", [
    # A different method is not a different subject: both sentences stay.
    ("Survival was estimated with the Kaplan-Meier method on the log transform.",
     "Survival was estimated with the Kaplan-Meier method on the log-log transform."),
    ("Associations with overall survival were estimated with Cox regression (Efron ties).",
     "Associations with overall survival were estimated with Cox regression (Breslow ties)."),
    # Two differences.
    ("Predictors of response (poor) were evaluated with logistic regression by maximum likelihood.",
     "Predictors of relapse (yes) were evaluated with logistic regression by Firth's penalized likelihood."),
    ("Groups were compared.", "Arms were compared."),  # too short to share a subject
    # A plural subject: "were" already, nothing to agree.
    ("Groups were compared with the log-rank test.",
     "Pairs of groups were compared with the log-rank test."),
])
def test_sentences_describing_different_methods_stay_apart(a, b):
    assert merge_parallel([a, b]) == [a, b]


def _section(sid, contexts, methods=("M.",), **kwargs):
    results = tuple(Result(c, "n", 1) for c in contexts)
    return Section(sid, sid, results=results, methods=methods, **kwargs)


@pytest.mark.parametrize("contexts, analysis, kind", [
    (["categorical", "test"], "demographics", "descriptive"),
    (["survfit", "survdiff"], "my_km", "survival"),          # a third-party analysis
    (["cuminc"], None, "survival"),
    (["coxph", "cox.zph"], None, "regression"),
    (["logistic"], "firth_plus", "regression"),
    ([], "cox", "regression"),                                 # a built-in with no records
    ([], "something_else", "descriptive"),
])
def test_section_kind(contexts, analysis, kind):
    assert section_kind(_section("s", contexts), analysis) == kind


def test_missing_counts_prefer_the_overall_column():
    records = (Result("categorical", "N_miss", 2, variable="x", group="arm", group_level="A"),
               Result("categorical", "N_miss", 1, variable="x", group="arm", group_level="B"),
               Result("categorical", "N_miss", 3, variable="y", group="arm", group_level="A"),
               Result("categorical", "N_miss", 4, variable="y"),
               Result("categorical", "N_miss", 0, variable="z", group="arm", group_level="A"))
    assert missing_counts([Section("s", "s", results=records)]) == {"x": 3, "y": 4, "z": 0}


def test_software_paragraph_cites_plugins_and_figures_only_when_there_are_some():
    versions = {"cohortpress": "1.0", "python": "3.12.1", "numpy": "2.0", "scipy": "1.14",
                "pandas": "2.2", "matplotlib": "3.9"}
    plain = software_paragraph(versions, [_section("s", ["categorical"])])
    assert plain == ("Analyses were performed in Python 3.12.1 with cohortpress 1.0 "
                     "(NumPy 2.0, SciPy 1.14 and pandas 2.2).")
    figure = Figure(b"png", "caption", "alt")
    tested = Section("t", "t", blocks=(figure,), results=(Result("test", "p.value", 0.1),))
    full = software_paragraph(versions, [tested], [("cohortpress-forest", "0.2")])
    assert "and the plugin cohortpress-forest 0.2." in full
    assert "Figures were drawn with matplotlib 3.9." in full
    assert full.endswith("All tests were two-sided.")


def test_failed_sections_contribute_nothing(cp, tmp_path):
    from cohortpress.config.schema import load_config

    project = cp.Project(tmp_path / "p", toml=TOML, csv=cohort_csv())
    config = load_config(project.config)
    cohort = project.cohort()
    failed = Section("cox", "Cox", methods=("Should not appear.",), failed=True)
    fine = _section("km", ["survfit"], methods=("survival was estimated.",))
    paragraphs = compose_methods(config, cohort, [failed, fine], {"python": "3"})
    assert "Should not appear." not in " ".join(paragraphs)
    assert paragraphs[0] == "Survival was estimated."  # sentences start with a capital
