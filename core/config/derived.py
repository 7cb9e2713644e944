"""The config's building blocks below the file level: conditions and derived variables.

A condition (``{ variable = "age", lt = 1 }``) is what ``cohort.filter``, a section's
``subset`` and the derived types ``flag`` and ``case`` are made of; ``[derived.NAME]``
tables are declared, never executed as code, each by its ``type``. Every key carries a
one-line description and an example: docs/config.md is generated from them.
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

Scalar = Union[str, int, float, bool]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(Strict):
    """A condition on one variable: exactly one comparison key besides ``variable``."""

    variable: str = Field(description="the variable the condition tests (a column or a "
                                      "derived variable)", examples=["age_days"])
    eq: Scalar | None = Field(None, description="holds when the value equals this",
                              examples=["AML"])
    ne: Scalar | None = Field(None, description="holds when the value differs from this "
                                                "(unknown, not true, for a missing value)",
                              examples=["IV"])
    lt: float | None = Field(None, description="holds when the value is below this",
                             examples=[1])
    le: float | None = Field(None, description="holds when the value is at most this",
                             examples=[365])
    gt: float | None = Field(None, description="holds when the value is above this",
                             examples=[0])
    ge: float | None = Field(None, description="holds when the value is at least this",
                             examples=[50])
    is_in: list[Scalar] | None = Field(None, alias="in", description="holds when the value is "
                                       "one of these", examples=[["CNS-2", "CNS-3"]])
    not_in: list[Scalar] | None = Field(None, description="holds when the value is none of "
                                        "these (unknown for a missing value)",
                                        examples=[["t(4;11)"]])
    missing: bool | None = Field(None, description="true: holds when the value is missing; "
                                 "false: when it is present", examples=[False])

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_comparison(self):
        given = [k for k in ("eq", "ne", "lt", "le", "gt", "ge", "is_in", "not_in", "missing")
                 if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of eq, ne, lt, le, gt, ge, in, not_in, missing")
        return self


class _DerivedBase(Strict):
    label: str | None = Field(None, description="the row label; default: the variable's name",
                              examples=["Age group"])
    unit: str | None = Field(None, description="shown after the label", examples=["years"])
    missing_label: str = Field("Unknown", description="the row label for missing values",
                               examples=["Not known"])


class CutDerived(_DerivedBase):
    """Bin a continuous variable: ``breaks`` are the interval edges, ``labels`` one per bin."""

    type: Literal["cut"] = Field(description="the kind of derived variable",
                                 examples=["cut"])
    source: str = Field(description="the continuous variable to bin", examples=["age_days"])
    breaks: list[float] = Field(description="the interval edges, strictly increasing (at "
                                            "least two)", examples=[[0, 183, 400]])
    labels: list[str] = Field(description="one label per interval (one fewer than breaks)",
                              examples=[["<6 months", "6-12 months"]])
    right: bool = Field(False, description="false: intervals [a, b); true: (a, b]",
                        examples=[True])

    @model_validator(mode="after")
    def _shape(self):
        if len(self.breaks) < 2:
            raise ValueError("breaks needs at least two edges")
        if any(edge != edge for edge in self.breaks):
            raise ValueError("breaks must be numbers; nan is not an edge")
        if sorted(set(self.breaks)) != list(self.breaks):
            raise ValueError("breaks must be strictly increasing")
        if len(self.labels) != len(self.breaks) - 1:
            raise ValueError(f"{len(self.breaks) - 1} bins need {len(self.breaks) - 1} labels, "
                             f"got {len(self.labels)}")
        return self


class RecodeDerived(_DerivedBase):
    """Map values to new ones; values not in ``mapping`` keep theirs unless ``other`` is set."""

    type: Literal["recode"] = Field(description="the kind of derived variable",
                                    examples=["recode"])
    source: str = Field(description="the variable whose values are recoded",
                        examples=["cns"])
    mapping: dict[str, str] = Field(description="old value = new value",
                                    examples=[{"CNS-2": "CNS-2/3", "CNS-3": "CNS-2/3"}])
    other: str | None = Field(None, description="the value of every value not in mapping; "
                                                "default: those keep their own",
                              examples=["Other"])
    levels: list[str] | None = Field(None, description="the levels in display order; default: "
                                     "mapping's new values, then the others in natural order",
                                     examples=[["CNS-1", "CNS-2/3"]])


class FlagDerived(_DerivedBase):
    """A yes/no variable: ``yes`` when ``when`` holds (all conditions), else ``no``."""

    type: Literal["flag"] = Field(description="the kind of derived variable",
                                  examples=["flag"])
    when: list[Condition] = Field(description="conditions that must all hold for yes; a "
                                  "missing value makes the flag missing",
                                  examples=[[{"variable": "wbc", "ge": 50}]])
    yes: str = Field("Yes", description="the value when the conditions hold",
                     examples=["WBC ≥50"])
    no: str = Field("No", description="the value when they do not", examples=["WBC <50"])


class Case(Strict):
    """One case of a ``case`` derived variable."""

    when: list[Condition] = Field(description="conditions that must all hold",
                                  examples=[[{"variable": "age", "lt": 0.5}]])
    value: str = Field(description="the variable's value when they do", examples=["High risk"])


class CaseDerived(_DerivedBase):
    """The first matching case's value (``when``: all conditions of a case must hold).

    ``unknown = "skip"`` (the default, as SQL's CASE): a condition on a missing value does
    not match, and the next case is tried. ``unknown = "missing"``: a row reaching a case it
    cannot decide gets a missing value (for rules such as risk groups, where an unknown
    input must not fall through to the default).
    """

    type: Literal["case"] = Field(description="the kind of derived variable",
                                  examples=["case"])
    cases: list[Case] = Field(description="tables of when (conditions) and value; the "
                                "first case that holds wins",
                                examples=[[{"when": [{"variable": "age", "lt": 0.5}],
                                            "value": "High risk"}]])
    default: str | None = Field(None, description="the value when no case holds; default: "
                                "missing", examples=["Standard risk"])
    levels: list[str] | None = Field(None, description="the levels in display order; default: "
                                     "the cases' values, then the default",
                                     examples=[["Standard risk", "High risk"]])
    unknown: Literal["skip", "missing"] = Field(
        "skip", description="a condition on a missing value: skip tries the next case (as "
        "SQL's CASE); missing gives the row a missing value", examples=["missing"])


class DateDiffDerived(_DerivedBase):
    """Time between two date columns, in days, months or years (365.25 days a year)."""

    type: Literal["date_diff"] = Field(description="the kind of derived variable",
                                       examples=["date_diff"])
    start: str = Field(description="the earlier date variable", examples=["birth_date"])
    end: str = Field(description="the later date variable", examples=["diagnosis_date"])
    in_unit: Literal["days", "months", "years"] = Field(
        "days", alias="unit_of_time", description="the unit of the difference (a year is "
        "365.25 days, a month a twelfth of that)", examples=["years"])

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TransformDerived(_DerivedBase):
    """A transformed continuous variable: log, log2, log10, sqrt, or per-N-units scaling."""

    type: Literal["transform"] = Field(description="the kind of derived variable",
                                       examples=["transform"])
    source: str = Field(description="the continuous variable to transform", examples=["wbc"])
    function: Literal["log", "log2", "log10", "sqrt", "scale"] = Field(
        description="log is the natural logarithm; scale divides by per", examples=["scale"])
    per: float | None = Field(None, description="the divisor of scale (\"per 10 units\"); "
                              "required with scale", examples=[10])

    @model_validator(mode="after")
    def _per(self):
        if self.function == "scale" and not self.per:
            raise ValueError("function 'scale' needs 'per', e.g. per = 10")
        return self


class Kmt2aDerived(_DerivedBase):
    """KMT2A rearrangement status read from karyotypes, fusion names or partners.

    Uses the same parser as the ``kmt2a_partners`` analysis; text it cannot read becomes
    missing (and ``cohortpress validate`` lists it by patient).
    """

    type: Literal["kmt2a"] = Field(description="the kind of derived variable",
                                   examples=["kmt2a"])
    source: str = Field(description="a column of karyotypes, fusion names or partner genes",
                        examples=["karyotype"])
    kind: Literal["auto", "karyotype", "fusion", "partner"] = Field(
        "auto", description="what the column holds; auto: recognised per value",
        examples=["karyotype"])
    negative: str = Field("KMT2A negative", description="the value for no rearrangement",
                          examples=["KMT2A germline"])
    positive: str = Field("KMT2A positive", description="the value for a rearrangement",
                          examples=["KMT2A-r"])
    deletion_counts: bool = Field(False, description="count an 11q23 deletion as a "
                                  "rearrangement", examples=[True])
