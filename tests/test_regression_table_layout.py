"""How a regression table names its covariates and its models.

A binary covariate is one row naming the contrast ("Oedema: yes vs no"), never bare "0"/"1"
rows; a factor with more levels keeps its reference row; the spanners name the models only
when two are shown, and a single model is named in a footnote instead.
"""

from __future__ import annotations

import pytest

from cohortpress.api.sections import SectionContext
from cohortpress.kit import ModelColumn, RegressionTable, Term
from cohortpress.kit.regression import Estimate
from cohortpress.kit.regression_table import contrast_label, level_text

OEDEMA = Term("oedema", "Oedema", "binary", ("oedema=1",), ("0", "1"), "0")
SEX = Term("sex", "Sex", "binary", ("sex=Male",), ("Female", "Male"), "Female")
STAGE = Term("stage", "Stage", "categorical", ("stage=II", "stage=III"), ("I", "II", "III"),
             "I")
ESTIMATES = {"oedema=1": Estimate("oedema=1", 0.9, 0.2, 4.5, 1e-5, 2.46, 1.66, 3.64),
             "sex=Male": Estimate("sex=Male", -0.1, 0.2, -0.5, 0.6, 0.9, 0.61, 1.33),
             "stage=II": Estimate("stage=II", 0.4, 0.3, 1.3, 0.19, 1.49, 0.83, 2.69),
             "stage=III": Estimate("stage=III", 0.8, 0.3, 2.7, 0.007, 2.23, 1.24, 4.0)}
N = {"oedema": (100, 40), "sex": (100, 40), "stage": (100, 40)}


def _column(title: str, **kwargs) -> ModelColumn:
    return ModelColumn(title, estimates=dict(ESTIMATES), n=dict(N), **kwargs)


def _texts(rows) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in rows]


@pytest.mark.parametrize("levels, expected", [
    (("0", "1"), ("no", "yes")), (("False", "True"), ("no", "yes")),
    (("No", "Yes"), ("No", "Yes")), (("Female", "Male"), ("Female", "Male"))])
def test_unlabelled_indicators_read_as_words_and_labels_as_given(levels, expected):
    assert tuple(level_text(level, levels) for level in levels) == expected


def test_a_binary_covariate_is_one_row_naming_its_contrast():
    table = RegressionTable([OEDEMA, SEX, STAGE],
                            [_column("Univariable"), _column("Multivariable")],
                            ratio_name="HR", conf_level=0.95, context=SectionContext("t", "t"))
    rows = _texts(table.body())
    assert rows[:2] == [
        ["Oedema: yes vs no", "2.46 (1.66\u20133.64)", "<0.001", "2.46 (1.66\u20133.64)",
         "<0.001"],
        ["Sex: Male vs Female", "0.90 (0.61\u20131.33)", "0.600", "0.90 (0.61\u20131.33)",
         "0.600"]]
    # a factor with three levels keeps its heading and reference rows
    assert [r[0] for r in rows[2:6]] == ["Stage", "I", "II", "III"]
    assert rows[3][1] == "1 (reference)"
    assert not any(r[0] in ("0", "1") for r in rows)
    assert contrast_label("Oedema", "1", "0", ("0", "1")) == "Oedema: yes vs no"


def test_two_models_have_spanners_and_one_model_none():
    both = RegressionTable([OEDEMA], [_column("Univariable"), _column("Multivariable")],
                           ratio_name="HR", conf_level=0.95, context=SectionContext("t", "t"))
    assert _texts(both.header()) == [["Characteristic", "Univariable", "Multivariable"],
                                     ["HR (95% CI)", "p-value", "HR (95% CI)", "p-value"]]
    assert not any("(univariable)" in n.text or "(multivariable)" in n.text
                   for n in both.footnotes())
    for title in ("Univariable", "Multivariable"):
        single = RegressionTable([OEDEMA, STAGE], [_column(title)], ratio_name="OR",
                                 conf_level=0.9, context=SectionContext("t", "t"),
                                 context_name="logistic", ratio_stat="or")
        assert _texts(single.header()) == [["Characteristic", "OR (90% CI)", "p-value"]]
        notes = [n.text for n in single.footnotes()]
        assert any(n.startswith("ORs from") and n.endswith(f"({title.lower()}).")
                   for n in notes), notes
