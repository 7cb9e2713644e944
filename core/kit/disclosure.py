"""Released records: a section's results with every count released under the disclosure rule.

An analysis computes its records on the full data; :func:`release_records` turns them into
the records a report may release, and the analysis builds its tables from those, so that
every table, export, methods sentence and ``results.json`` entry shows released numbers
only while the statistics (tests, models, estimates) stay those of the full data.

Each count record (:data:`~cohortpress.common.disclosure.COUNT_STAT_NAMES`) gets its released
value in ``stat`` (``None`` when hidden), what the report prints in ``formatted`` ("<10",
"15") and the rule applied in ``disclosure``. A proportion ``p`` becomes the ratio of the
released counts (hidden with its numerator). Two kinds of table are released as tables, so
that a hidden count cannot be derived from the totals next to it
(:func:`cohortpress.stats.suppression.protect`):

* a cross-table (``crosstab`` records of one row variable): cells, row totals, column totals,
  the grand total, and the unknown row (a column's patients = its total + its unknown);
* a Table 1 variable (``categorical`` and ``missing`` records): its levels by group, the
  overall column, the known values per group and the unknown row.

Every other count is released on its own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Sequence

from cohortpress.api.blocks import Footnote, Table
from cohortpress.api.results import Result
from cohortpress.common.disclosure import (COUNT_STAT_NAMES, DisclosureRule, ReleasedCount,
                                           release_count)
from cohortpress.stats.suppression import Sum, protect

_Key = tuple[str, Any, Any]  # (stat_name, variable_level, group_level)


def release_records(results: Iterable[Result], rule: DisclosureRule | None) -> list[Result]:
    """``results`` as released under ``rule`` (unchanged when ``rule`` is None).

    Records already released (their ``disclosure`` set) are left as they are, so releasing
    twice changes nothing.
    """
    results = list(results)
    if rule is None:
        return results
    released: dict[int, ReleasedCount] = {}
    for family in _table_families(results):
        released.update(_release_table(family, results, rule))
    out = []
    for index, record in enumerate(results):
        if record.disclosure is not None:
            out.append(record)
        elif index in released:
            out.append(_with_release(record, released[index]))
        elif _is_count(record):
            out.append(_with_release(record, release_count(record.stat, rule)))
        else:
            out.append(record)
    return _released_shares(out)


def rule_footnote(rule: DisclosureRule) -> Footnote:
    """The note under a table whose counts the rule released."""
    rounded = (f"; other counts rounded to the nearest {rule.round_to}, percentages of the "
               f"rounded counts" if rule.round_to > 1 else "")
    return Footnote(f"Disclosure control: counts of 1 to {rule.min_count - 1} shown as "
                    f"{rule.hidden_text}{rounded}; further cells hidden where a hidden count "
                    f"could be derived from the totals.")


def with_rule_footnote(blocks: Sequence[Any], records: Sequence[Result],
                       rule: DisclosureRule | None) -> tuple:
    """``blocks`` with the rule's note under each table, when the rule altered a count of
    the section (unchanged without a rule, or when a table already states it)."""
    if rule is None or not any(r.disclosure and not r.disclosure.startswith("shown")
                               for r in records):
        return tuple(blocks)
    note = rule_footnote(rule)
    return tuple(replace(b, footnotes=(*b.footnotes, note))
                 if isinstance(b, Table) and note not in b.footnotes else b for b in blocks)


def count_text(value: Any, formatted: str | None = None) -> str:
    """A count as a table prints it: the released text of a hidden count, else the number."""
    if value is None:
        return formatted if formatted else "–"
    return str(value)


def released_value(n: int, rule: DisclosureRule | None) -> int | None:
    """A count for a data file: as it is, or as ``rule`` releases it (None: hidden)."""
    return n if rule is None else release_count(n, rule).value


def released_text(n: int, rule: DisclosureRule | None) -> str:
    """A count for a sentence: as it is, or as ``rule`` releases it."""
    return str(n) if rule is None else release_count(n, rule).text


def few_per_parameter(n: int, what: str, n_params: int, threshold: float,
                      rule: DisclosureRule | None) -> str:
    """The warning of a model with fewer than ``threshold`` events (``what``) per parameter.

    Under a disclosure rule the count is released and the ratio not printed (times the
    number of parameters it would give the count back).
    """
    if rule is None:
        return (f"{n} {what} for {n_params} parameters ({n / max(n_params, 1):.1f} per "
                f"parameter, fewer than {threshold:g}): estimates may be unstable.")
    return (f"{released_text(n, rule)} {what} for {n_params} parameters (fewer than "
            f"{threshold:g} per parameter): estimates may be unstable.")


def is_hidden(record: Result | None) -> bool:
    """Whether ``record`` is a count the rule hides."""
    return record is not None and record.disclosure is not None and record.stat is None


# --------------------------------------------------------------------------- internals


def _is_count(record: Result) -> bool:
    return (record.stat_name in COUNT_STAT_NAMES and isinstance(record.stat, int)
            and not isinstance(record.stat, bool))


def _with_release(record: Result, released: ReleasedCount) -> Result:
    return replace(record, stat=released.value, formatted=released.text,
                   disclosure=f"{released.action}: {released.reason}")


def _table_families(results: Sequence[Result]) -> list[list[int]]:
    """Indices of the count records of each table released as a whole: one per
    (section, row variable) of ``crosstab`` records, and of ``categorical`` + ``missing``
    records."""
    families: dict[tuple, list[int]] = {}
    for index, record in enumerate(results):
        if not _is_count(record):
            continue
        if record.context == "crosstab" and record.stat_name in ("n", "N", "N_obs", "N_miss"):
            families.setdefault(("crosstab", record.section, record.variable), []).append(index)
        elif record.context == "overview" and record.stat_name in ("N", "N_unknown",
                                                                    "n.event"):
            families.setdefault(("overview", record.section), []).append(index)
        elif (record.context == "categorical" and record.stat_name in ("n", "N")) or \
                (record.context == "missing" and record.stat_name in ("N", "N_miss")):
            families.setdefault(("table1", record.section, record.variable), []).append(index)
    return list(families.values())


def _release_table(family: list[int], results: Sequence[Result],
                   rule: DisclosureRule) -> dict[int, ReleasedCount]:
    """The released count of each record of one table, with secondary suppression."""
    slots: dict[_Key, int] = {}
    values: list[int] = []
    where: dict[int, int] = {}

    def slot(key: _Key, value: int) -> int:
        if key not in slots:
            slots[key] = len(values)
            values.append(value)
        return slots[key]

    bases = []
    for index in family:
        record = results[index]
        if record.context == "crosstab" and record.stat_name == "N":
            bases.append(index)
        else:
            where[index] = slot(_slot_key(record), int(record.stat))
    for index in bases:  # a percent base is one of the table's totals
        where[index] = slot(_base_key(results[index], slots, values), int(results[index].stat))
    sums = _table_sums(slots, values)
    keep = frozenset(i for k, i in slots.items() if k[0] == "N.group")
    released = (protect(values, sums, rule, keep) if sums
                else [release_count(v, rule) for v in values])
    return {index: released[s] for index, s in where.items()}


def _base_key(record: Result, slots: dict[_Key, int], values: list[int]) -> _Key:
    """Which total a cross-table's percent base ``N`` is: its column's, its row's or the
    grand total (the first whose count it equals, as the cells add up)."""
    level = record.variable_level if record.variable_level is not None else "*total"
    group = record.group_level if record.group is not None else "*total"

    def total(key: _Key) -> int:
        if key in slots:
            return values[slots[key]]
        _, lv, g = key
        return sum(values[i] for (name, l2, g2), i in slots.items() if name == "n"
                   and l2 != "*total" and g2 != "*total"
                   and (lv == "*total" or l2 == lv) and (g == "*total" or g2 == g))

    for key in (("n", "*total", group), ("n", level, "*total"), ("n", "*total", "*total")):
        if total(key) == record.stat:
            return key
    return ("N", level, group)


def _slot_key(record: Result) -> _Key:
    """Which number of the table a record holds. A Table 1 ``N`` is the same known-values
    total on every level's row, so it is one slot per group."""
    if record.context in ("categorical", "missing") and record.stat_name == "N":
        prefix = "N.known" if record.context == "categorical" else "N.group"
        return (prefix, None, record.group_level if record.group is not None else "*total")
    group_level = record.group_level if record.group is not None else "*total"
    if record.context == "overview":  # one row per count, a column per group
        return (record.stat_name, record.variable if record.stat_name != "N" else "*total",
                group_level)
    if record.stat_name == "N_miss" and record.group is None:
        group_level = "*total"
    level = record.variable_level if record.variable_level is not None else "*total"
    return (record.stat_name, level, group_level)


def _table_sums(slots: dict[_Key, int], values: list[int]) -> list[Sum]:
    """The additive structure of a table's slots (only sums whose every part is there)."""
    levels = {k[1] for k in slots if k[0] == "n" and k[1] != "*total"}
    groups = {k[2] for k in slots if k[0] == "n" and k[2] != "*total"}
    sums: list[Sum] = []

    def add(total: _Key, parts: list[_Key]) -> None:
        if total in slots and parts and all(p in slots for p in parts):
            if values[slots[total]] == sum(values[slots[p]] for p in parts):
                sums.append(Sum(slots[total], tuple(slots[p] for p in parts)))

    for level in levels | {"*total"}:
        add(("n", level, "*total"), [("n", level, g) for g in groups])
    for group in groups | {"*total"}:
        add(("n", "*total", group), [("n", lv, group) for lv in levels])
        add(("N.known", None, group), [("n", lv, group) for lv in levels])
        add(("N.group", None, group), [("N.known", None, group), ("N_miss", "*total", group)])
        add(("N_obs", "*total", group), [("n", "*total", group), ("N_miss", "*total", group)])
    add(("N_miss", "*total", "*total"), [("N_miss", "*total", g) for g in groups])
    add(("N.known", None, "*total"), [("N.known", None, g) for g in groups])
    _one_way_sums(slots, add)
    return sums


def _one_way_sums(slots: dict[_Key, int], add) -> None:
    """An overview's sums: each overall count is its groups' (patients: and the unknown)."""
    for name, level, group in list(slots):
        if name not in ("N", "n.event") or group != "*total":
            continue
        parts = [k for k in slots if k[0] == name and k[1] == level and k[2] != "*total"]
        add((name, level, group), parts)
        unknown = [k for k in slots if k[0] == "N_unknown"]
        if name == "N" and unknown:
            add((name, level, group), parts + unknown)


def _released_shares(records: list[Result]) -> list[Result]:
    """Each proportion ``p`` as the ratio of its released ``n`` (or ``N_miss``) and ``N``."""
    by_key = {(r.section, r.context, r.stat_name, r.variable, r.variable_level, r.group,
               r.group_level): r for r in records}
    out = []
    for record in records:
        if record.stat_name != "p" or record.disclosure is not None:
            out.append(record)
            continue
        names = (record.section, record.context)
        rest = (record.variable, record.variable_level, record.group, record.group_level)
        numerator = by_key.get((*names, "n", *rest)) or by_key.get((*names, "N_miss", *rest))
        denominator = by_key.get((*names, "N", *rest))
        if numerator is None or denominator is None or numerator.disclosure is None:
            out.append(record)
            continue
        share = (None if numerator.stat is None or denominator.stat is None
                 or not denominator.stat else numerator.stat / denominator.stat)
        reason = ("suppressed: its count is hidden" if share is None else
                  "recomputed: the ratio of the released counts")
        out.append(replace(record, stat=share, disclosure=reason))
    return out
