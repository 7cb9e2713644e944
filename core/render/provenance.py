"""What the report records about how it was made: versions, plugins, the cohort file.

results.json, the methods paragraph and the provenance appendix all cite these, so they are
computed here once. No path of the machine that built the report is recorded: files are
named relative to the config's folder.
"""

from __future__ import annotations

import functools
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from cohortpress.api.sections import Section
from cohortpress.common.version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from cohortpress.data.cohort import Cohort
    from cohortpress.render.job import RenderPlan

PACKAGES = ("numpy", "scipy", "pandas", "statsmodels", "matplotlib", "jinja2",
            "weasyprint", "pluggy", "pydantic")


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    return tuple(_package_versions().items())


def package_versions() -> dict[str, str]:
    """Versions of cohortpress, Python and the libraries the statistics and PDF rely on
    (looked up once per process: results.json, the methods and the provenance all cite them)."""
    return dict(_versions())


def _package_versions() -> dict[str, str]:
    """Versions of cohortpress, Python and the libraries the statistics and PDF rely on."""
    versions = {"cohortpress": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[name] = "not installed"
    return versions


def results_document(plan: "RenderPlan", cohort: "Cohort", sections: Sequence[Section]) -> dict:
    """The results file (contract): report metadata and every record, unrounded."""
    from cohortpress.kit.disclosure import released_value

    config = plan.config
    rule = config.disclosure.rule() if getattr(config, "disclosure", None) else None
    generated = package_versions()
    generated.update({f"plugin:{plugin_name(p, config.folder)}": p.version
                      for p in plan.plugins.infos if p.source != "builtin"})
    report = {
        "title": config.report.title,
        "generated_with": generated,
        "cohort": {
            "source": relative_path(config.cohort.path, config.folder),
            "sha256": cohort.sha256,
            "n_rows": released_value(cohort.n, rule),
        },
    }
    if rule is not None:
        report["disclosure"] = {"min_count": rule.min_count, "round_to": rule.round_to,
                                "preset": rule.preset, "rule": rule.sentence(),
                                "log": "disclosure.csv"}
    return {"report": report,
            "results": [r.as_dict() for s in sections for r in s.results]}


def plugin_name(info, folder: Path) -> str:
    """A plugin file by its path relative to the config: no machine path in the results."""
    return relative_path(Path(info.name), folder) if info.source == "file" else info.name


def relative_path(path: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:  # pragma: no cover - another drive
        return path.name


