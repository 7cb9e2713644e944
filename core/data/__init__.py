"""Layer 2: the cohort — reading files, typing columns, derived variables, conditions,
endpoints and karyotypes.

Imports only :mod:`cohortpress.config` and :mod:`cohortpress.common`. Within the layer a
module imports only those listed before it: ``files`` (reading cohort files), ``cohort``
(the value types), ``columns`` (typing raw columns), ``conditions`` (the condition
language), ``endpoints``, ``cytogenetics`` (KMT2A from laboratory text), ``derive``
(derived variables), ``load`` (from the raw table to a :class:`~cohortpress.data.cohort.Cohort`)
and ``grouping``.
"""
