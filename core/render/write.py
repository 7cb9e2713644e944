"""Writing a build's outputs, atomically.

Everything is first written into a staging folder on the output folder's own filesystem:
beside the output folder when both are on one device, else (the output folder is a mount
point: a tmpfs, a Docker volume) a hidden folder inside it. Only when every file is
complete are they moved into place, one ``os.replace`` each, which is atomic within one
filesystem; a file whose place is on yet another device (a subfolder that is itself a mount
point) is copied beside its place first and then swapped in with ``os.replace``. A build
that fails or is killed before that leaves the previous report as it was; two builds into
one folder take turns (a lock file) so that the files in place all come from one of them.

Nothing is written outside the output folder and its staging folder: a symlink inside the
output folder where the build puts a folder or a file is replaced, never followed. Every
way the output path can be wrong (a file, a parent that is a file, not writable, no space
left) is a :class:`cohortpress.common.errors.UserError` naming it.
"""

from __future__ import annotations

import errno
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
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    for stale in remove_stale_staging(out_dir):
        progress.say(f"removed {stale}, the staging folder of a build that was interrupted")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f"{staging_prefix(out_dir)}{os.getpid()}-",
                                        dir=staging_parent(out_dir)))
    except OSError as exc:
        raise output_error(exc, out_dir) from None
    try:
        return _write_staged(plan, cohort, sections, out_dir, staging, progress, pdf_worker)
    except BaseException:
        if pdf_worker is not None:  # it must not write into the folder removed below
            pdf_worker.close()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_staged(plan, cohort, sections, out_dir: Path, staging: Path, progress,
                  pdf_worker) -> list[str]:
    from cohortpress.render.context import render_report

    config = plan.config
    try:
        written: list[str] = []
        exports = set(config.report.exports)
        document = results_document(plan, cohort, sections)
        _write(staging / "results.json",
               json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
        written.append("results.json")
        if getattr(config, "disclosure", None) is not None:
            from cohortpress.render.disclosure_log import disclosure_csv

            _write(staging / "disclosure.csv", disclosure_csv(sections))
            written.append("disclosure.csv")
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
    except OSError as exc:  # no space left, a quota, the folder removed under us
        if exc.errno in _PLACE_ERRNOS:
            raise output_error(exc, out_dir) from None
        raise
    except Exception:  # the PDF worker reports a full disk as a failed rendering
        if _no_space_left(staging):
            raise output_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
                               out_dir) from None
        raise
    move_into_place(staging, out_dir, written)
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

#: The errors of writing that are about the place (the disk, the mount), not the report.
_PLACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                 errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENOENT,
                 errno.EIO, errno.EFBIG, errno.ELOOP}


def output_error(exc: OSError, out_dir: Path) -> UserError:
    """An operating system error while writing the report, as the one line of exit code 2."""
    where = exc.filename or out_dir
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return UserError(f"cannot write the report into {out_dir}: {reason} ({where}); the "
                     f"previous report is untouched", key="--output")


def _no_space_left(folder: Path) -> bool:
    try:
        info = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    return info.f_bavail * info.f_frsize < 64 * 1024


def check_output_folder(out_dir: Path) -> None:
    """Refuse an output folder the report cannot be written into, before anything runs.

    Raises :class:`UserError` (exit code 2, the path named) for a path that is a file, a
    parent that is a file, or a folder this process may not write into (read-only
    filesystem, permissions).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} is a file, not a folder; name a folder for the report",
                        key="--output")
    existing = out_dir
    while not existing.exists():
        if existing.is_symlink():
            raise UserError(f"{existing} is a symlink to nothing; name a folder for the "
                            f"report", key="--output")
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{existing} is a file, so {out_dir} cannot be a folder in it",
                        key="--output")
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "is on a read-only filesystem" if _read_only(existing) else \
            "is not writable by this user"
        raise UserError(f"{existing} {reason}; the report cannot be written into {out_dir}",
                        key="--output")


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def staging_parent(out_dir: Path) -> Path:
    """Where the staging folder goes: beside ``out_dir``, or inside it when it is a mount.

    A rename is atomic only within one filesystem: a staging folder beside an output folder
    that is a mount point (a tmpfs, a Docker volume) would be on another one.
    Inside it too when its parent may not be written to (a volume mounted in a root-owned
    folder).
    """
    out_dir = Path(out_dir)
    try:
        os.makedirs(out_dir.parent, exist_ok=True)
        if out_dir.is_dir() and (out_dir.stat().st_dev != out_dir.parent.stat().st_dev
                                 or not os.access(out_dir.parent, os.W_OK | os.X_OK)):
            return out_dir
    except OSError as exc:
        raise output_error(exc, out_dir) from None
    return out_dir.parent


def staging_prefix(out_dir: Path) -> str:
    """Staging folders of ``out_dir`` are ``.<name>.cohortpress-tmp-<pid>-<random>``."""
    return f".{Path(out_dir).name}.cohortpress-tmp-"


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Remove staging folders left by builds that were killed (SIGKILL, power loss).

    A killed build cannot clean up after itself; the next build into the same folder does.
    A folder is stale when the process that made it (the pid in its name) is gone, or, when
    that cannot be told, once it is older than :data:`STALE_STAGING_SECONDS`. Folders of a
    build still running are left alone. Both places a staging folder can be (beside the
    output folder and inside it) are looked at.
    """
    out_dir = Path(out_dir)
    prefix = staging_prefix(out_dir)
    removed = []
    entries = []
    for folder in (out_dir.parent, out_dir):
        try:
            entries.extend(folder.iterdir())
        except OSError:
            pass
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(prefix) or entry.is_symlink() or not entry.is_dir():
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


def move_into_place(staging: Path, out_dir: Path, files: Sequence[str]) -> None:
    """Move every staged file to its place in ``out_dir``, holding the folder's lock.

    A symlink where a folder or a file goes is removed, never followed; a folder where a
    file goes is an error naming it. Raises :class:`UserError` for anything the place
    refuses (read-only, full, permissions).
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with _FolderLock(out_dir):
            for name in files:
                _place(staging / name, out_dir, name)
    except OSError as exc:
        raise output_error(exc, out_dir) from None


def _place(source: Path, out_dir: Path, name: str) -> None:
    folder = out_dir
    parts = name.split("/")
    for part in parts[:-1]:
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            folder.unlink()  # a symlink would lead the report elsewhere: replace it
        folder.mkdir(exist_ok=True)
    target = folder / parts[-1]
    if target.is_dir() and not target.is_symlink():
        raise UserError(f"{target} is a folder where the report puts a file; move it away",
                        key="--output")
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # Another filesystem (a mount point inside the output folder): copy beside the
        # place, then swap in with a rename there, which is atomic.
        fresh = folder / f".{parts[-1]}.cohortpress-new-{os.getpid()}"
        try:
            shutil.copyfile(source, fresh)
            os.replace(fresh, target)
        finally:
            if fresh.exists():
                fresh.unlink()


class _FolderLock:
    """An exclusive lock on the output folder itself: concurrent builds take turns."""

    def __init__(self, out_dir: Path):
        self.path = out_dir
        self.fd: int | None = None

    def __enter__(self) -> "_FolderLock":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return self
        self.fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:  # a filesystem without locks: the moves are atomic one by one
            pass
        return self

    def __exit__(self, *exc_info) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
