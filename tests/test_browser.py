"""report.html in a real browser: Debian's Chromium, headless.

The HTML report is the file a reader opens when the PDF is not at hand, so it must stand
alone: tables and figures laid out with a size, images decoded, nothing fetched from a
network (the figures are data: URIs, the styles inline), and printing it from the browser
must keep each table on one page with its caption. Chromium is driven from its command line
(``--dump-dom`` of a measuring copy of the page, ``--print-to-pdf`` with ``--log-net-log``),
so the test needs no Python package beyond the suite's. Skipped, saying why, where no
Chromium is installed (``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian package 'chromium'; "
                             ".ci/run installs it): report.html is not checked in a browser")

#: How the machine notes say to start Chromium headless: no background traffic, no first-run
#: dialogs, a new profile; every host name resolves to nothing, so no request can leave.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND")

SECTIONS = """
[[section]]
id = "t1"
analysis = "demographics"
title = "Characteristics"
variables = ["age", "sex", "stage", "ldh"]

[[section]]
id = "km"
analysis = "survival"
title = "Survival"
endpoints = ["os"]
"""

#: Appended to a copy of report.html: once the page has loaded, writes what was laid out.
MEASURE = """
<script>
window.addEventListener("load", () => {
  const box = (e) => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  const text = (e) => (e ? e.textContent.replace(/\\s+/g, " ").trim() : "");
  const out = {
    tables: [...document.querySelectorAll("table.journal-table")].map((t) => ({
      size: box(t), caption: text(t.caption),
      last: text([...t.querySelectorAll("tbody tr")].pop()?.cells[0]),
    })),
    images: [...document.images].map((i) => ({
      size: box(i), natural: [i.naturalWidth, i.naturalHeight], complete: i.complete,
      src: i.getAttribute("src").slice(0, 30),
    })),
    scripts: document.scripts.length,
  };
  const pre = document.createElement("pre");
  pre.id = "measured";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def chromium(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def report(cp, tmp_path_factory) -> Path:
    """A demo report with a table and a Kaplan–Meier figure, built through the CLI."""
    from cohortpress.testing import demo_cohort_path, demo_config_path

    project = cp.Project(tmp_path_factory.mktemp("browser") / "proj",
                         toml=demo_config_path().read_text(encoding="utf-8") + SECTIONS,
                         csv=demo_cohort_path().read_bytes())
    project.write("demo_cohort.csv", demo_cohort_path().read_bytes())
    result = cp.run_cli_subprocess(["build", project.config, "--output", project.out],
                                   cwd=project.root)
    assert result.code == 0, result.err
    return project.out / "report.html"


@pytest.fixture(scope="module")
def measured(report, tmp_path_factory) -> dict:
    """The page laid out by Chromium, measured by a script in a copy of it."""
    tmp = tmp_path_factory.mktemp("measure")
    html = report.read_text(encoding="utf-8")
    assert "<script" not in html.lower()  # the report itself runs no code
    copy = tmp / "measure.html"
    copy.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    done = chromium(tmp, "--virtual-time-budget=5000", "--dump-dom", copy.as_uri())
    found = re.search(r'<pre id="measured">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")
                      .replace("&lt;", "<").replace("&gt;", ">"))


@pytest.fixture(scope="module")
def printed(report, tmp_path_factory) -> tuple[Path, Path]:
    """report.html printed to PDF by Chromium, with the network log of that visit."""
    tmp = tmp_path_factory.mktemp("print")
    pdf, log = tmp / "printed.pdf", tmp / "net.json"
    done = chromium(tmp, f"--log-net-log={log}", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", report.as_uri())
    assert pdf.exists() and pdf.stat().st_size > 0, done.stderr[-2000:]
    return pdf, log


def page_requests(log: Path) -> list[str]:
    """URLs the page asked for over a network (not file: or data:), from a net log.

    Chromium's own requests (updates, accounts, time) carry no page origin ("initiator":
    "not an origin"); a request a page makes carries the page's origin ("null" for a
    file: page)."""
    data = json.loads(log.read_text(encoding="utf-8"))
    names = {v: k for k, v in data["constants"]["logEventTypes"].items()}
    urls = []
    for event in data.get("events", []):
        params = event.get("params") or {}
        if names.get(event["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        if params.get("initiator", "not an origin") == "not an origin":
            continue
        if not params["url"].startswith(("file:", "data:")):
            urls.append(params["url"])
    return urls


def test_tables_and_figures_are_laid_out_with_a_size(measured):
    assert measured["scripts"] == 1  # only the measuring script of the copy
    tables, images = measured["tables"], measured["images"]
    assert len(tables) >= 2 and len(images) >= 1, measured
    for table in tables:
        assert table["size"][0] > 100 and table["size"][1] > 20, table
        assert table["caption"] and table["last"], table
    for image in images:
        assert image["complete"], image
        assert image["src"].startswith("data:image/"), image
        assert image["size"][0] > 100 and image["size"][1] > 50, image
        assert image["natural"][0] > 0 and image["natural"][1] > 0, image


def test_the_page_requests_nothing_over_a_network(printed):
    _, log = printed
    assert log.exists()
    assert page_requests(log) == []


def test_the_network_check_sees_a_request_the_page_makes(tmp_path):
    """The check above can fail: a page with a remote image is caught."""
    page = tmp_path / "remote.html"
    page.write_text('<html><body><img src="http://198.51.100.7/x.png" alt="x"></body></html>',
                    encoding="utf-8")
    log = tmp_path / "net.json"
    chromium(tmp_path, f"--log-net-log={log}", "--virtual-time-budget=3000", "--dump-dom",
             page.as_uri())
    assert page_requests(log) == ["http://198.51.100.7/x.png"]


def test_printing_keeps_each_table_on_one_page_with_its_caption(cp, printed, measured):
    pdf, _ = printed
    pages = cp.pdf_text(pdf).split("\f")
    flat = [" ".join(page.split()) for page in pages]
    assert len(flat) >= 2
    for table in measured["tables"]:
        caption = table["caption"][:60]
        on = [k for k, page in enumerate(flat) if caption in page]
        assert on, f"caption {caption!r} not in the printed PDF"
        assert table["last"] in flat[on[0]], \
            f"table {caption!r}: its last row {table['last']!r} is not on the caption's page"
