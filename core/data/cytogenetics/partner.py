"""Reading a partner given directly: a chromosome, a band or a gene (``4``, ``4q21``, ``AF4``).

* A partner given directly is a chromosome (``4``, ``chr4``, ``chromosome 9``), a band
  (``4q21``, whose gene is found as for a karyotype) or a gene or alias in the table
  (``AFF1``, ``AF4``); a symbol outside the table is unparseable, since outside a fusion
  name nothing shows it is a gene. ``11`` is partner chromosome 11 (an intrachromosomal
  partner); ``11q23`` is the KMT2A locus itself, so the partner is not specified.
"""

from __future__ import annotations

import re

from cohortpress.data.cytogenetics.bands import CHROMOSOMES
from cohortpress.data.cytogenetics.finding import (
    UNPARSEABLE, KMT2AFinding, rearranged_at, rearranged_with_gene, without_partner)
from cohortpress.data.cytogenetics.genes import find_partner_gene
from cohortpress.data.cytogenetics.iscn import BAND_RE
from cohortpress.data.cytogenetics.phrases import finding_from_phrase

_PARTNER_RE = re.compile(
    r"^\s*(?:chr(?:omosome)?\.?\s*)?(?P<chrom>\d{1,2}|[xy])\s*(?P<band>[pq]\S*)?\s*$",
    re.IGNORECASE)


def looks_like_partner(text: str) -> bool:
    return bool(_PARTNER_RE.match(text)) or find_partner_gene(text) is not None


def parse_partner(text: str) -> KMT2AFinding:
    source = "partner"
    quoted = text.strip()
    match = _PARTNER_RE.match(text)
    if match:
        chrom, band = match["chrom"].upper(), (match["band"] or "").lower() or None
        if chrom not in CHROMOSOMES:
            return without_partner(UNPARSEABLE, source, f"no chromosome {chrom!r} in {quoted!r}")
        if band is not None and not BAND_RE.fullmatch(band):
            return without_partner(UNPARSEABLE, source, f"cannot read band {band!r} "
                                                        f"in {quoted!r}")
        return rearranged_at(source, f"partner given as {quoted!r}", chrom, band)
    gene = find_partner_gene(text)
    if gene is not None:
        return rearranged_with_gene(source, f"partner given as {quoted!r}", gene)
    from_phrase = finding_from_phrase(text, source)
    if from_phrase is not None:
        return from_phrase
    return without_partner(UNPARSEABLE, source, f"{quoted!r} is not a chromosome, band or "
                                                "partner gene in the table")
