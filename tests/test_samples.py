"""The sample reports: they regenerate the seed papers, the committed outputs say what a
rebuild says, and a second build gives the same bytes.

What is promised, and tested here (README, "Reproducibility"):

- the same machine with the same installed versions gives the same bytes: a second build,
  in another process and another folder, is compared file by file;
- any machine gives the same numbers: the committed ``results.json`` is compared with a
  rebuild by meaning (tests/by_meaning.py: numbers within a relative 1e-9, everything else
  equal but the recorded Python and library versions), and the committed PDF by its text.
  Bytes would differ on another CPU, whose numpy and OpenBLAS add in another order
  (test_any_machine.py runs these checks again as if on one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cohortpress.app.build import Progress, build
from cohortpress.app.verify import compare, load_published

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ("belgian_infant_leukaemia", "mll10_infant_kmt2a")
STALE = "run 'make samples' and commit the result"


@pytest.fixture(scope="module", params=SAMPLES)
def rebuilt(request, tmp_path_factory):
    folder = ROOT / "sample_reports" / request.param
    out = tmp_path_factory.mktemp(request.param) / "report"
    outcome = build(folder / "report.toml", out, progress=Progress(quiet=True))
    return folder, out, outcome


def committed(folder: Path, name: str) -> Path:
    path = folder / "report" / name
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: {STALE}"
    return path


def test_every_section_builds(rebuilt):
    _, _, outcome = rebuilt
    assert outcome.exit_code == 0, [s.blocks[0].message for s in outcome.sections if s.failed]


def test_published_values_are_regenerated(rebuilt):
    folder, out, _ = rebuilt
    records = json.loads((out / "results.json").read_text(encoding="utf-8"))["results"]
    comparisons = compare(load_published(folder / "published.toml"), records)
    mismatches = [(c.value.id, c.regenerated, c.detail) for c in comparisons
                  if c.status == "MISMATCH"]
    assert not mismatches
    assert sum(c.status == "match" for c in comparisons) >= 5


def test_committed_results_have_the_numbers_of_a_rebuild(rebuilt, cp):
    folder, out, _ = rebuilt
    path = committed(folder, "results.json")
    differences = cp.by_meaning.json_differences(json.loads(path.read_text(encoding="utf-8")),
                                                 json.loads((out / "results.json").read_text(
                                                     encoding="utf-8")))
    assert not differences, (f"{path.relative_to(ROOT)} is stale ({STALE}); committed, then "
                             "rebuilt:\n" + "\n".join(differences))


def test_committed_pdf_has_the_text_of_a_rebuild(rebuilt, cp):
    folder, out, _ = rebuilt
    cp.poppler("pdftotext")
    path = committed(folder, "report.pdf")
    meaning = cp.by_meaning
    packages = meaning.environment_names(
        json.loads(committed(folder, "results.json").read_text(encoding="utf-8")),
        json.loads((out / "results.json").read_text(encoding="utf-8")))
    assert "numpy" in packages and "cohortpress" not in packages
    before = meaning.normalise_text(meaning.pdf_text(path), packages)
    after = meaning.normalise_text(meaning.pdf_text(out / "report.pdf"), packages)
    assert "numpy <version>" in before.lower()  # the provenance appendix was found
    why = meaning.text_differences(before, after)
    assert not why, f"{path.relative_to(ROOT)} is stale ({STALE}): {why}"


@pytest.mark.parametrize("rebuilt", ["belgian_infant_leukaemia"], indirect=True)
def test_a_second_build_gives_the_same_bytes(rebuilt, cp, tmp_path):
    """Another process (another hash seed, the PDF rendered by the worker process rather
    than in this one), another output folder and working directory: every file the same.
    The Belgian sample writes every kind of output."""
    folder, first, _ = rebuilt
    second = tmp_path / "elsewhere" / "again"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = cp.run_cli_subprocess(["build", folder / "report.toml", "--output", second,
                                    "--quiet"], cwd=tmp_path, env=env, timeout=300)
    assert result.code == 0, result.err
    names = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    kinds = {Path(n).suffix for n in names}
    assert {".pdf", ".html", ".json", ".csv", ".xlsx", ".docx", ".png"} <= kinds, kinds
    assert names == sorted(p.relative_to(second).as_posix()
                           for p in second.rglob("*") if p.is_file())
    different = [n for n in names if (first / n).read_bytes() != (second / n).read_bytes()]
    assert different == [], "not byte-identical on a second build"


def test_the_belgian_paper_findings_are_reported_not_failed():
    folder = ROOT / "sample_reports" / "belgian_infant_leukaemia"
    published = load_published(folder / "published.toml")
    findings = {v.id for v in published.value if v.expected is not None}
    assert "table2.kmt2a.total.positive.pct" in findings  # the paper's "28 (66%)"
