"""Deprecated: moved to :mod:`cohortpress.api.hookspecs`; import from ``cohortpress.api.hookspecs`` (removed in 0.3)."""

from cohortpress._compat import moved

__getattr__ = moved(__name__, "cohortpress.api.hookspecs", "cohortpress.api.hookspecs")
