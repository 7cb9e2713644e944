"""The section time limit: by default it grows with the cohort, so that a large build that
is making progress never fails on it; when it is hit, the error says what to set."""

from __future__ import annotations

import pytest

from cohortpress.app.run import (DEFAULT_TIMEOUT_PER_MILLION_S, DEFAULT_TIMEOUT_S,
                                 section_time_limit, timeout_message)
from cohortpress.config.schema import Config


def _config(**report) -> Config:
    return Config.model_validate({"report": {"title": "t", **report},
                                  "cohort": {"path": "c.csv"}})


@pytest.mark.parametrize("rows, seconds", [(0, 300), (1000, 300.3), (1_000_000, 600),
                                           (10_000_000, 3300), (100_000_000, 30300)])
def test_default_limit_grows_linearly_with_the_rows(rows, seconds):
    assert section_time_limit(_config(), rows) == pytest.approx(seconds)
    assert DEFAULT_TIMEOUT_S == 300 and DEFAULT_TIMEOUT_PER_MILLION_S == 300


def test_a_limit_the_config_sets_is_used_as_it_is():
    assert section_time_limit(_config(section_timeout=45), 10_000_000) == 45


def test_the_message_names_the_key_and_a_value_to_set():
    config = _config()
    text = timeout_message("cox", 3300, config, 10_000_000)
    assert "did not finish within 3300 s" in text
    assert "default report.section_timeout for 10,000,000 patients" in text
    assert text.endswith("set report.section_timeout = 6600 under [report]")
    text = timeout_message("cox", 0.2, _config(section_timeout=0.2), 50)
    assert "within 0.2 s (report.section_timeout)" in text
    assert text.endswith("set report.section_timeout = 1 under [report]")
    assert timeout_message("km", 45, _config(section_timeout=45), 50).endswith("= 90 under [report]")
    assert timeout_message("km", 777, None, 50).endswith("= 1600 under [report]")


def test_build_uses_the_scaled_limit(cp, tmp_path, monkeypatch):
    """The build passes the limit for its cohort to the runner (here: a tiny default
    per million makes the demo cohort's limit measurably larger than the base)."""
    import cohortpress.app.build as build_module
    import cohortpress.app.run as run_module

    seen = []

    class Recording(run_module.SectionRunner):
        def __init__(self, sections, cohort, config, timeout):
            seen.append((cohort.n, timeout))
            super().__init__(sections, cohort, config, timeout)

    monkeypatch.setattr(build_module, "SectionRunner", Recording)
    project = cp.Project(tmp_path / "p")
    build_module.build(project.config, project.out, progress=build_module.Progress(quiet=True),
                       pdf_worker=False)
    n, timeout = seen[0]
    assert timeout == pytest.approx(300 + 300 * n / 1e6)
