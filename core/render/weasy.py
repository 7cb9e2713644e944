"""HTML to PDF with WeasyPrint, reading nothing but ``data:`` URLs and our static files.

WeasyPrint reads local files by default: a cohort value such as
``<link rel="attachment" href="file:///etc/hostname">`` would embed a local file in the PDF
if it ever reached the HTML unescaped. Autoescaping keeps data out of markup; this fetcher
is the second wall: anything but ``data:`` and the package's own static files stops the
rendering with an error.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from cohortpress.common.errors import UserError
from cohortpress.render.dates import file_stamp


class ForbiddenURL(UserError):
    """The report tried to load a URL outside the allowed set."""


def make_fetcher(static: Path):
    """A WeasyPrint URL fetcher allowing ``data:`` URLs and files under ``static`` only."""
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    root = static.resolve()

    class _Forbidden(FatalURLFetchingError):
        pass

    class StaticOnlyFetcher(URLFetcher):
        def __init__(self):
            super().__init__(allowed_protocols=("data", "file"), allow_redirects=False,
                             fail_on_errors=True)

        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = Path(unquote(urlparse(url).path)).resolve()
                if path.is_relative_to(root) and path.is_file():
                    return super().fetch(url, headers)
            raise _Forbidden(f"the report may only load data: URLs and its own static "
                             f"files; refused {url[:120]}")

    return StaticOnlyFetcher(), _Forbidden


def write_pdf(html: str, output: Path, settings: dict[str, Any]) -> None:
    """Render ``html`` to ``output`` with WeasyPrint.

    ``settings``: ``base_url`` (the static folder as a file URL), ``static`` (its path),
    ``pdf_variant`` (None or "pdf/a-3b"), ``attachments`` (paths embedded in the PDF),
    ``date`` (the report's ISO date, or None).

    The PDF is tagged (PDF/UA-style structure: headings, tables with header cells, figures
    with their alt text) and carries the document language and title from the HTML.
    The output is deterministic: ``SOURCE_DATE_EPOCH`` is fixed, the document dates come
    from the HTML's ``dcterms`` metadata and attachments are dated with the report's date
    (WeasyPrint would stamp them with the current time).
    """
    import weasyprint

    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    fetcher, forbidden = make_fetcher(Path(settings["static"]))
    stamp = file_stamp(settings.get("date"))
    # Attachments are our own outputs (results.json), read here rather than through the
    # fetcher, which only serves static files. "Data": the file holds the data the tables
    # and figures are drawn from (ISO 32000-2, 7.11.3).
    attachments = [weasyprint.Attachment(file_obj=io.BytesIO(Path(p).read_bytes()),
                                         name=Path(p).name, url_fetcher=fetcher,
                                         description=ATTACHMENT_DESCRIPTIONS.get(Path(p).name),
                                         created=stamp, modified=stamp, relationship="Data")
                   for p in settings.get("attachments") or ()]
    try:
        document = weasyprint.HTML(string=html, base_url=settings["base_url"],
                                   url_fetcher=fetcher)
        document.write_pdf(
            str(output),
            pdf_tags=True,
            pdf_variant=settings.get("pdf_variant"),
            attachments=attachments or None,
            pdf_identifier=b"cohortpress-report",
            uncompressed_pdf=False,
        )
    except forbidden as exc:
        raise ForbiddenURL(str(exc)) from None


ATTACHMENT_DESCRIPTIONS = {
    "results.json": "Every number in this report, unrounded (analysis results data)",
}
