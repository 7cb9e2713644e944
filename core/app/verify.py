"""``cohortpress verify``: rebuild the results and compare them with published values.

The config names a file of published values (``published = "published.toml"``). Each
``[[value]]`` says what the paper printed and where the regenerated number is::

    [[value]]
    id = "table1.sex.ALL.M.n"
    source = "Table 1"
    printed = "8 (32%)"
    value = 8
    tolerance = 0
    match = { section = "table1", context = "categorical", variable = "sex",
              variable_level = "M", group_level = "ALL", stat_name = "n" }

``match`` selects exactly one record of ``results.json`` (keys left out are not
constrained; ``null = ["group_level"]`` requires a key to be null, as for totals); ``scale`` multiplies the record's value first (100 for a percentage of a
proportion). ``bound = "upper"`` or ``"lower"`` checks an inequality the paper printed
("P < 0.001": the regenerated value must be at most 0.001; "not significant": at least
0.05). ``reproduced = false`` marks a figure the reconstruction deliberately does not give
(it is listed, not checked). A value without ``match`` is a figure the report does not
regenerate (listed as unchecked). Where the paper is internally inconsistent, ``finding`` says how, and
``expected`` gives the correct value: the regenerated number is compared with ``expected``,
and the line is reported as a finding about the paper, not as a failure.
"""

from __future__ import annotations

import math
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cohortpress.common.errors import ConfigError
from cohortpress.config.wording import toml_error_text

MATCH_KEYS = ("section", "context", "variable", "variable_level", "group", "group_level",
              "stat_name")


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    section: str | None = None
    context: str | None = None
    variable: str | None = None
    variable_level: Any = None
    group: str | None = None
    group_level: Any = None
    stat_name: str
    null: list[Literal["variable", "variable_level", "group", "group_level"]] = []


class PublishedValue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    source: str = ""
    quantity: str = ""
    printed: str = ""
    value: float
    tolerance: float = Field(0.0, ge=0)
    scale: float = 1.0
    finding: str | None = None
    expected: float | None = None
    bound: Literal["upper", "lower"] | None = None
    reproduced: bool = True
    match: Match | None = None
    note: str | None = None


class PublishedFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    paper: str = ""
    reconstruction: str = ""
    value: list[PublishedValue] = []


@dataclass(frozen=True)
class Comparison:
    value: PublishedValue
    regenerated: float | None
    status: str  # "match", "MISMATCH", "finding", "unchecked"
    detail: str = ""


def load_published(path: Path) -> PublishedFile:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("published values file not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(toml_error_text(exc), file=str(path)) from None
    try:
        return PublishedFile.model_validate(raw)
    except ValidationError as exc:
        from cohortpress.config.schema import config_error

        raise config_error(exc, path, raw, model=PublishedFile) from None


def find_record(records: list[dict], match: Match) -> dict | None:
    """The one record that ``match`` selects; ConfigError when it selects several."""
    wanted = {k: getattr(match, k) for k in MATCH_KEYS
              if k in match.model_fields_set}
    wanted.update({k: None for k in match.null})
    found = [r for r in records if all(_same(r.get(k), v) for k, v in wanted.items())]
    if len(found) > 1:
        raise ConfigError(f"the match {wanted} selects {len(found)} results; add keys to "
                          f"make it select one")
    return found[0] if found else None


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, (int, float)) and isinstance(wanted, (int, float)) \
            and not isinstance(actual, bool):
        return math.isclose(float(actual), float(wanted), rel_tol=1e-9, abs_tol=1e-12)
    return actual == wanted


def compare(published: PublishedFile, records: list[dict]) -> list[Comparison]:
    out = []
    for value in published.value:
        if value.match is None:
            out.append(Comparison(value, None, "unchecked", "no match given"))
            continue
        record = find_record(records, value.match)
        if record is None or not isinstance(record.get("stat"), (int, float)):
            out.append(Comparison(value, None, "MISMATCH", "no such result in results.json"))
            continue
        regenerated = float(record["stat"]) * value.scale
        if not value.reproduced:
            out.append(Comparison(value, regenerated, "unchecked",
                                  value.note or "not reproduced by the reconstruction"))
            continue
        target = value.expected if value.expected is not None else value.value
        slack = value.tolerance + 1e-9 * max(1.0, abs(target))
        if value.bound == "upper":
            ok = regenerated <= target + slack
        elif value.bound == "lower":
            ok = regenerated >= target - slack
        else:
            ok = abs(regenerated - target) <= slack
        if value.expected is not None:
            # The paper printed `value`, the correct figure is `expected`.
            status = "finding" if ok else "MISMATCH"
            detail = value.finding or f"the paper prints {value.printed or value.value}"
        else:
            status = "match" if ok else "MISMATCH"
            detail = "" if ok else f"differs by {regenerated - target:+.6g}"
        out.append(Comparison(value, regenerated, status, detail))
    return out


def print_report(comparisons: list[Comparison], stream=None) -> None:
    stream = stream or sys.stdout
    rows = [("id", "source", "published", "regenerated", "status")]
    for c in comparisons:
        regenerated = "\u2013" if c.regenerated is None else f"{c.regenerated:.6g}"
        printed = c.value.printed or f"{c.value.value:g}"
        if len(printed) > 38:
            printed = printed[:37] + "\u2026"
        rows.append((c.value.id, c.value.source, printed, regenerated, c.status))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip(), file=stream)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=stream)
    counts = {s: sum(1 for c in comparisons if c.status == s)
              for s in ("match", "MISMATCH", "finding", "unchecked")}
    print(file=stream)
    print(f"{counts['match']} match, {counts['MISMATCH']} mismatch, {counts['finding']} "
          f"finding{'s' if counts['finding'] != 1 else ''} about the paper, "
          f"{counts['unchecked']} unchecked", file=stream)
    for c in comparisons:
        if c.status in ("finding", "MISMATCH") and c.detail:
            print(f"  {c.status.lower()}: {c.value.id}: {c.detail}", file=stream)


def run_verify(config_path: str | Path, output: str | Path | None = None, *,
               quiet: bool = False) -> int:
    """Rebuild, compare, print the table; 0 when everything matches, 1 on a mismatch."""
    import json

    from cohortpress.app.build import Progress, build
    from cohortpress.config.schema import load_config

    config = load_config(config_path)
    if config.published is None:
        raise ConfigError("verify needs 'published = \"FILE\"' in the config, naming the "
                          "published values", file=str(config.source), key="published")
    published = load_published(config.published)
    with tempfile.TemporaryDirectory(prefix="cohortpress-verify-") as scratch:
        out_dir = Path(output) if output else Path(scratch) / "report"
        outcome = build(config_path, out_dir, progress=Progress(quiet=quiet))
        records = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))["results"]
    comparisons = compare(published, records)
    print_report(comparisons)
    failed = any(c.status == "MISMATCH" for c in comparisons) or outcome.exit_code != 0
    return 1 if failed else 0
