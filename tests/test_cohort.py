"""The typed cohort: metadata, missing codes, derived variables, endpoints and filters, each
through the real plan and reader hook (no rendering)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cohortpress.common.errors import DataError, UserError

DAYS_PER_MONTH = 365.25 / 12


@pytest.fixture
def demo(cp, tmp_path):
    return cp.Project(tmp_path / "demo").cohort()


def make(cp, tmp_path, extra: str = "", csv: str | None = None, base: str | None = None):
    toml = (base if base is not None else cp.DEMO_TOML) + extra
    return cp.Project(tmp_path / "p", toml=toml, csv=csv if csv is not None else cp.DEMO_CSV)


# --------------------------------------------------------------------------- typing


def test_levels_keep_the_configured_order_and_show_display_labels(demo):
    arm = demo.variable("arm")
    assert arm.kind == "categorical" and arm.label == "Treatment arm"
    assert arm.levels == ("Arm B", "Arm A")  # config order, not alphabetical
    values = demo.values("arm")
    assert isinstance(values.dtype, pd.CategoricalDtype) and values.cat.ordered
    assert list(values.cat.categories) == ["Arm B", "Arm A"]
    assert values.tolist()[:3] == ["Arm A", "Arm A", "Arm B"]


def test_missing_codes_become_missing_text_and_numeric(demo):
    sex = demo.values("sex")
    assert demo.variable("sex").levels == ("Female", "Male")  # "U" is not a level
    assert sex.isna().tolist() == [False, False, False, False, True, False, False, False]
    age = demo.values("age")
    assert demo.variable("age").kind == "continuous" and demo.variable("age").unit == "years"
    assert age.dtype == float
    assert math.isnan(age.iloc[4])  # 99 is a missing code
    assert age.iloc[0] == 34.0


def test_missing_code_written_as_unknown_word_in_a_categorical(cp, tmp_path):
    csv = cp.DEMO_CSV.replace("P5,A,U,", "P5,A,Unknown,").replace("P6,B,F,", "P6,B,not known,")
    cohort = make(cp, tmp_path, csv=csv, base=cp.DEMO_TOML.replace(
        'missing = ["U"]', 'missing = ["Unknown", "not known"]')).cohort()
    assert cohort.values("sex").isna().sum() == 2
    assert cohort.variable("sex").levels == ("Female", "Male")


def test_inferred_kinds_without_metadata(cp, tmp_path):
    csv = "id,grade,score,flag,word\n1,01,1.5,0,x\n2,02,2.5,1,y\n3,10,3,1,x\n"
    toml = ('[report]\ntitle = "t"\n[cohort]\npath = "cohort.csv"\nid = "id"\n'
            '[[section]]\nid = "o"\nanalysis = "overview"\n'
            '[variables.grade]\nkind = "categorical"\n[variables.score]\n[variables.flag]\n'
            '[variables.word]\n')
    cohort = cp.Project(tmp_path / "p", toml=toml, csv=csv).cohort()
    assert cohort.variable("score").kind == "continuous"
    assert cohort.variable("flag").kind == "categorical"  # 0/1 codes
    assert cohort.variable("word").kind == "categorical"
    # Codes read as text keep their leading zeros, and sort naturally.
    assert cohort.variable("grade").levels == ("01", "02", "10")
    assert cohort.variable("id").kind == "text"


def test_labels_from_the_config_win_and_default_to_the_column_name(demo):
    assert demo.label("sex") == "Sex"
    assert demo.label("dx") == "dx"


def add_column(csv: str, name: str, values: list[str]) -> str:
    lines = csv.splitlines()
    assert len(lines) == len(values) + 1
    return "\n".join([f"{lines[0]},{name}"] + [f"{line},{v}" for line, v in
                                                 zip(lines[1:], values)]) + "\n"


def test_binary_variable_positive_level(cp, tmp_path):
    csv = add_column(cp.DEMO_CSV, "relapsed", ["yes", "no", "no", "no", "yes", "no", "yes",
                                               "no"])
    extra = '[variables.relapsed]\nkind = "binary"\nlevels = ["no", "yes"]\n'
    cohort = make(cp, tmp_path, extra=extra, csv=csv).cohort()
    info = cohort.variable("relapsed")
    assert info.kind == "binary" and info.levels == ("no", "yes") and info.positive == "yes"
    extra += 'positive = "no"\n'
    cohort = make(cp, tmp_path / "b", extra=extra, csv=csv).cohort()
    assert cohort.variable("relapsed").positive == "no"


def test_unknown_variable_and_endpoint_suggest_names(demo):
    with pytest.raises(DataError, match="did you mean 'sex'"):
        demo.variable("sexe")
    with pytest.raises(DataError, match="did you mean 'os'"):
        demo.endpoint("oss")


def test_cohort_remembers_its_source(demo):
    assert demo.n == 8 and demo.n_rows_read == 8
    assert len(demo.sha256) == 64 and demo.source.name == "cohort.csv"
    assert demo.id_column == "id" and demo.group == "arm"
    assert demo.row_names([0, 7]) == ["P1", "P8"]


# --------------------------------------------------------------------------- endpoints


def test_endpoint_from_time_and_event_columns_with_codes_and_time_units(demo):
    os_ = demo.endpoint("os")
    assert os_.label == "Overall survival" and os_.unit == "years"
    months = np.array([26, 59, 8, 3, 24, 60, 4, 60], dtype=float)
    np.testing.assert_allclose(os_.time, months * DAYS_PER_MONTH / 365.25)
    assert os_.event.tolist() == [1, 0, 1, 1, 0, 0, 1, 0]  # "dead" / "alive"
    assert os_.status.tolist() == os_.event.tolist() and not os_.has_competing


def test_endpoint_from_dates_composite_earliest_event_and_competing(demo):
    efs = demo.endpoint("efs")
    assert efs.unit == "months" and efs.has_competing
    dx = pd.to_datetime(["2010-01-01", "2010-02-01", "2011-01-01", "2011-05-01",
                         "2012-01-01", "2012-03-01", "2013-01-01", "2013-06-01"])
    end = pd.to_datetime(["2011-01-01",  # relapse before death: the earliest counts
                          "2015-01-01",  # censored at last contact
                          "2011-09-01",  # death
                          "2011-08-01",  # competing (treatment-related mortality)
                          "2013-06-01",  # relapse
                          "2017-03-01", "2013-04-01", "2018-06-01"])
    np.testing.assert_allclose(efs.time, (end - dx).days.to_numpy() / DAYS_PER_MONTH)
    assert efs.status.tolist() == [1, 0, 1, 2, 1, 0, 1, 0]
    assert efs.event.tolist() == [1, 0, 1, 0, 1, 0, 1, 0]  # competing counts as censored
    assert "earliest of relapse or death" in efs.definition


def test_competing_event_after_the_event_of_interest_does_not_count(cp, tmp_path):
    csv = cp.DEMO_CSV.replace("P1,A,M,34,2010-01-01,2011-01-01,2012-03-01,,",
                              "P1,A,M,34,2010-01-01,2011-01-01,2012-03-01,2011-06-01,")
    cohort = make(cp, tmp_path, csv=csv).cohort()
    assert cohort.endpoint("efs").status[0] == 1


def test_time_unit_days_to_months(cp, tmp_path):
    toml = cp.DEMO_TOML.replace('time_unit = "months"\nunit = "years"',
                                'time_unit = "days"\nunit = "months"')
    cohort = make(cp, tmp_path, base=toml).cohort()
    assert math.isclose(cohort.endpoint("os").time[0], 26.0 / DAYS_PER_MONTH)


def test_event_codes_default_to_one_and_zero(cp, tmp_path):
    csv = "id,t,e\nA,1,1\nB,2,0\nC,3,1\n"
    toml = ('[report]\ntitle = "t"\n[cohort]\npath = "cohort.csv"\nid = "id"\n'
            '[endpoints.os]\ntime = "t"\ntime_unit = "months"\nevent = "e"\n')
    cohort = cp.Project(tmp_path / "p", toml=toml, csv=csv).cohort()
    assert cohort.endpoint("os").event.tolist() == [1, 0, 1]
    # the display unit defaults to the data's: no conversion
    assert cohort.endpoint("os").unit == "months"
    assert cohort.endpoint("os").time.tolist() == [1.0, 2.0, 3.0]


# --------------------------------------------------------------------------- derived


DERIVED = """
[derived.agegroup]
label = "Age group"
type = "cut"
source = "age"
breaks = [0, 40, 60, 120]
labels = ["<40", "40-59", ">=60"]

[derived.sex2]
type = "recode"
source = "sex"
mapping = { Female = "F", Male = "M" }
levels = ["M", "F"]

[derived.armcode]
type = "recode"
source = "arm"
mapping = { "Arm A" = "experimental" }
other = "standard"

[derived.older]
type = "flag"
when = [{ variable = "age", ge = 50 }]

[derived.risk]
type = "case"
cases = [
  { when = [{ variable = "age", ge = 60 }], value = "high" },
  { when = [{ variable = "sex", eq = "Female" }, { variable = "age", lt = 60 }], value = "mid" },
]
default = "low"
levels = ["low", "mid", "high"]

[derived.followup]
type = "date_diff"
start = "dx"
end = "last"
unit_of_time = "years"

[derived.log2age]
type = "transform"
source = "age"
function = "log2"

[derived.age10]
type = "transform"
source = "age"
function = "scale"
per = 10

[derived.agegroup_old]
type = "flag"
when = [{ variable = "agegroup", eq = ">=60" }]
"""


@pytest.fixture
def derived(cp, tmp_path):
    return make(cp, tmp_path, extra=DERIVED).cohort()


def test_cut(derived):
    info = derived.variable("agegroup")
    assert info.kind == "categorical" and info.derived and info.label == "Age group"
    assert info.levels == ("<40", "40-59", ">=60")
    # ages 34 45 50 61 (99=missing) 28 71 40; right=False: 40 falls in [40, 60)
    assert derived.values("agegroup").astype(object).where(
        derived.values("agegroup").notna(), None).tolist() == [
        "<40", "40-59", "40-59", ">=60", None, "<40", ">=60", "40-59"]


def test_recode_with_levels_and_with_other(derived):
    assert derived.variable("sex2").levels == ("M", "F")
    assert derived.values("sex2").tolist()[:2] == ["M", "F"]
    assert derived.values("sex2").isna().tolist()[4]  # missing stays missing
    assert derived.values("armcode").tolist()[:3] == ["experimental", "experimental",
                                                      "standard"]


def test_flag_is_binary_and_missing_when_unknown(derived):
    info = derived.variable("older")
    assert info.kind == "binary" and info.levels == ("No", "Yes") and info.positive == "Yes"
    values = derived.values("older")
    assert values.iloc[0] == "No" and values.iloc[3] == "Yes" and pd.isna(values.iloc[4])


def test_case_first_match_wins_and_unknown_conditions_are_skipped(derived):
    values = derived.values("risk")
    # P1 M34 -> low, P2 F45 -> mid, P3 F50 -> mid, P4 M61 -> high; P5 (age and sex
    # missing) matches no case, as in SQL's CASE, and gets the default.
    assert values.tolist()[:5] == ["low", "mid", "mid", "high", "low"]
    assert derived.variable("risk").levels == ("low", "mid", "high")


def test_case_with_unknown_missing_leaves_undecidable_rows_missing(cp, tmp_path):
    extra = DERIVED.replace('default = "low"', 'default = "low"\nunknown = "missing"')
    values = make(cp, tmp_path, extra=extra).cohort().values("risk")
    assert values.tolist()[:4] == ["low", "mid", "mid", "high"]
    assert pd.isna(values.iloc[4])


def test_date_diff_and_transforms(derived):
    assert derived.variable("followup").kind == "continuous"
    assert math.isclose(derived.values("followup").iloc[0],
                        (pd.Timestamp("2012-03-01") - pd.Timestamp("2010-01-01")).days / 365.25)
    assert math.isclose(derived.values("log2age").iloc[0], math.log2(34))
    assert math.isclose(derived.values("age10").iloc[0], 3.4)


def test_derived_from_derived(derived):
    assert derived.values("agegroup_old").tolist()[3] == "Yes"


def test_derived_errors_name_the_key(cp, tmp_path):
    cut = ('[derived.g]\ntype = "cut"\nsource = "age"\nbreaks = [0, 50]\nlabels = ["young"]\n')
    with pytest.raises(UserError) as info:
        make(cp, tmp_path, extra=cut).cohort()
    assert info.value.key == "derived.g.breaks" and "outside the breaks" in info.value.message
    assert info.value.column == "age" and "P3" in str(info.value.row)


# --------------------------------------------------------------------------- filters


def test_filters_restrict_the_cohort_and_are_described(cp, tmp_path):
    toml = cp.DEMO_TOML.replace('group = "arm"', 'group = "arm"\nfilter = [\n'
                                '  { variable = "age", ge = 40 },\n'
                                '  { variable = "sex", in = ["Female"] },\n]')
    cohort = make(cp, tmp_path, base=toml).cohort()
    assert cohort.data["id"].tolist() == ["P2", "P3", "P8"]
    assert cohort.n_rows_read == 8 and cohort.n == 3
    assert cohort.filter_text == "age ≥ 40.0; sex in ['Female']"
    # Endpoints are built on the filtered rows.
    assert len(cohort.endpoint("os").time) == 3


def test_filter_on_a_derived_variable_and_on_missingness(cp, tmp_path):
    toml = cp.DEMO_TOML.replace('group = "arm"', 'group = "arm"\nfilter = [\n'
                                '  { variable = "sex", missing = false },\n'
                                '  { variable = "old", eq = "No" },\n]')
    extra = '[derived.old]\ntype = "flag"\nwhen = [{ variable = "age", ge = 60 }]\n'
    cohort = make(cp, tmp_path, base=toml, extra=extra).cohort()
    assert cohort.data["id"].tolist() == ["P1", "P2", "P3", "P6", "P8"]


@pytest.mark.parametrize("condition, words", [
    ('{ variable = "age", eq = "old" }', ["continuous", "'old'"]),
    ('{ variable = "arm", gt = 1 }', ["compares numbers", "'arm'"]),
    ('{ variable = "sex", ne = "M" }', ["'M' is not a level", "displayed labels"]),
    ('{ variable = "dx", eq = "2010-01-01" }', ["date"]),
])
def test_filters_that_could_never_hold_are_errors(cp, tmp_path, condition, words):
    toml = cp.DEMO_TOML.replace('group = "arm"', f'group = "arm"\nfilter = [{condition}]')
    with pytest.raises(UserError) as info:
        make(cp, tmp_path, base=toml).cohort()
    assert info.value.key == "cohort.filter[0]"
    for word in words:
        assert word in info.value.message


def test_no_rows_left_after_filters(cp, tmp_path):
    toml = cp.DEMO_TOML.replace('group = "arm"',
                                'group = "arm"\nfilter = [{ variable = "age", gt = 200 }]')
    with pytest.raises(UserError, match="no rows left") as info:
        make(cp, tmp_path, base=toml).cohort()
    assert info.value.key == "cohort.filter"


def test_only_the_columns_the_report_needs_are_read(cp, tmp_path):
    from cohortpress.data.load import needed_columns

    project = make(cp, tmp_path, extra=DERIVED)
    plan = project.plan()
    columns = needed_columns(plan.config, [])
    assert columns == {"id", "arm", "sex", "age", "dx", "relapse", "death", "trm", "last",
                       "os_months", "os_status"}
    # An unused column is not read.
    csv = cp.DEMO_CSV.replace("\n", ",notes\n", 1)
    cohort = make(cp, tmp_path / "x", csv=csv).cohort()
    assert "notes" not in cohort.data.columns
