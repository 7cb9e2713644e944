#!/usr/bin/env python3
"""Generate the SYNTHETIC MLL-10 cohort: 75 infants with KMT2A-rearranged ALL, 2011-2015.

This is a reconstruction, not patient data. The only published figures (abstract of Pediatr Int
2022;64:e14935) are N = 75, 3-year EFS 66.2% (SE 5.6%) and 3-year OS 83.9% (SE 4.3%); the rest
of the table (ages, CNS status, leukocytes, fusions, event types, risk-group differences) is
illustrative. See NOTES.md and published.toml.

Run from anywhere:  python make_cohort.py
Writes cohort.csv beside itself, byte-identical on every run. Generation uses the standard
library only; random.Random.random() is the only random primitive used. check_cohort.py and
check_cohort.R recompute the published figures with lifelines and R survival.

How the survival figures are met. A Kaplan-Meier estimate and its Greenwood SE depend only on
the order of events and censorings. An exhaustive enumeration of orderings (NOTES.md) shows the
four published numbers are jointly reachable only with 24 EFS events within 3 years, 12 deaths,
and a few event-free patients lost to follow-up between the fatal early events and the later,
salvaged relapses. The generator draws dates inside that ordering (ORDER below), so the
estimates follow from the construction; main() recomputes and asserts them.
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "cohort.csv"
SEED = 20111201
NOTE = "SYNTHETIC reconstruction - not patient data"
YEAR = 365.25
N = 75
ENROL_FIRST, ENROL_LAST = dt.date(2011, 3, 1), dt.date(2015, 12, 31)
CUTOFF = dt.date(2019, 3, 31)  # data cut-off: every patient could be followed beyond 3 years
HR_AGE = 180  # MLL-10 high risk: age < 180 days, or CNS leukaemia (CNS-3 here)

# Published (R summary(survfit(...), times = 3), years of 365.25 days), rounded to 0.1 point.
TARGET = {"efs": 0.662, "efs_se": 0.056, "os": 0.839, "os_se": 0.043}

COLUMNS = ["patient_id", "enrolment_date", "age_days", "sex", "cns", "wbc", "fusion", "event_date",
           "event_type", "death_date", "last_contact_date", "record_note"]

FUSIONS = [("KMT2A::AFF1", 36), ("KMT2A::MLLT1", 18), ("KMT2A::MLLT3", 10), ("KMT2A::MLLT10", 5),
           ("KMT2A::EPS15", 2), ("KMT2A::AFDN", 2), ("KMT2A::MLLT11", 1), ("KMT2A::MLLT6", 1)]

# The ordering, phase by phase (days from enrolment are drawn inside each phase's window):
#   A   9 fatal events (2 induction failures, 3 deaths in CR, 4 early relapses), all 9 deaths
#   L1  2 event-free patients lost to follow-up
#   B   3 relapses, all fatal, the 3 deaths
#   L2  4 event-free patients lost to follow-up
#   C   12 events without death (11 relapses salvaged, 1 second malignancy), before 3 years
#   D   1 relapse after 3 years (alive); everybody else event-free, followed to the cut-off
# Phases A to L2 fit in the first year (all deaths within 9 months), and 19 of the 25 events
# fall in the first year.
ORDER = "A", "L1", "B", "L2", "C", "D"
PLAN = [  # (phase, event type, count, event window (days), death delay window or None)
    ("A", "induction failure", 2, (33, 45), (20, 90)),
    ("A", "death in CR", 3, (50, 170), (0, 0)),
    ("A", "relapse", 4, (80, 150), (25, 60)),
    ("B", "relapse", 3, None, (25, 60)),
    ("C", "relapse", 11, None, None),
    ("C", "second malignancy", 1, None, None),
    ("D", "relapse", 1, (1110, 1400), None),
]
LOST = {"L1": 2, "L2": 4}


class Rng:
    def __init__(self, seed: int) -> None:
        self._r = random.Random(seed)

    def u(self, a: float = 0.0, b: float = 1.0) -> float:
        return a + (b - a) * self._r.random()

    def int(self, a: int, b: int) -> int:
        return a + min(int(self._r.random() * (b - a + 1)), b - a)

    def shuffle(self, xs: list) -> None:
        for i in range(len(xs) - 1, 0, -1):
            j = self.int(0, i)
            xs[i], xs[j] = xs[j], xs[i]

    def normal(self) -> float:
        u1 = max(self._r.random(), 1e-12)
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * self._r.random())


def km_greenwood(times: list[float], events: list[int], when: float) -> tuple[float, float]:
    """Kaplan-Meier estimate and Greenwood standard error at `when` (as R summary.survfit)."""
    data = sorted(zip(times, events), key=lambda p: (p[0], -p[1]))
    s, acc, at_risk, i, n = 1.0, 0.0, len(data), 0, len(data)
    while i < n and data[i][0] <= when:
        j, d = i, 0
        while j < n and data[j][0] == data[i][0]:
            d += data[j][1]
            j += 1
        if d:
            s *= 1.0 - d / at_risk
            acc += d / (at_risk * (at_risk - d)) if at_risk > d else 0.0
        at_risk -= j - i
        i = j
    return s, s * math.sqrt(acc)


def baseline(rng: Rng) -> list[dict]:
    span = (ENROL_LAST - ENROL_FIRST).days
    fus = [f for f, k in FUSIONS for _ in range(k)]
    rng.shuffle(fus)
    cns = ["CNS-1"] * 62 + ["CNS-2"] * 6 + ["CNS-3"] * 7
    rng.shuffle(cns)
    pts = []
    for i in range(N):
        age = max(3, min(365, int(round(365 * rng.u() ** 1.3))))  # KMT2A-r infants are young
        wbc = math.exp(math.log(150.0) + 1.2 * rng.normal())
        enrol = ENROL_FIRST + dt.timedelta(days=rng.int(0, span))
        pts.append({
            "enrol": enrol,
            "age": age,
            "sex": "M" if rng.u() < 0.48 else "F",
            "cns": cns[i],
            "wbc": round(wbc if wbc <= 1500.0 else 1500.0 ** 2 / wbc, 1),  # fold the far tail
            "fusion": fus[i],
            "room": (CUTOFF - enrol).days,  # days of potential follow-up
        })
        pts[-1]["hr"] = age < HR_AGE or cns[i] == "CNS-3"
    return pts


def pick(rng: Rng, pts: list[dict], pool: list[int]) -> dict:
    """Draw a patient for an event, high risk weighted 3:1 over intermediate risk."""
    w = [3.0 if pts[i]["hr"] else 1.0 for i in pool]
    x = rng.u(0, sum(w))
    k = 0
    while k < len(w) - 1 and x > w[k]:
        x -= w[k]
        k += 1
    return pts[pool.pop(k)]


def outcomes(rng: Rng, pts: list[dict]) -> None:
    pool = list(range(N))
    by_phase: dict[str, list[dict]] = {ph: [] for ph in ORDER}
    for phase, etype, count, window, delay in PLAN:
        for _ in range(count):
            p = pick(rng, pts, pool)
            p.update(phase=phase, event_type=etype, window=window, delay=delay)
            by_phase[phase].append(p)
    # phase A: fixed windows
    for p in by_phase["A"]:
        p["event"] = rng.int(*p["window"])
        p["death"] = p["event"] + rng.int(*p["delay"])
    t = max(p["death"] for p in by_phase["A"])
    # L1: lost to follow-up after the last phase-A death
    rng.shuffle(pool)
    lost = [pts[i] for i in pool[:LOST["L1"] + LOST["L2"]]]
    for p in lost[:LOST["L1"]]:
        t += rng.int(3, 15)
        p["lc"], p["lost"] = t, True
    # B: fatal relapses, all deaths before the next losses
    for p in by_phase["B"]:
        p["event"] = t + rng.int(5, 40)
        p["death"] = p["event"] + rng.int(*p["delay"])
    t = max(max(p["death"] for p in by_phase["B"]), t)
    for p in lost[LOST["L1"]:]:
        t += rng.int(3, 15)
        p["lc"], p["lost"] = t, True
    # C: salvaged relapses and one second malignancy between the last loss and 3 years,
    # seven of them (if not the second malignancy) still within the first year
    c = by_phase["C"]
    rng.shuffle(c)
    for k, p in enumerate(c):
        p["event"] = rng.int(t + 5, 365) if k < 7 else rng.int(366, 1090)
        if p["event_type"] == "second malignancy":
            p["event"] = rng.int(366, 1090)
    for p in by_phase["D"]:
        p["event"] = rng.int(*p["window"])
    for p in pts:
        if "death" in p:
            p["lc"] = p["death"]
        elif "lc" not in p:
            p["lc"] = p["room"] - rng.int(0, 120)  # last visit before the cut-off


def arrays(pts: list[dict]):
    et, ee, ot, oe = [], [], [], []
    for p in pts:
        if "event" in p:
            et.append(p["event"] / YEAR)
            ee.append(1)
        else:
            et.append(p["lc"] / YEAR)
            ee.append(0)
        ot.append(p["lc"] / YEAR)
        oe.append(1 if "death" in p else 0)
    return et, ee, ot, oe


def estimates(pts: list[dict]) -> dict:
    et, ee, ot, oe = arrays(pts)
    s_e, se_e = km_greenwood(et, ee, 3.0)
    s_o, se_o = km_greenwood(ot, oe, 3.0)
    return {"efs": s_e, "efs_se": se_e, "os": s_o, "os_se": se_o}


def main() -> None:
    rng = Rng(SEED)
    pts = baseline(rng)
    outcomes(rng, pts)
    got = estimates(pts)
    for k, v in TARGET.items():  # rounded to 0.1 percentage point, as printed
        assert round(1000 * got[k]) == round(1000 * v), (k, got[k])
    pts.sort(key=lambda p: (p["enrol"], p["age"]))
    rows = []
    for k, p in enumerate(pts, start=1):
        d0 = p["enrol"]
        day = lambda n: (d0 + dt.timedelta(days=n)).isoformat()
        assert 0 < p["lc"] <= p["room"] and p.get("event", 0) <= p["lc"]
        rows.append({
            "patient_id": f"MLL10-{k:03d}",
            "enrolment_date": d0.isoformat(),
            "age_days": str(p["age"]),
            "sex": p["sex"],
            "cns": p["cns"],
            "wbc": f"{p['wbc']:.1f}",
            "fusion": p["fusion"],
            "event_date": day(p["event"]) if "event" in p else "",
            "event_type": p.get("event_type", ""),
            "death_date": day(p["death"]) if "death" in p else "",
            "last_contact_date": day(p["lc"]),
            "record_note": NOTE,
        })
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {OUT.name}: {len(rows)} synthetic patients; 3-year EFS {100 * got['efs']:.2f}% "
          f"(SE {100 * got['efs_se']:.2f}), OS {100 * got['os']:.2f}% (SE {100 * got['os_se']:.2f})")


if __name__ == "__main__":
    main()
