"""Status words laboratories write ("negative", "MLL-r", "not done"), and a cell as text.

Shared by the readers of every form: a missing result, a status phrase with or without a
name of KMT2A, and the text of a cell that may be None, NaN or a number.
"""

from __future__ import annotations

import math
import re

from cohortpress.data.cytogenetics.finding import (
    NOT_REARRANGED, KMT2AFinding, rearranged, without_partner)

# Phrases are compared after phrase_of(): lower case, punctuation as spaces.
_MISSING_PHRASES = frozenset({
    "na", "n a", "nan", "nat", "null", "unknown", "unk", "not known", "not done", "nd",
    "n d", "not tested", "not performed", "not available", "failed", "culture failed",
    "no metaphases", "no mitoses", "no growth", "pending", "?",
})
NORMAL_KARYOTYPE_PHRASES = frozenset({
    "normal karyotype", "normal male karyotype", "normal female karyotype",
})
NEGATIVE_PHRASES = frozenset({
    "negative", "neg", "not detected", "none detected", "no rearrangement",
    "no rearrangement detected", "rearrangement not detected", "rearrangement negative",
    "not rearranged", "non rearranged", "unrearranged", "germline", "germ line",
    "germline configuration", "wild type", "wildtype", "wt", "absent", "normal",
    "no fusion", "no fusion detected", "fusion negative", "fusion not detected", "intact",
    "r negative", "r neg", "r not detected", *NORMAL_KARYOTYPE_PHRASES,
})
# Positive phrases that mean something on their own in a KMT2A column ...
POSITIVE_PHRASES = frozenset({
    "rearranged", "rearrangement", "rearrangement detected", "rearrangement positive",
    "positive", "pos", "detected", "rearranged partner unknown",
    "rearranged partner not specified", "rearranged unknown partner",
    "rearranged partner unspecified", "partner not specified", "partner unknown",
    "unspecified partner",
})
# ... and those that only do after naming KMT2A, MLL or 11q23 ("MLL-r", "KMT2A+").
_POSITIVE_PHRASES_AFTER_NAME = frozenset({
    "r", "+", "r+", "r positive", "r pos", "r detected", "fusion", "fusion detected",
    "fusion positive", "split", "split signal", "break apart", "break apart positive",
    "translocation",
})
PTD_PHRASES = frozenset({"ptd", "partial tandem duplication"})

_KMT2A_MENTION = re.compile(
    r"(?<![a-z0-9])(?:kmt2a|mll1|mll|hrx|11q23(?:\.3)?)(?=r\b|[^a-z0-9]|$)")


def is_missing(text: str) -> bool:
    """Whether a text records no result: empty, a dash or dot, or a word such as "NA"."""
    stripped = text.strip()
    return stripped in {"", "-", "--", "\u2014", ".", "?"} or phrase_of(text) in _MISSING_PHRASES


def phrase_of(text: str) -> str:
    """Lower case, every character but letters, digits, ``+`` and ``?`` as one space."""
    return " ".join(re.sub(r"[^a-z0-9+?]+", " ", text.lower()).split())


def _status_phrase(text: str) -> tuple[str, bool]:
    """The phrase left after removing KMT2A's names, and whether one was there."""
    lowered = text.lower()
    remainder = _KMT2A_MENTION.sub(" ", lowered)
    return phrase_of(remainder), remainder != lowered


def finding_from_phrase(text: str, source: str) -> KMT2AFinding | None:
    """A finding for status words such as "negative" or "MLL-r"; None for anything else."""
    phrase, names_kmt2a = _status_phrase(text)
    quoted = text.strip()
    if phrase in NEGATIVE_PHRASES:
        return without_partner(NOT_REARRANGED, source, f"reported as {quoted!r}")
    if phrase in POSITIVE_PHRASES or (names_kmt2a and phrase in _POSITIVE_PHRASES_AFTER_NAME):
        return rearranged(source, f"reported as {quoted!r}, partner not specified")
    if names_kmt2a and phrase in PTD_PHRASES:
        return without_partner(NOT_REARRANGED, source,
                               f"{quoted!r} is a partial tandem duplication, not a fusion")
    return None


def cell_as_text(value: object) -> str | None:
    """A cell as text: None and NaN become None, and 4.0 from a numeric column becomes "4"."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else str(value)
    return value if isinstance(value, str) else str(value)
