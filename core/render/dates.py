"""The report's date, in one place: the title page, the PDF metadata and the attachments,
and the document properties of the XLSX and DOCX exports.

The build itself never stamps the current time: the same inputs give the same bytes. The
date is the config's ``report.date``; without one, ``SOURCE_DATE_EPOCH`` (as reproducible
builds define it), else 1 January 1970.
"""

from __future__ import annotations

import datetime as dt
import os

from cohortpress.common.errors import ConfigError


def report_date(text: str | None) -> dict[str, str] | None:
    """The report's date as printed and as ISO (for PDF metadata); ``None`` if not set.

    The build itself never stamps the current time: the same inputs give the same bytes.
    """
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError("report.date must be an ISO date such as 2024-05-31",
                          key="report.date") from None
    return {"printed": f"{day.day} {day:%B %Y}", "iso": f"{day.isoformat()}T00:00:00Z"}


def report_date_iso(text: str | None) -> str | None:
    """The report's date as ISO 8601 (``2024-05-31T00:00:00Z``), or ``None`` if not set."""
    date = report_date(text)
    return date["iso"] if date else None


def file_stamp(iso: str | None) -> dt.datetime:
    """The date stamped on files inside the outputs (PDF attachments, XLSX and DOCX
    properties): the report's date, else ``SOURCE_DATE_EPOCH``, else the epoch."""
    if iso:
        return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).replace(tzinfo=None)
    try:
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)
    except ValueError:
        epoch = 0
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).replace(tzinfo=None)
