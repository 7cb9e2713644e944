"""KMT2A (MLL) rearrangement status and partner from what laboratories record.

Laboratories report KMT2A status in three forms, and :func:`parse_kmt2a` reads each:

* an ISCN karyotype, such as ``46,XY,t(4;11)(q21;q23)[20]``;
* a fusion name, such as ``KMT2A::AFF1``, ``MLL-AF4`` or ``KMT2A rearranged``;
* the partner given directly, such as ``4``, ``chr9``, ``4q21`` or ``AF4``.

Each reading gives a :class:`KMT2AFinding`: a status (``"rearranged"``, ``"not
rearranged"``, ``"unparseable"`` or ``"missing"``), the partner's chromosome, band and gene
where the text identifies them, and a short reason. Text the parser cannot read is reported
as ``"unparseable"`` with the fragment at fault; it is never guessed.

One module per part, each importing only those listed before it:

* :mod:`~cohortpress.data.cytogenetics.genes`: the partner gene table and its sources;
* :mod:`~cohortpress.data.cytogenetics.bands`: the KMT2A locus and the gene a band identifies;
* :mod:`~cohortpress.data.cytogenetics.finding`: :class:`KMT2AFinding` and its statuses;
* :mod:`~cohortpress.data.cytogenetics.phrases`: status words ("negative", "MLL-r", "NA");
* :mod:`~cohortpress.data.cytogenetics.iscn`: the ISCN tokenizer;
* :mod:`~cohortpress.data.cytogenetics.karyotype`: karyotypes (and the rules for them);
* :mod:`~cohortpress.data.cytogenetics.fusion`: fusion names (and the rules for them);
* :mod:`~cohortpress.data.cytogenetics.partner`: partners given directly (and the rules);
* :mod:`~cohortpress.data.cytogenetics.parse`: :func:`parse_kmt2a`, :func:`parse_kmt2a_many`
  and :func:`partner_label`, what the rest of cohortpress uses.
"""

from cohortpress.data.cytogenetics.bands import is_kmt2a_band, partner_gene_for_band
from cohortpress.data.cytogenetics.finding import (
    KINDS, MISSING, NOT_REARRANGED, REARRANGED, SOURCES, STATUSES, UNPARSEABLE, KMT2AFinding)
from cohortpress.data.cytogenetics.genes import (
    GENE_ALIASES, KMT2A_NAMES, PARTNER_BANDS, PARTNER_GENES, PartnerGene, find_partner_gene)
from cohortpress.data.cytogenetics.parse import parse_kmt2a, parse_kmt2a_many, partner_label

__all__ = [
    "GENE_ALIASES", "KINDS", "KMT2A_NAMES", "KMT2AFinding", "MISSING", "NOT_REARRANGED",
    "PARTNER_BANDS", "PARTNER_GENES", "PartnerGene", "REARRANGED", "SOURCES", "STATUSES",
    "UNPARSEABLE", "find_partner_gene", "is_kmt2a_band", "parse_kmt2a", "parse_kmt2a_many",
    "partner_gene_for_band", "partner_label",
]
