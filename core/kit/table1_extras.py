"""Weights, the difference column and strata of a Table 1: the options and the records.

:class:`Table1ExtraOptions` holds the keys ``weights``, ``add_difference``, ``strata`` and
``strata_layout`` (the ``demographics`` options inherit them) and their checks;
:class:`Table1Extras` is the part of :class:`~cohortpress.kit.table1_records.
Table1Summariser` that writes weighted tallies, summaries, tests and SMDs
(:mod:`cohortpress.kit.table1_weighted`) and the difference records
(:mod:`cohortpress.kit.table1_difference`).
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

import numpy as np
from pydantic import Field

from cohortpress.api.options import Options, Variable
from cohortpress.api.results import Result
from cohortpress.common.errors import DataError, StatisticsError
from cohortpress.common.formatting import fmt_num
from cohortpress.kit import table1_difference as difference
from cohortpress.kit.table1_weighted import (WEIGHTED_TESTS, cohort_weights,
                                             weighted_categorical_test,
                                             weighted_continuous_smds,
                                             weighted_continuous_test, weighted_tally)

__all__ = ["Table1ExtraOptions", "Table1Extras", "extras_methods"]


class Table1ExtraOptions(Options):
    """The keys of a weighted, two-group-difference or stratified Table 1."""

    weights: Variable | None = Field(
        None, description="a column of survey or inverse-probability-of-treatment weights: "
        "weighted counts, percentages, means, SDs, quantiles and SMDs, design-based tests "
        "(Rao–Scott, design-based t or Wald F, as R survey)", examples=["iptw"])
    add_difference: bool = Field(
        False, description="a difference column for two groups: difference in means (Welch "
        "interval) or in proportions (Wald interval), the SMD for categorical rows",
        examples=[True])
    strata: Variable | None = Field(
        None, description="one Table 1 by group within each level of this categorical "
        "variable", examples=["stage"])
    strata_layout: Literal["side", "stacked"] = Field(
        "side", description="the strata's tables side by side under spanners, or stacked",
        examples=["stacked"])

    def inapplicable_keys(self, config) -> list[tuple[str, str]]:
        """``strata_layout`` without ``strata``; ``quantile_type`` with ``weights``."""
        found = []
        if "strata_layout" in self.model_fields_set and self.strata is None:
            found.append(("strata_layout", "applies to a stratified table; strata is not set"))
        if "quantile_type" in self.model_fields_set and self.weights is not None:
            found.append(("quantile_type", "applies to unweighted quantiles; with weights the "
                                           "quantiles are survey's svyquantile rule"))
        return found

    def check_extras(self, cohort, groups, specs) -> None:
        """What the run refuses about weights, the difference column and strata."""
        from cohortpress.data.grouping import check_strata

        if self.weights is not None:
            cohort_weights(cohort, self.weights)
            rule = getattr(self, "tests", "default")
            if rule != "default":
                raise DataError(f"tests = '{rule}' chooses unweighted tests; with weights = "
                                f"'{self.weights}' the tests are design-based: leave tests "
                                f"out", key="tests")
            for spec in specs:
                if spec.test not in WEIGHTED_TESTS:
                    raise DataError(
                        f"test '{spec.test}' is not design-based; with weights = "
                        f"'{self.weights}' use auto (Rao–Scott, design-based t or Wald F) "
                        f"or none", column=spec.variable)
        if self.add_difference and len(groups.levels) != 2:
            raise DataError(f"add_difference compares two groups; '{groups.variable}' has "
                            f"{len(groups.levels)} ({', '.join(groups.levels)}); use "
                            f"smd = true for more groups", key="add_difference")
        if self.strata is not None:
            check_strata(cohort, self.strata)
            if self.strata == groups.variable:
                raise DataError(f"strata '{self.strata}' is the grouping variable; stratify "
                                f"by another variable", column=self.strata)


class Table1Extras:
    """Weighted records and differences; the summariser provides ``options``, ``cohort``,
    ``groups``, ``results``, ``record``, ``applicable``, ``column_masks``,
    ``record_smd``, ``categorical_smd``, ``untestable``, ``add_test``, ``show_p`` and
    ``show_smd``."""

    @cached_property
    def weights(self) -> np.ndarray | None:
        column = self.options.weights
        return None if column is None else cohort_weights(self.cohort, column)

    def tally(self, codes: np.ndarray, mask: np.ndarray, n_levels: int, count_codes):
        """Per level the count (or sum of weights) in a column, the missing, the total."""
        if self.weights is None:
            counts, missing = count_codes(codes[mask], n_levels)
            return counts, missing, int(mask.sum())
        counts, missing = weighted_tally(codes[mask], self.weights[mask], n_levels)
        return counts, missing, float(self.weights[mask].sum())

    def summarise(self, column: np.ndarray, mask: np.ndarray, quantile_type: int = 7):
        """A column's continuous summary, weighted when the section is (its quantiles then
        by survey's rule, which ``quantile_type`` does not change: the options refuse it)."""
        from cohortpress.stats.summaries import continuous_summary
        from cohortpress.stats.weighted import weighted_summary

        if self.weights is None:
            return continuous_summary(column, quantile_type)
        return weighted_summary(column, self.weights[mask])

    def add_weight_records(self) -> None:
        """The weights column, and the sum of the weights per group and overall."""
        if self.weights is None:
            return
        by = self.groups.variable
        self.results.append(Result("weights", "variable", self.options.weights))
        self.results.append(Result("weights", "label",
                                   self.cohort.variable(self.options.weights).label))
        for j, level in enumerate(self.groups.levels):
            total = float(self.weights[self.groups.mask(j)].sum())
            self.results.append(Result("weights", "N.weighted", total, variable=by, group=by,
                                       group_level=level, formatted=fmt_num(total, 0)))

    # weighted tests ------------------------------------------------------------------------

    def weighted_samples(self, spec) -> list[tuple[str, np.ndarray, np.ndarray]]:
        values = self.cohort.values(spec.variable).to_numpy(dtype=float)
        applicable = self.applicable(spec)
        samples = []
        for j, level in enumerate(self.groups.levels):
            if applicable[j]:
                mask = self.groups.mask(j) & ~np.isnan(values) & (self.weights > 0)
                samples.append((level, values[mask], self.weights[mask]))
        return samples

    def weighted_continuous(self, spec) -> None:
        samples = self.weighted_samples(spec)
        if self.show_smd:
            self.record_smd(spec, weighted_continuous_smds([(x, w) for _, x, w in samples]))
        if not self.show_p or spec.test == "none" or len(samples) < 2:
            return
        empty = [level for level, x, _ in samples if len(x) == 0]
        for level in empty:
            self.leave_out(spec, level, self.empty_reason(level, "no known values"))
        usable = [(x, w) for _, x, w in samples if len(x)]
        if len(usable) < 2:
            self.untestable(spec, f"no values in group {', '.join(empty)}")
            return
        self.run_weighted(spec, lambda: weighted_continuous_test(usable))

    def weighted_categorical(self, spec, info, table: np.ndarray, applicable) -> None:
        """SMD of the weighted level counts, and the Rao–Scott test."""
        if self.show_smd:
            self.categorical_smd(spec, table[:, table.sum(axis=0) > 0] if table.size else table)
        if not self.show_p or spec.test == "none":
            return
        codes = np.asarray(self.cohort.values(spec.variable).cat.codes, dtype=np.int64)
        allowed = [j for j in range(len(self.groups.levels)) if applicable[j]]
        group_codes = np.where(np.isin(self.groups.codes, allowed), self.groups.codes, -1)
        left_out = {k for k, level in enumerate(info.levels) if level in spec.exclude_from_test}
        missing = spec.test_missing and info.missing_label not in spec.exclude_from_test
        self.record_test_choices(spec, info, missing)
        self.run_weighted(spec, lambda: weighted_categorical_test(
            codes, group_codes, self.weights, left_out, missing))

    def run_weighted(self, spec, test) -> None:
        try:
            result = test()
        except StatisticsError as exc:
            self.untestable(spec, str(exc))
            return
        self.add_test(spec, result)

    def level_smd(self, spec, info, masks) -> float | None:
        """The SMD of a categorical row's known levels between two groups (weighted when
        the section is), or ``None`` when a group has no known value."""
        from cohortpress.stats.comparisons import smd_categorical

        codes = np.asarray(self.cohort.values(spec.variable).cat.codes, dtype=np.int64)
        weights = np.ones(len(codes)) if self.weights is None else self.weights
        counts = [weighted_tally(codes[mask], weights[mask], len(info.levels))[0]
                  for mask in masks]
        if len(info.levels) < 2 or any(np.sum(c) <= 0 for c in counts):
            return None
        return smd_categorical(*counts)

    # the difference column -----------------------------------------------------------------

    def add_difference(self, spec, info) -> None:
        """The difference records of a row (two groups; categorical rows show the SMD)."""
        if not self.options.add_difference or len(self.groups.levels) != 2:
            return
        by = self.groups.variable
        masks = self.two_group_masks()
        if info.kind == "categorical":
            self.results.extend(difference.difference_records(
                spec.variable, by, self.level_smd(spec, info, masks), "categorical", 2))
            return
        if info.kind == "continuous":
            found = self.mean_difference(spec, masks)
            digits = 1 if spec.digits is None else spec.digits
        elif info.kind == "binary":
            found = self.proportion_difference(spec, info, masks)
            digits = 1
        else:
            return
        self.results.extend(difference.difference_records(spec.variable, by, found, info.kind,
                                                          digits))

    def two_group_masks(self):
        """The patients of each of the two groups (the engine path has none: ``None``)."""
        return [self.groups.mask(0), self.groups.mask(1)]

    def mean_difference(self, spec, masks):
        """The difference in means of the two groups (``None``: not computable)."""
        weights = [None, None] if self.weights is None else [self.weights[m] for m in masks]
        values = self.cohort.values(spec.variable).to_numpy(dtype=float)
        return difference.continuous_difference(values[masks[0]], values[masks[1]], *weights)

    def proportion_difference(self, spec, info, masks):
        """The difference in the proportion of the positive level of the two groups."""
        weights = [None, None] if self.weights is None else [self.weights[m] for m in masks]
        values = self.cohort.values(spec.variable)
        known = values.notna().to_numpy()
        positive = (values == info.positive).to_numpy() & known
        kept = [known[m] for m in masks]
        weights = [None, None] if self.weights is None else \
            [w[k] for w, k in zip(weights, kept)]
        return difference.proportion_difference_of(positive[masks[0]][kept[0]],
                                                   positive[masks[1]][kept[1]], *weights)


def extras_methods(results, options, cohort) -> list[str]:
    """The methods sentences on the weights and the difference column."""
    sentences = []
    if options.weights is not None:
        label = cohort.variable(options.weights).label
        sentences.append(
            f"Counts, percentages, means, standard deviations and quantiles were weighted by "
            f"{label}; standardised mean differences used the weighted means and variances, "
            f"and groups were compared with design-based tests (the Rao\u2013Scott "
            f"second-order corrected chi-squared test, the design-based t test or Wald F "
            f"test), as in R's survey package.")
    if any(r.context == "difference" for r in results):
        weighted = options.weights is not None
        sentences.append(
            "Differences between the two groups are shown with 95% confidence intervals: "
            + ("design-based intervals of the differences in weighted means and proportions"
               if weighted else "Welch's interval for differences in means and the Wald "
               "interval for differences in proportions")
            + "; for categorical variables with more than two levels, the standardised "
              "mean difference.")
    return sentences

