"""The DuckDB cohort source gives the results of the pandas readers, to 1e-12 relative.

R's pbc cohort (examples/pbc) is read as CSV and as Parquet by the pandas readers and, from
the same data, as CSV, a Parquet file, a folder and a glob of Parquet files, a DuckDB
table and a SQL query by DuckDB; with and without a ``cohort.filter`` run in the engine.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cohortpress import hookimpl
from cohortpress.app.build import Progress, build
from cohortpress.app.plugins import make_plugins

ROOT = Path(__file__).resolve().parents[1]
PBC = ROOT / "examples" / "pbc"
REL = 1e-12


class _StubPdf:
    """results.json does not depend on the PDF: a placeholder keeps the builds fast."""

    @hookimpl
    def cohortpress_render_pdf(self, html, output, settings):
        Path(output).write_bytes(b"%PDF-1.4\n% duckdb test stub\n%%EOF\n")
        return True


def pbc_config(cohort: str, extra: str = "") -> str:
    """examples/pbc/report.toml with another [cohort] table and without the logistic model."""
    text = (PBC / "report.toml").read_text(encoding="utf-8")
    text = text.replace('[cohort]\npath = "pbc.csv"\n', f'[cohort]\n{cohort}\n{extra}')
    text = text.replace('date = "2024-06-01"', 'date = "2024-06-01"\nexports = []')
    return text[:text.index('[[section]]\nid = "ascites"')]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """pbc as CSV, Parquet (one file, a folder of three, a DuckDB table)."""
    import duckdb

    root = tmp_path_factory.mktemp("pbc")
    shutil.copy(PBC / "pbc.csv", root / "pbc.csv")
    frame = pd.read_csv(PBC / "pbc.csv")
    frame.to_parquet(root / "pbc.parquet", index=False)
    (root / "parts").mkdir()
    for i, part in enumerate((frame.iloc[:100], frame.iloc[100:250], frame.iloc[250:])):
        part.to_parquet(root / "parts" / f"part-{i}.parquet", index=False)
    with duckdb.connect(str(root / "registry.duckdb")) as con:
        con.execute("CREATE TABLE patients AS SELECT * FROM read_parquet(?)",
                    [str(root / "pbc.parquet")])
    return root


def results(root: Path, name: str, config: str) -> dict:
    folder = root / name
    folder.mkdir(exist_ok=True)
    (folder / "report.toml").write_text(config, encoding="utf-8")
    plugins = make_plugins(entry_points=False)
    plugins.manager.register(_StubPdf(), name="duck_stub_pdf")
    outcome = build(folder / "report.toml", folder / "out", progress=Progress(quiet=True),
                    plugins=plugins, pdf_worker=False)
    assert outcome.exit_code == 0
    return json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))


def assert_same_numbers(ours, reference, where="results"):
    """Every value equal; numbers to 1e-12 relative."""
    if isinstance(reference, dict):
        assert set(ours) == set(reference), where
        for key in reference:
            assert_same_numbers(ours[key], reference[key], f"{where}.{key}")
    elif isinstance(reference, list):
        assert len(ours) == len(reference), where
        for i, (a, b) in enumerate(zip(ours, reference)):
            assert_same_numbers(a, b, f"{where}[{i}]")
    elif isinstance(reference, float) and not isinstance(ours, bool):
        assert isinstance(ours, (int, float)), where
        assert (math.isnan(ours) and math.isnan(reference)) or \
            ours == pytest.approx(reference, rel=REL, abs=1e-300), where
    else:
        assert ours == reference, where


def compare(duck: dict, pandas: dict, kind: str) -> None:
    assert_same_numbers(duck["results"], pandas["results"])
    cohort = dict(duck["report"]["cohort"])
    assert cohort.pop("kind") == kind
    cohort.pop("query", None), cohort.pop("table", None)
    assert cohort["n_rows"] == pandas["report"]["cohort"]["n_rows"]


@pytest.fixture(scope="module")
def reference(data) -> dict:
    return results(data, "pandas_csv", pbc_config('path = "../pbc.csv"'))


@pytest.fixture(scope="module")
def reference_parquet(data) -> dict:
    found = results(data, "pandas_parquet", pbc_config('path = "../pbc.parquet"'))
    assert "kind" not in found["report"]["cohort"]  # the pandas reader, as before
    return found


def test_csv_through_duckdb(data, reference):
    duck = results(data, "duck_csv", pbc_config('path = "../pbc.csv"\nengine = "duckdb"'))
    compare(duck, reference, "csv")
    assert duck["report"]["cohort"]["sha256"] == reference["report"]["cohort"]["sha256"]


@pytest.mark.parametrize("name, cohort, kind", [
    ("file", 'path = "../pbc.parquet"\nengine = "duckdb"', "parquet"),
    ("folder", 'path = "../parts"', "parquet dataset"),
    ("glob", 'path = "../parts/part-*.parquet"', "parquet dataset"),
    ("table", 'path = "../registry.duckdb"\ntable = "patients"', "duckdb"),
    ("query", 'path = "../registry.duckdb"\nquery = "SELECT * FROM patients ORDER BY id"',
     "duckdb query"),
    ("file_query", 'path = "../pbc.parquet"\nquery = "SELECT *, 1 AS unused FROM cohort"',
     "parquet query"),
])
def test_parquet_sources_through_duckdb(data, reference_parquet, name, cohort, kind):
    duck = results(data, f"duck_{name}", pbc_config(cohort))
    compare(duck, reference_parquet, kind)
    if "query" in kind:
        assert duck["report"]["cohort"]["query"].startswith("SELECT")


def test_parquet_and_csv_agree(reference, reference_parquet):
    assert_same_numbers(reference_parquet["results"], reference["results"])


FILTER = ('filter = [{ variable = "sex", eq = "female" }, { variable = "stage", ne = 4 },'
          ' { variable = "age", missing = false }]\n')


@pytest.mark.parametrize("name, cohort, kind", [
    ("csv", 'path = "../pbc.csv"\nengine = "duckdb"', "csv"),
    ("folder", 'path = "../parts"', "parquet dataset"),
])
def test_filter_run_by_duckdb_gives_the_in_memory_results(data, name, cohort, kind):
    pandas = results(data, f"pandas_filter_{name}",
                     pbc_config('path = "../pbc.csv"' if name == "csv" else
                                'path = "../pbc.parquet"', FILTER))
    duck = results(data, f"duck_filter_{name}", pbc_config(cohort, FILTER))
    compare(duck, pandas, kind)
    assert duck["report"]["cohort"]["n_rows"] == pandas["report"]["cohort"]["n_rows"] < 312

