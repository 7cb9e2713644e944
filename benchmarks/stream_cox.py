"""Time the streamed Cox fit without the engine: the benchmark section's models on rows
made in memory, streamed in chunks as DuckDB would give them.

    python benchmarks/stream_cox.py [--rows 2e6] [--strata 1] [--repeat 1]
                                    [--save FILE.npz] [--compare FILE.npz]

The rows are drawn as ``benchmarks/generate.py`` draws the cohort (continuous times
recorded to 6 digits: some ties), with the section's covariates (age, sex, stage, bulky,
histology, bmi; stage and bmi with missing values). A fake cohort hands
:class:`~cohortpress.kit.engine_cox_stream.StreamScanner` the chunks of its one query, so
the timed work is the scanner's own: the multivariable model (10 columns) and the six
univariable ones fitted together by :func:`~cohortpress.stats.coxph.aggregate.fit_cox_aggregated`,
then the multivariable model's ``cox.zph``. Prints the CPU seconds of each part;
``--save`` keeps the numbers and ``--compare`` checks them against kept ones (the
largest relative difference of each), to show that a faster scan gives the same fit.
"""

from __future__ import annotations

import argparse
import sys
import time
from types import SimpleNamespace

import numpy as np

from cohortpress.kit.engine_cox_stream import StreamScanner
from cohortpress.stats.coxph.aggregate import AggregateModel, fit_cox_aggregated

CHUNK_ROWS = 1 << 16
#: Design columns: (name, variable, value of the row's draw) -- see ``_rows``.
VARIABLES = ("age", "sex", "stage", "bulky", "histology", "bmi")


def _rows(n: int, strata: int, seed: int = 20240531) -> dict:
    """The rows in decreasing time: ``t``, ``e``, ``s`` and each design column (NaN where
    the variable is missing)."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(62.0, 11.0, n), 18.0, 95.0).round(1)
    male = (rng.random(n) < 0.52).astype(float)
    stage = rng.choice(5, size=n, p=[0.2, 0.3, 0.25, 0.2, 0.05])  # 4: missing
    bulky = (rng.random(n) < 0.25).astype(float)
    histology = rng.choice(4, size=n, p=[0.45, 0.3, 0.15, 0.1])
    bmi = np.clip(rng.normal(26.0, 4.5, n), 14.0, 55.0).round(1)
    bmi[rng.random(n) < 0.02] = np.nan
    hazard = np.exp(np.log(0.06) + 0.025 * (age - 60.0) + 0.15 * male
                    + np.array([0.0, 0.35, 0.8, 1.4, 0.35])[stage] + 0.3 * bulky
                    + np.array([0.0, 0.2, 0.35, 0.1])[histology]
                    + 0.01 * np.nan_to_num(bmi - 26.0))
    death = rng.exponential(1.0 / hazard)
    censor = np.minimum(rng.uniform(0.0, 15.0, n), rng.exponential(25.0, n))
    time_ = np.minimum(death, censor).round(6)
    columns = {"t": time_, "e": (death <= censor).astype(float),
               "s": rng.integers(0, strata, n).astype(float), "age": age, "sex": male}
    for level in (1, 2, 3):
        columns[f"stage{level}"] = np.where(stage == 4, np.nan, (stage == level) * 1.0)
    columns["bulky"] = bulky
    for level in (1, 2, 3):
        columns[f"histology{level}"] = (histology == level) * 1.0
    columns["bmi"] = bmi
    order = np.argsort(-time_, kind="stable")
    return {k: v[order] for k, v in columns.items()}


DESIGN = {"age": ["age"], "sex": ["sex"], "stage": ["stage1", "stage2", "stage3"],
          "bulky": ["bulky"], "histology": ["histology1", "histology2", "histology3"],
          "bmi": ["bmi"]}


def _designs(rows: dict):
    """The scanner's designs (expressions: the column names; condition: which variables
    must be present) and each model's :class:`AggregateModel`."""
    keys = {"multi": list(VARIABLES), **{("uni", v): [v] for v in VARIABLES}}
    designs, models = {}, []
    for key, variables in keys.items():
        columns = [c for v in variables for c in DESIGN[v]]
        condition = " AND ".join(v for v in variables if v in ("stage", "bmi")) or "TRUE"
        designs[key] = SimpleNamespace(expressions=tuple(columns), condition=condition)
        complete = _complete(rows, condition)
        x = np.column_stack([rows[c][complete] for c in columns])
        strata = np.unique(rows["s"][complete])
        stratum = rows["s"][complete]
        means = x.mean(axis=0)
        centred = x - means
        event = rows["e"][complete] == 1
        low = np.array([centred[stratum == s].min(axis=0) for s in strata])
        high = np.array([centred[stratum == s].max(axis=0) for s in strata])
        models.append(AggregateModel(key, tuple(columns), means, x.std(axis=0),
                                     centred[event].sum(axis=0), low, high, strata,
                                     int(complete.sum()), int(event.sum())))
    return designs, models


def _complete(rows: dict, condition: str) -> np.ndarray:
    complete = np.ones(rows["t"].size, dtype=bool)
    for variable in ("stage", "bmi"):
        if variable in condition:
            complete &= ~np.isnan(rows[DESIGN[variable][0]])
    return complete


class _Cohort:
    """What the scanner asks of a cohort: its rows' columns in chunks, as the engine gives
    them (the scanner's SQL names them t, m<k>, s, e, x<k>)."""

    def __init__(self, rows: dict):
        self.rows = rows
        self.scanner = None

    def stream_columns(self, sql: str, rows: int):
        scanner = self.scanner
        out = {"t": self.rows["t"], "s": self.rows["s"], "e": self.rows["e"]}
        for k, condition in enumerate(scanner.conditions):
            out[f"m{k}"] = _complete(self.rows, condition).astype(np.int32)
        for k, column in enumerate(scanner.expressions):
            out[f"x{k}"] = self.rows[column]
        if "x0" not in sql:
            out = {k: v for k, v in out.items() if k == "t" or k.startswith("m")}
        for lo in range(0, self.rows["t"].size, rows):
            yield {k: v[lo:lo + rows].copy() for k, v in out.items()}


def run(n: int, strata: int) -> tuple[dict, dict]:
    rows = _rows(n, strata)
    designs, models = _designs(rows)
    cohort = _Cohort(rows)
    endpoint = SimpleNamespace(time="t", status="e")
    scanner = StreamScanner(cohort, endpoint, "s", designs, {}, {"multi": "km"})
    cohort.scanner = scanner
    seconds = {}
    started = time.process_time()
    fits = fit_cox_aggregated(models, scanner)
    seconds["fit"] = time.process_time() - started
    started = time.process_time()
    groups = {v: DESIGN[v] for v in VARIABLES}
    zph = scanner.zph(fits[0], "km", groups)
    seconds["zph"] = time.process_time() - started
    numbers = {"scans": np.array(scanner.scans), "zph.chisq": np.asarray(zph.chisq),
               "zph.global": np.asarray(zph.global_test.statistic)}
    for model, fit in zip(models, fits):
        name = model.key if isinstance(model.key, str) else "_".join(model.key)
        numbers[f"{name}.coef"] = np.asarray(fit.fit.coef)
        numbers[f"{name}.var"] = np.asarray(fit.fit.var)
        numbers[f"{name}.loglik"] = np.asarray(fit.fit.loglik)
        numbers[f"{name}.iter"] = np.asarray(fit.fit.iterations)
        numbers[f"{name}.information"] = np.asarray(fit.terms.information)
    return seconds, numbers


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="2e6")
    parser.add_argument("--strata", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--save")
    parser.add_argument("--compare")
    args = parser.parse_args(argv)
    n = int(float(args.rows))
    for _ in range(args.repeat):
        seconds, numbers = run(n, args.strata)
        print(f"{n:,} rows, {args.strata} strata, {int(numbers['scans'])} scans: "
              f"fit {seconds['fit']:.2f} CPU-s, zph {seconds['zph']:.2f} CPU-s", flush=True)
    if args.save:
        np.savez(args.save, **numbers)
    if args.compare:
        kept = np.load(args.compare)
        worst = 0.0
        for name in kept.files:
            a, b = np.asarray(kept[name], dtype=float), np.asarray(numbers[name], dtype=float)
            scale = np.maximum(np.abs(a), np.abs(b))
            diff = np.where(scale > 0, np.abs(a - b) / np.where(scale > 0, scale, 1), 0)
            worst = max(worst, float(diff.max(initial=0.0)))
            if diff.max(initial=0.0) > 1e-12:
                print(f"  {name}: relative difference {diff.max():.2e}")
        print(f"largest relative difference: {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
