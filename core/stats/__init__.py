"""Statistical estimators and tests, as pure functions on arrays.

Nothing here knows about configs, cohorts or rendering: each function takes arrays and
returns a frozen result. Every estimator is checked against R (base R, ``survival``,
``cmprsk``) in ``tests/`` with fixtures produced by the R scripts in ``tests/fixtures/r``.
"""
