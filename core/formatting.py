"""Deprecated: moved to :mod:`cohortpress.common.formatting`; import from ``cohortpress.kit`` (removed in 0.3)."""

from cohortpress._compat import moved

__getattr__ = moved(__name__, "cohortpress.common.formatting", "cohortpress.kit")
