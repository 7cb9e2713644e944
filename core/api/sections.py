"""What an analysis is and what it returns: :class:`Analysis`, the :class:`Section` it builds
and the :class:`SectionContext` the core gives it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Sequence

from cohortpress.api.blocks import Block
from cohortpress.api.options import Options
from cohortpress.api.results import Result
from cohortpress.common.disclosure import DisclosureRule

if TYPE_CHECKING:  # pragma: no cover
    from cohortpress.data.cohort import Cohort


@dataclass(frozen=True)
class Section:
    """What an analysis returns: the blocks of one report section and its data.

    Attributes
    ----------
    id, title : str
        From the config's ``[[section]]`` table.
    blocks : tuple of Block
        Tables, figures, paragraphs, in reading order.
    results : tuple of Result
        Every number the section shows, unrounded.
    methods : tuple of str
        Sentences for the statistical-methods paragraph, describing what actually ran.
    abbreviations : tuple of (str, str)
        Abbreviations used in the section, for the report's list.
    warnings : tuple of str
        Things the reader should know (few events per variable...), shown under the section.
    failed : bool
        True when the section is an error report.
    """

    id: str
    title: str
    blocks: tuple[Block, ...] = ()
    results: tuple[Result, ...] = ()
    methods: tuple[str, ...] = ()
    abbreviations: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    failed: bool = False

    def with_blocks(self, *blocks: Block) -> "Section":
        """A copy with ``blocks`` appended."""
        return replace(self, blocks=(*self.blocks, *blocks))


@dataclass(frozen=True)
class SectionContext:
    """What the core tells an analysis about the section it runs for.

    Attributes
    ----------
    id, title : str
        The section's id and title.
    p_digits : int
        Significant decimals for p-values (see :func:`cohortpress.common.formatting.format_p`).
    percent_digits : int
        Decimals for percentages.
    config_dir : str
        The folder of the config file (to resolve paths an analysis receives).
    style : str
        The report's ``[report] style`` (``"journal"`` or ``"compact"``): figures take its
        typeface (``style=`` of :mod:`cohortpress.kit.figures`).
    disclosure : DisclosureRule or None
        The report's ``[disclosure]`` rule: release the records with
        :func:`cohortpress.kit.disclosure.release_records` before building tables from them.
    """

    id: str
    title: str
    p_digits: int = 3
    percent_digits: int = 0
    config_dir: str = "."
    style: str = "journal"
    disclosure: DisclosureRule | None = None

    def format_p(self, p: float) -> str:
        """``p`` as the report prints it (``<0.001``, ``>0.99``, never ``0.000``)."""
        from cohortpress.common.formatting import format_p

        return format_p(p, digits=self.p_digits)

    def section(self, blocks=(), results=(), **kwargs) -> Section:
        """A :class:`Section` with this section's id and title."""
        return Section(id=self.id, title=self.title, blocks=tuple(blocks),
                       results=tuple(results), **kwargs)


@dataclass(frozen=True)
class Analysis:
    """An analysis a plugin provides.

    Attributes
    ----------
    name : str
        What a config names in ``analysis = "..."``.
    run : callable
        ``run(cohort, options, context) -> Section``. Exceptions are caught by the core and
        shown as an error block in the section.
    options : type of Options
        The pydantic model validating the section's keys.
    summary : str
        One line for ``cohortpress plugins``.
    check : callable, optional
        ``check(cohort, options) -> list of str``: problems in the data this analysis would
        meet (values it cannot read, by patient id). ``cohortpress validate`` prints them;
        the analysis itself still decides what to show.
    intervals : bool
        Whether the analysis reads a long-format cohort (``cohort.rows = "intervals"``:
        several (start, stop] rows per patient); the others, which count rows as patients,
        are refused on one.
    aggregates : callable, optional
        ``aggregates(options) -> str or None``: whether the analysis, with these options,
        computes from aggregates on the engine path (``cohort.statistics = "engine"``,
        :mod:`cohortpress.data.engine`): None when it can (``run`` then receives an
        :class:`~cohortpress.data.engine.cohort.EngineCohort`), else why it needs the
        patients' rows, naming the option ("splines need the rows"). Without it, the
        analysis always needs the rows.
    """

    name: str
    run: Callable[["Cohort", Options, SectionContext], Section]
    options: type[Options] = Options
    summary: str = ""
    check: Callable[["Cohort", Options], Sequence[str]] | None = None
    intervals: bool = False
    aggregates: Callable[[Options], str | None] | None = None
