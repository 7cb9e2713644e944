"""The "did you mean" hint that error messages end with."""

from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the choice closest to ``name``, or ``""`` when none is close.

    Closeness is :func:`difflib.get_close_matches`'s ratio with its default cutoff (0.6).
    """
    close = difflib.get_close_matches(name, sorted(str(c) for c in choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""
