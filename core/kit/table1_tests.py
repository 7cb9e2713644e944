"""The tests and standardised mean differences of a Table 1, written as records.

:class:`Table1Tests` is the part of :class:`~cohortpress.kit.table1_records.Table1Summariser`
that chooses each row's test, runs it (:mod:`cohortpress.stats.comparisons`) and records the
result, the groups or levels it leaves out and why.
"""

from __future__ import annotations

import numpy as np

from cohortpress.api.results import Result
from cohortpress.common.errors import StatisticsError
from cohortpress.common.formatting import fmt_num
from cohortpress.kit.records import hypothesis_test_records
from cohortpress.kit.table1_options import RowSpec, check_two_groups


class Table1Tests:
    """Tests and SMDs; the summariser provides ``options``, ``context``, ``groups``,
    ``results``, ``cohort``, ``test_labels``, ``record``, ``show_p`` and ``show_smd``."""

    def group_levels(self, applicable) -> list[str]:
        """The groups (not the overall column) a variable applies to."""
        return [lv for j, lv in enumerate(self.groups.levels) if applicable[j]]

    def leave_out(self, spec, level: str, reason: str) -> None:
        """Record that a test leaves out a group the header shows, and why."""
        self.results.append(Result("test", "not.tested.group", reason, variable=spec.variable,
                                   group=self.groups.variable, group_level=level))

    def empty_reason(self, level: str, what: str) -> str:
        size = self.groups.sizes[list(self.groups.levels).index(level)]
        return "no patients in this subset" if size == 0 else what

    def record_smd(self, spec, pairs) -> None:
        """The SMD of two groups, or with three or more the largest pairwise SMD (a
        ``smd.method`` record says so)."""
        values = [v for v in pairs if np.isfinite(v)]
        if not values:
            return
        smd = max(values)
        self.record("test", spec.variable, None, None, "smd", smd, fmt_num(smd, 2))
        if len(self.groups.levels) > 2:
            self.record("test", spec.variable, None, None, "smd.method",
                        "maximum pairwise")

    # tests -----------------------------------------------------------------------------

    def categorical_test(self, spec, info, counts, missing, applicable) -> None:
        if not self.show_p and not self.show_smd:
            return
        n_groups = len(self.groups.levels)
        group_counts = [counts[j] for j in range(n_groups) if applicable[j]]
        group_missing = [missing[j] for j in range(n_groups) if applicable[j]]
        levels = list(info.levels)
        table = np.column_stack(group_counts) if group_counts else np.zeros((0, 0))
        keep = [k for k, lv in enumerate(levels) if lv not in spec.exclude_from_test]
        table = table[keep, :] if len(table) else table
        tests_missing = spec.test_missing and info.missing_label not in spec.exclude_from_test
        if tests_missing:
            table = np.vstack([table, np.asarray(group_missing)[None, :]])
        tested_levels = self.group_levels(applicable)
        with_data = table.sum(axis=0) > 0 if table.size else np.zeros(0, dtype=bool)
        if self.weights is not None:
            return self.weighted_categorical(spec, info, table, applicable)
        if self.show_smd:
            self.categorical_smd(spec, table[:, with_data] if table.size else table)
        if not self.show_p:
            return
        test = spec.test
        if test == "auto":
            test = "none" if spec.applies_to and len(group_counts) < 2 else \
                ("trend" if spec.trend else "auto")
        if test == "none" or table.shape[1] < 2:
            return
        self.record_test_choices(spec, info, tests_missing)
        if table.size and not with_data.all() and with_data.sum() >= 2:
            for level, has_data in zip(tested_levels, with_data):
                if not has_data:
                    self.leave_out(spec, level, self.empty_reason(level, "no values tested"))
            table = table[:, with_data]
        if test == "auto":
            test = categorical_rule(self.options.tests, table)
        try:
            result = self.run_categorical_test(test, table)
        except StatisticsError as exc:
            self.untestable(spec, str(exc))
            return
        self.add_test(spec, result)

    def categorical_smd(self, spec, table: np.ndarray) -> None:
        from itertools import combinations

        from cohortpress.stats.comparisons import smd_categorical

        if table.ndim != 2 or table.shape[1] < 2 or table.shape[0] < 2:
            return  # one level (or none) has no standardised difference
        shares = table / table.sum(axis=0)
        self.record_smd(spec, [smd_categorical(shares[:, a], shares[:, b])
                               for a, b in combinations(range(table.shape[1]), 2)])

    def record_test_choices(self, spec, info, tests_missing: bool) -> None:
        """Records of the choices that change a categorical test's p-value: the levels
        left out of it and whether unknown values were tested as a category."""
        where = dict(variable=spec.variable, group=self.groups.variable)
        for level in spec.exclude_from_test:
            self.results.append(Result("test", "excluded.level", level, **where))
        if tests_missing:
            self.results.append(Result("test", "test.missing", True, **where))

    def run_categorical_test(self, test: str, table: np.ndarray):
        from cohortpress.stats import comparisons, trend

        if test == "trend":
            if table.shape[1] == 2:
                return trend.cochran_armitage_test(table)
            return trend.linear_by_linear_test(table)
        if test == "fisher":
            return comparisons.fisher_test(table, n_tables=self.options.monte_carlo_tables,
                                           seed=self.options.seed)
        return comparisons.chisq_test(table, correct=(test == "chisq_yates"))

    def continuous_test(self, spec, samples) -> None:
        """The SMD and the test of a continuous row; ``samples`` are ``(group level, sample)``
        of the applicable groups, a sample anything with a length (its number of known
        values) that :meth:`moments_of` and :meth:`rank_sums_of` read."""
        from itertools import combinations

        from cohortpress.stats import aggregate_tests as tests

        if self.weights is not None:
            return self.weighted_continuous(spec)
        levels, samples = zip(*samples) if samples else ((), ())
        if self.show_smd:
            usable = self.moments_of([s for s in samples if len(s) > 1])
            self.record_smd(spec, [tests.smd_from_moments(a, b)
                                   for a, b in combinations(usable, 2)])
        if not self.show_p or len(samples) < 2:
            return
        test = spec.test
        if test == "auto":
            test = continuous_rule(self.options.tests, len(samples))
        if test == "none":
            return
        empty = [lv for lv, s in zip(levels, samples) if len(s) == 0]
        if len(samples) - len(empty) < 2:
            self.untestable(spec, f"no values in group {', '.join(empty)}")
            return
        for level in empty:
            self.leave_out(spec, level, self.empty_reason(level, "no known values"))
        samples = [s for s in samples if len(s)]
        check_two_groups(spec, len(samples))
        runners = {
            "t_test": lambda: tests.t_test_from_moments(*self.moments_of(samples[:2]),
                                                        equal_var=True),
            "welch": lambda: tests.t_test_from_moments(*self.moments_of(samples[:2]),
                                                       equal_var=False),
            "wilcoxon": lambda: self.wilcoxon(samples[0], samples[1]),
            "kruskal": lambda: tests.kruskal_from_rank_sums(self.rank_sums_of(samples)),
            "anova": lambda: tests.anova_from_moments(self.moments_of(samples)),
        }
        try:
            result = runners[test]()
        except StatisticsError as exc:
            self.untestable(spec, str(exc))
            return
        self.add_test(spec, result)

    # the aggregates of the tests (the engine path computes them in SQL) -------------------

    def moments_of(self, samples) -> list:
        """Size, mean and sum of squared deviations of each sample."""
        from cohortpress.stats.comparisons import sample_moments

        return [sample_moments(s) for s in samples]

    def rank_sums_of(self, samples):
        """Average ranks of the pooled samples summed by sample, and the ties."""
        from cohortpress.stats.comparisons import rank_sums

        return rank_sums(list(samples))

    def wilcoxon(self, x, y):
        """The Wilcoxon rank-sum test of two samples."""
        from cohortpress.stats.comparisons import wilcoxon_rank_sum

        return wilcoxon_rank_sum(x, y)

    def untestable(self, spec, reason: str) -> None:
        self.results.append(Result("test", "not.tested", reason, variable=spec.variable,
                                   group=self.groups.variable))

    def add_test(self, spec: RowSpec, result) -> None:
        self.test_labels[spec.variable] = spec.label or self.cohort.variable(spec.variable).label
        where = dict(variable=spec.variable, group=self.groups.variable)
        formatted = self.context.format_p(result.p_value)
        self.results.extend(hypothesis_test_records(result, formatted, **where))

    # records ---------------------------------------------------------------------------


def categorical_rule(rule: str, table: np.ndarray) -> str:
    """The test of a categorical row under a section's ``tests`` rule (``test = "auto"``).

    ``default``: Fisher's exact test. ``gtsummary``: as gtsummary's ``add_p`` (its
    ``assign_tests``), Pearson's chi-squared without continuity correction when every
    expected count of the tested table is at least 5 (an empty level gives expected counts
    of 0, hence Fisher), else Fisher's exact test. ``parametric``: Pearson's chi-squared
    without continuity correction.
    """
    if rule == "parametric":
        return "chisq"
    if rule == "gtsummary" and table.size and table.sum() > 0:
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
        return "chisq" if expected.min() >= 5 else "fisher"
    return "fisher"


def continuous_rule(rule: str, n_groups: int) -> str:
    """The test of a continuous row under a section's ``tests`` rule: the Wilcoxon rank-sum
    test (two groups) or Kruskal–Wallis (more) for ``default`` and ``gtsummary``; Welch's t
    test or one-way ANOVA for ``parametric``."""
    if rule == "parametric":
        return "welch" if n_groups == 2 else "anova"
    return "wilcoxon" if n_groups == 2 else "kruskal"
