"""Survival tables built from their section's results records alone.

The Kaplan–Meier table (per endpoint a heading row with the log-rank p, then a row per
group and overall: patients, events, estimates at the landmark times, the median) and, for
an endpoint with competing events, its cumulative-incidence table. Every number, label and
method named comes from a record of contexts ``survfit``, ``survdiff``,
``survdiff.pairwise``, ``followup`` and ``cuminc``; the caller chooses only the layout
(:class:`SurvivalLayout`), so the table and ``results.json`` cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from cohortpress.api.blocks import Cell, Footnote, Row, Table
from cohortpress.api.results import Result
from cohortpress.common.formatting import fmt_num, in_sentence

DASH = "\u2013"
CONF_TYPE_TEXT = {"log": "log transform",
                  "log-log": "log(\u2212log) transform", "plain": "linear (plain) scale"}
ADJUST_NAMES = {"holm": "Holm's adjustment", "bonferroni": "Bonferroni's adjustment",
                "BH": "the Benjamini\u2013Hochberg adjustment", "none": "no adjustment"}
ABOUT = ("label", "time.unit", "conf.level", "conf.type")


@dataclass(frozen=True)
class SurvivalLayout:
    """How the survival tables are laid out: everything that is not in their records.

    Attributes
    ----------
    caption : str or None
        The Kaplan–Meier table's caption; by default "Survival by <group>."
    landmarks : tuple of float
        The landmark columns, in order.
    estimate : {"ci", "se"}
        Whether a landmark shows its confidence interval or its standard error.
    median : bool
        Whether the median column is shown.
    test : bool
        Whether a p-value column is shown (when there are two groups or more).
    time_digits : int
        Decimals of the median follow-up in its footnote.
    """

    caption: str | None
    landmarks: tuple[float, ...]
    estimate: str = "ci"
    median: bool = True
    test: bool = True
    time_digits: int = 1


def time_unit_word(unit: str, value: float) -> str:
    """``3-year``: a landmark time as a column heading's adjective."""
    return f"{value:g}-{unit.rstrip('s')}"


def survival_tables(records: Iterable[Result], layout: SurvivalLayout) -> tuple[Table, ...]:
    """The Kaplan–Meier table (if any endpoint has one), then each cumulative-incidence
    table, from a survival section's records."""
    records = list(records)
    about = {(r.context, r.variable, r.stat_name): r.stat for r in records
             if r.context in ("survfit", "cuminc") and r.stat_name in ABOUT
             and r.variable is not None and r.group is None and r.variable_level is None}
    km = [v for (c, v, s) in about if c == "survfit" and s == "label"]
    competing = [v for (c, v, s) in about if c == "cuminc" and s == "label"]
    tables = [_km_table(records, about, km, layout)] if km else []
    return tuple(tables + [_cuminc_table(records, about, name, layout) for name in competing])


# --------------------------------------------------------------------------- Kaplan-Meier


@dataclass
class _Row:
    label: str
    group_level: object
    values: dict
    surv: list


def _km_rows(records: Sequence[Result], name: str) -> list[_Row]:
    """The rows of one endpoint, in record order: each starts at its ``row.label``."""
    rows: list[_Row] = []
    for r in records:
        if r.context != "survfit" or r.variable != name:
            continue
        if r.stat_name == "row.label":
            rows.append(_Row(r.stat, r.group_level, {}, []))
        elif rows and r.variable_level is None:
            rows[-1].values.setdefault(r.stat_name, r)
        elif rows and r.stat_name == "surv":
            rows[-1].surv.append(r.formatted)
    return rows


def _km_table(records, about, endpoints, layout: SurvivalLayout) -> Table:
    units = {about[(c, v, "time.unit")] for (c, v, s) in about if s == "time.unit"}
    unit = next(iter(units)) if len(units) == 1 else "time"
    conf_level = about[("survfit", endpoints[0], "conf.level")]
    rows_of = {name: _km_rows(records, name) for name in endpoints}
    groups = sum(1 for row in rows_of[endpoints[0]] if row.group_level is not None)
    show_p = layout.test and groups >= 2
    tests = {r.variable: r for r in records if r.context == "survdiff"
             and r.stat_name == "p.value"}
    body = []
    for name in endpoints:
        heading = [Cell(about[("survfit", name, "label")], align="left")] + \
            [Cell("") for _ in range(2 + len(layout.landmarks) + int(layout.median))]
        if show_p:
            test = tests.get(name)
            heading.append(Cell(test.formatted, marks=("a",)) if test else Cell(""))
        body.append(Row(tuple(heading), role="group"))
        body += [_km_row(row, layout, show_p) for row in rows_of[name]]
    header = [Cell("", align="left"), Cell("n"), Cell("Events")]
    what = "% (SE)" if layout.estimate == "se" else f"% ({conf_level:.0%} CI)"
    header += [Cell(f"{time_unit_word(unit, t)} {what}") for t in layout.landmarks]
    if layout.median:
        header.append(Cell(f"Median, {unit} ({conf_level:.0%} CI)"))
    if show_p:
        header.append(Cell("p-value"))
    group_label = next((r.stat for r in records if r.context == "survfit"
                        and r.stat_name == "label" and r.variable is None), None)
    caption = layout.caption or \
        f"Survival{' by ' + in_sentence(group_label) if group_label is not None else ''}."
    return Table(caption, (Row(tuple(header)),), tuple(body),
                 tuple(_km_footnotes(records, about, endpoints, units, layout)))


def _km_row(row: _Row, layout: SurvivalLayout, show_p: bool) -> Row:
    cells = [Cell(str(row.values["n"].stat)), Cell(str(row.values["n.event"].stat))]
    cells += [Cell(row.surv[k] if k < len(row.surv) else DASH)
              for k in range(len(layout.landmarks))]
    if layout.median:
        median = row.values.get("median")
        cells.append(Cell(median.formatted if median is not None else DASH))
    if show_p:
        cells.append(Cell(""))
    return Row((Cell(row.label, align="left"), *cells), indent=1)


def _km_footnotes(records, about, endpoints, units, layout: SurvivalLayout) -> list[Footnote]:
    notes = []
    methods = [r.stat for r in records if r.context == "survdiff" and r.stat_name == "method"]
    if methods:
        notes.append(Footnote(f"{methods[-1]}.", "a"))
    if layout.landmarks:
        conf_level = about[("survfit", endpoints[0], "conf.level")]
        conf_type = about[("survfit", endpoints[0], "conf.type")]
        est = "standard errors by Greenwood's formula" if layout.estimate == "se" \
            else (f"{conf_level:.0%} confidence intervals with Greenwood "
                  f"standard errors on the {CONF_TYPE_TEXT[conf_type]}")
        default = " (R survival's default)" if conf_type == "log" and \
            layout.estimate != "se" else ""
        notes.append(Footnote(f"Kaplan\u2013Meier estimates in percent, with {est}{default}."))
    if layout.median:
        notes.append(Footnote("NR: not reached."))
    if units & {"years", "months"}:
        notes.append(Footnote("Time in years of 365.25 days (months of 365.25/12 days)."))
    return notes + _endpoint_notes(records, about, layout)


def _endpoint_notes(records, about, layout: SurvivalLayout) -> list[Footnote]:
    """Pairwise comparisons and median follow-up, per endpoint, in the records' order."""
    notes, done = [], set()
    for r in records:
        key = (r.context, r.variable)
        if r.context not in ("survdiff.pairwise", "followup") or key in done:
            continue
        done.add(key)
        mine = [x for x in records if (x.context, x.variable) == key]
        label = about[("survfit", r.variable, "label")]
        if r.context == "survdiff.pairwise":
            notes.append(_pairwise_note(label, mine))
        else:
            note = _followup_note(label, about[("survfit", r.variable, "time.unit")], mine,
                                  layout.time_digits)
            notes += [note] if note else []
    return notes


def _pairwise_note(label: str, records: Sequence[Result]) -> Footnote:
    adjust = next(r.stat for r in records if r.stat_name == "adjust.method")
    texts = [f"{r.variable_level}, p {_p_phrase(r.formatted)}" for r in records
             if r.stat_name == "p.adjusted"]
    return Footnote(f"{label}, pairwise log-rank tests with {ADJUST_NAMES[adjust]}: "
                    f"{'; '.join(texts)}.")


def _followup_note(label: str, unit: str, records: Sequence[Result],
                   digits: int) -> Footnote | None:
    stats = {r.stat_name: r.stat for r in records}
    if not _finite(stats["median"]):
        return None

    def show(value):
        return fmt_num(value, digits) if _finite(value) else "NR"

    return Footnote(f"{label}: median follow-up {fmt_num(stats['median'], digits)} {unit} "
                    f"({show(stats['conf.low'])}{DASH}{show(stats['conf.high'])}), "
                    f"by reverse Kaplan\u2013Meier.")


# --------------------------------------------------------------------------- competing risks


def _cuminc_table(records, about, name: str, layout: SurvivalLayout) -> Table:
    mine = [r for r in records if r.context == "cuminc" and r.variable == name]
    conf_level = about[("cuminc", name, "conf.level")]
    unit = about[("cuminc", name, "time.unit")]
    what = "% (SE)" if layout.estimate == "se" else f"% ({conf_level:.0%} CI)"
    header = Row.of("", "n", "Events", "Competing events",
                    *[f"{time_unit_word(unit, t)} {what}" for t in layout.landmarks])
    counts = {(r.group_level, r.stat_name): r.stat for r in mine if r.variable_level is None}
    levels = [r.group_level for r in mine if r.stat_name == "n" and r.variable_level is None]
    rows = []
    for level in levels:
        estimates = [r.formatted for r in mine if r.group_level == level
                     and r.stat_name == "estimate" and r.variable_level is not None]
        rows.append(Row.of(level, counts[(level, "n")], counts[(level, "n.event")],
                           counts[(level, "n.competing")], *estimates, indent=0))
    notes = [Footnote("Cumulative incidence by the Aalen\u2013Johansen estimator, with "
                      "competing events as defined for the endpoint; confidence intervals "
                      "on the log(\u2212log) scale.")]
    test = next((r for r in mine if r.stat_name == "p.value" and r.group_level is None), None)
    if test is not None and test.formatted:
        method = next(r.stat for r in mine if r.stat_name == "method")
        notes.append(Footnote(f"{method}: p {_p_phrase(test.formatted)}."))
    return Table(f"{about[('cuminc', name, 'label')]}: cumulative incidence with competing "
                 f"risks.", (header,), tuple(rows), tuple(notes), name=f"{name}-cuminc")


def _p_phrase(formatted: str) -> str:
    """``= 0.04`` or ``<0.001``: a p-value after the letter p."""
    return formatted if formatted[:1] in "<>" else f"= {formatted}"


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)
