"""Rendering a section through the real Jinja templates, and checking the HTML it gives."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from cohortpress.testing.run import check_section

if TYPE_CHECKING:  # pragma: no cover
    from cohortpress.api.sections import Section


_SECTION_TEMPLATE = """\
{% for numbered in view.blocks %}
{% include "blocks/" ~ numbered.kind ~ ".html.j2" %}
{% endfor %}
"""

_VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                            "meta", "source", "track", "wbr"})


def assert_section_renders(section: "Section", *,
                           template_dirs: Iterable[str | os.PathLike[str]] = (),
                           plugin_files: Iterable[str | os.PathLike[str]] = (),
                           entry_points: bool = True, check_text: bool = True) -> str:
    """Render a section's blocks through the real Jinja templates and check the HTML.

    Each block is rendered with ``blocks/<kind>.html.j2`` from the same environment a build
    uses (sandboxed, autoescaping, ``StrictUndefined``; the template folders of
    ``template_dirs``, then of the plugins, then the built-in ones; filters added by
    ``cohortpress_prepare_jinja_env``).

    Checks: the build accepts the section; no cell reads ``None``; every template exists and
    renders; every text of the blocks (captions, cells, footnotes, paragraphs, alt text)
    appears in the HTML escaped, and none that holds markup characters appears raw; figures
    hold PNG data; the HTML's tags are balanced.

    Parameters
    ----------
    section : Section
        What an analysis returned (e.g. from :func:`run_analysis`).
    template_dirs : iterable of path
        Template folders searched first, such as your plugin's own ``templates`` folder when
        it is not installed.
    plugin_files : iterable of path
        Plugin files whose template folders and Jinja hooks to use.
    entry_points : bool
        Also use the installed plugins' template folders and Jinja hooks, as a build does.
    check_text : bool
        Check that every text appears in the HTML. Turn off for a template that leaves some
        text out on purpose; the check that nothing appears unescaped stays.

    Returns
    -------
    str
        The rendered HTML of the blocks.

    Raises
    ------
    AssertionError
        With what is wrong and the block it is in.
    """
    import jinja2
    from markupsafe import escape

    from cohortpress.api.blocks import ErrorBlock, Figure, Paragraph, Table
    from cohortpress.app.plugins import make_plugins
    from cohortpress.render.jinja import make_environment, number_blocks

    section = check_section(section, section.id if hasattr(section, "id") else "section")
    plugins = make_plugins([Path(p) for p in plugin_files], entry_points=entry_points)
    dirs = [Path(d) for d in template_dirs]
    dirs += [Path(d) for found in plugins.hook.cohortpress_template_dirs() for d in found or ()]
    env = make_environment(None, dirs)
    plugins.hook.cohortpress_prepare_jinja_env(env=env)
    view = number_blocks([section])[0]

    texts: list[tuple[str, str]] = []  # (where, text)
    for i, block in enumerate(section.blocks):
        where = f"block {i} ({block.kind})"
        if isinstance(block, Table):
            texts.append((f"{where} caption", block.caption))
            for part, rows in (("header", block.header), ("body", block.body)):
                for r, row in enumerate(rows):
                    for c, cell in enumerate(row.cells):
                        at = f"{where} {part} row {r} cell {c}"
                        if cell.text.strip() == "None":
                            raise AssertionError(f"{at} reads 'None' (format a missing value "
                                                 f"as '' or an en dash)")
                        texts.append((at, cell.text))
                        texts += [(f"{at} mark", m) for m in cell.marks]
            for n, note in enumerate(block.footnotes):
                texts.append((f"{where} footnote {n}", note.text))
        elif isinstance(block, Figure):
            if not bytes(block.png[:8]) == b"\x89PNG\r\n\x1a\n":
                raise AssertionError(f"{where}: png does not hold PNG data")
            texts += [(f"{where} caption", block.caption), (f"{where} alt", block.alt)]
        elif isinstance(block, Paragraph):
            texts.append((where, block.text))
        elif isinstance(block, ErrorBlock):
            texts.append((where, block.message))

    rendered = []
    for numbered in view.blocks:
        one = type(view)(view.section, (numbered,))
        try:
            html = env.from_string(_SECTION_TEMPLATE).render(view=one, section=section)
        except jinja2.TemplateNotFound as exc:
            raise AssertionError(f"no template for a '{numbered.kind}' block: {exc.name}") \
                from None
        except jinja2.TemplateError as exc:
            raise AssertionError(f"the template of a '{numbered.kind}' block failed: "
                                 f"{type(exc).__name__}: {exc}") from None
        rendered.append(html)
    html = "".join(rendered)

    # A table's numbers are set in parts (integer part and rest, render/tablehtml.py) and
    # its words in unbreakable spans: the text is looked for with the tags taken out too.
    plain = re.sub(r"<[^>]*>", "", html).replace("\u00a0", " ")
    for where, text in texts:
        if not text:
            continue
        escaped = str(escape(text))
        if escaped != text and text in html:
            raise AssertionError(f"{where}: {text!r} appears unescaped in the HTML")
        if check_text and escaped not in html and escaped.replace("\u00a0", " ") not in plain:
            raise AssertionError(f"{where}: {text!r} does not appear in the HTML")
    problem = _unbalanced_tags(html)
    if problem:
        raise AssertionError(f"the HTML of section '{section.id}' is malformed: {problem}")
    return html


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag not in _VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in _VOID_ELEMENTS or self.problem:
            return
        if not self.stack or self.stack[-1] != tag:
            opened = self.stack[-1] if self.stack else "nothing"
            self.problem = f"</{tag}> closes {'<' + opened + '>' if self.stack else opened}"
        else:
            self.stack.pop()


def _unbalanced_tags(html: str) -> str | None:
    checker = _TagChecker()
    checker.feed(html)
    checker.close()
    if checker.problem:
        return checker.problem
    if checker.stack:
        return f"<{checker.stack[-1]}> is never closed"
    return None
