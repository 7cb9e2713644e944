"""The DuckDB cohort source gives the results of the pandas readers, to 1e-12 relative.

R's pbc cohort (examples/pbc) is read as CSV and as Parquet by the pandas readers and, from
the same data, as CSV, a Parquet file, a folder and a glob of Parquet files, a DuckDB
table and a SQL query by DuckDB; with and without a ``cohort.filter`` run in the engine.
"""

from __future__ import annotations

import json
import math
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
    text = text.replace('date = "2024-06-01"', 'date = "2024-06-01"\nexports = ["html"]')
    return text[:text.index('[[section]]\nid = "ascites"')]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """pbc as CSV, Parquet (one file, a folder of three, a DuckDB table)."""
    import duckdb

    root = tmp_path_factory.mktemp("pbc")
    frame = pd.read_csv(PBC / "pbc.csv")
    # Some unknown values, which filters remove and count.
    frame["stage"] = frame["stage"].astype("Int64")
    frame.loc[[4, 16, 39], "stage"] = pd.NA
    frame.loc[[2, 98], "albumin"] = float("nan")
    frame.to_csv(root / "pbc.csv", index=False)
    frame.to_parquet(root / "pbc.parquet", index=False)
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("no data here")
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
    page = (data / "pandas_parquet" / "out" / "report.html").read_text(encoding="utf-8")
    assert "Read as" not in page
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
    # The provenance appendix says how the cohort was read.
    page = (data / f"duck_{name}" / "out" / "report.html").read_text(encoding="utf-8")
    assert f"<td>{kind}, by duckdb " in page


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



# --------------------------------------------------------------------------- the cohort


def load(folder: Path, config: str):
    from cohortpress.app.load import load_cohort
    from cohortpress.app.plan import plan_build

    folder.mkdir(exist_ok=True)
    (folder / "report.toml").write_text(config, encoding="utf-8")
    return load_cohort(plan_build(folder / "report.toml"))


def test_the_filter_runs_in_the_engine_and_the_cohort_is_the_same(data, monkeypatch):
    """Rows the filter removes never leave DuckDB, yet the typed cohort (levels, rows read,
    unknown values removed) is the one the in-memory filter gives."""
    import cohortpress.data.duck as duck

    read_sql = []
    original = duck.DuckSource.read

    def spy(self, columns, where="", params=()):
        read_sql.append((list(columns), where))
        found = original(self, columns, where, params)
        read_sql.append(len(found))
        return found

    monkeypatch.setattr(duck.DuckSource, "read", spy)
    filtered = FILTER + 'max_levels = 60\n'
    pandas = load(data / "c_pandas", pbc_config('path = "../pbc.parquet"', filtered))
    ours = load(data / "c_duck", pbc_config('path = "../parts"', filtered))
    (columns, where), rows = read_sql
    assert "list_contains" in where and rows == ours.n < 312
    assert "trt" not in columns and "id" in columns  # only the columns the config uses
    assert ours.n_rows_read == pandas.n_rows_read == 312
    assert ours.filter_unknown == pandas.filter_unknown and ours.filter_unknown[1][1] > 0
    assert ours.filter_text == pandas.filter_text
    assert dict(ours.variables) == dict(pandas.variables)
    pd.testing.assert_frame_equal(ours.data, pandas.data[list(ours.data.columns)],
                                  check_dtype=False)
    for name, endpoint in pandas.endpoints.items():
        assert (ours.endpoints[name].time == endpoint.time).all()


def test_a_level_only_filtered_out_rows_have_is_still_a_level(data):
    """Typing sees the whole column's values: the filtered cohort has no stage-4 patient,
    yet "4" is a level of stage (Table 1 shows it with 0), as in memory."""
    config = pbc_config('path = "../parts"', 'filter = [{ variable = "stage", in = [1, 2] }]\n')
    config = config.replace('[variables.stage]\nlabel = "Histologic stage"\n'
                            'levels = ["1", "2", "3", "4"]\n',
                            '[variables.stage]\nlabel = "Histologic stage"\n'
                            'kind = "categorical"\n')
    ours = load(data / "c_levels", config)
    assert ours.variables["stage"].levels == ("1", "2", "3", "4")
    assert set(ours.data["stage"].dropna()) == {"1", "2"}


def test_a_filter_that_cannot_run_in_the_engine_runs_in_memory(data, monkeypatch):
    """A column with more distinct values than a profile holds: the filter runs after
    reading, with the same cohort as a result."""
    import cohortpress.data.duck as duck

    monkeypatch.setattr(duck, "PROFILE_LIMIT", 50)  # age has about 300 distinct values
    wheres = []
    original = duck.DuckSource.read
    monkeypatch.setattr(duck.DuckSource, "read", lambda self, columns, where="", params=():
                        wheres.append(where) or original(self, columns, where, params))
    extra = 'filter = [{ variable = "age", ge = 40 }, { variable = "stage", ne = 4 }]\n'
    ours = load(data / "c_many", pbc_config('path = "../parts"', extra))
    pandas = load(data / "c_many_pandas", pbc_config('path = "../pbc.parquet"', extra))
    assert wheres == [""]
    assert ours.n == pandas.n < 312 and ours.n_rows_read == 312
    assert ours.filter_unknown == pandas.filter_unknown


@pytest.mark.parametrize("conditions, text", [
    ('{ variable = "age", lt = 20 }', "age < 20.0"),
    ('{ variable = "sex", eq = "male" }, { variable = "albumin", gt = 4.5 }',
     "sex = male; albumin > 4.5"),
])
def test_a_filter_nobody_passes_is_one_error(data, conditions, text):
    """As in memory: one condition no value passes (found from the profile), or conditions
    that pass apart but not together (found from the rows read)."""
    from cohortpress.common.errors import DataError

    for name, path in (("c_none_duck", "../parts"), ("c_none_pandas", "../pbc.parquet")):
        with pytest.raises(DataError) as caught:
            load(data / name, pbc_config(f'path = "{path}"', f'filter = [{conditions}]\n'))
        assert caught.value.key == "cohort.filter"
        assert f"no rows left after cohort.filter ({text})" in caught.value.one_line()


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("cohort, message", [
    ('path = "../nothere.parquet"\nengine = "duckdb"',
     "nothere.parquet: key 'cohort.path': cohort file not found"),
    ('path = "../notes"',
     "key 'cohort.path': is a folder with no Parquet file (*.parquet) in it; the cohort is "
     "a file, or a folder of Parquet files"),
    ('path = "../parts/none-*.parquet"',
     "none-*.parquet: key 'cohort.path': no file matches the pattern"),
    ('path = "../registry.duckdb"\ntable = "patient"',
     "registry.duckdb: key 'cohort.table': no table 'patient' in the database; did you mean "
     "'patients'?"),
    ('path = "../registry.duckdb"\ntable = "visits"',
     "registry.duckdb: key 'cohort.table': no table 'visits' in the database; it has "
     "patients"),
    ('path = "../registry.duckdb"',
     "key 'cohort.table': a DuckDB database needs cohort.table (the table of patients) or "
     "cohort.query"),
    ('path = "../pbc.parquet"\nquery = "SELEC * FROM cohort"',
     "report.toml: key 'cohort.query': DuckDB: Parser Error: syntax error at or near "
     "\"SELEC\""),
    ('path = "../pbc.parquet"\nquery = "DROP TABLE cohort"',
     "report.toml: key 'cohort.query': expected one SELECT statement (a query whose rows "
     "are the patients), found a DROP statement"),
    ('path = "../pbc.parquet"\nquery = "SELECT 1; SELECT 2"',
     "found 2 statements"),
    ('path = "../pbc.parquet"\nquery = "SELECT * FROM cohorts"',
     "report.toml: key 'cohort.query': DuckDB: Catalog Error: Table with name cohorts does "
     "not exist!"),
    ('path = "../pbc.parquet"\nquery = "SELECT * EXCLUDE (albumin) FROM cohort"',
     "pbc.parquet: key 'section[0].variables[7].variable': column 'albumin' not found in "
     "the cohort"),
    ('path = "../registry.duckdb"\ntable = "patients"\nengine = "pandas"',
     "key 'cohort.engine': cohort.table is read by DuckDB only; remove cohort.engine = "
     "\"pandas\""),
    ('path = "../pbc.parquet"\ntable = "patients"',
     "key 'cohort.table': applies to a DuckDB database (.duckdb) as cohort.path; for a "
     "parquet file use cohort.query"),
    ('path = "../pbc.xlsx"\nengine = "duckdb"',
     "key 'cohort.engine': DuckDB reads Parquet, CSV and DuckDB databases, not Excel files; "
     "use engine = \"auto\" for this file"),
    ('path = "../pbc.csv"\nengine = "duckdb"\nencoding = "cp1252"',
     "key 'cohort.encoding': DuckDB reads CSV as UTF-8, UTF-16 or Latin-1, not cp1252; "
     "convert the file or set cohort.engine = \"pandas\""),
    ('path = "../pbc.parquet"\nengine = "duckdb"\ndelimiter = ";"',
     "key 'cohort.delimiter': applies to csv files; the cohort file is read as parquet"),
])
def test_source_errors_are_one_line(data, cp, capsys, cohort, message):
    folder = data / f"err{abs(hash(cohort))}"
    folder.mkdir(exist_ok=True)
    (folder / "report.toml").write_text(pbc_config(cohort), encoding="utf-8")
    result = cp.run_cli(["validate", folder / "report.toml"], capsys)
    assert result.code == 2, result.err
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("cohortpress: error:")
    assert message in result.err_lines[0], result.err_lines[0]


def test_which_sources_duckdb_reads(tmp_path, monkeypatch):
    """Existing configs keep the pandas readers; DuckDB reads what they cannot."""
    from cohortpress.config.schema import Config
    from cohortpress.data.duck import source_kind

    (tmp_path / "a[1].csv").write_text("x\n1\n")
    (tmp_path / "parts").mkdir()

    def kind(**cohort):
        return source_kind(Config.model_validate({
            "report": {"title": "t"}, "cohort": {**cohort, "path": tmp_path / cohort["path"]},
            "source": tmp_path / "report.toml"}))

    assert kind(path="cohort.csv") is None and kind(path="cohort.parquet") is None
    assert kind(path="a[1].csv") is None  # a file name, not a pattern
    assert kind(path="cohort.xlsx") is None and kind(path="cohort.sav") is None
    assert kind(path="cohort.csv", engine="duckdb") == "csv"
    assert kind(path="parts") == "parquet dataset"
    assert kind(path="parts/*.parquet") == "parquet dataset"
    assert kind(path="db.duckdb", table="t") == "duckdb"
    assert kind(path="cohort.parquet", query="SELECT * FROM cohort") == "parquet query"
    # The pandas readers' size ceiling stays (engine = "duckdb" reads such a file).
    (tmp_path / "big.csv").write_bytes(b"x\n" + b"1\n" * 600_000)
    monkeypatch.setenv("COHORTPRESS_MAX_INPUT_MB", "1")
    assert kind(path="big.csv") is None
    assert kind(path="big.csv", engine="duckdb") == "csv"
