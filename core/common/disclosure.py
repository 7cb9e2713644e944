"""The disclosure rule: which counts a report may release, and as what.

Registry and trust data may leave a secure environment only when small counts are hidden.
:class:`DisclosureRule` is such a rule (a threshold and a rounding base); the functions here
apply it to one number at a time, as pure functions of counts, so that every layer above
(the records, the tables, the text, the exports) releases a count the same way.

The rule, in the order it is applied:

1. a count of 0 is released as 0 (an empty cell is not a small group of people);
2. a count from 1 to ``min_count - 1`` is suppressed: shown as ``<min_count`` ("<10");
3. every other count is rounded to the nearest multiple of ``round_to`` (halves up), as
   OpenSAFELY does after redaction, so that a hidden cell cannot be recovered exactly by
   subtracting released cells from a released total. A rounded count never falls below
   ``min_count``: 10 with ``round_to = 20`` is released as 20, not 0.

A proportion is released only as the ratio of released counts (its numerator suppressed: it
is suppressed too), never from the unrounded counts, since a percentage of a shown
denominator gives its numerator back.

Secondary suppression (hiding other cells of a row or column so that a hidden cell cannot be
derived from its margin) needs the table's structure and lives in
:mod:`cohortpress.stats.suppression`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Statistic names (``stat_name`` of a results record) that count patients or events.
COUNT_STAT_NAMES = frozenset({
    "n", "N", "N_obs", "N_miss", "N_unknown", "N_filter_unknown", "n.event", "n.risk",
    "n.censor", "n.event.cum", "n.censor.cum", "n.competing", "nobs", "n.incomplete",
    "n.cluster", "n.excluded", "n_rows", "concordance.pairs.concordant",
    "concordance.pairs.discordant", "concordance.pairs.tied",
})


@dataclass(frozen=True)
class Preset:
    """A named rule as an organisation publishes it."""

    name: str
    min_count: int
    round_to: int
    source: str


#: The named rules ``[disclosure] preset`` accepts, with where each comes from.
PRESETS: dict[str, Preset] = {
    "opensafely": Preset(
        "opensafely", min_count=8, round_to=5,
        source="OpenSAFELY output checking: counts of 7 or fewer are redacted and the "
               "others rounded to the nearest 5 (OpenSAFELY documentation, \"Releasing "
               "research outputs\" and its statistical disclosure control guidance)"),
    "small-numbers-10": Preset(
        "small-numbers-10", min_count=10, round_to=5,
        source="the UK \"small numbers\" convention of ONS and NHS England releases of "
               "health data: counts below 10 are not published, and other counts are "
               "rounded to the nearest 5 so that a suppressed cell cannot be recovered "
               "from the totals"),
}


@dataclass(frozen=True)
class DisclosureRule:
    """A disclosure rule: counts below ``min_count`` hidden, the rest rounded to ``round_to``.

    Attributes
    ----------
    min_count : int
        The smallest count released (at least 2).
    round_to : int
        Released counts are multiples of this (1: not rounded).
    preset : str or None
        The preset the rule came from, if any (see :data:`PRESETS`).
    """

    min_count: int
    round_to: int = 1
    preset: str | None = None

    @property
    def hidden_text(self) -> str:
        """What a suppressed count shows: ``<10``."""
        return f"<{self.min_count}"

    def sentence(self) -> str:
        """The rule in one sentence, for the title page, the methods and the provenance."""
        rounded = (f"; every other count was rounded to the nearest multiple of "
                   f"{self.round_to}, and percentages were computed from the rounded counts"
                   if self.round_to > 1 else "")
        named = f" ({PRESETS[self.preset].source})" if self.preset in PRESETS else ""
        return (f"Small-number disclosure control was applied{named}: counts from 1 to "
                f"{self.min_count - 1} are shown as {self.hidden_text}{rounded}; further "
                f"cells were hidden where a hidden count could otherwise be derived from "
                f"the totals. Statistics were computed on the full data.")


@dataclass(frozen=True)
class ReleasedCount:
    """A count as released under a rule.

    Attributes
    ----------
    value : int or None
        The released count (None: suppressed).
    text : str
        What the report prints (``"15"``, ``"<10"``).
    action : str
        ``"suppressed"``, ``"rounded"`` (the released value is a rounded one, whether or
        not rounding changed it) or ``"shown"`` (0, or a rule without rounding).
    reason : str
        Why, in words a reader of the disclosure log understands; never the hidden value.
    """

    value: int | None
    text: str
    action: str
    reason: str

    @property
    def suppressed(self) -> bool:
        return self.value is None


def round_count(n: int, round_to: int) -> int:
    """``n`` to the nearest multiple of ``round_to``, halves up (12.5 does not occur for
    odd bases; with an even base, 15 → 20 for ``round_to = 10``)."""
    if round_to <= 1:
        return int(n)
    return int(math.floor(n / round_to + 0.5)) * round_to


def release_count(n: int, rule: DisclosureRule) -> ReleasedCount:
    """The count ``n`` as the rule releases it (see the module docstring for the rule).

    Examples
    --------
    >>> rule = DisclosureRule(min_count=10, round_to=5)
    >>> release_count(3, rule).text, release_count(12, rule).text, release_count(13, rule).text
    ('<10', '10', '15')
    >>> release_count(0, rule).value
    0
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"a count cannot be negative: {n}")
    if n == 0:
        return ReleasedCount(0, "0", "shown", "zero")
    if n < rule.min_count:
        return ReleasedCount(None, rule.hidden_text, "suppressed",
                             f"fewer than {rule.min_count}")
    if rule.round_to <= 1:
        return ReleasedCount(n, str(n), "shown", f"at least {rule.min_count}")
    value = max(round_count(n, rule.round_to), _smallest_release(rule))
    return ReleasedCount(value, str(value), "rounded",
                         f"rounded to the nearest {rule.round_to}")


def _smallest_release(rule: DisclosureRule) -> int:
    """The smallest multiple of ``round_to`` at or above ``min_count``."""
    return -(-rule.min_count // rule.round_to) * rule.round_to


def hide(reason: str, rule: DisclosureRule) -> ReleasedCount:
    """A count hidden for a reason other than its own size (secondary suppression)."""
    return ReleasedCount(None, rule.hidden_text, "suppressed", reason)


def release_share(numerator: ReleasedCount, denominator: ReleasedCount) -> float | None:
    """The proportion a reader may see: released numerator over released denominator.

    None when either is suppressed or the denominator is 0: a percentage of a hidden count,
    or of a shown total with a hidden numerator, would give the hidden count back.
    """
    if numerator.suppressed or denominator.suppressed or not denominator.value:
        return None
    return numerator.value / denominator.value
