"""The abbreviations list holds each abbreviation the report's text uses, and only those."""

from __future__ import annotations

import types

from cohortpress.api.blocks import Cell, Figure, Footnote, Row, Table
from cohortpress.api.sections import Section
from cohortpress.render.abbreviations import abbreviations, uses


def _config(**listed):
    return types.SimpleNamespace(report=types.SimpleNamespace(
        title="A cohort", subtitle=None, notice=None, abbreviations=listed))


def _table(*cells: str, note: str = "") -> Table:
    return Table("Caption.", (Row((Cell("Characteristic"), Cell("HR (95% CI)"))),),
                 (Row(tuple(Cell(c) for c in cells)),),
                 footnotes=(Footnote(note),) if note else ())


def test_an_offered_abbreviation_is_listed_only_where_the_text_uses_it():
    offered = (("HR", "hazard ratio"), ("CI", "confidence interval"), ("SE", "standard error"))
    section = Section("cox", "Cox", blocks=(_table("Age", "1.2 (0.9–1.5)"),),
                      abbreviations=offered)
    assert abbreviations(_config(), [section]) == [("CI", "confidence interval"),
                                                    ("HR", "hazard ratio")]


def test_the_methods_captions_and_figure_text_count_as_use():
    figure = Figure(b"png", "Survival by WBC group.", "Curves of OS.")
    section = Section("km", "KM", blocks=(figure,),
                      abbreviations=(("SE", "standard error"), ("OS", "overall survival")))
    listed = abbreviations(_config(WBC="white blood cell count", EFS="event-free survival",
                                   SMD="standardised mean difference"), [section],
                           methods=["Balance was described by the SMD."])
    assert listed == [("OS", "overall survival"), ("SMD", "standardised mean difference"),
                      ("WBC", "white blood cell count")]


def test_the_config_wording_wins_and_a_word_must_stand_alone():
    section = Section("s", "S", blocks=(_table("CHR", "x", note="HR, high risk."),),
                      abbreviations=(("HR", "hazard ratio"),))
    assert abbreviations(_config(HR="high risk"), [section]) == [("HR", "high risk")]
    assert not uses("CHR and HRs", "HR") and uses("(HR 1.2)", "HR") and uses("n.a.", "n.a.")
