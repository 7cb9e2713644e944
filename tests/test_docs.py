"""The plugin docs are true: docs/hooks.md matches the hookspecs, and the tutorial in
docs/plugins.md, extracted into a package made by ``cohortpress new-plugin``, builds a report
with its section and passes its own tests once installed."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import cohortpress
from cohortpress.api import hookspecs
from cohortpress.app.scaffold import new_plugin
from cohortpress.testing import build_report

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
HOOKS = ROOT / "docs" / "hooks.md"
PLUGIN = "cohortpress-forest"

# A fenced block, with the marker comment on the line before it if there is one.
BLOCK = re.compile(r"(?:<!-- (?P<marker>[a-z-]+): (?P<target>[^>]+?) -->\n)?"
                   r"```(?P<lang>[a-z]*)\n(?P<body>.*?)^```\n", re.DOTALL | re.MULTILINE)


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blocks():
    return list(BLOCK.finditer(GUIDE.read_text(encoding="utf-8")))


def _tutorial_package(tmp_path: Path) -> Path:
    """``cohortpress new-plugin``, then every marked block of the guide applied to it."""
    root = new_plugin(PLUGIN, tmp_path)
    for block in _blocks():
        marker, target, body = block["marker"], block["target"], block["body"]
        if marker == "file":
            path = root / target
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(body)
        elif marker == "replace-table":
            path = root / target
            header = body.splitlines()[0]
            text = path.read_text(encoding="utf-8")
            table = re.compile(rf"^{re.escape(header)}\n(?:[^\[\n].*\n)*", re.MULTILINE)
            assert table.search(text), f"{target} has no table {header}"
            path.write_text(table.sub(lambda _: body, text, count=1), encoding="utf-8")
    return root


def _guide_sections() -> list[dict]:
    sections = []
    for block in _blocks():
        if block["marker"] == "config":
            sections += tomllib.loads(block["body"])["section"]
    return sections


# --------------------------------------------------------------------------- hooks.md


def test_hooks_md_is_generated_from_the_current_hookspecs():
    tool = _load_tool("gen_hook_docs")
    assert HOOKS.read_text(encoding="utf-8") == tool.render(), \
        "docs/hooks.md is out of date: run python tools/gen_hook_docs.py"


def test_the_hook_reference_converts_numpydoc():
    text = HOOKS.read_text(encoding="utf-8")
    names = [n for n in dir(hookspecs) if n.startswith("cohortpress_")]
    assert names and all(f"\n## {name}\n" in text for name in names)
    assert "- `path` (Path): The cohort file" in text  # a numpydoc parameter as a list item
    assert "*First result:" in text and ":class:" not in text
    assert not re.search(r"(?<!`)``(?!`)", text), "reST ``literal`` left in docs/hooks.md"


# --------------------------------------------------------------------------- plugins.md


def test_the_guide_covers_every_hook_and_every_exported_value():
    text = GUIDE.read_text(encoding="utf-8")
    hooks = [n for n in dir(hookspecs) if n.startswith("cohortpress_")]
    missing = [n for n in hooks if f"`{n}(" not in text]
    assert not missing, f"docs/plugins.md does not describe the hooks {missing}"
    exported = [n for n in cohortpress.__all__ if n not in ("__version__", "UserError")]
    missing = [n for n in exported if f"`{n}`" not in text and f"`{n}(" not in text]
    assert not missing, f"docs/plugins.md does not mention {missing}"
    assert "(hooks.md)" in text and HOOKS.is_file()


def test_the_guide_links_resolve():
    text = GUIDE.read_text(encoding="utf-8")
    prose = BLOCK.sub("", text)  # headings inside code blocks are not headings
    anchors = {re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", prose, re.MULTILINE)}
    links = re.findall(r"\]\(#([^)]+)\)", prose)
    assert links and not [link for link in links if link not in anchors]
    for target in re.findall(r"\]\(([a-z]+\.md)\)", prose):
        assert (GUIDE.parent / target).is_file(), target


def test_every_python_block_of_the_guide_compiles():
    blocks = [b for b in _blocks() if b["lang"] == "python"]
    assert len(blocks) >= 6
    files: dict[str, str] = {}
    for block in blocks:
        if block["marker"] == "file":  # parts of one file compile together
            files[block["target"]] = files.get(block["target"], "") + block["body"]
        else:
            compile(block["body"], "docs/plugins.md", "exec")
    for name, source in files.items():
        compile(source, name, "exec")


def test_the_tutorial_plugin_adds_its_section_to_a_report(tmp_path):
    root = _tutorial_package(tmp_path / "src")
    sections = _guide_sections()
    assert [s["analysis"] for s in sections] == ["subgroup_forest"]
    # Step 3 of the guide: the module loaded as a plugin file named in the config.
    built = build_report(sections, tmp_path / "build",
                         plugins=[root / "cohortpress_forest" / "forest.py"])
    assert built.exit_code == 0, built.error or built.log
    section = built.section("forest")
    assert section.title == "Overall survival by subgroup" and not section.failed
    assert [b.kind for b in section.blocks] == ["table", "figure"]
    hr = built.results(section="forest", context="coxph", stat_name="hr", group=None)
    assert len(hr) == 1 and 0 < hr[0]["stat"] < 1
    stages = built.results(section="forest", stat_name="n", group="stage")
    assert [r["group_level"] for r in stages] == ["I", "II", "III", "IV"]
    html = built.html_text()
    assert 'class="forest-plot"' in html  # the tutorial's template override was used
    text = built.pdf_text()
    assert "Overall survival by subgroup" in text
    assert "hazard ratios by subgroup" in text and hr[0]["formatted"] in text
    assert (built.output / "tables" / "forest.csv").is_file()


@pytest.mark.slow
def test_the_tutorial_package_installs_and_its_tests_pass(tmp_path, cp):
    """Steps 5 and 6: pip install (into a folder on PYTHONPATH, not the shared virtualenv),
    ``cohortpress plugins`` lists both entry points, and the tutorial's tests pass."""
    root = _tutorial_package(tmp_path / "src")
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["cohortpress"] == {
        "forest": "cohortpress_forest", "forest_plot": "cohortpress_forest.forest"}
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--target", str(site), str(root)],
        capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    assert (site / "cohortpress_forest" / "templates" / "blocks" / "figure.html.j2").is_file()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}

    listed = subprocess.run([sys.executable, "-m", "cohortpress", "plugins", "--json"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}
    assert plugins["forest_plot"]["analyses"] == ["subgroup_forest"]
    assert plugins["forest_plot"]["source"] == "entry point"
    assert plugins["forest"]["analyses"] == ["forest_summary"]

    # The tutorial's tests (the scaffold's own are run by tests/test_scaffold.py), each by
    # name: the last one builds a report and finds the section's title and hazard ratio in
    # the PDF, which needs pdftotext.
    tests = cp.run_pytest(["-q", "tests/test_forest.py"], cwd=root, env=env,
                          report=tmp_path / "forest-tests.xml")
    names = cp.defined_tests(root / "tests" / "test_forest.py")
    assert "test_the_report_has_the_section" in names
    if cp.assert_tests_passed(tests, names):
        cp.poppler("pdftotext")  # skips, saying so: the section was not read from the PDF
