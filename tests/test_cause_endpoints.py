"""Time + cause endpoints: a cause column (text or numeric codes) with event, competing and
censor codes, empty causes, cause names, and date endpoints with several competing dates."""

from __future__ import annotations

import pytest

from cohortpress.common.errors import ConfigError, DataError

CSV = ("id,t,cause,arm\nA,1,relapse,x\nB,2,,y\nC,3,death in CR,x\nD,4,censored,y\n"
       "E,5,second cancer,x\nF,6,relapse,y\n")
TOML = ('[report]\ntitle = "t"\n[cohort]\npath = "cohort.csv"\nid = "id"\n'
        '[endpoints.rel]\nlabel = "Relapse"\ntime = "t"\ntime_unit = "months"\n'
        'event = "cause"\nevent_codes = ["relapse"]\ncensor_codes = ["censored"]\n'
        'competing_codes = ["death in CR", "second cancer"]\nmissing_cause = "censored"\n'
        'cause_labels = { "death in CR" = "Death in CR" }\n')


def cohort(cp, tmp_path, toml=TOML, csv=CSV):
    return cp.Project(tmp_path / "p", toml=toml, csv=csv).cohort()


def test_each_competing_code_is_its_own_cause_in_the_order_listed(cp, tmp_path):
    rel = cohort(cp, tmp_path).endpoint("rel")
    assert rel.status.tolist() == [1, 0, 2, 0, 3, 1]
    assert rel.event.tolist() == [1, 0, 0, 0, 0, 1]
    assert rel.has_competing
    assert rel.causes == ((1, "Relapse"), (2, "Death in CR"), (3, "second cancer"))


def test_numeric_codes(cp, tmp_path):
    csv = "id,t,st\nA,1,1\nB,2,0\nC,3,2\nD,4,2\n"
    toml = ('[report]\ntitle = "t"\n[cohort]\npath = "cohort.csv"\nid = "id"\n'
            '[endpoints.rel]\ntime = "t"\ntime_unit = "days"\nevent = "st"\n'
            'competing_codes = [2]\n')
    rel = cohort(cp, tmp_path, toml, csv).endpoint("rel")
    assert rel.status.tolist() == [1, 0, 2, 2]
    assert rel.causes == ((1, "rel"), (2, "2"))


def test_an_empty_cause_is_an_error_unless_said_censored(cp, tmp_path):
    toml = TOML.replace('missing_cause = "censored"\n', "")
    with pytest.raises(DataError) as caught:
        cohort(cp, tmp_path, toml)
    line = caught.value.one_line()
    assert "column 'cause'" in line and "empty (1)" in line
    assert 'missing_cause = "censored"' in line


def test_values_listed_nowhere_are_named_with_their_counts(cp, tmp_path):
    csv = CSV.replace("relapse,y", "relaps,y").replace("censored,y", "relaps,y")
    with pytest.raises(DataError) as caught:
        cohort(cp, tmp_path, csv=csv)
    line = caught.value.one_line()
    assert "'relaps' (2)" in line and "column 'cause'" in line
    assert "competing_codes ['death in CR', 'second cancer']" in line
    assert "\n" not in line


@pytest.mark.parametrize(("extra", "message"), [
    ('competing = ["d"]\n', "key 'endpoints.rel.competing': applies to date endpoints"),
    ('cause_labels = { "x" = "X" }\n', "cause_labels names code 'x'"),
])
def test_keys_that_cannot_apply_are_refused(cp, tmp_path, extra, message):
    toml = TOML.replace('cause_labels = { "death in CR" = "Death in CR" }\n', "") + extra
    with pytest.raises(ConfigError) as caught:
        cohort(cp, tmp_path, toml)
    assert message in caught.value.one_line()


def test_a_code_with_two_meanings_is_refused(cp, tmp_path):
    toml = TOML.replace('competing_codes = ["death in CR", "second cancer"]',
                        'competing_codes = ["death in CR", "relapse"]')
    with pytest.raises(ConfigError, match="code 'relapse' is listed in both event_codes "
                                          "and competing_codes"):
        cohort(cp, tmp_path, toml)


def test_competing_codes_on_a_date_endpoint_is_refused(cp, tmp_path):
    toml = cp.DEMO_TOML.replace('competing = ["trm"]', 'competing_codes = [2]')
    with pytest.raises(ConfigError) as caught:
        cp.Project(tmp_path / "p", toml=toml, csv=cp.DEMO_CSV).cohort()
    assert "competing_codes': applies to endpoints from time/event columns" in \
        caught.value.one_line()


def test_each_competing_date_is_its_own_cause_named_by_its_label(cp, tmp_path):
    csv = cp.DEMO_CSV
    toml = cp.DEMO_TOML
    efs = cp.Project(tmp_path / "p", toml=toml, csv=csv).cohort().endpoint("efs")
    assert [code for code, _ in efs.causes] == [1, 2]
    assert set(efs.status.tolist()) <= {0, 1, 2}


def test_a_section_subset_keeps_the_causes(cp, tmp_path, capsys):
    toml = TOML + ('[variables.arm]\nlabel = "Arm"\n'
                   '[[section]]\nid = "s"\nanalysis = "survival"\nendpoints = ["rel"]\n'
                   'subset = [{ variable = "arm", eq = "x" }]\nlandmarks = [2]\nfigure = false\n')
    project = cp.Project(tmp_path / "p", toml=toml, csv=CSV)
    for command in ("validate", "build"):
        assert cp.run_cli([command, project.config, "--quiet"], capsys).code == 0
    import json
    records = json.loads((project.root / "report" / "results.json").read_text())["results"]
    labels = {r["context"]: r["stat"] for r in records if r["stat_name"] == "cause.label"}
    assert labels == {"cuminc": "Relapse", "cuminc.cause2": "Death in CR",
                      "cuminc.cause3": "second cancer"}
    n = [r["stat"] for r in records if r["context"] == "cuminc" and r["stat_name"] == "n"]
    assert n == [3]  # patients A, C and E
