"""A third-party plugin package, installed for real: examples/cohortpress-rates registers
through the ``cohortpress`` entry-point group, is listed by ``cohortpress plugins``, and its
section reaches the PDF. Installs into the running environment and uninstalls afterwards."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

DIST = "cohortpress-rates"


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def installed(cp, tmp_path_factory):
    source = cp.REPO / "examples" / "cohortpress-rates"
    if not (source / "pyproject.toml").is_file():
        pytest.fail(f"the example plugin is missing: {source}")
    if pip("show", DIST).returncode == 0:
        # Installed by hand (or left by a run that was killed): test it as it is, and leave
        # the environment as it was found.
        yield
        return
    # Build from a copy: setuptools writes build/ and *.egg-info beside the sources.
    copy = tmp_path_factory.mktemp("rates") / "cohortpress-rates"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                "__pycache__"))
    result = pip("install", "--no-deps", "--no-build-isolation", "--quiet", str(copy))
    if result.returncode != 0:
        output = result.stdout + result.stderr
        if "bdist_wheel" in output or "No module named 'setuptools'" in output:
            pytest.skip("the environment lacks the build backend for --no-build-isolation "
                        "(setuptools and wheel; 'make install' provides them)")
        pytest.fail(f"pip install failed:\n{output[-3000:]}")
    try:
        yield
    finally:
        removed = pip("uninstall", "-y", DIST)
        assert removed.returncode == 0, removed.stderr


def test_it_is_listed_as_an_entry_point_plugin(installed, cp, tmp_path):
    result = cp.run_cli_subprocess(["plugins", "--json"], cwd=tmp_path)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    (rates,) = [p for p in document["plugins"] if p["name"] == "rates"]
    assert rates == {"name": "rates", "version": "1.0.0", "source": "entry point",
                     "hooks": ["cohortpress_analyses"], "analyses": ["event_rates"]}
    assert document["load_errors"] == []


def test_its_section_is_built_into_the_pdf(installed, cp, tmp_path):
    toml = cp.DEMO_TOML + ('[[section]]\nid = "rates"\nanalysis = "event_rates"\n'
                           'title = "Event rates"\nendpoint = "os"\nby = "arm"\nper = 100\n')
    project = cp.Project(tmp_path / "p", toml=toml)
    result = cp.run_cli_subprocess(["build", project.config, "--output", project.out, "-q"],
                                   cwd=project.root)
    assert result.code == 0, result.err
    document = json.loads((project.out / "results.json").read_text())
    assert document["report"]["generated_with"]["plugin:rates"] == "1.0.0"
    overall = {r["stat_name"]: r["stat"] for r in document["results"]
               if r["section"] == "rates" and r["group"] is None}
    person_years = (26 + 59 + 8 + 3 + 24 + 60 + 4 + 60) / 12  # os_months, in years
    assert overall["n.event"] == 4
    assert overall["person.time"] == pytest.approx(person_years)
    assert overall["rate"] == pytest.approx(4 / person_years)
    text = cp.squeeze(cp.pdf_text(project.out / "report.pdf", "-raw"))
    for words in ("Event rates", "Overall survival: event rates.",
                  "Rate per 100 person-years (95% CI)", f"{100 * 4 / person_years:.2f}"):
        assert cp.squeeze(words) in text, words
