"""Statistical estimators and tests, as pure functions on arrays.

Nothing here knows about configs, cohorts or rendering: each function takes arrays and
returns a frozen result. Every estimator is checked against R (base R, ``survival``,
``cmprsk``) in ``tests/`` with fixtures produced by the R scripts in ``tests/fixtures/r``,
and the Cox, Kaplan–Meier and logistic fits also against lifelines and statsmodels.

Modules: ``summaries`` and ``comparisons`` (Table 1; Fisher's test in ``exact`` and
``exact_rxc``; ``differences`` for its difference column; ``weighted`` and ``survey`` for a
weighted Table 1, against R ``survey``), ``weighted_km`` (the weighted curve with robust
standard errors), ``kaplan_meier``, ``logrank`` and ``competing`` (survival; shared input
checks in ``event_times``), the packages ``coxph`` and ``logit`` (regression; shared
``linalg`` and ``wald``), and ``common`` and ``distributions`` underneath them all.
"""
