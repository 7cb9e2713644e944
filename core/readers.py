"""Deprecated: moved to :mod:`cohortpress.data.readers`; import from ``cohortpress.data.readers`` (removed in 0.3)."""

from cohortpress._compat import moved

__getattr__ = moved(__name__, "cohortpress.data.readers", "cohortpress (RawCohort)")
