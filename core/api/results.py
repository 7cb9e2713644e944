"""The records of ``results.json``: every number a section shows, unrounded."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Result:
    """One record of ``results.json``: the long "analysis results data" layout.

    Statistic names follow broom (``statistic``, ``p.value``, ``estimate``, ``std.error``,
    ``conf.low``, ``conf.high``) and R's cards package (``n``, ``N``, ``p``, ``median``...).
    ``stat`` is unrounded; ``formatted`` is the text the report shows, if it shows it.
    The core fills ``section``. ``disclosure`` is set only under a ``[disclosure]`` rule, on
    a number the rule released ("suppressed: fewer than 10", "rounded: ..."): then ``stat``
    is the released value (``None`` when hidden), not the full data's.
    """

    context: str
    stat_name: str
    stat: Any
    variable: str | None = None
    variable_level: Any = None
    group: str | None = None
    group_level: Any = None
    formatted: str | None = None
    section: str | None = None
    disclosure: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The record as written to ``results.json`` (non-finite numbers become null; the
        ``disclosure`` field only on a number a disclosure rule released)."""
        fields = {
            "section": self.section,
            "context": self.context,
            "variable": self.variable,
            "variable_level": _plain(self.variable_level),
            "group": self.group,
            "group_level": _plain(self.group_level),
            "stat_name": self.stat_name,
            "stat": _plain(self.stat),
            "formatted": self.formatted,
        }
        if self.disclosure is not None:
            fields["disclosure"] = self.disclosure
        return fields


def _plain(value: Any) -> Any:
    """A JSON-safe scalar: numpy numbers to Python, NaN and infinities to None."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (int, float)):
        return value
    return str(value)
