"""The config file: validation errors name the file and the key path, unknown keys come with
"did you mean", relative paths resolve against the config's folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cohortpress.config.schema import load_config
from cohortpress.common.errors import ConfigError

MINIMAL = """\
[report]
title = "T"
[cohort]
path = "cohort.csv"
"""


def write(tmp_path: Path, text: str, name: str = "report.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value


def test_minimal_config_loads_with_documented_defaults(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.report.title == "T"
    assert config.report.p_digits == 3
    assert config.cohort.format == "auto"
    assert config.cohort.encoding == "utf-8-sig"
    assert config.cohort.max_levels == 50
    assert config.section == []
    assert config.text == MINIMAL


def test_relative_paths_resolve_against_the_config_folder_not_the_working_folder(
        tmp_path, monkeypatch):
    folder = tmp_path / "study" / "reports"
    folder.mkdir(parents=True)
    path = write(folder, """\
plugins = ["my_plugin.py"]
published = "published.toml"
[report]
title = "T"
templates = "tpl"
css = ["style/extra.css"]
[cohort]
path = "../data/c.csv"
""")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(os.path.relpath(path, elsewhere))
    assert config.source == path.resolve()
    assert config.cohort.path.resolve() == (tmp_path / "study" / "data" / "c.csv").resolve()
    assert config.plugins == [folder.resolve() / "my_plugin.py"]
    assert config.published == folder.resolve() / "published.toml"
    assert config.report.templates == folder.resolve() / "tpl"
    assert config.report.css == [folder.resolve() / "style" / "extra.css"]


def test_absolute_paths_are_kept(tmp_path):
    data = tmp_path / "elsewhere" / "c.csv"
    config = load_config(write(tmp_path, MINIMAL.replace('"cohort.csv"', f"'{data}'")))
    assert config.cohort.path == data


@pytest.mark.parametrize("where, snippet, key, suggestion", [
    ("report", 'titel = "x"', "report.titel", "title"),
    ("cohort", 'pth = "x"', "cohort.pth", "path"),
    ("end", '[variables.sex]\nlables = {}', "variables.sex.lables", "labels"),
    ("end", '[endpoints.os]\ntime = "t"\nevnt = "e"', "endpoints.os.evnt", "event"),
    ("end", '[derived.agegroup]\ntype = "cut"\nsorce = "age"\nbreaks = [0, 1]\n'
            'labels = ["a"]', "derived.agegroup.sorce", "source"),
    ("end", '[derived.older]\ntype = "flag"\n'
            'when = [{variable = "age", gt = 1, varible = "x"}]',
     "derived.older.when[0].varible", "variable"),
    ("cohort", 'filter = [{variable = "age", not_inn = [3]}]', "cohort.filter[0].not_inn",
     "not_in"),
])
def test_unknown_key_names_the_key_path_and_suggests_the_right_one(tmp_path, where, snippet,
                                                                    key, suggestion):
    if where == "report":
        text = MINIMAL.replace('title = "T"', f'title = "T"\n{snippet}')
    else:  # [cohort] is the last table of MINIMAL
        text = MINIMAL + snippet + "\n"
    error = config_error(tmp_path, text)
    assert error.key == key
    assert f"did you mean '{suggestion}'" in error.message
    line = error.one_line()
    assert "\n" not in line and line.startswith(str(tmp_path / "report.toml"))
    assert f"key '{key}'" in line


def test_unknown_top_level_key_lists_or_suggests(tmp_path):
    error = config_error(tmp_path, MINIMAL + '[sections]\nid = "x"\n')
    assert error.key == "sections"
    assert "did you mean 'section'" in error.message


@pytest.mark.parametrize("reserved", ["source", "text"])
def test_internal_fields_cannot_be_set_from_the_file(tmp_path, reserved):
    error = config_error(tmp_path, f'{reserved} = "x"\n' + MINIMAL)
    assert error.key == reserved and "unknown key" in error.message


@pytest.mark.parametrize("snippet, key, words", [
    ('p_digits = "three"', "report.p_digits", ["whole number", "'three'"]),
    ("p_digits = 9", "report.p_digits", ["6"]),
    ('style = "fancy"', "report.style", ["journal", "compact"]),
    ('authors = "Ann"', "report.authors", ["list"]),
    ('date = "31/05/2024"', "report.date", ["ISO date"]),
    ("section_timeout = 0", "report.section_timeout", ["greater than 0"]),
])
def test_wrong_type_or_value_in_report(tmp_path, snippet, key, words):
    error = config_error(tmp_path, MINIMAL.replace('title = "T"', f'title = "T"\n{snippet}'))
    assert error.key == key
    for word in words:
        assert word in error.message


def test_wrong_type_in_cohort_table(tmp_path):
    error = config_error(tmp_path, MINIMAL + "max_levels = 1\n")
    assert error.key == "cohort.max_levels" and "2" in error.message
    error = config_error(tmp_path, MINIMAL + 'filter = {variable = "age"}\n')
    assert error.key == "cohort.filter" and "list" in error.message


def test_missing_required_key(tmp_path):
    error = config_error(tmp_path, '[report]\nsubtitle = "x"\n[cohort]\npath = "c.csv"\n')
    assert error.key == "report.title" and error.message == "required key is missing"
    error = config_error(tmp_path, '[report]\ntitle = "x"\n')
    assert error.key == "cohort" and error.message == "required key is missing"


def test_section_keys_have_index_paths(tmp_path):
    text = MINIMAL + ('[[section]]\nid = "a"\nanalysis = "overview"\n'
                      '[[section]]\nid = "b c"\nanalysis = "overview"\n')
    error = config_error(tmp_path, text)
    assert error.key == "section[1].id"
    error = config_error(tmp_path, MINIMAL + '[[section]]\nid = "a"\n')
    assert error.key == "section[0].analysis"


def test_section_options_are_validated_against_the_analysis_with_key_paths(tmp_path):
    from cohortpress.app.build import plan_build

    text = MINIMAL + ('[[section]]\nid = "a"\nanalysis = "overview"\n'
                      '[[section]]\nid = "b"\nanalysis = "overview"\nby = 3\n')
    with pytest.raises(ConfigError) as info:
        plan_build(write(tmp_path, text))
    assert info.value.key == "section[1].by"
    text = MINIMAL + '[[section]]\nid = "a"\nanalysis = "overview"\nendpoints = ["os", 2]\n'
    with pytest.raises(ConfigError) as info:
        plan_build(write(tmp_path, text))
    assert info.value.key == "section[0].endpoints[1]"
    text = MINIMAL + '[[section]]\nid = "a"\nanalysis = "overview"\nendpoint = ["os"]\n'
    with pytest.raises(ConfigError) as info:
        plan_build(write(tmp_path, text))
    assert info.value.key == "section[0].endpoint"
    assert "did you mean 'endpoints'" in info.value.message


def test_duplicate_section_ids(tmp_path):
    text = MINIMAL + ('[[section]]\nid = "t1"\nanalysis = "overview"\n'
                      '[[section]]\nid = "t1"\nanalysis = "overview"\n')
    error = config_error(tmp_path, text)
    assert error.key == "section" and "duplicate section id 't1'" in error.message


def test_toml_syntax_error_names_the_file_and_the_line(tmp_path):
    error = config_error(tmp_path, '[report]\ntitle = "unterminated\n[cohort]\npath = "c"\n')
    line = error.one_line()
    assert line.startswith(str(tmp_path / "report.toml") + ": not valid TOML")
    assert "line 2" in line and "\n" not in line


def test_duplicate_toml_key_is_a_syntax_error(tmp_path):
    error = config_error(tmp_path, MINIMAL + 'path = "other.csv"\n')
    assert "not valid TOML" in error.message and error.file == str(tmp_path / "report.toml")


def test_config_file_missing_folder_and_bad_encoding(tmp_path):
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(tmp_path / "nope.toml")
    assert info.value.file == str(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)
    path = tmp_path / "latin.toml"
    path.write_bytes('[report]\ntitle = "Gen\xe8ve"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="cannot read the config") as info:
        load_config(path)
    assert info.value.file == str(path)


# --------------------------------------------------------------------------- derived


@pytest.mark.parametrize("spec, key, words", [
    ('type = "cut"\nsource = "age"\nbreaks = [0]\nlabels = []', "derived.d",
     ["at least two"]),
    ('type = "cut"\nsource = "age"\nbreaks = [0, 40, 30]\nlabels = ["a", "b"]', "derived.d",
     ["strictly increasing"]),
    ('type = "cut"\nsource = "age"\nbreaks = [0, 40, 60]\nlabels = ["a"]', "derived.d",
     ["2 bins need 2 labels, got 1"]),
    ('type = "cut"\nsource = "age"\nlabels = ["a"]', "derived.d.breaks", ["required"]),
    ('type = "recode"\nsource = "sex"', "derived.d.mapping", ["required"]),
    ('type = "recode"\nsource = "sex"\nmapping = { M = 1 }', "derived.d.mapping.M",
     ["text in quotes"]),
    ('type = "flag"\nwhen = [{ variable = "age", gt = 1, lt = 5 }]', "derived.d.when[0]",
     ["exactly one"]),
    ('type = "flag"\nwhen = [{ variable = "age" }]', "derived.d.when[0]", ["exactly one"]),
    ('type = "case"\ncases = [{ when = [{ variable = "age", gt = 1 }] }]',
     "derived.d.cases[0].value", ["required"]),
    ('type = "date_diff"\nstart = "dx"\nend = "last"\nunit_of_time = "weeks"',
     "derived.d.unit_of_time", ["days", "months", "years"]),
    ('type = "transform"\nsource = "age"\nfunction = "scale"', "derived.d", ["per"]),
    ('type = "transform"\nsource = "age"\nfunction = "exp"', "derived.d.function",
     ["log", "sqrt"]),
    ('type = "bin"\nsource = "age"', "derived.d", ["cut, recode, flag"]),
    ('source = "age"', "derived.d", ["needs a 'type'"]),
])
def test_derived_variable_specs_are_validated(tmp_path, spec, key, words):
    error = config_error(tmp_path, MINIMAL + f"[derived.d]\n{spec}\n")
    assert error.key == key, error.one_line()
    for word in words:
        assert word in error.message, error.message


def test_every_derived_type_is_accepted(tmp_path):
    text = MINIMAL + """
[derived.agegroup]
type = "cut"
source = "age"
breaks = [0, 40, 120]
labels = ["<40", ">=40"]
[derived.sex2]
type = "recode"
source = "sex"
mapping = { M = "Male", F = "Female" }
[derived.old]
type = "flag"
when = [{ variable = "age", ge = 60 }]
[derived.risk]
type = "case"
cases = [{ when = [{ variable = "age", ge = 60 }], value = "high" }]
default = "low"
[derived.fu]
type = "date_diff"
start = "dx"
end = "last"
unit_of_time = "years"
[derived.logage]
type = "transform"
source = "age"
function = "log10"
"""
    config = load_config(write(tmp_path, text))
    assert [d.type for d in config.derived.values()] == [
        "cut", "recode", "flag", "case", "date_diff", "transform"]
    assert config.derived["fu"].in_unit == "years"


# --------------------------------------------------------------------------- endpoints


@pytest.mark.parametrize("spec, key, message", [
    ('time = "t"\ntime_unit = "days"', "endpoints.os.event", "required key is missing"),
    ('time = "t"\nevent = "e"', "endpoints.os.time_unit",
     'the unit of the time column is never guessed: give time_unit = "days", "months" or '
     '"years"'),
    ('time = "t"\ntime_unit = "days"\nevent = "e"\nstart = "dx"', "endpoints.os.start",
     "applies to date endpoints (start/events/last_contact); this endpoint uses time/event "
     "columns"),
    ('time = "t"\ntime_unit = "days"\nevent = "e"\ncompeting = ["trm"]',
     "endpoints.os.competing",
     "applies to date endpoints (start/events/last_contact); this endpoint uses time/event "
     "columns"),
    ('start = "dx"\nevents = ["death"]\nlast_contact = "last"\ntime_unit = "days"',
     "endpoints.os.time_unit",
     "applies to endpoints from time/event columns; this endpoint uses dates "
     "(start/events/last_contact)"),
    ('start = "dx"\nevents = ["death"]', "endpoints.os.last_contact", "required key is missing"),
    ('start = "dx"\nevents = []\nlast_contact = "last"', "endpoints.os.events",
     "found an empty list; expected at least 1 item"),
    ('time = "t"\ntime_unit = "weeks"\nevent = "e"', "endpoints.os.time_unit",
     "'weeks' is not allowed; use one of 'days', 'months', 'years'"),
])
def test_endpoint_forms(tmp_path, spec, key, message):
    """Each form of endpoint has its own keys; a key of the other form is refused."""
    error = config_error(tmp_path, MINIMAL + f"[endpoints.os]\n{spec}\n")
    assert (error.key, error.message.split(" (and ")[0]) == (key, message)


def test_a_column_endpoint_shows_times_in_its_own_unit_by_default(tmp_path):
    config = load_config(write(tmp_path, MINIMAL + '[endpoints.os]\ntime = "t"\n'
                                                   'time_unit = "days"\nevent = "e"\n'
                                                   '[endpoints.efs]\nstart = "a"\n'
                                                   'events = ["b"]\nlast_contact = "c"\n'))
    assert config.endpoints["os"].display_unit == "days"
    assert config.endpoints["efs"].display_unit == "years"


def test_a_misspelt_option_value_suggests_the_allowed_one(tmp_path, cp, capsys):
    project = cp.Project(tmp_path / "p", toml=cp.DEMO_TOML + (
        '[[section]]\nid = "t"\nanalysis = "crosstab"\nrow = "sex"\ncolumn = "arm"\n'
        'test = "fischer"\n'))
    result = cp.run_cli(["validate", project.config], capsys)
    assert result.code == 2 and "Traceback" not in result.err
    (line,) = result.error_lines
    assert line == (f"cohortpress: error: {project.config}: key 'section[1].test': 'fischer' is "
                    f"not allowed; use one of 'fisher', 'chisq', 'chisq_yates', 'none'; "
                    f"did you mean 'fisher'?")


def test_cli_reports_a_config_error_on_one_line_with_exit_code_2(tmp_path, capsys, cp):
    project = cp.Project(tmp_path / "p", toml=cp.DEMO_TOML.replace(
        '[report]\ntitle', '[report]\ntitel = "oops"\ntitle'))
    result = cp.run_cli(["validate", project.config], capsys)
    assert result.code == 2
    assert result.err_lines == [f"cohortpress: error: {project.config}: key 'report.titel': "
                                f"unknown key; did you mean 'title'?"]


# --------------------------------------------------------------------------- options that cannot apply

CR_WHY = ("applies to Kaplan\u2013Meier estimates; every endpoint of this section has "
          "competing events (cumulative incidence with Gray's test)")


@pytest.mark.parametrize("option, key, why", [
    ("conf_type = \"log-log\"", "conf_type", CR_WHY),
    ("ci_bands = true", "ci_bands", CR_WHY),
    ("median_line = true", "median_line", CR_WHY),
    ("pairwise = true", "pairwise", CR_WHY),
    ("strata = \"sex\"", "strata", CR_WHY),
    ("rho = 1", "rho", CR_WHY),
    ("test = \"trend\"", "test", "'trend' applies to Kaplan\u2013Meier estimates; "
                                 "competing-risks endpoints are compared with Gray's test"),
    ("figure_captions = { oss = \"x\" }", "figure_captions.oss",
     "endpoint 'oss' is not among this section's endpoints"),
])
def test_a_kaplan_meier_option_on_a_competing_risks_section_is_refused(cp, tmp_path, capsys,
                                                                        option, key, why):
    project = cp.Project(tmp_path / "p", toml=cp.DEMO_TOML + (
        f'[[section]]\nid = "cr"\nanalysis = "survival"\nendpoints = ["efs"]\n{option}\n'))
    for command in ("validate", "build"):
        result = cp.run_cli([command, project.config, "--quiet"], capsys)
        assert result.code == 2 and "Traceback" not in result.err
        assert result.err_lines == [f"cohortpress: error: {project.config}: key "
                                    f"'section[1].{key}': {why}"]


@pytest.mark.parametrize("option", [
    "risk_table = false", "risk_times = [0, 12]", "median = false",
    'figure_captions = { efs = "EFS." }', 'cif_causes = "stacked"', "overall = false"])
def test_options_that_reach_the_cumulative_incidence_apply_to_competing_risks(cp, tmp_path,
                                                                            capsys, option):
    project = cp.Project(tmp_path / "p", toml=cp.DEMO_TOML + (
        f'[[section]]\nid = "cr"\nanalysis = "survival"\nendpoints = ["efs"]\n{option}\n'))
    assert cp.run_cli(["validate", project.config, "--quiet"], capsys).code == 0


def test_the_cif_figure_option_is_refused_without_competing_risks(cp, tmp_path, capsys):
    project = cp.Project(tmp_path / "p", toml=cp.DEMO_TOML + (
        '[[section]]\nid = "km"\nanalysis = "survival"\nendpoints = ["os"]\n'
        'cif_causes = "stacked"\n'))
    result = cp.run_cli(["validate", project.config, "--quiet"], capsys)
    assert result.code == 2
    assert result.err_lines == [f"cohortpress: error: {project.config}: key "
                                f"'section[1].cif_causes': applies to endpoints with competing "
                                f"risks; none of this section's endpoints has competing causes"]


def test_kaplan_meier_options_apply_when_one_endpoint_is_not_competing(cp, tmp_path, capsys):
    project = cp.Project(tmp_path / "p", toml=cp.DEMO_TOML + (
        '[[section]]\nid = "both"\nanalysis = "survival"\nendpoints = ["os", "efs"]\n'
        'conf_type = "log-log"\nfigure_captions = { os = "OS." }\n'))
    assert cp.run_cli(["validate", project.config, "--quiet"], capsys).code == 0


def test_the_competing_risks_options_apply_when_cumulative_incidence_is_off(cp, tmp_path,
                                                                          capsys):
    project = cp.Project(tmp_path / "p", toml=cp.DEMO_TOML + (
        '[[section]]\nid = "km"\nanalysis = "survival"\nendpoints = ["efs"]\n'
        'cumulative_incidence = false\nconf_type = "log-log"\n'))
    assert cp.run_cli(["validate", project.config, "--quiet"], capsys).code == 0
