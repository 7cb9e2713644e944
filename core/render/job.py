"""What the render layer needs to know about a build, as a protocol.

The application layer's ``Plan`` satisfies it; the render layer never imports the
application layer, so it names only what it uses: the config, the hooks that add
templates, prepare the Jinja environment and render the PDF, and the list of plugins
cited in the provenance.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence


class PluginRecord(Protocol):
    """A loaded plugin as the provenance cites it."""

    name: str
    version: str
    source: str  # "builtin", "entry point" or "file"


class PluginHooks(Protocol):
    hook: Any  # pluggy's hook relay: cohortpress_template_dirs, _prepare_jinja_env, _render_pdf
    infos: Sequence[PluginRecord]


class RenderPlan(Protocol):
    """A validated build: its config and its plugins."""

    config: Any  # cohortpress.config.schema.Config
    plugins: PluginHooks
