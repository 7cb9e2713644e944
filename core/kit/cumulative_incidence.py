"""Competing risks for a survival section: every cause's cumulative incidence as records,
its table from those records alone, and its figures.

For an endpoint whose status codes are 0 censored, 1 the event of interest and 2, 3, ...
one per competing cause (:class:`cohortpress.data.cohort.Endpoint`), each cause gets the
Aalen–Johansen cumulative incidence by group and overall (every other cause competing, as
``cmprsk::cuminc``), its landmark estimates with ``cuminc``'s delta-method variance and
log(−log) confidence limits, the median (the earliest time at which the incidence reaches
50%), and Gray's test between groups. The numbers at risk (patients still followed and
free of every event) are recorded at the landmarks.

Records (``results.json``): context ``cuminc`` for the endpoint, its rows and the event of
interest; ``cuminc.cause<k>`` for the competing cause with status code k. Each cause
context has a ``cause.label`` record naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from cohortpress.api.blocks import Cell, Footnote, Row, Table
from cohortpress.api.results import Result
from cohortpress.common.errors import StatisticsError
from cohortpress.common.formatting import fmt_num, in_sentence, p_phrase
from cohortpress.kit.delayed_entry import at_risk_at, entry_footnotes, entry_of, exact_risk
from cohortpress.kit.engine_survival import counts_of, patients
from cohortpress.kit.prose import percent_text
from cohortpress.kit.survival_release import UNIT_STAT, count_text, table_note

DASH = "\u2013"
#: What the variance records say (record ``variance`` of context ``cuminc``).
VARIANCE_TEXT = "delta-method (Aalen) variance as in R cmprsk::cuminc"
#: The variance with delayed entry, which cuminc cannot estimate (stats.competing_entry).
ENTRY_VARIANCE_TEXT = "infinitesimal-jackknife variance as in R survival::survfit"
#: The footnote of an estimate printed without an interval.
NO_VARIANCE = ("No interval: the estimate has no variance at this time (no event so far in "
               "the group, or every patient at risk has had it), so its interval would be "
               "a single point.")
BEYOND_CIF = ("\u2013 beyond the last follow-up of the group: nobody is at risk at this "
              "time, so there is no estimate.")
MEDIAN_TEXT = ("Median: the earliest time at which the cumulative incidence reaches 50%; "
               "NR: not reached.")


def cause_context(code: int) -> str:
    """``cuminc`` for the event of interest, ``cuminc.cause<k>`` for competing cause k."""
    return "cuminc" if code == 1 else f"cuminc.cause{code}"


def interval_defined(se, low, high) -> bool:
    """Whether an estimate has an interval worth printing: a positive standard error and
    two distinct finite limits (``100.0 (100.0–100.0)`` is not one)."""
    values = [se, low, high]
    if any(v is None or not math.isfinite(v) for v in values):
        return False
    return se > 0 and high > low


@dataclass(frozen=True)
class RowSpec:
    """One row of the table: a group (``group_level`` its level) or overall (None).

    Under a disclosure rule, ``shown`` holds the row's released cohort (times and status
    codes, :mod:`cohortpress.kit.survival_release`) that its curves, numbers at risk and
    estimates are computed from, and ``withheld`` says the row is too small to show any.
    """

    label: str
    group_level: str | None
    mask: np.ndarray
    shown: tuple | None = None
    withheld: bool = False


def row_data(endpoint, row: RowSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The times, status codes and patients per row (None: one each; rows from aggregates
    carry counts) a row's estimates and curves are computed from."""
    if row.shown is not None:
        return row.shown if len(row.shown) == 3 else (*row.shown, None)
    return endpoint.time[row.mask], endpoint.status[row.mask], counts_of(endpoint, row.mask)


@dataclass(frozen=True)
class Formats:
    """How the section prints an estimate (with its SE or CI), a median and a p-value."""

    estimate: Callable[[float, float, float, float], str]
    time: Callable[[float], str]
    p: Callable[[float], str]


def cif_median(fit) -> float:
    """The earliest time at which the cumulative incidence reaches 50% (``nan`` if never).

    Parameters
    ----------
    fit : cohortpress.stats.competing.CIFit

    Returns
    -------
    float
    """
    reached = np.flatnonzero(fit.estimate >= 0.5)
    return float(fit.time[reached[0]]) if reached.size else math.nan


def cif_records(name: str, endpoint, rows: Sequence[RowSpec], by: str | None,
                landmarks: Sequence[float], conf_level: float,
                formats: Formats, release=None) -> tuple[list[Result], list[str], dict]:
    """Every cause's cumulative incidence, per row, as records.

    Returns the records, warnings, and the fits ``{(row label, code): CIFit}`` for figures.
    Under a disclosure rule (``release``, a
    :class:`cohortpress.kit.survival_release.SurvivalRelease`) the totals are released by
    the rule and the rest computed from each row's released cohort.
    """
    from cohortpress.kit.survival_release import count_records
    from cohortpress.stats.competing import cif_at, cumulative_incidence

    out = [Result("cuminc", stat, value, variable=name) for stat, value in (
        ("label", endpoint.label), ("time.unit", endpoint.unit), ("conf.level", conf_level),
        ("conf.type", "log-log"),
        ("variance", VARIANCE_TEXT if entry_of(endpoint) is None else ENTRY_VARIANCE_TEXT))]
    out += [Result(cause_context(code), "cause.label", label, variable=name)
            for code, label in endpoint.causes]
    out += [release.unit_record("cuminc", name)] if release is not None else []
    warnings, fits = [], {}
    for row in rows:
        group = by if row.group_level is not None else None
        where = dict(variable=name, group=group, group_level=row.group_level)
        time, status = endpoint.time[row.mask], endpoint.status[row.mask]
        entry = entry_of(endpoint, row.mask)
        out.append(Result("cuminc", "row.label", row.label, **where))
        out += count_records("cuminc", (("n", patients(endpoint, row.mask)),
                                        ("n.competing", patients(endpoint, row.mask,
                                                                 status > 1))),
                             release, **where)
        if time.size == 0:
            out += [Result(cause_context(code), "n.event", 0, **where)
                    for code, _ in endpoint.causes]
            warnings.append(f"{endpoint.label}: group '{row.label}' has no patients.")
            continue
        if row.withheld:
            out += [r for code, _ in endpoint.causes for r in count_records(
                cause_context(code), (("n.event", patients(endpoint, row.mask, status == code)),),
                release, **where)]
            continue
        shown_time, shown_status, shown_counts = row_data(endpoint, row)
        for t in landmarks:
            out.append(Result("cuminc", "n.risk", at_risk_at(shown_time, entry, t, shown_counts),
                              variable=name,
                              variable_level=float(t), group=group,
                              group_level=row.group_level))
        for code, _ in endpoint.causes:
            context = cause_context(code)
            fit = cumulative_incidence(shown_time, shown_status, cause=code, entry=entry,
                                       counts=shown_counts)
            fits[(row.label, code)] = fit
            out += count_records(context, (("n.event", patients(endpoint, row.mask,
                                                                 status == code)),),
                                 release, **where)
            median = cif_median(fit)
            out.append(Result(context, "median", median, formatted=formats.time(median)
                              if math.isfinite(median) else "NR", **where))
            if landmarks:
                out += _landmark_records(context, cif_at(fit, landmarks, conf_level), where,
                                         formats)
    return out, warnings, fits


def _landmark_records(context, marks, where, formats: Formats) -> list[Result]:
    out = []
    for k, t in enumerate(marks.time):
        values = (marks.estimate[k], marks.std_err[k], marks.conf_low[k], marks.conf_high[k])
        text = formats.estimate(*values)
        for stat, value in zip(("estimate", "std.error", "conf.low", "conf.high"), values):
            out.append(Result(context, stat, float(value), variable=where["variable"],
                              variable_level=float(t), group=where["group"],
                              group_level=where["group_level"],
                              formatted=text if stat == "estimate" else None))
    return out


def gray_records(name: str, endpoint, codes: np.ndarray, by: str,
                 formats: Formats) -> tuple[list[Result], list[str]]:
    """Gray's test of each cause between the groups (``codes`` >= 0 the patients grouped)."""
    from cohortpress.stats.competing import gray_test

    grouped = codes >= 0
    out, warnings = [], []
    for code, label in endpoint.causes:
        context = cause_context(code)
        try:
            test = gray_test(endpoint.time[grouped], endpoint.status[grouped], codes[grouped],
                             cause=code, counts=counts_of(endpoint, grouped)).test
        except StatisticsError as error:
            warnings.append(f"{endpoint.label}: Gray's test for {in_sentence(label)}: {error}.")
            continue
        p_text = formats.p(test.p_value)
        for stat, value in (("statistic", test.statistic), ("df", test.df),
                            ("p.value", test.p_value)):
            out.append(Result(context, stat, value, variable=name, group=by,
                              formatted=p_text if stat == "p.value" else None))
        out.append(Result(context, "method", "Gray's test", variable=name, group=by))
    return out, warnings


def method_sentence(conf_level: float, tested: bool, entry: bool = False) -> str:
    """The methods paragraph's sentence for competing risks (``entry``: an endpoint with
    delayed entry, whose variance is survfit's infinitesimal jackknife)."""
    test = (" Groups were compared for each cause with Gray's test." if tested else "")
    variance = ("the infinitesimal-jackknife variance as in R's survival package (with "
                "delayed entry, which cmprsk does not support)" if entry else
                "the delta-method variance of Aalen as in R's cmprsk package")
    return ("The cumulative incidence of the event of interest and of each competing cause "
            f"was estimated with the Aalen\u2013Johansen estimator, with {variance} and "
            f"{percent_text(conf_level)} confidence intervals on the log(\u2212log) scale." + test)


# --------------------------------------------------------------------------- table


@dataclass(frozen=True)
class TableLayout:
    """The table's layout: its landmark columns, CI or SE, and whether medians are shown."""

    landmarks: tuple[float, ...]
    estimate: str = "ci"
    median: bool = True


#: The most columns of cause groups one table takes (events, landmarks and median per
#: cause): wider, and each cause gets a table of its own, as a page could not hold it.
MAX_CAUSE_COLUMNS = 8


def cif_tables(records: Sequence[Result], name: str, layout: TableLayout) -> list[Table]:
    """The cumulative incidence tables of one endpoint, from its records alone: one table
    with every cause side by side, or one table per cause when that would take more than
    :data:`MAX_CAUSE_COLUMNS` columns."""
    mine = [r for r in records if r.variable == name and
            (r.context == "cuminc" or r.context.startswith("cuminc.cause"))]
    causes = [(r.context, r.stat) for r in mine if r.stat_name == "cause.label"]
    width = 1 + len(layout.landmarks) + int(layout.median)
    if len(causes) * width <= MAX_CAUSE_COLUMNS:
        return [cif_table(mine, name, layout, causes)]
    return [cif_table(mine, name, layout, [cause], k) for k, cause in enumerate(causes)]


def cif_table(mine: Sequence[Result], name: str, layout: TableLayout, causes,
              part: int | None = None) -> Table:
    """One cumulative incidence table of ``causes`` (``(context, label)`` pairs) from the
    endpoint's records ``mine``.

    A row per group and overall, each cause in its own column group (events, landmark
    estimates, median), the numbers at risk under the landmarks, Gray's test per cause in
    the footnotes. ``part`` numbers the table of one cause when each has its own.
    """
    about = {r.stat_name: r.stat for r in mine if r.context == "cuminc" and r.group is None
             and r.group_level is None and r.variable_level is None
             and r.stat_name in ("label", "time.unit", "conf.level")}
    unit, conf_level = about["time.unit"], about["conf.level"]
    rows = [r for r in mine if r.context == "cuminc" and r.stat_name == "row.label"]
    width = 1 + len(layout.landmarks) + int(layout.median)
    what = "% (SE)" if layout.estimate == "se" else f"% ({percent_text(conf_level)} CI)"
    top = [Cell("", align="left", rowspan=2), Cell("n", rowspan=2)]
    top += [Cell(label, colspan=width) for _, label in causes]
    second = []
    for _ in causes:
        second.append(Cell("Events"))
        second += [Cell(f"{_time_word(unit, t)} {what}") for t in layout.landmarks]
        if layout.median:
            second.append(Cell(f"Median, {unit}"))
    marks = _Marks()
    body = [_cause_row(mine, row, causes, layout, marks) for row in rows]
    if layout.landmarks and rows:
        body.append(Row.of("Number at risk", role="group"))
        for row in rows:
            risk = {r.variable_level: r.stat for r in mine if r.context == "cuminc"
                    and r.stat_name == "n.risk" and r.group_level == row.group_level}
            cells = [Cell("")]
            for _ in causes:
                cells.append(Cell(""))
                cells += [Cell(str(risk[t]) if t in risk else DASH) for t in layout.landmarks]
                cells += [Cell("")] if layout.median else []
            body.append(Row((Cell(row.stat, align="left"), *cells), indent=1))
    notes = _table_notes(mine, causes, layout, marks)
    if part is None:
        caption, table_name = (f"{about['label']}: cumulative incidence of each cause with "
                               f"competing risks."), f"{name}-cuminc"
    else:
        caption = (f"{about['label']}: cumulative incidence of {in_sentence(causes[0][1])}, "
                   f"every other cause competing.")
        table_name = f"{name}-cuminc" if part == 0 else f"{name}-cuminc-{part + 1}"
    return Table(caption, (Row(tuple(top)), Row(tuple(second))), tuple(body), tuple(notes),
                 name=table_name)


class _Marks:
    """Footnote marks in order of first use."""

    def __init__(self):
        self.used: dict[str, str] = {}

    def mark(self, key: str) -> str:
        letters = [m for m in self.used.values() if m]
        return self.used.setdefault(key, "abcdefgh"[len(letters)])


def _cause_row(mine, row: Result, causes, layout: TableLayout, marks: _Marks) -> Row:
    level = row.group_level
    counts = {r.stat_name: r for r in mine if r.context == "cuminc"
              and r.group_level == level and r.variable_level is None}
    cells = [Cell(count_text(counts["n"]))]
    for context, _ in causes:
        stats = [r for r in mine if r.context == context and r.group_level == level]
        single = {r.stat_name: r for r in stats if r.variable_level is None}
        cells.append(Cell(count_text(single["n.event"]) if "n.event" in single else DASH))
        at = {(r.stat_name, r.variable_level): r for r in stats if r.variable_level is not None}
        for t in layout.landmarks:
            cells.append(_estimate_cell(at, t, layout, marks))
        if layout.median:
            median = single.get("median")
            cells.append(Cell(median.formatted if median is not None else DASH))
    return Row((Cell(row.stat, align="left"), *cells), indent=1 if level is not None else 0,
               role="body" if level is not None else "total")


def _estimate_cell(at, t, layout: TableLayout, marks: _Marks) -> Cell:
    estimate = at.get(("estimate", t))
    if estimate is None:
        return Cell(DASH)
    if not _finite(estimate.stat):
        marks.used.setdefault("beyond", "")  # the dash explains itself in a plain footnote
        return Cell(DASH)
    se = at[("std.error", t)].stat
    low, high = at[("conf.low", t)].stat, at[("conf.high", t)].stat
    defined = (_finite(se) and se > 0) if layout.estimate == "se" else \
        interval_defined(se, low, high)
    if defined:
        return Cell(estimate.formatted)
    return Cell(estimate.formatted, marks=(marks.mark("novariance"),))


def _table_notes(mine, causes, layout: TableLayout, marks: _Marks) -> list[Footnote]:
    spread = "standard errors" if layout.estimate == "se" else \
        "confidence intervals on the log(\u2212log) scale"
    variance = next((r.stat for r in mine if r.context == "cuminc"
                     and r.stat_name == "variance"), VARIANCE_TEXT)
    notes = [Footnote(f"Cumulative incidence in percent by the Aalen\u2013Johansen estimator, "
                      f"each cause with every other cause competing; {spread}, from the "
                      f"{variance}. Number at risk: patients still followed and free of every "
                      f"event.")]
    notes += entry_footnotes(mine, "cuminc")
    if "novariance" in marks.used:
        notes.append(Footnote(NO_VARIANCE, marks.used["novariance"]))
    if "beyond" in marks.used:
        notes.append(Footnote(BEYOND_CIF))
    if layout.median:
        notes.append(Footnote(MEDIAN_TEXT))
    tests = []
    for context, label in causes:
        stats = {r.stat_name: r for r in mine if r.context == context and r.group is not None
                 and r.group_level is None and r.variable_level is None}
        if "p.value" in stats and stats["p.value"].formatted:
            tests.append(f"{label}, chi-square {fmt_num(stats['statistic'].stat, 2)} on "
                         f"{stats['df'].stat:g} df, p {p_phrase(stats['p.value'].formatted)}")
    if tests:
        notes.append(Footnote(f"Gray's test: {'; '.join(tests)}."))
    empty = dict.fromkeys(r.group_level for r in mine if r.stat_name == "not.tested.group")
    notes += [Footnote(f"{level}: no patients in this subset; not tested.") for level in empty]
    units = [r.stat for r in mine if r.context == "cuminc" and r.stat_name == UNIT_STAT]
    return notes + ([Footnote(table_note(units[0]))] if units else [])


def _time_word(unit: str, value: float) -> str:
    text = np.format_float_positional(float(value), trim="-")
    return f"{text}-{unit.rstrip('s')}"


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


# --------------------------------------------------------------------------- figures


def cif_curve(label: str, fit, time: np.ndarray, status: np.ndarray,
              counts: np.ndarray | None = None, entry: np.ndarray | None = None):
    """A group's curve of one cause: steps at the cause's events, censor marks on the curve
    at the censoring times, the numbers at risk (free of every event and, with delayed
    ``entry``, entered before) at every distinct time, and ``end`` the group's last
    follow-up, to which the curve runs flat."""
    from cohortpress.kit.figures import Curve

    censor_time = np.unique(time[status == 0])
    row = np.searchsorted(fit.time, censor_time, side="right")
    censor_y = np.concatenate(([0.0], fit.estimate))[row]
    risk_time = np.unique(time)
    if counts is None:
        risk_n = time.size - np.searchsorted(np.sort(time), risk_time, side="left")
    else:  # patients with time >= each distinct time: a reverse cumulative sum
        per_time = np.bincount(np.searchsorted(risk_time, time), weights=counts.astype(float),
                               minlength=risk_time.size)
        risk_n = np.rint(np.cumsum(per_time[::-1])[::-1]).astype(np.int64)
    if entry is not None:
        risk_time, risk_n = exact_risk(time, entry)
    return Curve(label, fit.time, fit.estimate, censor_time=censor_time, censor_y=censor_y,
                 risk_time=risk_time, risk_n=risk_n, start=0.0, end=float(time.max()))


def stacked_curves(fits: dict, row_label: str, causes, time: np.ndarray,
                   status: np.ndarray, counts: np.ndarray | None = None) -> list:
    """The causes of one group stacked: curve k is the sum of the incidences of causes 1..k
    on the union of their event times (the top one is 1 − the all-cause Kaplan–Meier)."""
    from cohortpress.kit.figures import Curve

    grid = np.unique(np.concatenate([fits[(row_label, code)].time for code, _ in causes]))
    total = np.zeros(grid.size)
    curves = []
    for code, label in causes:
        fit = fits[(row_label, code)]
        row = np.searchsorted(fit.time, grid, side="right")
        total = total + np.concatenate(([0.0], fit.estimate))[row]
        curves.append(Curve(label, grid, total.copy(), start=0.0, end=float(time.max())))
    return curves


def upper_limit(values: Sequence[float]) -> float:
    """The y axis's top: the next 20% above the highest value, at least 20%."""
    highest = max([0.0, *values])
    return float(max(0.2, min(1.0, math.ceil(highest * 5 + 1e-9) / 5)))


@dataclass(frozen=True)
class FigureLayout:
    """What the section asks of its competing-risks figures."""

    group_label: str | None
    xlabel: str
    xmax: float | None
    width_mm: float
    risk_times: Sequence[float] | None
    stacked: bool = False
    caption: str | None = None
    by: str | None = None
    style: str | None = None  # the report's style: its typeface in the figures
    entry_note: str = ""  # a sentence for the captions with delayed entry
    note: str = ""  # a sentence after each caption (how a disclosure rule drew the curves)
    release: object = None  # the disclosure rule (kit.survival_release.SurvivalRelease)


def cif_figures(name: str, endpoint, rows: Sequence[RowSpec], fits: dict,
                gray_p: dict, layout: FigureLayout) -> tuple[list, list[Result]]:
    """The figures of one endpoint and the records of their risk tables.

    One figure per cause with a curve per row (``stacked`` false), else one figure per row
    with the causes stacked. ``gray_p`` maps a cause's code to its formatted p-value. Each
    figure has a number-at-risk table at ``risk_times`` (patients still followed and free
    of every event), censor marks, and an x axis to the last follow-up.
    """
    from cohortpress.api.blocks import Figure
    from cohortpress.kit.figures import RiskRows, step_figure

    def data(row):
        return row_data(endpoint, row)

    def risk_data(row):
        return (*data(row), entry_of(endpoint, row.mask))

    if not rows:  # every group too small for a disclosure rule to draw
        return [], []
    by = f" by {in_sentence(layout.group_label)}" if layout.group_label else ""
    figures = []
    risk_rows = [cif_curve(row.label, fits[(row.label, 1)], *risk_data(row)) for row in rows]
    common = dict(xlabel=layout.xlabel, xmax=layout.xmax, width_mm=layout.width_mm,
                  risk_times=layout.risk_times, legend_loc="upper left", style=layout.style)
    shown = _shown_risk_rows(risk_rows, layout)
    if not layout.stacked:
        for code, label in endpoint.causes:
            drawn = [cif_curve(row.label, fits[(row.label, code)], *risk_data(row))
                     for row in rows]
            top = upper_limit([float(c.y.max()) for c in drawn if len(c.y)])
            p = gray_p.get(code, "")
            note = f"Gray's test p {p if p[:1] in '<>' else '= ' + p}" if p else ""
            caption = (layout.caption if code == 1 and layout.caption else
                       f"Cumulative incidence of {in_sentence(label)}{by}, with "
                       f"{_others(endpoint, code)} as "
                       f"{'a competing risk' if len(endpoint.causes) == 2 else 'competing risks'}.")
            caption += layout.entry_note
            png = step_figure(drawn, ylabel=f"Cumulative incidence of {in_sentence(label)} (%)",
                              annotation=note, ylim=(0.0, top), risk_rows=shown, **common)
            alt = (f"Cumulative incidence curves of {in_sentence(label)} over {endpoint.unit}"
                   f" for {', '.join(r.label for r in rows)}{'; ' + note if note else ''}.")
            figures.append(Figure(png, caption + layout.note, alt, width_mm=layout.width_mm,
                                  name=f"{name}-cuminc" + ("" if code == 1 else f"-cause{code}")))
    else:
        for k, (row, risk) in enumerate(zip(rows, risk_rows)):
            drawn = stacked_curves(fits, row.label, endpoint.causes, *data(row))
            top = upper_limit([float(drawn[-1].y.max())] if len(drawn[-1].y) else [])
            of = "" if row.group_level is None else f" ({row.label})"
            caption = (layout.caption if layout.caption and len(rows) == 1 else
                       f"Cumulative incidence of {in_sentence(endpoint.label)} and its competing "
                       f"risks, stacked{of}.")
            caption += layout.entry_note
            png = step_figure(drawn, ylabel="Cumulative incidence (%)", ylim=(0.0, top),
                              stacked=True, risk_curves=[risk], **common,
                              risk_rows=None if shown is None else
                              [RiskRows(shown[0].title, [shown[0].numbers[k]])])
            alt = (f"Stacked cumulative incidence of "
                   f"{', '.join(label for _, label in endpoint.causes)} over {endpoint.unit}"
                   f"{' in ' + row.label if row.group_level is not None else ''}.")
            suffix = "" if row.group_level is None else f"-{len(figures) + 1}"
            figures.append(Figure(png, caption + layout.note, alt, width_mm=layout.width_mm,
                                  name=f"{name}-cuminc-stacked{suffix}"))
    records = _risk_records(name, endpoint, rows, risk_rows, layout)
    if layout.release is not None:
        from cohortpress.kit.survival_release import release_curve_counts

        records = release_curve_counts(records, layout.release)
    return figures, records


def _shown_risk_rows(curves, layout: FigureLayout):
    """The numbers at risk under a figure as a disclosure rule releases them (None: no rule,
    the figure counts them from its curves)."""
    from cohortpress.kit.figures import RISK_ROW_TITLES, RiskRows, at_risk
    from cohortpress.kit.survival_release import shown_number

    if layout.release is None or not layout.risk_times:
        return None
    return [RiskRows(RISK_ROW_TITLES["at_risk"],
                     [[shown_number(n, layout.release) for n in at_risk(c, layout.risk_times)]
                      for c in curves])]


def _others(endpoint, code: int) -> str:
    names = [in_sentence(label) for c, label in endpoint.causes if c != code]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _risk_records(name, endpoint, rows, risk_rows, layout: FigureLayout) -> list[Result]:
    """The risk table's numbers (context ``risktable``, as for Kaplan–Meier figures):
    ``n.risk`` free of every event and followed at t, events of any cause and censorings at
    or before t."""
    from cohortpress.kit.figures import at_risk

    if not layout.risk_times:
        return []
    out = []
    for row, curve in zip(rows, risk_rows):
        time, status, counts = row_data(endpoint, row)
        group = layout.by if row.group_level is not None else None
        for t in layout.risk_times:
            n_risk = at_risk(curve, [t])[0]
            upto = time <= t
            for stat, value in (("n.risk", n_risk),
                                ("n.event.cum", _patients(upto & (status > 0), counts)),
                                ("n.censor.cum", _patients(upto & (status == 0), counts))):
                out.append(Result("risktable", stat, int(value), variable=name,
                                  variable_level=float(t),
                                  group=group,
                                  group_level=row.group_level))
    return out


def _patients(where: np.ndarray, counts: np.ndarray | None) -> int:
    """Patients among the rows ``where`` selects: rows, or their counts (from aggregates)."""
    return int(where.sum() if counts is None else counts[where].sum())
