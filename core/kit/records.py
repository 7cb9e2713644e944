"""Looking up a section's results records: what a table built from records alone reads.

A table builder takes the records an analysis computed (as they are written to, and read back
from, ``results.json``) and finds its numbers by the record's fields, as gtsummary renders a
table from a cards ARD. :class:`Records` is that lookup: exact matches on the fields, in the
order the analysis wrote the records.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from cohortpress.api.results import Result

#: The record of a section that read the patients' rows from the engine, a chunk at a time
#: (a streamed Cox fit or survival endpoint; its value is the sentence saying so): the
#: engine sentence of the methods and the provenance look for it.
STREAMED_RECORD = "rows.streamed"

#: The fields a record can be looked up by.
KEY_FIELDS = ("context", "stat_name", "variable", "variable_level", "group", "group_level")


class Records:
    """Records in the order they were written, looked up by exact field values.

    Examples
    --------
    >>> records = Records([Result("crosstab", "n", 3, variable="sex", variable_level="F")])
    >>> records.stat(context="crosstab", stat_name="n", variable="sex", variable_level="F")
    3
    """

    def __init__(self, records: Iterable[Result]):
        self._records = tuple(records)
        self._by_name: dict[tuple[str, str], list[Result]] = {}
        for record in self._records:
            self._by_name.setdefault((record.context, record.stat_name), []).append(record)

    def __iter__(self) -> Iterator[Result]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def select(self, **fields: Any) -> list[Result]:
        """Every record whose fields equal ``fields`` (any of :data:`KEY_FIELDS`)."""
        unknown = set(fields) - set(KEY_FIELDS)
        if unknown:
            raise TypeError(f"records have no field(s) {sorted(unknown)}")
        if "context" in fields and "stat_name" in fields:
            pool: Iterable[Result] = self._by_name.get((fields["context"], fields["stat_name"]),
                                                       [])
        else:
            pool = self._records
        return [r for r in pool if all(getattr(r, k) == v for k, v in fields.items())]

    def one(self, **fields: Any) -> Result | None:
        """The first record matching ``fields``, or ``None``."""
        found = self.select(**fields)
        return found[0] if found else None

    def stat(self, default: Any = None, **fields: Any) -> Any:
        """The ``stat`` of the first record matching ``fields``, or ``default``."""
        record = self.one(**fields)
        return default if record is None else record.stat

    def distinct(self, field: str, **fields: Any) -> list[Any]:
        """The distinct values of ``field`` among the matching records, in first-seen order."""
        seen: dict[Any, None] = {}
        for record in self.select(**fields):
            seen.setdefault(getattr(record, field), None)
        return list(seen)


def hypothesis_test_records(result, formatted_p: str | None, **names: Any) -> list[Result]:
    """The ``test`` records of one hypothesis test (a :class:`~cohortpress.stats.common.
    TestResult`): ``p.value``, ``method``, and ``statistic``, ``df`` and ``note`` where the
    test has them.

    A p-value simulated by Monte Carlo adds ``method.monte_carlo`` (``True``), ``n.tables``
    and ``seed``, so that a reader of the results file can tell it from an exact one and
    reproduce it.
    """
    out = [Result("test", "p.value", result.p_value, formatted=formatted_p, **names),
           Result("test", "method", result.method, **names)]
    for stat_name, value in (("statistic", result.statistic), ("df", result.df),
                             ("note", result.note)):
        if value is not None and value != "":
            out.append(Result("test", stat_name, value, **names))
    tables = getattr(result, "monte_carlo_tables", None)
    if tables is not None:
        out += [Result("test", "method.monte_carlo", True, **names),
                Result("test", "n.tables", int(tables), **names),
                Result("test", "seed", result.seed, **names)]
    return out
