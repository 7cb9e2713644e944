"""cohortpress: publication-style statistical reports for clinical cohort studies.

The public API for plugin authors is this module (the hook marker, the value types, the
errors, ``Cohort`` and ``RawCohort``), :mod:`cohortpress.kit` (shared building blocks) and
:mod:`cohortpress.testing`; every other module is internal (docs/plugins.md)::

    from cohortpress import hookimpl, Analysis, Options, Variable, Section, Table, Row, Cell

The value types are loaded lazily so that ``cohortpress --help`` stays fast.
"""

from __future__ import annotations

import pluggy

from cohortpress.common.lazy import lazy_exports
from cohortpress.common.version import __version__

#: The marker for hook implementations, in built-in and third-party plugins alike.
hookimpl = pluggy.HookimplMarker("cohortpress")

_LAZY = {
    "Analysis": "cohortpress.api.sections",
    "Options": "cohortpress.api.options",
    "Variable": "cohortpress.api.options",
    "EndpointName": "cohortpress.api.options",
    "SectionContext": "cohortpress.api.sections",
    "Section": "cohortpress.api.sections",
    "Table": "cohortpress.api.blocks",
    "Row": "cohortpress.api.blocks",
    "Cell": "cohortpress.api.blocks",
    "Footnote": "cohortpress.api.blocks",
    "Figure": "cohortpress.api.blocks",
    "Paragraph": "cohortpress.api.blocks",
    "ErrorBlock": "cohortpress.api.blocks",
    "CustomBlock": "cohortpress.api.blocks",
    "Result": "cohortpress.api.results",
    "Cohort": "cohortpress.data.cohort",
    "RawCohort": "cohortpress.data.files",
    "UserError": "cohortpress.common.errors",
    "ConfigError": "cohortpress.common.errors",
    "DataError": "cohortpress.common.errors",
    "StatisticsError": "cohortpress.common.errors",
}

__all__ = ["__version__", "hookimpl", *_LAZY]


__getattr__ = lazy_exports(__name__, _LAZY, globals())
