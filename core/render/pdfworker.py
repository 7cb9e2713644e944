"""The PDF renderer in a second process, made ready while the analyses run.

WeasyPrint takes about half a second to import and a little more to load its fonts and the
hyphenation dictionary, and the PDF is the last and longest step of a small report. A build
therefore starts this worker as soon as its config is read: the worker imports and warms up
WeasyPrint on the second core while the cohort is read and analysed, then renders the HTML
it is sent with :func:`cohortpress.render.weasy.write_pdf` (the same function, so the same
bytes) while the main process writes the table exports.

Protocol: length-prefixed JSON messages, requests on the worker's stdin and replies on a
pipe of their own (so that nothing a library prints can mix with them). The worker first
says whether it is ready (``{"ready": true, "module": ...}``, or false with the reason);
a request is ``{"html", "output", "settings"}``; the reply ``{"ok": true, "stats": ...}``
or ``{"error": kind, "message": ...}``. The worker ends at end of input and ignores Ctrl-C
(the build answers it and kills the worker), so it never outlives its build.

If the worker cannot start, is another installation of cohortpress, or ends without
answering, the build renders in its own process instead, as it would without a worker: the
result is the same. A rendering past the time limit kills the worker and fails the build
(rendering here would only hang).
"""

from __future__ import annotations

import gc
import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
from html import escape
from pathlib import Path
from typing import Any, BinaryIO

from cohortpress.common.errors import UserError

_HEADER = struct.Struct(">Q")


class WorkerUnavailable(Exception):
    """The worker could not do the work: render in this process instead."""


class PdfTimeout(UserError):
    """The PDF took longer than the render time limit; the worker was stopped."""


class PdfRenderError(RuntimeError):
    """WeasyPrint failed in the worker (an unexpected error, not a user error)."""


def _send(stream: BinaryIO, message: dict[str, Any]) -> None:
    data = json.dumps(message, ensure_ascii=False).encode("utf-8")
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: BinaryIO) -> dict[str, Any] | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return json.loads(data.decode("utf-8"))


#: Which file this module is: the worker must run this same installation of cohortpress.
_THIS_MODULE = str(Path(__file__).resolve())


def _unavailable(message: str) -> dict[str, Any]:
    return {"error": "unavailable", "message": message}


def _jsonable(settings: dict[str, Any]) -> dict[str, Any]:
    out = dict(settings)
    out["attachments"] = [str(p) for p in settings.get("attachments") or ()]
    out["static"] = str(settings["static"])
    return out


class PdfWorker:
    """A WeasyPrint process started now and used once, by :meth:`render`."""

    def __init__(self, language: str = "en"):
        env = dict(os.environ)
        env.setdefault("SOURCE_DATE_EPOCH", "0")
        # Replies come on a pipe of their own: nothing the worker's libraries (or a
        # sitecustomize) print can mix with them; its stdout goes to our stderr.
        reply_read, reply_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                # -P: the working folder is not put on the worker's import path.
                [sys.executable, "-P", "-m", "cohortpress.render.pdfworker", language,
                 str(reply_write)],
                stdin=subprocess.PIPE, stdout=2, pass_fds=(reply_write,), env=env)
        except BaseException:
            os.close(reply_read)
            raise
        finally:
            os.close(reply_write)
        self._replies = os.fdopen(reply_read, "rb")
        self._reply: dict[str, Any] | None = None
        self._thread: threading.Thread | None = None
        self.started = time.time()
        #: What the worker measured: ``ready_after`` (seconds from start to warmed up),
        #: ``seconds`` and ``cpu_seconds`` of the rendering, ``peak_mb`` (its peak memory).
        self.stats: dict[str, float] = {}

    @classmethod
    def start(cls, language: str = "en") -> "PdfWorker | None":
        """A started worker, or None when no process can be started here."""
        if os.name != "posix":  # the reply pipe is passed by descriptor number
            return None
        try:
            return cls(language)
        except OSError:
            return None

    def submit(self, html: str, output: Path, settings: dict[str, Any]) -> None:
        """Send the work; returns at once (the reply is awaited by :meth:`wait`)."""
        request = {"html": html, "output": str(output), "settings": _jsonable(settings)}

        def exchange():
            try:
                ready = _receive(self._replies)
                if not ready or not ready.get("ready"):
                    self._reply = _unavailable((ready or {}).get("message", "no answer"))
                    return
                if ready.get("module") != _THIS_MODULE:  # another installation answered
                    self._reply = _unavailable(f"the worker runs {ready.get('module')}")
                    return
                self.stats["ready_after"] = ready["time"] - self.started
                try:
                    _send(self._process.stdin, request)
                except OSError as exc:  # it died after warming up, before taking the work
                    self._reply = _unavailable(f"{type(exc).__name__}: {exc}")
                    return
                reply = _receive(self._replies)
                # Ended without an answer (killed, out of memory): the work can be redone here.
                self._reply = reply if reply is not None else _unavailable(
                    "it ended while rendering")
                self.stats.update(self._reply.get("stats", {}))
            except Exception as exc:  # reported by wait(), not lost in this thread
                self._reply = {"error": "exception", "message": f"{type(exc).__name__}: {exc}"}

        self._thread = threading.Thread(target=exchange, name="pdf-worker", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the PDF, at most ``timeout`` seconds; raise what the renderer raised.

        Past ``timeout`` the worker is killed and :class:`PdfTimeout` raised (rendering here
        instead would only hang the build).

        Raises :class:`WorkerUnavailable` when the worker could not start, or ended
        without answering (the caller then renders in its own process: the result is the
        same), :class:`cohortpress.render.weasy.ForbiddenURL` for a refused URL,
        :class:`PdfRenderError` for anything else WeasyPrint raised.
        """
        assert self._thread is not None, "submit() first"
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.close()
            raise PdfTimeout(f"laying out the PDF took longer than {timeout:g} s (a stylesheet "
                             f"or template that makes pages without end?)",
                             key="$COHORTPRESS_RENDER_TIMEOUT")
        reply = self._reply or {"error": "exception", "message": "no reply"}
        if reply.get("ok"):
            return
        if reply.get("error") == "unavailable":
            self.close()
            raise WorkerUnavailable(reply.get("message", ""))
        if reply.get("error") == "forbidden":
            from cohortpress.render.weasy import ForbiddenURL

            raise ForbiddenURL(reply["message"])
        if reply.get("error") == "user":
            raise UserError(reply["message"])
        raise PdfRenderError(f"rendering the PDF failed: {reply.get('message')}")

    def render(self, html: str, output: Path, settings: dict[str, Any]) -> None:
        self.submit(html, output, settings)
        self.wait()

    def close(self) -> None:
        """End the worker (it has nothing to finish once it has answered)."""
        process = self._process
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, self._replies):
            try:
                stream.close()
            except OSError:
                pass

    def __enter__(self) -> "PdfWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- the worker


def _warm_up(language: str) -> None:
    """Load what every rendering needs once: fonts, Pango, the hyphenation dictionary."""
    import weasyprint

    from cohortpress.render.jinja import static_dir

    static = static_dir()
    fonts = (static / "fonts.css").read_text(encoding="utf-8")
    html = (f'<html lang="{escape(language)}"><head><style>{fonts} p {{ hyphens: auto; '
            f'font-family: "CP Serif"; }}</style></head><body><p>Warm-up paragraph with '
            f'hyphenation.</p></body></html>')
    weasyprint.HTML(string=html, base_url=static.as_uri() + "/").write_pdf(io.BytesIO())


def serve(language: str, stdin: BinaryIO, replies: BinaryIO) -> int:
    """Warm up, say whether ready, then render each request until end of input."""
    try:
        _warm_up(language)
        from cohortpress.render.weasy import ForbiddenURL, write_pdf
    except Exception as exc:  # e.g. WeasyPrint's libraries missing: the build renders itself
        _send(replies, {"ready": False, "message": f"{type(exc).__name__}: {exc}"})
        return 3
    # What is loaded now lives until the worker ends: keep the collector from walking it.
    gc.freeze()
    _send(replies, {"ready": True, "time": time.time(), "module": _THIS_MODULE})
    while True:
        request = _receive(stdin)
        if request is None:
            return 0
        started, cpu = time.perf_counter(), time.process_time()
        try:
            write_pdf(request["html"], Path(request["output"]), request["settings"])
            reply = {"ok": True, "stats": {
                "seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu,
                "peak_mb": _peak_mb()}}
        except ForbiddenURL as exc:
            reply = {"error": "forbidden", "message": exc.message}
        except UserError as exc:
            reply = {"error": "user", "message": exc.one_line()}
        except Exception as exc:
            reply = {"error": "exception", "message": f"{type(exc).__name__}: {exc}"}
        _send(replies, reply)


def _peak_mb() -> float:
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kilobytes on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def main(argv: list[str] | None = None) -> int:
    """``python -m cohortpress.render.pdfworker LANGUAGE REPLY_FD`` (started by :class:`PdfWorker`)."""
    import signal

    # Ctrl-C in the terminal reaches the whole process group: the build answers it (and
    # kills this process); the worker itself has nothing to say.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    language, reply_fd = sys.argv[1:3] if argv is None else argv
    try:
        with os.fdopen(int(reply_fd), "wb") as replies:
            return serve(language, sys.stdin.buffer, replies)
    except BrokenPipeError:  # the build is gone: nobody to answer
        return 0


if __name__ == "__main__":
    sys.exit(main())
