"""Tests for cohortpress.data.cytogenetics: KMT2A status and partner from laboratory text."""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cohortpress.data.cytogenetics import (
    GENE_ALIASES,
    KMT2A_NAMES,
    PARTNER_BANDS,
    PARTNER_GENES,
    STATUSES,
    KMT2AFinding,
    find_partner_gene,
    is_kmt2a_band,
    parse_kmt2a,
    parse_kmt2a_many,
    partner_gene_for_band,
    partner_label,
)
from cohortpress.common.errors import UserError

CORPUS_PATH = Path(__file__).parent / "fixtures" / "iscn_corpus.toml"
CORPUS = tomllib.loads(CORPUS_PATH.read_text(encoding="utf-8"))["case"]
CHROMOSOMES = {str(n) for n in range(1, 23)} | {"X", "Y"}


def _case_id(case: dict) -> str:
    return f"{case['kind']}:{case['text']!r}"


# ---------------------------------------------------------------------------------- corpus

def test_corpus_is_large_and_covers_every_status_and_kind():
    assert len(CORPUS) >= 40
    assert {case["status"] for case in CORPUS} == set(STATUSES)
    assert {case["kind"] for case in CORPUS} == {"auto", "karyotype", "fusion", "partner"}
    malformed_karyotypes = [case for case in CORPUS if case["status"] == "unparseable"
                            and case["kind"] in ("auto", "karyotype")]
    assert len(malformed_karyotypes) >= 8


@pytest.mark.parametrize("case", CORPUS, ids=_case_id)
def test_corpus_case(case):
    finding = parse_kmt2a(case["text"], case["kind"],
                          deletion_counts=case.get("deletion_counts", False))
    expected = (case["status"], case.get("chromosome"), case.get("band"), case.get("gene"))
    actual = (finding.status, finding.partner_chromosome, finding.partner_band,
              finding.partner_gene)
    assert actual == expected, finding.detail
    default_specified = case["status"] == "rearranged" and (
        "chromosome" in case or "gene" in case)
    assert finding.partner_specified is case.get("specified", default_specified)
    assert case.get("detail", "") in finding.detail
    if case["kind"] != "auto":
        assert finding.source == case["kind"]


@pytest.mark.parametrize("case", [case for case in CORPUS if case["status"] == "unparseable"],
                         ids=_case_id)
def test_unparseable_detail_names_what_was_not_read(case):
    finding = parse_kmt2a(case["text"], case["kind"])
    assert finding.detail
    assert finding.partner_chromosome is None and finding.partner_gene is None


# ---------------------------------------------------------------------------- partner table

def test_partner_symbols_are_unique_and_located_on_real_chromosomes():
    symbols = [gene.symbol for gene in PARTNER_GENES]
    assert len(symbols) == len(set(symbols))
    for gene in PARTNER_GENES:
        assert gene.chromosome in CHROMOSOMES, gene
        assert re.fullmatch(r"[pq]\d{1,2}(?:\.\d{1,2})?", gene.cytoband), gene
        for band in gene.karyotype_bands:
            assert re.fullmatch(r"[pq][1-4]\d(?:\.\d{1,2})?", band), gene


@pytest.mark.parametrize("alias, symbol", [
    ("AF4", "AFF1"), ("MLLT2", "AFF1"), ("AF9", "MLLT3"), ("ENL", "MLLT1"),
    ("AF10", "MLLT10"), ("AF6", "AFDN"), ("MLLT4", "AFDN"), ("AF1P", "EPS15"),
    ("af1p", "EPS15"), ("AF1Q", "MLLT11"), ("AF17", "MLLT6"), ("SEPT6", "SEPTIN6"),
    ("SEPT9", "SEPTIN9"), ("AFX", "FOXO4"), ("  Af9 ", "MLLT3"),
])
def test_old_aliases_map_to_current_hgnc_symbols(alias, symbol):
    assert find_partner_gene(alias).symbol == symbol


def test_every_symbol_maps_to_itself_and_kmt2a_is_not_a_partner():
    for gene in PARTNER_GENES:
        assert GENE_ALIASES[gene.symbol] == gene.symbol
    assert not KMT2A_NAMES & set(GENE_ALIASES)
    assert find_partner_gene("MLL") is None
    assert find_partner_gene("NOT_A_GENE") is None


@pytest.mark.parametrize("symbol, chromosome, cytoband", [
    ("AFF1", "4", "q21.3"), ("MLLT3", "9", "p21.3"), ("MLLT1", "19", "p13.3"),
    ("ELL", "19", "p13.11"), ("MLLT10", "10", "p12.31"), ("AFDN", "6", "q27"),
    ("EPS15", "1", "p32.3"), ("MLLT11", "1", "q21.3"), ("MLLT6", "17", "q12"),
    ("SEPTIN6", "X", "q24"), ("SEPTIN9", "17", "q25.3"),
])
def test_major_partners_have_their_hgnc_location(symbol, chromosome, cytoband):
    gene = find_partner_gene(symbol)
    assert (gene.chromosome, gene.cytoband) == (chromosome, cytoband)


def test_partner_bands_index_the_karyotype_bands():
    assert PARTNER_BANDS[("4", "q21")] == "AFF1"
    assert PARTNER_BANDS[("9", "p22")] == "MLLT3"
    assert PARTNER_BANDS[("10", "p12")] == "MLLT10"
    assert ("19", "p13") not in PARTNER_BANDS
    expected_size = sum(len(gene.karyotype_bands) for gene in PARTNER_GENES)
    assert len(PARTNER_BANDS) == expected_size


@pytest.mark.parametrize("chromosome, band, gene", [
    ("4", "q21", "AFF1"),
    ("4", "q21.3", "AFF1"),
    ("4", "q21.1", None),       # SEPTIN11's band, not AFF1's (4q21.3)
    ("9", "p22", "MLLT3"),      # the band older karyotypes give
    ("9", "p21.3", "MLLT3"),
    ("19", "p13.3", "MLLT1"),
    ("19", "p13.1", "ELL"),
    ("19", "p13.11", "ELL"),
    ("19", "p13", None),        # MLLT1 or ELL
    ("10", "p12", "MLLT10"),
    ("10", "p12.3", "MLLT10"),
    ("10", "p12.1", None),      # ABI1's band, not MLLT10's (10p12.31)
    ("17", "q21", "MLLT6"),
    ("X", "q24", "SEPTIN6"),
    ("4", "q31", None),
    ("21", "q22", None),
])
def test_partner_gene_for_band(chromosome, band, gene):
    assert partner_gene_for_band(chromosome, band) == gene


@pytest.mark.parametrize("chromosome, band, expected", [
    ("11", "q23", True), ("11", "q23.3", True), ("11", "q23.31", True),
    ("11", "q23.2", False), ("11", "q23.1", False), ("11", "q22", False),
    ("11", "q2", False), ("11", "q13", False), ("4", "q23", False), ("11", "p23", False),
])
def test_is_kmt2a_band(chromosome, band, expected):
    assert is_kmt2a_band(chromosome, band) is expected


# ----------------------------------------------------------------------------- behaviour

def test_three_way_partner_is_the_breakpoint_listed_before_11q23():
    assert parse_kmt2a("t(4;11;5)(q21;q23;q31)").partner_chromosome == "4"
    assert parse_kmt2a("t(11;4;5)(q23;q21;q31)").partner_chromosome == "5"
    assert parse_kmt2a("t(5;4;11)(q31;q21;q23)").partner_chromosome == "4"


def test_deletion_is_counted_only_when_asked():
    default = parse_kmt2a("46,XY,del(11)(q23)[20]")
    counted = parse_kmt2a("46,XY,del(11)(q23)[20]", deletion_counts=True)
    assert default.status == "not rearranged" and "deletion" in default.detail
    assert (counted.status, counted.partner_specified) == ("rearranged", False)


def test_a_specified_partner_wins_over_an_unspecified_one():
    finding = parse_kmt2a("46,XY,t(9;11)(p22;q23)[10]/46,XY,add(11)(q23)[5]")
    assert (finding.partner_chromosome, finding.partner_gene) == ("9", "MLLT3")


def test_partners_that_disagree_are_not_specified():
    finding = parse_kmt2a("46,XY,t(4;11)(q21;q23)[10]/46,XY,t(9;11)(p22;q23)[5]")
    assert finding.status == "rearranged"
    assert not finding.partner_specified
    assert "disagree" in finding.detail


def test_partners_on_one_chromosome_keep_the_gene_they_agree_on():
    finding = parse_kmt2a("46,XY,t(9;11)(p22;q23)[10]/46,XY,t(9;11)(p21.3;q23)[5]")
    assert (finding.partner_chromosome, finding.partner_band, finding.partner_gene) == (
        "9", None, "MLLT3")


def test_normal_clone_alone_is_not_rearranged_whatever_its_position():
    assert parse_kmt2a("46,XX[20]/46,XX[5]").status == "not rearranged"
    finding = parse_kmt2a("46,XX,t(8;21)(q22;q22)[15]/46,XX[5]")
    assert finding.status == "not rearranged"
    assert "1 abnormalities" in finding.detail


def test_kind_is_detected_and_reported_as_source():
    assert parse_kmt2a("46,XY,t(4;11)(q21;q23)").source == "karyotype"
    assert parse_kmt2a("KMT2A::AFF1").source == "fusion"
    assert parse_kmt2a("chr4").source == "partner"
    assert parse_kmt2a(None).source == "unknown"
    assert parse_kmt2a(None, "fusion").source == "fusion"


def test_unknown_kind_is_a_user_error():
    with pytest.raises(UserError, match="kind"):
        parse_kmt2a("46,XY", "ish")


@pytest.mark.parametrize("value", [None, float("nan"), "", "  ", "NA", "n/a", "Not done"])
def test_missing_values(value):
    finding = parse_kmt2a(value)
    assert finding.status == "missing"
    assert not finding.partner_specified


def test_parse_many_reads_each_value_and_numbers_from_numeric_columns():
    values = ["4", 4.0, 9, None, math.nan, "KMT2A::AFF1", "4"]
    findings = parse_kmt2a_many(values, kind="partner")
    assert [finding.partner_chromosome for finding in findings] == [
        "4", "4", "9", None, None, None, "4"]
    assert [finding.status for finding in findings[3:5]] == ["missing", "missing"]
    assert findings[5].status == "unparseable"  # a fusion name is not a partner


def test_parse_many_passes_deletion_counts_on():
    findings = parse_kmt2a_many(["46,XY,del(11)(q23)"], deletion_counts=True)
    assert findings[0].status == "rearranged"


def test_finding_is_frozen_and_rejects_inconsistent_values():
    finding = parse_kmt2a("KMT2A::AFF1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.status = "missing"
    with pytest.raises(ValueError, match="status"):
        KMT2AFinding("maybe", None, None, None, False, "fusion", "")
    with pytest.raises(ValueError, match="source"):
        KMT2AFinding("missing", None, None, None, False, "guess", "")
    with pytest.raises(ValueError, match="specified"):
        KMT2AFinding("not rearranged", "4", None, None, True, "partner", "")


@given(st.text(max_size=60), st.sampled_from(["auto", "karyotype", "fusion", "partner"]))
def test_any_text_gives_a_finding_never_an_exception(text, kind):
    finding = parse_kmt2a(text, kind)
    assert finding.status in STATUSES
    assert finding.partner_specified == (
        finding.status == "rearranged"
        and (finding.partner_chromosome is not None or finding.partner_gene is not None))


@given(st.sampled_from(sorted(CHROMOSOMES - {"11"})),
       st.sampled_from(["p", "q"]), st.integers(1, 3), st.integers(0, 9),
       st.booleans())
def test_two_way_translocation_with_11q23_names_the_other_chromosome(
        chromosome, arm, region, band, eleven_first):
    other = f"{arm}{region}{band}"
    text = (f"46,XX,t(11;{chromosome})(q23;{other})[20]" if eleven_first
            else f"46,XX,t({chromosome};11)({other};q23)[20]")
    finding = parse_kmt2a(text)
    assert (finding.status, finding.partner_chromosome, finding.partner_band) == (
        "rearranged", chromosome, other)
    assert finding.partner_gene == partner_gene_for_band(chromosome, other)


# ---------------------------------------------------------------------------------- labels

@pytest.mark.parametrize("text, with_gene, label", [
    ("t(4;11)(q21;q23)", False, "Chromosome 4"),
    ("t(4;11)(q21;q23)", True, "Chromosome 4 (AFF1)"),
    ("chr9", True, "Chromosome 9"),
    ("KMT2A::SEPT6", True, "Chromosome X (SEPTIN6)"),
    ("add(11)(q23)", True, "Partner not specified"),
    ("KMT2A::NRIP3", False, "NRIP3 (chromosome unknown)"),
    ("46,XY", True, "Not rearranged"),
    ("not done", False, "Missing"),
    ("t(4;11)(q21)", False, "Unparseable"),
])
def test_partner_label(text, with_gene, label):
    assert partner_label(parse_kmt2a(text), with_gene=with_gene) == label
