"""Running one section: its analysis on the cohort, checked, within the section time limit.

:func:`analyse` is the run itself (subset, analysis, then :func:`finished`: the checks of its
output, the section's id and title); an exception propagates. :mod:`cohortpress.testing`
runs an analysis in the test's process and finishes it with the same :func:`finished`.
:class:`SectionRunner` is what the build uses: the same run in a child process that is
killed when a section takes longer than ``report.section_timeout`` (see
:mod:`cohortpress.common.timelimit`), with any failure, even a ``SystemExit``, turned into a
section holding an error block; :func:`run_section` runs one section so.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Sequence

from cohortpress.api.blocks import BLOCK_TYPES, ErrorBlock, Table
from cohortpress.api.results import Result
from cohortpress.api.sections import Section, SectionContext
from cohortpress.app.plan import PlannedSection
from cohortpress.common.errors import StatisticsError, UserError
from cohortpress.common.timelimit import ChildDied, TimeLimitedWorker, TimeLimitExceeded
from cohortpress.config.schema import Config
from cohortpress.data.conditions import section_subset


class AnalysisExited(Exception):
    """An analysis raised ``SystemExit`` or ``KeyboardInterrupt``: a failure of its section."""


def section_title(planned: PlannedSection) -> str:
    """The section's title: the config's, or the analysis's name made readable."""
    return planned.head.title or planned.analysis.name.replace("_", " ").capitalize()


def section_context(planned: PlannedSection, config: Config) -> SectionContext:
    """What the analysis is told about its section and the report's settings."""
    return SectionContext(id=planned.head.id, title=section_title(planned),
                          p_digits=config.report.p_digits,
                          percent_digits=config.report.percent_digits,
                          config_dir=str(config.folder), style=config.report.style,
                          disclosure=(config.disclosure.rule() if config.disclosure is not None
                                      else None))


def analyse(planned: PlannedSection, cohort, context: SectionContext) -> Section:
    """Run the section's analysis on its subset of ``cohort`` and check what it returned.

    Raises whatever the analysis raises, and TypeError or ValueError (from :func:`checked`)
    for output the report cannot hold.
    """
    if planned.head.subset:
        cohort = section_subset(cohort, planned.head.subset, f"section[{planned.index}]")
    return finished(planned.analysis.run(cohort, planned.options, context), context)


def finished(section: Any, context: SectionContext) -> Section:
    """What an analysis returned, checked (:func:`checked`), with the section's id and title,
    and, under a disclosure rule, every count released (a count the analysis did not release
    itself is released on its own, so that no full-data count reaches ``results.json``)."""
    from cohortpress.kit.disclosure import release_records, with_rule_footnote

    section = checked(section)
    results = tuple(replace(r, section=context.id)
                    for r in release_records(section.results, context.disclosure))
    blocks = with_rule_footnote(section.blocks, results, context.disclosure)
    return replace(section, id=context.id, title=context.title, results=results,
                   blocks=blocks)


class SectionRunner:
    """Runs a build's sections, one after another, as the build does.

    The analyses run in one forked worker (see :mod:`cohortpress.common.timelimit`), each
    within ``timeout`` seconds; a worker that runs over is killed and the next section gets
    a new one. Any failure, even a ``SystemExit``, becomes a section holding an error block.
    Use it as a context manager: the worker ends with it.
    """

    def __init__(self, sections: Sequence[PlannedSection], cohort, config: Config,
                 timeout: float):
        self.sections = list(sections)
        self._cohort = cohort
        self._config = config
        self._timeout = timeout
        self._worker = TimeLimitedWorker(self._contained)

    def run(self, index: int) -> Section:
        """The section ``sections[index]``, or a failed section saying why."""
        planned = self.sections[index]
        context = section_context(planned, self._config)
        name = planned.analysis.name
        try:
            return self._worker.call(index, self._timeout)
        except TimeLimitExceeded:
            message = f"the analysis '{name}' did not finish within {self._timeout:g} s " \
                      f"(report.section_timeout)"
        except AnalysisExited as exc:
            message = f"the analysis '{name}' tried to end the program: {exc}"
        except ChildDied as exc:
            message = f"the analysis '{name}' failed: {exc}"
        except (UserError, StatisticsError) as exc:
            message = f"{name}: {one_line(exc)}"
        except Exception as exc:
            message = f"the analysis '{name}' failed: {type(exc).__name__}: {one_line(exc)}"
        return failed_section(context.id, context.title, message)

    def _contained(self, index: int) -> Section:
        """In the worker: :func:`analyse`, with an attempt to end the program as an error."""
        planned = self.sections[index]
        try:
            return analyse(planned, self._cohort, section_context(planned, self._config))
        except (SystemExit, KeyboardInterrupt) as exc:
            detail = f" ({one_line(exc)})" if str(exc) else ""
            raise AnalysisExited(f"it raised {type(exc).__name__}{detail}") from None

    def close(self) -> None:
        self._worker.close()

    def __enter__(self) -> "SectionRunner":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def run_section(planned: PlannedSection, cohort, config: Config, timeout: float) -> Section:
    """Run one analysis as the build does; any failure becomes a section holding an error block."""
    with SectionRunner([planned], cohort, config, timeout) as runner:
        return runner.run(0)


def checked(section: Any) -> Section:
    """Reject malformed output from a plugin with a clear message (TypeError, ValueError)."""
    if not isinstance(section, Section):
        raise TypeError(f"returned {type(section).__name__}, not a Section")
    for block in section.blocks:
        if not isinstance(block, BLOCK_TYPES):
            raise TypeError(f"returned a block of type {type(block).__name__}")
        if isinstance(block, Table):
            _check_cells(block)
    for record in section.results:
        if not isinstance(record, Result):
            raise TypeError(f"returned a result of type {type(record).__name__}")
        if isinstance(record.stat, float) and math.isnan(record.stat) and \
                record.formatted not in (None, "", "\u2013", "NR", "not reached"):
            raise ValueError(f"result '{record.stat_name}' is NaN but printed as "
                             f"{record.formatted!r}")
    return section


def _check_cells(table: Table) -> None:
    for row in (*table.header, *table.body):
        for cell in row.cells:
            if not isinstance(cell.text, str) or cell.text.strip().lower() in ("nan", "inf"):
                raise ValueError(f"a table cell holds {cell.text!r}")


def failed_section(section_id: str, title: str, message: str) -> Section:
    """A section that holds only the error block saying why it failed."""
    return Section(id=section_id, title=title, blocks=(ErrorBlock(message),), failed=True)


def one_line(exc: BaseException) -> str:
    """An exception as one line: a UserError's own line, else its text or its class name."""
    text = exc.one_line() if isinstance(exc, UserError) else str(exc)
    return " ".join(text.split()) or type(exc).__name__

