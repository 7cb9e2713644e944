"""Checks of a cause column's code lists (``[endpoints.NAME]`` from time/event columns): each
code has one meaning, and ``cause_labels`` names only competing codes."""

from __future__ import annotations

from typing import Any

from cohortpress.common.suggest import did_you_mean

#: The keys of a cause column that a date endpoint cannot have.
CAUSE_KEYS = ("competing_codes", "cause_labels", "missing_cause")


def code_text(code: Any) -> str:
    """A code as the cohort's text shows it (1.0 and 1 are the same code)."""
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code).strip()


def check_cause_codes(endpoint):
    """The endpoint settings, checked: ValueError when a code is listed twice or a cause
    label names no competing code."""
    seen: dict[str, str] = {}
    for key in ("event_codes", "censor_codes", "competing_codes"):
        for code in getattr(endpoint, key):
            text = code_text(code)
            if text in seen:
                where = "twice in " + key if seen[text] == key else \
                    f"in both {seen[text]} and {key}"
                raise ValueError(f"code '{text}' is listed {where}; each code has one meaning")
            seen[text] = key
    competing = sorted({code_text(c) for c in endpoint.competing_codes})
    for code in endpoint.cause_labels:
        if code not in competing:
            raise ValueError(f"cause_labels names code '{code}', which is not among "
                             f"competing_codes {competing}{did_you_mean(code, competing)}")
    return endpoint
