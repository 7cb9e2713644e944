"""Deprecated: moved to :mod:`cohortpress.data.grouping`; import from ``cohortpress.kit`` (removed in 0.3)."""

from cohortpress._compat import moved

__getattr__ = moved(__name__, "cohortpress.data.grouping", "cohortpress.kit")
