"""What reading one text gives: :class:`KMT2AFinding`, its statuses, and the ways to make one.

Every reader (karyotype, fusion name, partner) builds its findings through the functions
here, so that a rearrangement at a band is always completed the same way (11q23 itself
leaves the partner unspecified; a band that identifies a gene names it).
"""

from __future__ import annotations

from dataclasses import dataclass

from cohortpress.data.cytogenetics.bands import is_kmt2a_band, partner_gene_for_band
from cohortpress.data.cytogenetics.genes import PartnerGene

REARRANGED = "rearranged"
NOT_REARRANGED = "not rearranged"
UNPARSEABLE = "unparseable"
MISSING = "missing"
STATUSES = (REARRANGED, NOT_REARRANGED, UNPARSEABLE, MISSING)

KINDS = ("auto", "karyotype", "fusion", "partner")
#: ``"unknown"`` is only used for missing text read with ``kind="auto"``.
SOURCES = ("karyotype", "fusion", "partner", "unknown")


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


def without_partner(status: str, source: str, detail: str) -> KMT2AFinding:
    return KMT2AFinding(status, None, None, None, False, source, detail)


def rearranged(source: str, detail: str, chromosome: str | None = None,
               band: str | None = None, gene: str | None = None) -> KMT2AFinding:
    specified = chromosome is not None or gene is not None
    return KMT2AFinding(REARRANGED, chromosome, band, gene, specified, source, detail)


def rearranged_with_gene(source: str, detail: str, gene: PartnerGene) -> KMT2AFinding:
    return rearranged(source, detail, gene.chromosome, gene.cytoband, gene.symbol)


def rearranged_at(source: str, detail: str, chromosome: str,
                  band: str | None) -> KMT2AFinding:
    """A rearrangement whose partner is a chromosome and perhaps a band."""
    if band is not None and is_kmt2a_band(chromosome, band):
        return rearranged(source, f"{detail}: the partner band is 11q23 itself, "
                                  "so the partner is not specified")
    gene = partner_gene_for_band(chromosome, band) if band else None
    return rearranged(source, detail, chromosome, band, gene)
