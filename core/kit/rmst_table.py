"""Restricted mean survival time in the survival analysis: its records, table and text.

:class:`RMSTOptions` adds the options ``rmst``, ``rmst_horizon`` and ``rmst_extend`` to the
survival analysis's. With ``rmst = true``, each Kaplan–Meier endpoint gets the restricted
mean survival time (RMST) of every group and overall to one horizon, and each group's
difference and ratio against the first group (:mod:`cohortpress.stats.rmst`). :func:`rmst_records` computes them
as records (contexts ``rmst``, ``rmst.diff``, ``rmst.ratio``); :func:`rmst_tables` and
:func:`rmst_methods` read those records alone, so the table, the methods paragraph and
``results.json`` cannot disagree. :func:`check_rmst_horizon` refuses, before any statistic
is computed, a stated horizon that some group's follow-up does not reach.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from pydantic import Field

from cohortpress.api.blocks import Cell, Footnote, Row, Table
from cohortpress.api.options import Options
from cohortpress.api.results import Result
from cohortpress.common.errors import DataError
from cohortpress.common.formatting import fmt_num, in_sentence
from cohortpress.kit.delayed_entry import entry_footnotes
from cohortpress.kit.engine_survival import counts_of, patients
from cohortpress.kit.records import Records
from cohortpress.kit.survival_release import count_text

DASH = "\u2013"
#: How the horizon was chosen, as recorded (``horizon.choice``) and printed.
CHOICE_TEXT = {"default": "the smallest of the groups' last follow-up times (the default)",
               "default.one": "the last follow-up time (the default)",
               "stated": "as set in the configuration (rmst_horizon)"}
#: The RMST options that mean nothing without ``rmst = true``.
RMST_DETAIL_KEYS = ("rmst_horizon", "rmst_extend")


#: Every RMST option: they apply to Kaplan–Meier endpoints only.
RMST_KEYS = ("rmst", *RMST_DETAIL_KEYS)


class RMSTOptions(Options):
    """The restricted mean survival time options of the survival analysis (its base class,
    so that their fields and checks live beside the RMST code)."""

    rmst: bool = Field(False, description="the restricted mean survival time (RMST) of each "
                       "group to a horizon, with differences and ratios", examples=[True])
    rmst_horizon: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="the RMST horizon in the endpoint's "
        "unit; default: the smallest of the groups' last follow-up times", examples=[365])
    rmst_extend: bool = Field(False, description="allow a horizon beyond a group's last "
                              "follow-up, its curve carried forward", examples=[True])

    def rmst_inapplicable(self) -> list[tuple[str, str]]:
        """``rmst_horizon`` or ``rmst_extend`` given without ``rmst = true``."""
        return [(key, "applies only with rmst = true (restricted mean survival time)")
                for key in RMST_DETAIL_KEYS if key in self.model_fields_set and not self.rmst]

    def check_rmst_horizon(self, cohort) -> None:
        """A stated horizon beyond a group's last follow-up is an error unless
        ``rmst_extend`` (see :func:`check_rmst_horizon`)."""
        from cohortpress.data.grouping import group_cohort

        if self.rmst and self.rmst_horizon is not None and not self.rmst_extend:
            by = getattr(self, "by", None)
            check_rmst_horizon(cohort, self, group_cohort(cohort, by if by is not None
                                                          else cohort.group))


def _last_times(time, codes, levels) -> dict[str, float]:
    """Each group's last observed time (groups without patients left out)."""
    return {level: float(time[codes == i].max()) for i, level in enumerate(levels)
            if (codes == i).any()}


def check_rmst_horizon(cohort, options, grouping) -> None:
    """A stated horizon beyond a group's last follow-up is an error unless ``rmst_extend``.

    Raises
    ------
    DataError
        Naming the endpoint, the group, its last follow-up and what to do.
    """
    if not options.rmst or options.rmst_horizon is None or options.rmst_extend:
        return
    for name in options.endpoints:
        endpoint = cohort.endpoint(name)
        check_horizon_reached(name, endpoint.unit, _last_times(
            np.asarray(endpoint.time), grouping.codes, grouping.levels), options.rmst_horizon)


def check_horizon_reached(name: str, unit: str, last: dict, horizon: float) -> None:
    """A stated ``horizon`` beyond a group's ``last`` follow-up (``{level: time}``) of
    endpoint ``name`` is an error naming the group, its last time and what to do."""
    short = {level: t for level, t in last.items() if t < horizon}
    if short:
        level, t = min(short.items(), key=lambda item: item[1])
        raise DataError(
            f"rmst_horizon {horizon:g} {unit} is beyond the last "
            f"follow-up of group '{level}' of endpoint '{name}' ({t:g} {unit}); "
            f"allowed: a horizon up to {t:g}, or rmst_extend = true to carry the curve "
            f"forward at its last value")


def rmst_records(endpoint, grouping, options, context) -> list[Result]:
    """The RMST records of one Kaplan–Meier endpoint (none unless ``options.rmst``).

    Parameters
    ----------
    endpoint : cohortpress.data.cohort.Endpoint
        Its ``time``, ``event`` and ``entry`` arrays, ``name``, ``label`` and ``unit``.
    grouping : cohortpress.data.grouping.Grouping
        The groups (codes aligned with the endpoint's arrays; -1: no group); without a
        grouping variable, one row and no comparisons.
    options : SurvivalOptions
        ``rmst``, ``rmst_horizon``, ``rmst_extend``, ``conf_level``, ``time_digits``,
        ``overall``.
    context : cohortpress.api.sections.SectionContext
        Its ``format_p``, the report's p-value format.

    Returns
    -------
    list of Result
        Context ``rmst``: per endpoint ``label``, ``time.unit``, ``conf.level``,
        ``horizon``, ``horizon.choice`` (``default`` or ``stated``), ``horizon.groups``
        (the groups whose last follow-up the default is the smallest of) and ``reference``;
        per row (``row.label`` first; group rows with ``group``/``group_level``, then
        overall) ``n``, ``n.event``, ``estimate``, ``std.error``, ``conf.low``,
        ``conf.high``, ``last.time`` and ``extended``. Contexts ``rmst.diff`` and
        ``rmst.ratio``: per group after the first, ``estimate``, ``std.error`` (of the log
        ratio for ``rmst.ratio``), ``conf.low``, ``conf.high``, ``statistic``, ``p.value``.

    Raises
    ------
    StatisticsError
        A horizon beyond a group's follow-up without ``rmst_extend``, or no follow-up.
    """
    from cohortpress.stats.rmst import (default_horizon, rmst, rmst_difference,
                                        rmst_ratio)

    if not options.rmst:
        return []
    by = grouping.variable
    time, event, codes = np.asarray(endpoint.time), np.asarray(endpoint.event), grouping.codes
    last = _last_times(time, codes, grouping.levels)
    stated = options.rmst_horizon is not None
    horizon = float(options.rmst_horizon) if stated else default_horizon(list(last.values()))
    name, digits, level_ci = endpoint.name, options.time_digits, options.conf_level
    out = [Result("rmst", stat, value, variable=name) for stat, value in (
        ("label", endpoint.label), ("time.unit", endpoint.unit), ("conf.level", level_ci),
        ("horizon.choice", "stated" if stated else "default"),
        ("horizon.groups", len(last) if by is not None else 1))]
    shown = np.format_float_positional(horizon, precision=max(digits, 2), trim="-")
    out.append(Result("rmst", "horizon", horizon, variable=name,
                      formatted=f"{shown} {endpoint.unit}"))
    # (row label, group level or None for everyone, patients)
    rows = [(level, level, codes == i) for i, level in enumerate(grouping.levels)
            if level in last]
    if by is None:
        rows = [("All patients", None, codes >= 0)]
    elif options.overall and len(rows) > 1:
        rows.append(("Overall", None, codes >= 0))
    estimates = {}
    for label, group_level, mask in rows:
        where = dict(variable=name, group=by if group_level is not None else None,
                     group_level=group_level)
        entry = None if endpoint.entry is None else np.asarray(endpoint.entry)[mask]
        fit = rmst(time[mask], event[mask], horizon, level_ci, extend=options.rmst_extend,
                   entry=entry, counts=counts_of(endpoint, mask))
        estimates[group_level] = fit
        text = f"{fmt_num(fit.estimate, digits)} ({fmt_num(fit.conf_low, digits)}" \
               f"{DASH}{fmt_num(fit.conf_high, digits)})"
        out.append(Result("rmst", "row.label", label, **where))
        for stat, value, shown in (
                ("n", patients(endpoint, mask), None),
                ("n.event", patients(endpoint, mask, event[mask] == 1), None),
                ("estimate", fit.estimate, text), ("std.error", fit.std_err, None),
                ("conf.low", fit.conf_low, None), ("conf.high", fit.conf_high, None),
                ("last.time", fit.last_time, None), ("extended", fit.extended, None)):
            out.append(Result("rmst", stat, value, formatted=shown, **where))
    groups = [level for _, level, _ in rows if level is not None]
    if len(groups) < 2:
        return out
    reference = groups[0]
    out.append(Result("rmst", "reference", reference, variable=name, group=by))
    for level in groups[1:]:
        for kind, contrast, unit_digits in (
                ("rmst.diff", rmst_difference(estimates[reference], estimates[level], level_ci),
                 digits),
                ("rmst.ratio", rmst_ratio(estimates[reference], estimates[level], level_ci),
                 2)):
            low, high = (fmt_num(x, unit_digits) for x in (contrast.conf_low, contrast.conf_high))
            between = " to " if contrast.conf_low < 0 else DASH  # no dash after a minus sign
            text = f"{fmt_num(contrast.estimate, unit_digits)} ({low}{between}{high})"
            for stat, value, shown in (
                    ("estimate", contrast.estimate, text), ("std.error", contrast.std_err, None),
                    ("conf.low", contrast.conf_low, None), ("conf.high", contrast.conf_high, None),
                    ("statistic", contrast.statistic, None),
                    ("p.value", contrast.p_value, context.format_p(contrast.p_value))):
                out.append(Result(kind, stat, value, variable=name, group=by,
                                  group_level=level, formatted=shown))
    return out


# --------------------------------------------------------------------------- table


def _endpoints(records: Records) -> list[str]:
    return [r.variable for r in records.select(context="rmst", stat_name="label")]


def rmst_tables(results: Sequence[Result], time_digits: int = 1) -> tuple[Table, ...]:
    """The RMST table of a survival section (none without ``rmst`` records): per endpoint a
    heading row naming the horizon, then a row per group and overall with its RMST, and
    each group's difference and ratio against the reference with the difference's p."""
    records = Records(results)
    endpoints = _endpoints(records)
    if not endpoints:
        return ()
    conf_level = records.stat(context="rmst", stat_name="conf.level", variable=endpoints[0])
    compared = any(True for _ in records.select(context="rmst.diff", stat_name="estimate"))
    ci = f"({conf_level:.0%} CI)"
    header = [Cell("", align="left"), Cell("n"), Cell("Events"), Cell(f"RMST {ci}", marks=("a",))]
    if compared:
        header += [Cell(f"Difference {ci}", marks=("b",)), Cell(f"Ratio {ci}", marks=("b",)),
                   Cell("p-value", marks=("c",))]
    body = []
    for name in endpoints:
        horizon = records.one(context="rmst", stat_name="horizon", variable=name)
        label = records.stat(context="rmst", stat_name="label", variable=name)
        body.append(Row((Cell(f"{label}, to {horizon.formatted}", align="left"),
                         *[Cell("") for _ in header[1:]]), role="group"))
        body += [_row(records, name, row, compared)
                 for row in records.select(context="rmst", stat_name="row.label",
                                           variable=name)]
    group_label = records.stat(context="survfit", stat_name="label", variable=None)
    caption = "Restricted mean survival time" + \
        (f" by {in_sentence(group_label)}." if group_label else ".")
    return (Table(caption, (Row(tuple(header)),), tuple(body),
                  tuple(_footnotes(records, endpoints, compared, time_digits)), name="rmst"),)


def _row(records: Records, name: str, row: Result, compared: bool) -> Row:
    where = dict(variable=name, group=row.group, group_level=row.group_level)
    estimate = records.one(context="rmst", stat_name="estimate", **where)
    extended = records.stat(context="rmst", stat_name="extended", **where)
    cells = [Cell(row.stat, align="left"),
             Cell(count_text(records.one(context="rmst", stat_name="n", **where))),
             Cell(count_text(records.one(context="rmst", stat_name="n.event", **where))),
             Cell(estimate.formatted, marks=(_extended_mark(compared),) if extended else ())]
    if compared:
        reference = records.stat(context="rmst", stat_name="reference", variable=name)
        if row.group_level is None:
            cells += [Cell(""), Cell(""), Cell("")]
        elif row.group_level == reference:
            cells += [Cell("reference"), Cell("reference"), Cell("")]
        else:
            pick = dict(variable=name, group_level=row.group_level, stat_name="estimate")
            p = records.one(context="rmst.diff", stat_name="p.value", variable=name,
                            group_level=row.group_level)
            cells += [Cell(records.one(context="rmst.diff", **pick).formatted),
                      Cell(records.one(context="rmst.ratio", **pick).formatted),
                      Cell(p.formatted)]
    return Row(tuple(cells), indent=1)


def _choice(records: Records, name: str) -> str:
    """``default``, ``default.one`` (one group: its own last follow-up) or ``stated``."""
    choice = records.stat(context="rmst", stat_name="horizon.choice", variable=name)
    one = records.stat(context="rmst", stat_name="horizon.groups", variable=name) == 1
    return "default.one" if choice == "default" and one else choice


def _extended_mark(compared: bool) -> str:
    return "d" if compared else "b"


def _footnotes(records: Records, endpoints: list[str], compared: bool,
               time_digits: int) -> list[Footnote]:
    conf_level = records.stat(context="rmst", stat_name="conf.level", variable=endpoints[0])
    notes = [Footnote("RMST: restricted mean survival time, the area under the Kaplan\u2013"
                      "Meier curve from 0 to the horizon \u03c4 (the mean survival time "
                      "within \u03c4), with R survival's standard error and normal "
                      f"{conf_level:.0%} confidence intervals.", "a")]
    if compared:
        references = {records.stat(context="rmst", stat_name="reference", variable=name)
                      for name in endpoints}
        reference = f"{next(iter(references))}, the first group" if len(references) == 1 \
            else "the first group"
        notes.append(Footnote(f"Against {reference}: the difference of the RMSTs (its "
                              f"variance the sum of theirs) and their ratio (its confidence "
                              f"interval on the log scale, by the delta method).", "b"))
        notes.append(Footnote("Wald test of no difference in RMST (normal approximation).",
                              "c"))
    for name in endpoints:
        label = records.stat(context="rmst", stat_name="label", variable=name)
        horizon = records.one(context="rmst", stat_name="horizon", variable=name)
        choice = _choice(records, name)
        notes.append(Footnote(f"{label}: \u03c4 = {horizon.formatted}, {CHOICE_TEXT[choice]}."))
    extended = [r for r in records.select(context="rmst", stat_name="extended") if r.stat]
    if extended:
        texts = []
        for r in extended:
            last = records.stat(context="rmst", stat_name="last.time", variable=r.variable,
                                group=r.group, group_level=r.group_level)
            unit = records.stat(context="rmst", stat_name="time.unit", variable=r.variable)
            row = r.group_level or "all patients"
            texts.append(f"{row} {fmt_num(last, time_digits)} {unit}")
        notes.append(Footnote("Horizon beyond the last follow-up of the row, whose curve was "
                              "carried forward at its last value to \u03c4 (rmst_extend): "
                              f"last follow-up {'; '.join(texts)}.", _extended_mark(compared)))
    notes += entry_footnotes(list(records), "survfit", endpoints)
    return notes


# --------------------------------------------------------------------------- methods


def rmst_methods(results: Sequence[Result]) -> list[str]:
    """The methods sentence of the RMST, from the records (none without them)."""
    records = Records(results)
    endpoints = _endpoints(records)
    if not endpoints:
        return []
    horizons = []
    for name in endpoints:
        horizon = records.one(context="rmst", stat_name="horizon", variable=name).formatted
        label = in_sentence(records.stat(context="rmst", stat_name="label", variable=name))
        horizons.append(f"{horizon} for {label}" if len(endpoints) > 1 else horizon)
    choices = {_choice(records, name) for name in endpoints}
    many = len(endpoints) > 1
    if choices == {"default"}:
        why = (", in each the smallest of the groups' last follow-up times" if many else
               ", the smallest of the groups' last follow-up times")
    elif choices == {"default.one"}:
        why = ", in each the last follow-up time" if many else ", the last follow-up time"
    elif choices == {"stated"}:
        why = ", set in advance"
    else:
        why = ""
    listed = horizons[0] if not many else \
        ", ".join(horizons[:-1]) + " and " + horizons[-1]
    sentence = (f"The restricted mean survival time (RMST) up to a horizon of {listed}{why}"
                f"{',' if why else ''} was estimated as the area under the Kaplan\u2013Meier curve, with the "
                f"standard error of R's survival package and normal confidence intervals")
    references = [records.stat(context="rmst", stat_name="reference", variable=name)
                  for name in endpoints]
    references = [r for r in references if r is not None]
    if references:
        first = f"the first group ({references[0]})" if len(set(references)) == 1 \
            else "the first group"
        sentence += (f"; each group was compared with {first} by the difference of the RMSTs "
                     f"and by their ratio (on the log scale, by the delta method), with "
                     f"Wald tests")
    return [sentence + "."]
