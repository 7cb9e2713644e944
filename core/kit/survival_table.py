"""Survival tables built from their section's results records alone.

The Kaplan–Meier table (per endpoint a heading row with the log-rank p, then a row per
group and overall: patients, events, estimates at the landmark times, the median) and, for
an endpoint with competing events, its cumulative-incidence table
(:mod:`cohortpress.kit.cumulative_incidence`). Every number, label and
method named comes from a record of contexts ``survfit``, ``survdiff``,
``survdiff.pairwise``, ``followup`` and ``cuminc``; the caller chooses only the layout
(:class:`SurvivalLayout`), so the table and ``results.json`` cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from cohortpress.api.blocks import Cell, Footnote, Row, Table
from cohortpress.api.results import Result
from cohortpress.common.formatting import fmt_num, in_sentence, p_phrase
from cohortpress.kit.cumulative_incidence import (BEYOND_CIF, NO_VARIANCE, TableLayout, cif_tables,
                                                  interval_defined)
from cohortpress.kit.delayed_entry import entry_footnotes
from cohortpress.kit.prose import percent_text
from cohortpress.kit.survival_release import UNIT_STAT, count_text, table_note

__all__ = ["BEYOND_CIF", "BEYOND_KM", "SurvivalLayout", "survival_tables", "time_unit_word"]

DASH = "\u2013"
CONF_TYPE_TEXT = {"log": "log transform",
                  "log-log": "log(\u2212log) transform", "plain": "linear (plain) scale"}
ADJUST_NAMES = {"holm": "Holm's adjustment", "bonferroni": "Bonferroni's adjustment",
                "BH": "the Benjamini\u2013Hochberg adjustment", "none": "no adjustment"}
ABOUT = ("label", "time.unit", "time.unit.data", "conf.level", "conf.type", "weights.label")


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
    """``3-year``: a landmark time as a column heading's adjective, never in exponent
    notation (``1000000000-day``, not ``1e+09-day``)."""
    import numpy as np

    text = np.format_float_positional(float(value), trim="-")
    return f"{text}-{unit.rstrip('s')}"


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
    cif_layout = TableLayout(layout.landmarks, layout.estimate, layout.median)
    return tuple(tables + [t for name in competing
                           for t in cif_tables(records, name, cif_layout)])


# --------------------------------------------------------------------------- Kaplan-Meier


@dataclass
class _Row:
    label: str
    group_level: object
    values: dict
    surv: list
    #: Per landmark: True when nobody of the row is at risk then (beyond its last follow-up).
    beyond: list = field(default_factory=list)
    #: Per landmark: the standard error and confidence limits.
    spread: dict = field(default_factory=dict)


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
        elif rows and r.stat_name == "n.risk":
            rows[-1].beyond.append(r.stat == 0)
        elif rows and r.stat_name in ("std.err", "conf.low", "conf.high"):
            rows[-1].spread.setdefault(r.variable_level, {})[r.stat_name] = r.stat
    return rows


def _no_variance(row: _Row, k: int, layout: SurvivalLayout) -> bool:
    """Whether landmark k's estimate is printed without its (degenerate) spread."""
    if k >= len(row.surv) or row.surv[k] == DASH or k >= len(layout.landmarks):
        return False
    spread = row.spread.get(layout.landmarks[k], {})
    se = spread.get("std.err")
    if layout.estimate == "se":
        return not (_finite(se) and se > 0)
    return not interval_defined(se, spread.get("conf.low"), spread.get("conf.high"))


#: The footnote of a Kaplan–Meier estimate at a landmark beyond a group's last follow-up.
BEYOND_KM = ("Beyond the last follow-up of the group: nobody is at risk at this time; the "
             "estimate is the one at the last observed time, carried forward.")


def _km_table(records, about, endpoints, layout: SurvivalLayout) -> Table:
    units = {about[(c, v, "time.unit")] for (c, v, s) in about if s == "time.unit"}
    unit = next(iter(units)) if len(units) == 1 else "time"
    conf_level = about[("survfit", endpoints[0], "conf.level")]
    rows_of = {name: _km_rows(records, name) for name in endpoints}
    groups = sum(1 for row in rows_of[endpoints[0]] if row.group_level is not None)
    show_p = layout.test and groups >= 2
    tests = {r.variable: r for r in records if r.context == "survdiff"
             and r.stat_name == "p.value"}
    has_method = any(r.context == "survdiff" and r.stat_name == "method" for r in records)
    beyond_mark = "b" if has_method else "a"
    no_variance = any(_no_variance(row, k, layout) for rows in rows_of.values()
                      for row in rows for k in range(len(row.surv)))
    beyond_used = any(_beyond(row, k) for rows in rows_of.values() for row in rows
                      for k in range(len(row.surv)))
    point_mark = chr(ord(beyond_mark) + 1) if beyond_used else beyond_mark
    body = []
    for name in endpoints:
        heading = [Cell(about[("survfit", name, "label")], align="left")] + \
            [Cell("") for _ in range(2 + len(layout.landmarks) + int(layout.median))]
        if show_p:
            test = tests.get(name)
            heading.append(Cell(test.formatted, marks=("a",)) if test else Cell(""))
        body.append(Row(tuple(heading), role="group"))
        body += [_km_row(row, layout, show_p, beyond_mark, point_mark)
                 for row in rows_of[name]]
    header = [Cell("", align="left"), Cell("n"), Cell("Events")]
    what = "% (SE)" if layout.estimate == "se" else f"% ({percent_text(conf_level)} CI)"
    header += [Cell(f"{time_unit_word(unit, t)} {what}") for t in layout.landmarks]
    if layout.median:
        header.append(Cell(f"Median, {unit} ({percent_text(conf_level)} CI)"))
    if show_p:
        header.append(Cell("p-value"))
    group_label = next((r.stat for r in records if r.context == "survfit"
                        and r.stat_name == "label" and r.variable is None), None)
    caption = layout.caption or \
        f"Survival{' by ' + in_sentence(group_label) if group_label is not None else ''}."
    notes = _km_footnotes(records, about, endpoints, units, layout)
    if any(_beyond(row, k) for rows in rows_of.values() for row in rows
           for k in range(len(row.surv))):
        notes.insert(1 if has_method else 0, Footnote(BEYOND_KM, beyond_mark))
    if no_variance:
        notes.insert(int(has_method) + int(beyond_used), Footnote(NO_VARIANCE, point_mark))
    return Table(caption, (Row(tuple(header)),), tuple(body), tuple(notes))


def _beyond(row: _Row, k: int) -> bool:
    return k < len(row.beyond) and row.beyond[k] and row.surv[k] != DASH


def _km_row(row: _Row, layout: SurvivalLayout, show_p: bool, beyond_mark: str,
            point_mark: str) -> Row:
    cells = [Cell(count_text(row.values["n"])), Cell(count_text(row.values["n.event"]))]
    for k in range(len(layout.landmarks)):
        if k >= len(row.surv):
            cells.append(Cell(DASH))
            continue
        marks = ((beyond_mark,) if _beyond(row, k) else ()) + \
            ((point_mark,) if _no_variance(row, k, layout) else ())
        cells.append(Cell(row.surv[k], marks=marks))
    if layout.median:
        median = row.values.get("median")
        cells.append(Cell(median.formatted if median is not None else DASH))
    if show_p:
        cells.append(Cell(""))
    return Row((Cell(row.label, align="left"), *cells), indent=1)


def _km_footnotes(records, about, endpoints, units, layout: SurvivalLayout) -> list[Footnote]:
    notes = []
    methods = [r for r in records if r.context == "survdiff" and r.stat_name == "method"]
    if methods:
        notes.append(Footnote(f"{_test_text(records, methods[-1])}.", "a"))
    if layout.landmarks:
        conf_level = about[("survfit", endpoints[0], "conf.level")]
        conf_type = about[("survfit", endpoints[0], "conf.type")]
        weights = about.get(("survfit", endpoints[0], "weights.label"))
        se = "Greenwood standard errors" if weights is None else \
            f"robust standard errors, weighted by {in_sentence(weights)}"
        est = "standard errors by Greenwood's formula" if layout.estimate == "se" \
            and weights is None else (f"{se}" if layout.estimate == "se" else
                                      f"{percent_text(conf_level)} confidence intervals "
                                      f"with {se} on the {CONF_TYPE_TEXT[conf_type]}")
        default = " (R survival's default)" if conf_type == "log" and \
            layout.estimate != "se" else ""
        notes.append(Footnote(f"Kaplan\u2013Meier estimates in percent, with {est}{default}."))
    weights = about.get(("survfit", endpoints[0], "weights.label"))
    if weights is not None:
        notes.append(Footnote(f"Estimates and medians weighted by {in_sentence(weights)} (R "
                              f"survival's survfit with weights and robust = TRUE); numbers "
                              f"of patients and events are counts."))
    notes += _empty_group_notes(records, "survdiff")
    if layout.median:
        notes.append(Footnote("NR: not reached."))
    notes += _conversion_notes(about, endpoints)
    notes += entry_footnotes(records, "survfit", endpoints)
    units = [r.stat for r in records if r.context == "survfit" and r.stat_name == UNIT_STAT]
    notes += [Footnote(table_note(units[0]))] if units else []
    return notes + _endpoint_notes(records, about, layout)


#: A unit of time with its length in days, as the conversion footnote names it.
UNIT_IN_DAYS = {"days": "days", "months": "months of 365.25/12 days",
                "years": "years of 365.25 days"}


def _conversion_notes(about, endpoints: Sequence[str]) -> list[Footnote]:
    """How each endpoint's times were converted, stated only where they were: "Times
    converted from days to months of 365.25/12 days.", "Time from dates in years of 365.25
    days."; an endpoint shown in the unit of its data needs no note. Endpoints with the
    same conversion share one note; different ones are named. Without a record of the data's
    unit (an endpoint a plugin made), no conversion is claimed."""
    sentences: dict[str, list[str]] = {}
    for name in endpoints:
        shown = about.get(("survfit", name, "time.unit"))
        data = about.get(("survfit", name, "time.unit.data"))
        if data == "dates" and shown != "days":
            sentence = f"Time from dates in {UNIT_IN_DAYS[shown]}."
        elif data in UNIT_IN_DAYS and shown in UNIT_IN_DAYS and data != shown:
            source = UNIT_IN_DAYS[data] if shown == "days" else data
            sentence = f"Times converted from {source} to {UNIT_IN_DAYS[shown]}."
        else:
            continue
        sentences.setdefault(sentence, []).append(about[("survfit", name, "label")])
    if len(sentences) == 1 and sum(map(len, sentences.values())) == len(endpoints):
        return [Footnote(next(iter(sentences)))]
    return [Footnote(f"{', '.join(labels)}: {sentence[0].lower()}{sentence[1:]}")
            for sentence, labels in sentences.items()]


def _empty_group_notes(records, context: str, name: str | None = None) -> list[Footnote]:
    """``MPAL: no patients in this subset; not tested.``, once per group."""
    levels = dict.fromkeys(r.group_level for r in records if r.context == context
                           and r.stat_name == "not.tested.group"
                           and (name is None or r.variable == name))
    return [Footnote(f"{level}: no patients in this subset; not tested.") for level in levels]


def _test_text(records, method: Result) -> str:
    """The test's name with what changes its p-value: the strata it was stratified by and
    its Fleming–Harrington weights when the name does not give them."""
    mine = {r.stat_name: r.stat for r in records if r.context == "survdiff"
            and r.variable == method.variable and r.group == method.group}
    text = method.stat
    if mine.get("strata.label") is not None:
        text += f", stratified by {in_sentence(mine['strata.label'])}"
    rho, gamma = mine.get("rho") or 0, mine.get("gamma") or 0
    if (rho or gamma) and "Fleming" not in text:
        text += f", with Fleming–Harrington weights (rho = {rho:g}, gamma = {gamma:g})"
    return text


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
    texts = [f"{r.variable_level}, p {p_phrase(r.formatted)}" for r in records
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

    since = " from entry" if stats.get("origin") == "entry" else ""
    return Footnote(f"{label}: median follow-up{since} {fmt_num(stats['median'], digits)} "
                    f"{unit} ({show(stats['conf.low'])}{DASH}{show(stats['conf.high'])}), "
                    f"by reverse Kaplan\u2013Meier.")


def estimate_text(surv, se, low, high, estimate: str, digits: int) -> str:
    """A table cell's estimate in percent with its CI (``estimate="ci"``) or its SE
    (``"se"``); the estimate alone where there is no variance or no interval (the table
    marks it), and a dash for no estimate."""
    if not math.isfinite(surv):
        return "\u2013"
    if estimate == "se":
        if not (math.isfinite(se) and se > 0):
            return fmt_num(100 * surv, digits)
        return f"{fmt_num(100 * surv, digits)} ({fmt_num(100 * se, digits)})"
    if not interval_defined(se, low, high):
        return fmt_num(100 * surv, digits)
    low_text = fmt_num(100 * low, digits) if math.isfinite(low) else "\u2013"
    high_text = fmt_num(100 * high, digits) if math.isfinite(high) else "\u2013"
    return f"{fmt_num(100 * surv, digits)} ({low_text}\u2013{high_text})"


def median_text(median, digits: int) -> str:
    """A median with its interval as the table prints it, "NR" for what is not reached:
    "4.2 (3.1–NR)"."""

    def show(value):
        return fmt_num(value, digits) if _finite(value) else "NR"

    if not _finite(median.median):
        return "NR"
    return f"{show(median.median)} ({show(median.conf_low)}{DASH}{show(median.conf_high)})"


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)
