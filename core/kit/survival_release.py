"""Survival curves under the disclosure rule: a released cohort the curves are drawn from.

A Kaplan–Meier or cumulative-incidence curve shows a count at every step: a drop of 1/27
says that one of 27 patients had the event. Hiding the counts of a table does not hide
them in a curve, its number-at-risk table or its landmark estimates. With ``[disclosure]``
on, every number a survival section shows about the course of a curve is computed from a
*released cohort* that holds only coarsened counts, the approach of OpenSAFELY's
Kaplan–Meier reusable action (``opensafely-actions/kaplan-meier-function``) and of
W. Hulme's ``round_km`` (R package ``osutils``), which delay event times until enough
events have accrued and recompute the curve from the rounded counts:

* the unit ``u`` is the smallest multiple of ``round_to`` not below ``min_count`` (10 for
  ``min_count = 10, round_to = 5``);
* for each kind of exit (each cause of event, and censoring) the cumulative count up to
  time t is released rounded *down* to a multiple of ``u``: events enter the curve ``u`` at
  a time, at the time the ``u``-th, ``2u``-th, ... of them happened (never earlier);
* the group size is the one the report's rule releases for the group (so the number at risk
  at time 0 is the table's n); what the floors leave over (a multiple of ``round_to``) is
  censored at the group's last follow-up time.

The released cohort is a list of pseudo-patients with exactly these counts, so the
curves, the numbers at risk, cumulative events and censorings, landmark estimates with
Greenwood (or Aalen) intervals and medians are the ordinary estimators applied to it.
Every count it implies is a multiple of ``round_to``, and each step of a curve has a
multiple of ``u``, so at least ``min_count``, events. Where fewer than ``min_count``
remain in the released cohort (the tail after its last step, where the curve is flat), the
number at risk is hidden as the rule hides any small count, as ONS and NHS England stop a
curve's table where fewer than the threshold are at risk. A group of fewer than
``min_count`` patients gets no released cohort: its curve is not drawn.

Tests (log-rank, Gray's), hazard ratios and the other statistics are computed on the full
data; the group sizes and event totals of the tables are released by the report's rule for
single counts (:func:`cohortpress.common.disclosure.release_count`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from cohortpress.api.results import Result
from cohortpress.common.errors import DataError
from cohortpress.common.disclosure import DisclosureRule, release_count, round_count

__all__ = ["SurvivalRelease", "released_cohort", "release_unit", "for_context", "km_fit",
           "release_rmst_counts", "table_note", "count_text", "with_released",
           "figure_note", "count_records", "UNIT_STAT"]

#: The record (``stat_name``, per endpoint, in contexts ``survfit`` and ``cuminc``) that says
#: a table's estimates come from released cohorts, and their unit.
UNIT_STAT = "disclosure.unit"


def release_unit(rule: DisclosureRule) -> int:
    """The smallest multiple of ``round_to`` at or above ``min_count``: the step of every
    count a released curve implies."""
    base = max(1, int(rule.round_to))
    return base * math.ceil(rule.min_count / base)


def released_cohort(time, status, unit: int, min_count: int, total: int | None = None,
                    counts=None):
    """The pseudo-patients of a released curve (see the module docstring).

    Parameters
    ----------
    time : array_like of float
        Follow-up times of one group.
    status : array_like of int
        0 censored, 1 the event (of interest), 2, 3, ... competing causes.
    unit : int
        The step of every released count (:func:`release_unit`).
    min_count : int
        Groups smaller than this are withheld.
    total : int, optional
        The group size as released (at least the group size rounded down to a multiple of
        ``unit``); by default the group size rounded to the nearest multiple of ``unit``.
    counts : array_like of int, optional
        Patients each row stands for (rows from aggregates); default one each.

    Returns
    -------
    (ndarray, ndarray) or (ndarray, ndarray, ndarray) or None
        Times (ascending) and status codes of the released cohort, or None when the group
        has fewer than ``min_count`` patients. With ``counts``, the released cohort as rows
        of counts too: distinct (time, status) rows and their numbers of pseudo-patients
        (its size grows with the distinct times, not the patients).
    """
    time, status = np.asarray(time, dtype=float), np.asarray(status, dtype=np.int64)
    weights = None if counts is None else np.asarray(counts, dtype=np.int64)
    size = int(time.size if weights is None else weights.sum())
    if size < min_count or size == 0:
        return None
    distinct, where = np.unique(time, return_inverse=True)
    times, codes, steps_out = [], [], []
    for code in np.unique(status):
        chosen = status == code
        per_time = np.bincount(where[chosen], minlength=distinct.size) if weights is None \
            else np.rint(np.bincount(where[chosen], weights=weights[chosen].astype(float),
                                     minlength=distinct.size)).astype(np.int64)
        released = (np.cumsum(per_time) // unit) * unit
        steps = np.diff(released, prepend=0)
        if weights is None:
            times.append(np.repeat(distinct, steps))
            codes.append(np.full(int(released[-1]), code, dtype=np.int64))
        else:
            times.append(distinct[steps > 0])
            codes.append(np.full(int((steps > 0).sum()), code, dtype=np.int64))
            steps_out.append(steps[steps > 0])
    total = round_count(size, unit) if total is None else int(total)
    released_exits = sum(c.size for c in codes) if weights is None else \
        sum(int(s.sum()) for s in steps_out)
    left_over = total - released_exits
    if left_over < 0:
        raise ValueError(f"a released group of {total} cannot hold its released exits")
    if weights is None:
        times.append(np.full(left_over, distinct[-1]))
        codes.append(np.zeros(left_over, dtype=np.int64))
    elif left_over:
        times.append(distinct[-1:])
        codes.append(np.zeros(1, dtype=np.int64))
        steps_out.append(np.array([left_over], dtype=np.int64))
    time_out, code_out = np.concatenate(times), np.concatenate(codes)
    order = np.argsort(time_out, kind="stable")
    if weights is None:
        return time_out[order], code_out[order]
    return time_out[order], code_out[order], np.concatenate(steps_out)[order]


@dataclass(frozen=True)
class SurvivalRelease:
    """The disclosure rule as a survival section applies it.

    Attributes
    ----------
    rule : DisclosureRule
        The report's rule.
    """

    rule: DisclosureRule

    @property
    def unit(self) -> int:
        return release_unit(self.rule)

    def cohort(self, time, status, counts=None):
        """The released cohort of one group (None: fewer than ``min_count`` patients); with
        ``counts`` (rows from aggregates), as rows of counts too (see
        :func:`released_cohort`)."""
        size = len(time) if counts is None else int(np.sum(counts))
        total = release_count(size, self.rule).value
        return released_cohort(time, status, self.unit, self.rule.min_count, total, counts)

    def count(self, context: str, stat_name: str, n: int, **where) -> Result:
        """A total (patients, events) as the report's rule releases it, as a record marked
        with what the rule did (``disclosure``)."""
        released = release_count(int(n), self.rule)
        return Result(context, stat_name, released.value, formatted=released.text,
                      disclosure=f"{released.action}: {released.reason}", **where)

    @property
    def coarsened(self) -> str:
        """The ``disclosure`` mark of a number computed from released cohorts."""
        return (f"coarsened: from counts in steps of {self.unit} (events delayed until "
                f"{self.unit} had occurred)")

    def curve_count(self, record: Result) -> Result:
        """A count of a curve's course (from a released cohort, so a multiple of
        ``round_to`` already) with its mark; hidden when below ``min_count``."""
        released = release_count(int(record.stat), self.rule)
        mark = self.coarsened if not released.suppressed else \
            f"{released.action}: {released.reason}"
        return dataclasses.replace(record, stat=released.value, formatted=released.text,
                                   disclosure=mark)

    def counts(self, context: str, pairs, **where) -> list[Result]:
        """Records of ``(stat_name, count)`` pairs, released (or as they are, without a
        rule: ``release`` None is handled by :func:`count_records`)."""
        return [self.count(context, stat, n, **where) for stat, n in pairs]

    def unit_record(self, context: str, name: str) -> Result:
        """The record that marks an endpoint's estimates as computed from released cohorts."""
        return Result(context, UNIT_STAT, self.unit, variable=name)

    def methods(self) -> str:
        """The methods paragraph's sentence."""
        return (f"Under the disclosure rule, survival and cumulative incidence curves, "
                f"numbers at risk, landmark estimates and medians were computed from counts "
                f"coarsened to steps of {self.unit}: events and censorings entered in whole "
                f"steps as they accrued, each step at the time of its last event, from the "
                f"released group sizes (the method of OpenSAFELY's Kaplan\u2013Meier "
                f"reusable action); tests were computed on the full data.")

    def figure_note(self, withheld: bool) -> str:
        """The sentence under a figure that says how its curves were released."""
        note = (f" Disclosure control: the curves and the numbers below them are computed "
                f"from coarsened counts, events and censorings entering in steps of "
                f"{self.unit} at the time the last of each step occurred, from the released "
                f"group sizes (OpenSAFELY's Kaplan\u2013Meier method); fewer than "
                f"{self.rule.min_count} at risk shows as {self.rule.hidden_text}; tests use "
                f"the full data.")
        if withheld:
            note += f" Groups of fewer than {self.rule.min_count} patients are not drawn."
        return note



def table_note(unit: int) -> str:
    """The footnote of a survival table whose estimates come from released cohorts."""
    return (f"Estimates, numbers at risk and medians from counts coarsened to steps of "
            f"{unit} (events delayed until {unit} had occurred, OpenSAFELY's "
            f"Kaplan\u2013Meier method); tests on the full data.")


#: The counts of a curve's course (at a landmark or a risk time) that a rule releases.
CURVE_COUNTS = ("n.risk", "n.event", "n.event.cum", "n.censor.cum")
#: The estimates of a curve (at a landmark, or its median) computed from released cohorts.
CURVE_ESTIMATES = ("surv", "std.err", "estimate", "std.error", "conf.low", "conf.high",
                   "median", "median.conf.low", "median.conf.high")


def _of_curve(record: Result) -> bool:
    return record.context == "survfit" or record.context.startswith("cuminc")


def release_curve_counts(records, release: SurvivalRelease | None) -> list[Result]:
    """Records with the numbers of curves' courses released and marked: the counts at
    landmarks and risk times (from released cohorts, so multiples of ``round_to`` already:
    only a tail below ``min_count``, the last patients at risk, changes, to hidden) and the
    landmark estimates and medians. Records already marked are left as they are."""
    if release is None:
        return list(records)
    out = []
    for r in records:
        if r.disclosure is not None:
            out.append(r)
        elif r.stat_name in CURVE_COUNTS and (r.context == "risktable" or (
                _of_curve(r) and r.variable_level is not None)):
            out.append(release.curve_count(r))
        elif r.stat_name in CURVE_ESTIMATES and _of_curve(r) and (
                r.variable_level is not None or r.stat_name.startswith("median")):
            out.append(dataclasses.replace(r, disclosure=release.coarsened))
        else:
            out.append(r)
    return out


def shown_number(n: int, release: SurvivalRelease | None):
    """A number under a figure: as it is without a rule, else as released (``<10``)."""
    if release is None:
        return n
    released = release_count(int(n), release.rule)
    return released.text if released.suppressed else released.value


def count_text(record: Result) -> str:
    """A count as its table prints it: the released text under a rule (``<10``), else the
    number."""
    return record.formatted if record.formatted is not None else str(record.stat)


def for_context(context) -> SurvivalRelease | None:
    """The section's release, or None when the report has no disclosure rule."""
    return SurvivalRelease(context.disclosure) if context.disclosure is not None else None


def refuse_unsupported(release: SurvivalRelease | None, endpoint, weights: str | None) -> None:
    """The rule coarsens unweighted counts of patients followed from time 0; curves with
    delayed entry or weights have no released form yet, so they are refused, not drawn
    from counts the rule never saw."""
    if release is None:
        return
    if endpoint.entry is not None:
        raise DataError(f"endpoint '{endpoint.name}' has delayed entry (entry), whose curves "
                        f"the disclosure rule cannot release yet; analyse it without entry "
                        f"or without [disclosure]", key="disclosure")
    if weights is not None:
        raise DataError(f"weights = '{weights}': weighted curves cannot be released under "
                        f"the disclosure rule yet; leave weights out or [disclosure] off",
                        key="weights")


def count_records(context: str, pairs, release: SurvivalRelease | None,
                  **where) -> list[Result]:
    """Records of ``(stat_name, count)`` pairs: as they are without a rule, else released."""
    if release is None:
        return [Result(context, stat, int(n), **where) for stat, n in pairs]
    return release.counts(context, pairs, **where)


def km_fit(time, event, conf_type: str, conf_level: float, release: SurvivalRelease | None,
           counts=None):
    """The Kaplan–Meier fit a section shows: of the data, or under a rule of its released
    cohort (None: the group is too small to be shown). ``counts``: patients per row, for
    rows from aggregates."""
    from cohortpress.stats.kaplan_meier import kaplan_meier

    if release is None:
        return kaplan_meier(time, event, conf_type, conf_level, counts=counts)
    shown = release.cohort(time, event, counts)
    if shown is None:
        return None
    return kaplan_meier(shown[0], shown[1], conf_type, conf_level,
                        counts=shown[2] if len(shown) == 3 else None)


def with_released(rows, endpoint, release: SurvivalRelease | None) -> list:
    """Rows of a competing-risks table (:class:`cohortpress.kit.cumulative_incidence.RowSpec`)
    with their released cohorts, or as they are without a rule."""
    if release is None:
        return list(rows)
    out = []
    for row in rows:
        counts = getattr(endpoint, "counts", None)
        shown = release.cohort(endpoint.time[row.mask], endpoint.status[row.mask],
                               None if counts is None else counts[row.mask])
        out.append(dataclasses.replace(row, shown=shown,
                                       withheld=shown is None and bool(row.mask.any())))
    return out


def figure_note(release: SurvivalRelease | None, records, name: str) -> str:
    """The sentence a figure's caption ends with under a rule ("" without one); it names
    the groups left out when an endpoint has a row too small to draw."""
    if release is None:
        return ""
    withheld = any(r.variable == name and r.stat_name == "n" and r.stat is None
                   and r.context in ("survfit", "cuminc") for r in records)
    return release.figure_note(withheld)


def release_rmst_counts(records, release: SurvivalRelease | None) -> list[Result]:
    """RMST records with their row counts (``n``, ``n.event``) released."""
    if release is None:
        return list(records)
    return [release.count(r.context, r.stat_name, r.stat, variable=r.variable,
                          group=r.group, group_level=r.group_level)
            if r.context == "rmst" and r.stat_name in ("n", "n.event")
            and r.disclosure is None else r
            for r in records]
