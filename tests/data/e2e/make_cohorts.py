#!/usr/bin/env python3
"""Generate the SYNTHETIC cohorts of the end-to-end tests against R (tests/test_e2e_vs_r.py).

Run from anywhere:  python make_cohorts.py
It writes trial3.csv and small2.csv beside itself, byte-identical on every run: the only
random primitive is ``random.Random(seed).random()``, which CPython reproduces across
versions; every other draw is derived from it by inversion. The values describe no patients.

trial3.csv, a 3-arm trial of 300 patients, unlike the sample reports:
  arm coded 0/1/2 with display labels; centre (a stratum, a few missing); sex F/M; age in
  whole years (ties, 3 missing); stage I-IV with the code 9 for unknown; ECOG 0/1/2 coded as
  numbers (sparse level 2); CRP right-skewed (log-normal, ~8% missing); tumour response
  yes/no with "not evaluable" as a missing code; dates of randomisation, progression, death
  and last contact (death without progression is a competing event for progression; two
  patients die on the day they progress), with heavy censoring; and a time-to-treatment-
  failure endpoint in whole months (heavy ties) with status words.

small2.csv, a 2-group study of 36 patients with sparse tables:
  a binary mutation absent from one group (a zero cell), a grade whose declared level
  "very high" never occurs, a continuous biomarker without ties (exact Wilcoxon), an integer
  score with ties, a weight with 3 missing values, a response that every "pos" patient of
  a marker has (quasi-complete separation), a site whose first level X is exactly the
  patients without a weight, and survival in days where group A's curve sits exactly at
  0.5 over an interval (the median is a midpoint) and group B's never reaches 0.5.
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
YEAR = 365.25


class Draws:
    """Distributions from ``random.Random.random()`` alone."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def u(self) -> float:
        return self.rng.random()

    def choice(self, items, weights):
        total, x, acc = sum(weights), self.u() * sum(weights), 0.0
        for item, w in zip(items, weights):
            acc += w
            if x < acc:
                return item
        return items[-1]

    def normal(self, mean: float, sd: float) -> float:
        # Box-Muller, one value per call (two uniforms).
        u1, u2 = self.u(), self.u()
        return mean + sd * math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2 * math.pi * u2)

    def exponential(self, rate: float) -> float:
        return -math.log(1.0 - self.u()) / rate


def iso(day: dt.date | None) -> str:
    return "" if day is None else day.isoformat()


# --------------------------------------------------------------------------- trial3


def make_trial3() -> list[dict]:
    d = Draws(20240611)
    start0, admin_end = dt.date(2015, 1, 1), dt.date(2020, 12, 31)
    arm_hr = {"0": 1.0, "1": 0.8, "2": 0.55}
    stage_hr = {"I": 0.5, "II": 1.0, "III": 1.6, "IV": 2.6, "9": 1.2}
    rows = []
    for i in range(300):
        arm = d.choice(["0", "1", "2"], [34, 33, 33])
        centre = d.choice(["C1", "C2", "C3"], [45, 35, 20])
        sex = d.choice(["F", "M"], [47, 53])
        age = round(min(88.0, max(21.0, d.normal(62, 11))))
        stage = d.choice(["I", "II", "III", "IV", "9"], [19, 33, 28, 14, 6])
        ecog = d.choice(["0", "1", "2"], [55, 37, 8])
        crp = round(max(0.1, math.exp(d.normal(1.6, 1.0))), 1)
        # Response: more likely on active arms and early stages, less with high CRP.
        eta = -0.2 + {"0": 0.0, "1": 0.5, "2": 1.0}[arm] \
            - {"I": -0.6, "II": 0.0, "III": 0.4, "IV": 1.0, "9": 0.3}[stage] \
            - 0.25 * (math.log(crp) - 1.6)
        response = "yes" if d.u() < 1 / (1 + math.exp(-eta)) else "no"
        rand_day = start0 + dt.timedelta(days=int(d.u() * 3 * 365))
        hazard = 0.22 * arm_hr[arm] * stage_hr[stage] * math.exp(0.15 * (math.log(crp) - 1.6))
        t_prog = d.exponential(hazard) * YEAR
        t_death_first = d.exponential(0.045 * (1.6 if age > 70 else 1.0)) * YEAR
        t_death_after = d.exponential(0.3) * YEAR
        lost = d.u() < 0.4
        t_lost = (0.2 + 3.8 * d.u()) * YEAR
        ttf = int(d.exponential(0.35 * arm_hr[arm]) * 12)
        ttf_failed = d.u() < 0.45
        # Missing values
        if i % 97 == 5:
            age = None
        if i % 71 == 13:
            centre = ""
        if d.u() < 0.08:
            crp = None
        if d.u() < 0.04:
            response = "not evaluable"
        # Dates
        t_admin = (admin_end - rand_day).days
        t_cens = min(t_admin, t_lost if lost else t_admin)
        prog_day = death_day = None
        if t_prog < t_death_first:
            t_dead = t_prog + t_death_after
            if i in (17, 203):  # two patients die on the day they progress
                t_dead = t_prog
        else:
            t_dead = t_death_first
        if t_prog < t_death_first and t_prog <= t_cens:
            prog_day = rand_day + dt.timedelta(days=max(1, int(t_prog)))
        if t_dead <= t_cens:
            death_day = rand_day + dt.timedelta(days=max(1, int(t_dead)))
            if prog_day is not None and death_day < prog_day:
                death_day = prog_day
            last = death_day
        else:
            last = rand_day + dt.timedelta(days=max(1, int(t_cens)))
            if prog_day is not None and last < prog_day:
                last = prog_day
        ttf_months = min(ttf, 48)
        rows.append({
            "pid": f"TR{1000 + 7 * i}",
            "arm": arm, "centre": centre, "sex": sex,
            "age": "" if age is None else str(age),
            "stage": stage, "ecog": ecog,
            "crp": "" if crp is None else f"{crp:.1f}",
            "response": response,
            "rand_date": iso(rand_day), "prog_date": iso(prog_day),
            "death_date": iso(death_day), "last_contact": iso(last),
            "ttf_months": str(ttf_months),
            "ttf_status": "failed" if ttf_failed and ttf_months < 48 else "ongoing",
        })
    return rows


# --------------------------------------------------------------------------- small2


def make_small2() -> list[dict]:
    d = Draws(20240612)
    rows = []
    # Group A: 10 patients, the first 5 die before anyone is censored (S = 0.5 exactly),
    # then 3 are censored and 2 die later. Group B: 26 patients, few deaths.
    a_times = [(40, 1), (95, 1), (150, 1), (210, 1), (300, 1),
               (420, 0), (510, 0), (560, 0), (640, 1), (700, 1)]
    for i in range(36):
        group = "A" if i < 10 else "B"
        if group == "A":
            days, dead = a_times[i]
        else:
            dead = 1 if d.u() < 0.25 else 0
            days = 30 + int(d.u() * 1300)
        biomarker = round(d.normal(5.0 if group == "A" else 6.1, 1.3), 3)
        score = int(d.u() * (8 if group == "A" else 11))
        # The mutation never occurs in group A (a zero cell).
        mutation = "present" if group == "B" and d.u() < 0.35 else "absent"
        grade = d.choice(["low", "mid", "high"],
                         [6, 3, 1] if group == "A" else [2, 4, 4])
        weight = round(d.normal(70 if group == "A" else 76, 9 if group == "A" else 15), 1)
        eta = -4.0 + 0.7 * biomarker
        response = "yes" if d.u() < 1 / (1 + math.exp(-eta)) else "no"
        # Every marker-positive patient responds: quasi-complete separation.
        marker = "pos" if d.u() < 0.3 else "neg"
        if marker == "pos":
            response = "yes"
        if i in (4, 22, 31):
            weight = None
        rows.append({
            "id": f"S{i + 1:02d}", "group": group, "mutation": mutation, "grade": grade,
            "biomarker": f"{biomarker:.3f}", "score": str(score),
            "weight": "" if weight is None else f"{weight:.1f}",
            "response": response, "marker": marker,
            # Site X holds exactly the patients without a weight: X is absent from the
            # complete cases of a model with weight, and present in a model without it.
            "site": "X" if weight is None else ("Y" if i % 3 else "Z"), "os_days": str(days), "dead": str(dead),
        })
    return rows


def write(name: str, rows: list[dict]) -> None:
    with open(HERE / name, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    write("trial3.csv", make_trial3())
    write("small2.csv", make_small2())
