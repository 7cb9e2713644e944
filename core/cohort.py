"""Deprecated: split into :mod:`cohortpress.data.cohort` (the types),
:mod:`~cohortpress.data.columns`, :mod:`~cohortpress.data.conditions`,
:mod:`~cohortpress.data.endpoints`, :mod:`~cohortpress.data.derive` and
:mod:`~cohortpress.data.load`; import ``Cohort`` from ``cohortpress`` (removed in 0.3)."""

from cohortpress._compat import moved

__getattr__ = moved(__name__, ("cohortpress.data.cohort", "cohortpress.data.columns",
                               "cohortpress.data.conditions", "cohortpress.data.endpoints",
                               "cohortpress.data.derive", "cohortpress.data.load"),
                    "cohortpress")
