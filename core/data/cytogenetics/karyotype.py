"""Reading a karyotype: clones, fields and abnormalities, to a KMT2A finding.

Rules for karyotypes
--------------------
KMT2A lies at 11q23.3. A breakpoint at 11q23, or at 11q23.3 or one of its sub-bands,
counts as the KMT2A locus. A breakpoint given at 11q23.1 or 11q23.2 does not: the
laboratory has placed it outside the KMT2A band (ZBTB16, fused to RARA in the variant
acute promyelocytic leukaemia t(11;17)(q23.2;q21.2), lies at 11q23.2). Other chromosome 11
bands never count. A karyotype only gives band-level evidence: an 11q23 breakpoint written
at band resolution is counted as KMT2A, as cohort studies conventionally do.

* Translocations ``t`` and dicentrics ``dic`` / ``trc``: ISCN defines ``t(A;B;C)(a;b;c)``
  as the segment of A distal to ``a`` moving onto B at ``b``, that of B onto C and that of
  C onto A, so the derivative of each chromosome carries the segment of the chromosome
  listed before it (cyclically). KMT2A's 5' part stays on the der(11), so the partner is the
  breakpoint listed immediately before 11q23: in ``t(4;11;5)(q21;q23;q31)`` it is 4q21. For
  a two-way translocation this is simply the other breakpoint.
* Insertions ``ins``: when 11q23 receives a segment, the partner is the first band of the
  inserted segment (ISCN writes first the band nearer the recipient's pter, which on 11q is
  the side that keeps 5' KMT2A): ``ins(11;10)(q23;p12p11)`` gives 10p12. When 11q23 is an
  end of the inserted segment, the partner is the recipient band: ``ins(10;11)(p12;q23q13)``
  gives 10p12.
* Inversions ``inv``: ``inv(11)(q14q23)`` is a rearrangement whose partner is the other
  breakpoint on chromosome 11 (11q14 here). 11q23 joined to another band on chromosome 11
  (by ``inv`` or ``t(11;11)``) gives partner chromosome 11 at that band.
* The partner is "not specified" when the breakpoint joined to 11q23 is unknown (``?``, as
  in ``t(11;?)(q23;?)``), is itself 11q23, or when ``add(11)(q23)`` reports additional
  material of unknown origin.
* Deletions ``del(11)(q23)`` are not KMT2A rearrangements on their own: the status is
  "not rearranged" with a detail naming the deletion, unless ``deletion_counts=True``, which
  reports them as "rearranged, partner not specified". Duplications, rings, isochromosomes
  and other abnormalities with an 11q23 breakpoint are likewise "not rearranged", with a
  detail (KMT2A partial tandem duplication is a molecular finding, not a karyotype one).
* Mosaics (clones separated by ``/`` or ``//``) are read clone by clone; a KMT2A finding in
  any abnormal clone wins over normal clones. When several rearrangements are found their
  partner is reported only as far as they agree (same chromosome, band, gene).
* Whitespace and letter case are ignored, and a comma inside parentheses is read as the
  ``;`` ISCN puts between chromosomes and between band groups. An abnormality marked
  questionable (``?t(4;11)(q21;q23)``) is read as written, its ``?`` kept in the detail.
  The long (detailed) ISCN form ``der(11)(pter->q23::...)`` and FISH (``ish``) results are
  reported as unparseable, as is any text with an unreadable part, even if another part
  shows a rearrangement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cohortpress.data.cytogenetics.bands import is_kmt2a_band, partner_gene_for_band
from cohortpress.data.cytogenetics.finding import (
    NOT_REARRANGED, UNPARSEABLE, KMT2AFinding, rearranged, rearranged_at, without_partner)
from cohortpress.data.cytogenetics.iscn import (
    TRANSLOCATION_KINDS, IscnError, Token, canonical_text, check_parentheses, read_tokens,
    split_outside_parentheses)
from cohortpress.data.cytogenetics.phrases import NORMAL_KARYOTYPE_PHRASES, phrase_of


@dataclass(frozen=True)
class _Event:
    """One abnormality that bears on KMT2A.

    ``kind`` is ``"partner"`` (11q23 joined to ``chromosome``/``band``), ``"unspecified"``
    (rearranged, partner unknown), ``"deletion"`` or ``"other"`` (an 11q23 breakpoint
    without a fusion partner).
    """

    kind: str
    text: str
    clone: int
    chromosome: str | None = None
    band: str | None = None


_COUNT_RE = re.compile(r"\d{2,3}(?:~\d{2,3})?(?:<\d+n>)?")
_SEX_RE = re.compile(r"[xy]+")
_CELL_COUNT_RE = re.compile(r"\[(?:cp)?\d+\]$")
_NUMERICAL_RE = re.compile(r"[1-9]|1\d|2[0-2]|x|y")
_NO_BREAKPOINT_RE = re.compile(r"\d*(?:mar\d*|dmin|r)")
_REFERENCE_FIELDS = frozenset({"idem", "sl", "sdl", "sdl1", "sdl2", "sdl3", "inc"})
_SUFFIX_RE = re.compile(r"(?<=[)\dxy])(?:x\d+(?:~\d+)?)?c?$")
_KARYOTYPE_HINT = re.compile(
    r"^\s*\d{2,3}\s*(?:~\s*\d{2,3})?\s*(?:<[^>]*>)?\s*,"
    r"|(?<![a-z])(?:t|der|dic|trc|ins|inv|del|add|dup|idic|ider|i|r|hsr)\s*\(",
    re.IGNORECASE)

# Kinds that join an 11q23 breakpoint to a partner breakpoint.
_FUSING_KINDS = TRANSLOCATION_KINDS | {"ins", "inv"}


def looks_like_karyotype(text: str) -> bool:
    return bool(_KARYOTYPE_HINT.search(text)) or phrase_of(text) in NORMAL_KARYOTYPE_PHRASES


def _partner_of_translocation(breakpoints: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The breakpoint joined to 11q23 on the der(11): the one listed before it (cyclically).

    Returns None (partner not specified) when that breakpoint is unknown or itself 11q23,
    or when several 11q23 breakpoints point to different partners.
    """
    partners = {breakpoints[index - 1] for index, (chrom, band) in enumerate(breakpoints)
                if is_kmt2a_band(chrom, band)}
    if len(partners) != 1:
        return None
    chrom, band = partners.pop()
    if chrom == "?" or is_kmt2a_band(chrom, band):
        return None
    return chrom, band


def _partner_of_insertion(token: Token) -> tuple[str, str] | None:
    """The band joined to 11q23 by an insertion (see the module notes)."""
    (recipient, *segment) = token.breakpoints()
    recipient_hit = is_kmt2a_band(*recipient)
    segment_hit = any(is_kmt2a_band(*breakpoint) for breakpoint in segment)
    if recipient_hit == segment_hit:
        return None
    partner = segment[0] if recipient_hit else recipient
    return None if partner[0] == "?" else partner


def _partner_of_inversion(breakpoints: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The other breakpoint of an inversion, unless both are 11q23."""
    others = [bp for bp in breakpoints if not is_kmt2a_band(*bp)]
    return others[0] if len(others) == 1 else None


def _fusion_partner(token: Token) -> tuple[str, str] | None:
    """The breakpoint a translocation, insertion or inversion joins to 11q23, if known."""
    if token.kind == "ins":
        return _partner_of_insertion(token)
    if token.kind == "inv":
        return _partner_of_inversion(token.breakpoints())
    return _partner_of_translocation(token.breakpoints())


def _event_of_token(token: Token, text: str, clone: int) -> _Event | None:
    """The KMT2A event one token describes, or None if it has no 11q23 breakpoint."""
    if not any(is_kmt2a_band(chrom, band) for chrom, band in token.breakpoints()):
        return None
    if token.kind == "add":
        return _Event("unspecified", text, clone)
    if token.kind not in _FUSING_KINDS:
        return _Event("deletion" if token.kind == "del" else "other", text, clone)
    partner = _fusion_partner(token)
    if partner is None:
        return _Event("unspecified", text, clone)
    chrom, band = partner
    return _Event("partner", text, clone, chrom, None if band == "?" else band)


@dataclass(frozen=True)
class _Field:
    """One comma-separated field of a clone: its canonical text and KMT2A events."""

    text: str
    events: tuple[_Event, ...]
    is_abnormality: bool


def _read_field(raw: str, clone: int) -> _Field:
    if not raw:
        raise IscnError("an empty field")
    prefix = re.match(r"[+\-?]*", raw).group()
    body = _SUFFIX_RE.sub("", raw[len(prefix):])
    if not body:
        raise IscnError(f"cannot read {raw!r}")
    if _NUMERICAL_RE.fullmatch(body):
        if not prefix.strip("?"):
            raise IscnError(f"cannot read {raw!r}")
        return _Field(prefix + body.upper(), (), True)
    if body in _REFERENCE_FIELDS:
        return _Field(body, (), False)
    if _NO_BREAKPOINT_RE.fullmatch(body):
        return _Field(prefix + body, (), True)
    tokens = read_tokens(body)
    text = prefix + "".join(canonical_text(token) for token in tokens)
    events = tuple(event for token in tokens
                   if (event := _event_of_token(token, text, clone)) is not None)
    return _Field(text, events, True)


def _read_clone(text: str, clone: int) -> list[_Field]:
    """The abnormalities of one clone, its chromosome count, sex chromosomes and cell count
    set aside."""
    fields = split_outside_parentheses(_CELL_COUNT_RE.sub("", text))
    start = 0
    if _COUNT_RE.fullmatch(fields[0]):
        start = 1
    if start < len(fields) and _SEX_RE.fullmatch(fields[start]):
        start += 1
    return [_read_field(field.replace(",", ";"), clone) for field in fields[start:]]


def _combine_partner_events(events: list[_Event], source: str, detail: str) -> KMT2AFinding:
    """One finding from several rearrangements, reporting the partner as far as they agree."""
    chromosomes = {event.chromosome for event in events}
    if len(chromosomes) > 1:
        return rearranged(source, f"{detail}: partners disagree, so not specified")
    bands = {event.band for event in events}
    if len(bands) == 1:
        return rearranged_at(source, detail, chromosomes.pop(), bands.pop())
    genes = {partner_gene_for_band(event.chromosome, event.band) if event.band else None
             for event in events}
    gene = genes.pop() if len(genes) == 1 else None
    return rearranged(source, detail, chromosomes.pop(), None, gene)


def _describe(events: list[_Event], n_clones: int) -> str:
    described = []
    for event in events:
        where = f" in clone {event.clone} of {n_clones}" if n_clones > 1 else ""
        if event.text + where not in described:
            described.append(event.text + where)
    return "; ".join(described)


def _finding_from_clones(clones: list[list[_Field]], deletion_counts: bool) -> KMT2AFinding:
    source = "karyotype"
    events = [event for fields in clones for field in fields for event in field.events]
    by_kind = {kind: [event for event in events if event.kind == kind]
               for kind in ("partner", "unspecified", "deletion", "other")}
    if by_kind["partner"]:
        return _combine_partner_events(by_kind["partner"], source,
                                       _describe(by_kind["partner"], len(clones)))
    if by_kind["unspecified"]:
        return rearranged(source, _describe(by_kind["unspecified"], len(clones))
                          + ": partner not specified")
    if by_kind["deletion"]:
        described = _describe(by_kind["deletion"], len(clones))
        if deletion_counts:
            return rearranged(source, f"11q23 deletion {described} counted as a KMT2A "
                                      "rearrangement (deletion_counts=True)")
        return without_partner(NOT_REARRANGED, source, f"11q23 deletion {described} is not "
                                                       "a KMT2A rearrangement on its own")
    if by_kind["other"]:
        return without_partner(NOT_REARRANGED, source,
                               f"{_describe(by_kind['other'], len(clones))} has an 11q23 "
                               "breakpoint but no fusion partner")
    n_abnormalities = sum(field.is_abnormality for fields in clones for field in fields)
    if n_abnormalities == 0:
        return without_partner(NOT_REARRANGED, source, "normal karyotype")
    return without_partner(NOT_REARRANGED, source,
                           f"no 11q23 rearrangement among {n_abnormalities} abnormalities")


def _read_clones(compact: str) -> list[list[_Field]]:
    """Every clone of a karyotype without whitespace, in order; raises ``IscnError``."""
    check_parentheses(compact)
    clone_texts = re.split(r"/+", compact)
    clones = []
    for number, clone_text in enumerate(clone_texts, start=1):
        try:
            if not clone_text:
                raise IscnError("an empty clone")
            clones.append(_read_clone(clone_text, number))
        except IscnError as error:
            if len(clone_texts) == 1:
                raise
            raise IscnError(f"clone {number} of {len(clone_texts)}: {error}") from None
    return clones


def parse_karyotype(text: str, deletion_counts: bool) -> KMT2AFinding:
    if phrase_of(text) in NORMAL_KARYOTYPE_PHRASES | {"normal"}:
        return without_partner(NOT_REARRANGED, "karyotype", f"reported as {text.strip()!r}")
    if re.search(r"(?<![a-z])(?:nuc\s*)?ish\b", text, re.IGNORECASE):
        return without_partner(UNPARSEABLE, "karyotype",
                               "FISH (ish) results are not read; give the karyotype alone")
    try:
        clones = _read_clones(re.sub(r"\s+", "", text).lower())
    except IscnError as error:
        return without_partner(UNPARSEABLE, "karyotype", f"karyotype {text.strip()!r}: {error}")
    return _finding_from_clones(clones, deletion_counts)
