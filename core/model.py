"""Deprecated: moved to :mod:`cohortpress.api.model`; import from ``cohortpress`` (removed in 0.3)."""

from cohortpress._compat import moved

__getattr__ = moved(__name__, "cohortpress.api.model", "cohortpress")
