"""The options of a Table 1 (the ``demographics`` analysis) and the checks of its rows.

:class:`DemographicsOptions` is the section's table of keys, :class:`RowSpec` one row's;
:func:`check_row` is what the run and ``validate`` refuse, with the line they give.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from cohortpress.api.options import Options, Variable
from cohortpress.common.errors import DataError
from cohortpress.common.formatting import all_whole
from cohortpress.common.suggest import did_you_mean
from cohortpress.data.grouping import Grouping, group_cohort
from cohortpress.kit.table1_format import (DEFAULT_CATEGORICAL, NAMED_STATS,
                                           check_digits_fields, check_template, template_label)
from cohortpress.kit.table1_extras import Table1ExtraOptions

TestName = Literal["auto", "fisher", "chisq", "chisq_yates", "t_test", "welch", "wilcoxon",
                   "kruskal", "anova", "none"]


def _stat_names(value):
    """One named statistic or a list of them (one row each), kept as a list; an unknown
    name is refused with the names allowed and a "did you mean"."""
    names = [value] if isinstance(value, str) else value
    for name in names:
        if name not in NAMED_STATS:
            raise ValueError(f"'{name}' is not a statistic; use one of "
                             f"{', '.join(repr(n) for n in NAMED_STATS)}"
                             f"{did_you_mean(name, NAMED_STATS)}")
    return list(names)


#: One named statistic or a list of them (one row each), kept as a list.
StatList = Annotated[str | list[str], AfterValidator(_stat_names)]
#: Decimals: one number for every value of a continuous row, or a table by field.
Digits = int | dict[str, int]
#: The test rules a section can follow (``test = "auto"`` rows).
TestRule = Literal["default", "gtsummary", "parametric"]


def _digits_shape(value):
    """A whole number or a table of whole numbers, said in one line (before pydantic would
    report each branch of the union)."""
    def whole(number) -> bool:
        return isinstance(number, int) and not isinstance(number, bool)

    if value is None or whole(value):
        return value
    if isinstance(value, dict) and all(whole(v) for v in value.values()):
        return value
    found = (f"the text '{value}'" if isinstance(value, str) else
             "a table with a value that is not a whole number" if isinstance(value, dict)
             else str(value).lower() if isinstance(value, bool) else f"the value {value}")
    raise ValueError(f"found {found}; expected a whole number or a table of decimals by "
                     f"field, such as {{ mean = 1, p = 0 }}")


def _check_digits(value):
    """Decimals 0 to 6, by field names that exist."""
    if value is None:
        return value
    numbers = value.values() if isinstance(value, dict) else [value]
    if any(not 0 <= number <= 6 for number in numbers):
        raise ValueError(f"decimals run from 0 to 6; got {value}")
    if isinstance(value, dict):
        check_digits_fields(value)
    return value


def _check_statistic(value, kind: str = "any"):
    """Statistic strings whose fields exist for ``kind`` of row (``any``: a row's own
    strings, which :func:`check_summary_keys` checks again once its kind is known)."""
    if value is None:
        return value
    for template in [value] if isinstance(value, str) else value:
        check_template(template, kind)
    return value


class RowSpec(Options):
    """One variable of the table; a bare string in ``variables`` takes every default."""

    variable: Variable = Field(description="the variable of this row", examples=["wbc"])
    label: str | None = Field(None, description="the row label; default: the variable's",
                              examples=["White blood cells"])
    test: TestName = Field("auto", description="auto: the section's tests rule (default: "
                           "Fisher for categorical and binary rows, Wilcoxon (two groups) or "
                           "Kruskal–Wallis (more) for continuous ones, none for dates)",
                           examples=["chisq"])
    stat: StatList | None = Field(
        None, description="the summary of a continuous row, one name or a list of names (one "
        "row each under the variable, as gtsummary's continuous2) of median_range, "
        "median_iqr, mean_sd, median, mean, iqr, range, n and n_missing (the missing-value "
        "row there); default: the section's continuous_stat",
        examples=["mean_sd", ["median_iqr", "range", "n_missing"]])
    statistic: str | list[str] | None = Field(
        None, description="a statistic string with named fields instead of stat (a list: one "
        "row each); for a categorical row, the string of each level", examples=[
            "{median} ({p25}, {p75})", ["{mean} ({sd})", "{min}, {max}"], "{n} / {N} ({p}%)"])
    digits: Digits | None = Field(None, description="decimals of a continuous row's numbers "
                                  "(default: 1), or a table of decimals by field",
                                  examples=[2, {"mean": 1, "sd": 2, "p": 1}])
    trend: bool = Field(False, description="test the ordered levels of a categorical row "
                        "for a trend: Cochran–Armitage (two groups) or linear-by-linear "
                        "association (more), with scores 1, 2, ...", examples=[True])
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

    @field_validator("digits", mode="before")
    @classmethod
    def _digits_shape(cls, value):
        return _digits_shape(value)

    @field_validator("digits")
    @classmethod
    def _digits_exist(cls, value):
        return _check_digits(value)

    @field_validator("statistic")
    @classmethod
    def _fields_exist(cls, value):
        return _check_statistic(value)


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
    tests: TestRule = Field("default", description="the rule choosing the test of rows with "
                            "test = auto: default (Fisher; Wilcoxon or Kruskal–Wallis), "
                            "gtsummary (as gtsummary's add_p: chi-squared without continuity "
                            "correction when every expected count is at least 5, else Fisher; "
                            "Wilcoxon or Kruskal–Wallis) or parametric (chi-squared; Welch t "
                            "or one-way ANOVA)", examples=["gtsummary"])
    quantile_type: int = Field(7, ge=1, le=9, description="R's quantile type of the quartiles "
                               "(1 to 9; 2 is SAS's and gtsummary's); stated in a footnote "
                               "when not 7", examples=[2])
    continuous_stat: StatList | None = Field(
        None, description="stat (one name or a list) of every continuous row that gives "
        "neither stat nor statistic; default: median_range", examples=[["median_iqr", "range"]])
    continuous_statistic: str | list[str] | None = Field(
        None, description="statistic string(s) of every continuous row that gives neither "
        "stat nor statistic", examples=["{median} ({p25}, {p75})"])
    categorical_statistic: str | None = Field(
        None, description="statistic string of every categorical and binary row that gives "
        "none; default: {n} ({p}%)", examples=["{n} / {N} ({p}%)"])
    digits: Digits | None = Field(None, description="decimals of every row that gives none: "
                                  "a number (continuous values) or a table by field",
                                  examples=[{"mean": 1, "sd": 1, "p": 1}])

    @field_validator("digits", mode="before")
    @classmethod
    def _digits_shape(cls, value):
        return _digits_shape(value)

    @field_validator("digits")
    @classmethod
    def _digits_exist(cls, value):
        return _check_digits(value)

    @field_validator("continuous_statistic")
    @classmethod
    def _continuous_fields_exist(cls, value):
        return _check_statistic(value, "continuous")

    @field_validator("categorical_statistic")
    @classmethod
    def _categorical_fields_exist(cls, value):
        return _check_statistic(value, "categorical")

    def check_data(self, cohort) -> list[str]:
        """What the run refuses, with the line it would give (the grouping's kind, each
        row's kind, test, ``applies_to`` groups and ``exclude_from_test`` levels, a
        two-group test of more groups); a group with no patients is a warning."""
        from cohortpress.data.grouping import empty_group_warnings

        from cohortpress.kit.engine_grouping import grouping_of

        refuse_on_engine(self, cohort)
        check_section(self)
        groups = grouping_of(cohort, self.by if self.by is not None else cohort.group)
        tested = self.p_value and len(groups.levels) >= 2
        for spec in row_specs(self):
            info = cohort.variable(spec.variable)
            check_row(spec, info, groups.levels, tested)
            if tested and spec.test in TWO_GROUP_TESTS and info.kind == "continuous":
                check_two_groups(spec, _groups_with_values(cohort, spec, groups))
        self.check_extras(cohort, groups, row_specs(self))
        return empty_group_warnings(groups)


#: The options of a Table 1 that need the patients' rows, and why.
NEEDS_ROWS = {
    "weights": "weights need the patients' rows (design-based tests and weighted quantiles)",
    "strata": "strata need the patients' rows (one Table 1 per stratum)",
}


def aggregates_refusal(options) -> str | None:
    """``Analysis.aggregates`` of ``demographics``: None when these options run from
    aggregates on the engine path, else the line naming the option that needs the rows."""
    for key, why in NEEDS_ROWS.items():
        if getattr(options, key, None) is not None:
            return f"{key} = '{getattr(options, key)}': {why}"
    return None


def refuse_on_engine(options, cohort) -> None:
    """An engine cohort with options that need the rows: the one line that names them (the
    build refuses such a section earlier; this keeps a direct call from computing without
    them)."""
    refusal = aggregates_refusal(options) if getattr(cohort, "engine", False) else None
    if refusal is not None:
        raise DataError(f"statistics = \"engine\": {refusal}",
                        key=next(k for k in NEEDS_ROWS if refusal.startswith(k)))


def _groups_with_values(cohort, spec, groups: Grouping) -> int:
    """How many of the groups a row applies to have a known value of its variable."""
    from cohortpress.kit.engine_grouping import groups_with_values

    levels = [level for level in groups.levels if not spec.applies_to or level in spec.applies_to]
    return groups_with_values(cohort, spec.variable, groups, levels)


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
    check_summary_keys(spec, info.kind)
    if tested and spec.test not in ("auto", "none") \
            and spec.test not in TESTS_OF_KIND[info.kind]:
        allowed = TESTS_OF_KIND[info.kind]
        what = (f"use {', '.join(allowed[:-1])} or {allowed[-1]}" if allowed
                else "dates are described, not tested; use none")
        raise DataError(f"test '{spec.test}' does not apply to the {info.kind} variable "
                        f"'{spec.variable}'; {what}", column=spec.variable)


def check_summary_keys(spec: RowSpec, kind: str) -> None:
    """The keys of a row's cells and trend test that do not apply to its kind of variable."""
    def refuse(key: str, allowed: str) -> None:
        raise DataError(f"{key} applies to {allowed} variables; '{spec.variable}' is {kind}",
                        column=spec.variable)

    if spec.stat is not None and spec.statistic is not None:
        raise DataError("give stat or statistic, not both", column=spec.variable)
    if spec.trend and spec.test not in ("auto", "none"):
        raise DataError(f"trend = true chooses the test; it cannot be combined with "
                        f"test = '{spec.test}'", column=spec.variable)
    if spec.stat is not None and kind != "continuous":
        refuse("stat", "continuous")
    if spec.trend and kind not in ("categorical", "binary"):
        refuse("trend", "categorical")
    if spec.trend and spec.test_missing:
        raise DataError("trend = true orders the known levels; unknown values have no place "
                        "in that order: drop test_missing", column=spec.variable)
    if spec.statistic is None or kind == "date":
        if spec.statistic is not None:
            refuse("statistic", "categorical, binary and continuous")
        return
    if kind != "continuous" and not isinstance(spec.statistic, str):
        raise DataError(f"statistic of the {kind} variable '{spec.variable}' is one string "
                        f"(each level's cell); a list of rows is for continuous variables",
                        column=spec.variable)
    for template in [spec.statistic] if isinstance(spec.statistic, str) else spec.statistic:
        try:
            check_template(template, "continuous" if kind == "continuous" else "categorical")
        except ValueError as exc:
            raise DataError(f"statistic: {exc}", column=spec.variable) from None


def continuous_rows(spec: RowSpec, options: DemographicsOptions
                    ) -> tuple[tuple[str | None, str], ...]:
    """The statistic rows of a continuous variable, ``(label, template)`` each; the label
    ``None`` is the missing-value row (``n_missing``). The row's statistic strings or named
    statistics, else the section's, else median (range)."""
    for strings, names in ((spec.statistic, spec.stat),
                           (options.continuous_statistic, options.continuous_stat)):
        if strings is not None:
            strings = [strings] if isinstance(strings, str) else strings
            return tuple((template_label(text), text) for text in strings)
        if names is not None:
            names = [names] if isinstance(names, str) else names
            return tuple(NAMED_STATS[name] for name in names)
    return (NAMED_STATS["median_range"],)


def categorical_statistic(spec: RowSpec, options: DemographicsOptions) -> str:
    """The statistic string of a categorical or binary variable's level rows."""
    for value in (spec.statistic, options.categorical_statistic):
        if isinstance(value, str):
            return value
    return DEFAULT_CATEGORICAL


def field_digits(spec: RowSpec, options: DemographicsOptions) -> tuple[int | None, dict]:
    """A row's decimals: the number for every continuous value (``None``: the default rule)
    and the decimals by field, the row's over the section's."""
    number, by_field = None, {}
    for value in (options.digits, spec.digits):
        if isinstance(value, int):
            number = value
        elif isinstance(value, dict):
            by_field.update(value)
    return number, by_field


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


def whole_numbers(spec: RowSpec, values, options: DemographicsOptions | None = None) -> bool:
    """Whether a continuous variable prints its order statistics by the whole-number rule:
    every value whole and no ``digits`` number (the row's or the section's) or
    ``significant`` asked for; decimals by field leave the other fields to the rule."""
    number = spec.digits if options is None else field_digits(spec, options)[0]
    return not isinstance(number, int) and spec.significant is None and all_whole(values)


def row_specs(options: DemographicsOptions) -> list[RowSpec]:
    """The rows of a section, a bare variable name taking every default."""
    return [RowSpec(variable=item) if isinstance(item, str) else item
            for item in options.variables]


def check_section(options: DemographicsOptions) -> None:
    """What a section cannot be whatever its cohort: both kinds of continuous summary."""
    if options.continuous_stat is not None and options.continuous_statistic is not None:
        raise DataError("give continuous_stat or continuous_statistic, not both",
                        key="continuous_statistic")


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
