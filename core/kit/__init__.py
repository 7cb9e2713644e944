"""Layer 5: building blocks that analyses share — the stable kit for plugin authors.

Everything listed in ``__all__`` keeps its name and signature within a major release::

    from cohortpress.kit import fmt_num, fmt_n_percent, group_cohort, crosstab_table

Number formatting as journals print it, splitting a cohort by a grouping variable,
cross-tables, regression tables, design matrices and survival figures. Loaded lazily, so
importing the kit costs nothing until a name is used (figures load matplotlib).
"""

from __future__ import annotations

from cohortpress.common.lazy import lazy_exports

_LAZY = {
    # numbers as journals print them
    "fmt_num": "cohortpress.common.formatting",
    "fmt_count": "cohortpress.common.formatting",
    "fmt_percent": "cohortpress.common.formatting",
    "fmt_n_percent": "cohortpress.common.formatting",
    "fmt_range": "cohortpress.common.formatting",
    "fmt_significant": "cohortpress.common.formatting",
    "format_p": "cohortpress.common.formatting",
    "round_half_up": "cohortpress.common.formatting",
    "in_sentence": "cohortpress.common.formatting",
    "humanise": "cohortpress.common.formatting",
    # the columns of most tables
    "Grouping": "cohortpress.data.grouping",
    "group_cohort": "cohortpress.data.grouping",
    # cross-tables
    "CrosstabSpec": "cohortpress.kit.crosstab",
    "CrosstabResult": "cohortpress.kit.crosstab",
    "crosstab_table": "cohortpress.kit.crosstab",
    "CrosstabLayout": "cohortpress.kit.crosstab",
    "crosstab_records": "cohortpress.kit.crosstab",
    "crosstab_from_records": "cohortpress.kit.crosstab",
    # tables built from results records alone
    "Records": "cohortpress.kit.records",
    # small-number disclosure control ([disclosure])
    "release_records": "cohortpress.kit.disclosure",
    "count_text": "cohortpress.kit.disclosure",
    # regression
    "Design": "cohortpress.kit.design",
    "Term": "cohortpress.kit.design",
    "build_design": "cohortpress.kit.design",
    "ModelColumn": "cohortpress.kit.regression",
    "RegressionTable": "cohortpress.kit.regression",
    "estimates_from": "cohortpress.kit.regression",
    # figures
    "Curve": "cohortpress.kit.figures",
    "step_figure": "cohortpress.kit.figures",
    "grouped_bars": "cohortpress.kit.figures",
    "dot_plot": "cohortpress.kit.figures",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_exports(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return __all__
