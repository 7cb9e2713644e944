"""The report's rendering context: sections, methods paragraph, provenance, styles; the page's
HTML rendered from it, and the settings the PDF renderer receives."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from markupsafe import Markup

from cohortpress.common.version import __version__
from cohortpress.common.errors import ConfigError
from cohortpress.api.sections import Section
from cohortpress.render.abbreviations import abbreviations
from cohortpress.render.dates import report_date
from cohortpress.render.provenance import package_versions, plugin_name, relative_path
from cohortpress.render.jinja import make_environment, number_blocks, render_html, static_dir

if TYPE_CHECKING:  # pragma: no cover
    from cohortpress.render.job import RenderPlan
    from cohortpress.data.cohort import Cohort

STYLE_FILES = {"journal": "journal.css", "compact": "compact.css"}
#: The @font-face rules of the bundled fonts: in the PDF's stylesheet, not in report.html.
FONTS_FILE = "fonts.css"


def render_report(plan: "RenderPlan", cohort: "Cohort", sections: Sequence[Section]):
    """Render the report's HTML; returns ``(html, settings for the PDF renderer)``."""
    config = plan.config
    plugin_dirs = [Path(d) for dirs in plan.plugins.hook.cohortpress_template_dirs()
                   for d in (dirs or ())]
    env = make_environment(config.report.templates, plugin_dirs)
    plan.plugins.hook.cohortpress_prepare_jinja_env(env=env)
    static = static_dir()
    methods = methods_paragraphs(plan, cohort, sections)
    context = {
        "report": config.report,
        "date": report_date(config.report.date),
        "version": __version__,
        "sections": number_blocks(sections),
        "methods": methods,
        "abbreviations": abbreviations(config, sections, methods),
        "provenance": provenance(plan, cohort, sections),
        "css": Markup(_style_text(FONTS_FILE, static) + "\n" + stylesheet(config, static)),
        "failed_sections": [s.id for s in sections if s.failed],
    }
    html = render_html(env, context, timeout=60.0)
    settings = {
        "base_url": static.as_uri() + "/",
        "static": str(static),
        "title": config.report.title,
        "language": config.report.language,
        "pdf_variant": config.report.pdf_variant,
        "attachments": [],
        "date": context["date"]["iso"] if context["date"] else None,
    }
    return html, settings


def standalone_html(html: str) -> str:
    """``html`` as written to ``report.html``: without the bundled fonts' ``@font-face`` rules.

    Those rules point at font files beside the package; without them the page references
    no file at all and falls back to Liberation, Times New Roman or Arial (the bundled fonts
    are metrically compatible with them, so lines break in the same places). Embedding the
    fonts as ``data:`` URLs was the alternative: about 4 MB in full, or 60–80 KB subset to
    the characters used at a cost of a second or more per build; a fallback with the same
    metrics gives nearly the same page for nothing.
    """
    return html.replace(_style_text(FONTS_FILE, static_dir()), "", 1)


def _style_text(name: str, static: Path) -> str:
    return (static / name).read_text(encoding="utf-8").replace("</", "<\\/")


def stylesheet(config, static: Path) -> str:
    """Base print CSS, the chosen style, then the user's CSS files (in that order)."""
    parts = [(static / "base.css").read_text(encoding="utf-8"),
             (static / STYLE_FILES[config.report.style]).read_text(encoding="utf-8")]
    for i, path in enumerate(config.report.css):
        try:
            parts.append(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read the stylesheet: {exc.strerror}",
                              file=str(config.source), key=f"report.css[{i}]") from None
    css = "\n".join(parts)
    # CSS cannot close the <style> element it is placed in.
    return css.replace("</", "<\\/")


def methods_paragraphs(plan: "RenderPlan", cohort: "Cohort",
                       sections: Sequence[Section]) -> list[str]:
    """The statistical-methods text, written from what actually ran.

    Sentences come from the sections (each analysis describes its own tests and options),
    arranged by :func:`cohortpress.render.methods.compose_methods`: descriptive statistics and
    tests, survival, regression, missing data, then the software with versions.
    """
    from cohortpress.render.methods import compose_methods

    plugins = [(plugin_name(p, plan.config.folder), p.version) for p in plan.plugins.infos
               if p.source != "builtin"]
    return compose_methods(plan.config, cohort, sections, package_versions(), plugins)


def provenance(plan: "RenderPlan", cohort: "Cohort",
               sections: Sequence[Section] = ()) -> dict[str, Any]:
    from cohortpress.kit.disclosure import released_text
    from cohortpress.render.methods import streamed_sections

    config = plan.config
    rule = config.disclosure.rule() if getattr(config, "disclosure", None) else None
    return {
        "cohort_file": relative_path(cohort.source, config.folder),
        "sha256": cohort.sha256,
        "source_info": dict(getattr(cohort, "source_info", {})),
        "rows_streamed": streamed_sections(sections),
        "rows_read": cohort.n_rows_read if rule is None else released_text(cohort.n_rows_read,
                                                                           rule),
        "rows_used": cohort.n if rule is None else released_text(cohort.n, rule),
        "disclosure": rule.sentence() if rule is not None else None,
        "filter": cohort.filter_text,
        "config_file": config.source.name,
        "config_text": config.text,
        "versions": package_versions(),
        "plugins": [{"name": plugin_name(p, config.folder), "version": p.version,
                     "source": p.source} for p in plan.plugins.infos],
    }
