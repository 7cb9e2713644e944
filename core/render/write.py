"""Writing a build's outputs, atomically.

Everything is first written into a temporary folder beside the output folder; only when
every file is complete are they moved into place, one ``os.replace`` each. A build that
fails or is killed before that leaves the previous report as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from cohortpress.common.errors import UserError
from cohortpress.api.blocks import Figure, Table
from cohortpress.api.sections import Section
from cohortpress.render.dates import report_date_iso
from cohortpress.render.provenance import results_document

if TYPE_CHECKING:  # pragma: no cover
    from cohortpress.common.progress import Progress
    from cohortpress.render.job import RenderPlan
    from cohortpress.data.cohort import Cohort
    from cohortpress.render.pdfworker import PdfWorker

def table_files(sections: Sequence[Section]) -> list[tuple[str, Table]]:
    """``(file stem, table)`` for every table: ``<section>`` then ``<section>-<name|n>``."""
    out = []
    for section in sections:
        tables = [b for b in section.blocks if isinstance(b, Table)]
        for i, table in enumerate(tables):
            stem = section.id if i == 0 else f"{section.id}-{table.name or i + 1}"
            out.append((stem, table))
    return out


def figure_files(sections: Sequence[Section]) -> list[tuple[str, Figure]]:
    out = []
    for section in sections:
        figures = [b for b in section.blocks if isinstance(b, Figure)]
        for i, figure in enumerate(figures):
            out.append((f"{section.id}-{figure.name or i + 1}", figure))
    return out


def table_csv(table: Table) -> str:
    """Caption, header and body on the table's grid (spans honoured), notes."""
    from cohortpress.render.exports import table_csv as grid_csv

    return grid_csv(table)


def write_outputs(plan: "RenderPlan", cohort: "Cohort", sections: Sequence[Section], out_dir: Path,
                  progress: "Progress", pdf_worker: "PdfWorker | None" = None) -> list[str]:
    """Render and write every output, then move them into ``out_dir`` together.

    With ``pdf_worker`` (see :mod:`cohortpress.render.pdfworker`) the PDF is rendered in that
    process while this one writes the table exports.
    """
    from cohortpress.render.context import render_report

    config = plan.config
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f"{staging_prefix(out_dir)}{os.getpid()}-",
                                    dir=out_dir.parent))
    try:
        written: list[str] = []
        exports = set(config.report.exports)
        document = results_document(plan, cohort, sections)
        _write(staging / "results.json",
               json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
        written.append("results.json")
        t0 = time.perf_counter()
        html, pdf_settings = render_report(plan, cohort, sections)
        progress.timed("rendered HTML", time.perf_counter() - t0)
        if config.report.pdf_variant:
            pdf_settings["attachments"] = [staging / "results.json"]
        t0 = time.perf_counter()
        pdf = _PendingPdf(plan, html, staging / "report.pdf", pdf_settings, pdf_worker,
                          progress)
        for stem, table in table_files(sections):
            _write(staging / "tables" / f"{stem}.csv", table_csv(table))
            written.append(f"tables/{stem}.csv")
        if "xlsx" in exports or "docx" in exports:
            from cohortpress.render.exports import write_table_exports

            names = write_table_exports(table_files(sections), staging / "tables", exports,
                                        config.report.title, report_date_iso(config.report.date))
            written.extend(f"tables/{name}" for name in names)
        if "png" in exports:
            for stem, figure in figure_files(sections):
                target = staging / "figures" / f"{stem}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(figure.png)
                written.append(f"figures/{stem}.png")
        if "html" in exports:
            from cohortpress.render.context import standalone_html

            _write(staging / "report.html", standalone_html(html))
            written.append("report.html")
        pdf.wait()
        progress.timed("rendered PDF", time.perf_counter() - t0)
        written.insert(0, "report.pdf")
        _move_into_place(staging, out_dir, written)
    except BaseException:
        if pdf_worker is not None:  # it must not write into the folder removed below
            pdf_worker.close()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


#: Seconds the PDF worker may take to lay out and write the PDF (a 12-page report takes 1-2 s;
#: ``$COHORTPRESS_RENDER_TIMEOUT`` sets this limit and the templates' together).
PDF_TIMEOUT = 600.0


class _PendingPdf:
    """The PDF: sent to the worker at once, or rendered through the hook by :meth:`wait`."""

    def __init__(self, plan: "RenderPlan", html: str, output: Path, settings: dict,
                 worker: "PdfWorker | None", progress: "Progress"):
        self.plan, self.html, self.output, self.settings = plan, html, output, settings
        self.worker, self.progress = worker, progress
        if worker is not None:
            worker.submit(html, output, settings)

    def wait(self) -> None:
        from cohortpress.render.pdfworker import WorkerUnavailable

        try:
            if self.worker is not None:
                from cohortpress.render.jinja import render_timeout

                try:
                    self.worker.wait(render_timeout(PDF_TIMEOUT))
                    return
                except WorkerUnavailable as exc:  # render here: the same PDF, later
                    self.progress.say(f"the PDF worker process is unavailable ({exc}); "
                                      f"rendering the PDF in this process")
            done = self.plan.plugins.hook.cohortpress_render_pdf(
                html=self.html, output=self.output, settings=self.settings)
            if not done:  # pragma: no cover - the built-in renderer always answers
                raise RuntimeError("no plugin rendered the PDF")
        except UserError as exc:  # a refused URL: name the config that led to it
            if not exc.file:
                exc.file = str(self.plan.config.source)
            raise


#: A staging folder whose build cannot be told alive is removed after this many seconds.
STALE_STAGING_SECONDS = 3600.0


def staging_prefix(out_dir: Path) -> str:
    """Staging folders of ``out_dir`` are ``.<name>.cohortpress-tmp-<pid>-<random>``."""
    return f".{Path(out_dir).name}.cohortpress-tmp-"


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Remove staging folders left by builds that were killed (SIGKILL, power loss).

    A killed build cannot clean up after itself; the next build into the same folder does.
    A folder is stale when the process that made it (the pid in its name) is gone, or, when
    that cannot be told, once it is older than :data:`STALE_STAGING_SECONDS`. Folders of a
    build still running are left alone.
    """
    out_dir = Path(out_dir)
    prefix = staging_prefix(out_dir)
    removed = []
    try:
        entries = list(out_dir.parent.iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(prefix) or not entry.is_dir() or entry.is_symlink():
            continue
        pid_text = entry.name[len(prefix):].split("-", 1)[0]
        try:
            age = now - entry.stat().st_mtime
        except OSError:
            continue
        alive = pid_text.isdigit() and _process_alive(int(pid_text))
        if alive and age < 24 * STALE_STAGING_SECONDS:
            continue
        if not pid_text.isdigit() and age < STALE_STAGING_SECONDS:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # on Windows, signal 0 is CTRL_C_EVENT
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _move_into_place(staging: Path, out_dir: Path, files: Sequence[str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in files:
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, target)
