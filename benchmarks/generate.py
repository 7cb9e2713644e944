"""Seeded synthetic cohorts for the performance benchmark, 10^3 to 10^7 patients.

Every value is drawn from a seeded random generator: the files describe no real patients.
One cohort is written as CSV and/or Parquet, with a matching ``report.toml``:

- ``patient_id`` and ``arm`` (two arms, A and B);
- eight Table 1 variables: ``age`` (continuous), ``sex``, ``stage`` (I-IV, with the code 9
  for unknown), ``crp`` (a right-skewed biomarker, some values missing), ``bulky`` (a 0/1
  flag), ``histology`` (four levels), ``diagnosis_date`` (an ISO date) and ``bmi``
  (continuous, some missing);
- two endpoints as time/event columns in years: ``efs_years``/``efs_event`` and
  ``os_years``/``os_event`` (EFS <= OS; an event-free patient's EFS ends at last contact);
- three columns the report does not use (``site``, ``comment``, ``lab_batch``), so that
  reading only the needed columns is exercised.

The hazards depend on the covariates, so the Cox model has real effects to find. Six Cox
covariates: age, sex, stage, bulky, histology and bmi.

Rows are generated in chunks of at most 1,000,000 with a seed per chunk (``SeedSequence
(seed).spawn``), so memory stays bounded at 10^7 rows and a given (seed, size) always gives
the same files.

    python benchmarks/generate.py --sizes 1e3,1e6 [--format csv|parquet|both]
        [--times days|exact] [--output benchmarks/data] [--seed 20240531]

Files: ``<output>/n<size>[-exact]/cohort.csv``, ``cohort.parquet``, ``report.toml``
(``report.toml`` reads the Parquet file when it exists, else the CSV; the benchmark runner
writes its own config per format).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "data"
DEFAULT_SEED = 20240531
CHUNK = 1_000_000
DAYS_PER_YEAR = 365.25

SEXES = np.array(["F", "M"])
STAGES = np.array(["I", "II", "III", "IV", "9"])          # 9: unknown (a missing code)
STAGE_P = np.array([0.25, 0.30, 0.25, 0.15, 0.05])
HISTOLOGY = np.array(["adenocarcinoma", "squamous", "large cell", "other"])
HISTOLOGY_P = np.array([0.45, 0.30, 0.15, 0.10])
SITES = np.array(["Antwerp", "Brussels", "Ghent", "Leuven", "Liege", "Namur"])
COMMENTS = np.array(["", "reviewed", "second opinion", "data query open, see CRF p. 3"])

COLUMNS = ("patient_id", "arm", "age", "sex", "stage", "crp", "bulky", "histology",
           "diagnosis_date", "bmi", "efs_years", "efs_event", "os_years", "os_event",
           "site", "comment", "lab_batch")


def parse_size(text: str) -> int:
    """'1e6', '1000000' or '1_000_000' as an int."""
    value = float(text.replace("_", ""))
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"not a patient count: {text!r}")
    return int(value)


def size_name(n: int) -> str:
    """A short label: 1e3, 1e6, 2.5e5, or the number itself."""
    exponent = int(np.floor(np.log10(n)))
    mantissa = n / 10 ** exponent
    if mantissa == int(mantissa):
        return f"{int(mantissa)}e{exponent}" if mantissa != 1 else f"1e{exponent}"
    return str(n)


def cohort_dir(output: Path, n: int, times: str = "days") -> Path:
    return Path(output) / f"n{size_name(n)}{'' if times == 'days' else '-' + times}"


# --------------------------------------------------------------------------- one chunk


def make_chunk(rng: np.random.Generator, start: int, n: int, times: str):
    """``n`` patients numbered from ``start``, as a pyarrow Table."""
    import pyarrow as pa

    arm_b = rng.random(n) < 0.5
    age = np.clip(rng.normal(62.0, 11.0, n), 18.0, 95.0).round(1)
    male = rng.random(n) < 0.52
    stage_code = rng.choice(len(STAGES), size=n, p=STAGE_P)
    crp = np.exp(rng.normal(1.6, 1.1, n)).round(1)              # mg/L, log-normal
    crp_missing = rng.random(n) < 0.03
    bulky = (rng.random(n) < 0.22 + 0.08 * (stage_code >= 2)).astype(np.int8)
    histology_code = rng.choice(len(HISTOLOGY), size=n, p=HISTOLOGY_P)
    diagnosis_day = rng.integers(0, 12 * 365, n)                 # accrual 2008-2019
    diagnosis = np.datetime64("2008-01-01") + diagnosis_day.astype("timedelta64[D]")
    bmi = np.clip(rng.normal(26.0, 4.5, n), 14.0, 55.0).round(1)
    bmi_missing = rng.random(n) < 0.02

    # Hazards: per year, log-linear in the covariates (unknown stage counts as stage II).
    stage_effect = np.array([0.0, 0.35, 0.8, 1.4, 0.35])[stage_code]
    histology_effect = np.array([0.0, 0.2, 0.35, 0.1])[histology_code]
    log_hazard = (np.log(0.06) + 0.025 * (age - 60.0) + 0.15 * male + stage_effect
                  + 0.3 * bulky + histology_effect + 0.01 * (bmi - 26.0) - 0.25 * arm_b)
    hazard = np.exp(log_hazard)
    death = rng.exponential(1.0 / hazard)
    relapse = rng.exponential(1.0 / (1.6 * hazard))
    # Administrative censoring on 2022-12-31 plus some loss to follow-up.
    administrative = (np.datetime64("2022-12-31") - diagnosis).astype(float) / DAYS_PER_YEAR
    lost = rng.exponential(25.0, n)
    censor = np.minimum(administrative, lost)
    os_time = np.minimum(death, censor)
    os_event = (death <= censor).astype(np.int8)
    efs_end = np.minimum(np.minimum(relapse, death), censor)
    efs_event = (np.minimum(relapse, death) <= censor).astype(np.int8)
    if times == "days":  # recorded as whole days, as registries do
        os_time = np.maximum(np.ceil(os_time * DAYS_PER_YEAR), 1) / DAYS_PER_YEAR
        efs_end = np.maximum(np.ceil(efs_end * DAYS_PER_YEAR), 1) / DAYS_PER_YEAR
        digits = 4
    else:  # continuous times: (almost) every time distinct
        digits = 6
    os_time = os_time.round(digits)
    efs_end = np.minimum(efs_end.round(digits), os_time)

    ids = np.char.add("P", np.char.zfill(np.arange(start + 1, start + n + 1).astype(str), 8))
    comments = COMMENTS[rng.choice(len(COMMENTS), size=n, p=[0.85, 0.08, 0.05, 0.02])]

    def text(values, mask=None):
        return pa.array(values.tolist(), type=pa.string(), mask=mask)

    return pa.table({
        "patient_id": text(ids),
        "arm": text(np.where(arm_b, "B", "A")),
        "age": pa.array(age),
        "sex": text(SEXES[male.astype(int)]),
        "stage": text(STAGES[stage_code]),
        "crp": pa.array(crp, mask=crp_missing),
        "bulky": pa.array(bulky),
        "histology": text(HISTOLOGY[histology_code]),
        "diagnosis_date": text(np.datetime_as_string(diagnosis, unit="D")),
        "bmi": pa.array(bmi, mask=bmi_missing),
        "efs_years": pa.array(efs_end),
        "efs_event": pa.array(efs_event),
        "os_years": pa.array(os_time),
        "os_event": pa.array(os_event),
        "site": text(SITES[rng.integers(0, len(SITES), n)]),
        "comment": text(comments, mask=comments == ""),
        "lab_batch": pa.array(rng.integers(1000, 9999, n)),
    })


# --------------------------------------------------------------------------- files


def write_cohort(n: int, folder: Path, *, formats=("csv", "parquet"), seed: int = DEFAULT_SEED,
                 times: str = "days", quiet: bool = False) -> dict[str, Path]:
    """Write the cohort of ``n`` patients into ``folder``; returns {format: path}."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    paths = {fmt: folder / f"cohort.{fmt}" for fmt in formats}
    partial = {fmt: path.with_name(path.name + ".partial") for fmt, path in paths.items()}
    writers = {}
    seeds = np.random.SeedSequence([seed, n, 0 if times == "days" else 1]).spawn(
        (n + CHUNK - 1) // CHUNK)
    started = time.perf_counter()
    try:
        for index, child in enumerate(seeds):
            start = index * CHUNK
            table = make_chunk(np.random.default_rng(child), start, min(CHUNK, n - start),
                               times)
            if not writers:
                if "csv" in formats:
                    writers["csv"] = pacsv.CSVWriter(
                        str(partial["csv"]), table.schema,
                        write_options=pacsv.WriteOptions(quoting_style="needed"))
                if "parquet" in formats:
                    writers["parquet"] = pq.ParquetWriter(str(partial["parquet"]),
                                                          table.schema, compression="snappy")
            for writer in writers.values():
                writer.write_table(table)
        for writer in writers.values():
            writer.close()
        writers = {}
        for fmt in formats:
            partial[fmt].replace(paths[fmt])
    finally:
        for writer in writers.values():
            writer.close()
        for path in partial.values():
            path.unlink(missing_ok=True)
    if not quiet:
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in paths.values())
        print(f"generated {n:,} patients in {time.perf_counter() - started:.1f} s: {sizes}",
              file=sys.stderr)
    return paths


REPORT_TOML = """\
# Benchmark config for a SYNTHETIC cohort of {n:,} patients (benchmarks/generate.py,
# seed {seed}); it describes no real patients.

[report]
title = "cohortpress benchmark: {n:,} synthetic patients"
notice = "Synthetic data drawn from a seeded random generator; no real patients."
date = "2024-05-31"

[cohort]
path = "{cohort}"
id = "patient_id"
group = "arm"

[variables.arm]
label = "Treatment arm"
levels = ["A", "B"]
labels = {{ A = "Standard", B = "Experimental" }}
reference = "A"

[variables.age]
label = "Age at diagnosis"
kind = "continuous"
unit = "years"

[variables.sex]
label = "Sex"
levels = ["F", "M"]
labels = {{ F = "Female", M = "Male" }}

[variables.stage]
label = "Stage"
levels = ["I", "II", "III", "IV"]
missing = [9]

[variables.crp]
label = "C-reactive protein"
kind = "continuous"
unit = "mg/L"

[variables.bulky]
label = "Bulky disease"
kind = "binary"
levels = [0, 1]
labels = {{ 0 = "No", 1 = "Yes" }}
positive = 1

[variables.histology]
label = "Histology"
levels = ["adenocarcinoma", "squamous", "large cell", "other"]
labels = {{ adenocarcinoma = "Adenocarcinoma", squamous = "Squamous cell", "large cell" = "Large cell", other = "Other" }}

[variables.diagnosis_date]
label = "Date of diagnosis"
kind = "date"

[variables.bmi]
label = "Body-mass index"
kind = "continuous"
unit = "kg/m\u00b2"

[endpoints.efs]
label = "Event-free survival"
unit = "years"
time = "efs_years"
time_unit = "years"
event = "efs_event"

[endpoints.os]
label = "Overall survival"
unit = "years"
time = "os_years"
time_unit = "years"
event = "os_event"

[[section]]
id = "table1"
analysis = "demographics"
title = "Patient characteristics"
variables = [
  "age",
  "sex",
  "stage",
  {{ variable = "crp", stat = "median_iqr" }},
  "bulky",
  "histology",
  "diagnosis_date",
  {{ variable = "bmi", stat = "mean_sd" }},
]

[[section]]
id = "survival"
analysis = "survival"
title = "Survival"
endpoints = ["efs", "os"]
landmarks = [1, 3, 5]
figure = true

[[section]]
id = "cox"
analysis = "cox"
title = "Cox regression for overall survival"
endpoint = "os"
covariates = ["age", "sex", "stage", "bulky", "histology", "bmi"]
"""


def write_report_toml(folder: Path, cohort_file: str, n: int, seed: int = DEFAULT_SEED,
                      name: str = "report.toml") -> Path:
    path = folder / name
    path.write_text(REPORT_TOML.format(n=n, seed=seed, cohort=cohort_file), encoding="utf-8")
    return path


def ensure_cohort(n: int, output: Path = DEFAULT_OUTPUT, *, formats=("csv", "parquet"),
                  seed: int = DEFAULT_SEED, times: str = "days", quiet: bool = False) -> Path:
    """The folder of the cohort of ``n`` patients, generating what is missing."""
    folder = cohort_dir(output, n, times)
    stamp = folder / "generated.txt"
    expected = f"n={n} seed={seed} times={times}\n"
    stale = not stamp.exists() or stamp.read_text() != expected
    missing = [f for f in formats if stale or not (folder / f"cohort.{f}").exists()]
    if missing:
        if stale:
            stamp.unlink(missing_ok=True)
            for fmt in ("csv", "parquet"):
                (folder / f"cohort.{fmt}").unlink(missing_ok=True)
        write_cohort(n, folder, formats=tuple(missing), seed=seed, times=times, quiet=quiet)
        stamp.write_text(expected)
    preferred = "cohort.parquet" if (folder / "cohort.parquet").exists() else "cohort.csv"
    write_report_toml(folder, preferred, n, seed)
    for fmt in ("csv", "parquet"):
        if (folder / f"cohort.{fmt}").exists():
            write_report_toml(folder, f"cohort.{fmt}", n, seed, name=f"report-{fmt}.toml")
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e3",
                        help="comma-separated patient counts, e.g. 1e3,1e6 (default 1e3)")
    parser.add_argument("--format", choices=("csv", "parquet", "both"), default="both")
    parser.add_argument("--times", choices=("days", "exact"), default="days",
                        help="follow-up recorded in whole days (default; ties, as in "
                             "registries) or continuous (nearly every time distinct)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    formats = ("csv", "parquet") if args.format == "both" else (args.format,)
    for text in args.sizes.split(","):
        n = parse_size(text.strip())
        folder = ensure_cohort(n, args.output, formats=formats, seed=args.seed,
                               times=args.times)
        print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
