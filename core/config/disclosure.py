"""The ``[disclosure]`` table: the small-number rule a report's released counts follow.

Off unless the table is there. A rule is a threshold (``min_count``) and a rounding base
(``round_to``), given directly or by a named ``preset`` (see
:data:`cohortpress.common.disclosure.PRESETS`, which says where each comes from).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cohortpress.common.disclosure import PRESETS, DisclosureRule
from cohortpress.config.derived import Strict

PresetName = Literal["opensafely", "small-numbers-10"]


class DisclosureSettings(Strict):
    """``[disclosure]``: hide small counts in every output and round the others.

    Give either ``preset`` or ``min_count`` (and optionally ``round_to``), not both.
    """

    preset: PresetName | None = Field(
        None, description="a named rule: opensafely (counts of 7 or fewer hidden, others "
        "rounded to the nearest 5, as OpenSAFELY's output checkers require) or "
        "small-numbers-10 (counts below 10 hidden, others rounded to the nearest 5, the UK "
        "ONS / NHS England small-numbers convention)", examples=["opensafely"])
    min_count: int | None = Field(
        None, ge=2, le=1000, description="the smallest count released: counts from 1 to "
        "min_count - 1 are shown as <min_count (0 is shown)", examples=[10])
    round_to: int | None = Field(
        None, ge=1, le=100, description="every released count is rounded to the nearest "
        "multiple of this (halves up), and percentages are computed from the rounded counts; "
        "1: not rounded. Default: 1, or the preset's", examples=[5])

    @model_validator(mode="after")
    def _one_way_to_give_the_rule(self):
        if self.preset is not None and (self.min_count is not None
                                        or self.round_to is not None):
            raise ValueError("give either preset or min_count/round_to, not both (a preset "
                             "fixes both numbers)")
        if self.preset is None and self.min_count is None:
            raise ValueError("give min_count (the smallest count released, e.g. 10) or a "
                             f"preset ({', '.join(PRESETS)})")
        return self

    def rule(self) -> DisclosureRule:
        """The rule these settings describe."""
        if self.preset is not None:
            preset = PRESETS[self.preset]
            return DisclosureRule(preset.min_count, preset.round_to, preset=self.preset)
        return DisclosureRule(self.min_count, self.round_to or 1)
