"""Every integer record an analysis writes is either a count the disclosure rule releases
(``COUNT_STAT_NAMES``) or named here as not a count of patients.

The rule recognises counts by their ``stat_name``; a new count record whose name the set
does not know would leave a report unreleased. This test runs every built-in analysis with
its count-bearing options and fails on an integer record of an unknown name.
"""

from __future__ import annotations

import pytest

from cohortpress.common.disclosure import COUNT_STAT_NAMES
from cohortpress.testing import load_demo_cohort, run_analysis

#: Integer records that count something other than patients (degrees of freedom, model
#: sizes, iterations); none can reveal a small group.
NOT_PATIENT_COUNTS = frozenset({"df", "df.num", "df.den", "iterations", "n.terms",
                                "n.levels", "n.knots", "digits", "groups", "strata",
                                "horizon.groups"})

ANALYSES = [
    ("overview", {}),
    ("demographics", {"variables": ["age", "sex", "stage", "ldh", "start_date"],
                      "by": "arm", "smd": True, "overall": True}),
    ("crosstab", {"row": "stage", "column": "arm"}),
    ("survival", {"endpoints": ["os"], "by": "arm", "landmarks": [1, 2],
                  "risk_table_rows": ["at_risk", "events", "censored"], "rmst": True}),
    ("cox", {"endpoint": "os", "covariates": ["age", "sex", "stage"]}),
    ("logistic", {"outcome": "sex", "covariates": ["age", "arm"]}),
    ("distribution", {"variable": "stage", "by": "arm"}),
]


@pytest.fixture(scope="module")
def cohort():
    return load_demo_cohort()


@pytest.mark.parametrize("analysis, options", ANALYSES, ids=[a for a, _ in ANALYSES])
def test_integer_records_are_known_counts(cohort, analysis, options):
    try:
        section = run_analysis(analysis, options, cohort=cohort)
    except TypeError:
        section = run_analysis(analysis, options)
    unknown = sorted({r.stat_name for r in section.results
                      if isinstance(r.stat, int) and not isinstance(r.stat, bool)
                      and r.stat_name not in COUNT_STAT_NAMES
                      and r.stat_name not in NOT_PATIENT_COUNTS})
    assert not unknown, (f"{analysis} writes integer records {unknown}: add each to "
                         f"common.disclosure.COUNT_STAT_NAMES if it counts patients, else "
                         f"to NOT_PATIENT_COUNTS here")
