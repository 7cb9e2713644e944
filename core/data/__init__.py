"""Layer 2: the cohort — reading files, typing columns, derived variables, conditions,
endpoints and karyotypes.

Imports only :mod:`cohortpress.config` and :mod:`cohortpress.common`.
"""
