"""The ISCN tokenizer: an abnormality such as ``t(4;11)(q21;q23)`` into its tokens.

Each token is ``kind(chromosomes)(bands)``; the number of chromosomes and bands must be one
ISCN 2020 allows for the kind. Anything else raises :class:`IscnError`, naming the
fragment at fault. What the tokens mean for KMT2A is the job of
:mod:`cohortpress.data.cytogenetics.karyotype`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cohortpress.data.cytogenetics.bands import CHROMOSOMES


class IscnError(ValueError):
    """A karyotype the parser cannot read; the message names the fragment at fault."""


@dataclass(frozen=True)
class Token:
    """One ``kind(chromosomes)(bands)`` unit of an abnormality, e.g. ``t(4;11)(q21;q23)``."""

    kind: str
    chromosomes: tuple[str, ...]
    band_groups: tuple[tuple[str, ...], ...] | None

    def breakpoints(self) -> list[tuple[str, str]]:
        """Every (chromosome, band), in ISCN order."""
        return [(chrom, band) for chrom, group in zip(self.chromosomes, self.band_groups or ())
                for band in group]


_TOKEN_RE = re.compile(r"(?P<kind>[a-z]+)\((?P<chroms>[^()]*)\)(?:\((?P<bands>[^()]*)\))?")
BAND_RE = re.compile(r"[pq](?:ter|[1-4](?:\d(?:\.\d{1,3})?)?)|cen|\?")

TRANSLOCATION_KINDS = frozenset({"t", "dic", "trc", "der"})
_ONE_BAND_KINDS = frozenset({"add", "i", "idic", "ider", "hsr", "fra"})
_ONE_OR_TWO_BAND_KINDS = frozenset({"del", "dup", "trp", "qdp", "r"})
_KNOWN_KINDS = (TRANSLOCATION_KINDS | _ONE_BAND_KINDS | _ONE_OR_TWO_BAND_KINDS
                | {"ins", "inv", "rob"})
# Kinds that may stand without bands: der(11) introduces the abnormalities that follow it.
_BANDLESS_KINDS = frozenset({"der", "r"})


def check_parentheses(text: str) -> None:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0 or depth > 1:
            raise IscnError("unbalanced or nested parentheses")
    if depth:
        raise IscnError("unbalanced parentheses")


def split_outside_parentheses(text: str) -> list[str]:
    """Split on commas at depth 0 (commas inside parentheses stand for ``;``)."""
    fields, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            fields.append(text[start:index])
            start = index + 1
    fields.append(text[start:])
    return fields


def _read_chromosomes(text: str, token_text: str) -> tuple[str, ...]:
    chromosomes = tuple(part.upper() for part in text.split(";"))
    for chrom in chromosomes:
        if chrom != "?" and chrom not in CHROMOSOMES:
            raise IscnError(f"no chromosome {chrom!r} in {token_text!r}")
    return chromosomes


def _read_band_group(text: str, token_text: str) -> tuple[str, ...]:
    bands, position = [], 0
    while position < len(text):
        match = BAND_RE.match(text, position)
        if not match:
            raise IscnError(f"cannot read band {text[position:]!r} in {token_text!r}")
        bands.append(match.group())
        position = match.end()
    if not bands:
        raise IscnError(f"an empty band in {token_text!r}")
    return tuple(bands)


def _allowed_band_counts(kind: str, n_chromosomes: int) -> set[tuple[int, ...]]:
    """The band counts per chromosome that an abnormality of this kind may have."""
    if kind in TRANSLOCATION_KINDS:
        return {(1,) * n_chromosomes} if n_chromosomes >= 2 else set()
    if kind == "ins":
        return {2: {(1, 2)}, 1: {(3,)}}.get(n_chromosomes, set())
    if kind == "rob":
        return {(1, 1)} if n_chromosomes == 2 else set()
    if n_chromosomes != 1:
        return set()
    if kind == "inv":
        return {(2,)}
    if kind in _ONE_BAND_KINDS:
        return {(1,)}
    return {(1,), (2,)}


def _read_token(match: re.Match[str]) -> Token:
    token_text = match.group()
    kind = match["kind"]
    if kind not in _KNOWN_KINDS:
        raise IscnError(f"unknown abnormality {kind!r} in {token_text!r}")
    chromosomes = _read_chromosomes(match["chroms"], token_text)
    if match["bands"] is None:
        if kind not in _BANDLESS_KINDS:
            raise IscnError(f"{token_text!r} gives no breakpoints")
        return Token(kind, chromosomes, None)
    if "->" in match["bands"] or "::" in match["bands"]:
        raise IscnError(f"the long ISCN form {token_text!r} is not read")
    groups = tuple(_read_band_group(group, token_text) for group in match["bands"].split(";"))
    if len(groups) != len(chromosomes):
        raise IscnError(f"{len(chromosomes)} chromosome(s) but {len(groups)} band group(s) "
                        f"in {token_text!r}")
    if tuple(len(group) for group in groups) not in _allowed_band_counts(kind, len(chromosomes)):
        raise IscnError(f"wrong number of bands for {kind!r} in {token_text!r}")
    return Token(kind, chromosomes, groups)


def read_tokens(body: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(body):
        match = _TOKEN_RE.match(body, position)
        if not match:
            raise IscnError(f"cannot read {body[position:]!r}")
        tokens.append(_read_token(match))
        position = match.end()
    return tokens


def canonical_text(token: Token) -> str:
    text = f"{token.kind}({';'.join(token.chromosomes)})"
    if token.band_groups is not None:
        text += f"({';'.join(''.join(group) for group in token.band_groups)})"
    return text
