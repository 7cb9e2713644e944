"""``cohortpress new-plugin``: names, the generated files, refusal to overwrite, and the
generated package installed and tested as its author would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cohortpress import cli
from cohortpress.common.errors import UserError
from cohortpress.app.scaffold import new_plugin, plugin_names
from cohortpress.testing import assert_section_renders, run_analysis

REPO = Path(__file__).resolve().parents[1]


def test_names_derive_from_the_distribution_name():
    names = plugin_names("cohortpress-forest")
    assert (names.module, names.short, names.analysis) == \
        ("cohortpress_forest", "forest", "forest_summary")
    names = plugin_names("My.Stats_plugin")
    assert (names.module, names.short, names.analysis) == \
        ("my_stats_plugin", "my_stats_plugin", "my_stats_plugin_summary")


@pytest.mark.parametrize("name", ["", "1forest", "-forest", "forest-", "a--b", "with space",
                                  "../evil", "a/b", "déjà", "class", "json", "cohortpress"])
def test_invalid_names_are_refused(name, tmp_path):
    with pytest.raises(UserError, match="invalid plugin name"):
        new_plugin(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_command_creates_a_complete_package(tmp_path, capsys):
    assert cli.main(["new-plugin", "cohortpress-forest", "--directory", str(tmp_path)]) == 0
    root = tmp_path / "cohortpress-forest"
    assert str(root) in capsys.readouterr().out
    created = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert created == [".gitignore", "README.md", "cohortpress_forest/__init__.py",
                       "cohortpress_forest/templates/blocks/table.html.j2.example",
                       "pyproject.toml", "tests/test_cohortpress_forest.py"]
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "${" not in text, path  # every placeholder filled
            assert str(tmp_path) not in text and str(REPO) not in text, path  # no local paths
            if path.suffix == ".py":
                compile(text, str(path), "exec")
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "cohortpress-forest"
    assert project["project"]["entry-points"]["cohortpress"] == {"forest": "cohortpress_forest"}
    assert project["tool"]["setuptools"]["packages"] == ["cohortpress_forest"]
    assert "forest_summary" in (root / "README.md").read_text(encoding="utf-8")


def test_an_existing_folder_is_never_overwritten(tmp_path, capsys):
    existing = tmp_path / "cohortpress-forest"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine", encoding="utf-8")
    assert cli.main(["new-plugin", "cohortpress-forest", "-d", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "Traceback" not in err
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    assert (existing / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohortpress-forest"]  # no leftovers

    (tmp_path / "a-file").write_text("x", encoding="utf-8")  # a file of that name, too
    assert cli.main(["new-plugin", "a-file", "-d", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_missing_directory_is_created(tmp_path):
    root = new_plugin("cohortpress-extra", tmp_path / "deeper" / "still")
    assert (root / "cohortpress_extra" / "__init__.py").is_file()


def test_the_generated_analysis_runs_and_renders(tmp_path):
    root = new_plugin("cohortpress-forest", tmp_path)
    module = root / "cohortpress_forest" / "__init__.py"
    section = run_analysis("forest_summary", {"variable": "age", "by": "sex"},
                           plugin_files=[module], section_id="age")
    table = section.blocks[0]
    assert table.caption == "Age at diagnosis by sex."
    assert [c.text for c in table.header[0].cells] == \
        ["", "Overall (N = 120)", "Female (N = 59)", "Male (N = 61)", "p-value"]
    names = {(r.context, r.stat_name) for r in section.results}
    assert {("continuous", "mean"), ("continuous", "N_miss"), ("test", "p.value")} <= names
    html = assert_section_renders(section, entry_points=False)
    assert "journal-table" in html

    # The commented override example is valid: activated, it wraps the built-in table.
    override = tmp_path / "override"
    (override / "blocks").mkdir(parents=True)
    shutil.copyfile(module.parent / "templates" / "blocks" / "table.html.j2.example",
                    override / "blocks" / "table.html.j2")
    html = assert_section_renders(section, template_dirs=[override], entry_points=False)
    assert 'class="cohortpress_forest-table"' in html and "journal-table" in html


@pytest.mark.slow
def test_the_generated_package_installs_and_its_own_tests_pass(tmp_path, cp):
    """The author's path: generate, pip install, run the package's tests, list the plugin.

    The package is installed with ``--target`` into a folder of ``tmp_path`` put on
    ``PYTHONPATH`` rather than into the shared virtualenv: the same wheel build and the same
    entry-point discovery, but nothing another process could see, and nothing to undo if
    the test is killed.
    """
    root = new_plugin("cohortpress-scaffoldcheck", tmp_path)
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--target", str(site), str(root)],
        capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    assert (site / "cohortpress_scaffoldcheck" / "templates" / "blocks" /
            "table.html.j2.example").is_file()  # package data is installed

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    # Each of the package's tests by name; the last builds a report through the entry point
    # and finds the section's title in the PDF, which needs pdftotext.
    tests = cp.run_pytest(["-q"], cwd=root, env=env, report=tmp_path / "own-tests.xml")
    names = cp.defined_tests(root / "tests" / "test_cohortpress_scaffoldcheck.py")
    assert "test_the_installed_plugin_builds_a_report" in names
    without_pdftotext = cp.assert_tests_passed(tests, names)

    listed = subprocess.run([sys.executable, "-m", "cohortpress", "plugins", "--json"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}
    assert plugins["scaffoldcheck"]["source"] == "entry point"
    assert plugins["scaffoldcheck"]["analyses"] == ["scaffoldcheck_summary"]
    assert "cohortpress_template_dirs" in plugins["scaffoldcheck"]["hooks"]
    if without_pdftotext:
        cp.poppler("pdftotext")  # skips, saying so: the section was not read from the PDF
