"""The public readers: one text, or a column, to KMT2A findings; a finding as a table label.

Chooses the form of each text (karyotype, partner, fusion name) when asked to, and hands it
to that form's reader.
"""

from __future__ import annotations

from collections.abc import Iterable

from cohortpress.common.errors import UserError
from cohortpress.data.cytogenetics.finding import (
    KINDS, MISSING, REARRANGED, KMT2AFinding, without_partner)
from cohortpress.data.cytogenetics.fusion import parse_fusion
from cohortpress.data.cytogenetics.karyotype import looks_like_karyotype, parse_karyotype
from cohortpress.data.cytogenetics.partner import looks_like_partner, parse_partner
from cohortpress.data.cytogenetics.phrases import cell_as_text, is_missing


def _detect_kind(text: str) -> str:
    if looks_like_karyotype(text):
        return "karyotype"
    if looks_like_partner(text):
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
    text = cell_as_text(text)
    if text is None or is_missing(text):
        source = "unknown" if kind == "auto" else kind
        return without_partner(MISSING, source, "no result recorded" if text is None
                               else f"recorded as {text.strip()!r}")
    if kind == "auto":
        kind = _detect_kind(text)
    if kind == "karyotype":
        return parse_karyotype(text, deletion_counts)
    if kind == "partner":
        return parse_partner(text)
    return parse_fusion(text)


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
        text = cell_as_text(value)
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
