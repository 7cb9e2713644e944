"""The abbreviations list: each abbreviation the report's text uses, and only those.

An analysis offers the abbreviations its blocks may use (``Section.abbreviations``: "HR",
"CI", "SE"); whether a given report uses one depends on its options (a survival table shows
"SE" only with ``estimate = "se"``). An offered abbreviation is therefore listed only when it
appears, as a whole word, in the text the report prints: the title, the sections' tables,
footnotes, captions, figure descriptions and paragraphs, and the methods. The same holds for
those the config lists under ``[report.abbreviations]`` (a config shared by several reports
may list more than one report uses); the config's wording wins over an analysis's.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from cohortpress.api.sections import Section


def abbreviations(config, sections: Sequence[Section],
                  methods: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``(short, long)`` pairs to list, sorted case-insensitively by the short form."""
    text = "\n".join([*report_text(config), *methods,
                      *(t for section in sections for t in section_text(section))])
    merged: dict[str, str] = {}
    for section in sections:
        for short, long in section.abbreviations:
            if uses(text, short):
                merged[short] = long
    merged.update((short, long) for short, long in config.report.abbreviations.items()
                  if uses(text, short))
    return sorted(merged.items(), key=lambda kv: kv[0].lower())


def uses(text: str, short: str) -> bool:
    """Whether ``short`` occurs in ``text`` as a word of its own ("HR", not "CHR")."""
    return re.search(rf"(?<![\w]){re.escape(short)}(?![\w])", text) is not None


def report_text(config) -> Iterable[str]:
    report = config.report
    for name in ("title", "subtitle", "notice"):
        value = getattr(report, name, None)
        if isinstance(value, str):
            yield value


def section_text(section: Section) -> Iterable[str]:
    """Every piece of text a section prints, its warnings included."""
    yield section.title or ""
    yield from (w for w in section.warnings)
    for block in section.blocks:
        yield from _block_text(block)


def _block_text(block) -> Iterable[str]:
    kind = getattr(block, "kind", "")
    if kind == "table":
        yield block.caption
        for row in (*block.header, *block.body):
            yield from (cell.text for cell in row.cells if cell is not None)
        yield from (note.text for note in block.footnotes)
    elif kind == "figure":
        yield block.caption
        yield block.alt
    elif kind == "paragraph":
        yield block.text
    elif kind == "error":
        yield block.message
    else:  # a plugin's own block: its label and any text it carries
        for name in ("label", "caption", "text"):
            value = getattr(block, name, None)
            if isinstance(value, str):
                yield value
        data = getattr(block, "data", None)
        if data is not None:
            yield str(data)
