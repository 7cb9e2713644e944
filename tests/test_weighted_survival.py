"""Weighted Kaplan–Meier curves in the survival analysis (``weights``), against R.

R: tests/fixtures/r/weighted_table1.R, survfit(Surv(time, death) ~ trt, weights = iptw,
robust = TRUE) on IPT-weighted pbc: the landmark estimates, robust standard errors and
limits and the medians the section records; the patients' counts stay counts; the lines a
weighted section refuses. Tolerance 1e-6 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cohortpress.common.errors import DataError
from cohortpress.plugins import survival
from cohortpress.testing import load_demo_cohort, run_analysis

HERE = Path(__file__).parent
CONFIG = HERE / "data" / "r_cohorts" / "pbc_iptw.toml"
FIXTURE = json.loads((HERE / "fixtures" / "weighted_table1.json").read_text())
LANDMARKS = [400.0, 1000.0, 2000.0, 3000.0]


@pytest.fixture(scope="module")
def cohort():
    return load_demo_cohort(CONFIG)


@pytest.fixture(scope="module")
def section(cohort):
    return run_analysis("survival", {"endpoints": ["death"], "weights": "iptw",
                                     "test": "none", "landmarks": LANDMARKS,
                                     "figure": False}, cohort)


def stat(section, **fields):
    found = [r.stat for r in section.results
             if all(getattr(r, k) == v for k, v in fields.items())]
    assert len(found) == 1, fields
    return found[0]


@pytest.mark.parametrize("index", [0, 1])
def test_landmarks_are_survfit_weighted_robust(section, index):
    curve = FIXTURE["km"][index]
    times = np.array(curve["time"])
    for landmark in LANDMARKS:
        row = np.flatnonzero(times <= landmark)[-1]
        where = dict(context="survfit", variable="death", variable_level=landmark,
                     group_level=curve["group"])
        for ours, theirs in (("surv", "surv"), ("std.err", "std_err"),
                             ("conf.low", "lower"), ("conf.high", "upper")):
            np.testing.assert_allclose(stat(section, stat_name=ours, **where),
                                       curve[theirs][row], rtol=1e-6)
        patients = stat(section, stat_name="n.risk", **where)
        assert isinstance(patients, (int, np.integer)) or float(patients).is_integer()


@pytest.mark.parametrize("index", [0, 1])
def test_median_is_the_weighted_curves(section, index):
    curve = FIXTURE["km"][index]
    surv, times = np.array(curve["surv"]), np.array(curve["time"])
    expected = times[np.flatnonzero(surv <= 0.5)[0]]
    median = stat(section, context="survfit", stat_name="median", variable="death",
                  group_level=curve["group"])
    assert median == expected


def test_weighted_section_says_so(section):
    assert stat(section, context="survfit", stat_name="weights", variable="death") == "iptw"
    assert any("weighted by IPT weight" in m and "robust" in m for m in section.methods)
    notes = " ".join(n.text for b in section.blocks for n in getattr(b, "footnotes", ()))
    assert "weighted by IPT weight" in notes and "Greenwood" not in notes


@pytest.mark.parametrize("options, words", [
    ({"endpoints": ["death"], "weights": "iptw"}, 'the logrank test is not weighted: set '
                                                  'test = "none"'),
    ({"endpoints": ["death"], "weights": "iptw", "test": "none", "rmst": True},
     "the restricted mean survival time is not weighted"),
])
def test_what_a_weighted_section_refuses(cohort, options, words):
    parsed = survival.SurvivalOptions.model_validate(options)
    with pytest.raises(DataError, match=words):
        parsed.check_data(cohort)
    with pytest.raises(DataError, match=words):
        run_analysis("survival", options, cohort)
