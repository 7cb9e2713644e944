"""Deprecated: moved to :mod:`cohortpress.kit.figures`; import from ``cohortpress.kit`` (removed in 0.3)."""

from cohortpress._compat import moved

__getattr__ = moved(__name__, "cohortpress.kit.figures", "cohortpress.kit")
