"""A catalogue of bad inputs, each run through the real command line.

Every entry either fails with exit code 2 and exactly one line on stderr,
``cohortpress: error: FILE: key 'K': column 'C': row R: message``, naming the file and the
key, column and row where they apply, with no traceback and the previous report untouched,
or (for the inputs that look odd but are valid: a byte-order mark, quoted newlines,
formula-like text...) it works.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Callable

import pytest

BASE_TOML = """\
[report]
title = "Bad inputs"

[cohort]
path = "cohort.csv"
id = "id"
group = "arm"

[variables.sex]
label = "Sex"
levels = ["F", "M"]

[variables.age]
kind = "continuous"

[endpoints.os]
time = "t"
time_unit = "years"
event = "e"

[endpoints.efs]
start = "dx"
events = ["relapse"]
last_contact = "last"

[[section]]
id = "overview"
analysis = "overview"
endpoints = ["os", "efs"]
"""

BASE_CSV = """\
id,arm,sex,age,t,e,dx,relapse,last
P1,A,F,34,1.5,1,2010-01-01,2011-01-01,2012-01-01
P2,A,M,45,2.0,0,2010-02-01,,2012-02-01
P3,B,F,50,3.1,1,2011-01-01,,2013-01-01
P4,B,M,61,0.5,0,2011-05-01,2012-01-01,2013-05-01
"""


def cell(row: int, column: str, value: str, csv: str = BASE_CSV) -> str:
    """BASE_CSV with the cell of data row ``row`` (1-based) in ``column`` replaced."""
    lines = csv.splitlines()
    header = lines[0].split(",")
    fields = lines[row].split(",")
    fields[header.index(column)] = value
    lines[row] = ",".join(fields)
    return "\n".join(lines) + "\n"


def toml(old: str, new: str, text: str = BASE_TOML) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def section(extra: str) -> str:
    return BASE_TOML + extra


def many_categories(n: int = 10_000) -> str:
    rows = [f"P{i},{'AB'[i % 2]},F,40,1,0,2010-01-01,,2011-01-01,diagnosis {i}"
            for i in range(n)]
    return "id,arm,sex,age,t,e,dx,relapse,last,diagnosis\n" + "\n".join(rows) + "\n"


def workbook(path):
    import pandas as pd

    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"a": [1]}).to_excel(writer, sheet_name="Readme", index=False)
        pd.DataFrame({"a": [1]}).to_excel(writer, sheet_name="Data 2024", index=False)


@dataclasses.dataclass(frozen=True)
class Bad:
    """One bad input: the project's files and what the error line must say."""

    id: str
    expect: tuple[str, ...]  # substrings of the error line, after "cohortpress: error: "
    file: str  # the file the line must begin with (its name)
    toml: str = BASE_TOML
    csv: str | bytes | None = BASE_CSV
    files: tuple[tuple[str, str | bytes], ...] = ()
    make: Callable | None = None  # makes binary files in the project folder
    root_can_read: bool = False  # chmod cannot stop root


CONFIG = [
    Bad("unknown-key", ("key 'report.titel'", "unknown key; did you mean 'title'?"),
        "report.toml", toml=toml('title = "Bad inputs"', 'titel = "x"\ntitle = "Bad inputs"')),
    Bad("unknown-key-in-derived", ("key 'derived.g.sorce'", "did you mean 'source'?"),
        "report.toml", toml=BASE_TOML + '[derived.g]\ntype = "cut"\nsorce = "age"\n'
                                        'breaks = [0, 50, 99]\nlabels = ["a", "b"]\n'),
    Bad("wrong-type", ("key 'report.p_digits'", "found the text 'three'", "expected a whole number"),
        "report.toml", toml=toml('title = "Bad inputs"', 'title = "x"\np_digits = "three"')),
    Bad("wrong-type-in-section", ("key 'section[0].endpoints'", "list"), "report.toml",
        toml=toml('endpoints = ["os", "efs"]', 'endpoints = "os"')),
    Bad("toml-syntax-error", ("not valid TOML", "line 2"), "report.toml",
        toml='[report]\ntitle = "unterminated\n'),
    Bad("missing-title", ("key 'report.title'", "required key is missing"), "report.toml",
        toml=toml('title = "Bad inputs"', 'subtitle = "no title"')),
    Bad("missing-cohort-file", ("key 'cohort.path'", "cohort file not found"), "nope.csv",
        toml=toml('path = "cohort.csv"', 'path = "nope.csv"')),
    Bad("cohort-path-is-a-folder", ("key 'cohort.path'", "is a folder"), "data",
        toml=toml('path = "cohort.csv"', 'path = "data"'), files=(("data/readme.txt", "x"),)),
    Bad("unreadable-cohort-file", ("permission denied",), "cohort.csv", root_can_read=True),
    Bad("wrong-sheet-name", ("key 'cohort.sheet'", "no sheet 'Data'",
                             "'Readme', 'Data 2024'"), "cohort.xlsx",
        toml=toml('path = "cohort.csv"', 'path = "cohort.xlsx"\nsheet = "Data"'), csv=None,
        make=lambda root: workbook(root / "cohort.xlsx")),
    Bad("duplicate-section-ids", ("key 'section'", "duplicate section id 'overview'"),
        "report.toml", toml=section('[[section]]\nid = "overview"\nanalysis = "overview"\n')),
    Bad("unknown-analysis", ("key 'section[1].analysis'", "unknown analysis 'overveiw'",
                             "did you mean 'overview'?"), "report.toml",
        toml=section('[[section]]\nid = "two"\nanalysis = "overveiw"\n')),
    Bad("unknown-variable-in-section-option", ("key 'section[1].by'", "'sexx'",
                                               "did you mean 'sex'?"), "cohort.csv",
        toml=section('[[section]]\nid = "two"\nanalysis = "overview"\nby = "sexx"\n')),
    Bad("unknown-section-option", ("key 'section[1].bye'", "did you mean 'by'?"),
        "report.toml", toml=section('[[section]]\nid = "two"\nanalysis = "overview"\n'
                                    'bye = "sex"\n')),
    Bad("unknown-endpoint", ("key 'section[0].endpoints[1]'", "unknown endpoint 'efs2'",
                             "did you mean 'efs'?"), "report.toml",
        toml=toml('endpoints = ["os", "efs"]', 'endpoints = ["os", "efs2"]')),
    Bad("plugin-file-missing", ("key 'plugins[0]'", "plugin file not found"), "report.toml",
        toml='plugins = ["my_analyses.py"]\n' + BASE_TOML),
    Bad("unknown-suffix", ("cannot tell the format", "cohort.format"), "cohort.dat",
        toml=toml('path = "cohort.csv"', 'path = "cohort.dat"'),
        files=(("cohort.dat", BASE_CSV),)),
    Bad("report-date-not-iso", ("key 'report.date'", "ISO date"), "report.toml",
        toml=toml('title = "Bad inputs"', 'title = "x"\ndate = "31/05/2024"')),
    Bad("template-folder-missing", ("key 'report.templates'", "template folder not found"),
        "report.toml", toml=toml('title = "Bad inputs"', 'title = "x"\ntemplates = "tpl"')),
    Bad("stylesheet-missing", ("key 'report.css[0]'", "cannot read the stylesheet"),
        "report.toml", toml=toml('title = "Bad inputs"', 'title = "x"\ncss = ["print.css"]')),
    Bad("template-syntax-error", ("report.html.j2:2", "template syntax error"), "report.html.j2",
        toml=toml('title = "Bad inputs"', 'title = "x"\ntemplates = "tpl"'),
        files=(("tpl/report.html.j2",
                '{% extends "default:report.html.j2" %}\n{% block toc %}{% if %}{% endblock %}'),)),
    Bad("template-undefined-value", ("report.html.j2", "'no_such_thing' is undefined"),
        "report.html.j2", toml=toml('title = "Bad inputs"', 'title = "x"\ntemplates = "tpl"'),
        files=(("tpl/report.html.j2", '{% extends "default:report.html.j2" %}\n'
                                      '{% block toc %}{{ no_such_thing }}{% endblock %}'),)),
    Bad("variable-not-in-cohort", ("key 'variables.weight'", "column 'weight' not found"),
        "cohort.csv", toml=BASE_TOML + '[variables.weight]\nkind = "continuous"\n'),
    Bad("endpoint-both-forms", ("key 'endpoints.os.start'", "applies to date endpoints"),
        "report.toml",
        toml=toml('time = "t"', 'time = "t"\nstart = "dx"')),
    Bad("derived-unknown-type", ("key 'derived.g'", "unknown 'type'"), "report.toml",
        toml=BASE_TOML + '[derived.g]\ntype = "bins"\nsource = "age"\n'),
    Bad("cut-breaks-not-increasing", ("key 'derived.g'", "strictly increasing"), "report.toml",
        toml=BASE_TOML + '[derived.g]\ntype = "cut"\nsource = "age"\nbreaks = [0, 60, 40]\n'
                         'labels = ["a", "b"]\n'),
    Bad("cut-breaks-nan", ("key 'derived.g'", "nan is not an edge"), "report.toml",
        toml=BASE_TOML + '[derived.g]\ntype = "cut"\nsource = "age"\nbreaks = [0, 60, nan]\n'
                         'labels = ["a", "b"]\n'),
    Bad("filter-two-comparisons", ("key 'cohort.filter[0]'", "exactly one"), "report.toml",
        toml=toml('group = "arm"', 'group = "arm"\nfilter = [{variable = "age", gt = 1, '
                                   'lt = 90}]')),
    Bad("section-id-with-spaces", ("key 'section[0].id'", "found the text 'the overview'", "(no spaces)"), "report.toml",
        toml=toml('id = "overview"', 'id = "the overview"')),
    Bad("config-not-utf8", ("cannot read the config",), "report.toml",
        toml=None),  # written as latin-1 bytes below
]

DATA = [
    Bad("empty-file", ("the file is empty",), "cohort.csv", csv=""),
    Bad("header-only", ("the cohort has no rows",), "cohort.csv",
        csv=BASE_CSV.splitlines()[0] + "\n"),
    Bad("no-rows-left-after-filters", ("key 'cohort.filter'", "no rows left",
                                       "age > 100.0"), "report.toml",
        toml=toml('group = "arm"', 'group = "arm"\nfilter = [{variable = "age", gt = 100}]')),
    Bad("duplicate-patient-ids", ("column 'id'", "duplicate patient id 'P1'", "rows 1 and 3"),
        "cohort.csv", csv=cell(3, "id", "P1")),
    Bad("missing-patient-id", ("column 'id'", "row 2", "patient id is missing"), "cohort.csv",
        csv=cell(2, "id", "")),
    Bad("text-in-numeric-column", ("column 'age'", "row 3 (patient P3)",
                                   "'fifty' is not a number", "variables.age.missing"),
        "cohort.csv", csv=cell(3, "age", "fifty")),
    Bad("decimal-comma", ("column 'age'", "row 2 (patient P2)", "'45,5' is not a number"),
        "cohort.csv", csv=cell(2, "age", '"45,5"')),
    Bad("infinite-number", ("column 'age'", "row 4 (patient P4)", "not a finite number"),
        "cohort.csv", csv=cell(4, "age", "inf")),
    Bad("dates-in-mixed-formats", ("column 'dx'", "row 2 (patient P2)", "'01/02/2010'",
                                   "date_format"), "cohort.csv", csv=cell(2, "dx", "01/02/2010")),
    Bad("unparseable-date", ("column 'last'", "row 3 (patient P3)", "'2013-13-45'"),
        "cohort.csv", csv=cell(3, "last", "2013-13-45")),
    Bad("date-not-in-configured-format", ("column 'dx'", "row 1 (patient P1)",
                                          "the format '%d/%m/%Y'"), "cohort.csv",
        toml=toml('group = "arm"', 'group = "arm"\ndate_format = "%d/%m/%Y"')),
    Bad("event-code-not-0-or-1", ("column 'e'", "row 2 (patient P2)", "'2' (1)",
                                  "event_codes"), "cohort.csv", csv=cell(2, "e", "2")),
    Bad("event-code-missing", ("column 'e'", "row 4 (patient P4)", "empty (1)",
                               'missing_cause = "censored"'),
        "cohort.csv", csv=cell(4, "e", "")),
    Bad("negative-time", ("column 't'", "row 3 (patient P3)", "negative (-3.1)"), "cohort.csv",
        csv=cell(3, "t", "-3.1")),
    Bad("missing-time", ("column 't'", "row 1 (patient P1)", "missing"), "cohort.csv",
        csv=cell(1, "t", "")),
    Bad("infinite-time", ("column 't'", "row 1 (patient P1)", "not a finite number"),
        "cohort.csv", csv=cell(1, "t", "Infinity")),
    Bad("event-date-before-start", ("column 'relapse'", "row 4 (patient P4)",
                                    "event date 2009-01-01 is before the start date"),
        "cohort.csv", csv=cell(4, "relapse", "2009-01-01")),
    Bad("last-contact-before-start", ("column 'last'", "row 2 (patient P2)",
                                      "last contact 2009-12-31 is before the start date"),
        "cohort.csv", csv=cell(2, "last", "2009-12-31")),
    Bad("missing-start-date", ("column 'dx'", "row 3 (patient P3)", "start date is missing"),
        "cohort.csv", csv=cell(3, "dx", "")),
    Bad("no-event-and-no-last-contact", ("column 'last'", "row 2 (patient P2)",
                                         "no event date and no last-contact date"),
        "cohort.csv", csv=cell(2, "last", "")),
    Bad("level-not-among-levels", ("column 'sex'", "row 4 (patient P4)", "value 'X'",
                                   "variables.sex.levels"), "cohort.csv", csv=cell(4, "sex", "X")),
    Bad("too-many-categories", ("column 'diagnosis'", "10000 distinct values",
                                "cohort.max_levels = 50", 'kind = "text"'), "cohort.csv",
        toml=section('[[section]]\nid = "dx"\nanalysis = "overview"\nby = "diagnosis"\n'),
        csv=many_categories()),
    Bad("non-utf8-csv", ("not utf-8-sig text", "cohort.encoding", "latin-1"), "cohort.csv",
        csv=cell(2, "arm", "Bras \xe9").encode("latin-1")),
    Bad("log-of-non-positive", ("key 'derived.logage.function'", "column 'age'",
                                "row 2 (patient P2)", "log of 0.0 is undefined"), "report.toml",
        toml=BASE_TOML + '[derived.logage]\ntype = "transform"\nsource = "age"\n'
                         'function = "log"\n', csv=cell(2, "age", "0")),
    Bad("cut-value-outside-breaks", ("key 'derived.agegroup.breaks'", "column 'age'",
                                     "row 4 (patient P4)", "outside the breaks"), "report.toml",
        toml=BASE_TOML + '[derived.agegroup]\ntype = "cut"\nsource = "age"\n'
                         'breaks = [0, 40, 60]\nlabels = ["young", "middle"]\n'),
    Bad("derived-cycle", ("key 'derived.", "cycle", "a -> b -> a"), "report.toml",
        toml=BASE_TOML + '[derived.a]\ntype = "transform"\nsource = "b"\nfunction = "sqrt"\n'
                         '[derived.b]\ntype = "transform"\nsource = "a"\nfunction = "sqrt"\n'),
    Bad("derived-source-wrong-kind", ("key 'derived.g.source'", "'arm' is categorical",
                                      "needs continuous"), "report.toml",
        toml=BASE_TOML + '[derived.g]\ntype = "cut"\nsource = "arm"\nbreaks = [0, 1]\n'
                         'labels = ["a"]\n'),
    Bad("date-diff-of-non-dates", ("key 'derived.d.start'", "needs date"), "report.toml",
        toml=BASE_TOML + '[derived.d]\ntype = "date_diff"\nstart = "age"\nend = "last"\n'),
    Bad("row-with-too-many-fields", ("row 2", "10 fields but the header has 9", "quote"),
        "cohort.csv", csv=cell(2, "arm", "A,extra")),
    Bad("duplicate-column-name", ("column 'age'", "names the column 'age' more than once"),
        "cohort.csv", csv=BASE_CSV.replace(",relapse,last\n", ",relapse,last,age\n", 1)
        .replace("2012-01-01\n", "2012-01-01,35\n", 1)),
    Bad("wrong-delimiter", ("key 'variables.age'", "column 'age' not found",
                            'cohort.delimiter = ";"'), "cohort.csv",
        csv=BASE_CSV.replace(",", ";")),
    Bad("binary-with-three-levels", ("column 'arm'", "declared binary but has 3 levels"),
        "cohort.csv", toml=BASE_TOML + '[variables.arm]\nkind = "binary"\n',
        csv=cell(4, "arm", "C")),
    Bad("two-levels-one-label", ("column 'sex'", "share a display label"), "report.toml",
        toml=toml('levels = ["F", "M"]', 'levels = ["F", "M"]\nlabels = {F = "X", M = "X"}')),
    Bad("reference-level-unknown", ("key 'variables.sex.reference'", "'Z'"), "report.toml",
        toml=toml('levels = ["F", "M"]', 'levels = ["F", "M"]\nreference = "Z"')),
    Bad("group-not-categorical", ("key 'cohort.group'", "must be categorical"), "report.toml",
        toml=toml('group = "arm"', 'group = "age"')),
    Bad("filter-text-on-continuous", ("key 'cohort.filter[0]'", "compare it with a number"),
        "report.toml", toml=toml('group = "arm"', 'group = "arm"\n'
                                                  'filter = [{variable = "age", eq = "old"}]')),
    Bad("filter-level-typo", ("key 'cohort.filter[0]'", "'Female' is not a level of 'sex'"),
        "report.toml", toml=toml('group = "arm"', 'group = "arm"\n'
                                                  'filter = [{variable = "sex", ne = "Female"}]')),
    Bad("corrupt-parquet", ("not a readable Parquet file",), "cohort.parquet",
        toml=toml('path = "cohort.csv"', 'path = "cohort.parquet"'),
        files=(("cohort.parquet", b"PAR1 not really"),)),
    Bad("corrupt-xlsx", ("not a readable .xlsx file",), "cohort.xlsx",
        toml=toml('path = "cohort.csv"', 'path = "cohort.xlsx"'),
        files=(("cohort.xlsx", BASE_CSV),)),
    Bad("corrupt-spss", ("not a readable SPSS file",), "cohort.sav",
        toml=toml('path = "cohort.csv"', 'path = "cohort.sav"'),
        files=(("cohort.sav", b"$FL2 not really"),)),
]

CATALOGUE = CONFIG + DATA


def make_project(cp, root, bad: Bad):
    project = cp.Project(root, toml=bad.toml if bad.toml is not None else BASE_TOML,
                         csv=bad.csv)
    if bad.toml is None:
        project.write("report.toml", BASE_TOML.replace("Bad inputs", "Genève").encode("latin-1"))
    for name, content in bad.files:
        project.write(name, content)
    if bad.make is not None:
        bad.make(project.root)
    return project


def previous_report(project) -> dict[str, bytes]:
    """A previous output folder, to prove a failed build never touches it."""
    project.out.mkdir()
    (project.out / "report.pdf").write_bytes(b"%PDF-1.7 the previous report")
    (project.out / "results.json").write_text('{"report": {}, "results": []}\n')
    (project.out / "tables").mkdir()
    (project.out / "tables" / "overview.csv").write_text("previous\n")
    return {p.name: p.read_bytes() for p in project.out.rglob("*") if p.is_file()}


def test_the_catalogue_is_large_and_distinct():
    ids = [bad.id for bad in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert len(ids) + len(WORKS) >= 40


@pytest.mark.parametrize("bad", CATALOGUE, ids=lambda bad: bad.id)
def test_bad_input(cp, tmp_path, capsys, bad):
    project = make_project(cp, tmp_path / "proj", bad)
    if bad.root_can_read:
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            pytest.skip("running as root: chmod 000 does not stop root from reading the file")
        if sys.platform == "win32":  # pragma: no cover
            pytest.skip("chmod 000 does not make a file unreadable on Windows")
        (project.root / "cohort.csv").chmod(0)
    before = previous_report(project)
    try:
        result = cp.run_cli(["build", project.config, "--output", project.out, "--quiet"],
                            capsys)
    finally:
        if bad.root_can_read:
            (project.root / "cohort.csv").chmod(0o644)
    assert result.code == 2, result.err
    assert result.out == ""
    assert "Traceback" not in result.err
    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith("cohortpress: error: "), line
    # The file comes first (a full or relative path, or a template name), then the rest.
    where = line.removeprefix("cohortpress: error: ").split(": ", 1)[0]
    assert where.endswith(bad.file) or where.split(":")[0].endswith(bad.file), line
    for words in bad.expect:
        assert words in line, f"{words!r} not in {line!r}"
    after = {p.name: p.read_bytes() for p in project.out.rglob("*") if p.is_file()}
    assert after == before
    assert cp.staging_leftovers(project.out) == []


def test_progress_lines_then_one_error_line(cp, tmp_path):
    """Without --quiet, progress lines come first, then exactly one error line (in a child
    process: the real executable, its real stderr)."""
    bad = next(b for b in DATA if b.id == "text-in-numeric-column")
    project = make_project(cp, tmp_path / "proj", bad)
    result = cp.run_cli_subprocess(["build", project.config, "--output", project.out],
                                   cwd=project.root)
    assert result.code == 2
    assert len(result.error_lines) == 1 and result.err_lines[-1] == result.error_lines[0]
    assert result.error_lines[0].startswith("cohortpress: error: cohort.csv: column 'age': "
                                            "row 3 (patient P3): 'fifty' is not a number")
    assert "Traceback" not in result.err and not project.out.exists()


def test_usage_errors_in_a_child_process(cp, tmp_path):
    result = cp.run_cli_subprocess(["build"], cwd=tmp_path)
    assert result.code == 2 and len(result.error_lines) == 1
    assert "Traceback" not in result.err


# --------------------------------------------------------------------------- odd but valid


@dataclasses.dataclass(frozen=True)
class Odd:
    id: str
    csv: str | bytes
    toml: str = BASE_TOML
    check: Callable | None = None


WORKS = [
    Odd("byte-order-mark", b"\xef\xbb\xbf" + BASE_CSV.encode()),
    Odd("byte-order-mark-with-utf8-declared", b"\xef\xbb\xbf" + BASE_CSV.encode(),
        toml=toml('group = "arm"', 'group = "arm"\nencoding = "utf-8"')),
    Odd("latin1-declared", cell(2, "arm", "Bras \xe9").encode("latin-1"),
        toml=toml('group = "arm"', 'group = "arm"\nencoding = "latin-1"'),
        check=lambda c: "Bras é" in c.variable("arm").levels),
    Odd("embedded-newline", cell(1, "arm", '"A\nsecond line"'),
        check=lambda c: "A\nsecond line" in c.variable("arm").levels),
    Odd("crlf-line-endings", BASE_CSV.replace("\n", "\r\n")),
    Odd("trailing-delimiters", BASE_CSV.replace("\n", ",\n")),
    Odd("blank-lines", BASE_CSV.replace("\nP3", "\n\nP3") + "\n\n"),
    Odd("spaces-around-values", cell(1, "arm", "  A ", cell(1, "sex", " F")),
        check=lambda c: c.variable("arm").levels == ("A", "B")),
    Odd("formula-like-text", cell(1, "arm", "=1+1", cell(3, "arm", "@SUM(A1)")),
        check=lambda c: c.variable("arm").levels == ("=1+1", "@SUM(A1)", "A", "B")),
    Odd("quoted-numbers", cell(1, "age", '"34"')),
]


@pytest.mark.parametrize("odd", WORKS, ids=lambda odd: odd.id)
def test_odd_but_valid_input_works(cp, tmp_path, capsys, odd):
    project = cp.Project(tmp_path / "proj", toml=odd.toml, csv=odd.csv)
    result = cp.run_cli(["validate", project.config], capsys)
    assert result.code == 0, result.err
    assert result.error_lines == []
    cohort = project.cohort()
    assert cohort.n == 4
    assert cohort.data.columns[0] == "id"
    assert cohort.values("age").notna().all()
    if odd.check is not None:
        assert odd.check(cohort)


# --------------------------------------------------------------------------- one real build


WEIRD_CSV = ("\ufeff" + BASE_CSV.replace("\n", "\r\n")
             .replace("P1,A,", 'P1,"=1+1",').replace("P2,A,", 'P2,"=1+1",')
             .replace("P3,B,", 'P3,@SUM(A1),').replace("P4,B,", 'P4,"two\nlines",'))


@pytest.fixture(scope="module")
def weird_build(cp, tmp_path_factory):
    project = cp.Project(tmp_path_factory.mktemp("weird") / "proj", toml=BASE_TOML,
                         csv=WEIRD_CSV.encode())
    result = cp.run_cli(["build", project.config, "--output", project.out, "--quiet"])
    return project, result


def test_bom_crlf_newlines_and_formulas_build(weird_build, cp):
    project, result = weird_build
    assert result.code == 0, result.err
    text = cp.squeeze(cp.pdf_text(project.out / "report.pdf", "-raw"))
    for value in ("=1+1", "@SUM(A1)", "two lines"):
        assert cp.squeeze(value) in text, value


def test_formulas_are_neutralised_in_the_spreadsheet(weird_build):
    from openpyxl import load_workbook

    project, result = weird_build
    assert result.code == 0, result.err
    sheet = load_workbook(project.out / "tables" / "tables.xlsx")["overview"]
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    header = [c.value for c in sheet[2]]
    assert "'=1+1" in header and "'@SUM(A1)" in header
    assert "two\nlines" in header
    # The CSV export too: it opens in a spreadsheet at a double click.
    assert ",'=1+1," in (project.out / "tables" / "overview.csv").read_text()


def test_unreadable_cohort_file_even_as_root(cp, tmp_path, capsys, monkeypatch):
    """The chmod entry above is skipped for root; the same path, with the operating system's
    refusal simulated, is checked here whoever runs the tests."""
    import pandas as pd

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    project = cp.Project(tmp_path / "proj", toml=BASE_TOML, csv=BASE_CSV)
    monkeypatch.setattr(pd, "read_csv", refuse)
    result = cp.run_cli(["validate", project.config, "--quiet"], capsys)
    assert result.code == 2
    assert result.err_lines == [f"cohortpress: error: {project.root / 'cohort.csv'}: cannot "
                                f"read the cohort file (permission denied)"]
