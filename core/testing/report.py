"""A whole build from a test: write a config into a folder, build it, read the outputs back."""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence, Union

import tomli_w

from cohortpress.testing.demo import DEMO_COHORT, demo_cohort_path, demo_config_path
from cohortpress.testing.results import RESULT_FIELDS, read_results

if TYPE_CHECKING:  # pragma: no cover
    from cohortpress.api.sections import Section


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
    from cohortpress.app.build import build
    from cohortpress.common.errors import UserError
    from cohortpress.common.progress import Progress

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


# --------------------------------------------------------------------------- TOML


def dump_toml(document: Mapping[str, Any]) -> str:
    """Write a config mapping as TOML, with ``tomli_w``.

    Parameters
    ----------
    document : mapping
        As :func:`tomllib.loads` would return it; ``Path`` values are written as strings
        (with forward slashes), tuples as arrays.

    Returns
    -------
    str
        TOML text that :func:`tomllib.loads` reads back to ``document``.

    Raises
    ------
    ValueError
        A float that is not finite: TOML could write it, but no config key takes one.
    """
    return tomli_w.dumps(_plain(document))


def _plain(value: Any) -> Any:
    """``value`` with the types ``tomli_w`` does not take turned into those it does."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return Path(value).as_posix()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"TOML configs cannot hold {value}")
    return value
