"""The plugin manager: built-ins, config files and entry points; broken plugins fail alone;
every hook is called the way hookspecs.py documents."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

from cohortpress.app import plugins as pluginmanager
from cohortpress.common.errors import ConfigError
from cohortpress.app.plugins import BUILTIN_PLUGINS, HOOK_NAMES, make_plugins

GOOD = '''
from cohortpress import hookimpl, Analysis, Options, Paragraph, Result

class GreetOptions(Options):
    greeting: str = "hello"

def run(cohort, options, context):
    return context.section(blocks=[Paragraph(f"{options.greeting} from {cohort.n} patients")],
                           results=[Result("greet", "N", cohort.n)])

@hookimpl
def cohortpress_analyses():
    return [Analysis("greet", run, GreetOptions, "says hello")]
'''

BROKEN = {
    "raises_on_import": 'raise RuntimeError("this plugin is broken on purpose")\n',
    "misspelt_hook": ('from cohortpress import hookimpl\n@hookimpl\n'
                      'def cohortpress_analysis():\n    return []\n'),
    "unprefixed_hook": ('from cohortpress import hookimpl\n@hookimpl\n'
                        'def analyses():\n    return []\n'),
    "wrong_arguments": ('from cohortpress import hookimpl\n@hookimpl\n'
                        'def cohortpress_analyses(config):\n    return []\n'),
    "not_an_analysis": ('from cohortpress import hookimpl\n@hookimpl\n'
                        'def cohortpress_analyses():\n    return ["overview"]\n'),
    "name_clash": ('from cohortpress import hookimpl, Analysis\n@hookimpl\n'
                   'def cohortpress_analyses():\n'
                   '    return [Analysis("overview", lambda c, o, x: None)]\n'),
    "raises_in_hook": ('from cohortpress import hookimpl\n@hookimpl\n'
                       'def cohortpress_analyses():\n    raise ValueError("no analyses today")\n'),
    "syntax_error": "def broken(:\n",
}

EXPECTED = {
    "raises_on_import": "RuntimeError: this plugin is broken on purpose",
    "misspelt_hook": "unknown hook 'cohortpress_analysis'; did you mean 'cohortpress_analyses'?",
    "unprefixed_hook": "unknown hook 'analyses'; did you mean 'cohortpress_analyses'?",
    "wrong_arguments": "{'config'} are declared in the hookimpl but can not be found",
    "not_an_analysis": "returned str, not an Analysis",
    "name_clash": "analysis 'overview' is already provided by 'cohortpress.plugins.overview'",
    "raises_in_hook": "cohortpress_analyses failed: ValueError: no analyses today",
    "syntax_error": "SyntaxError",
}


def plugin_file(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- listing


def test_plugins_json_lists_the_builtins_and_their_hooks(capsys, cp):
    result = cp.run_cli(["plugins", "--json"], capsys)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    by_name = {p["name"]: p for p in document["plugins"]}
    for name in BUILTIN_PLUGINS:
        assert by_name[name]["source"] == "builtin"
        assert set(by_name[name]["hooks"]) <= HOOK_NAMES
    assert by_name["cohortpress.plugins.readers"]["hooks"] == ["cohortpress_read_cohort"]
    assert by_name["cohortpress.plugins.pdf"]["hooks"] == ["cohortpress_render_pdf"]
    assert by_name["cohortpress.plugins.overview"]["hooks"] == ["cohortpress_analyses"]
    assert by_name["cohortpress.plugins.overview"]["analyses"] == ["overview"]
    assert document["load_errors"] == []
    # Built-ins come first, in the order of the tuple.
    names = [p["name"] for p in document["plugins"]]
    assert names[:len(BUILTIN_PLUGINS)] == list(BUILTIN_PLUGINS)


def test_plugins_plain_listing(capsys, cp):
    result = cp.run_cli(["plugins"], capsys)
    assert result.code == 0
    assert "cohortpress.plugins.overview 0.1.0 (builtin)" in result.out
    assert "analyses: overview" in result.out


def test_every_hook_is_prefixed_and_documented():
    from cohortpress.api import hookspecs

    for name in HOOK_NAMES:
        assert name.startswith("cohortpress_")
        doc = getattr(hookspecs, name).__doc__ or ""
        assert len(doc.split()) > 10, name


def test_the_manager_is_fresh_every_time():
    first, second = make_plugins(), make_plugins()
    assert first.manager is not second.manager
    assert first.analyses.keys() == second.analyses.keys()


# --------------------------------------------------------------------------- plugin files


def test_a_plugin_file_named_in_the_config_adds_an_analysis(cp, tmp_path):
    project = cp.Project(tmp_path / "p", toml='plugins = ["plugins/greet.py"]\n'
                         + cp.DEMO_TOML + '[[section]]\nid = "hi"\nanalysis = "greet"\n'
                         'greeting = "bonjour"\n')
    plugin_file(project.root / "plugins", "greet", GOOD)
    plan = project.plan()
    info = next(p for p in plan.plugins.infos if p.source == "file")
    assert info.analyses == ("greet",) and info.version == "local"
    assert info.hooks == ("cohortpress_analyses",)
    section = plan.sections[1]
    assert section.analysis.name == "greet" and section.options.greeting == "bonjour"
    from cohortpress.app.load import load_cohort
    from cohortpress.app.run import run_section

    ran = run_section(section, load_cohort(plan), plan.config, 30)
    assert not ran.failed and ran.blocks[0].text == "bonjour from 8 patients"
    assert ran.results[0].section == "hi"


def test_plugin_options_are_validated_with_did_you_mean(cp, tmp_path):
    project = cp.Project(tmp_path / "p", toml='plugins = ["greet.py"]\n' + cp.DEMO_TOML
                         + '[[section]]\nid = "hi"\nanalysis = "greet"\ngreting = "x"\n')
    plugin_file(project.root, "greet", GOOD)
    with pytest.raises(ConfigError) as info:
        project.plan()
    assert info.value.key == "section[1].greting"
    assert "did you mean 'greeting'" in info.value.message


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_plugin_fails_alone_with_its_name(tmp_path, name):
    broken = plugin_file(tmp_path, name, BROKEN[name])
    good = plugin_file(tmp_path, "greet", GOOD)
    plugins = make_plugins([broken, good])  # must not raise
    assert [(e.name, e.source) for e in plugins.load_errors] == [(str(broken), "file")]
    assert EXPECTED[name] in plugins.load_errors[0].message
    assert "\n" not in plugins.load_errors[0].message
    # The others load: built-ins and the good file.
    assert {"overview", "greet"} <= set(plugins.analyses)
    assert str(broken) not in [p.name for p in plugins.infos]
    assert plugins.analysis_owner["overview"] == "cohortpress.plugins.overview"
    # Nothing is left half-registered: pluggy's own check passes afterwards.
    plugins.manager.check_pending()


def test_check_pending_would_take_every_plugin_down_without_the_per_plugin_check(tmp_path):
    """pluggy's check_pending raises for the first unknown hook of any plugin; the manager
    checks each plugin as it registers it, so a bad one is unregistered and recorded."""
    import pluggy

    bad = plugin_file(tmp_path, "unprefixed", BROKEN["unprefixed_hook"])
    module = pluginmanager._import_file(bad)
    raw = pluggy.PluginManager("cohortpress")
    from cohortpress.api import hookspecs

    raw.add_hookspecs(hookspecs)
    raw.register(module)
    with pytest.raises(pluggy.PluginValidationError):
        raw.check_pending()
    plugins = make_plugins([bad])
    assert "unknown hook 'analyses'" in plugins.load_errors[0].message
    assert plugins.manager.get_plugin("unprefixed") is None


def test_optional_hooks_are_allowed(tmp_path):
    text = ('import pluggy\nhookimpl = pluggy.HookimplMarker("cohortpress")\n'
            '@hookimpl(optionalhook=True)\ndef something_new():\n    return 1\n')
    plugins = make_plugins([plugin_file(tmp_path, "optional", text)])
    assert plugins.load_errors == []


def test_a_section_using_an_analysis_of_a_broken_plugin_names_the_plugin(cp, tmp_path,
                                                                          capsys):
    project = cp.Project(tmp_path / "p", toml='plugins = ["greet.py"]\n' + cp.DEMO_TOML
                         + '[[section]]\nid = "hi"\nanalysis = "greet"\n')
    plugin_file(project.root, "greet", 'import nonexistent_module_xyz\n' + GOOD)
    result = cp.run_cli(["build", project.config, "--output", project.out], capsys)
    assert result.code == 2
    (line,) = result.error_lines
    assert line.startswith(f"cohortpress: error: {project.config}: key 'section[1].analysis': "
                           f"unknown analysis 'greet'; ")
    assert line.endswith(f"(plugins that failed to load: '{project.root / 'greet.py'}' "
                         f"(ModuleNotFoundError: No module named 'nonexistent_module_xyz'))")
    assert not project.out.exists()


def test_validate_warns_about_a_broken_plugin_and_goes_on(cp, tmp_path, capsys):
    project = cp.Project(tmp_path / "p", toml='plugins = ["broken.py"]\n' + cp.DEMO_TOML)
    plugin_file(project.root, "broken", BROKEN["misspelt_hook"])
    result = cp.run_cli(["validate", project.config], capsys)
    assert result.code == 0
    warnings = [line for line in result.err_lines if "warning" in line]
    assert len(warnings) == 1
    assert str(project.root / "broken.py") in warnings[0]
    assert "cohortpress_analysis" in warnings[0]


# --------------------------------------------------------------------------- entry points


class FakeDist:
    version = "9.9"


def fake_entry_point(name: str, value: str):
    ep = metadata.EntryPoint(name=name, value=value, group="cohortpress")
    try:
        return ep._for(FakeDist())  # the dist a real entry point carries
    except AttributeError:  # pragma: no cover - older importlib.metadata
        return ep


def test_entry_point_plugins_load_and_broken_ones_fail_alone(tmp_path, monkeypatch):
    package = tmp_path / "site"
    plugin_file(package, "cp_greet_plugin", GOOD)
    monkeypatch.syspath_prepend(str(package))
    monkeypatch.setattr(pluginmanager, "_entry_points", lambda: [
        fake_entry_point("greet", "cp_greet_plugin"),
        fake_entry_point("missing", "cp_no_such_module_abc"),
    ])
    plugins = make_plugins()
    info = next(p for p in plugins.infos if p.name == "greet")
    assert info.source == "entry point" and info.analyses == ("greet",)
    assert info.version in ("9.9", "unknown")
    (error,) = plugins.load_errors
    assert error.name == "missing" and error.source == "entry point"
    assert "ModuleNotFoundError" in error.message and "cp_no_such_module_abc" in error.message
    # Entry points can be turned off (tests of the core alone).
    assert "greet" not in make_plugins(entry_points=False).analyses


def test_plugins_json_shows_load_errors(tmp_path, monkeypatch, capsys, cp):
    monkeypatch.setattr(pluginmanager, "_entry_points", lambda: [
        fake_entry_point("missing", "cp_no_such_module_abc")])
    result = cp.run_cli(["plugins", "--json"], capsys)
    assert result.code == 0
    (error,) = json.loads(result.out)["load_errors"]
    assert error["name"] == "missing" and error["source"] == "entry point"
    result = cp.run_cli(["plugins"], capsys)
    assert "FAILED missing (entry point): ModuleNotFoundError" in result.out


# --------------------------------------------------------------------------- each hook


READER = '''
from cohortpress import hookimpl
from cohortpress.data.files import RawCohort

@hookimpl
def cohortpress_read_cohort(path, fmt, columns, options):
    if fmt != "json-lines":
        return None
    import pandas as pd
    data = pd.read_json(path, lines=True, dtype=False).astype(str)
    return RawCohort(data[list(columns)] if columns else data, {"age": "Age (from JSON)"})
'''


def test_read_cohort_hook_adds_a_format(cp, tmp_path):
    lines = "\n".join(json.dumps({"id": f"P{i}", "arm": "AB"[i % 2], "age": str(30 + i),
                                  "t": str(i + 1), "e": str(i % 2)}) for i in range(6))
    toml = ('plugins = ["jsonl.py"]\n[report]\ntitle = "j"\n[cohort]\npath = "c.jsonl"\n'
            'format = "json-lines"\nid = "id"\ngroup = "arm"\n'
            '[endpoints.os]\ntime = "t"\ntime_unit = "years"\nevent = "e"\n'
            '[[section]]\nid = "o"\nanalysis = "overview"\nendpoints = ["os"]\n')
    project = cp.Project(tmp_path / "p", toml=toml, csv=None)
    project.write("c.jsonl", lines + "\n")
    plugin_file(project.root, "jsonl", READER)
    cohort = project.cohort()
    assert cohort.n == 6 and cohort.variable("arm").levels == ("A", "B")
    assert cohort.label("age") == "Age (from JSON)"
    assert cohort.endpoint("os").event.tolist() == [0, 1, 0, 1, 0, 1]


def test_unknown_format_without_a_reader(cp, tmp_path, capsys):
    toml = cp.DEMO_TOML.replace('path = "cohort.csv"', 'path = "cohort.csv"\nformat = "sas7"')
    project = cp.Project(tmp_path / "p", toml=toml)
    result = cp.run_cli(["validate", project.config], capsys)
    assert result.code == 2
    assert result.error_lines == [f"cohortpress: error: {project.root / 'cohort.csv'}: key "
                                  f"'cohort.format': no reader for the format 'sas7'"]


RENDERING = '''
from pathlib import Path
from cohortpress import hookimpl, Paragraph

@hookimpl
def cohortpress_template_dirs():
    return [Path(__file__).parent / "templates"]

@hookimpl
def cohortpress_prepare_jinja_env(env):
    env.filters["shout"] = lambda text: text.upper() + "!"

@hookimpl
def cohortpress_process_sections(sections, config):
    extra = sections[0].__class__(id="added", title="Added by a plugin",
                                  blocks=(Paragraph("appended section"),))
    sections[:] = [*reversed(sections), extra]

@hookimpl
def cohortpress_render_pdf(html, output, settings):
    Path(output).write_bytes(b"%PDF-fake " + str(len(html)).encode())
    return True
'''


@pytest.fixture
def rendering_project(cp, tmp_path):
    toml = ('plugins = ["render_plugin.py"]\n' + cp.DEMO_TOML
            + '[[section]]\nid = "second"\nanalysis = "overview"\ntitle = "Second"\n')
    project = cp.Project(tmp_path / "p", toml=toml)
    plugin_file(project.root, "render_plugin", RENDERING)
    project.write("templates/blocks/paragraph.html.j2",
                  '<p class="from-plugin">{{ numbered.block.text | shout }}</p>\n')
    return project


def test_rendering_hooks_template_dirs_jinja_env_process_sections_and_render_pdf(
        rendering_project, cp, capsys):
    project = rendering_project
    result = cp.run_cli(["build", project.config, "--output", project.out], capsys)
    assert result.code == 0, result.err
    assert (project.out / "report.pdf").read_bytes().startswith(b"%PDF-fake ")
    html = (project.out / "report.html").read_text()
    # process_sections reordered and appended; the plugin's block template and filter ran.
    assert html.index('id="sec-second"') < html.index('id="sec-overview"') \
        < html.index('id="sec-added"')
    assert '<p class="from-plugin">APPENDED SECTION!</p>' in html
    document = json.loads((project.out / "results.json").read_text())
    # A plugin file is named relative to the config (no machine path in the results).
    assert document["report"]["generated_with"]["plugin:render_plugin.py"] == "local"


def test_a_user_template_folder_comes_before_plugin_templates(rendering_project, cp, capsys):
    project = rendering_project
    toml = project.config.read_text().replace('title = "Foundation demo"',
                                              'title = "Foundation demo"\ntemplates = "mine"')
    project.write("report.toml", toml)
    project.write("mine/blocks/paragraph.html.j2", "<p class=mine>{{ numbered.block.text }}</p>")
    result = cp.run_cli(["build", project.config, "--output", project.out], capsys)
    assert result.code == 0, result.err
    html = (project.out / "report.html").read_text()
    assert "<p class=mine>appended section</p>" in html and "from-plugin" not in html


def test_process_sections_failure_is_named(cp, tmp_path, capsys):
    text = ('from cohortpress import hookimpl\n@hookimpl\n'
            'def cohortpress_process_sections(sections, config):\n    raise KeyError("x")\n')
    project = cp.Project(tmp_path / "p", toml='plugins = ["proc.py"]\n' + cp.DEMO_TOML)
    plugin_file(project.root, "proc", text)
    result = cp.run_cli(["build", project.config, "--output", project.out], capsys)
    assert result.code == 2
    assert len(result.error_lines) == 1
    assert "plugin 'proc' failed in cohortpress_process_sections: KeyError" in result.err
    assert not project.out.exists()


# --------------------------------------------------------------------------- process_sections

APPEND = '''
from cohortpress import hookimpl, Paragraph, Section

@hookimpl
def cohortpress_process_sections(sections):
    seen = ",".join(s.id for s in sections)
    sections.append(Section(id="{name}", title="{name}", blocks=(Paragraph(seen),)))
'''

WRAPPER = '''
from cohortpress import hookimpl, Paragraph, Section

@hookimpl(wrapper=True)
def cohortpress_process_sections(sections, config):
    before = [s.id for s in sections]
    result = yield
    after = ",".join(s.id for s in sections)
    note = Section(id="wrapper", title="Wrapper",
                   blocks=(Paragraph(f"before {{before}} after {{after}} result {{result}}"),))
    return {replace}
'''


def _build_with(cp, tmp_path, files: dict[str, str]):
    from cohortpress.app.build import build
    from cohortpress.common.progress import Progress

    names = ", ".join(f'"{name}.py"' for name in files)
    project = cp.Project(tmp_path / "p", toml=f"plugins = [{names}]\n" + cp.DEMO_TOML)
    for name, text in files.items():
        plugin_file(project.root, name, text)
    return build(project.config, project.out, progress=Progress(quiet=True), pdf_worker=False)


def _texts(outcome) -> dict[str, str]:
    return {s.id: s.blocks[0].text for s in outcome.sections if s.id != "overview"}


def test_process_sections_implementations_chain_through_the_list(cp, tmp_path):
    outcome = _build_with(cp, tmp_path, {"first": APPEND.format(name="one"),
                                         "second": APPEND.format(name="two")})
    # Last registered first; each sees the list as the previous one left it.
    assert [s.id for s in outcome.sections] == ["overview", "two", "one"]
    assert _texts(outcome) == {"two": "overview", "one": "overview,two"}


def test_a_wrapper_wraps_the_whole_process_sections_chain(cp, tmp_path):
    wrapper = WRAPPER.format(replace="[*sections, note]")
    outcome = _build_with(cp, tmp_path, {"first": APPEND.format(name="one"),
                                         "wrap": wrapper, "second": APPEND.format(name="two")})
    assert [s.id for s in outcome.sections] == ["overview", "two", "one", "wrapper"]
    assert _texts(outcome)["wrapper"] == \
        "before ['overview'] after overview,two,one result None"


def test_a_wrapper_can_replace_the_result_of_process_sections(cp, tmp_path):
    outcome = _build_with(cp, tmp_path, {"first": APPEND.format(name="one"),
                                         "wrap": WRAPPER.format(replace="[note]")})
    assert [s.id for s in outcome.sections] == ["wrapper"]


def test_a_returned_sequence_ends_the_process_sections_chain(cp, tmp_path):
    returns = ('from cohortpress import hookimpl\n@hookimpl\n'
               'def cohortpress_process_sections(sections):\n    return sections[:1]\n')
    # "returns" is registered last, so called first: "one" never runs.
    outcome = _build_with(cp, tmp_path, {"first": APPEND.format(name="one"),
                                         "returns": returns})
    assert [s.id for s in outcome.sections] == ["overview"]


# --------------------------------------------------------------------------- disable_plugins


def _project_disabling(cp, tmp_path, names: list[str], sections: str = ""):
    listed = ", ".join(f'"{n}"' for n in names)
    return cp.Project(tmp_path / "p", toml=f"disable_plugins = [{listed}]\n" + cp.DEMO_TOML
                      + sections)


def test_a_builtin_plugin_can_be_disabled_by_name(cp, tmp_path):
    project = _project_disabling(cp, tmp_path, ["cohortpress.plugins.logistic"])
    plan = project.plan()
    names = [info.name for info in plan.plugins.infos]
    assert "cohortpress.plugins.logistic" not in names and "cohortpress.plugins.cox" in names
    assert "logistic" not in plan.plugins.analyses
    assert plan.plugins.hook.cohortpress_analyses.get_hookimpls()  # the others still load


def test_disabling_an_unknown_plugin_is_an_error_with_a_suggestion(cp, tmp_path):
    project = _project_disabling(cp, tmp_path, ["cohortpress.plugins.pdf",
                                                "cohortpress.plugins.logistik"])
    with pytest.raises(ConfigError) as caught:
        project.plan()
    assert caught.value.key == "disable_plugins[1]"
    assert caught.value.message == ("no plugin named 'cohortpress.plugins.logistik'; did you "
                                    "mean 'cohortpress.plugins.logistic'?")


def test_a_section_using_a_disabled_plugin_names_both(cp, tmp_path):
    project = _project_disabling(
        cp, tmp_path, ["cohortpress.plugins.survival"],
        '[[section]]\nid = "km"\nanalysis = "survival"\nendpoints = ["os"]\n')
    with pytest.raises(ConfigError) as caught:
        project.plan()
    assert caught.value.key == "section[1].analysis"
    assert "'survival'" in caught.value.message
    assert "'cohortpress.plugins.survival'" in caught.value.message
    assert "disable_plugins" in caught.value.message


def test_a_disabled_plugin_file_is_never_imported(cp, tmp_path):
    project = cp.Project(tmp_path / "p", toml='plugins = ["broken.py"]\n'
                         'disable_plugins = ["broken"]\n' + cp.DEMO_TOML)
    plugin_file(project.root, "broken", BROKEN["raises_on_import"])
    plan = project.plan()
    assert plan.plugins.load_errors == []
    assert list(plan.plugins.disabled) == ["broken"]
