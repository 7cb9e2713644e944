"""Compare a report's outputs by what they say, not by their bytes.

The promise these helpers test (README, "Reproducibility"): a rebuild on the same machine
with the same installed versions gives the same bytes, but a rebuild on another machine
gives the same *numbers*. Floating-point sums come out in a different order on another
CPU (numpy picks its SIMD kernels at run time, OpenBLAS its BLAS kernels), so the last
digit or two of an unrounded value in ``results.json`` may change; nothing a reader sees
does.

- :func:`json_differences`: two ``results.json`` documents walked together. Numbers are
  equal within a relative 1e-9 (absolute 1e-12 near zero), integers, booleans and strings
  exactly, except the fields that record the environment (the Python and library versions
  in ``report.generated_with``, which another machine may not share).
- :func:`pdf_text` and :func:`text_differences`: the text of a PDF as ``pdftotext`` reads
  it, with the versions of Python and the libraries masked, hyphenation and line breaks
  undone (a longer version number may rewrap a line).

This module is loaded by path (the suite runs with ``--import-mode=importlib``); tests
reach it through the ``cp`` fixture of ``conftest.py``.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterable, Iterator

REL_TOL = 1e-9
ABS_TOL = 1e-12

# Fields that record where a report was built rather than what it says: the versions of
# Python and of the libraries. cohortpress's own version is the code's, and a plugin's
# (``plugin:NAME``) is part of the analysis: both are compared.
ENVIRONMENT = re.compile(r"^\$\.report\.generated_with\.(?!cohortpress$|plugin:)[^\[]+$")


def json_differences(expected: Any, actual: Any, *, rel_tol: float = REL_TOL,
                     abs_tol: float = ABS_TOL, ignore: re.Pattern = ENVIRONMENT,
                     limit: int = 20) -> list[str]:
    """The first ``limit`` differences between two JSON documents, as readable lines naming
    the JSON path (``$.results[65].stat``) and, for a results record, what it is; ``[]``
    when they agree."""
    found = []
    for line in _walk(expected, actual, "$", "", rel_tol, abs_tol, ignore):
        found.append(line)
        if len(found) >= limit:
            break
    return found


def _walk(a: Any, b: Any, path: str, what: str, rel_tol: float, abs_tol: float,
          ignore: re.Pattern) -> Iterator[str]:
    if ignore.match(path):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        missing, extra = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        if missing or extra:
            yield f"{path}{what}: keys {missing} only in the first, {extra} only in the second"
        for key in (k for k in a if k in b):
            yield from _walk(a[key], b[key], f"{path}.{key}", what, rel_tol, abs_tol, ignore)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{path}{what}: {len(a)} items, then {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            yield from _walk(x, y, f"{path}[{i}]", _describe(x) or what, rel_tol, abs_tol,
                             ignore)
    elif _kind(a) != _kind(b):
        yield f"{path}{what}: {a!r} ({_kind(a)}) != {b!r} ({_kind(b)})"
    elif _kind(a) == "float":
        if not _close(a, b, rel_tol, abs_tol):
            scale = max(abs(a), abs(b))
            rel = abs(a - b) / scale if scale and math.isfinite(scale) else math.inf
            yield f"{path}{what}: {a!r} != {b!r} (relative difference {rel:.2g})"
    elif a != b:
        yield f"{path}{what}: {a!r} != {b!r}"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "null" if value is None else type(value).__name__


def _close(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def _describe(record: Any) -> str:
    """`` (section table1, age_days ALL, sd)`` for a results record, else ``""``."""
    if not isinstance(record, dict) or "stat_name" not in record:
        return ""
    parts = [str(record[k]) for k in ("variable", "variable_level", "group_level")
             if record.get(k) is not None]
    head = f"section {record.get('section')}, {record.get('context')}"
    return f" ({head}{', ' + ' '.join(parts) if parts else ''}, {record['stat_name']})"


# --------------------------------------------------------------------------- PDF text


def pdftotext() -> str | None:
    return shutil.which("pdftotext")


def pdf_text(pdf: Path) -> str:
    """The text of ``pdf`` as poppler's ``pdftotext`` reads it (reading order, UTF-8)."""
    tool = pdftotext()
    if tool is None:
        raise FileNotFoundError("pdftotext (poppler-utils) is not installed")
    return subprocess.run([tool, "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                          check=True, timeout=60).stdout.decode("utf-8")


def environment_names(*documents: dict) -> list[str]:
    """The packages whose versions ``results.json`` records as environment (Python and the
    libraries, not cohortpress), from any of ``documents``."""
    names = set()
    for document in documents:
        names |= {name for name in document.get("report", {}).get("generated_with", {})
                  if ENVIRONMENT.match(f"$.report.generated_with.{name}")}
    return sorted(names, key=lambda n: (-len(n), n))


def normalise_text(text: str, packages: Iterable[str]) -> str:
    """``text`` with the versions of ``packages`` replaced by ``<version>``, hyphenation at
    line ends joined and every run of white space (page breaks too) one space."""
    text = re.sub(r"[\u2010\u00ad]\s*\n\s*", "", text)  # a word hyphenated across lines
    for name in packages:
        text = re.sub(rf"(?i)\b({re.escape(name)})\s+v?\d[\w+!-]*(?:\.[\w+!-]+)*",
                      r"\1 <version>", text)
    return re.sub(r"\s+", " ", text).strip()


def text_differences(expected: str, actual: str, context: int = 80) -> str:
    """``""`` when equal, else where the two texts first part, with some text around it."""
    if expected == actual:
        return ""
    at = next((i for i, (x, y) in enumerate(zip(expected, actual)) if x != y),
              min(len(expected), len(actual)))
    start = max(0, at - context)
    return (f"the texts part at character {at} of {len(expected)}:\n"
            f"  committed: …{expected[start:at + context]}…\n"
            f"  rebuilt:   …{actual[start:at + context]}…")
