"""The options of a Table 1 (the ``demographics`` analysis) and the checks of its rows.

:class:`DemographicsOptions` is the section's table of keys, :class:`RowSpec` one row's;
:func:`check_row` is what the run and ``validate`` refuse, with the line they give.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cohortpress.api.options import Options, Variable
from cohortpress.common.errors import DataError
from cohortpress.common.formatting import all_whole
from cohortpress.common.suggest import did_you_mean
from cohortpress.data.grouping import Grouping, group_cohort
from cohortpress.kit.table1_extras import Table1ExtraOptions

TestName = Literal["auto", "fisher", "chisq", "chisq_yates", "t_test", "welch", "wilcoxon",
                   "kruskal", "anova", "none"]
ContinuousStat = Literal["median_range", "median_iqr", "mean_sd"]

class RowSpec(Options):
    """One variable of the table; a bare string in ``variables`` takes every default."""

    variable: Variable = Field(description="the variable of this row", examples=["wbc"])
    label: str | None = Field(None, description="the row label; default: the variable's",
                              examples=["White blood cells"])
    test: TestName = Field("auto", description="auto: Fisher for categorical and binary rows, "
                           "Wilcoxon (two groups) or Kruskal–Wallis (more) for continuous "
                           "ones, none for dates", examples=["chisq"])
    stat: ContinuousStat = Field("median_range", description="the summary of a continuous "
                                 "row: median (range), median (IQR) or mean (SD)",
                                 examples=["mean_sd"])
    digits: int | None = Field(None, ge=0, le=6, description="decimals of a continuous "
                               "row's numbers; default: 1", examples=[2])
    significant: int | None = Field(None, ge=1, le=6, description="significant digits "
                                    "instead of decimals", examples=[3])
    percent_digits: int | None = Field(None, ge=0, le=3, description="decimals of this "
                                       "row's percentages; default: the section's",
                                       examples=[1])
    exclude_from_test: list[str] = Field([], description="levels shown but left out of the "
                                         "test", examples=[["Other"]])
    test_missing: bool = Field(False, description="test the missing values as a level of "
                               "their own", examples=[True])
    applies_to: list[str] = Field([], description="the groups this row applies to; the "
                                  "others show not_applicable", examples=[["AML"]])
    missing: Literal["ifany", "always", "no"] | None = Field(
        None, description="this row's missing-value row; default: the section's",
        examples=["always"])


class DemographicsOptions(Table1ExtraOptions):
    by: Variable | None = Field(None, description="the grouping variable; default: "
                               "cohort.group", examples=["diagnosis"])
    variables: list[Variable | RowSpec] = Field(
        min_length=1, description="the rows: variable names, or tables of the keys below",
        examples=[["sex", {"variable": "wbc", "stat": "median_iqr"}]])
    caption: str = Field("Patient characteristics.", description="the table's caption",
                         examples=["Characteristics at diagnosis."])
    overall: bool = Field(False, description="an overall column before the groups",
                          examples=[True])
    p_value: bool = Field(True, description="a p-value column (with two or more groups)",
                          examples=[False])
    smd: bool = Field(False, description="a standardised mean difference column; with more "
                      "than two groups the largest pairwise one", examples=[True])
    percent_of: Literal["non-missing", "all"] = Field(
        "non-missing", description="the denominator of percentages", examples=["all"])
    percent_digits: int | None = Field(None, ge=0, le=3, description="decimals of "
                                       "percentages; default: report.percent_digits",
                                       examples=[1])
    missing: Literal["ifany", "always", "no"] = Field(
        "ifany", description="a row of missing values: when there are any, always, or never",
        examples=["always"])
    monte_carlo_tables: int = Field(100_000, ge=1000, description="tables simulated when "
                                    "Fisher's exact test is too costly to enumerate",
                                    examples=[1_000_000])
    seed: int = Field(20240531, description="the seed of that simulation (same seed, same p)",
                      examples=[1])
    header_label: str = Field("Characteristic", description="the header over the row "
                              "labels", examples=["Variable"])
    not_applicable: str = Field("n.a.", description="the cell of a group a row does not "
                                "apply to (applies_to)", examples=["–"])

    def check_data(self, cohort) -> list[str]:
        """What the run refuses, with the line it would give (the grouping's kind, each
        row's kind, test, ``applies_to`` groups and ``exclude_from_test`` levels, a
        two-group test of more groups); a group with no patients is a warning."""
        from cohortpress.data.grouping import empty_group_warnings

        groups = group_cohort(cohort, self.by if self.by is not None else cohort.group)
        tested = self.p_value and len(groups.levels) >= 2
        for spec in row_specs(self):
            info = cohort.variable(spec.variable)
            check_row(spec, info, groups.levels, tested)
            if tested and spec.test in TWO_GROUP_TESTS and info.kind == "continuous":
                check_two_groups(spec, _groups_with_values(cohort, spec, groups))
        self.check_extras(cohort, groups, row_specs(self))
        return empty_group_warnings(groups)


def _groups_with_values(cohort, spec, groups: Grouping) -> int:
    """How many of the groups a row applies to have a known value of its variable."""
    known = cohort.values(spec.variable).notna().to_numpy()
    return sum(1 for j, level in enumerate(groups.levels)
               if (not spec.applies_to or level in spec.applies_to)
               and (known & groups.mask(j)).any())


#: The tests of each kind of variable (dates are described, not tested).
TESTS_OF_KIND = {"categorical": ("fisher", "chisq", "chisq_yates"),
                 "binary": ("fisher", "chisq", "chisq_yates"),
                 "continuous": ("t_test", "welch", "wilcoxon", "kruskal", "anova"),
                 "date": ()}


def check_row(spec: RowSpec, info, groups: tuple[str, ...], tested: bool) -> None:
    """What a Table 1 row cannot be: the run and ``validate`` refuse it with this line.

    ``tested``: whether the section shows p-values (a test is then chosen per row).
    """
    if info.kind not in TESTS_OF_KIND:
        raise DataError(f"variable '{spec.variable}' is {info.kind}; a Table 1 row needs "
                        f"a categorical, binary, continuous or date variable",
                        column=spec.variable)
    unknown = set(spec.applies_to) - set(groups)
    if unknown:
        raise DataError(f"applies_to names groups {sorted(unknown)} that are not "
                        f"among {list(groups)}", column=spec.variable)
    if spec.exclude_from_test:
        # A level that is not there would leave the test as it is without a word: an error.
        allowed = list(info.levels) if info.kind in ("categorical", "binary") else []
        unknown = set(spec.exclude_from_test) - set(allowed) - {info.missing_label}
        if unknown and not allowed:
            raise DataError(f"exclude_from_test applies to categorical variables; "
                            f"'{spec.variable}' is {info.kind}", column=spec.variable)
        if unknown:
            hint = did_you_mean(sorted(unknown)[0], allowed)
            raise DataError(f"exclude_from_test names levels {sorted(unknown)} that are not "
                            f"among {allowed}{hint}", column=spec.variable)
    if tested and spec.test not in ("auto", "none") \
            and spec.test not in TESTS_OF_KIND[info.kind]:
        allowed = TESTS_OF_KIND[info.kind]
        what = (f"use {', '.join(allowed[:-1])} or {allowed[-1]}" if allowed
                else "dates are described, not tested; use none")
        raise DataError(f"test '{spec.test}' does not apply to the {info.kind} variable "
                        f"'{spec.variable}'; {what}", column=spec.variable)


def check_two_groups(spec: RowSpec, n_groups: int) -> None:
    """A two-group test of more than two groups with values."""
    if spec.test in TWO_GROUP_TESTS and n_groups > 2:
        raise DataError(f"the {TWO_GROUP_TESTS[spec.test]} test compares two groups, "
                        f"there are {n_groups}; use kruskal or anova", column=spec.variable)


#: The continuous tests of exactly two groups, by the name a sentence gives them.
TWO_GROUP_TESTS = {"t_test": "t", "welch": "Welch t", "wilcoxon": "Wilcoxon rank-sum"}


def percent_digits_of(spec, options, default: int) -> int:
    """A row's decimals of percentages: its own, else the section's, else ``default``."""
    for value in (spec.percent_digits, options.percent_digits):
        if value is not None:
            return value
    return default


def whole_numbers(spec: RowSpec, values) -> bool:
    """Whether a continuous variable prints its order statistics by the whole-number rule:
    every value whole and no ``digits`` or ``significant`` asked for."""
    return spec.digits is None and spec.significant is None and all_whole(values)


def row_specs(options: DemographicsOptions) -> list[RowSpec]:
    """The rows of a section, a bare variable name taking every default."""
    return [RowSpec(variable=item) if isinstance(item, str) else item
            for item in options.variables]


def refuse_repeats(specs: list[RowSpec]) -> None:
    """A variable listed twice would give two rows whose records cannot be told apart."""
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        if spec.variable in seen:
            raise DataError(f"'{spec.variable}' is listed twice; list each variable once "
                            f"(a second row of the same variable would have records that "
                            f"cannot be told apart)",
                            key=f"variables[{i}]")
        seen.add(spec.variable)
