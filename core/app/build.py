"""The build: config ▸ cohort ▸ analyses ▸ sections ▸ render, in that order.

The core runs every analysis itself: an exception becomes an error block in that section,
the rest of the report is built and the exit code is 1 (``strict`` makes it fatal). Every
output is written to a temporary folder first and moved into place only when all of them
are ready, so a failed or killed build never touches the previous report.
"""

from __future__ import annotations

import gc
import json
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

from cohortpress.config.schema import Config, SectionHead, load_config, validate_section_options
from cohortpress.data.conditions import section_subset
from cohortpress.common.errors import ConfigError, DataError, StatisticsError, UserError
from cohortpress.api.options import Options, _Reference
from cohortpress.api.blocks import BLOCK_TYPES, ErrorBlock, Table
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, Section, SectionContext
from cohortpress.app.plugins import Plugins, make_plugins
from cohortpress.common.progress import Progress

EXIT_OK, EXIT_SECTION_FAILED, EXIT_USER_ERROR = 0, 1, 2


class StrictFailure(UserError):
    """A section failed under ``--strict``: nothing is written and the exit code is 1.

    The exit codes are a contract (README, "Commands"): 1 means "a section failed (report
    still written, or nothing written under --strict)"; bad config or data is exit code 2.
    """

    exit_code = EXIT_SECTION_FAILED


# --------------------------------------------------------------------------- preparing


@dataclass(frozen=True)
class PlannedSection:
    index: int
    head: SectionHead
    analysis: Analysis
    options: Options


@dataclass
class Plan:
    """A validated config with its plugins and the analyses each section will run."""

    config: Config
    plugins: Plugins
    sections: list[PlannedSection]
    references: list[tuple[str, str, str]] = field(default_factory=list)  # (key, kind, name)


def plan_build(config_path: str | Path, *, plugins: Plugins | None = None) -> Plan:
    """Load the config and plugins, and validate every section's options."""
    config = load_config(config_path)
    _check_config_files(config)
    if plugins is None:
        plugins = make_plugins(config.plugins)
    planned = []
    references: list[tuple[str, str, str]] = []
    for index, head in enumerate(config.section):
        analysis = plugins.analysis(head.analysis)
        if analysis is None:
            import difflib

            close = difflib.get_close_matches(head.analysis, sorted(plugins.analyses), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else \
                f"; available: {', '.join(sorted(plugins.analyses))}"
            raise ConfigError(f"unknown analysis '{head.analysis}'{hint}"
                              f"{plugins.failed_plugin_hint()}",
                              file=str(config.source), key=f"section[{index}].analysis")
        options = validate_section_options(config, index, head, analysis.options)
        planned.append(PlannedSection(index, head, analysis, options))
        references += collect_references(options, f"section[{index}]")
        references += [(f"section[{index}].subset[{j}].variable", "variable", cond.variable)
                       for j, cond in enumerate(head.subset)]
    return Plan(config, plugins, planned, references)


def _check_config_files(config: Config) -> None:
    """Files and folders the config names must exist (the cohort is checked when loaded)."""
    for i, path in enumerate(config.plugins):
        if not path.is_file():
            what = "is a folder, not a plugin file" if path.is_dir() else "plugin file not found"
            raise ConfigError(f"{what}: {path}", file=str(config.source), key=f"plugins[{i}]")
    templates = config.report.templates
    if templates is not None and not templates.is_dir():
        raise ConfigError(f"template folder not found: {templates}", file=str(config.source),
                          key="report.templates")


def collect_references(value: Any, key: str) -> list[tuple[str, str, str]]:
    """Every (key path, kind, name) that an options model names in the cohort."""
    found: list[tuple[str, str, str]] = []
    if not isinstance(value, Options.__mro__[1]):  # pydantic BaseModel
        return found
    for name, info in type(value).model_fields.items():
        marker = next((m for m in info.metadata if isinstance(m, _Reference)), None) \
            or _marker_of(info.annotation)
        item = getattr(value, name)
        path = f"{key}.{name}"
        found += _references_in(item, path, marker)
    return found


def _references_in(item: Any, path: str, marker) -> list[tuple[str, str, str]]:
    from pydantic import BaseModel

    if item is None:
        return []
    if isinstance(item, BaseModel):
        return collect_references(item, path)
    if isinstance(item, (list, tuple)):
        out = []
        for i, sub in enumerate(item):
            out += _references_in(sub, f"{path}[{i}]", marker)
        return out
    if isinstance(item, dict):
        out = []
        for k, sub in item.items():
            out += _references_in(sub, f"{path}.{k}", None)
        return out
    if marker is not None and isinstance(item, str):
        return [(path, marker.kind, item)]
    return []


def _marker_of(annotation: Any):
    """The reference marker inside an annotation such as ``list[Variable]``."""
    import typing

    stack = [annotation]
    while stack:
        item = stack.pop()
        for meta in getattr(item, "__metadata__", ()):
            if isinstance(meta, _Reference):
                return meta
        stack.extend(typing.get_args(item))
    return None


def check_references(plan: Plan, available: Iterable[str]) -> None:
    """Every variable and endpoint a section names must exist: a ConfigError otherwise."""
    import difflib

    variables = set(available) | set(plan.config.derived)
    endpoints = set(plan.config.endpoints)
    for key, kind, name in plan.references:
        pool = variables if kind == "variable" else endpoints
        if name not in pool:
            close = difflib.get_close_matches(name, sorted(pool), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            where = "in the cohort or [derived]" if kind == "variable" else "in [endpoints]"
            raise ConfigError(f"unknown {kind} '{name}' (not {where}){hint}",
                              file=str(plan.config.source), key=key)


# --------------------------------------------------------------------------- loading


def load_cohort(plan: Plan, progress: Progress | None = None):
    """Read the cohort through the reader hook and type it (see :mod:`cohortpress.data.cohort`)."""
    from cohortpress.data.load import build_cohort, file_sha256, needed_columns
    from cohortpress.data.files import file_columns, guess_format

    progress = progress or Progress(quiet=True)
    config = plan.config
    path = config.cohort.path
    shown = _shown_path(path, config)
    if not path.exists():
        raise DataError("cohort file not found", file=shown, key="cohort.path")
    if path.is_dir():
        raise DataError("is a folder, not a cohort file", file=shown, key="cohort.path")
    started = time.perf_counter()
    fmt = guess_format(path, config.cohort.format)
    reader_options = {"sheet": config.cohort.sheet, "encoding": config.cohort.encoding,
                      "delimiter": config.cohort.delimiter}
    try:
        available = file_columns(path, fmt, reader_options) if fmt in \
            ("csv", "parquet", "excel", "spss", "stata") else None
    except UserError as exc:
        exc.file = shown
        raise
    except PermissionError:
        raise DataError("cannot read the cohort file (permission denied)", file=shown) from None
    wanted = needed_columns(config, [n for _, kind, n in plan.references if kind == "variable"])
    if available is not None:
        _check_columns(plan, wanted, available, shown)
        check_references(plan, available)
    raw = plan.plugins.hook.cohortpress_read_cohort(
        path=path, fmt=fmt, columns=sorted(wanted) if available is not None else None,
        options=reader_options)
    if raw is None:
        raise DataError(f"no reader for the format '{fmt}'", file=shown, key="cohort.format")
    if available is None:
        _check_columns(plan, wanted, list(raw.data.columns), shown)
        check_references(plan, list(raw.data.columns))
    digest = file_sha256(path)
    try:
        cohort = build_cohort(config, raw.data, file_labels=raw.labels, sha256=digest,
                              used=[n for _, k, n in plan.references if k == "variable"])
    except UserError as exc:
        if exc.file == str(path):
            exc.file = shown
        raise
    progress.timed(f"loaded {shown}: {cohort.n} patients, {len(raw.data.columns)} columns",
                   time.perf_counter() - started)
    return cohort


def _shown_path(path: Path, config: Config) -> str:
    """A path as short as it can be said: relative to the working folder when inside it."""
    try:
        relative = os.path.relpath(path, Path.cwd())
    except ValueError:  # another drive
        return str(path)
    return str(path) if relative.startswith("..") else relative


def _check_columns(plan: Plan, wanted: set[str], available: Sequence[str], shown: str) -> None:
    import difflib

    missing = sorted(set(wanted) - set(available))
    if not missing:
        return
    name = missing[0]
    key = _who_needs(plan, name)
    close = difflib.get_close_matches(name, list(available), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    if len(available) == 1 and not close:
        # One column whose name holds the others: the file uses another delimiter.
        seps = [sep for sep in (";", "\t", "|", ",") if sep in str(available[0])]
        if seps:
            hint = (f"; the file has a single column '{available[0][:60]}': set "
                    f"cohort.delimiter = {json.dumps(seps[0])}")
    raise DataError(f"column '{name}' not found in the cohort{hint}", file=shown, key=key)


def _who_needs(plan: Plan, column: str) -> str | None:
    config = plan.config
    for key, _, name in plan.references:
        if name == column:
            return key
    if column in config.variables:
        return f"variables.{column}"
    if column == config.cohort.id:
        return "cohort.id"
    if column == config.cohort.group:
        return "cohort.group"
    for ep_name, ep in config.endpoints.items():
        for attr in ("time", "event", "start", "last_contact"):
            if getattr(ep, attr) == column:
                return f"endpoints.{ep_name}.{attr}"
        for attr in ("events", "competing"):
            if column in getattr(ep, attr):
                return f"endpoints.{ep_name}.{attr}[{getattr(ep, attr).index(column)}]"
    for name, spec in config.derived.items():
        from cohortpress.data.derive import derived_sources

        if column in derived_sources(spec):
            return f"derived.{name}"
    for i, cond in enumerate(config.cohort.filter):
        if cond.variable == column:
            return f"cohort.filter[{i}].variable"
    return None


# --------------------------------------------------------------------------- running


class SectionTimeout(Exception):
    pass


def run_section(planned: PlannedSection, cohort, config: Config, timeout: float) -> Section:
    """Run one analysis; any failure becomes a section holding an error block."""
    head = planned.head
    title = head.title or planned.analysis.name.replace("_", " ").capitalize()
    context = SectionContext(id=head.id, title=title, p_digits=config.report.p_digits,
                             percent_digits=config.report.percent_digits,
                             config_dir=str(config.folder))
    try:
        if head.subset:
            cohort = section_subset(cohort, head.subset, head.id)
        section = _call_with_timeout(planned.analysis.run, (cohort, planned.options, context),
                                     timeout)
        section = _checked(section, planned.analysis.name)
    except SectionTimeout:
        return _failed(head.id, title, f"the analysis '{planned.analysis.name}' did not finish "
                       f"within {timeout:g} s (report.section_timeout)")
    except (UserError, StatisticsError) as exc:
        return _failed(head.id, title, f"{planned.analysis.name}: {_one_line(exc)}")
    except Exception as exc:
        return _failed(head.id, title, f"the analysis '{planned.analysis.name}' failed: "
                       f"{type(exc).__name__}: {_one_line(exc)}")
    results = tuple(replace(r, section=head.id) for r in section.results)
    return replace(section, id=head.id, title=title, results=results)


def _call_with_timeout(function, args, timeout: float):
    outcome: dict[str, Any] = {}

    def work():
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="analysis", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise SectionTimeout()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _checked(section: Any, name: str) -> Section:
    """Reject malformed output from a plugin with a clear message."""
    if not isinstance(section, Section):
        raise TypeError(f"returned {type(section).__name__}, not a Section")
    for block in section.blocks:
        if not isinstance(block, BLOCK_TYPES):
            raise TypeError(f"returned a block of type {type(block).__name__}")
        if isinstance(block, Table):
            for row in (*block.header, *block.body):
                for cell in row.cells:
                    if not isinstance(cell.text, str) or cell.text.strip().lower() in ("nan", "inf"):
                        raise ValueError(f"a table cell holds {cell.text!r}")
    for record in section.results:
        if not isinstance(record, Result):
            raise TypeError(f"returned a result of type {type(record).__name__}")
        if isinstance(record.stat, float) and math.isnan(record.stat) and \
                record.formatted not in (None, "", "\u2013", "NR", "not reached"):
            raise ValueError(f"result '{record.stat_name}' is NaN but printed as "
                             f"{record.formatted!r}")
    return section


def _failed(section_id: str, title: str, message: str) -> Section:
    return Section(id=section_id, title=title, blocks=(ErrorBlock(message),), failed=True)


def _one_line(exc: BaseException) -> str:
    text = exc.one_line() if isinstance(exc, UserError) else str(exc)
    return " ".join(text.split()) or type(exc).__name__


# --------------------------------------------------------------------------- the build


@dataclass
class BuildOutcome:
    exit_code: int
    output: Path
    sections: list[Section]
    files: list[str]


def build(config_path: str | Path, output: str | Path | None = None, *, strict: bool = False,
          progress: Progress | None = None, plugins: Plugins | None = None,
          pdf_worker: bool | None = None) -> BuildOutcome:
    """Build the report; raises UserError for bad config or data (exit code 2).

    ``pdf_worker``: render the PDF in a second process started now, so that WeasyPrint
    loads while the analyses run (see :mod:`cohortpress.render.pdfworker`). The default, None,
    does so unless WeasyPrint is already loaded in this process (a notebook or a test
    session that rendered before), where rendering here is as quick.
    """
    progress = progress or Progress()
    started = time.perf_counter()
    plan = plan_build(config_path, plugins=plugins)
    config = plan.config
    out_dir = Path(output) if output else config.folder / "report"
    progress.say(f"config {_shown_path(config.source, config)}: {len(plan.sections)} sections, "
                 f"{len(plan.plugins.infos)} plugins")
    for error in plan.plugins.load_errors:
        progress.say(f"warning: plugin '{error.name}' failed to load: {error.message}")
    from cohortpress.render.pdfworker import PdfWorker

    if pdf_worker is None:
        pdf_worker = "weasyprint" not in sys.modules
    # The PDF renderer gets ready in a second process while the cohort is read and analysed.
    worker = PdfWorker.start(config.report.language) \
        if pdf_worker and _builtin_pdf_renderer(plan) else None
    try:
        return _build(plan, out_dir, strict, progress, started, worker)
    finally:
        if worker is not None:
            worker.close()


def _builtin_pdf_renderer(plan: Plan) -> bool:
    """True when the built-in renderer is the only ``cohortpress_render_pdf``."""
    impls = plan.plugins.hook.cohortpress_render_pdf.get_hookimpls()
    return [impl.plugin_name for impl in impls] == ["cohortpress.plugins.pdf"]


def _build(plan: Plan, out_dir: Path, strict: bool, progress: Progress, started: float,
           pdf_worker) -> BuildOutcome:
    cohort = load_cohort(plan, progress)
    # The modules and the cohort live as long as the build: the garbage collector need not
    # walk them again during every analysis (a tenth of a small report's time). Unfrozen
    # at the end, so that a process building many reports collects as usual.
    # (A caller that froze objects itself, such as a server before forking, keeps them so.)
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        return _run_and_write(plan, cohort, out_dir, strict, progress, started, pdf_worker)
    finally:
        if freeze:
            gc.unfreeze()


def _run_and_write(plan: Plan, cohort, out_dir: Path, strict: bool, progress: Progress,
                   started: float, pdf_worker) -> BuildOutcome:
    from cohortpress.render.write import write_outputs

    config = plan.config
    sections = []
    total = len(plan.sections)
    for n, planned in enumerate(plan.sections, 1):
        t0 = time.perf_counter()
        section = run_section(planned, cohort, config, config.report.section_timeout)
        state = "FAILED" if section.failed else "ok"
        progress.timed(f"[{n}/{total}] {planned.head.id} ({planned.analysis.name}) {state}",
                       time.perf_counter() - t0)
        if section.failed:
            progress.say(f"  {section.blocks[0].message}")
            if strict:
                raise StrictFailure(f"section '{planned.head.id}' failed (--strict): "
                                f"{section.blocks[0].message}", file=str(config.source))
        sections.append(section)
    sections = _process_sections(plan, sections)
    files = write_outputs(plan, cohort, sections, out_dir, progress, pdf_worker)
    failed = [s for s in sections if s.failed]
    progress.timed(f"wrote {_shown_path(out_dir, config)}{os.sep}: {', '.join(files[:4])}"
                   f"{' …' if len(files) > 4 else ''}", time.perf_counter() - started)
    code = EXIT_SECTION_FAILED if failed else EXIT_OK
    return BuildOutcome(code, out_dir, sections, files)


def _process_sections(plan: Plan, sections: list[Section]) -> list[Section]:
    caller = plan.plugins.hook.cohortpress_process_sections
    for impl in reversed(caller.get_hookimpls()):  # pluggy calls the last registered first
        offered = {"sections": tuple(sections), "config": plan.config}
        try:
            changed = impl.function(**{k: v for k, v in offered.items() if k in impl.argnames})
        except Exception as exc:
            raise UserError(f"plugin '{impl.plugin_name}' failed in cohortpress_process_sections:"
                            f" {type(exc).__name__}: {_one_line(exc)}") from None
        if changed is not None:
            sections = [_checked(s, impl.plugin_name) for s in changed]
    return sections


def validate(config_path: str | Path, progress: Progress | None = None):
    """Check the config and the data as a build would, without running analyses."""
    progress = progress or Progress()
    plan = plan_build(config_path)
    cohort = load_cohort(plan, progress)
    for error in plan.plugins.load_errors:
        progress.say(f"warning: plugin '{error.name}' failed to load: {error.message}")
    for planned in plan.sections:
        if planned.analysis.check is None:
            continue
        for problem in planned.analysis.check(cohort, planned.options):
            progress.say(f"warning: section '{planned.head.id}': {problem}")
    return plan, cohort
