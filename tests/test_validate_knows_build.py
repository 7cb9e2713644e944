"""``validate`` refuses what the analyses would refuse, with the line they would give.

For every built-in analysis, each data problem its run raises for (the kinds of variables
it accepts, levels and groups named in the config, tests that cannot apply) is caught by
its options' ``check_data`` before any statistics: ``validate`` and ``build`` both exit 2
with the same one line, and the run itself, given the same cohort, raises the same message
(one shared check, not two copies). The warnings (an empty group, an endpoint or outcome
without events, config values no patient has) are printed by both commands alike.
"""

from __future__ import annotations

import pytest

from cohortpress.common.errors import UserError

SECTION = '[[section]]\nid = "s"\n'

G3 = ('[derived.g3]\ntype = "cut"\nsource = "age"\nbreaks = [0, 40, 60, 200]\n'
      'labels = ["young", "middle", "old"]\n')


#: Marks a case whose config declares Male as the reference level of sex.
REFERENCE_MALE = "\n# reference Male\n"


def demo_toml(cp, extra: str) -> str:
    toml = cp.DEMO_TOML
    if REFERENCE_MALE in extra:
        toml = toml.replace('levels = ["F", "M"]', 'levels = ["F", "M"]\nreference = "M"')
    return toml + extra


def section(analysis: str, body: str, before: str = "") -> str:
    return f'{before}{SECTION}analysis = "{analysis}"\n{body}\n'


REFUSED = [
    ("crosstab-row-continuous", section("crosstab", 'row = "age"'),
     "key 'section[1]': column 'age': the row variable 'age' is continuous; a "
     "cross-tabulation needs a categorical variable"),
    ("crosstab-column-continuous", section("crosstab", 'row = "sex"\ncolumn = "age"'),
     "key 'section[1]': column 'age': grouping variable 'age' is continuous; it must be "
     "categorical (derive groups with a 'cut' in [derived])"),
    ("cox-covariate-date", section("cox", 'endpoint = "os"\ncovariates = ["age", "dx"]'),
     "key 'section[1]': column 'dx': covariate 'dx' is date; models take categorical, binary "
     "or continuous variables"),
    ("cox-strata-continuous", section("cox", 'endpoint = "os"\ncovariates = ["sex"]\n'
                                             'strata = "age"'),
     "key 'section[1]': column 'age': strata variable 'age' must be categorical"),
    ("cox-reference-not-in-subset",
     section("cox", 'endpoint = "os"\ncovariates = ["sex", "age"]\n'
                    'subset = [{ variable = "sex", eq = "Female" }]',
             before="") + REFERENCE_MALE,
     "key 'section[1]': column 'sex': the reference level 'Male' of 'sex' has no patients "
     "among the complete cases"),
    ("logistic-outcome-continuous", section("logistic", 'outcome = "age"\ncovariates = ["sex"]'),
     "key 'section[1].outcome': column 'age': the outcome 'age' must be binary (two levels); "
     "it is continuous"),
    ("logistic-covariate-date", section("logistic", 'outcome = "sex"\ncovariates = ["dx"]'),
     "key 'section[1]': column 'dx': covariate 'dx' is date; models take categorical, binary "
     "or continuous variables"),
    ("kmt2a-by-continuous", section("kmt2a_partners", 'source = "sex"\nby = "age"'),
     "key 'section[1]': column 'age': grouping variable 'age' is continuous; it must be "
     "categorical (derive groups with a 'cut' in [derived])"),
    ("distribution-bars-continuous", section("distribution", 'variable = "age"'),
     "key 'section[1]': column 'age': plot = \"bars\" needs a categorical variable; 'age' is "
     "continuous (declare a cut in [derived], or use plot = \"dots\")"),
    ("distribution-dots-categorical", section("distribution", 'variable = "sex"\nplot = "dots"'),
     "key 'section[1]': column 'sex': plot = \"dots\" needs a continuous variable; 'sex' is "
     "categorical"),
    ("distribution-wilcoxon-three-groups",
     section("distribution", 'variable = "age"\nplot = "dots"\nby = "g3"\ntest = "wilcoxon"',
             before=G3),
     "key 'section[1]': column 'age': the Wilcoxon rank-sum test compares two groups, there "
     "are 3 with values; use kruskal"),
    ("demographics-exclude-misspelt",
     section("demographics", 'variables = [{ variable = "sex", exclude_from_test = ["Femal"] }]'),
     "key 'section[1]': column 'sex': exclude_from_test names levels ['Femal'] that are not "
     "among ['Female', 'Male']; did you mean 'Female'?"),
    ("demographics-exclude-on-continuous",
     section("demographics", 'variables = [{ variable = "age", exclude_from_test = ["40"] }]'),
     "key 'section[1]': column 'age': exclude_from_test applies to categorical variables; "
     "'age' is continuous"),
    ("demographics-applies-to-unknown-group",
     section("demographics", 'variables = [{ variable = "sex", applies_to = ["Arm C"] }]'),
     "key 'section[1]': column 'sex': applies_to names groups ['Arm C'] that are not among "
     "['Arm B', 'Arm A']"),
    ("demographics-fisher-on-continuous",
     section("demographics", 'variables = [{ variable = "age", test = "fisher" }]'),
     "key 'section[1]': column 'age': test 'fisher' does not apply to the continuous variable "
     "'age'; use t_test, welch, wilcoxon, kruskal or anova"),
    ("demographics-kruskal-on-categorical",
     section("demographics", 'variables = [{ variable = "sex", test = "kruskal" }]'),
     "key 'section[1]': column 'sex': test 'kruskal' does not apply to the categorical "
     "variable 'sex'; use fisher, chisq or chisq_yates"),
    ("demographics-test-of-dates",
     section("demographics", 'variables = [{ variable = "dx", test = "wilcoxon" }]'),
     "key 'section[1]': column 'dx': test 'wilcoxon' does not apply to the date variable "
     "'dx'; dates are described, not tested; use none"),
    ("demographics-t-test-three-groups",
     section("demographics", 'by = "g3"\nvariables = [{ variable = "age", test = "t_test" }]',
             before=G3),
     "key 'section[1]': column 'age': the t test compares two groups, there are 3; use "
     "kruskal or anova"),
    ("overview-by-continuous", section("overview", 'by = "age"'),
     "key 'section[1]': column 'age': grouping variable 'age' is continuous; it must be "
     "categorical (derive groups with a 'cut' in [derived])"),
    ("survival-strata-continuous", section("survival", 'endpoints = ["os"]\nstrata = "age"'),
     "key 'section[1]': column 'age': strata variable 'age' must be categorical"),
]


@pytest.mark.parametrize("case_id, extra, tail", REFUSED, ids=[c[0] for c in REFUSED])
def test_validate_build_and_the_run_refuse_with_one_line(cp, tmp_path, capsys, case_id, extra,
                                                         tail):
    project = cp.Project(tmp_path / "p", toml=demo_toml(cp, extra))
    expected = f"cohortpress: error: {project.config}: {tail}"
    validated = cp.run_cli(["validate", project.config, "--quiet"], capsys)
    built = cp.run_cli(["build", project.config, "--output", tmp_path / "out", "--quiet"],
                       capsys)
    for result in (validated, built):
        assert "Traceback" not in result.err
        assert (result.code, result.err_lines[-1]) == (2, expected)
    assert not (tmp_path / "out").exists()
    # The analysis's own run refuses with the same message (the check is shared).
    with pytest.raises(UserError) as raised:
        _run_section(project)
    message = tail.split(": ", 2)[-1] if raised.value.column else tail.split(": ", 1)[-1]
    assert raised.value.message == message


def _run_section(project):
    """The last section run directly by its analysis, as a build's worker runs it."""
    from cohortpress.app.load import load_cohort
    from cohortpress.app.run import analyse, section_context

    plan = project.plan()
    cohort = load_cohort(plan)
    planned = plan.sections[-1]
    return analyse(planned, cohort, section_context(planned, plan.config))


WARNED = [
    ("empty-group", section("crosstab", 'row = "sex"\nsubset = [{ variable = "arm", '
                                        'eq = "Arm A" }]'),
     "cohortpress: warning: section 's': group 'Arm B' of 'arm' has no patients (shown empty, "
     "not tested)"),
    ("empty-group-demographics",
     section("demographics", 'variables = ["sex"]\nsubset = [{ variable = "arm", '
                             'eq = "Arm B" }]'),
     "cohortpress: warning: section 's': group 'Arm A' of 'arm' has no patients (shown empty, "
     "not tested)"),
    ("cox-no-events",
     section("cox", 'endpoint = "os"\ncovariates = ["age"]\n'
                    'subset = [{ variable = "os_status", eq = "alive" }]'),
     "cohortpress: warning: section 's': endpoint 'os' has no events among these 4 patients"),
    ("logistic-outcome-level-absent",
     section("logistic", 'outcome = "sex"\ncovariates = ["age"]\n'
                         'subset = [{ variable = "sex", eq = "Female" }]'),
     "cohortpress: warning: section 's': no patient has the outcome 'sex' = 'Male' among these "
     "4 with a known value"),
    ("declared-level-absent", "",
     "cohortpress: warning: key 'variables.sex.levels': no patient has the level 'Other' (it "
     "is shown with no patients)"),
    ("label-of-no-value", "",
     "cohortpress: warning: key 'variables.arm.labels.C': no patient has the value 'C', so "
     "this label is not used"),
    ("recode-key-of-no-value",
     '[derived.sex2]\ntype = "recode"\nsource = "sex"\nmapping = { Femal = "f" }\n',
     "cohortpress: warning: key 'derived.sex2.mapping.Femal': no patient has the value 'Femal' "
     "of 'sex', so it recodes nothing; did you mean 'Female'?"),
]


@pytest.mark.parametrize("case_id, extra, warning", WARNED, ids=[c[0] for c in WARNED])
def test_validate_and_build_warn_alike(cp, tmp_path, capsys, case_id, extra, warning):
    toml = cp.DEMO_TOML
    if "levels" in warning or "labels" in warning:
        toml = toml.replace('levels = ["F", "M"]', 'levels = ["F", "M", "O"]') \
            .replace('labels = { F = "Female", M = "Male" }',
                     'labels = { F = "Female", M = "Male", O = "Other" }') \
            .replace('labels = { A = "Arm A", B = "Arm B" }',
                     'labels = { A = "Arm A", B = "Arm B", C = "Arm C" }')
    project = cp.Project(tmp_path / "p", toml=toml + extra)
    validated = cp.run_cli(["validate", project.config], capsys)
    built = cp.run_cli(["build", project.config, "--output", tmp_path / "out"], capsys)
    for result in (validated, built):
        assert "Traceback" not in result.err
        assert result.code in (0, 1), result.err
        assert warning in result.err_lines, result.err
    assert validated.code == 0


def test_a_good_config_gets_no_level_warning(cp, tmp_path, capsys):
    """The demo's levels, labels and missing codes all occur: no warning at all."""
    project = cp.Project(tmp_path / "p")
    result = cp.run_cli(["validate", project.config], capsys)
    assert result.code == 0
    assert not [line for line in result.err_lines if "warning" in line], result.err


@pytest.mark.parametrize("body, key, why", [
    ('variable = "sex"\ntest = "wilcoxon"', "test",
     "'wilcoxon' does not apply to plot = \"bars\"; use fisher, chisq, auto or none"),
    ('variable = "age"\nplot = "dots"\ntest = "fisher"', "test",
     "'fisher' does not apply to plot = \"dots\"; use wilcoxon, kruskal, auto or none"),
    ('variable = "sex"\nlog_scale = true', "log_scale",
     "applies to plot = \"dots\" (a bar chart has no value axis)"),
    ('variable = "sex"\nreference_lines = [1.0]', "reference_lines",
     "applies to plot = \"dots\" (a bar chart has no value axis)"),
])
def test_distribution_refuses_options_of_the_other_plot(cp, tmp_path, capsys, body, key, why):
    project = cp.Project(tmp_path / "p", toml=cp.DEMO_TOML + section("distribution", body))
    result = cp.run_cli(["validate", project.config, "--quiet"], capsys)
    assert result.code == 2
    assert result.err_lines[-1] == (f"cohortpress: error: {project.config}: key "
                                    f"'section[1].{key}': {why}")
