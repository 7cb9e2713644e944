"""Reading a fusion name or status: ``KMT2A::AFF1``, ``MLL-AF4``, ``KMT2A rearranged``.

Rules for fusion names and partners
-----------------------------------
* ``KMT2A::AFF1``, ``KMT2A-AFF1``, ``MLL-AF4``, ``MLL/AF9`` and the reciprocal ``AFF1::KMT2A``
  name the partner; its chromosome and band are the gene's HGNC location (``q21.3`` for
  AFF1, where a karyotype usually writes ``q21``). A partner symbol outside the table,
  written in upper case, is kept as the partner gene with no chromosome.
* ``KMT2A::?``, "KMT2A rearranged", "MLL-r" or "positive": rearranged, partner not
  specified. "negative", "not detected", "germline", "wild type": not rearranged. A fusion
  not involving KMT2A (``RUNX1::RUNX1T1``) is "not rearranged"; KMT2A-PTD, a partial
  tandem duplication, is not a KMT2A fusion and is "not rearranged" too.
* A negative result for one named fusion (``KMT2A::AFF1 negative``) does not exclude other
  partners, so it is unparseable rather than "not rearranged".
"""

from __future__ import annotations

import re

from cohortpress.data.cytogenetics.finding import (
    NOT_REARRANGED, REARRANGED, UNPARSEABLE, KMT2AFinding, rearranged, rearranged_with_gene,
    without_partner)
from cohortpress.data.cytogenetics.genes import KMT2A_NAMES, find_partner_gene
from cohortpress.data.cytogenetics.phrases import (
    NEGATIVE_PHRASES, POSITIVE_PHRASES, PTD_PHRASES, finding_from_phrase, phrase_of)

_FUSION_RE = re.compile(
    r"^\s*(?P<left>[A-Za-z][A-Za-z0-9]*|\?)\s*(?P<sep>::|[-/\u2013\u2014])\s*"
    r"(?P<right>[A-Za-z][A-Za-z0-9]*|\?)\s*(?:\s(?P<qualifier>.*\S))?\s*$")
_GENE_SYMBOL_RE = re.compile(r"[A-Z][A-Z0-9]+")


def _is_kmt2a_name(name: str) -> bool:
    return name.upper() in KMT2A_NAMES


def _finding_from_fusion_sides(left: str, right: str, fusion: str) -> KMT2AFinding:
    source = "fusion"
    if _is_kmt2a_name(left) and _is_kmt2a_name(right):
        return without_partner(UNPARSEABLE, source, f"both sides of {fusion!r} name KMT2A")
    if not (_is_kmt2a_name(left) or _is_kmt2a_name(right)):
        if _GENE_SYMBOL_RE.fullmatch(left) and _GENE_SYMBOL_RE.fullmatch(right):
            return without_partner(NOT_REARRANGED, source,
                                   f"fusion {fusion!r} does not involve KMT2A")
        return without_partner(UNPARSEABLE, source, f"cannot read fusion {fusion!r}")
    partner = right if _is_kmt2a_name(left) else left
    order = "" if _is_kmt2a_name(left) else " (reciprocal order)"
    if partner == "?":
        return rearranged(source, f"{fusion!r}: partner not specified")
    if partner.lower() in PTD_PHRASES:
        return without_partner(NOT_REARRANGED, source,
                               f"{fusion!r} is a partial tandem duplication, not a fusion")
    gene = find_partner_gene(partner)
    if gene is not None:
        return rearranged_with_gene(source, f"fusion KMT2A::{gene.symbol}{order}", gene)
    if _GENE_SYMBOL_RE.fullmatch(partner):
        return rearranged(source, f"fusion KMT2A::{partner}{order}: {partner} is not in the "
                                  "partner table, so its chromosome is unknown",
                           gene=partner)
    return without_partner(UNPARSEABLE, source, f"cannot read partner {partner!r} "
                                                f"in {fusion!r}")


def parse_fusion(text: str) -> KMT2AFinding:
    source = "fusion"
    from_phrase = finding_from_phrase(text, source)
    if from_phrase is not None:
        return from_phrase
    match = _FUSION_RE.match(text)
    if not match:
        return without_partner(UNPARSEABLE, source,
                               f"{text.strip()!r} is not a fusion name or status")
    fusion = f"{match['left']}{match['sep']}{match['right']}"
    qualifier = phrase_of(match["qualifier"] or "")
    finding = _finding_from_fusion_sides(match["left"], match["right"], fusion)
    if not qualifier or qualifier in POSITIVE_PHRASES:
        return finding
    if qualifier in NEGATIVE_PHRASES and finding.status == REARRANGED:
        return without_partner(UNPARSEABLE, source,
                               f"{text.strip()!r}: a negative test for one fusion does not "
                               "exclude other KMT2A partners")
    return without_partner(UNPARSEABLE, source, f"cannot read {match['qualifier']!r} "
                                                f"after {fusion!r}")
