"""The PDF worker process: same bytes as rendering in process, errors carried back, a worker
that cannot start replaced by rendering in process, and never a worker left behind."""

from __future__ import annotations

import io
import os

import pytest

from cohortpress.app.build import Progress, build
from cohortpress.common.errors import UserError
from cohortpress.render.weasy import ForbiddenURL, write_pdf
from cohortpress.render.pdfworker import PdfRenderError, PdfWorker, WorkerUnavailable
from cohortpress.render.jinja import static_dir

STATIC = static_dir()
SETTINGS = {"base_url": STATIC.as_uri() + "/", "static": str(STATIC), "title": "t",
            "language": "en", "pdf_variant": None, "attachments": [], "date": "2024-05-01"}
FONTS = (STATIC / "fonts.css").read_text(encoding="utf-8")


def page(body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title>'
            f'<style>{FONTS} body {{ font-family: "CP Serif"; }}</style></head>'
            f'<body>{body}</body></html>')


DOCUMENT = page("<h1>Survival</h1><p>Hyphenation of a long paragraph about event-free "
                "survival, overall survival and the cumulative incidence of relapse.</p>"
                "<table><tr><th>n</th><td>12 (24.0%)</td></tr></table>")


def started(language: str = "en", env: dict | None = None) -> PdfWorker:
    saved = dict(os.environ)
    try:
        if env:
            os.environ.update(env)
        worker = PdfWorker.start(language)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert worker is not None
    return worker


def test_the_worker_writes_the_bytes_this_process_writes(tmp_path):
    write_pdf(DOCUMENT, tmp_path / "here.pdf", SETTINGS)
    with started() as worker:
        worker.render(DOCUMENT, tmp_path / "there.pdf", SETTINGS)
        assert worker.stats["seconds"] > 0 and worker.stats["peak_mb"] > 10
        assert worker.stats["ready_after"] > 0
    assert (tmp_path / "there.pdf").read_bytes() == (tmp_path / "here.pdf").read_bytes()


def test_a_refused_url_is_the_same_error_as_in_process(tmp_path):
    hostile = page('<img src="file:///etc/hostname" alt="x">')
    with pytest.raises(ForbiddenURL) as here:
        write_pdf(hostile, tmp_path / "here.pdf", SETTINGS)
    with started() as worker, pytest.raises(ForbiddenURL) as there:
        worker.render(hostile, tmp_path / "there.pdf", SETTINGS)
    assert str(there.value) == str(here.value)
    assert not (tmp_path / "there.pdf").exists()


def test_an_unexpected_failure_is_reported_not_hidden(tmp_path):
    with started() as worker, pytest.raises(PdfRenderError, match="rendering the PDF failed"):
        worker.render(DOCUMENT, tmp_path / "no-such-folder" / "x.pdf", SETTINGS)


def test_a_worker_that_cannot_load_weasyprint_says_so(tmp_path):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "weasyprint.py").write_text("raise ImportError('libpango not found (simulated)')\n")
    path = os.pathsep.join(filter(None, [str(fake), os.environ.get("PYTHONPATH")]))
    with started(env={"PYTHONPATH": path}) as worker, \
            pytest.raises(WorkerUnavailable, match="simulated"):
        worker.render(DOCUMENT, tmp_path / "x.pdf", SETTINGS)


def test_a_dead_worker_is_unavailable(tmp_path):
    worker = started()
    worker._process.kill()
    worker._process.wait()
    with pytest.raises(WorkerUnavailable):
        worker.render(DOCUMENT, tmp_path / "x.pdf", SETTINGS)
    worker.close()


def _ready(worker: PdfWorker, timeout: float = 60.0) -> None:
    """Wait until the worker has warmed up (its ready message is in the reply pipe)."""
    import select

    readable, _, _ = select.select([worker._replies], [], [], timeout)
    assert readable, "the worker did not get ready"


def test_a_worker_killed_after_warming_up_is_unavailable(tmp_path):
    worker = started()
    _ready(worker)
    worker._process.kill()
    worker._process.wait()
    with pytest.raises(WorkerUnavailable):
        worker.render(DOCUMENT, tmp_path / "x.pdf", SETTINGS)
    worker.close()


def test_another_installation_is_not_used(tmp_path, monkeypatch):
    import cohortpress.render.pdfworker as module

    monkeypatch.setattr(module, "_THIS_MODULE", "elsewhere/cohortpress/pdfworker.py")
    with started() as worker, pytest.raises(WorkerUnavailable, match="the worker runs"):
        worker.render(DOCUMENT, tmp_path / "x.pdf", SETTINGS)


def test_a_pdf_past_the_time_limit_stops_the_worker(tmp_path):
    from cohortpress.render.pdfworker import PdfTimeout

    worker = started()
    worker.submit(DOCUMENT, tmp_path / "x.pdf", SETTINGS)
    with pytest.raises(PdfTimeout, match="longer than 0.001 s") as raised:
        worker.wait(timeout=0.001)
    assert raised.value.key == "$COHORTPRESS_RENDER_TIMEOUT"
    assert worker._process.poll() is not None
    worker.close()


def test_ctrl_c_is_left_to_the_build(tmp_path):
    import signal

    with started() as worker:
        _ready(worker)
        worker._process.send_signal(signal.SIGINT)
        worker.render(DOCUMENT, tmp_path / "x.pdf", SETTINGS)
    assert (tmp_path / "x.pdf").read_bytes().startswith(b"%PDF")


def test_the_build_renders_in_process_when_the_worker_is_unavailable(project, monkeypatch):
    calls = []
    original = PdfWorker.start.__func__

    def unavailable(cls, language="en"):
        worker = original(cls, language)
        worker._process.kill()
        worker._process.wait()
        calls.append(worker)
        return worker

    monkeypatch.setattr(PdfWorker, "start", classmethod(unavailable))
    said = io.StringIO()
    outcome = build(project.config, project.out, progress=Progress(stream=said),
                    pdf_worker=True)
    assert calls and outcome.exit_code == 0
    assert (project.out / "report.pdf").read_bytes().startswith(b"%PDF")
    assert "rendering the PDF in this process" in said.getvalue()


def test_a_failed_export_kills_the_worker_and_keeps_the_previous_report(project, monkeypatch,
                                                                        cp):
    import cohortpress.render.exports

    build(project.config, project.out, progress=Progress(quiet=True), pdf_worker=False)
    before = cp.snapshot(project.out)
    workers = _watch_workers(monkeypatch)

    def broken(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(cohortpress.render.exports, "write_table_exports", broken)
    with pytest.raises(OSError, match="simulated"):
        build(project.config, project.out, progress=Progress(quiet=True), pdf_worker=True)
    assert len(workers) == 1 and workers[0]._process.poll() is not None
    assert cp.snapshot(project.out) == before
    assert cp.staging_leftovers(project.out) == []


@pytest.mark.parametrize("variant", [None, "pdf/a-3b"])
def test_a_build_with_a_worker_equals_one_without(project, tmp_path, cp, variant,
                                                  monkeypatch):
    if variant:  # the worker reads results.json from the staging folder to embed it
        text = project.config.read_text(encoding="utf-8")
        project.write("report.toml", text.replace('date = "2024-05-31"',
                                                  f'date = "2024-05-31"\npdf_variant = "{variant}"'))
    workers = _watch_workers(monkeypatch)
    build(project.config, tmp_path / "with", progress=Progress(quiet=True), pdf_worker=True)
    assert workers[0].stats["seconds"] > 0  # the worker rendered it, no fallback
    build(project.config, tmp_path / "without", progress=Progress(quiet=True), pdf_worker=False)
    assert cp.snapshot(tmp_path / "with") == cp.snapshot(tmp_path / "without")
    if variant:
        import subprocess

        listed = subprocess.run([cp.poppler("pdfdetach"), "-list",
                                 str(tmp_path / "with" / "report.pdf")],
                                capture_output=True, text=True, check=True).stdout
        assert "results.json" in listed



def _watch_workers(monkeypatch) -> list[PdfWorker]:
    workers: list[PdfWorker] = []
    original = PdfWorker.start.__func__

    def watched(cls, language="en"):
        worker = original(cls, language)
        workers.append(worker)
        return worker

    monkeypatch.setattr(PdfWorker, "start", classmethod(watched))
    return workers


def test_no_worker_outlives_its_build(project, monkeypatch):
    workers = _watch_workers(monkeypatch)
    build(project.config, project.out, progress=Progress(quiet=True), pdf_worker=True)
    assert len(workers) == 1 and workers[0]._process.poll() is not None


def test_a_failed_build_ends_its_worker_at_once(project, monkeypatch):
    workers = _watch_workers(monkeypatch)
    project.write("cohort.csv", "nothing,useful\n1,2\n")
    with pytest.raises(UserError):
        build(project.config, project.out, progress=Progress(quiet=True), pdf_worker=True)
    assert len(workers) == 1 and workers[0]._process.poll() is not None


def test_no_worker_when_a_plugin_renders_the_pdf(project, monkeypatch):
    workers = _watch_workers(monkeypatch)
    project.write("render.py", """
from cohortpress import hookimpl

@hookimpl
def cohortpress_render_pdf(html, output, settings):
    output.write_bytes(b"%PDF-1.7 from a plugin")
    return True
""")
    text = project.config.read_text(encoding="utf-8")
    project.write("report.toml", 'plugins = ["render.py"]\n' + text)
    build(project.config, project.out, progress=Progress(quiet=True), pdf_worker=True)
    assert workers == []
    assert (project.out / "report.pdf").read_bytes() == b"%PDF-1.7 from a plugin"


def test_what_the_worker_prints_does_not_mix_with_its_replies(tmp_path):
    noisy = tmp_path / "noisy"
    noisy.mkdir()
    (noisy / "sitecustomize.py").write_text("print('noise on stdout at start-up')\n")
    path = os.pathsep.join(filter(None, [str(noisy), os.environ.get("PYTHONPATH")]))
    with started(env={"PYTHONPATH": path}) as worker:
        worker.render(DOCUMENT, tmp_path / "x.pdf", SETTINGS)
    assert (tmp_path / "x.pdf").read_bytes().startswith(b"%PDF")
