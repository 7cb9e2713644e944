"""cohortpress: publication-style statistical reports for clinical cohort studies.

Plugin authors import everything they need from here::

    from cohortpress import hookimpl, Analysis, Options, Variable, Section, Table, Row, Cell

The value types are loaded lazily so that ``cohortpress --help`` stays fast.
"""

from __future__ import annotations

import pluggy

from cohortpress.common.version import __version__

#: The marker for hook implementations, in built-in and third-party plugins alike.
hookimpl = pluggy.HookimplMarker("cohortpress")

_LAZY = {
    "Analysis": "cohortpress.api.model",
    "Options": "cohortpress.api.model",
    "Variable": "cohortpress.api.model",
    "EndpointName": "cohortpress.api.model",
    "SectionContext": "cohortpress.api.model",
    "Section": "cohortpress.api.model",
    "Table": "cohortpress.api.model",
    "Row": "cohortpress.api.model",
    "Cell": "cohortpress.api.model",
    "Footnote": "cohortpress.api.model",
    "Figure": "cohortpress.api.model",
    "Paragraph": "cohortpress.api.model",
    "ErrorBlock": "cohortpress.api.model",
    "CustomBlock": "cohortpress.api.model",
    "Result": "cohortpress.api.model",
    "Cohort": "cohortpress.data.cohort",
    "RawCohort": "cohortpress.data.files",
    "UserError": "cohortpress.common.errors",
    "ConfigError": "cohortpress.common.errors",
    "DataError": "cohortpress.common.errors",
    "StatisticsError": "cohortpress.common.errors",
}

__all__ = ["__version__", "hookimpl", *_LAZY]


def __getattr__(name: str):
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'cohortpress' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
