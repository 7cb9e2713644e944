"""Generate the key tables of docs/config.md from the config schema and the analyses' options.

    python tools/gen_config_docs.py           # rewrite the tables in docs/config.md (make docs)
    python tools/gen_config_docs.py --check   # exit 1 if docs/config.md is not current

Every key of the config (core/config/) and every option of a built-in analysis (plugins/)
carries a one-line ``description`` and ``examples`` in its pydantic ``Field``; this script
turns each model into a Markdown table (key, type, default, allowed values, meaning,
example) and writes it between the marker comments of its block::

    <!-- generated: report -->
    ...
    <!-- end generated: report -->

The prose around the blocks is written by hand and kept as it is. A built-in analysis with
no block yet gets a heading, its one-line summary and its table, added before the line
``<!-- new analyses go above this line -->``. A block naming a model that no longer exists,
or a key without a description, is an error. tests/test_config_docs.py fails when the file
and this output disagree.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "config.md"
NEW_ANALYSES = "<!-- new analyses go above this line -->"
BLOCK = re.compile(r"(<!-- generated: (?P<id>[\w.\-]+) -->\n)(?P<body>.*?)"
                   r"(<!-- end generated: (?P=id) -->\n)", re.DOTALL)
HEADER = "| key | type | default | allowed values | meaning | example |\n" \
         "| --- | --- | --- | --- | --- | --- |\n"


class DocsError(Exception):
    """docs/config.md cannot be generated (a key without a description, an unknown block)."""


# --------------------------------------------------------------------------- the models


def models() -> dict[str, type[BaseModel]]:
    """Every block id and its model, in the order of the reference."""
    from cohortpress.config.disclosure import DisclosureSettings
    from cohortpress.config.schema import (DERIVED_TYPES, ENDPOINT_FORMS, Case, CohortSettings,
                                           Condition, Config, ReportSettings, SectionHead,
                                           VariableSettings)

    found: dict[str, type[BaseModel]] = {"file": Config, "report": ReportSettings,
                                         "cohort": CohortSettings, "condition": Condition,
                                         "variables": VariableSettings}
    for name, model in DERIVED_TYPES.items():
        found[f"derived.{name}"] = model
    found["derived.case.cases"] = Case
    for name, model in ENDPOINT_FORMS.items():
        found[f"endpoints.{name}"] = model
    found["disclosure"] = DisclosureSettings
    found["section"] = SectionHead
    for name, analysis in analyses().items():
        found[f"analysis.{name}"] = analysis.options
        for key, nested in nested_models(analysis.options):
            found[f"analysis.{name}.{key}"] = nested
    return found


def analyses() -> dict:
    """The built-in analyses by name, in the order the plugin manager registers them."""
    from cohortpress.app.plugins import make_plugins

    return dict(make_plugins(entry_points=False).analyses)


def nested_models(model: type[BaseModel]) -> list[tuple[str, type[BaseModel]]]:
    """Tables inside an options model (a variable's own keys in ``variables``, say);
    conditions are documented once, with ``cohort.filter``."""
    from cohortpress.config.schema import Condition

    found = []
    for name, field in model.model_fields.items():
        for inner in _models_in(field.annotation):
            if inner is not Condition:
                found.append((field.alias or name, inner))
    return found


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def documented_fields(model: type[BaseModel]) -> list[tuple[str, typing.Any]]:
    """The keys a user writes: (key as written, field), internal fields left out."""
    from cohortpress.config.schema import RESERVED_FILE_KEYS, Config

    own = [name for klass in model.__mro__[:1] for name in vars(klass).get("__annotations__", {})]
    order = [n for n in model.model_fields if n in own] + \
        [n for n in model.model_fields if n not in own]
    fields = []
    for name in order:
        field = model.model_fields[name]
        if model is Config and (name in RESERVED_FILE_KEYS or _models_in(field.annotation)):
            continue  # the tables ([report], ...) have blocks of their own
        fields.append((field.alias or name, field))
    return fields


# --------------------------------------------------------------------------- the cells


def toml_value(value) -> str:
    """A Python value as TOML writes it inline."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    if value is None:
        return "none"
    raise DocsError(f"cannot write {value!r} as TOML")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


_NAMES = {str: "text", int: "integer", float: "number", bool: "true/false", Path: "path"}


def field_type(field) -> str:
    """The type of a field; a required name of a variable keeps its marker in the metadata."""
    kind = next((getattr(m, "kind", None) for m in field.metadata if getattr(m, "kind", None)),
                None)
    return f"{kind} name" if kind else type_text(field.annotation)


def type_text(annotation) -> str:
    """A type as a config's reader thinks of it: "text", "list of variable names"..."""
    from cohortpress.config.schema import Condition

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        kind = next((getattr(m, "kind", None) for m in annotation.__metadata__
                     if getattr(m, "kind", None)), None)
        return f"{kind} name" if kind else type_text(args[0])
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        if {*kept} == {str, int, float, bool}:
            return "value"
        names = list(dict.fromkeys(type_text(a) for a in kept))
        return " or ".join(names)
    if origin is typing.Literal:
        return "text" if all(isinstance(a, str) for a in args) else type_text(type(args[0]))
    if origin in (list, tuple, set, frozenset):
        inner = type_text(args[0])
        return f"list of {_plural(inner)}"
    if origin is dict:
        return f"table of {_plural(type_text(args[1]))}"
    if annotation is Condition:
        return "condition"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _plural(text: str) -> str:
    words = {"text": "text", "value": "values", "true/false": "true/false"}
    return " or ".join(words.get(part, part + "s") for part in text.split(" or "))


def allowed_text(field) -> str:
    """The values a field takes: a Literal's, and the bounds of numbers and lists."""
    parts = [", ".join(f"`{toml_value(v)}`" for v in _literals(field.annotation))]
    if parts[0] and _also_free_text(field.annotation):
        parts[0] += " or another name"
    parts.append(_bounds(field.metadata))
    for inner in _annotated_items(field.annotation):
        if bounds := _bounds(inner):
            parts.append(f"each {bounds}")
    return "; ".join(p for p in parts if p)


def _literals(annotation) -> list:
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return [v for arg in typing.get_args(annotation) for v in _literals(arg)]


def _also_free_text(annotation) -> bool:
    return str in typing.get_args(annotation)


def _annotated_items(annotation) -> list[list]:
    """The constraints of list items (``list[TimePoint]``: each ≥ 0)."""
    found = []
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Annotated:
            found.append([m for meta in arg.__metadata__
                          for m in getattr(meta, "metadata", [meta])])
        else:
            found.extend(_annotated_items(arg))
    return found


def _bounds(metadata) -> str:
    found = {}
    for item in metadata:
        for name in ("ge", "gt", "le", "lt", "min_length", "pattern"):
            if getattr(item, name, None) is not None:
                found[name] = getattr(item, name)
    words = []
    low = ("≥", found["ge"]) if "ge" in found else ((">", found["gt"]) if "gt" in found else None)
    high = ("≤", found["le"]) if "le" in found else (("<", found["lt"]) if "lt" in found else None)
    if low and high and low[0] == "≥" and high[0] == "≤":
        words.append(f"{low[1]:g} to {high[1]:g}")
    else:
        words += [f"{sign} {v:g}" for sign, v in (b for b in (low, high) if b)]
    if "min_length" in found:
        words.append(f"at least {found['min_length']}")
    if "pattern" in found:
        words.append(f"matching `{found['pattern']}`")
    return ", ".join(words)


def default_text(field) -> str:
    if field.is_required():
        return "required"
    default = field.default_factory() if field.default_factory is not None else field.default
    if default is None:
        return "none"
    return f"`{toml_value(default)}`"


def example_text(field) -> str:
    return f"`{toml_value(field.examples[0])}`" if field.examples else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(block: str, model: type[BaseModel]) -> str:
    """The Markdown table of a model's keys."""
    rows = []
    for key, field in documented_fields(model):
        if not (field.description or "").strip():
            raise DocsError(f"{model.__module__}.{model.__name__}.{key} has no description: "
                            f"give it Field(..., description=\"one line\", examples=[...])")
        cells = [f"`{key}`", field_type(field), default_text(field),
                 allowed_text(field), field.description.strip(), example_text(field)]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |\n")
    return HEADER + "".join(rows)


# --------------------------------------------------------------------------- the file


def render(text: str) -> str:
    """docs/config.md with every generated block rewritten, and blocks for new analyses."""
    blocks = models()
    present = [m["id"] for m in BLOCK.finditer(text)]
    unknown = [b for b in present if b not in blocks]
    if unknown:
        raise DocsError(f"docs/config.md has blocks for what no longer exists: "
                        f"{', '.join(unknown)}; remove them")
    missing = [b for b in blocks if b not in present]
    if missing:
        text = _add_missing(text, missing)
    return BLOCK.sub(lambda m: m[1] + table(m["id"], blocks[m["id"]]) + m[4], text)


def _add_missing(text: str, missing: list[str]) -> str:
    """A new analysis gets its section; any other model needs its block placed by hand."""
    by_hand = [b for b in missing if not b.startswith("analysis.")]
    if by_hand:
        raise DocsError(f"docs/config.md has no block for {', '.join(by_hand)}: add "
                        f"'<!-- generated: ID -->' and '<!-- end generated: ID -->' lines "
                        f"where it belongs")
    if NEW_ANALYSES not in text:
        raise DocsError(f"docs/config.md has no line '{NEW_ANALYSES}'")
    known = analyses()
    added = ""
    for block in missing:
        name = block.removeprefix("analysis.")
        summary = known[name].summary.strip().rstrip(".") if name in known else ""
        heading = f"### `{name}`\n\n" + (f"{summary}.\n\n" if summary else "") \
            if name in known else ""
        added += f"{heading}<!-- generated: {block} -->\n<!-- end generated: {block} -->\n\n"
    return text.replace(NEW_ANALYSES, added + NEW_ANALYSES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/config.md is not current, without writing it")
    args = parser.parse_args(argv)
    current = OUTPUT.read_text(encoding="utf-8")
    try:
        wanted = render(current)
    except DocsError as exc:
        print(f"gen_config_docs: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if wanted != current:
            print("docs/config.md is out of date: run make docs", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        OUTPUT.write_text(wanted, encoding="utf-8", newline="\n")
        print(f"wrote {OUTPUT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
