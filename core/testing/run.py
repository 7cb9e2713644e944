"""Running one analysis from a test, through the build's own steps, without rendering."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from cohortpress.testing.demo import load_demo_cohort

if TYPE_CHECKING:  # pragma: no cover
    from cohortpress.api.options import Options
    from cohortpress.api.sections import Analysis, Section
    from cohortpress.data.cohort import Cohort


def run_analysis(analysis: "Analysis | str", options: "Mapping[str, Any] | Options | None" = None,
                 cohort: "Cohort | None" = None, *, section_id: str = "test",
                 title: str | None = None, plugin_files: Iterable[str | os.PathLike[str]] = (),
                 p_digits: int = 3, percent_digits: int = 0) -> "Section":
    """Validate ``options`` and run one analysis as a build would, without rendering.

    The options are validated with the analysis's :class:`~cohortpress.api.model.Options` model
    (unknown keys, wrong types), every option typed ``Variable`` or ``EndpointName`` is
    checked against the cohort, the analysis runs with a
    :class:`~cohortpress.api.model.SectionContext`, and its output is checked the way the build
    checks it (a :class:`~cohortpress.api.model.Section` of known block types, no ``nan`` in a
    cell, no NaN printed as a number). Unlike a build, an exception from the analysis is
    not turned into an error block: it propagates, with its traceback, to the test.

    Parameters
    ----------
    analysis : Analysis or str
        The analysis itself (``cohortpress_forest.ANALYSIS``), or its name: then it is looked
        up among the built-in plugins, the installed ones (entry points) and ``plugin_files``.
    options : mapping or Options, optional
        The section's keys other than ``id``, ``analysis`` and ``title``, as in the config.
    cohort : Cohort, optional
        The cohort to analyse; by default :func:`load_demo_cohort`.
    section_id, title : str
        The section's id and title as the analysis sees them in its context.
    plugin_files : iterable of path
        Plugin files to load when ``analysis`` is a name (as the config's ``plugins``).
    p_digits, percent_digits : int
        The report settings the context carries (``report.p_digits``, ``percent_digits``).

    Returns
    -------
    Section
        With ``id`` and ``title`` set and ``section`` filled in every results record.

    Raises
    ------
    LookupError
        No analysis has that name (the message lists the available ones and load errors).
    cohortpress.common.errors.ConfigError
        The options are invalid, or name a variable or endpoint the cohort does not have.
    AssertionError
        The analysis returned something the build would reject.
    """
    from pydantic import BaseModel, ValidationError

    from cohortpress.api.sections import Analysis, SectionContext
    from cohortpress.app.plan import collect_references
    from cohortpress.app.run import finished
    from cohortpress.common.errors import ConfigError
    from cohortpress.common.suggest import did_you_mean
    from cohortpress.config.schema import config_error

    analysis = _resolve_analysis(analysis, plugin_files)
    if not isinstance(analysis, Analysis):
        raise TypeError(f"expected an Analysis or its name, got {type(analysis).__name__}")
    if isinstance(options, analysis.options):
        validated = options
    else:
        raw = dict(options.model_dump() if isinstance(options, BaseModel) else options or {})
        try:
            validated = analysis.options.model_validate(raw)
        except ValidationError as exc:
            raise config_error(exc, Path("options"), raw, model=analysis.options) from None
    cohort = load_demo_cohort() if cohort is None else cohort
    for key, kind, name in collect_references(validated, ""):
        pool = cohort.variables if kind == "variable" else cohort.endpoints
        if name not in pool:
            raise ConfigError(f"unknown {kind} '{name}' (not in the cohort)"
                              f"{did_you_mean(name, pool)}", file="options", key=key.lstrip("."))
    shown_title = title if title is not None else analysis.name.replace("_", " ").capitalize()
    context = SectionContext(id=section_id, title=shown_title, p_digits=p_digits,
                             percent_digits=percent_digits, config_dir=str(Path.cwd()))
    # The build's own steps, in this process: an exception from the analysis reaches the test
    # with its traceback, and only what the build would reject becomes an AssertionError.
    returned = analysis.run(cohort, validated, context)
    return check_section(returned, analysis.name, lambda s: finished(s, context))


def _resolve_analysis(analysis: Any, plugin_files: Iterable[str | os.PathLike[str]]):
    if not isinstance(analysis, str):
        return analysis
    from cohortpress.app.plugins import make_plugins

    plugins = make_plugins([Path(p) for p in plugin_files])
    found = plugins.analysis(analysis)
    if found is None:
        errors = "; ".join(f"{e.name}: {e.message}" for e in plugins.load_errors)
        raise LookupError(f"no analysis named '{analysis}'; available: "
                          f"{', '.join(sorted(plugins.analyses)) or 'none'}"
                          + (f"; plugins that failed to load: {errors}" if errors else ""))
    return found


def check_section(section: Any, name: str, finish=None) -> "Section":
    """The build's own checks of an analysis's output (:func:`cohortpress.app.run.checked`, or
    ``finish``), failing with an AssertionError."""
    from cohortpress.app.run import checked

    try:
        return (finish or checked)(section)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"the analysis '{name}' returned something the build rejects: "
                             f"{exc}") from None
