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
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cohortpress.common.errors import UserError
from cohortpress.common.formatting import format_p, fmt_num
from cohortpress.api.blocks import Figure, Table
from cohortpress.api.sections import Section

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
    """Render ``template`` within ``timeout`` seconds (user templates can loop forever)."""
    timeout = render_timeout(timeout)
    outcome: dict[str, Any] = {}

    def work():
        try:
            try:
                outcome["html"] = env.get_template(template).render(**context)
            except _RenderInterrupted:
                pass
            except BaseException as exc:  # re-raised in the caller's thread
                outcome["error"] = exc
        except _RenderInterrupted:  # a second interruption, sent while unwinding
            pass

    thread = threading.Thread(target=work, name="render", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        _interrupt(thread)
        raise UserError(f"rendering the templates took longer than {timeout:g} s "
                        f"(a template loop that does not end?)", file=template)
    error = outcome.get("error")
    if error is not None:
        raise _template_error(error, template)
    return outcome["html"]


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


class _RenderInterrupted(BaseException):
    """Raised inside a render thread that ran past its time limit."""


def _interrupt(thread: threading.Thread) -> None:
    """Stop a runaway render thread so it does not burn a CPU for the rest of the process.

    Jinja compiles templates to Python code, so an exception set asynchronously in the
    thread is raised at its next bytecode. It can be lost (raised inside a ``__del__`` or a
    weakref callback that the garbage collector happens to run in that thread, where
    Python only prints it), so it is sent again until the thread has ended: for a few
    seconds here, then by a daemon watchdog. The render thread is a daemon in any case.
    """
    import ctypes
    import time

    if thread.ident is None:  # pragma: no cover - the thread was started
        return

    def send() -> None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                   ctypes.py_object(_RenderInterrupted))

    def keep_sending(until: float) -> None:
        while thread.is_alive() and time.monotonic() < until:
            send()
            thread.join(0.25)

    keep_sending(time.monotonic() + 5.0)
    if thread.is_alive():
        threading.Thread(target=keep_sending, args=(time.monotonic() + 600.0,),
                         name="render-stopper", daemon=True).start()


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
