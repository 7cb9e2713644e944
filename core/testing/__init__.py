"""Helpers for testing cohortpress plugins.

Everything a plugin's test suite needs, without data of its own:

* a small **synthetic** demo cohort shipped with the package (:func:`demo_cohort_path`,
  :func:`demo_config_path`, :func:`load_demo_cohort`): 120 made-up patients in two arms,
  with age, sex, a stage coded I–IV with ``9`` for "unknown", a continuous biomarker
  (``ldh``, with a few missing values) and an overall-survival endpoint ``os`` built from
  start, death and last-contact dates. The values were drawn from a seeded random generator
  (``tools/make_demo_cohort.py`` in the source tree); they describe no real patients;
* :func:`run_analysis`: validate options and run one analysis exactly as a build would,
  without rendering, and get its :class:`~cohortpress.api.model.Section`;
* :func:`build_report`: write a config into a temporary folder and run the real build,
  getting the exit code, the results records and the PDF's text back;
* :func:`read_results`: read a ``results.json`` and check it keeps the contract;
* :func:`assert_section_renders`: render a section's blocks through the real Jinja
  templates and check for template errors and unescaped text;
* :func:`r_values`: numbers from an R fixture written by ``jsonlite`` (``NA``, ``NaN`` and
  ``Inf`` arrive as strings), for checking a statistic against R.

A test of an analysis, end to end::

    from cohortpress.testing import build_report, run_analysis

    def test_summary(tmp_path):
        section = run_analysis("my_summary", {"variable": "age"})
        assert section.results

        built = build_report([{"id": "s", "analysis": "my_summary", "variable": "age"}],
                             tmp_path)
        assert built.exit_code == 0
        assert built.results(section="s", stat_name="mean")
"""

from __future__ import annotations

from cohortpress.testing.demo import demo_cohort_path, demo_config_path, load_demo_cohort
from cohortpress.testing.html import assert_section_renders
from cohortpress.testing.r import r_values
from cohortpress.testing.report import BuiltReport, build_report, dump_toml
from cohortpress.testing.results import RESULT_FIELDS, read_results
from cohortpress.testing.run import run_analysis

__all__ = [
    "demo_cohort_path",
    "demo_config_path",
    "load_demo_cohort",
    "run_analysis",
    "build_report",
    "BuiltReport",
    "read_results",
    "assert_section_renders",
    "dump_toml",
    "r_values",
    "RESULT_FIELDS",
]
