"""How a pydantic validation error reads in a config error: the words of a TOML file.

pydantic's own messages speak of Python ("input should be a valid string"); the config's
errors say what was found and what is expected ("found the number 3; expected a text in
quotes"), with the allowed values and a "did you mean" for a misspelt one. The helpers here
know nothing of the config's models; :mod:`cohortpress.config.schema` applies them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cohortpress.common.suggest import did_you_mean


#: The tags pydantic puts in an error's location for each branch of a union.
BRANCH_TAGS = {"str", "int", "float", "bool", "list[...]", "dict[str,...]"}


def is_model_tag(part: Any) -> bool:
    return isinstance(part, str) and part.endswith(("Spec", "Options", "Derived", "Settings"))


def without_losing_union_branches(errors: list[dict]) -> list[dict]:
    """For a value that may be a name or a table (``"sex"`` or ``{variable = "sex", ...}``),
    the errors of the branch the user wrote: a table is judged as a table."""
    tables = [e for e in errors if any(is_model_tag(p) for p in e["loc"])]
    if not tables:
        return errors
    names = {tuple(e["loc"][:-1]) for e in errors
             if e["loc"] and e["loc"][-1] == "str" and e["type"] == "string_type"}
    for e in tables:  # neither a name nor a table: say that both are allowed
        if e["type"] in ("model_type", "model_attributes_type") and tuple(e["loc"][:-1]) in names:
            e["type"] = "name_or_table_type"
    prefixes = {tuple(e["loc"][:next(i for i, p in enumerate(e["loc"]) if is_model_tag(p))])
                for e in tables}
    return [e for e in errors if not (e["loc"] and e["loc"][-1] in BRANCH_TAGS
                                      and tuple(e["loc"][:-1]) in prefixes)]


def join_path(prefix: str, loc: tuple) -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


#: What each kind of pydantic error expected, in the words of a TOML file (pydantic's own
#: messages speak of Python types: "input should be a valid string").
EXPECTED = {
    "string_type": "a text in quotes",
    "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "list_type": "a list in square brackets",
    "tuple_type": "a list in square brackets",
    "set_type": "a list in square brackets",
    "dict_type": "a table ({{ key = value }} or a [heading])",
    "model_type": "a table ({{ key = value }} or a [heading])",
    "name_or_table_type": "a name in quotes or a table ({{ variable = \"name\", ... }})",
    "model_attributes_type": "a table ({{ key = value }} or a [heading])",
    "greater_than": "a number greater than {gt}",
    "greater_than_equal": "a number of at least {ge}",
    "less_than": "a number less than {lt}",
    "less_than_equal": "a number of at most {le}",
    "too_short": "at least {min_length} item(s)",
    "too_long": "at most {max_length} item(s)",
    "string_too_short": "a text of at least {min_length} character(s)",
    "string_too_long": "a text of at most {max_length} characters",
    "date_type": "a date such as 2024-05-31", "date_parsing": "a date such as 2024-05-31",
    "date_from_datetime_parsing": "a date such as 2024-05-31",
    "path_type": "a file path in quotes",
    "multiple_of": "a multiple of {multiple_of}",
    # The one pattern of the config: section ids, used in file names and links.
    "string_pattern_mismatch": "a name of letters, digits, '_', '.' and '-' that starts "
                               "with a letter or digit (no spaces)",
}


def expected(error: dict) -> str:
    """What was expected, with the bounds as a TOML file writes them (1, not 1.0)."""
    ctx = {key: int(value) if isinstance(value, float) and value.is_integer() else value
           for key, value in error.get("ctx", {}).items()}
    text = EXPECTED[error["type"]].format(**ctx)
    return text.replace(" 1 item(s)", " 1 item").replace(" 1 character(s)", " 1 character") \
        .replace("(s)", "s")


def found(value: Any) -> str:
    """A value as the TOML file wrote it, with what kind of value it is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {value!r}" if len(value) <= 40 else f"the text {value[:37]!r}…"
    if isinstance(value, (list, tuple)):
        if not value:
            return "an empty list"
        shown = repr(list(value))
        return f"the list {shown}" if len(shown) <= 40 else f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "a table" if value else "an empty table"
    return f"a {type(value).__name__}"


def literal_message(error: dict) -> str:
    """"'fischer' is not allowed; use one of 'fisher', 'chisq'; did you mean 'fisher'?"."""
    import re

    allowed = re.findall(r"'((?:[^'\\]|\\.)*)'|(\b[-+.\w]+\b)",
                         str(error.get("ctx", {}).get("expected", "")))
    allowed = [quoted or bare for quoted, bare in allowed if (quoted or bare) != "or"]
    value = error.get("input")
    shown = ", ".join(f"'{a}'" for a in allowed)
    hint = did_you_mean(str(value), allowed) if isinstance(value, str) else ""
    return f"{value!r} is not allowed; use one of {shown}{hint}"


def key_hint(word: str, known: list[str]) -> str:
    """The closest allowed key, or failing that the list of allowed keys."""
    if close := did_you_mean(word, known):
        return close
    if known:
        return f"; allowed keys: {', '.join(sorted(known))}"
    return ""


def has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(part, int) and 0 <= part < len(node)


def model_of(annotation: Any):
    import typing

    stack = [annotation]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
        stack.extend(typing.get_args(item))
    return None


#: tomllib's messages, in the words of the other config errors (the line and column are
#: kept apart and put first).
TOML_MESSAGES = {
    "Cannot overwrite a value": "this key already has a value (is it given twice?)",
    "Expected '=' after a key in a key/value pair": "expected '=' after the key "
                                                    "(key = value)",
    "Invalid value": "not a value: a text needs quotes (key = \"text\"), a list brackets",
    "Unterminated string": "a text is not closed by its quote",
    "Invalid statement": "expected a key = value line or a [table] heading",
    "Expected newline or end of document after a statement":
        "expected the end of the line after the value",
    "Unclosed array": "a list is not closed by ']'",
    "Unclosed inline table": "a { ... } table is not closed by '}' on the same line",
    "Invalid initial character for a key part": "a key starts with a letter, a digit, "
                                                "'_' or '-', or is quoted",
    "Cannot mutate immutable namespace": "a table cannot be extended after it was closed",
    "Invalid date or datetime": "not a valid date or time",
    # inside a text, a line end before the closing quote
    "Illegal character '\\n'": "a text is not closed by its quote on its line",
}


def toml_error_text(exc: Exception) -> str:
    """A TOML syntax error as one line: where, then what (``not valid TOML at line 3, column
    9: a text is not closed by its quote``)."""
    import re

    text = " ".join(str(exc).split())
    where = ""
    match = re.fullmatch(r"(.*) \((at line \d+, column \d+|at end of document)\)", text)
    if match:
        text, where = match.group(1), " " + match.group(2)
    twice = re.fullmatch(r"Cannot declare \((.*),\) twice", text) or \
        re.fullmatch(r"Cannot declare \((.*)\) twice", text)
    if twice:
        table = ".".join(part.strip().strip("'\"") for part in twice.group(1).split(","))
        what = f"the table [{table}] is declared twice"
    else:
        what = TOML_MESSAGES.get(text) or (text[:1].lower() + text[1:])
    return f"not valid TOML{where}: {what}"
