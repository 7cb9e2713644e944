"""The public-data example (examples/pbc: R survival's pbc) builds, and its figure is the
Kaplan–Meier figure by treatment with its risk table; the Makefile's ``pages`` target lists
it with the samples."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "pbc"


@pytest.fixture(scope="module")
def built(cp, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pbc") / "pbc"
    shutil.copytree(EXAMPLE, folder)
    result = cp.run_cli(["build", folder / "report.toml", "--output", folder / "out",
                         "--quiet"])
    assert result.code == 0, result.err
    return folder / "out"


def test_the_example_builds_with_every_section(built):
    from cohortpress.testing.results import read_results

    records = read_results(built / "results.json")
    sections = {r["section"] for r in records}
    assert {"table1", "survival", "cox", "ascites"} <= sections
    n = {r["group_level"]: r["stat"] for r in records if r["context"] == "survfit"
         and r["stat_name"] == "n" and r["variable_level"] is None}
    assert n == {"D-penicillamine": 158, "Placebo": 154, None: 312}
    assert (built / "figures" / "survival-os.png").exists()


def test_the_example_figure_is_a_single_column_with_its_risk_table(built):
    from PIL import Image

    image = Image.open(io.BytesIO((built / "figures" / "survival-os.png").read_bytes()))
    assert abs(image.width - 85 / 25.4 * 300) < 1
    assert image.height > image.width * 0.6  # the plot and its two-row risk table


def test_the_data_name_their_source_and_licence():
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    assert "LGPL" in readme and "Mayo Clinic" in readme and "export_pbc.R" in readme
    assert (EXAMPLE / "export_pbc.R").read_text(encoding="utf-8").count("pbc.csv") >= 1
    rows = (EXAMPLE / "pbc.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 313


def test_make_pages_renders_the_samples_and_the_example():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    listed = re.search(r"^PAGES_REPORTS\s*:=\s*(.+)$", makefile, re.MULTILINE).group(1).split()
    assert set(listed) == {"sample_reports/belgian_infant_leukaemia",
                           "sample_reports/mll10_infant_kmt2a", "examples/pbc"}
    assert all((ROOT / folder / "report.toml").exists() for folder in listed)
    assert "pdftoppm -png -r 100" in makefile and re.search(r"^\.PHONY:.*\bpages\b", makefile,
                                                             re.MULTILINE)
