"""Helpers for testing cohortpress plugins.

Everything a plugin's test suite needs, without data of its own:

* a small **synthetic** demo cohort shipped with the package (:func:`demo_cohort_path`,
  :func:`demo_config_path`, :func:`load_demo_cohort`): 120 made-up patients in two arms,
  with age, sex, a stage coded I–IV with ``9`` for "unknown", a continuous biomarker
  (``ldh``, with a few missing values) and an overall-survival endpoint ``os`` built from
  start, death and last-contact dates. The values were drawn from a seeded random generator
  (``tools/make_demo_cohort.py`` in the source tree); they describe no real patients;
* :func:`run_analysis`: validate options and run one analysis exactly as a build would,
  without rendering, and get its :class:`~cohortpress.Section`;
* :func:`build_report`: write a config into a temporary folder and run the real build,
  getting the exit code, the results records and the PDF's text back;
* :func:`read_results`: read a ``results.json`` and check it keeps the contract;
* :func:`assert_section_renders`: render a section's blocks through the real Jinja
  templates and check for template errors and unescaped text;
* :func:`r_values`: numbers from an R fixture written by ``jsonlite`` (``NA``, ``NaN`` and
  ``Inf`` arrive as strings), for checking a statistic against R.

A test of an analysis, end to end::

    from cohortpress.testing import build_report, run_analysis

    def test_summary(tmp_path):
        section = run_analysis("my_summary", {"variable": "age"})
        assert section.results

        built = build_report([{"id": "s", "analysis": "my_summary", "variable": "age"}],
                             tmp_path)
        assert built.exit_code == 0
        assert built.results(section="s", stat_name="mean")
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence, Union

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from cohortpress.data.cohort import Cohort
    from cohortpress.api.options import Options
    from cohortpress.api.sections import Analysis, Section

__all__ = [
    "demo_cohort_path",
    "demo_config_path",
    "load_demo_cohort",
    "run_analysis",
    "build_report",
    "BuiltReport",
    "read_results",
    "assert_section_renders",
    "dump_toml",
    "r_values",
    "RESULT_FIELDS",
]

DEMO_COHORT = "demo_cohort.csv"
DEMO_CONFIG = "demo_report.toml"

#: The fields of a results record, in the order of the results-file contract.
RESULT_FIELDS = ("section", "context", "variable", "variable_level", "group", "group_level",
                 "stat_name", "stat", "formatted")


#: How jsonlite writes R's special values (as strings, where JSON has no number for them).
R_SPECIAL_VALUES = {"NA": math.nan, "NaN": math.nan, "Inf": math.inf, "-Inf": -math.inf}


def r_values(value) -> "np.ndarray":
    """A number, or a (nested) list of numbers, written by R's ``jsonlite``, as a float array.

    ``"NA"``, ``"NaN"``, ``"Inf"`` and ``"-Inf"`` become ``nan`` and infinities; a scalar
    becomes a one-element array.
    """
    import numpy as np

    def convert(item):
        if isinstance(item, list):
            return [convert(x) for x in item]
        return R_SPECIAL_VALUES.get(item, item) if isinstance(item, str) else item

    return np.atleast_1d(np.array(convert(value), dtype=float))


# --------------------------------------------------------------------------- the demo cohort


def _data_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("cohortpress.testing") / "demo"))


def demo_cohort_path() -> Path:
    """The shipped demo cohort, a CSV file of synthetic patients.

    Columns: ``id``; ``arm`` (``A``/``B``, shown as Standard/Experimental); ``age`` (years);
    ``sex`` (``F``/``M``); ``stage`` (``I``–``IV``, ``9`` = unknown); ``ldh`` (lactate
    dehydrogenase in U/L, empty when missing); ``start_date``, ``death_date`` (empty when
    alive) and ``last_contact`` (ISO dates).

    Returns
    -------
    Path
        The file inside the installed package. Read it, copy it; do not write beside it.
    """
    return _data_dir() / DEMO_COHORT


def demo_config_path() -> Path:
    """The demo config: the demo cohort with its variable metadata and the endpoint ``os``.

    It declares ``[variables]`` for every column (labels, levels, the missing code ``9`` of
    ``stage``, units), ``cohort.group = "arm"`` and ``[endpoints.os]``, with one
    ``overview`` section. :func:`build_report` starts from it.

    Returns
    -------
    Path
        The file inside the installed package. Building it in place would write the report
        into the package: use :func:`build_report`, which copies it into a temporary folder.
    """
    return _data_dir() / DEMO_CONFIG


def load_demo_cohort(config: str | os.PathLike[str] | None = None) -> "Cohort":
    """Load the demo cohort as the typed :class:`~cohortpress.data.cohort.Cohort` analyses receive.

    The cohort is read through the reader hook and typed from the config exactly as a build
    does: categorical columns become ordered ``pandas.Categorical`` of their display labels
    (``cohort.values("arm")`` holds ``"Standard"`` and ``"Experimental"``), the missing code
    of ``stage`` becomes NA, and ``cohort.endpoint("os")`` holds times in years.

    Parameters
    ----------
    config : path, optional
        Another config whose cohort to load instead (its sections' analyses must be
        available; only the columns it declares or uses are read).

    Returns
    -------
    Cohort
        A new object on every call: an analysis that changes it cannot affect another test.
    """
    from cohortpress.app.build import Plan, load_cohort, plan_build
    from cohortpress.config.schema import load_config
    from cohortpress.app.plugins import make_plugins

    if config is None:
        # The demo needs nothing but the built-in reader: do not depend on what is installed.
        plan = Plan(load_config(demo_config_path()), make_plugins(entry_points=False), [])
    else:
        plan = plan_build(config)
    return load_cohort(plan)


# --------------------------------------------------------------------------- one analysis


def run_analysis(analysis: "Analysis | str", options: "Mapping[str, Any] | Options | None" = None,
                 cohort: "Cohort | None" = None, *, section_id: str = "test",
                 title: str | None = None, plugin_files: Iterable[str | os.PathLike[str]] = (),
                 p_digits: int = 3, percent_digits: int = 0) -> "Section":
    """Validate ``options`` and run one analysis as a build would, without rendering.

    The options are validated with the analysis's :class:`~cohortpress.Options` model
    (unknown keys, wrong types), every option typed ``Variable`` or ``EndpointName`` is
    checked against the cohort, the analysis runs with a
    :class:`~cohortpress.SectionContext`, and its output is checked the way the build
    checks it (a :class:`~cohortpress.Section` of known block types, no ``nan`` in a
    cell, no NaN printed as a number). Unlike a build, an exception from the analysis is
    not turned into an error block: it propagates, with its traceback, to the test.

    Parameters
    ----------
    analysis : Analysis or str
        The analysis itself (``cohortpress_forest.ANALYSIS``), or its name: then it is looked
        up among the built-in plugins, the installed ones (entry points) and ``plugin_files``.
    options : mapping or Options, optional
        The section's keys other than ``id``, ``analysis`` and ``title``, as in the config.
    cohort : Cohort, optional
        The cohort to analyse; by default :func:`load_demo_cohort`.
    section_id, title : str
        The section's id and title as the analysis sees them in its context.
    plugin_files : iterable of path
        Plugin files to load when ``analysis`` is a name (as the config's ``plugins``).
    p_digits, percent_digits : int
        The report settings the context carries (``report.p_digits``, ``percent_digits``).

    Returns
    -------
    Section
        With ``id`` and ``title`` set and ``section`` filled in every results record.

    Raises
    ------
    LookupError
        No analysis has that name (the message lists the available ones and load errors).
    cohortpress.common.errors.ConfigError
        The options are invalid, or name a variable or endpoint the cohort does not have.
    AssertionError
        The analysis returned something the build would reject.
    """
    from pydantic import BaseModel, ValidationError

    from cohortpress.app.build import collect_references
    from cohortpress.config.schema import config_error
    from cohortpress.common.errors import ConfigError
    from cohortpress.api.sections import Analysis, SectionContext

    analysis = _resolve_analysis(analysis, plugin_files)
    if not isinstance(analysis, Analysis):
        raise TypeError(f"expected an Analysis or its name, got {type(analysis).__name__}")
    if isinstance(options, analysis.options):
        validated = options
    else:
        raw = dict(options.model_dump() if isinstance(options, BaseModel) else options or {})
        try:
            validated = analysis.options.model_validate(raw)
        except ValidationError as exc:
            raise config_error(exc, Path("options"), raw, model=analysis.options) from None
    cohort = load_demo_cohort() if cohort is None else cohort
    for key, kind, name in collect_references(validated, ""):
        pool = cohort.variables if kind == "variable" else cohort.endpoints
        if name not in pool:
            import difflib

            close = difflib.get_close_matches(name, [str(k) for k in pool], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"unknown {kind} '{name}' (not in the cohort){hint}",
                              file="options", key=key.lstrip("."))
    shown_title = title if title is not None else analysis.name.replace("_", " ").capitalize()
    context = SectionContext(id=section_id, title=shown_title, p_digits=p_digits,
                             percent_digits=percent_digits, config_dir=str(Path.cwd()))
    section = analysis.run(cohort, validated, context)
    section = _check_section(section, analysis.name)
    results = tuple(dataclasses.replace(r, section=section_id) for r in section.results)
    return dataclasses.replace(section, id=section_id, title=shown_title, results=results)


def _resolve_analysis(analysis: Any, plugin_files: Iterable[str | os.PathLike[str]]):
    if not isinstance(analysis, str):
        return analysis
    from cohortpress.app.plugins import make_plugins

    plugins = make_plugins([Path(p) for p in plugin_files])
    found = plugins.analysis(analysis)
    if found is None:
        errors = "; ".join(f"{e.name}: {e.message}" for e in plugins.load_errors)
        raise LookupError(f"no analysis named '{analysis}'; available: "
                          f"{', '.join(sorted(plugins.analyses)) or 'none'}"
                          + (f"; plugins that failed to load: {errors}" if errors else ""))
    return found


def _check_section(section: Any, name: str) -> "Section":
    """The build's own checks of an analysis's output, as an AssertionError."""
    from cohortpress.app.build import _checked

    try:
        return _checked(section, name)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"the analysis '{name}' returned something the build rejects: "
                             f"{exc}") from None


# --------------------------------------------------------------------------- a whole build


@dataclass(frozen=True)
class BuiltReport:
    """What :func:`build_report` built: where, how it ended, and ways to read it back.

    Attributes
    ----------
    config : Path
        The config file that was built (inside the temporary folder).
    output : Path
        The output folder (``report.pdf``, ``report.html``, ``results.json``, ``tables/``).
    exit_code : int
        What ``cohortpress build`` would exit with: 0 success; 1 a section failed (the report
        is still written, or nothing is under ``strict``); 2 bad config or data (nothing
        is written).
    error : str or None
        When nothing was written (bad config or data, exit code 2; a section failing under
        ``strict``, exit code 1), the one line the command line prints, without
        ``cohortpress: error:``.
    log : str
        The progress lines the build printed.
    sections : tuple of Section
        The sections as rendered (after ``cohortpress_process_sections``); empty when
        nothing was written.
    """

    config: Path
    output: Path
    exit_code: int
    error: str | None
    log: str
    sections: tuple["Section", ...] = ()

    @property
    def pdf(self) -> Path:
        """``report.pdf`` in the output folder."""
        return self.output / "report.pdf"

    @property
    def html(self) -> Path:
        """``report.html`` in the output folder (written unless ``report.exports`` omits it)."""
        return self.output / "report.html"

    @property
    def results_file(self) -> Path:
        """``results.json`` in the output folder."""
        return self.output / "results.json"

    def results(self, **where: Any) -> list[dict[str, Any]]:
        """The records of ``results.json``, optionally only those whose fields equal ``where``.

        Parameters
        ----------
        **where
            Field values to match, e.g. ``section="forest", stat_name="hr"``;
            ``group=None`` matches the overall records.

        Returns
        -------
        list of dict
            Records with the contract's fields (:data:`RESULT_FIELDS`).
        """
        unknown = set(where) - set(RESULT_FIELDS)
        if unknown:
            raise TypeError(f"unknown record field(s) {sorted(unknown)}; fields: "
                            f"{', '.join(RESULT_FIELDS)}")
        self._require(self.results_file)
        return [r for r in read_results(self.results_file)
                if all(r[k] == v for k, v in where.items())]

    def section(self, section_id: str) -> "Section":
        """The built section with this id."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(f"no section '{section_id}'; sections: "
                       f"{', '.join(s.id for s in self.sections) or 'none'}")

    def table(self, stem: str) -> list[list[str]]:
        """The rows of ``tables/<stem>.csv`` (caption first, footnotes last), as text."""
        import csv

        path = self.output / "tables" / f"{stem}.csv"
        self._require(path)
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.reader(handle))

    def html_text(self) -> str:
        """The report's HTML."""
        self._require(self.html)
        return self.html.read_text(encoding="utf-8")

    def pdf_text(self) -> str:
        """The PDF's text, as ``pdftotext`` (poppler-utils) reads it back.

        Table cells come out one per line, in reading order. When ``pdftotext`` is not
        installed the calling test is skipped (under pytest) or a RuntimeError is raised.
        """
        self._require(self.pdf)
        tool = shutil.which("pdftotext")
        if tool is None:
            message = "pdftotext is not installed (Debian/Ubuntu: apt-get install poppler-utils)"
            if "pytest" in sys.modules:
                import pytest

                pytest.skip(message)
            raise RuntimeError(message)
        done = subprocess.run([tool, "-enc", "UTF-8", str(self.pdf), "-"], capture_output=True,
                              check=True, timeout=60)
        return done.stdout.decode("utf-8")

    def _require(self, path: Path) -> None:
        if not path.exists():
            why = f" (the build exited with {self.exit_code}: {self.error})" if self.error \
                else f" (the build exited with {self.exit_code})"
            raise FileNotFoundError(f"{path} was not written{why}")


ConfigLike = Union[Sequence[Mapping[str, Any]], Mapping[str, Any], str, "os.PathLike[str]"]


def build_report(config_or_sections: ConfigLike, tmp_path: str | os.PathLike[str], *,
                 plugins: Iterable[str | os.PathLike[str]] = (),
                 report: Mapping[str, Any] | None = None,
                 variables: Mapping[str, Mapping[str, Any]] | None = None,
                 endpoints: Mapping[str, Mapping[str, Any]] | None = None,
                 derived: Mapping[str, Mapping[str, Any]] | None = None,
                 strict: bool = False) -> BuiltReport:
    """Write a config into ``tmp_path`` and run the real build on it.

    Parameters
    ----------
    config_or_sections : sequence of mappings, mapping, or path
        * a list of ``[[section]]`` tables (each with ``id``, ``analysis`` and its options)
          or a single one: they replace the sections of the demo config, built on the demo
          cohort (copied into ``tmp_path``);
        * a mapping: a whole config as TOML would parse it; ``report``, ``cohort``,
          ``variables`` and ``endpoints`` missing from it come from the demo config;
        * the path of a config file: it is copied into ``tmp_path`` with its relative paths
          (cohort, plugins, templates, stylesheets) resolved against its own folder.
    tmp_path : path
        A folder for the config and the output (pytest's ``tmp_path`` fixture).
    plugins : iterable of path
        Plugin files to add to the config's ``plugins`` list (they are not copied, so a
        template folder beside them is found). Installed plugins load as usual.
    report, variables, endpoints, derived : mapping, optional
        Entries merged into the config's ``[report]``, ``[variables]``, ``[endpoints]`` and
        ``[derived]`` tables. Unless ``report`` says otherwise the exports are limited to
        ``["csv", "html"]``: building the Excel and Word tables costs time and tests little.
    strict : bool
        Build as ``cohortpress build --strict`` does.

    Returns
    -------
    BuiltReport
        The paths, exit code, progress log and sections, with :meth:`BuiltReport.results`
        and :meth:`BuiltReport.pdf_text` to read the outputs back.
    """
    from cohortpress.app.build import Progress, build
    from cohortpress.common.errors import UserError

    folder = Path(tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    document = _config_document(config_or_sections, folder)
    for key, extra in (("report", report), ("variables", variables), ("endpoints", endpoints),
                       ("derived", derived)):
        if extra:
            merged = dict(document.get(key, {}))
            merged.update(extra)
            document[key] = merged
    if not report or "exports" not in report:
        document.setdefault("report", {})
        document["report"] = {**document["report"], "exports": ["csv", "html"]}
    if plugins:
        document["plugins"] = [*document.get("plugins", []),
                               *(str(Path(p).resolve()) for p in plugins)]
    config_path = folder / "report.toml"
    config_path.write_text(dump_toml(document), encoding="utf-8")
    output = folder / "report"
    stream = io.StringIO()
    try:
        outcome = build(config_path, output, strict=strict, progress=Progress(stream=stream))
    except UserError as exc:  # as the command line: 2, or 1 for a section failing --strict
        return BuiltReport(config_path, output, getattr(exc, "exit_code", 2), exc.one_line(),
                           stream.getvalue())
    return BuiltReport(config_path, outcome.output, outcome.exit_code, None, stream.getvalue(),
                       tuple(outcome.sections))


def _demo_document(folder: Path) -> dict[str, Any]:
    """The demo config as a dict, its cohort copied into ``folder``."""
    shutil.copyfile(demo_cohort_path(), folder / DEMO_COHORT)
    document = tomllib.loads(demo_config_path().read_text(encoding="utf-8"))
    document["cohort"]["path"] = DEMO_COHORT
    return document


def _config_document(given: Any, folder: Path) -> dict[str, Any]:
    if isinstance(given, (str, os.PathLike)):
        return _copied_config(Path(given))
    if isinstance(given, Mapping) and "analysis" not in given:
        document = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in given.items()}
        if "cohort" not in document:  # the demo cohort, with its metadata unless given
            demo = _demo_document(folder)
            for key in ("report", "cohort", "variables", "endpoints"):
                document.setdefault(key, demo[key])
        elif "report" not in document:
            document["report"] = {"title": "Test report"}
        return document
    sections = [given] if isinstance(given, Mapping) else list(given)
    if not all(isinstance(s, Mapping) for s in sections):
        raise TypeError("expected a config path, a config mapping, or [[section]] mappings")
    document = _demo_document(folder)
    document["section"] = [dict(s) for s in sections]
    return document


def _copied_config(path: Path) -> dict[str, Any]:
    """A config file's contents with its relative paths made absolute."""
    source = path.resolve()
    document = tomllib.loads(source.read_text(encoding="utf-8"))
    base = source.parent

    def absolute(value: Any) -> Any:
        return value if value is None or Path(value).is_absolute() else str(base / value)

    if "cohort" in document and "path" in document["cohort"]:
        document["cohort"]["path"] = absolute(document["cohort"]["path"])
    if "plugins" in document:
        document["plugins"] = [absolute(p) for p in document["plugins"]]
    for key in ("templates",):
        if document.get("report", {}).get(key):
            document["report"][key] = absolute(document["report"][key])
    if document.get("report", {}).get("css"):
        document["report"]["css"] = [absolute(p) for p in document["report"]["css"]]
    if document.get("published"):
        document["published"] = absolute(document["published"])
    return document


# --------------------------------------------------------------------------- results.json


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read the records of a ``results.json``, checking the results-file contract.

    Parameters
    ----------
    path : path
        The ``results.json`` file, or the output folder holding it.

    Returns
    -------
    list of dict
        Every record, each with exactly the fields :data:`RESULT_FIELDS`.

    Raises
    ------
    AssertionError
        The file breaks the contract: a missing ``report`` part (title, generated_with,
        cohort source, sha256 and n_rows), a record with missing or extra fields, a record
        without ``section``, ``context`` or ``stat_name``, or a non-finite number.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    # JSON has no NaN: the contract writes non-finite numbers as null.
    document = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    assert isinstance(document, dict) and set(document) >= {"report", "results"}, \
        f"{path}: needs 'report' and 'results'"
    report = document["report"]
    for key in ("title", "generated_with", "cohort"):
        assert key in report, f"{path}: report.{key} is missing"
    for key in ("source", "sha256", "n_rows"):
        assert key in report["cohort"], f"{path}: report.cohort.{key} is missing"
    records = document["results"]
    assert isinstance(records, list), f"{path}: 'results' is not a list"
    for i, record in enumerate(records):
        assert isinstance(record, dict) and set(record) == set(RESULT_FIELDS), \
            f"{path}: results[{i}] has fields {sorted(record)}, expected {list(RESULT_FIELDS)}"
        for key in ("section", "context", "stat_name"):
            assert isinstance(record[key], str) and record[key], \
                f"{path}: results[{i}].{key} must be a non-empty string"
    return records


def _reject_constant(name: str):
    raise AssertionError(f"results.json holds {name}; non-finite numbers must be null")


# --------------------------------------------------------------------------- rendering


_SECTION_TEMPLATE = """\
{% for numbered in view.blocks %}
{% include "blocks/" ~ numbered.kind ~ ".html.j2" %}
{% endfor %}
"""

_VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                            "meta", "source", "track", "wbr"})


def assert_section_renders(section: "Section", *,
                           template_dirs: Iterable[str | os.PathLike[str]] = (),
                           plugin_files: Iterable[str | os.PathLike[str]] = (),
                           entry_points: bool = True, check_text: bool = True) -> str:
    """Render a section's blocks through the real Jinja templates and check the HTML.

    Each block is rendered with ``blocks/<kind>.html.j2`` from the same environment a build
    uses (sandboxed, autoescaping, ``StrictUndefined``; the template folders of
    ``template_dirs``, then of the plugins, then the built-in ones; filters added by
    ``cohortpress_prepare_jinja_env``).

    Checks: the build accepts the section; no cell reads ``None``; every template exists and
    renders; every text of the blocks (captions, cells, footnotes, paragraphs, alt text)
    appears in the HTML escaped, and none that holds markup characters appears raw; figures
    hold PNG data; the HTML's tags are balanced.

    Parameters
    ----------
    section : Section
        What an analysis returned (e.g. from :func:`run_analysis`).
    template_dirs : iterable of path
        Template folders searched first, such as your plugin's own ``templates`` folder when
        it is not installed.
    plugin_files : iterable of path
        Plugin files whose template folders and Jinja hooks to use.
    entry_points : bool
        Also use the installed plugins' template folders and Jinja hooks, as a build does.
    check_text : bool
        Check that every text appears in the HTML. Turn off for a template that leaves some
        text out on purpose; the check that nothing appears unescaped stays.

    Returns
    -------
    str
        The rendered HTML of the blocks.

    Raises
    ------
    AssertionError
        With what is wrong and the block it is in.
    """
    import jinja2
    from markupsafe import escape

    from cohortpress.api.blocks import ErrorBlock, Figure, Paragraph, Table
    from cohortpress.app.plugins import make_plugins
    from cohortpress.render.jinja import make_environment, number_blocks

    section = _check_section(section, section.id if hasattr(section, "id") else "section")
    plugins = make_plugins([Path(p) for p in plugin_files], entry_points=entry_points)
    dirs = [Path(d) for d in template_dirs]
    dirs += [Path(d) for found in plugins.hook.cohortpress_template_dirs() for d in found or ()]
    env = make_environment(None, dirs)
    plugins.hook.cohortpress_prepare_jinja_env(env=env)
    view = number_blocks([section])[0]

    texts: list[tuple[str, str]] = []  # (where, text)
    for i, block in enumerate(section.blocks):
        where = f"block {i} ({block.kind})"
        if isinstance(block, Table):
            texts.append((f"{where} caption", block.caption))
            for part, rows in (("header", block.header), ("body", block.body)):
                for r, row in enumerate(rows):
                    for c, cell in enumerate(row.cells):
                        at = f"{where} {part} row {r} cell {c}"
                        if cell.text.strip() == "None":
                            raise AssertionError(f"{at} reads 'None' (format a missing value "
                                                 f"as '' or an en dash)")
                        texts.append((at, cell.text))
                        texts += [(f"{at} mark", m) for m in cell.marks]
            for n, note in enumerate(block.footnotes):
                texts.append((f"{where} footnote {n}", note.text))
        elif isinstance(block, Figure):
            if not bytes(block.png[:8]) == b"\x89PNG\r\n\x1a\n":
                raise AssertionError(f"{where}: png does not hold PNG data")
            texts += [(f"{where} caption", block.caption), (f"{where} alt", block.alt)]
        elif isinstance(block, Paragraph):
            texts.append((where, block.text))
        elif isinstance(block, ErrorBlock):
            texts.append((where, block.message))

    rendered = []
    for numbered in view.blocks:
        one = type(view)(view.section, (numbered,))
        try:
            html = env.from_string(_SECTION_TEMPLATE).render(view=one, section=section)
        except jinja2.TemplateNotFound as exc:
            raise AssertionError(f"no template for a '{numbered.kind}' block: {exc.name}") \
                from None
        except jinja2.TemplateError as exc:
            raise AssertionError(f"the template of a '{numbered.kind}' block failed: "
                                 f"{type(exc).__name__}: {exc}") from None
        rendered.append(html)
    html = "".join(rendered)

    for where, text in texts:
        if not text:
            continue
        escaped = str(escape(text))
        if escaped != text and text in html:
            raise AssertionError(f"{where}: {text!r} appears unescaped in the HTML")
        if check_text and escaped not in html:
            raise AssertionError(f"{where}: {text!r} does not appear in the HTML")
    problem = _unbalanced_tags(html)
    if problem:
        raise AssertionError(f"the HTML of section '{section.id}' is malformed: {problem}")
    return html


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag not in _VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in _VOID_ELEMENTS or self.problem:
            return
        if not self.stack or self.stack[-1] != tag:
            opened = self.stack[-1] if self.stack else "nothing"
            self.problem = f"</{tag}> closes {'<' + opened + '>' if self.stack else opened}"
        else:
            self.stack.pop()


def _unbalanced_tags(html: str) -> str | None:
    checker = _TagChecker()
    checker.feed(html)
    checker.close()
    if checker.problem:
        return checker.problem
    if checker.stack:
        return f"<{checker.stack[-1]}> is never closed"
    return None


# --------------------------------------------------------------------------- TOML


def dump_toml(document: Mapping[str, Any]) -> str:
    """Write a config mapping as TOML (the subset configs use: tables, arrays of tables,
    strings, numbers, booleans, lists and inline tables).

    Parameters
    ----------
    document : mapping
        As :func:`tomllib.loads` would return it; ``Path`` values are written as strings.

    Returns
    -------
    str
        TOML text that :func:`tomllib.loads` reads back to ``document``.
    """
    lines: list[str] = []
    _toml_table(lines, (), document)
    return "\n".join(lines).lstrip("\n") + "\n"


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(_is_table(v) for v in value)


def _toml_table(lines: list[str], prefix: tuple[str, ...], table: Mapping[str, Any]) -> None:
    for key, value in table.items():
        if not _is_table(value) and not _is_table_array(value):
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in table.items():
        path = (*prefix, str(key))
        if _is_table(value):
            scalars = any(not _is_table(v) and not _is_table_array(v) for v in value.values())
            if scalars or not value:
                lines += ["", f"[{'.'.join(_toml_key(p) for p in path)}]"]
            _toml_table(lines, path, value)
        elif _is_table_array(value):
            for item in value:
                lines += ["", f"[[{'.'.join(_toml_key(p) for p in path)}]]"]
                for k, v in item.items():
                    lines.append(f"{_toml_key(k)} = {_toml_value(v)}")


def _toml_key(key: Any) -> str:
    text = str(key)
    if text and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in text):
        return text
    return json.dumps(text, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML configs cannot hold {value}")
        return repr(value)
    if isinstance(value, (str, os.PathLike)):
        text = Path(value).as_posix() if isinstance(value, os.PathLike) else value
        return json.dumps(text, ensure_ascii=False)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write a {type(value).__name__} in a TOML config")
