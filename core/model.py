"""Deprecated: split into :mod:`cohortpress.api.options`, :mod:`~cohortpress.api.blocks`,
:mod:`~cohortpress.api.results` and :mod:`~cohortpress.api.sections`; import from
``cohortpress`` (removed in 0.3)."""

from cohortpress._compat import moved

__getattr__ = moved(__name__, ("cohortpress.api.options", "cohortpress.api.blocks",
                               "cohortpress.api.results", "cohortpress.api.sections"),
                    "cohortpress")
