"""The statistical-methods paragraph, written from what actually ran.

Each analysis contributes sentences about what it did (``Section.methods``): the test
used for each variable, the Kaplan–Meier confidence-interval transform, the Cox ties method.
This module orders them, removes repeats, and adds the handling of missing values and the
software with versions, so the paragraph changes whenever the config changes a method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

from cohortpress.model import Section

if TYPE_CHECKING:  # pragma: no cover
    from cohortpress.cohort import Cohort
    from cohortpress.config import Config


def compose_methods(config: "Config", cohort: "Cohort", sections: Sequence[Section],
                    versions: Mapping[str, str]) -> list[str]:
    """Paragraphs of the methods section (a list of plain-text paragraphs)."""
    sentences: list[str] = []
    for section in sections:
        for sentence in section.methods:
            if sentence not in sentences:
                sentences.append(sentence)
    paragraphs = []
    if sentences:
        paragraphs.append(" ".join(sentences))
    paragraphs.append(_missing_sentence(cohort))
    paragraphs.append(_software_sentence(versions))
    return paragraphs


def _missing_sentence(cohort: "Cohort") -> str:
    text = ("Missing or unknown values are reported in their own row for each variable and "
            "were excluded from statistical tests unless stated otherwise; regression models "
            "used complete cases.")
    if cohort.filter_text:
        text += (f" The analysis population was restricted to patients with "
                 f"{cohort.filter_text} ({cohort.n} of {cohort.n_rows_read} records).")
    return text


def _software_sentence(versions: Mapping[str, str]) -> str:
    libs = ", ".join(f"{name} {versions[name]}" for name in
                     ("numpy", "scipy", "pandas", "lifelines", "statsmodels") if name in versions)
    return (f"Analyses were performed with cohortpress {versions.get('cohortpress', '')} "
            f"(Python {versions.get('python', '')}; {libs}). All tests were two-sided.")
