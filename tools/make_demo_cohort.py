"""Generate cohortpress's built-in demo cohort (synthetic data, no real patients).

The file ``core/data/demo_cohort.csv`` is made by this script once and shipped with the
package, so that plugin authors can test analyses on a realistic small cohort through
:mod:`cohortpress.testing` without any data of their own. Every value is drawn from a seeded
random generator; run the script again to get the same bytes::

    python tools/make_demo_cohort.py            # rewrite core/data/demo_cohort.csv
    python tools/make_demo_cohort.py --check    # exit 1 if the shipped file differs

The cohort: 120 patients randomised 1:1 to arm A or B; age, sex, a tumour stage coded
I–IV with ``9`` for "unknown", a log-normal biomarker (lactate dehydrogenase, U/L) with a few
missing values, and dates of start, death and last contact for an overall-survival endpoint.
Survival is exponential with a hazard that rises with stage and age and is lower in arm B
(hazard ratio 0.65); follow-up ends at loss to follow-up or on the closing date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
from pathlib import Path

import numpy as np

SEED = 42
N_PATIENTS = 120
CLOSING_DATE = dt.date(2023, 6, 30)
OUTPUT = Path(__file__).resolve().parent.parent / "core" / "data" / "demo_cohort.csv"
COLUMNS = ("id", "arm", "age", "sex", "stage", "ldh", "start_date", "death_date",
           "last_contact")


def generate(seed: int = SEED, n: int = N_PATIENTS) -> str:
    """The demo cohort as CSV text (``\\n`` line ends, ISO dates, empty cells for missing)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    arm = np.where(rng.permutation(n) < n // 2, "A", "B")
    age = np.clip(np.round(rng.normal(58.0, 11.0, n)), 24, 86).astype(int)
    sex = np.where(rng.random(n) < 0.45, "F", "M")
    stage_index = rng.choice(4, size=n, p=[0.2, 0.3, 0.3, 0.2])
    stage = np.array(["I", "II", "III", "IV"])[stage_index].astype(object)
    stage[rng.random(n) < 0.08] = "9"  # the "unknown" code
    ldh = np.exp(rng.normal(np.log(220.0), 0.35, n) + 0.12 * stage_index)
    ldh_missing = rng.random(n) < 0.05
    start_offset = rng.integers(0, 4 * 365, n)  # enrolment over four years from 2015
    # Exponential survival: yearly hazard 0.08 at stage I, age 58, arm A.
    log_hazard = (np.log(0.08) + 0.45 * stage_index + 0.03 * (age - 58)
                  + np.where(arm == "B", np.log(0.65), 0.0))
    years_to_death = rng.exponential(1.0 / np.exp(log_hazard))
    years_to_loss = rng.exponential(25.0, n)  # loss to follow-up, about 4% a year

    out = io.StringIO()
    out.write(",".join(COLUMNS) + "\n")
    first_day = dt.date(2015, 1, 1)
    for i in range(n):
        start = first_day + dt.timedelta(days=int(start_offset[i]))
        to_closing = (CLOSING_DATE - start).days
        death_days = int(round(years_to_death[i] * 365.25))
        censor_days = min(int(round(years_to_loss[i] * 365.25)), to_closing)
        died = death_days <= censor_days
        death = start + dt.timedelta(days=max(death_days, 1)) if died else None
        last = death if died else start + dt.timedelta(days=max(censor_days, 1))
        row = (f"D{i + 1:03d}", arm[i], str(age[i]), sex[i], stage[i],
               "" if ldh_missing[i] else f"{ldh[i]:.0f}", start.isoformat(),
               death.isoformat() if death else "", last.isoformat())
        out.write(",".join(row) + "\n")
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true",
                        help="compare with the file instead of writing it")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} differs from the generator's output; run "
                  f"'python tools/make_demo_cohort.py'", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8", newline="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
