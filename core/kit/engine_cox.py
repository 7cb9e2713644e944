"""Cox models on the engine path: the SQL of the aggregate scans, and the models' table.

The rows never leave the engine. Design columns are SQL expressions of the view's codes
(a factor's indicators ``CASE WHEN x = code``, a binary's positive level, a continuous
value, an interaction's products), each model's rows its complete cases (as
:func:`~cohortpress.kit.design.build_design`). The section's columns are first stored in
the engine sorted by stratum, time and group key (:func:`engine_cox_models`); the
queries, each ONE pass over those rows covering every model of the section:

1. counts: each model's complete cases and events, and the level codes present (they fix
   the reference levels and the indicator columns, as in memory), and
2. moments per stratum: sums, extremes and cross-products of the columns (centring, the
   constant and collinearity checks) -- both grouped by (stratum, group key)
   (:mod:`~cohortpress.kit.engine_cox_groups`);
3. one per Newton iteration: per (stratum, time), the sums of ``exp(eta)``,
   ``x exp(eta)`` and ``x x' exp(eta)`` over all rows and over the events, for every model
   still iterating (:func:`cohortpress.stats.coxph.aggregate.fit_cox_aggregated`): the
   multivariable model and each univariable one together, then the likelihood-ratio
   refits without each factor, warm-started from the multivariable estimate.

When the distinct times are too many for sums per time (exact times in a registry: about
one per patient), the rows are instead stored sorted by decreasing time and streamed to
each Newton step in chunks (:mod:`~cohortpress.kit.engine_cox_stream`); the numbers are
the same.

The table is then built by the same skeleton as in memory
(:func:`~cohortpress.kit.regression.fit_column`), reading the fits made here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from cohortpress.common.errors import DataError, StatisticsError
from cohortpress.data.engine.backend import quoted
from cohortpress.data.engine.cohort import status_column, time_column
from cohortpress.kit.design import Term, factor_term
from cohortpress.kit.engine_cox_groups import grouped_moments, profile_counts
from cohortpress.kit.engine_cox_scan import Scanner, group_key_sql
from cohortpress.kit.engine_cox_stream import StreamScanner
from cohortpress.kit.regression import (Fitted, FittedModels, ModelColumn, RegressionModel,
                                        estimates_from, fit_column)
from cohortpress.stats.common import TestResult
from cohortpress.stats.coxph.aggregate import (AggregateFit, AggregateModel,
                                               fit_cox_aggregated)
from cohortpress.stats.coxph.aggregate_tests import cox_zph_aggregated, lr_test_aggregated

__all__ = ["EngineDesign", "engine_cox_models", "CONCORDANCE_NOTE", "streamed_note"]


def streamed_note(scanner) -> str | None:
    """The methods sentence of models fitted from streamed rows (None when grouped)."""
    if not isinstance(scanner, StreamScanner):
        return None
    return (f"The endpoint has about {scanner.distinct_times:,} distinct times, too many for "
            f"sums per time: at each Newton step the models read the patients' rows from the "
            f"engine in chunks of {scanner.chunk_rows:,}, in decreasing time, keeping only "
            f"running sums.")


#: Said in the records and the table when the engine path leaves Harrell's C out.
CONCORDANCE_NOTE = ("Harrell's concordance was not computed: it compares pairs of patients, "
                    "which the aggregates of the engine path do not give.")


@dataclass(frozen=True, eq=False)
class EngineDesign:
    """A model's design as SQL over the view: one expression per column, and the condition
    selecting its complete cases; the attributes the regression skeleton reads of a
    :class:`~cohortpress.kit.design.Design`."""

    names: tuple[str, ...]
    terms: tuple[Term, ...]
    expressions: tuple[str, ...]
    condition: str
    n: int
    n_total: int
    events: int
    #: Per column, the (variable, code) pairs whose indicators' product it is (a factor
    #: level, a product of factor levels), or None for a column of the rows' values.
    keys: tuple = ()
    #: The factor (categorical, binary) variables whose codes the rows must have.
    key_variables: tuple[str, ...] = ()
    #: The complete-case condition on the model's continuous variables only.
    row_condition: str = "TRUE"

    @property
    def n_dropped(self) -> int:
        return self.n_total - self.n

    def references(self) -> dict[str, str]:
        return {t.variable: t.reference for t in self.terms if t.reference is not None}


def _complete(cohort, variables: Sequence[str], strata: str | None) -> str:
    names = list(variables) + ([strata] if strata else [])
    return " AND ".join(f"{cohort.column(v)} IS NOT NULL" for v in names) or "TRUE"


def _continuous(cohort, variables: Sequence[str]) -> list[str]:
    return [v for v in variables if cohort.variable(v).kind == "continuous"]


# --------------------------------------------------------------------------- designs

def _design(cohort, key, variables, condition, counts, references, interactions) -> EngineDesign:
    """The design of one model, as :func:`~cohortpress.kit.design.build_design` makes it."""
    names, terms, expressions, keys = [], [], [], []
    parts = {}
    for name in variables:
        info = cohort.variable(name)
        column = cohort.column(name)
        if info.kind == "continuous":
            term = Term(name, info.label_with_unit(), "continuous", (name,))
            sql = (f"CAST({column} AS DOUBLE)",)
            key_of = (None,)
            parts[name] = (term, sql, ("",), key_of)
        elif info.kind in ("categorical", "binary"):
            present = {code for code in range(len(info.levels)) if counts[key, name, code]}
            term = factor_term(name, info, present, (references or {}).get(name))
            codes = [list(info.levels).index(level) for level in term.levels[1:]]
            sql = tuple(f"(CASE WHEN {column} = {code} THEN 1.0 ELSE 0.0 END)"
                        for code in codes)
            key_of = tuple(((name, code),) for code in codes)
            parts[name] = (term, sql, term.levels[1:], key_of)
        else:
            raise DataError(f"covariate '{name}' is {info.kind}; models take categorical, "
                            f"binary or continuous variables", column=name)
        terms.append(term)
        names.extend(term.columns)
        expressions.extend(sql)
        keys.extend(key_of)
    for a, b in interactions:
        term, sql, key_of = _interaction(cohort, parts, counts, (a, b))
        terms.append(term)
        names.extend(term.columns)
        expressions.extend(sql)
        keys.extend(key_of)
    factors = tuple(v for v in variables if cohort.variable(v).kind != "continuous")
    continuous = _continuous(cohort, variables)
    return EngineDesign(tuple(names), tuple(terms), tuple(expressions), condition,
                        counts[key, "n"], cohort.n, counts[key, "events"], tuple(keys),
                        factors, _complete(cohort, continuous, None))


def _interaction(cohort, parts, counts, pair):
    """The products of two terms' columns, the first one's varying fastest; a product of
    two factor levels no patient has is left out (as in memory)."""
    (a, xa, la, ka), (b, xb, lb, kb) = parts[pair[0]], parts[pair[1]]
    cols, sql, levels, keys = [], [], [], []
    for j, level_b in enumerate(lb):
        for i, level_a in enumerate(la):
            if a.is_factor and b.is_factor:
                code_a = list(cohort.variable(a.variable).levels).index(level_a)
                code_b = list(cohort.variable(b.variable).levels).index(level_b)
                if not counts["multi", tuple(pair), (code_a, code_b)]:
                    continue
            cols.append(f"{a.columns[i]}:{b.columns[j]}")
            sql.append(f"({xa[i]} * {xb[j]})")
            keys.append(None if ka[i] is None or kb[j] is None else ka[i] + kb[j])
            levels.append(" \u00d7 ".join(lv for lv in (level_a, level_b) if lv))
    term = Term(f"{pair[0]}:{pair[1]}", f"{a.label} \u00d7 {b.label}", "interaction",
                tuple(cols), tuple(levels), parents=(pair[0], pair[1]))
    return term, tuple(sql), tuple(keys)


# --------------------------------------------------------------------------- moments

#: The stratum column stored with the rows (a name no variable has).
STRATUM = "cohortpress_stratum"
#: The group key (event indicator and factor codes, :func:`group_key_sql`) stored with them.
GROUP_KEY = "cohortpress_group_key"


def _stratum(cohort, strata: str | None) -> str:
    return cohort.column(strata) if strata else "CAST(0 AS INTEGER)"


# --------------------------------------------------------------------------- models

class _Read(RegressionModel):
    """The regression skeleton's model, reading the fits made from aggregates."""

    def __init__(self, fits: dict, tests: dict, separation_reason: str):
        self.fits = fits
        self.tests = tests
        self.separation_reason = separation_reason

    def fit(self, design):
        answer = self.fits[id(design)]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def estimates(self, design, fitted, column):
        fit = fitted.fit
        return estimates_from(fit.names, fit.coef, fit.se, fit.z, fit.p, fit.hr,
                              fit.conf_low, fit.conf_high)

    def counts(self, design, fitted):
        return design.n, design.events

    def term_test(self, design, columns, fitted) -> float:
        return self.term_test_result(design, columns, fitted).p_value

    def term_test_result(self, design, columns, fitted) -> TestResult:
        answer = self.tests[id(design), tuple(columns)]
        if isinstance(answer, Exception):
            raise answer
        return answer


def engine_cox_models(cohort, options, separation_reason: str
                      ) -> tuple[FittedModels, Scanner | StreamScanner]:
    """The section's Cox models from aggregates, as :func:`~cohortpress.kit.regression.fit_models`
    gives them in memory (``follow_up`` is the multivariable model's ``cox.zph``; there is
    no concordance). Returns the models and the scanner (its ``scans`` count the passes).

    Every query reads the rows the section needs stored once in the engine
    (:meth:`~cohortpress.data.engine.cohort.EngineCohort.stored_rows`), sorted by stratum,
    time and group key: the view's typing runs once instead of once per Newton step, and
    the scans' grouping then meets each group's rows together (about 4 times faster at
    10^7 rows than grouping the view's rows in file order). When the sums per time would
    not fit in memory, or be nearly as many as the rows (:func:`_streams`), the rows are
    stored by decreasing time instead and streamed."""
    endpoint = cohort.endpoint(options.endpoint)
    factors = [v for v in options.covariates if cohort.variable(v).kind != "continuous"]
    names = list(options.covariates) + ([options.strata] if options.strata else [])
    names += [time_column(endpoint.name), status_column(endpoint.name)]
    computed = {STRATUM: _stratum(cohort, options.strata),
                GROUP_KEY: group_key_sql(cohort, factors, endpoint)}
    times, streamed = _streams(cohort, endpoint, options, computed[STRATUM])
    if streamed:  # stored once, in the order the stream reads them
        order, descending = [time_column(endpoint.name)], True
    else:
        order, descending = [STRATUM, time_column(endpoint.name), GROUP_KEY], False
    with cohort.stored_rows(names, computed, order, descending=descending) as rows:
        models, scanner = _fit_models(rows, options, separation_reason, factors, streamed)
    scanner.distinct_times = times
    return models, scanner


#: The most memory the per-time sums of one scan of a section's models may take (bytes);
#: beyond it the rows are streamed (:mod:`~cohortpress.kit.engine_cox_stream`).
TIME_SUMS_LIMIT = 4 * 2**30
#: Streamed too, for speed, when a cohort of at least STREAM_MIN_ROWS rows has distinct
#: times for at least this fraction of them: grouping then hardly shrinks the rows, and
#: the grouped scans' sums per time cost more than the stream (10^6 rows, 6 covariates:
#: exact times 71 s grouped, 10 s streamed; times to the day 4 s grouped, 11 s streamed).
STREAM_FRACTION = 0.1
STREAM_MIN_ROWS = 100_000


def _streams(cohort, endpoint, options, stratum_sql: str) -> tuple[int, bool]:
    """The endpoint's distinct times (approximately), and whether the section's sums per
    distinct time would exceed :data:`TIME_SUMS_LIMIT` (or be nearly as many as the rows,
    :data:`STREAM_FRACTION`), so that the rows are streamed instead; on an engine that
    keeps its rows, a fit beyond the limit is refused in one line.

    Each grouped scan gives every model, per distinct (stratum, time), its count, events,
    weight sums, and the sums of its columns and their products over all rows and over the
    events: ``4 + 2p + p(p + 1)`` numbers, held about three times over while the risk sets
    are summed. Times recorded to the day give a registry thousands of distinct times;
    exact times give about one per patient. The distinct times are counted approximately
    (HyperLogLog) in one query of the view, before the rows are stored (sorted as the fit
    will read them: a second sort of 10^7 rows cost seconds); ``p`` is bounded by the
    covariates' levels."""
    found = cohort.query(f"SELECT approx_count_distinct({endpoint.time}) AS n FROM {{cohort}} "
                         f"GROUP BY {stratum_sql}")
    times = int(found["n"].fillna(0).sum())
    widths = _column_counts(cohort, options)
    needed = times * sum(3 * 8 * (4 + 2 * p + p * (p + 1)) for p in widths)
    many = cohort.n >= STREAM_MIN_ROWS and times >= STREAM_FRACTION * cohort.n
    if needed <= TIME_SUMS_LIMIT:
        return times, many and cohort.backend.streams_rows
    if not cohort.backend.streams_rows:
        raise DataError(
            f"endpoint '{endpoint.name}' has about {times:,} distinct times: the Cox fit "
            f"from aggregates would keep sums per time for its {len(widths)} models, about "
            f"{needed / 2**30:.0f} GB (at most {TIME_SUMS_LIMIT / 2**30:.0f} GB), and this "
            f"engine keeps its rows (only aggregates are read from it); with times recorded "
            f"to the day they are far fewer; else fit fewer models (univariable = false)")
    return times, True


def _column_counts(cohort, options) -> list[int]:
    """At most how many design columns each model of the section has."""
    def columns(name: str) -> int:
        info = cohort.variable(name)
        return 1 if info.kind == "continuous" else max(len(info.levels) - 1, 1)

    multi = sum(columns(v) for v in options.covariates)
    multi += sum(columns(a) * columns(b) for a, b in options.interactions)
    singles = [columns(v) for v in options.covariates] if options.univariable else []
    return ([multi] if options.multivariable else []) + singles


def _fit_models(cohort, options, separation_reason: str, factors,
                streamed: bool) -> tuple[FittedModels, Scanner | StreamScanner]:
    """:func:`engine_cox_models` on the stored rows (their stratum and key computed)."""
    endpoint = cohort.endpoint(options.endpoint)
    strata = options.strata
    covariates = list(options.covariates)
    interactions = [tuple(pair) for pair in options.interactions]
    univariable = options.univariable
    singles = [v for v in covariates] if univariable else []
    stratum, key = quoted(STRATUM), quoted(GROUP_KEY)
    models = {"multi": (covariates, _complete(cohort, _continuous(cohort, covariates), None))}
    for name in singles:
        models["uni", name] = ([name], _complete(cohort, _continuous(cohort, [name]), None))
    counts = profile_counts(cohort, models, interactions, factors, stratum, key)
    complete = _complete(cohort, covariates, strata)
    full = _design(cohort, "multi", covariates, complete, counts, None, interactions)
    references = full.references()
    designs = {"multi": full}
    for name in singles:
        designs["uni", name] = _design(cohort, ("uni", name), [name],
                                       _complete(cohort, [name], strata), counts, references, ())
    wants_multi = options.multivariable and (len(full.terms) > 1 or not univariable)
    fitting = {key: d for key, d in designs.items()
               if d.n > 0 and (key != "multi" or wants_multi)}
    moments = grouped_moments(cohort, fitting, factors, stratum, key) if fitting else {}
    if streamed:
        zph = {"multi": "km"} if options.ph_check != "none" else {}
        scanner = StreamScanner(cohort, endpoint, stratum, designs, {}, zph)
    else:
        scanner = Scanner(cohort, endpoint, stratum, designs, {}, factors, key)
    ready = [m for m in moments.values() if isinstance(m, AggregateModel)]
    fitted = dict(zip([m.key for m in ready],
                      fit_cox_aggregated(ready, scanner, options.ties,
                                         conf_level=options.conf_level)))
    fits = {}
    for key, design in fitting.items():
        answer = moments[key] if isinstance(moments[key], StatisticsError) else fitted[key]
        fits[id(design)] = answer if isinstance(answer, StatisticsError) \
            else Fitted(answer.fit, answer)
    tests = _term_tests(full, fits, scanner, options, wants_multi)
    for key, design in fitting.items():
        if key != "multi":
            _null_term_tests(design, fits, tests)
    reader = _Read(fits, tests, separation_reason)
    columns = []
    layout = {t.variable: t for t in full.terms}
    if univariable:
        singles_columns = []
        for name in singles:
            design = designs["uni", name]
            column, _ = fit_column(reader, "Univariable", design)
            singles_columns.append(column)
            layout[name] = design.terms[0]
        columns.append(ModelColumn.combined("Univariable", singles_columns))
    out = FittedModels(full, [layout[t.variable] for t in full.terms], columns)
    if wants_multi:
        column, multi = fit_column(reader, "Multivariable", full)
        columns.append(column)
        out.multivariable = multi
        if options.ph_check != "none":
            out.follow_up = _zph(column, full, multi, scanner)
    return out, scanner


def _term_tests(full: EngineDesign, fits: dict, scanner: Scanner, options, wants_multi) -> dict:
    """The likelihood-ratio tests of the multivariable model's factors with more than one
    column (and interactions): the refits, warm-started, share each scan."""
    tests = {}
    answer = fits.get(id(full)) if wants_multi else None
    if answer is None or isinstance(answer, StatisticsError):
        return tests
    fit, model = answer.fit, answer.data.model
    refits, dropped = [], {}
    for term in full.terms:
        if len(term.columns) <= 1 and term.kind != "interaction":
            continue
        keep = [j for j, name in enumerate(full.names) if name not in term.columns]
        dropped[term.columns] = keep
        if keep:
            key = ("refit", term.variable)
            scanner.subsets[key] = ("multi", keep)
            refits.append((term.columns, model.subset(keep, key, fit.coef[keep])))
    results = fit_cox_aggregated([m for _, m in refits], scanner, options.ties,
                                 conf_level=options.conf_level) if refits else []
    by_columns = {columns: r for (columns, _), r in zip(refits, results)}
    for columns, keep in dropped.items():
        reduced = by_columns.get(columns)
        if isinstance(reduced, AggregateFit):
            reduced = reduced.fit
        try:
            tests[id(full), columns] = lr_test_aggregated(fit, reduced, len(columns))
        except StatisticsError as exc:
            tests[id(full), columns] = exc
    return tests


def _null_term_tests(design: EngineDesign, fits: dict, tests: dict) -> None:
    """A univariable model's factor against the null model: no refit."""
    answer = fits.get(id(design))
    if answer is None or isinstance(answer, StatisticsError):
        return
    for term in design.terms:
        tests[id(design), tuple(term.columns)] = lr_test_aggregated(answer.fit, None,
                                                                    len(term.columns))


def _zph(column: ModelColumn, design: EngineDesign, fitted: Fitted | None, scanner):
    """R's ``cox.zph(transform = "km")`` of a model that converged with no flag."""
    if fitted is None or not fitted.fit.converged or column.flags:
        return None
    groups = {t.variable: list(t.columns) for t in design.terms}
    try:
        if isinstance(scanner, StreamScanner):
            return scanner.zph(fitted.data, "km", groups)
        return cox_zph_aggregated(fitted.data, transform="km", groups=groups)
    except StatisticsError:
        return None


def aggregates_refusal(options) -> str | None:
    """Why these cox options need the patients' rows, naming the option; None when the
    section runs from aggregates."""
    if options.splines:
        return "splines need the patients' rows (a spline basis is fitted to the values)"
    if options.robust:
        return "robust = true needs the patients' rows (sandwich variance from residuals)"
    if options.cluster is not None:
        return "cluster needs the patients' rows (sandwich variance from residuals)"
    return None
