"""The hooks a cohortpress plugin can implement.

Every hook is prefixed ``cohortpress_``. A plugin is a module (or object) with functions
decorated by :data:`cohortpress.hookimpl`, registered either as a built-in, through the
``cohortpress`` entry-point group of an installed distribution, or as a Python file named
in the config's ``plugins`` list. The built-in analyses use exactly these hooks.

The set is small on purpose; each hook has a test and this docstring is the reference
(``docs/hooks.md`` is generated from it by ``tools/gen_hook_docs.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import jinja2

    from cohortpress.config.schema import Config
    from cohortpress.api.sections import Analysis, Section
    from cohortpress.data.files import RawCohort

hookspec = pluggy.HookspecMarker("cohortpress")


@hookspec
def cohortpress_analyses() -> Sequence["Analysis"]:
    """Return the analyses this plugin provides.

    Runs once per command, when the plugin manager is built. All plugins are called; an
    analysis name must be unique across plugins (a clash is reported as a load error of the
    later plugin).

    Returns
    -------
    sequence of Analysis
    """


@hookspec(firstresult=True)
def cohortpress_read_cohort(path: Path, fmt: str, columns: Sequence[str] | None,
                            options: dict[str, Any]) -> "RawCohort | None":
    """Read a cohort file, or return ``None`` to let another reader try.

    First-result: the first reader that returns a value wins. The built-in reader handles
    ``csv``, ``parquet``, ``excel``, ``spss`` and ``stata``; a plugin can add formats (or
    take over one) by returning a :class:`cohortpress.RawCohort`.

    Parameters
    ----------
    path : Path
        The cohort file, resolved against the config's folder.
    fmt : str
        The format named in the config, or guessed from the suffix.
    columns : sequence of str or None
        The columns the report uses; read only these when the format allows it.
    options : dict
        Reader options from ``[cohort]`` (``sheet``, ``encoding``, ``delimiter``).
    """


@hookspec
def cohortpress_template_dirs() -> Sequence[Path]:
    """Return folders of Jinja templates this plugin ships.

    They are searched after the user's template folder and before the built-in templates,
    so a plugin can provide ``blocks/<kind>.html.j2`` for its own block kinds (sections may
    hold :class:`cohortpress.CustomBlock` values) or override a built-in template.
    Runs once per build.
    """


@hookspec
def cohortpress_prepare_jinja_env(env: "jinja2.Environment") -> None:
    """Adjust the Jinja environment (add filters, globals) before rendering.

    All plugins are called, last registered first (pluggy's order: plugin files named in
    the config, then installed plugins, then the built-ins). The environment is sandboxed and
    autoescaping; keep it that way.
    """


@hookspec(firstresult=True)
def cohortpress_process_sections(sections: list["Section"],
                                 config: "Config") -> Sequence["Section"] | None:
    """Modify, reorder or add sections after all analyses ran and before rendering.

    ``sections`` is a list that the implementations change in place (``sections[:] = ...``,
    ``sections.append(...)``, ``sections.sort(...)``), in pluggy's order (last registered
    first), each seeing it as the previous one left it; return ``None``. Sections are
    immutable: put new ones in the list (``dataclasses.replace``). An implementation may
    declare only the arguments it needs.

    First-result: an implementation that returns a sequence ends the chain, and that
    sequence is what the report shows. The hook is called once, through pluggy, so a
    wrapper (``@hookimpl(wrapper=True)``) wraps the whole chain: after its ``yield`` the
    list holds the chain's changes and the ``yield`` gives the returned sequence (or
    ``None``); what the wrapper returns replaces it.
    """


@hookspec(firstresult=True)
def cohortpress_render_pdf(html: str, output: Path, settings: dict[str, Any]) -> bool | None:
    """Write the report's HTML as a PDF to ``output``; return True when done.

    First-result: the built-in implementation uses WeasyPrint with a URL fetcher that only
    allows ``data:`` URLs and the package's own static files. ``settings`` holds ``title``,
    ``language``, ``date`` (the report's date, or ``None``), ``pdf_variant`` (``None`` or
    ``"pdf/a-3b"``), ``attachments`` (paths to embed), ``base_url`` and ``static`` (the
    folder of the package's static files).

    When no plugin implements this hook, the build runs the built-in renderer in a worker
    process started as soon as the config is read, so that WeasyPrint loads while the
    analyses run; a plugin's implementation is called in the build's own process, after the
    table exports are written.
    """
