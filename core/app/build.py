"""The build: config ▸ cohort ▸ analyses ▸ sections ▸ render, in one direction.

The core runs every analysis itself: an exception becomes an error block in that section,
the rest of the report is built and the exit code is 1 (``strict`` makes it fatal). Every
output is written to a temporary folder first and moved into place only when all of them
are ready, so a failed or killed build never touches the previous report.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cohortpress.api.sections import Section
from cohortpress.app.load import load_cohort, shown_path
from cohortpress.app.plan import Plan, check_sections, declared_level_warnings, plan_build
from cohortpress.app.plugins import Plugins
from cohortpress.app.run import SectionRunner, checked, one_line
from cohortpress.common.errors import UserError
from cohortpress.common.progress import Progress

EXIT_OK, EXIT_SECTION_FAILED, EXIT_USER_ERROR = 0, 1, 2


class StrictFailure(UserError):
    """A section failed under ``--strict``: nothing is written and the exit code is 1.

    DESIGN section 6: exit code 1 means "a section failed (report still written, or nothing
    written under --strict)"; bad config or data (exit code 2) is a different thing.
    """

    exit_code = EXIT_SECTION_FAILED


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
    check_config_file(config_path)
    plan = plan_build(config_path, plugins=plugins)
    config = plan.config
    out_dir = Path(output) if output else config.folder / "report"
    from cohortpress.render.write import check_output_folder

    check_output_folder(out_dir)  # before the analyses run, not after
    require_sections(plan)
    progress.say(f"config {shown_path(config.source, config)}: {len(plan.sections)} sections, "
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
    except SystemExit as exc:  # a plugin's hook (not an analysis: those run contained)
        raise UserError(f"a plugin tried to end the program (SystemExit {exc.code!r}) during "
                        f"the build; plugins must raise an error instead",
                        file=str(config.source)) from None
    finally:
        if worker is not None:
            worker.close()


#: The largest config file read, in bytes: a config is a few kilobytes; anything near this
#: is not one (``cohortpress build /dev/zero`` must not read until memory runs out).
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def check_config_file(config_path: str | Path) -> None:
    """Refuse a config path that is not a regular file of a config's size (exit code 2).

    A missing file is left to the config loader, which says so.
    """
    import stat

    path = Path(config_path)
    try:
        info = path.stat()
    except OSError:
        return
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise UserError(f"is {kind}; the config must be a TOML file", file=str(path))
    if info.st_size > MAX_CONFIG_BYTES:
        raise UserError(f"is {info.st_size / 2**20:.1f} MB; a config is a small TOML file "
                        f"(at most {MAX_CONFIG_BYTES // 2**20} MB)", file=str(path))


def require_sections(plan: Plan) -> None:
    """A config without sections is an error: its report would hold no analysis."""
    if not plan.sections:
        raise UserError("the config has no [[section]], so the report would hold no "
                        "analysis; add at least one", file=str(plan.config.source),
                        key="section")


def _builtin_pdf_renderer(plan: Plan) -> bool:
    """True when the built-in renderer is the only ``cohortpress_render_pdf``."""
    impls = plan.plugins.hook.cohortpress_render_pdf.get_hookimpls()
    return [impl.plugin_name for impl in impls] == ["cohortpress.plugins.pdf"]


def _build(plan: Plan, out_dir: Path, strict: bool, progress: Progress, started: float,
           pdf_worker) -> BuildOutcome:
    cohort = load_cohort(plan, progress)
    for warning in data_warnings(plan, cohort):
        progress.say(f"warning: {warning}")
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
    sections = _run_sections(plan, cohort, strict, progress)
    sections = _process_sections(plan, sections)
    for warning in table_width_warnings(sections, config.report.style):
        progress.say(f"warning: {warning}")
    files = write_outputs(plan, cohort, sections, out_dir, progress, pdf_worker)
    failed = [s for s in sections if s.failed]
    progress.timed(f"wrote {shown_path(out_dir, config)}{os.sep}: {', '.join(files[:4])}"
                   f"{' …' if len(files) > 4 else ''}", time.perf_counter() - started)
    code = EXIT_SECTION_FAILED if failed else EXIT_OK
    return BuildOutcome(code, out_dir, sections, files)


def _run_sections(plan: Plan, cohort, strict: bool, progress: Progress) -> list[Section]:
    config = plan.config
    sections = []
    total = len(plan.sections)
    with SectionRunner(plan.sections, cohort, config, config.report.section_timeout) as runner:
        for n, planned in enumerate(plan.sections, 1):
            t0 = time.perf_counter()
            section = runner.run(n - 1)
            state = "FAILED" if section.failed else "ok"
            progress.timed(f"[{n}/{total}] {planned.head.id} ({planned.analysis.name}) {state}",
                           time.perf_counter() - t0)
            if section.failed:
                progress.say(f"  {section.blocks[0].message}")
                if strict:
                    raise StrictFailure(f"section '{planned.head.id}' failed (--strict): "
                                        f"{section.blocks[0].message}", file=str(config.source))
            sections.append(section)
    return sections


def _process_sections(plan: Plan, sections: list[Section]) -> list[Section]:
    """Call ``cohortpress_process_sections``, in one pluggy call so that wrappers wrap it.

    The implementations change the list in place, each seeing it as the previous one left
    it; one that returns a sequence ends the chain with it (first result), and a wrapper
    can replace that result.
    """
    caller = plan.plugins.hook.cohortpress_process_sections
    working = list(sections)
    try:
        returned = caller(sections=working, config=plan.config)
    except Exception as exc:
        culprit = _plugin_that_raised(exc, caller.get_hookimpls())
        who = f"plugin '{culprit}' failed" if culprit else "a plugin failed"
        raise UserError(f"{who} in cohortpress_process_sections: {type(exc).__name__}: "
                        f"{one_line(exc)}") from None
    final = working if returned is None else returned
    try:
        return [checked(section) for section in final]
    except (TypeError, ValueError) as exc:
        raise UserError(f"cohortpress_process_sections left something that is not a section "
                        f"of the report: {exc}") from None


def _plugin_that_raised(exc: BaseException, impls) -> str | None:
    """The plugin whose hook implementation is deepest in the exception's traceback."""
    codes = {impl.function.__code__: impl.plugin_name for impl in impls
             if hasattr(impl.function, "__code__")}
    culprit = None
    tb = exc.__traceback__
    while tb is not None:
        culprit = codes.get(tb.tb_frame.f_code, culprit)
        tb = tb.tb_next
    return culprit


def table_width_warnings(sections, style: str) -> list[str]:
    """A warning for each table wider than the text block even in the smallest size."""
    from cohortpress.api.blocks import Table
    from cohortpress.render.tablefit import overflow_warning

    found = [(section.id, overflow_warning(block, style)) for section in sections
             for block in section.blocks if isinstance(block, Table)]
    return [f"section '{sid}': {warning}" for sid, warning in found if warning]


def data_warnings(plan: Plan, cohort) -> list[str]:
    """What ``validate`` and ``build`` both check in the data before any statistics: the
    sections' refusals (raised) and warnings, then the config's values no patient has."""
    return check_sections(plan, cohort) + declared_level_warnings(plan.config, cohort)


def validate(config_path: str | Path, progress: Progress | None = None):
    """Check the config and the data as a build would, without running analyses."""
    progress = progress or Progress()
    check_config_file(config_path)
    plan = plan_build(config_path)
    require_sections(plan)
    cohort = load_cohort(plan, progress)
    for error in plan.plugins.load_errors:
        progress.say(f"warning: plugin '{error.name}' failed to load: {error.message}")
    for warning in data_warnings(plan, cohort):
        progress.say(f"warning: {warning}")
    from cohortpress.app.disclosure_check import disclosure_warnings

    for warning in disclosure_warnings(plan, cohort):
        progress.say(f"warning: {warning}")
    for planned in plan.sections:
        if planned.analysis.check is None:
            continue
        for problem in planned.analysis.check(cohort, planned.options):
            progress.say(f"warning: section '{planned.head.id}': {problem}")
    return plan, cohort
