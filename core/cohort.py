"""Deprecated: moved to :mod:`cohortpress.data.cohort`; import from ``cohortpress`` (removed in 0.3)."""

from cohortpress._compat import moved

__getattr__ = moved(__name__, "cohortpress.data.cohort", "cohortpress")
