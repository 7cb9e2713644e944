"""Karyotype bands: is a breakpoint the KMT2A locus, and which partner gene does it identify.

Bands are compared as text: a sub-band extends its band once the dot is dropped (``q21.3``
is within ``q21``).
"""

from __future__ import annotations

from cohortpress.data.cytogenetics.genes import PARTNER_GENES, PartnerGene

#: The chromosomes a karyotype, or a partner given directly, may name.
CHROMOSOMES = frozenset({str(n) for n in range(1, 23)} | {"X", "Y"})


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
