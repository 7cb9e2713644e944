"""Delayed entry (left truncation) on an endpoint: the ``entry`` key of time-column and date
endpoints, converted like the exit time, and the rows R's ``Surv(entry, exit)`` would drop
refused with one line naming the column, the count and the first rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohortpress.common.errors import DataError

DAYS_PER_MONTH = 365.25 / 12

COLUMNS_TOML = ('[report]\ntitle = "t"\n[cohort]\npath = "cohort.csv"\nid = "id"\n'
                '[endpoints.os]\ntime = "t"\ntime_unit = "days"\nunit = "months"\n'
                'event = "e"\nentry = "start"\n')
COLUMNS_CSV = "id,t,e,start\nA,100,1,10\nB,200,0,0\nC,300,1,150\n"

DATES_TOML = ('[report]\ntitle = "t"\n[cohort]\npath = "cohort.csv"\nid = "id"\n'
              '[variables.born]\nkind = "date"\n[variables.seen]\nkind = "date"\n'
              '[variables.died]\nkind = "date"\n[variables.last]\nkind = "date"\n'
              '[endpoints.os]\nstart = "born"\nevents = ["died"]\nlast_contact = "last"\n'
              'entry = "seen"\n')
DATES_CSV = ("id,born,seen,died,last\n"
             "A,1950-01-01,2010-01-01,2012-06-30,\n"
             "B,1960-07-01,2011-03-15,,2015-01-01\n")


def cohort(cp, tmp_path, toml: str, csv: str):
    return cp.Project(tmp_path / "p", toml=toml, csv=csv).cohort()


def test_entry_column_is_converted_to_the_shown_unit_like_the_exit(cp, tmp_path):
    os_ = cohort(cp, tmp_path, COLUMNS_TOML, COLUMNS_CSV).endpoint("os")
    np.testing.assert_allclose(os_.entry, np.array([10, 0, 150]) / DAYS_PER_MONTH)
    np.testing.assert_allclose(os_.time, np.array([100, 200, 300]) / DAYS_PER_MONTH)
    assert os_.entry_column == "start"


def test_no_entry_key_means_no_delayed_entry(cp, tmp_path):
    toml = COLUMNS_TOML.replace('entry = "start"\n', "")
    os_ = cohort(cp, tmp_path, toml, COLUMNS_CSV).endpoint("os")
    assert os_.entry is None and os_.entry_column == ""


def test_entry_date_from_birth_gives_age_as_the_time_scale(cp, tmp_path):
    os_ = cohort(cp, tmp_path, DATES_TOML, DATES_CSV).endpoint("os")
    born = pd.to_datetime(["1950-01-01", "1960-07-01"])
    seen = pd.to_datetime(["2010-01-01", "2011-03-15"])
    out = pd.to_datetime(["2012-06-30", "2015-01-01"])
    np.testing.assert_allclose(os_.entry, (seen - born).days.to_numpy() / 365.25)
    np.testing.assert_allclose(os_.time, (out - born).days.to_numpy() / 365.25)
    assert os_.unit == "years" and os_.event.tolist() == [1, 0]


@pytest.mark.parametrize("csv, words", [
    ("id,t,e,start\nA,100,1,100\nB,200,0,0\nC,300,1,350\n",
     ["column 'start'", "entry is not before the exit", "2 rows", "rows 1 (patient A), 3 "
      "(patient C)"]),
    ("id,t,e,start\nA,100,1,\nB,200,0,\nC,300,1,1\n",
     ["column 'start'", "entry time is missing or not a finite number", "2 rows"]),
    ("id,t,e,start\nA,100,1,1\nB,200,0,x\nC,300,1,1\n",
     ["column 'start'", "row 2 (patient B)", "'x' is not a number"]),
    ("id,t,e,start\nA,100,1,-1\nB,200,0,0\nC,300,1,1\n",
     ["column 'start'", "entry time is negative", "1 row ", "row 1 (patient A)"]),
])
def test_bad_entry_times_are_one_line_naming_column_count_and_rows(cp, tmp_path, csv, words):
    with pytest.raises(DataError) as caught:
        cohort(cp, tmp_path, COLUMNS_TOML, csv)
    line = caught.value.one_line()
    assert "\n" not in line
    for word in words:
        assert word in line


def test_many_bad_rows_show_the_first_five(cp, tmp_path):
    rows = "".join(f"P{i},10,1,20\n" for i in range(8))
    with pytest.raises(DataError) as caught:
        cohort(cp, tmp_path, COLUMNS_TOML, "id,t,e,start\n" + rows)
    line = caught.value.one_line()
    assert "8 rows" in line and "5 (patient P4), ..." in line and "P5" not in line


@pytest.mark.parametrize("csv, words", [
    (DATES_CSV.replace("2010-01-01,2012", ",2012"), ["column 'seen'", "entry date is missing"]),
    (DATES_CSV.replace("2010-01-01,2012", "1949-01-01,2012"),
     ["column 'seen'", "entry date is before the start date (born)"]),
    (DATES_CSV.replace("2011-03-15", "2015-01-01"),
     ["column 'seen'", "entry is not before the exit", "row 2 (patient B)"]),
])
def test_bad_entry_dates_are_one_line(cp, tmp_path, csv, words):
    with pytest.raises(DataError) as caught:
        cohort(cp, tmp_path, DATES_TOML, csv)
    for word in words:
        assert word in caught.value.one_line()


def test_entry_of_a_date_endpoint_is_read_as_a_date_without_a_kind(cp, tmp_path):
    toml = DATES_TOML.replace('[variables.seen]\nkind = "date"\n', "")
    os_ = cohort(cp, tmp_path, toml, DATES_CSV).endpoint("os")
    days = (pd.Timestamp("2010-01-01") - pd.Timestamp("1950-01-01")).days
    assert os_.entry[0] == pytest.approx(days / 365.25, rel=1e-12)


def test_unknown_entry_column_suggests_a_name(cp, tmp_path):
    toml = COLUMNS_TOML.replace('entry = "start"', 'entry = "strat"')
    with pytest.raises(DataError) as caught:
        cohort(cp, tmp_path, toml, COLUMNS_CSV)
    assert "start" in caught.value.one_line()


def test_the_guides_examples_are_valid_config():
    """Every endpoint and survival section in docs/delayed_entry.md validates."""
    import re
    import tomllib
    from pathlib import Path

    from pydantic import TypeAdapter

    from cohortpress.config.schema import EndpointSettings
    from cohortpress.plugins.survival import SurvivalOptions

    guide = (Path(__file__).resolve().parents[1] / "docs" / "delayed_entry.md").read_text()
    blocks = [tomllib.loads(b) for b in re.findall(r"```toml\n(.*?)```", guide, re.DOTALL)]
    endpoints = [spec for b in blocks for spec in b.get("endpoints", {}).values()]
    sections = [s for b in blocks for s in b.get("section", [])]
    assert len(endpoints) == 2 and len(sections) == 1
    for spec in endpoints:
        assert TypeAdapter(EndpointSettings).validate_python(spec).entry
    for section in sections:
        SurvivalOptions(**{k: v for k, v in section.items()
                           if k not in ("id", "analysis", "title")})


def test_a_subset_cuts_the_entry_times_with_the_rest(cp, tmp_path):
    cohort = cp.Project(tmp_path / "p", toml=COLUMNS_TOML, csv=COLUMNS_CSV).cohort()
    part = cohort.subset(np.array([True, False, True]), "two patients")
    os_ = part.endpoint("os")
    np.testing.assert_allclose(os_.entry, np.array([10, 150]) / DAYS_PER_MONTH)
    np.testing.assert_allclose(os_.time, np.array([100, 300]) / DAYS_PER_MONTH)
    assert cohort.endpoint("os").entry.size == 3
