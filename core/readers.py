"""Deprecated: moved to :mod:`cohortpress.data.files`; import from ``cohortpress.data.files`` (removed in 0.3)."""

from cohortpress._compat import moved

__getattr__ = moved(__name__, "cohortpress.data.files", "cohortpress (RawCohort)")
