"""The Jinja side of rendering: the environment, the numbering of tables and figures, and
rendering a template within a time limit.

The environment is sandboxed, autoescaping (``autoescape=True`` explicitly:
``select_autoescape`` does not match ``*.html.j2``) and uses ``StrictUndefined``. Templates
are looked up in the user's folder, then in plugin folders, then in the built-in package;
``default:NAME`` always reaches the built-in template, so a user template can extend the
one it replaces (``{% extends "default:report.html.j2" %}``).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cohortpress.common.errors import UserError
from cohortpress.common.formatting import format_p, fmt_num
from cohortpress.api.blocks import Figure, Table
from cohortpress.api.sections import Section
from cohortpress.common.timelimit import TimeLimitExceeded, call_with_time_limit
from cohortpress.render.tablefit import fit as table_fit
from cohortpress.render.tablehtml import html_table

def static_dir() -> Path:
    """The package's static folder (CSS and fonts); the only local files a PDF may read."""
    from importlib.resources import files

    return Path(str(files("cohortpress.templates") / "static")).resolve()


def make_environment(user_dir: Path | None = None,
                     plugin_dirs: Sequence[Path] = ()) -> jinja2.Environment:
    """The sandboxed Jinja environment with the loader chain user ▸ plugins ▸ built-in."""
    builtin = jinja2.PackageLoader("cohortpress.templates", ".")
    chain: list[jinja2.BaseLoader] = []
    if user_dir is not None:
        chain.append(jinja2.FileSystemLoader(str(user_dir)))
    chain.extend(jinja2.FileSystemLoader(str(d)) for d in plugin_dirs)
    chain.append(jinja2.PrefixLoader({"default": builtin}, delimiter=":"))
    chain.append(builtin)
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.ChoiceLoader(chain),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pvalue"] = format_p
    env.filters["num"] = fmt_num
    env.filters["data_uri"] = png_data_uri
    env.globals["table_html"] = html_table
    env.globals["table_fit"] = table_fit
    return env


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass(frozen=True)
class NumberedBlock:
    """A block with the label the report gives it ("Table 2", "Figure 1")."""

    label: str
    block: Any
    anchor: str

    @property
    def kind(self) -> str:
        return self.block.kind


@dataclass(frozen=True)
class SectionView:
    section: Section
    blocks: tuple[NumberedBlock, ...]

    @property
    def id(self) -> str:
        return self.section.id

    @property
    def title(self) -> str:
        return self.section.title


def number_blocks(sections: Sequence[Section]) -> list[SectionView]:
    """Number tables and figures in reading order, across the whole report."""
    tables = figures = 0
    views = []
    for section in sections:
        numbered = []
        for i, block in enumerate(section.blocks):
            if isinstance(block, Table):
                tables += 1
                label, anchor = f"Table {tables}", f"table-{tables}"
            elif isinstance(block, Figure):
                figures += 1
                label, anchor = f"Figure {figures}", f"figure-{figures}"
            else:
                label, anchor = "", f"{section.id}-{i}"
            numbered.append(NumberedBlock(label, block, anchor))
        views.append(SectionView(section, tuple(numbered)))
    return views


def render_html(env: jinja2.Environment, context: dict[str, Any], *,
                template: str = "report.html.j2", timeout: float = 60.0) -> str:
    """Render ``template`` within ``timeout`` seconds (user templates can loop forever).

    The rendering runs under :func:`cohortpress.common.timelimit.call_with_time_limit`: in a
    forked child killed when it runs over (in a thread left behind where there is no fork).
    Template errors become UserErrors in the child already, so that they cross as such.
    """
    timeout = render_timeout(timeout)

    def render() -> str:
        try:
            return env.get_template(template).render(**context)
        except Exception as exc:
            raise _template_error(exc, template) from None

    try:
        return call_with_time_limit(render, timeout)
    except TimeLimitExceeded:
        raise UserError(f"rendering the templates took longer than {timeout:g} s "
                        f"(a template loop that does not end?)", file=template) from None


#: Overrides the render time limit (seconds): for tests, and for machines much slower than
#: the one the default was chosen on.
TIMEOUT_VARIABLE = "COHORTPRESS_RENDER_TIMEOUT"


def render_timeout(default: float) -> float:
    """The render time limit: ``$COHORTPRESS_RENDER_TIMEOUT`` when set, else ``default``."""
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise UserError(f"must be a positive number of seconds, got {text!r}",
                        key=f"${TIMEOUT_VARIABLE}")
    return value


def _template_error(error: BaseException, template: str) -> BaseException:
    if isinstance(error, jinja2.TemplateSyntaxError):
        return UserError(f"template syntax error: {error.message}",
                         file=f"{error.filename or error.name or template}:{error.lineno}")
    if isinstance(error, jinja2.TemplateNotFound):
        return UserError(f"template not found: {error.name}", file=template)
    if isinstance(error, jinja2.UndefinedError):
        return UserError(f"template uses an undefined value: {error.message}", file=template)
    if isinstance(error, jinja2.sandbox.SecurityError):
        return UserError(f"template tried something the sandbox forbids: {error}", file=template)
    return error
