"""Issue 23, item 4, for survival sections: the weights and strata of a test are recorded
and named in its footnote and the methods; a competing-risks table describes the spread it
shows (standard errors or confidence intervals)."""

from __future__ import annotations

from cohortpress.api.results import Result
from cohortpress.kit.records import Records
from cohortpress.kit.survival_table import SurvivalLayout, survival_tables
from cohortpress.testing import run_analysis


def _table(section):
    return next(b for b in section.blocks if hasattr(b, "footnotes"))


def test_a_stratified_weighted_test_is_recorded_and_named_in_its_footnote():
    section = run_analysis("survival", {"endpoints": ["os"], "strata": "sex", "rho": 1})
    records = Records(section.results)
    assert records.stat(context="survdiff", stat_name="rho", variable="os") == 1.0
    assert records.stat(context="survdiff", stat_name="gamma", variable="os") == 0.0
    assert records.stat(context="survdiff", stat_name="strata", variable="os") == "sex"
    note = _table(section).footnotes[0].text
    assert note.startswith("Stratified Fleming-Harrington G(rho=1, gamma=0) weighted "
                           "log-rank test, stratified by sex"), note
    assert any("stratified by sex" in m for m in section.methods)


def test_a_weighted_trend_test_names_its_weights_in_the_footnote_and_methods():
    section = run_analysis("survival", {"endpoints": ["os"], "by": "stage", "test": "trend",
                                        "rho": 0, "gamma": 1})
    note = _table(section).footnotes[0].text
    assert note == ("Log-rank test for trend, with Fleming\u2013Harrington weights "
                    "(rho = 0, gamma = 1)."), note
    assert any("Fleming\u2013Harrington weights (rho = 0, gamma = 1)" in m
               for m in section.methods)


def test_an_unweighted_unstratified_test_footnote_is_just_its_name():
    section = run_analysis("survival", {"endpoints": ["os"]})
    assert _table(section).footnotes[0].text == "Log-rank test."


def _cuminc_records():
    about = [Result("cuminc", stat, value, variable="rel")
             for stat, value in (("label", "Relapse"), ("time.unit", "years"),
                                 ("conf.level", 0.95))]
    where = dict(variable="rel", group="arm", group_level="A")
    counts = [Result("cuminc", stat, value, **where)
              for stat, value in (("n", 10), ("n.event", 3), ("n.competing", 1))]
    estimate = [Result("cuminc", "estimate", 0.3, variable="rel", variable_level=2.0,
                       group="arm", group_level="A", formatted="30 (12)")]
    return about + counts + estimate


def test_a_competing_risks_table_with_standard_errors_does_not_describe_intervals():
    (table,) = survival_tables(_cuminc_records(), SurvivalLayout(None, (2.0,), estimate="se"))
    text = " ".join(n.text for n in table.footnotes)
    assert "standard errors" in text and "confidence interval" not in text
    (table,) = survival_tables(_cuminc_records(), SurvivalLayout(None, (2.0,), estimate="ci"))
    assert "confidence intervals on the log(\u2212log) scale" in table.footnotes[0].text


def test_the_risk_table_under_a_figure_is_recorded():
    section = run_analysis("survival", {"endpoints": ["os"], "risk_times": [0, 2, 100]})
    records = Records(section.results)
    levels = records.distinct("group_level", context="risktable", stat_name="n.risk")
    assert len(levels) == 2 and None not in levels
    for level in levels:
        where = dict(context="risktable", variable="os", group_level=level)
        n = records.stat(context="survfit", stat_name="n", variable="os", variable_level=None,
                         group_level=level)
        events = records.stat(context="survfit", stat_name="n.event", variable="os",
                              variable_level=None, group_level=level)
        assert records.stat(stat_name="n.risk", variable_level=0.0, **where) == n
        assert records.stat(stat_name="n.event.cum", variable_level=0.0, **where) == 0
        at_two = records.stat(stat_name="n.risk", variable_level=2.0, **where)
        assert 0 < at_two < n
        assert at_two + records.stat(stat_name="n.event.cum", variable_level=2.0, **where) + \
            records.stat(stat_name="n.censor.cum", variable_level=2.0, **where) == n
        assert records.stat(stat_name="n.risk", variable_level=100.0, **where) == 0
        assert records.stat(stat_name="n.event.cum", variable_level=100.0, **where) == events


def test_no_risk_table_no_risk_table_records():
    section = run_analysis("survival", {"endpoints": ["os"], "risk_table": False})
    assert Records(section.results).select(context="risktable") == []
