"""Reading a ``results.json`` back, checking that it keeps the results-file contract."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: The fields of a results record, in the order of the results-file contract.
RESULT_FIELDS = ("section", "context", "variable", "variable_level", "group", "group_level",
                 "stat_name", "stat", "formatted")


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read the records of a ``results.json``, checking the results-file contract.

    Parameters
    ----------
    path : path
        The ``results.json`` file, or the output folder holding it.

    Returns
    -------
    list of dict
        Every record, each with exactly the fields :data:`RESULT_FIELDS`.

    Raises
    ------
    AssertionError
        The file breaks the contract: a missing ``report`` part (title, generated_with,
        cohort source, sha256 and n_rows), a record with missing or extra fields, a record
        without ``section``, ``context`` or ``stat_name``, or a non-finite number.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    # JSON has no NaN: the contract writes non-finite numbers as null.
    document = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    assert isinstance(document, dict) and set(document) >= {"report", "results"}, \
        f"{path}: needs 'report' and 'results'"
    report = document["report"]
    for key in ("title", "generated_with", "cohort"):
        assert key in report, f"{path}: report.{key} is missing"
    for key in ("source", "sha256", "n_rows"):
        assert key in report["cohort"], f"{path}: report.cohort.{key} is missing"
    records = document["results"]
    assert isinstance(records, list), f"{path}: 'results' is not a list"
    for i, record in enumerate(records):
        assert isinstance(record, dict) and set(record) == set(RESULT_FIELDS), \
            f"{path}: results[{i}] has fields {sorted(record)}, expected {list(RESULT_FIELDS)}"
        for key in ("section", "context", "stat_name"):
            assert isinstance(record[key], str) and record[key], \
                f"{path}: results[{i}].{key} must be a non-empty string"
    return records


def _reject_constant(name: str):
    raise AssertionError(f"results.json holds {name}; non-finite numbers must be null")
