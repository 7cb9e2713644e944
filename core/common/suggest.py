""""Did you mean" suggestions for a misspelt name: one wording for every message.

The standard library's :func:`difflib.get_close_matches` finds the closest name; this module
only fixes how the suggestion reads, so that every error names it the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[object]) -> str:
    """The suggestion to append to an "unknown name" message.

    Parameters
    ----------
    name : str
        The name as written.
    choices : iterable
        The names that exist (any objects; compared as text).

    Returns
    -------
    str
        ``"; did you mean 'x'?"`` for the closest choice (similarity ratio at least 0.6),
        or ``""`` when none is close.
    """
    close = difflib.get_close_matches(name, [str(choice) for choice in choices], n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def did_you_mean_dotted(name: str, choices: Iterable[object]) -> str:
    """:func:`did_you_mean` for dotted names (``cohortpress.plugins.logistic``), which users
    often write by their last part: ``"logistc"`` suggests the whole name whose last part is
    close."""
    names = [str(choice) for choice in choices]
    if hint := did_you_mean(name, names):
        return hint
    by_tail = {full.rsplit(".", 1)[-1]: full for full in names}
    close = difflib.get_close_matches(name.rsplit(".", 1)[-1], list(by_tail), n=1)
    return f"; did you mean '{by_tail[close[0]]}'?" if close else ""
