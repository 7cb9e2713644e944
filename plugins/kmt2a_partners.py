"""Built-in analysis ``kmt2a_partners``: KMT2A status and partner chromosomes by group.

Reads what laboratories record — ISCN karyotypes, fusion names, or the partner itself —
with :func:`cohortpress.data.cytogenetics.parse_kmt2a`, then computes the records of two
cross-tabulations with :func:`cohortpress.kit.crosstab.crosstab_records` and renders both
tables from those records alone (:func:`tables_from_records`): KMT2A status by group (with a
test) and partner by group, as n (%) of the rearranged patients whose partner is known.
Patients whose partner is not specified are counted in a footnote; text the parser cannot
read is listed by patient id (in ``cohortpress validate`` and under the section), never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from pydantic import Field

from cohortpress import hookimpl
from cohortpress.common.errors import DataError
from cohortpress.api.blocks import Footnote, Table
from cohortpress.api.options import Options, Variable
from cohortpress.api.results import Result
from cohortpress.api.sections import Analysis, SectionContext
from cohortpress.data.grouping import empty_group_warnings, group_cohort
from cohortpress.kit.crosstab import (CrosstabLayout, CrosstabSpec, crosstab_from_records,
                                      crosstab_records)
from cohortpress.kit.disclosure import count_text, release_records
from cohortpress.kit.records import Records

CategoricalTest = Literal["fisher", "chisq", "chisq_yates", "none"]
#: The records' variable names of the two tables.
STATUS, PARTNER = "kmt2a_status", "kmt2a_partner"


class Kmt2aOptions(Options):
    source: Variable = Field(description="a column of karyotypes, fusion names or partner "
                             "genes", examples=["karyotype"])
    kind: Literal["auto", "karyotype", "fusion", "partner"] = Field(
        "auto", description="what the column holds; auto: recognised per value",
        examples=["karyotype"])
    by: Variable | None = Field(None, description="the grouping variable; default: "
                               "cohort.group", examples=["diagnosis"])
    status_test: CategoricalTest = Field("fisher", description="the test of KMT2A status by "
                                         "group", examples=["chisq"])
    partner_test: CategoricalTest = Field("none", description="the test of partner by group",
                                          examples=["fisher"])
    negative_label: str = Field("KMT2A negative", description="the row label for no "
                                "rearrangement", examples=["KMT2A germline"])
    positive_label: str = Field("KMT2A positive", description="the row label for a "
                                "rearrangement", examples=["KMT2A-r"])
    status_caption: str = Field("KMT2A rearrangement status by group.", description="the "
                                "status table's caption", examples=["KMT2A status."])
    partner_caption: str = Field("KMT2A translocation partners.", description="the partner "
                                 "table's caption", examples=["KMT2A partner genes."])
    status_percent_digits: int | None = Field(None, ge=0, le=3, description="decimals of the "
                                              "status table's percentages; default: "
                                              "report.percent_digits", examples=[1])
    partner_percent_digits: int = Field(2, ge=0, le=3, description="decimals of the partner "
                                        "table's percentages", examples=[1])
    collapse_below: int = Field(0, ge=0, description="partners seen in fewer patients are "
                                "pooled into one row (listed in a footnote)", examples=[3])
    gene_names: bool = Field(False, description="add the partner gene where known: "
                             "Chromosome 4 (AFF1)", examples=[True])
    deletion_counts: bool = Field(False, description="count an 11q23 deletion as a "
                                  "rearrangement", examples=[True])
    group_header: str | None = Field(None, description="the header over the group columns; "
                                     "default: the grouping variable's label",
                                     examples=["Diagnosis"])
    partner_table: bool = Field(True, description="the partner table after the status table",
                                examples=[False])

    def check_data(self, cohort) -> list[str]:
        """The grouping must be given and categorical (refused with the run's line); a group
        with no patients is a warning. Unreadable texts are listed by :func:`check`."""
        return empty_group_warnings(group_cohort(cohort, _by(cohort, self)))


def findings_for(cohort, options: Kmt2aOptions):
    """The parser's finding for every patient (distinct texts are parsed once)."""
    from cohortpress.data.cytogenetics import parse_kmt2a_many

    info = cohort.variable(options.source)
    values = cohort.values(options.source)
    texts = values.astype(object).where(values.notna(), None).tolist() \
        if info.kind != "text" else values.tolist()
    return parse_kmt2a_many(texts, options.kind, deletion_counts=options.deletion_counts)


def check(cohort, options: Kmt2aOptions) -> list[str]:
    """Text the parser cannot read, by patient id."""
    return _unreadable(cohort, options, findings_for(cohort, options))


def _unreadable(cohort, options: Kmt2aOptions, findings) -> list[str]:
    bad = [i for i, f in enumerate(findings) if f.status == "unparseable"]
    names = cohort.row_names(bad)
    values = cohort.values(options.source)
    return [f"{options.source}: patient {name}: cannot read {values.iloc[i]!r} "
            f"({findings[i].detail})" for name, i in zip(names, bad)]


def _chromosome_key(label: str):
    match = re.search(r"Chromosome (\w+)", label)
    token = match.group(1) if match else label
    if token.isdigit():
        return (0, int(token), label)
    return (1, {"X": 23, "Y": 24}.get(token, 99), label)


def run(cohort, options: Kmt2aOptions, context: SectionContext):
    by = _by(cohort, options)
    groups = group_cohort(cohort, by)
    findings = findings_for(cohort, options)
    status = np.array([{"rearranged": 1, "not rearranged": 0}.get(f.status, -1)
                       for f in findings], dtype=np.int64)
    status_spec = _status_spec(status, groups, by, options, context)
    status_records = crosstab_records(status_spec, context)
    results = [_named(r, STATUS, by) for r in status_records.results]
    methods = [_methods_sentence(options)] + status_records.methods
    if options.partner_table:
        partner_results, partner_methods = _partner_records(findings, status, groups, by,
                                                            options, context)
        results += partner_results
        methods += partner_methods
    results = release_records(results, context.disclosure)
    tables = tables_from_records(results, layout(cohort, options, context))
    warnings = _unreadable(cohort, options, findings)
    return context.section(blocks=tables, results=results, methods=methods,
                           warnings=tuple(warnings),
                           abbreviations=(("KMT2A", "lysine methyltransferase 2A (MLL)"),))


def _by(cohort, options: Kmt2aOptions) -> str:
    by = options.by if options.by is not None else cohort.group
    if by is None:
        raise DataError("kmt2a_partners needs 'by' (or cohort.group)", key="by")
    return by


def _status_spec(status, groups, by: str, options: Kmt2aOptions, context) -> CrosstabSpec:
    return CrosstabSpec(
        row_name="KMT2A status", row_levels=(options.negative_label, options.positive_label),
        row_codes=status, col_name=by, col_label=options.group_header or groups.label,
        col_levels=groups.levels, col_codes=groups.codes, percent="column",
        percent_digits=options.status_percent_digits if options.status_percent_digits
        is not None else context.percent_digits, test=options.status_test,
        caption=options.status_caption)


def _partner_records(findings, status, groups, by: str, options: Kmt2aOptions, context):
    """The partner cross-table's records, the patients whose partner is not specified
    (``categorical`` ``n`` of level ``"not specified"`` per group) and the partners
    collapsed into "Other" (``collapsed`` ``n`` per partner)."""
    from cohortpress.data.cytogenetics import partner_label

    specified = np.array([f.status == "rearranged" and f.partner_specified for f in findings])
    labels = [partner_label(f, with_gene=options.gene_names) if ok else None
              for f, ok in zip(findings, specified)]
    counts: dict[str, int] = {}
    for label, code in zip(labels, groups.codes):
        if label is not None and code >= 0:
            counts[label] = counts.get(label, 0) + 1
    rare = sorted((lb for lb, n in counts.items() if n < options.collapse_below),
                  key=_chromosome_key)
    shown = sorted((lb for lb in counts if lb not in rare), key=_chromosome_key)
    index = {lb: i for i, lb in enumerate(shown)}
    codes = np.array([-1 if lb is None else index.get(lb, len(shown)) for lb in labels],
                     dtype=np.int64)
    unspecified = (status == 1) & ~specified
    results = [Result("categorical", "n", int((unspecified & (groups.codes == j)).sum()),
                      variable=PARTNER, variable_level="not specified", group=by,
                      group_level=level)
               for j, level in enumerate(groups.levels)]
    results += [Result("collapsed", "n", counts[lb], variable=PARTNER, variable_level=lb)
                for lb in rare]
    spec = CrosstabSpec(
        row_name="KMT2A partner", row_levels=shown + (["Other"] if rare else []),
        row_codes=codes, col_name=by, col_label=options.group_header or groups.label,
        col_levels=groups.levels,
        col_codes=np.where(specified, groups.codes, -1), percent="column",
        percent_digits=options.partner_percent_digits, test=options.partner_test,
        missing="no")
    computed = crosstab_records(spec, context)
    results += [_named(r, PARTNER, by) for r in computed.results]
    return results, computed.methods


# --------------------------------------------------------------------------- the tables


@dataclass(frozen=True)
class Kmt2aLayout:
    """How the two tables are laid out: labels, captions and choices, no count."""

    by: str
    group_header: str
    options: Kmt2aOptions
    p_digits: int
    status_percent_digits: int


def layout(cohort, options: Kmt2aOptions, context: SectionContext) -> Kmt2aLayout:
    """The tables' layout from the config (the group header is the group variable's label
    unless ``group_header`` says otherwise)."""
    by = _by(cohort, options)
    return Kmt2aLayout(
        by=by, group_header=options.group_header or cohort.variable(by).label,
        options=options, p_digits=context.p_digits,
        status_percent_digits=options.status_percent_digits
        if options.status_percent_digits is not None else context.percent_digits)


def tables_from_records(results, table_layout: Kmt2aLayout) -> list[Table]:
    """The status table and (unless ``partner_table = false``) the partner table, from the
    section's results records alone."""
    records = Records(results)
    options = table_layout.options
    common = dict(group=table_layout.by, col_label=table_layout.group_header,
                  percent="column", p_digits=table_layout.p_digits)
    tables = [crosstab_from_records(records, CrosstabLayout(
        variable=STATUS, caption=options.status_caption,
        percent_digits=table_layout.status_percent_digits, **common))]
    if options.partner_table:
        marks, notes = _partner_footnotes(records, table_layout)
        tables.append(crosstab_from_records(records, CrosstabLayout(
            variable=PARTNER, caption=options.partner_caption,
            percent_digits=options.partner_percent_digits, missing="no", col_marks=marks,
            extra_footnotes=tuple(notes), **common)))
    return tables


def _partner_footnotes(records: Records, table_layout: Kmt2aLayout):
    """Marks on the groups with patients whose partner is not specified, their footnotes,
    and the footnote listing the partners collapsed into "Other"."""
    notes, marks = [], {}
    for record in records.select(context="categorical", stat_name="n", variable=PARTNER,
                                 variable_level="not specified", group=table_layout.by):
        n = record.stat
        if n or n is None:  # None: a count the disclosure rule hides ("<10 patients")
            marks[record.group_level] = ("*" * (len(marks) + 1),)
            patients = "one patient" if n == 1 else f"{count_text(n, record.formatted)} patients"
            notes.append(Footnote(f"For {patients}, the translocation partner was not "
                                  f"specified.", marks[record.group_level][0]))
    rare = records.select(context="collapsed", stat_name="n", variable=PARTNER)
    if rare:
        detail = ", ".join(f"{r.variable_level.replace('Chromosome ', 'chr ')} "
                           f"({count_text(r.stat, r.formatted)})"
                           for r in rare)
        notes.append(Footnote(f"Other: partners with fewer than "
                              f"{table_layout.options.collapse_below} patients: {detail}."))
    return marks, notes


def _named(record: Result, variable: str, by: str) -> Result:
    return replace(record, variable=variable, group=by if record.group is not None else None)


#: How each form of the source is read, as the methods say it (after "were derived from").
_SOURCE_TEXT = {
    "karyotype": ("ISCN karyotypes; a structural rearrangement with a breakpoint at 11q23 was "
                  "counted as a KMT2A rearrangement and its other breakpoint as the partner"),
    "fusion": ("fusion gene names; a fusion of KMT2A with another gene was counted as a KMT2A "
               "rearrangement, the other gene as the partner and that gene's chromosome as the "
               "partner chromosome"),
    "partner": ("the partner chromosomes, bands or genes recorded for each patient; a "
                "recorded gene was placed on its chromosome"),
    "auto": ("laboratory reports read as ISCN karyotypes, fusion gene names or recorded "
             "partners; a breakpoint at 11q23 joined to another chromosome, or a fusion of "
             "KMT2A with another gene, was counted as a KMT2A rearrangement, the other "
             "breakpoint or gene being the partner"),
}


def _methods_sentence(options: Kmt2aOptions) -> str:
    """How status and partners were read, in the words of the form the source holds:
    karyotype wording (breakpoints, deletions) only where karyotypes were read."""
    text = (f"KMT2A rearrangement status and partner chromosomes were derived from "
            f"{_SOURCE_TEXT[options.kind]}.")
    if options.kind in ("karyotype", "auto"):
        text += (" Deletions at 11q23 were counted as rearrangements." if options.deletion_counts
                 else " A deletion at 11q23 alone was not counted as a rearrangement.")
    return text


@hookimpl
def cohortpress_analyses():
    return [Analysis("kmt2a_partners", run, Kmt2aOptions,
                     "KMT2A status and partner chromosomes from karyotypes or fusion names",
                     check=check)]
