"""Built-in PDF renderer: WeasyPrint with a fetcher restricted to data: URLs and our files."""

from __future__ import annotations

from cohortpress import hookimpl


@hookimpl(trylast=True)
def cohortpress_render_pdf(html, output, settings):
    from cohortpress.render.weasy import write_pdf

    write_pdf(html, output, settings)
    return True
