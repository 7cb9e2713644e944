"""The KMT2A partner gene table: symbols, aliases, HGNC locations and karyotype bands.

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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType


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
