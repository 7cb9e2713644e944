"""Competing-risks sections (core/kit/cumulative_incidence.py): estimates without variance
marked, not printed as degenerate intervals; every cause named in the table, footnotes and
figures; the figures' curves, censor marks, ends and risk tables; the command line's one
line for bad cause values."""

from __future__ import annotations

import numpy as np
import pytest

from cohortpress.api.results import Result
from cohortpress.data.cohort import Endpoint
from cohortpress.kit import cumulative_incidence as cif
from cohortpress.kit.survival_table import SurvivalLayout, survival_tables
from cohortpress.testing import run_analysis


def _records(se: float, low: float, high: float):
    about = [Result("cuminc", stat, value, variable="rel")
             for stat, value in (("label", "Relapse"), ("time.unit", "years"),
                                 ("conf.level", 0.95))]
    about += [Result("cuminc", "cause.label", "Relapse", variable="rel"),
              Result("cuminc.cause2", "cause.label", "Death in CR", variable="rel")]
    where = dict(variable="rel", group="arm", group_level="A")
    rows = [Result("cuminc", "row.label", "A", **where), Result("cuminc", "n", 10, **where),
            Result("cuminc", "n.risk", 7, variable="rel", variable_level=2.0, group="arm",
                   group_level="A")]
    for context, estimate in (("cuminc", 0.0), ("cuminc.cause2", 0.3)):
        rows.append(Result(context, "n.event", 0 if estimate == 0 else 3, **where))
        rows.append(Result(context, "median", float("nan"), formatted="NR", **where))
        values = (estimate, se if estimate else 0.0, low if estimate else float("nan"),
                  high if estimate else float("nan"))
        for stat, value in zip(("estimate", "std.error", "conf.low", "conf.high"), values):
            rows.append(Result(context, stat, value, variable="rel", variable_level=2.0,
                               group="arm", group_level="A",
                               formatted=("0.0" if not estimate else "30.0 (12.0\u201351.0)")
                               if stat == "estimate" else None))
    tests = [Result("cuminc.cause2", stat, value, variable="rel", group="arm",
                    formatted="0.04" if stat == "p.value" else None)
             for stat, value in (("statistic", 4.2), ("df", 1.0), ("p.value", 0.04))]
    return about + rows + tests


def _cells(table):
    return [[c.text for c in row.cells] for row in table.body]


def test_an_estimate_without_variance_is_marked_and_explained():
    (table,) = survival_tables(_records(0.1, 0.12, 0.51), SurvivalLayout(None, (2.0,)))
    first = table.body[0]
    assert [c.text for c in first.cells] == ["A", "10", "0", "0.0", "NR", "3",
                                             "30.0 (12.0\u201351.0)", "NR"]
    assert first.cells[3].marks == ("a",) and first.cells[6].marks == ()
    assert [n.text for n in table.footnotes if n.mark == "a"] == [cif.NO_VARIANCE]
    assert not any("(\u2013" in text for row in _cells(table) for text in row)


def test_each_cause_has_its_column_group_and_its_gray_test():
    (table,) = survival_tables(_records(0.1, 0.12, 0.51), SurvivalLayout(None, (2.0,)))
    spanners = [(c.text, c.colspan) for c in table.header[0].cells]
    assert spanners == [("", 1), ("n", 1), ("Relapse", 3), ("Death in CR", 3)]
    assert [c.text for c in table.header[1].cells] == [
        "Events", "2-year % (95% CI)", "Median, years"] * 2
    assert _cells(table)[1:] == [["Number at risk"], ["A", "", "", "7", "", "", "7", ""]]
    assert "Gray's test: Death in CR, chi-square 4.20 on 1 df, p = 0.04." in \
        [n.text for n in table.footnotes]
    assert not any("ompeting" in c.text for row in table.header for c in row.cells)


def test_a_degenerate_interval_is_marked_too():
    (table,) = survival_tables(_records(0.1, 0.3, 0.3), SurvivalLayout(None, (2.0,)))
    assert table.body[0].cells[6].marks == ("a",)


def test_a_kaplan_meier_estimate_without_variance_is_not_a_point_interval():
    section = run_analysis("survival", {"endpoints": ["os"], "landmarks": [0, 3],
                                        "figure": False})
    table = next(b for b in section.blocks if hasattr(b, "footnotes"))
    texts = [row.cells[3] for row in table.body if row.role != "group"]
    assert all(cell.text == "100.0" and cell.marks for cell in texts)
    mark = texts[0].marks[-1]
    assert [n.text for n in table.footnotes if n.mark == mark] == [cif.NO_VARIANCE]
    assert not any("100.0 (100.0" in c.text for row in table.body for c in row.cells)


def _endpoint():
    time = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    status = np.array([1, 2, 0, 1, 3, 0, 1, 2, 0, 0])
    return Endpoint("rel", "Relapse", "years", time, (status == 1).astype(int), status, True,
                    cause_labels=("Relapse", "Death", "Second cancer"))


def _rows(endpoint):
    a = np.arange(10) % 2 == 0
    return [cif.RowSpec("A", "A", a), cif.RowSpec("B", "B", ~a)]


def _fits(endpoint, rows):
    formats = cif.Formats(lambda *v: f"{v[0]:.3f}", lambda t: f"{t:g}", lambda p: f"{p:.2f}")
    records, _, fits = cif.cif_records("rel", endpoint, rows, "arm", [2.0], 0.95, formats)
    return records, fits


def _layout(**kwargs):
    return cif.FigureLayout(group_label="Arm", xlabel="Time (years)", xmax=None, width_mm=85,
                            risk_times=[0, 2, 4, 6, 8], by="arm", **kwargs)


def test_one_figure_per_cause_named_by_the_cause_with_its_risk_table():
    endpoint = _endpoint()
    rows = _rows(endpoint)
    _, fits = _fits(endpoint, rows)
    figures, risk = cif.cif_figures("rel", endpoint, rows, fits, {1: "0.30"}, _layout())
    assert [f.name for f in figures] == ["rel-cuminc", "rel-cuminc-cause2", "rel-cuminc-cause3"]
    assert figures[1].caption == ("Cumulative incidence of death by arm, with relapse and "
                                  "second cancer as competing risks.")
    assert all(f.png.startswith(b"\x89PNG") for f in figures)
    n_risk = {(r.group_level, r.variable_level): r.stat for r in risk if r.stat_name == "n.risk"}
    time = endpoint.time
    for row in rows:
        for t in (0, 2, 4, 6, 8):
            assert n_risk[(row.label, float(t))] == int((time[row.mask] >= t).sum())


def test_a_curve_ends_at_its_group_last_follow_up_with_censor_marks_on_it():
    endpoint = _endpoint()
    rows = _rows(endpoint)
    _, fits = _fits(endpoint, rows)
    row = rows[1]
    curve = cif.cif_curve("B", fits[("B", 1)], endpoint.time[row.mask], endpoint.status[row.mask])
    assert curve.end == 9.0  # B's last follow-up (censored), past its last event
    assert curve.censor_time.tolist() == [5.0, 9.0]
    fit = fits[("B", 1)]
    for t, y in zip(curve.censor_time, curve.censor_y):
        before = fit.estimate[fit.time <= t]
        assert y == (before[-1] if before.size else 0.0)


def test_stacked_figures_one_per_group_whose_top_is_one_minus_all_cause_km():
    from cohortpress.stats.kaplan_meier import kaplan_meier

    endpoint = _endpoint()
    rows = _rows(endpoint)
    _, fits = _fits(endpoint, rows)
    figures, _ = cif.cif_figures("rel", endpoint, rows, fits, {}, _layout(stacked=True))
    assert len(figures) == 2
    row = rows[0]
    time, status = endpoint.time[row.mask], endpoint.status[row.mask]
    top = cif.stacked_curves(fits, "A", endpoint.causes, time, status)[-1]
    km = kaplan_meier(time, (status > 0).astype(int))
    for t, y in zip(top.time, top.y):
        assert y == pytest.approx(1 - km.surv[km.time <= t][-1], abs=1e-12)


def test_a_cause_value_listed_nowhere_exits_2_with_one_line(cp, tmp_path, capsys):
    csv = "id,t,cause\nA,1,relapse\nB,2,relaps\nC,3,0\nD,4,relaps\n"
    toml = ('[report]\ntitle = "t"\n[cohort]\npath = "cohort.csv"\nid = "id"\n'
            '[endpoints.rel]\ntime = "t"\ntime_unit = "months"\nevent = "cause"\n'
            'event_codes = ["relapse"]\ncompeting_codes = ["death"]\n'
            '[[section]]\nid = "s"\nanalysis = "survival"\nendpoints = ["rel"]\n')
    project = cp.Project(tmp_path / "p", toml=toml, csv=csv)
    for command in ("validate", "build"):
        result = cp.run_cli([command, project.config, "--quiet"], capsys)
        assert result.code == 2 and len(result.err_lines) == 1
        assert "column 'cause'" in result.err and "'relaps' (2)" in result.err


def test_too_many_cause_columns_give_each_cause_its_own_table():
    """Two causes with three landmarks and the median (10 columns) do not fit a page in one
    table: each cause gets its own, with its own Gray's test; 8 columns stay together."""
    records = _records(0.1, 0.12, 0.51)
    together = survival_tables(records, SurvivalLayout(None, (1.0, 2.0, 3.0)[:3 - 1]))
    assert len(together) == 1
    first, second = survival_tables(records, SurvivalLayout(None, (1.0, 2.0, 3.0)))
    assert [c.text for c in first.header[0].cells] == ["", "n", "Relapse"]
    assert [c.text for c in second.header[0].cells] == ["", "n", "Death in CR"]
    assert first.caption == "Relapse: cumulative incidence of relapse, every other cause " \
                            "competing."
    assert (first.name, second.name) == ("rel-cuminc", "rel-cuminc-2")
    gray = [[n.text for n in t.footnotes if n.text.startswith("Gray")] for t in (first, second)]
    assert gray == [[], ["Gray's test: Death in CR, chi-square 4.20 on 1 df, p = 0.04."]]
