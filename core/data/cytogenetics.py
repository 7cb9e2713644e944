"""KMT2A (MLL) rearrangement status and partner from what laboratories record.

Laboratories report KMT2A status in three forms, and :func:`parse_kmt2a` reads each:

* an ISCN karyotype, such as ``46,XY,t(4;11)(q21;q23)[20]``;
* a fusion name, such as ``KMT2A::AFF1``, ``MLL-AF4`` or ``KMT2A rearranged``;
* the partner given directly, such as ``4``, ``chr9``, ``4q21`` or ``AF4``.

Each reading gives a :class:`KMT2AFinding`: a status (``"rearranged"``, ``"not
rearranged"``, ``"unparseable"`` or ``"missing"``), the partner's chromosome, band and gene
where the text identifies them, and a short reason. Text the parser cannot read is reported
as ``"unparseable"`` with the fragment at fault; it is never guessed.

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
* A partner given directly is a chromosome (``4``, ``chr4``, ``chromosome 9``), a band
  (``4q21``, whose gene is found as for a karyotype) or a gene or alias in the table
  (``AFF1``, ``AF4``); a symbol outside the table is unparseable, since outside a fusion
  name nothing shows it is a gene. ``11`` is partner chromosome 11 (an intrachromosomal
  partner); ``11q23`` is the KMT2A locus itself, so the partner is not specified.

Sources of the partner table (facts, not code, carried over):

* Meyer C, et al. The MLL recombinome of acute leukemias in 2017. Leukemia 2018;32:273-84.
* Meyer C, et al. The KMT2A recombinome of acute leukemias in 2023. Leukemia 2023;37:988-1005.
* HGNC (HUGO Gene Nomenclature Committee): current symbols, previous symbols and aliases,
  and cytogenetic locations.
* The recurrent KMT2A translocations named with bands in the WHO (5th edition, 2022) and
  ICC (2022) classifications of myeloid and lymphoid neoplasms, e.g. t(9;11)(p21.3;q23.3)
  KMT2A::MLLT3, t(4;11)(q21.3;q23.3) KMT2A::AFF1, t(11;19)(q23.3;p13.3) KMT2A::MLLT1,
  t(11;19)(q23.3;p13.1) KMT2A::ELL, t(10;11)(p12.3;q23.3) KMT2A::MLLT10,
  t(6;11)(q27;q23.3) KMT2A::AFDN.
* ISCN 2020 (An International System for Human Cytogenomic Nomenclature) for the notation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cohortpress.common.errors import UserError

REARRANGED = "rearranged"
NOT_REARRANGED = "not rearranged"
UNPARSEABLE = "unparseable"
MISSING = "missing"
STATUSES = (REARRANGED, NOT_REARRANGED, UNPARSEABLE, MISSING)

KINDS = ("auto", "karyotype", "fusion", "partner")
#: ``"unknown"`` is only used for missing text read with ``kind="auto"``.
SOURCES = ("karyotype", "fusion", "partner", "unknown")


# --------------------------------------------------------------------------- partner table

@dataclass(frozen=True)
class PartnerGene:
    """One KMT2A fusion partner gene.

    Attributes
    ----------
    symbol : str
        Current HGNC symbol, e.g. ``"AFF1"``.
    aliases : tuple of str
        Previous symbols and the MLL-era names laboratories still write, e.g. ``("AF4",)``.
    chromosome : str
        ``"1"``...``"22"``, ``"X"`` or ``"Y"``.
    cytoband : str
        HGNC cytogenetic location on that chromosome, e.g. ``"q21.3"``.
    karyotype_bands : tuple of str
        The bands a karyotype conventionally gives for this partner's translocation; a
        breakpoint at one of these bands, or at a sub-band of one that agrees with
        ``cytoband``, identifies the gene (see :func:`partner_gene_for_band`). Empty
        when a band does not identify the gene (it shares the band with a more frequent
        partner, or karyotypes give no consistent band).
    """

    symbol: str
    aliases: tuple[str, ...]
    chromosome: str
    cytoband: str
    karyotype_bands: tuple[str, ...] = ()


#: The KMT2A partner genes this module names, most frequent first (Meyer et al. 2018, 2023).
#: Locations are HGNC's; karyotype bands follow the published translocations.
PARTNER_GENES: tuple[PartnerGene, ...] = (
    PartnerGene("AFF1", ("AF4", "MLLT2"), "4", "q21.3", ("q21",)),
    # Older maps placed MLLT3 at 9p22, and karyotypes still write t(9;11)(p22;q23).
    PartnerGene("MLLT3", ("AF9",), "9", "p21.3", ("p21", "p22")),
    PartnerGene("MLLT1", ("ENL",), "19", "p13.3", ("p13.3",)),
    PartnerGene("MLLT10", ("AF10",), "10", "p12.31", ("p12",)),
    PartnerGene("ELL", ("MEN",), "19", "p13.11", ("p13.1",)),
    PartnerGene("AFDN", ("AF6", "MLLT4"), "6", "q27", ("q27",)),
    PartnerGene("EPS15", ("AF1P",), "1", "p32.3", ("p32",)),
    PartnerGene("MLLT11", ("AF1Q",), "1", "q21.3", ("q21",)),
    # First mapped to 17q21 (t(11;17)(q23;q21)); HGNC now places it at 17q12.
    PartnerGene("MLLT6", ("AF17",), "17", "q12", ("q12", "q21")),
    PartnerGene("SEPTIN6", ("SEPT6",), "X", "q24", ("q24",)),
    PartnerGene("SEPTIN9", ("SEPT9", "MSF"), "17", "q25.3", ("q25",)),
    PartnerGene("TET1", ("LCX",), "10", "q21.3", ("q21", "q22")),
    PartnerGene("SEPTIN5", ("SEPT5", "PNUTL1"), "22", "q11.21", ("q11.2",)),
    PartnerGene("SEPTIN2", ("SEPT2", "NEDD5"), "2", "q37.3", ("q37",)),
    PartnerGene("FOXO4", ("AFX", "MLLT7"), "X", "q13.1", ("q13",)),
    PartnerGene("FOXO3", ("FOXO3A", "AF6Q21"), "6", "q21", ("q21",)),
    PartnerGene("CREBBP", ("CBP",), "16", "p13.3", ("p13.3",)),
    PartnerGene("EP300", ("P300",), "22", "q13.2", ("q13",)),
    PartnerGene("GAS7", (), "17", "p13.1", ("p13",)),
    PartnerGene("MAML2", (), "11", "q21", ("q21",)),
    PartnerGene("AFF4", ("AF5Q31",), "5", "q31.1"),
    PartnerGene("AFF3", ("LAF4",), "2", "q11.2"),
    PartnerGene("ABI1", ("E3B1",), "10", "p12.1"),
    PartnerGene("SEPTIN11", ("SEPT11",), "4", "q21.1"),
    PartnerGene("SH3GL1", ("EEN",), "19", "p13.3"),
    PartnerGene("ARHGEF12", ("LARG",), "11", "q23.3"),
    PartnerGene("CBL", (), "11", "q23.3"),
)

#: Names of KMT2A itself, current and historical.
KMT2A_NAMES = frozenset({"KMT2A", "MLL", "MLL1", "HRX", "ALL1", "TRX1", "HTRX"})


def _index_names(genes: Iterable[PartnerGene]) -> Mapping[str, str]:
    """Map every symbol and alias (upper case) to its current symbol; refuse collisions."""
    index: dict[str, str] = {}
    for gene in genes:
        for name in (gene.symbol, *gene.aliases):
            key = name.upper()
            if index.get(key, gene.symbol) != gene.symbol or key in KMT2A_NAMES:
                raise ValueError(f"partner name {name!r} also names another gene or KMT2A")
            index[key] = gene.symbol
    return MappingProxyType(index)


def _index_bands(genes: Iterable[PartnerGene]) -> Mapping[tuple[str, str], str]:
    """Map each (chromosome, karyotype band) to its gene; refuse a band given to two genes."""
    index: dict[tuple[str, str], str] = {}
    for gene in genes:
        for band in gene.karyotype_bands:
            key = (gene.chromosome, band)
            if index.get(key, gene.symbol) != gene.symbol:
                raise ValueError(f"band {key} is given to two genes")
            index[key] = gene.symbol
    return MappingProxyType(index)


#: Every symbol and alias, upper case, to the current HGNC symbol (``"AF4"`` -> ``"AFF1"``).
GENE_ALIASES: Mapping[str, str] = _index_names(PARTNER_GENES)
#: ``(chromosome, band)`` to the gene a karyotype breakpoint there identifies.
PARTNER_BANDS: Mapping[tuple[str, str], str] = _index_bands(PARTNER_GENES)
_GENES_BY_SYMBOL = MappingProxyType({gene.symbol: gene for gene in PARTNER_GENES})


def find_partner_gene(name: str) -> PartnerGene | None:
    """The partner gene a symbol or alias names, case-insensitively.

    Parameters
    ----------
    name : str
        A current symbol (``"AFF1"``) or an alias (``"AF4"``, ``"MLLT4"``, ``"SEPT6"``).

    Returns
    -------
    PartnerGene or None
        ``None`` when the name is not in :data:`PARTNER_GENES`.
    """
    symbol = GENE_ALIASES.get(name.strip().upper())
    return _GENES_BY_SYMBOL[symbol] if symbol else None


def _band_key(band: str) -> str:
    """A band without its dot, so that sub-bands extend their band as a string prefix."""
    return band.replace(".", "")


def _band_within(band: str, outer: str) -> bool:
    """Whether ``band`` is ``outer`` or one of its sub-bands (``q21.3`` is within ``q21``)."""
    return _band_key(band).startswith(_band_key(outer))


def _bands_overlap(first: str, second: str) -> bool:
    """Whether one band is the other or contains it."""
    return _band_within(first, second) or _band_within(second, first)


def _identifying_band_length(gene: PartnerGene, band: str) -> int:
    """How specific the karyotype band of ``gene`` that identifies ``band`` is (0: none).

    A band identifies the gene if it is one of its karyotype bands, or a sub-band of one
    that agrees with the gene's HGNC location: 10p12.3 identifies MLLT10 (10p12.31), but
    10p12.1 does not.
    """
    lengths = [len(_band_key(listed)) for listed in gene.karyotype_bands
               if _band_key(band) == _band_key(listed)
               or (_band_within(band, listed) and _bands_overlap(band, gene.cytoband))]
    return max(lengths, default=0)


def partner_gene_for_band(chromosome: str, band: str) -> str | None:
    """The partner gene a karyotype breakpoint identifies, if any.

    A breakpoint identifies a gene at one of its karyotype bands, or at a sub-band of one
    that agrees with the gene's HGNC location; if several genes qualify, the one whose band
    is the most specific wins, and a tie identifies nothing. A band coarser than every
    listed band identifies nothing either: ``19p13`` could be MLLT1 (19p13.3) or ELL
    (19p13.1).

    Parameters
    ----------
    chromosome : str
        ``"1"``...``"22"``, ``"X"`` or ``"Y"``.
    band : str
        ISCN band on that chromosome, e.g. ``"q21"`` or ``"p13.3"``.

    Returns
    -------
    str or None
        The current HGNC symbol, or ``None``.
    """
    scored = [(_identifying_band_length(gene, band), gene.symbol)
              for gene in PARTNER_GENES if gene.chromosome == chromosome]
    best = max((length for length, _ in scored), default=0)
    winners = [symbol for length, symbol in scored if length == best]
    return winners[0] if best and len(winners) == 1 else None


def is_kmt2a_band(chromosome: str, band: str) -> bool:
    """Whether a breakpoint is at the KMT2A locus: 11q23, or 11q23.3 and its sub-bands.

    Parameters
    ----------
    chromosome : str
        ``"11"`` for any chance of a match.
    band : str
        ISCN band, e.g. ``"q23"``, ``"q23.3"``; ``"q23.1"`` and ``"q23.2"`` do not match.

    Returns
    -------
    bool
    """
    key = _band_key(band)
    return chromosome == "11" and (key == "q23" or key.startswith("q233"))


# --------------------------------------------------------------------------------- finding

@dataclass(frozen=True)
class KMT2AFinding:
    """KMT2A rearrangement status and partner read from one laboratory text.

    Attributes
    ----------
    status : str
        ``"rearranged"``, ``"not rearranged"``, ``"unparseable"`` or ``"missing"``.
    partner_chromosome : str or None
        ``"4"``, ``"9"``, ``"X"``...; ``None`` if not rearranged or the partner is unknown.
    partner_band : str or None
        The band the text gives, or the gene's HGNC band for a fusion name or gene.
    partner_gene : str or None
        Current HGNC symbol, where the band or the name identifies it. A fusion name whose
        partner is not in :data:`PARTNER_GENES` keeps the symbol as written, without a
        chromosome.
    partner_specified : bool
        False for "rearranged, partner not specified" and for every other status.
    source : str
        ``"karyotype"``, ``"fusion"`` or ``"partner"``: the form the text was read as
        (``"unknown"`` for missing text read with ``kind="auto"``).
    detail : str
        A short reason, e.g. ``"t(4;11)(q21;q23) in clone 1 of 2"``.
    """

    status: str
    partner_chromosome: str | None
    partner_band: str | None
    partner_gene: str | None
    partner_specified: bool
    source: str
    detail: str

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {self.source!r}")
        if self.partner_specified and self.status != REARRANGED:
            raise ValueError("only a rearranged finding can have a specified partner")


def _without_partner(status: str, source: str, detail: str) -> KMT2AFinding:
    return KMT2AFinding(status, None, None, None, False, source, detail)


def _rearranged(source: str, detail: str, chromosome: str | None = None,
                band: str | None = None, gene: str | None = None) -> KMT2AFinding:
    specified = chromosome is not None or gene is not None
    return KMT2AFinding(REARRANGED, chromosome, band, gene, specified, source, detail)


def _rearranged_with_gene(source: str, detail: str, gene: PartnerGene) -> KMT2AFinding:
    return _rearranged(source, detail, gene.chromosome, gene.cytoband, gene.symbol)


def _rearranged_at(source: str, detail: str, chromosome: str,
                   band: str | None) -> KMT2AFinding:
    """A rearrangement whose partner is a chromosome and perhaps a band."""
    if band is not None and is_kmt2a_band(chromosome, band):
        return _rearranged(source, f"{detail}: the partner band is 11q23 itself, "
                                   "so the partner is not specified")
    gene = partner_gene_for_band(chromosome, band) if band else None
    return _rearranged(source, detail, chromosome, band, gene)


# ------------------------------------------------------------------------ shared phrases

_CHROMOSOMES = frozenset({str(n) for n in range(1, 23)} | {"X", "Y"})

# Phrases are compared after _phrase(): lower case, punctuation as spaces.
_MISSING_PHRASES = frozenset({
    "na", "n a", "nan", "nat", "null", "unknown", "unk", "not known", "not done", "nd",
    "n d", "not tested", "not performed", "not available", "failed", "culture failed",
    "no metaphases", "no mitoses", "no growth", "pending", "?",
})
_NORMAL_KARYOTYPE_PHRASES = frozenset({
    "normal karyotype", "normal male karyotype", "normal female karyotype",
})
_NEGATIVE_PHRASES = frozenset({
    "negative", "neg", "not detected", "none detected", "no rearrangement",
    "no rearrangement detected", "rearrangement not detected", "rearrangement negative",
    "not rearranged", "non rearranged", "unrearranged", "germline", "germ line",
    "germline configuration", "wild type", "wildtype", "wt", "absent", "normal",
    "no fusion", "no fusion detected", "fusion negative", "fusion not detected", "intact",
    "r negative", "r neg", "r not detected", *_NORMAL_KARYOTYPE_PHRASES,
})
# Positive phrases that mean something on their own in a KMT2A column ...
_POSITIVE_PHRASES = frozenset({
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
_PTD_PHRASES = frozenset({"ptd", "partial tandem duplication"})

_KMT2A_MENTION = re.compile(
    r"(?<![a-z0-9])(?:kmt2a|mll1|mll|hrx|11q23(?:\.3)?)(?=r\b|[^a-z0-9]|$)")


def _is_missing(text: str) -> bool:
    """Whether a text records no result: empty, a dash or dot, or a word such as "NA"."""
    stripped = text.strip()
    return stripped in {"", "-", "--", "\u2014", ".", "?"} or _phrase(text) in _MISSING_PHRASES


def _phrase(text: str) -> str:
    """Lower case, every character but letters, digits, ``+`` and ``?`` as one space."""
    return " ".join(re.sub(r"[^a-z0-9+?]+", " ", text.lower()).split())


def _status_phrase(text: str) -> tuple[str, bool]:
    """The phrase left after removing KMT2A's names, and whether one was there."""
    lowered = text.lower()
    remainder = _KMT2A_MENTION.sub(" ", lowered)
    return _phrase(remainder), remainder != lowered


def _finding_from_phrase(text: str, source: str) -> KMT2AFinding | None:
    """A finding for status words such as "negative" or "MLL-r"; None for anything else."""
    phrase, names_kmt2a = _status_phrase(text)
    quoted = text.strip()
    if phrase in _NEGATIVE_PHRASES:
        return _without_partner(NOT_REARRANGED, source, f"reported as {quoted!r}")
    if phrase in _POSITIVE_PHRASES or (names_kmt2a and phrase in _POSITIVE_PHRASES_AFTER_NAME):
        return _rearranged(source, f"reported as {quoted!r}, partner not specified")
    if names_kmt2a and phrase in _PTD_PHRASES:
        return _without_partner(NOT_REARRANGED, source,
                                f"{quoted!r} is a partial tandem duplication, not a fusion")
    return None


def _as_text(value: object) -> str | None:
    """A cell as text: None and NaN become None, and 4.0 from a numeric column becomes "4"."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else str(value)
    return value if isinstance(value, str) else str(value)


# ---------------------------------------------------------------------------- karyotypes

class _IscnError(ValueError):
    """A karyotype the parser cannot read; the message names the fragment at fault."""


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


@dataclass(frozen=True)
class _Token:
    """One ``kind(chromosomes)(bands)`` unit of an abnormality, e.g. ``t(4;11)(q21;q23)``."""

    kind: str
    chromosomes: tuple[str, ...]
    band_groups: tuple[tuple[str, ...], ...] | None

    def breakpoints(self) -> list[tuple[str, str]]:
        """Every (chromosome, band), in ISCN order."""
        return [(chrom, band) for chrom, group in zip(self.chromosomes, self.band_groups or ())
                for band in group]


_TOKEN_RE = re.compile(r"(?P<kind>[a-z]+)\((?P<chroms>[^()]*)\)(?:\((?P<bands>[^()]*)\))?")
_BAND_RE = re.compile(r"[pq](?:ter|[1-4](?:\d(?:\.\d{1,3})?)?)|cen|\?")
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

_TRANSLOCATION_KINDS = frozenset({"t", "dic", "trc", "der"})
_ONE_BAND_KINDS = frozenset({"add", "i", "idic", "ider", "hsr", "fra"})
_ONE_OR_TWO_BAND_KINDS = frozenset({"del", "dup", "trp", "qdp", "r"})
_KNOWN_KINDS = (_TRANSLOCATION_KINDS | _ONE_BAND_KINDS | _ONE_OR_TWO_BAND_KINDS
                | {"ins", "inv", "rob"})
# Kinds that may stand without bands: der(11) introduces the abnormalities that follow it.
_BANDLESS_KINDS = frozenset({"der", "r"})
# Kinds that join an 11q23 breakpoint to a partner breakpoint.
_FUSING_KINDS = _TRANSLOCATION_KINDS | {"ins", "inv"}


def _looks_like_karyotype(text: str) -> bool:
    return bool(_KARYOTYPE_HINT.search(text)) or _phrase(text) in _NORMAL_KARYOTYPE_PHRASES


def _check_parentheses(text: str) -> None:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0 or depth > 1:
            raise _IscnError("unbalanced or nested parentheses")
    if depth:
        raise _IscnError("unbalanced parentheses")


def _split_outside_parentheses(text: str) -> list[str]:
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
        if chrom != "?" and chrom not in _CHROMOSOMES:
            raise _IscnError(f"no chromosome {chrom!r} in {token_text!r}")
    return chromosomes


def _read_band_group(text: str, token_text: str) -> tuple[str, ...]:
    bands, position = [], 0
    while position < len(text):
        match = _BAND_RE.match(text, position)
        if not match:
            raise _IscnError(f"cannot read band {text[position:]!r} in {token_text!r}")
        bands.append(match.group())
        position = match.end()
    if not bands:
        raise _IscnError(f"an empty band in {token_text!r}")
    return tuple(bands)


def _allowed_band_counts(kind: str, n_chromosomes: int) -> set[tuple[int, ...]]:
    """The band counts per chromosome that an abnormality of this kind may have."""
    if kind in _TRANSLOCATION_KINDS:
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


def _read_token(match: re.Match[str]) -> _Token:
    token_text = match.group()
    kind = match["kind"]
    if kind not in _KNOWN_KINDS:
        raise _IscnError(f"unknown abnormality {kind!r} in {token_text!r}")
    chromosomes = _read_chromosomes(match["chroms"], token_text)
    if match["bands"] is None:
        if kind not in _BANDLESS_KINDS:
            raise _IscnError(f"{token_text!r} gives no breakpoints")
        return _Token(kind, chromosomes, None)
    if "->" in match["bands"] or "::" in match["bands"]:
        raise _IscnError(f"the long ISCN form {token_text!r} is not read")
    groups = tuple(_read_band_group(group, token_text) for group in match["bands"].split(";"))
    if len(groups) != len(chromosomes):
        raise _IscnError(f"{len(chromosomes)} chromosome(s) but {len(groups)} band group(s) "
                         f"in {token_text!r}")
    if tuple(len(group) for group in groups) not in _allowed_band_counts(kind, len(chromosomes)):
        raise _IscnError(f"wrong number of bands for {kind!r} in {token_text!r}")
    return _Token(kind, chromosomes, groups)


def _read_tokens(body: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(body):
        match = _TOKEN_RE.match(body, position)
        if not match:
            raise _IscnError(f"cannot read {body[position:]!r}")
        tokens.append(_read_token(match))
        position = match.end()
    return tokens


def _token_text(token: _Token) -> str:
    text = f"{token.kind}({';'.join(token.chromosomes)})"
    if token.band_groups is not None:
        text += f"({';'.join(''.join(group) for group in token.band_groups)})"
    return text


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


def _partner_of_insertion(token: _Token) -> tuple[str, str] | None:
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


def _fusion_partner(token: _Token) -> tuple[str, str] | None:
    """The breakpoint a translocation, insertion or inversion joins to 11q23, if known."""
    if token.kind == "ins":
        return _partner_of_insertion(token)
    if token.kind == "inv":
        return _partner_of_inversion(token.breakpoints())
    return _partner_of_translocation(token.breakpoints())


def _event_of_token(token: _Token, text: str, clone: int) -> _Event | None:
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
        raise _IscnError("an empty field")
    prefix = re.match(r"[+\-?]*", raw).group()
    body = _SUFFIX_RE.sub("", raw[len(prefix):])
    if not body:
        raise _IscnError(f"cannot read {raw!r}")
    if _NUMERICAL_RE.fullmatch(body):
        if not prefix.strip("?"):
            raise _IscnError(f"cannot read {raw!r}")
        return _Field(prefix + body.upper(), (), True)
    if body in _REFERENCE_FIELDS:
        return _Field(body, (), False)
    if _NO_BREAKPOINT_RE.fullmatch(body):
        return _Field(prefix + body, (), True)
    tokens = _read_tokens(body)
    text = prefix + "".join(_token_text(token) for token in tokens)
    events = tuple(event for token in tokens
                   if (event := _event_of_token(token, text, clone)) is not None)
    return _Field(text, events, True)


def _read_clone(text: str, clone: int) -> list[_Field]:
    """The abnormalities of one clone, its chromosome count, sex chromosomes and cell count
    set aside."""
    fields = _split_outside_parentheses(_CELL_COUNT_RE.sub("", text))
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
        return _rearranged(source, f"{detail}: partners disagree, so not specified")
    bands = {event.band for event in events}
    if len(bands) == 1:
        return _rearranged_at(source, detail, chromosomes.pop(), bands.pop())
    genes = {partner_gene_for_band(event.chromosome, event.band) if event.band else None
             for event in events}
    gene = genes.pop() if len(genes) == 1 else None
    return _rearranged(source, detail, chromosomes.pop(), None, gene)


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
        return _rearranged(source, _describe(by_kind["unspecified"], len(clones))
                           + ": partner not specified")
    if by_kind["deletion"]:
        described = _describe(by_kind["deletion"], len(clones))
        if deletion_counts:
            return _rearranged(source, f"11q23 deletion {described} counted as a KMT2A "
                                       "rearrangement (deletion_counts=True)")
        return _without_partner(NOT_REARRANGED, source, f"11q23 deletion {described} is not "
                                                        "a KMT2A rearrangement on its own")
    if by_kind["other"]:
        return _without_partner(NOT_REARRANGED, source,
                                f"{_describe(by_kind['other'], len(clones))} has an 11q23 "
                                "breakpoint but no fusion partner")
    n_abnormalities = sum(field.is_abnormality for fields in clones for field in fields)
    if n_abnormalities == 0:
        return _without_partner(NOT_REARRANGED, source, "normal karyotype")
    return _without_partner(NOT_REARRANGED, source,
                            f"no 11q23 rearrangement among {n_abnormalities} abnormalities")


def _read_clones(compact: str) -> list[list[_Field]]:
    """Every clone of a karyotype without whitespace, in order; raises ``_IscnError``."""
    _check_parentheses(compact)
    clone_texts = re.split(r"/+", compact)
    clones = []
    for number, clone_text in enumerate(clone_texts, start=1):
        try:
            if not clone_text:
                raise _IscnError("an empty clone")
            clones.append(_read_clone(clone_text, number))
        except _IscnError as error:
            if len(clone_texts) == 1:
                raise
            raise _IscnError(f"clone {number} of {len(clone_texts)}: {error}") from None
    return clones


def _parse_karyotype(text: str, deletion_counts: bool) -> KMT2AFinding:
    if _phrase(text) in _NORMAL_KARYOTYPE_PHRASES | {"normal"}:
        return _without_partner(NOT_REARRANGED, "karyotype", f"reported as {text.strip()!r}")
    if re.search(r"(?<![a-z])(?:nuc\s*)?ish\b", text, re.IGNORECASE):
        return _without_partner(UNPARSEABLE, "karyotype",
                                "FISH (ish) results are not read; give the karyotype alone")
    try:
        clones = _read_clones(re.sub(r"\s+", "", text).lower())
    except _IscnError as error:
        return _without_partner(UNPARSEABLE, "karyotype", f"karyotype {text.strip()!r}: {error}")
    return _finding_from_clones(clones, deletion_counts)


# -------------------------------------------------------------------------- fusion names

_FUSION_RE = re.compile(
    r"^\s*(?P<left>[A-Za-z][A-Za-z0-9]*|\?)\s*(?P<sep>::|[-/\u2013\u2014])\s*"
    r"(?P<right>[A-Za-z][A-Za-z0-9]*|\?)\s*(?:\s(?P<qualifier>.*\S))?\s*$")
_GENE_SYMBOL_RE = re.compile(r"[A-Z][A-Z0-9]+")


def _is_kmt2a_name(name: str) -> bool:
    return name.upper() in KMT2A_NAMES


def _finding_from_fusion_sides(left: str, right: str, fusion: str) -> KMT2AFinding:
    source = "fusion"
    if _is_kmt2a_name(left) and _is_kmt2a_name(right):
        return _without_partner(UNPARSEABLE, source, f"both sides of {fusion!r} name KMT2A")
    if not (_is_kmt2a_name(left) or _is_kmt2a_name(right)):
        if _GENE_SYMBOL_RE.fullmatch(left) and _GENE_SYMBOL_RE.fullmatch(right):
            return _without_partner(NOT_REARRANGED, source,
                                    f"fusion {fusion!r} does not involve KMT2A")
        return _without_partner(UNPARSEABLE, source, f"cannot read fusion {fusion!r}")
    partner = right if _is_kmt2a_name(left) else left
    order = "" if _is_kmt2a_name(left) else " (reciprocal order)"
    if partner == "?":
        return _rearranged(source, f"{fusion!r}: partner not specified")
    if partner.lower() in _PTD_PHRASES:
        return _without_partner(NOT_REARRANGED, source,
                                f"{fusion!r} is a partial tandem duplication, not a fusion")
    gene = find_partner_gene(partner)
    if gene is not None:
        return _rearranged_with_gene(source, f"fusion KMT2A::{gene.symbol}{order}", gene)
    if _GENE_SYMBOL_RE.fullmatch(partner):
        return _rearranged(source, f"fusion KMT2A::{partner}{order}: {partner} is not in the "
                                   "partner table, so its chromosome is unknown",
                           gene=partner)
    return _without_partner(UNPARSEABLE, source, f"cannot read partner {partner!r} "
                                                 f"in {fusion!r}")


def _parse_fusion(text: str) -> KMT2AFinding:
    source = "fusion"
    from_phrase = _finding_from_phrase(text, source)
    if from_phrase is not None:
        return from_phrase
    match = _FUSION_RE.match(text)
    if not match:
        return _without_partner(UNPARSEABLE, source,
                                f"{text.strip()!r} is not a fusion name or status")
    fusion = f"{match['left']}{match['sep']}{match['right']}"
    qualifier = _phrase(match["qualifier"] or "")
    finding = _finding_from_fusion_sides(match["left"], match["right"], fusion)
    if not qualifier or qualifier in _POSITIVE_PHRASES:
        return finding
    if qualifier in _NEGATIVE_PHRASES and finding.status == REARRANGED:
        return _without_partner(UNPARSEABLE, source,
                                f"{text.strip()!r}: a negative test for one fusion does not "
                                "exclude other KMT2A partners")
    return _without_partner(UNPARSEABLE, source, f"cannot read {match['qualifier']!r} "
                                                 f"after {fusion!r}")


# ---------------------------------------------------------------------- partners directly

_PARTNER_RE = re.compile(
    r"^\s*(?:chr(?:omosome)?\.?\s*)?(?P<chrom>\d{1,2}|[xy])\s*(?P<band>[pq]\S*)?\s*$",
    re.IGNORECASE)


def _looks_like_partner(text: str) -> bool:
    return bool(_PARTNER_RE.match(text)) or find_partner_gene(text) is not None


def _parse_partner(text: str) -> KMT2AFinding:
    source = "partner"
    quoted = text.strip()
    match = _PARTNER_RE.match(text)
    if match:
        chrom, band = match["chrom"].upper(), (match["band"] or "").lower() or None
        if chrom not in _CHROMOSOMES:
            return _without_partner(UNPARSEABLE, source, f"no chromosome {chrom!r} in {quoted!r}")
        if band is not None and not _BAND_RE.fullmatch(band):
            return _without_partner(UNPARSEABLE, source, f"cannot read band {band!r} "
                                                         f"in {quoted!r}")
        return _rearranged_at(source, f"partner given as {quoted!r}", chrom, band)
    gene = find_partner_gene(text)
    if gene is not None:
        return _rearranged_with_gene(source, f"partner given as {quoted!r}", gene)
    from_phrase = _finding_from_phrase(text, source)
    if from_phrase is not None:
        return from_phrase
    return _without_partner(UNPARSEABLE, source, f"{quoted!r} is not a chromosome, band or "
                                                 "partner gene in the table")


# --------------------------------------------------------------------------------- public

def _detect_kind(text: str) -> str:
    if _looks_like_karyotype(text):
        return "karyotype"
    if _looks_like_partner(text):
        return "partner"
    return "fusion"


def parse_kmt2a(text: str | None, kind: str = "auto", *,
                deletion_counts: bool = False) -> KMT2AFinding:
    """Read KMT2A rearrangement status and partner from one laboratory text.

    Parameters
    ----------
    text : str or None
        An ISCN karyotype, a fusion name or status, or the partner itself. None, NaN,
        empty text and words such as "NA", "unknown", "not done" or "failed" are missing.
    kind : {"auto", "karyotype", "fusion", "partner"}
        The form of ``text``. ``"auto"`` reads anything with a chromosome count or an ISCN
        abnormality as a karyotype, a chromosome, band or known gene as a partner, and
        everything else as a fusion name or status.
    deletion_counts : bool
        Count an 11q23 deletion in a karyotype as a rearrangement with an unspecified
        partner (the default, False, reports it as not rearranged).

    Returns
    -------
    KMT2AFinding
        See the module notes for the rules.

    Raises
    ------
    UserError
        If ``kind`` is not one of :data:`KINDS`.
    """
    if kind not in KINDS:
        raise UserError(f"KMT2A text kind must be one of {', '.join(KINDS)}, not {kind!r}")
    text = _as_text(text)
    if text is None or _is_missing(text):
        source = "unknown" if kind == "auto" else kind
        return _without_partner(MISSING, source, "no result recorded" if text is None
                                else f"recorded as {text.strip()!r}")
    if kind == "auto":
        kind = _detect_kind(text)
    if kind == "karyotype":
        return _parse_karyotype(text, deletion_counts)
    if kind == "partner":
        return _parse_partner(text)
    return _parse_fusion(text)


def parse_kmt2a_many(texts: Iterable[object], kind: str = "auto", *,
                     deletion_counts: bool = False) -> list[KMT2AFinding]:
    """:func:`parse_kmt2a` over a sequence (a list, a pandas Series...), reading each
    distinct text once.

    Parameters
    ----------
    texts : iterable
        Strings, None or NaN; numbers from a numeric partner column are read as text
        (4.0 as ``"4"``).
    kind, deletion_counts
        As for :func:`parse_kmt2a`.

    Returns
    -------
    list of KMT2AFinding
        One per element, in order.
    """
    cache: dict[str | None, KMT2AFinding] = {}
    findings = []
    for value in texts:
        text = _as_text(value)
        if text not in cache:
            cache[text] = parse_kmt2a(text, kind, deletion_counts=deletion_counts)
        findings.append(cache[text])
    return findings


def partner_label(finding: KMT2AFinding, with_gene: bool = False) -> str:
    """A table label for a finding's partner.

    Parameters
    ----------
    finding : KMT2AFinding
    with_gene : bool
        Add the partner gene in parentheses where it is known.

    Returns
    -------
    str
        ``"Chromosome 4"`` or ``"Chromosome 4 (AFF1)"``; ``"Partner not specified"``;
        ``"NRIP3 (chromosome unknown)"`` for a fusion partner not in the table; and for
        other statuses the status capitalised (``"Not rearranged"``, ``"Missing"``,
        ``"Unparseable"``).
    """
    if finding.status != REARRANGED:
        return finding.status.capitalize()
    if finding.partner_chromosome is None:
        if finding.partner_gene is not None:
            return f"{finding.partner_gene} (chromosome unknown)"
        return "Partner not specified"
    label = f"Chromosome {finding.partner_chromosome}"
    if with_gene and finding.partner_gene is not None:
        label += f" ({finding.partner_gene})"
    return label
