#!/usr/bin/env python3
"""Recompute the published MLL-10 figures from the SYNTHETIC cohort.csv and compare with
published.toml: lifelines (Kaplan-Meier; Greenwood SE from the variance of the estimate) and,
when Rscript is on PATH, R survival via check_cohort.R.

Usage: python check_cohort.py   (exit status 1 if a figure is not reproduced)
"""
from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test

HERE = Path(__file__).resolve().parent
YEAR = 365.25
HR_AGE = 180


def load() -> pd.DataFrame:
    df = pd.read_csv(HERE / "cohort.csv", dtype=str, keep_default_na=False)
    for c in ("enrolment_date", "event_date", "death_date", "last_contact_date"):
        df[c] = pd.to_datetime(df[c].replace("", None))
    df["age_days"] = df["age_days"].astype(int)
    df["wbc"] = df["wbc"].astype(float)
    df["efs_event"] = df["event_date"].notna().astype(int)
    df["efs_years"] = (df["event_date"].fillna(df["last_contact_date"]) - df["enrolment_date"]).dt.days / YEAR
    df["os_event"] = df["death_date"].notna().astype(int)
    df["os_years"] = (df["last_contact_date"] - df["enrolment_date"]).dt.days / YEAR
    df["risk"] = np.where((df.age_days < HR_AGE) | (df.cns == "CNS-3"), "HR", "IR")
    return df


def at3(sub: pd.DataFrame, ep: str) -> tuple[float, float]:
    """KM estimate at 3 years and its Greenwood SE, from lifelines' event table."""
    kmf = KaplanMeierFitter().fit(sub[f"{ep}_years"], sub[f"{ep}_event"])
    s = float(kmf.survival_function_at_times(3.0).iloc[0])
    tab = kmf.event_table
    tab = tab[(tab.index <= 3.0) & (tab.observed > 0)]
    var = float((tab.observed / (tab.at_risk * (tab.at_risk - tab.observed))).sum())
    return 100 * s, 100 * s * math.sqrt(var)


def main() -> int:
    df = load()
    got = {"abstract.patients.all.all.n": len(df)}
    got["abstract.efs3.all.all.surv"], got["abstract.efs3.all.all.se"] = at3(df, "efs")
    got["abstract.os3.all.all.surv"], got["abstract.os3.all.all.se"] = at3(df, "os")

    rvals: dict[str, float] = {}
    if shutil.which("Rscript"):
        out = subprocess.run(["Rscript", str(HERE / "check_cohort.R"), str(HERE / "cohort.csv")],
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            k, v = line.split("\t")
            rvals[k] = float(v)
    else:
        print("Rscript not found: R cross-check skipped")

    pub = tomllib.loads((HERE / "published.toml").read_text(encoding="utf-8"))["value"]
    bad = 0
    print(f"{'id':32s} {'printed':>8s} {'python':>9s} {'R':>9s}  result")
    for e in pub:
        x = got[e["id"]]
        rx = rvals.get(e["id"])
        ok = abs(x - e["value"]) <= e["tolerance"] + 1e-9
        if rx is not None:
            ok = ok and abs(rx - e["value"]) <= e["tolerance"] + 1e-9 and abs(rx - x) < 1e-6
        bad += not ok
        rs = "" if rx is None else f"{rx:.4f}"
        print(f"{e['id']:32s} {e['value']:>8} {x:9.4f} {rs:>9s}  {'ok' if ok else 'FAIL'}")

    print("\nfor information (not published):")
    print("  risk groups (HR = age < 180 days or CNS-3):", df.risk.value_counts().to_dict())
    for g, s in df.groupby("risk"):
        e3, se3 = at3(s, "efs")
        o3, _ = at3(s, "os")
        print(f"  {g}: n={len(s)}, EFS events={s.efs_event.sum()}, deaths={s.os_event.sum()}, "
              f"3-year EFS {e3:.1f}% (SE {se3:.1f}), OS {o3:.1f}%")
    hr, ir = df[df.risk == "HR"], df[df.risk == "IR"]
    print(f"  log-rank EFS HR vs IR: p = {logrank_test(hr.efs_years, ir.efs_years, hr.efs_event, ir.efs_event).p_value:.3f}")
    for k in ("info.efs3.HR.surv", "info.efs3.IR.surv", "info.efs.HRvsIR.p"):
        if k in rvals:
            print(f"  R {k}: {rvals[k]:.4f}")
    print("  event types:", df.event_type[df.event_type != ""].value_counts().to_dict())
    print("  events within the first year / all:", int((df.efs_event.astype(bool) & (df.efs_years <= 1)).sum()), "/", int(df.efs_event.sum()))
    print("  censored for EFS before 3 years:", int(((df.efs_event == 0) & (df.efs_years < 3)).sum()))
    print("  CNS:", df.cns.value_counts().to_dict(), " sex:", df.sex.value_counts().to_dict())
    print("  fusions:", df.fusion.value_counts().to_dict())
    print(f"  age median {df.age_days.median():.0f} days (range {df.age_days.min()}-{df.age_days.max()}); "
          f"WBC median {df.wbc.median():.1f} x10^9/L (range {df.wbc.min()}-{df.wbc.max()})")
    print("  enrolment:", df.enrolment_date.min().date(), "to", df.enrolment_date.max().date(),
          "; last contact up to", df.last_contact_date.max().date())
    print(f"\n{len(pub)} published values, {sum(1 for e in pub if e['id'] in rvals)} recomputed in R, {bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
