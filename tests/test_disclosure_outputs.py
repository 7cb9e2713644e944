"""Under ``[disclosure] min_count = 10, round_to = 5`` no output of a build holds a count
from 1 to 9, every released count is a multiple of 5, results.json marks every count it
holds, disclosure.csv lists what was altered, and no hidden cell of a released cross-table
follows from its totals; without ``[disclosure]`` the table exports are byte for byte those
of the code before the rule existed.

The cohort is survival's veteran (tests/data/disclosure/make_veteran.R), which no sample
resembles. Survival curves and their tables are left out of the config: their rule is the
survival analysis's own.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from cohortpress.app.build import build
from cohortpress.common.disclosure import COUNT_STAT_NAMES
from cohortpress.common.progress import Progress

DATA = Path(__file__).parent / "data" / "disclosure"
RULE_TABLE = "[disclosure]\nmin_count = 10\nround_to = 5\n\n"


def _build(tmp_path_factory, name: str, text: str) -> Path:
    folder = tmp_path_factory.mktemp(name)
    shutil.copy(DATA / "veteran.csv", folder)
    (folder / "report.toml").write_text(text, encoding="utf-8")
    out = folder / "report"
    outcome = build(folder / "report.toml", out, progress=Progress(quiet=True))
    assert not any(s.failed for s in outcome.sections)
    return out


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    text = (DATA / "veteran.toml").read_text(encoding="utf-8")
    assert RULE_TABLE in text
    return _build(tmp_path_factory, "on", text)


@pytest.fixture(scope="module")
def unreleased(tmp_path_factory) -> Path:
    text = (DATA / "veteran.toml").read_text(encoding="utf-8").replace(RULE_TABLE, "")
    return _build(tmp_path_factory, "off", text)


# --------------------------------------------------------------------------- the texts


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def html_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"<style.*?</style>", " ", text, flags=re.S)
    text = re.sub(r"<pre class=\"config\">.*?</pre>", " ", text, flags=re.S)  # the config
    return re.sub(r"<[^>]+>", " ", text).replace("&lt;", "<").replace("&amp;", "&")


def xlsx_cells(path: Path) -> list[str]:
    import openpyxl

    book = openpyxl.load_workbook(path)
    return [str(c.value) for sheet in book for row in sheet.iter_rows() for c in row
            if c.value is not None]


def docx_cells(path: Path) -> list[str]:
    import docx

    document = docx.Document(str(path))
    return [cell.text for table in document.tables for row in table.rows
            for cell in row.cells]


def csv_cells(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


#: Counts as the report prints them: "15 (60%)", "N = 25", "135 (125)" (patients and
#: events), "<n> patients", "137 read, 136 analysed", "135 of 137 records".
COUNT_PATTERNS = [
    re.compile(r"(?<![\d.,–-])(\d+) \(\d+(?:\.\d+)?%\)"),
    re.compile(r"\bN = (\d+)"),
    re.compile(r"(?<![\d.,–-])(\d+) \((\d+)\)"),
    re.compile(r"(?<![\d.,–-])(\d+) (?:patients?|events)\b"),
    re.compile(r"(\d+) read, (\d+) analysed"),
    re.compile(r"\((\d+) of (\d+) records\)"),
]


def counts_in_text(text: str) -> list[int]:
    return [int(n) for pattern in COUNT_PATTERNS for match in pattern.finditer(text)
            for n in match.groups()]


def counts_in_cells(cells) -> list[int]:
    """Counts in table cells: a bare whole number, or one of the patterns."""
    found = []
    for cell in cells:
        cell = cell.strip()
        if re.fullmatch(r"\d+", cell):
            found.append(int(cell))
        else:
            found += counts_in_text(cell)
    return found


def assert_released(counts: list[int], where: str) -> None:
    bad = [n for n in counts if n != 0 and (n < 10 or n % 5)]
    assert not bad, f"{where}: counts {sorted(set(bad))} are not released counts"


def text_outputs(out: Path) -> dict[str, list[int]]:
    """Every count found in every output file, by file."""
    found = {"report.pdf": counts_in_text(pdf_text(out / "report.pdf")),
             "report.html": counts_in_text(html_text(out / "report.html"))}
    for path in sorted((out / "tables").iterdir()):
        if path.suffix == ".csv":
            found[path.name] = counts_in_cells(c for row in csv_cells(path) for c in row[1:])
        elif path.suffix == ".xlsx":
            found[path.name] = counts_in_cells(xlsx_cells(path))
        elif path.suffix == ".docx":
            found[path.name] = counts_in_cells(docx_cells(path))
    return found


# --------------------------------------------------------------------------- rule on


def test_no_output_file_holds_a_count_from_1_to_9(released):
    found = text_outputs(released)
    assert {"report.pdf", "report.html", "table1.csv", "table1.xlsx", "table1.docx",
            "cells.csv", "overview.csv", "cox.csv", "logistic.csv"} <= set(found)
    for name, counts in found.items():
        assert_released(counts, name)
    assert sum(len(c) for c in found.values()) > 200  # the scan reads the tables


def test_the_same_scan_finds_the_small_counts_without_the_rule(unreleased):
    found = text_outputs(unreleased)
    small = {name for name, counts in found.items() if any(0 < n < 10 for n in counts)}
    assert {"report.pdf", "report.html", "cells_poor.csv", "cells_poor.xlsx",
            "cells_poor.docx"} <= small


def test_hidden_counts_print_as_fewer_than_the_threshold(released):
    assert "<10" in pdf_text(released / "report.pdf")
    assert any("<10" in c for row in csv_cells(released / "tables" / "cells_poor.csv")
               for c in row)


def test_results_json_holds_no_unaltered_count(released):
    document = json.loads((released / "results.json").read_text(encoding="utf-8"))
    assert document["report"]["cohort"]["n_rows"] % 5 == 0
    assert document["report"]["disclosure"]["min_count"] == 10
    counts = [r for r in document["results"] if r["stat_name"] in COUNT_STAT_NAMES
              and not isinstance(r["stat"], (str, bool))]
    assert len(counts) > 100
    for record in counts:
        assert "disclosure" in record, record
        assert record["stat"] is None or record["stat"] == 0 or (
            record["stat"] >= 10 and record["stat"] % 5 == 0), record
        if record["stat"] is None:
            assert record["formatted"] == "<10"
    for record in document["results"]:
        if record["stat_name"] == "p" and record["context"] in ("crosstab", "categorical"):
            assert "disclosure" in record


def test_a_percentage_is_that_of_the_released_counts(released):
    document = json.loads((released / "results.json").read_text(encoding="utf-8"))
    by_key = {(r["section"], r["context"], r["stat_name"], r["variable"], r["variable_level"],
               r["group"], r["group_level"]): r for r in document["results"]}
    checked = 0
    for (section, context, name, *rest), record in by_key.items():
        if name != "p" or context != "crosstab":
            continue
        n = by_key[(section, context, "n", *rest)]["stat"]
        base = by_key[(section, context, "N", *rest)]["stat"]
        if n is None or base is None:
            assert record["stat"] is None
        else:
            assert record["stat"] == pytest.approx(n / base)
            checked += 1
    assert checked > 10


def test_the_disclosure_log_lists_each_altered_number_without_its_size(released):
    rows = list(csv.DictReader(io.StringIO((released / "disclosure.csv").read_text())))
    document = json.loads((released / "results.json").read_text(encoding="utf-8"))
    altered = [i for i, r in enumerate(document["results"])
               if "disclosure" in r and not r["disclosure"].startswith("shown")]
    assert [int(r["results_index"]) for r in rows] == altered
    suppressed = [r for r in rows if r["action"] == "suppressed"]
    assert suppressed and all(r["released"] in ("<10", "") for r in suppressed)
    assert {r["section"] for r in rows} >= {"table1", "cells", "cells_poor", "overview",
                                           "cox", "logistic"}
    assert {r["action"] for r in rows} == {"suppressed", "rounded", "recomputed"}


def test_the_title_page_provenance_and_methods_state_the_rule(released):
    text = " ".join(pdf_text(released / "report.pdf").split())
    assert text.count("Small-number disclosure control was applied") == 3
    assert "disclosure.csv" in text
    # and each table, next to its numbers (the overview, Table 1, two cross-tables, models)
    assert text.count("Disclosure control: counts of 1 to 9 shown as <10; other counts "
                      "rounded to the nearest 5") == 6


def _released_grid(document, section: str):
    """The released cells, row totals, column totals and grand total of a cross-table."""
    records = {(r["variable_level"], r["group_level"]): r["stat"]
               for r in document["results"] if r["section"] == section
               and r["context"] == "crosstab" and r["stat_name"] == "n"}
    rows = [lv for lv, g in records if lv is not None and g is None]
    cols = [g for lv, g in records if lv is None and g is not None]
    grid = [[records[(lv, g)] for g in cols] + [records[(lv, None)]] for lv in rows]
    grid.append([records[(None, g)] for g in cols] + [records[(None, None)]])
    return grid


def _candidates(value, ceiling):
    """What a reader knows of a count released as ``value`` (a pair: exactly that range)."""
    if isinstance(value, tuple):
        return range(value[0], value[1] + 1)
    if value is None:
        return range(1, ceiling + 1)
    if value == 0:
        return range(0, 1)
    low = 10 if value == 10 else value - 2
    return range(low, value + 3)


class _Enough(Exception):
    """Every hidden cell has shown two possible values: no need to look further."""


def _hidden_values(grid) -> dict[tuple[int, int], set[int]]:
    """The values each hidden cell takes over the tables consistent with ``grid``
    (enumeration stops once every hidden cell has two)."""
    import itertools

    n_rows, n_cols = len(grid) - 1, len(grid[0]) - 1
    grand = _candidates(grid[-1][-1], 0)
    col_totals = [_candidates(grid[-1][j], grand[-1]) for j in range(n_cols)]
    seen = {(i, j): set() for i in range(n_rows) for j in range(n_cols)
            if grid[i][j] is None}
    row_options = []
    for i in range(n_rows):
        total = _candidates(grid[i][-1], grand[-1])
        row_options.append([cells for cells in itertools.product(
            *(_candidates(grid[i][j], min(total[-1], col_totals[j][-1]))
              for j in range(n_cols))) if sum(cells) in total])

    def walk(i, sums, chosen):
        if i == n_rows:
            if all(s in col_totals[j] for j, s in enumerate(sums)) and sum(sums) in grand:
                for (r, c), values in seen.items():
                    values.add(chosen[r][c])
                if all(len(values) >= 2 for values in seen.values()):
                    raise _Enough
            return
        for cells in row_options[i]:
            new = [a + b for a, b in zip(sums, cells)]
            if all(s <= col_totals[j][-1] for j, s in enumerate(new)):
                walk(i + 1, new, chosen + [cells])

    try:
        walk(0, [0] * n_cols, [])
    except _Enough:
        pass
    return seen


def test_no_hidden_cell_of_a_released_cross_table_follows_from_its_totals(released):
    """Brute force: tables consistent with the released one (hidden counts 1 or more,
    shown counts anything that rounds to them) are enumerated until each hidden cell has
    taken two values; a cell that cannot would be derivable."""
    document = json.loads((released / "results.json").read_text(encoding="utf-8"))
    for section in ("cells", "cells_poor"):
        seen = _hidden_values(_released_grid(document, section))
        assert seen, section
        for cell, values in seen.items():
            assert len(values) >= 2, (section, cell, values)


def test_the_brute_force_finds_a_derivable_cell():
    # a hidden 5 in a row whose total and other cell are shown exactly (no rounding)
    grid = [[None, (20, 20), (25, 25)], [(15, 15), (20, 20), (35, 35)],
            [(20, 20), (40, 40), (60, 60)]]
    assert any(len(v) < 2 for v in _hidden_values(grid).values())


# --------------------------------------------------------------------------- rule off


def _digests() -> dict[str, str]:
    lines = (DATA / "off_exports.sha256").read_text().split("\n")
    return {name: digest for digest, name in (line.split() for line in lines if line)}


def test_without_the_rule_the_exports_are_byte_identical_to_before(unreleased):
    """The digests were taken from a build by the code before [disclosure] existed."""
    expected = _digests()
    assert len(expected) == 20
    for name, digest in expected.items():
        assert hashlib.sha256((unreleased / name).read_bytes()).hexdigest() == digest, name
    assert not (unreleased / "disclosure.csv").exists()
    document = json.loads((unreleased / "results.json").read_text(encoding="utf-8"))
    assert "disclosure" not in document["report"]
    assert not any("disclosure" in r for r in document["results"])
