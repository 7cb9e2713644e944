"""cohortpress: publication-style statistical reports for clinical cohort studies.

Plugin authors import everything they need from here::

    from cohortpress import hookimpl, Analysis, Options, Variable, Section, Table, Row, Cell

The value types are loaded lazily so that ``cohortpress --help`` stays fast.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

#: The marker for hook implementations, in built-in and third-party plugins alike.
hookimpl = pluggy.HookimplMarker("cohortpress")

_LAZY = {
    "Analysis": "cohortpress.model",
    "Options": "cohortpress.model",
    "Variable": "cohortpress.model",
    "EndpointName": "cohortpress.model",
    "SectionContext": "cohortpress.model",
    "Section": "cohortpress.model",
    "Table": "cohortpress.model",
    "Row": "cohortpress.model",
    "Cell": "cohortpress.model",
    "Footnote": "cohortpress.model",
    "Figure": "cohortpress.model",
    "Paragraph": "cohortpress.model",
    "ErrorBlock": "cohortpress.model",
    "CustomBlock": "cohortpress.model",
    "Result": "cohortpress.model",
    "Cohort": "cohortpress.cohort",
    "UserError": "cohortpress.errors",
    "ConfigError": "cohortpress.errors",
    "DataError": "cohortpress.errors",
    "StatisticsError": "cohortpress.errors",
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
