#!/usr/bin/env python3
"""Recompute every published aggregate from the SYNTHETIC cohort.csv and compare with
published.toml. Independent of make_cohort.py: statistics come from scipy, lifelines and
statsmodels, and (when Rscript is on PATH) from R via check_cohort.R.

Usage: python check_cohort.py   (exit status 1 if an aggregate is not reproduced)
"""
from __future__ import annotations

import itertools
import math
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test
from scipy import stats
import statsmodels.api as sm

HERE = Path(__file__).resolve().parent
YEAR = 365.25
AGE_6M = 183

# ----------------------------------------------------------------------------------------------
# Karyotype reading
# ----------------------------------------------------------------------------------------------
ABN = re.compile(r"(?<![a-z])(t|ins|add|del|inv|dup|i)\(([^)]*)\)\(([^)]*)\)")


def kmt2a_partner(k: str) -> str | None:
    """'chrN' for a rearrangement with breakpoint 11q23 and partner N, 'unspecified' for
    add(11)(q23), None when 11q23 is not rearranged."""
    for kind, chroms, bands in ABN.findall(k):
        cs, bs = chroms.split(";"), bands.split(";")
        for c, b in zip(cs, bs):
            if c == "11" and "q23" in b and kind in ("t", "ins", "add"):
                if kind == "add":
                    return "unspecified"
                others = [x for x in cs if x != "11"]
                return "chr" + others[0]
    return None


def negative_class(k: str) -> str:
    if re.fullmatch(r"46,X[XY](\[\d+\])?", k):
        return "normal"
    clone = k.split("/")[0]
    items = [re.sub(r"\[\d+\]$", "", x) for x in clone.split(",")[2:]]
    acquired = [x for x in items if x and not x.endswith("c")]
    if len(acquired) >= 3:
        return "complex"
    for tag in ("t(1;22)", "t(8;16)", "del(11)"):
        if tag in k:
            return tag
    return "other"


# ----------------------------------------------------------------------------------------------
# Exact test for 2 x c tables (Fisher-Freeman-Halton), as R fisher.test computes it
# ----------------------------------------------------------------------------------------------
def fisher_2xc(table: np.ndarray) -> float:
    table = np.asarray(table, dtype=int)
    cols = table.sum(axis=0)
    r1 = int(table[0].sum())
    n = int(cols.sum())

    def logp(row):
        return (sum(math.lgamma(c + 1) - math.lgamma(x + 1) - math.lgamma(c - x + 1)
                    for x, c in zip(row, cols))
                - (math.lgamma(n + 1) - math.lgamma(r1 + 1) - math.lgamma(n - r1 + 1)))

    obs = logp(table[0])
    total = 0.0
    for row in itertools.product(*[range(c + 1) for c in cols]):
        if sum(row) == r1:
            lp = logp(row)
            if lp <= obs + 1e-7 * abs(obs):
                total += math.exp(lp)
    return min(1.0, total)


def load() -> pd.DataFrame:
    df = pd.read_csv(HERE / "cohort.csv", dtype=str, keep_default_na=False)
    for c in ("diagnosis_date", "cr_date", "relapse_date", "second_malignancy_date", "death_date",
              "last_contact_date"):
        df[c] = pd.to_datetime(df[c].replace("", None))
    df["age_days"] = df["age_days"].astype(int)
    df["wbc"] = df["wbc"].astype(float)
    df["partner"] = df["karyotype"].map(kmt2a_partner)
    df["kmt2a"] = df["partner"].notna()
    df["negclass"] = np.where(df["kmt2a"], "", df["karyotype"].map(negative_class))
    ev = df[["relapse_date", "second_malignancy_date", "death_date"]].min(axis=1)
    df["efs_event"] = ev.notna().astype(int)
    df["efs_years"] = ((ev.fillna(df["last_contact_date"]) - df["diagnosis_date"]).dt.days) / YEAR
    df["os_event"] = df["death_date"].notna().astype(int)
    df["os_years"] = ((df["death_date"].fillna(df["last_contact_date"]) - df["diagnosis_date"]).dt.days) / YEAR
    return df


def km5(sub: pd.DataFrame, ep: str) -> float:
    kmf = KaplanMeierFitter().fit(sub[f"{ep}_years"], sub[f"{ep}_event"])
    return 100.0 * float(kmf.survival_function_at_times(5.0).iloc[0])


def compute(df: pd.DataFrame) -> tuple[dict, dict]:
    got: dict[str, float] = {}
    info: dict[str, float] = {}
    A, M = df[df.type == "ALL"], df[df.type == "AML"]
    groups = {"ALL": A, "AML": M}
    for g, s in groups.items():
        got[f"table1.patients.{g}.all.n"] = len(s)
        got[f"table1.age.{g}.all.median"] = float(s.age_days.median())
        got[f"table1.age.{g}.all.min"] = s.age_days.min()
        got[f"table1.age.{g}.all.max"] = s.age_days.max()
        lt = int((s.age_days < AGE_6M).sum())
        got[f"table1.agegroup.{g}.lt6m.n"] = lt
        got[f"table1.agegroup.{g}.lt6m.pct"] = 100 * lt / len(s)
        got[f"table1.agegroup.{g}.6to12m.n"] = len(s) - lt
        got[f"table1.agegroup.{g}.6to12m.pct"] = 100 * (len(s) - lt) / len(s)
        for lv in ("M", "F"):
            n = int((s.sex == lv).sum())
            got[f"table1.sex.{g}.{lv}.n"] = n
            got[f"table1.sex.{g}.{lv}.pct"] = 100 * n / len(s)
        got[f"table1.wbc.{g}.all.median"] = float(s.wbc.median())
        got[f"table1.wbc.{g}.all.min"] = s.wbc.min()
        got[f"table1.wbc.{g}.all.max"] = s.wbc.max()
        for lv in ("CNS-1", "CNS-2", "CNS-3", "Unknown"):
            n = int((s.cns == lv).sum())
            got[f"table1.cns.{g}.{lv}.n"] = n
            got[f"table1.cns.{g}.{lv}.pct"] = 100 * n / len(s)
    info["age: ages exactly 182 days (definition of <6 months)"] = int((df.age_days == 182).sum())
    got["table1.age.ALLvsAML.all.p"] = stats.ttest_ind(A.age_days, M.age_days).pvalue
    info["age: Welch t p"] = stats.ttest_ind(A.age_days, M.age_days, equal_var=False).pvalue
    info["age: Mann-Whitney p"] = stats.mannwhitneyu(A.age_days, M.age_days).pvalue
    t6 = [[got["table1.agegroup.ALL.lt6m.n"], got["table1.agegroup.ALL.6to12m.n"]],
          [got["table1.agegroup.AML.lt6m.n"], got["table1.agegroup.AML.6to12m.n"]]]
    got["table1.agegroup.ALLvsAML.all.p"] = stats.fisher_exact(t6).pvalue
    sx = [[got["table1.sex.ALL.M.n"], got["table1.sex.ALL.F.n"]], [got["table1.sex.AML.M.n"], got["table1.sex.AML.F.n"]]]
    got["table1.sex.ALLvsAML.all.p"] = stats.fisher_exact(sx).pvalue
    got["table1.wbc.ALLvsAML.all.p"] = stats.ttest_ind(A.wbc, M.wbc).pvalue
    info["wbc: Welch t p"] = stats.ttest_ind(A.wbc, M.wbc, equal_var=False).pvalue
    info["wbc: Mann-Whitney p"] = stats.mannwhitneyu(A.wbc, M.wbc).pvalue
    info["wbc: Student t on log p"] = stats.ttest_ind(np.log(A.wbc), np.log(M.wbc)).pvalue
    cns3 = np.array([[int((s.cns == lv).sum()) for lv in ("CNS-1", "CNS-2", "CNS-3")] for s in (A, M)])
    cns4 = np.array([[int((s.cns == lv).sum()) for lv in ("CNS-1", "CNS-2", "CNS-3", "Unknown")] for s in (A, M)])
    got["table1.cns.ALLvsAML.all.p"] = fisher_2xc(cns3)
    info["cns: Fisher 2x4 (Unknown as a level) p"] = fisher_2xc(cns4)
    info["cns: Pearson chi-square 2x3 p"] = stats.chi2_contingency(cns3, correction=False).pvalue
    info["cns: Pearson chi-square 2x4 p"] = stats.chi2_contingency(cns4, correction=False).pvalue
    for lv in ("B-ALL", "T-ALL", "MPAL"):
        got[f"table1.all_type.ALL.{lv}.n"] = int((A.all_immunophenotype == lv).sum())
    for lv in ("M5", "M7", "MPAL"):
        got[f"table1.aml_fab.AML.{lv}.n"] = int((M.aml_fab == lv).sum())
    info["AML FAB distribution"] = {k: int(v) for k, v in M.aml_fab.value_counts().sort_index().items()}
    info["ALL with an aml_fab value / AML with an immunophenotype"] = (int((A.aml_fab != "").sum()),
                                                                       int((M.all_immunophenotype != "").sum()))
    # results text
    got["results.age.ALL.all.median"] = math.floor(A.age_days.median() / (YEAR / 12))
    got["results.age.AML.all.median"] = math.floor(M.age_days.median() / (YEAR / 12))
    got["results.down_syndrome.AML.yes.n"] = int((M.down_syndrome == "yes").sum())
    got["results.down_syndrome.AML.neonate.n"] = int(((M.down_syndrome == "yes") & (M.age_days <= 28)).sum())
    info["Down syndrome in ALL"] = int((A.down_syndrome == "yes").sum())
    got["results.wbc.AML.all.max"] = M.wbc.max()
    got["results.wbc.ALL.gt50.n"] = int((A.wbc > 50).sum())
    got["results.wbc.ALL.gt50.pct"] = 100 * (A.wbc > 50).mean()
    got["results.wbc.AML.le50.n"] = int((M.wbc <= 50).sum())
    got["results.wbc.AML.le50.pct"] = 100 * (M.wbc <= 50).mean()
    got["results.wbc.ALLvsAML.gt50.p"] = stats.fisher_exact(
        [[(A.wbc > 50).sum(), (A.wbc <= 50).sum()], [(M.wbc > 50).sum(), (M.wbc <= 50).sum()]]).pvalue
    for col in ("hepatomegaly", "splenomegaly"):
        got[f"results.{col}.ALL.yes.pct"] = 100 * (A[col] == "yes").mean()
        tab = [[(A[col] == "yes").sum(), (A[col] == "no").sum()], [(M[col] == "yes").sum(), (M[col] == "no").sum()]]
        got[f"results.{col}.ALLvsAML.yes.p"] = stats.fisher_exact(tab).pvalue
        info[f"{col}: AML yes"] = int((M[col] == "yes").sum())
    got["results.leukaemia_cutis.AML.yes.n"] = int((M.leukaemia_cutis == "yes").sum())
    info["leukaemia cutis: ALL yes"] = int((A.leukaemia_cutis == "yes").sum())
    t_all = df[df.type == "ALL"]
    info["T-ALL age (days)"] = t_all[t_all.all_immunophenotype == "T-ALL"].age_days.tolist()
    # Table 2 / 3 from the karyotype strings
    for g, s in list(groups.items()) + [("total", df)]:
        for lv, mask in (("negative", ~s.kmt2a), ("positive", s.kmt2a)):
            got[f"table2.kmt2a.{g}.{lv}.n"] = int(mask.sum())
            got[f"table2.kmt2a.{g}.{lv}.pct"] = 100 * mask.mean()
        specified = s[s.kmt2a & (s.partner != "unspecified")]
        for c in ("chr1", "chr2", "chr4", "chr9", "chr10", "chr19"):
            n = int((specified.partner == c).sum())
            got[f"table3.partner.{g}.{c}.n"] = n
            got[f"table3.partner.{g}.{c}.pct"] = 100 * n / len(specified)
        got[f"table3.partner.{g}.total.n"] = len(specified)
        got[f"table3.partner.{g}.total.pct"] = 100.0
        info[f"partners not in Table 3 rows ({g})"] = sorted(set(specified.partner) - {"chr1", "chr2", "chr4", "chr9", "chr10", "chr19"})
    got["table2.patients.total.all.n"] = len(df)
    kt = [[int(A.kmt2a.sum()), int((~A.kmt2a).sum())], [int(M.kmt2a.sum()), int((~M.kmt2a).sum())]]
    got["results.kmt2a.ALLvsAML.positive.p"] = stats.chi2_contingency(kt, correction=False).pvalue
    info["kmt2a: Fisher p / Yates chi-square p"] = (round(float(stats.fisher_exact(kt).pvalue), 4), round(float(stats.chi2_contingency(kt).pvalue), 4))
    got["table3.partner.AML.unspecified.n"] = int((M.partner == "unspecified").sum())
    info["unspecified partner in ALL"] = int((A.partner == "unspecified").sum())
    for g, s in groups.items():
        neg = s[~s.kmt2a]
        for lv in ("normal", "t(1;22)", "complex", "del(11)", "t(8;16)"):
            got[f"results.karyotype.{g}_kmt2a_neg.{lv}.n"] = int((neg.negclass == lv).sum())
        info[f"karyotype classes of KMT2A-negative {g}"] = {k: int(v) for k, v in neg.negclass.value_counts().items()}
    # events
    roles = {}
    for g, s in groups.items():
        got[f"results.events.{g}.all.n"] = int(s.efs_event.sum())
        ed = s[s.death_cause == "early death"]
        got[f"results.early_death.{g}.all.n"] = len(ed)
        if g == "AML":
            got["discussion.early_death.AML.congenital.n"] = int((ed.age_days <= 28).sum())
        td = s[s.death_cause == "toxic death"]
        got[f"results.toxic_death.{g}.all.n"] = len(td)
        rel = s[s.relapse_date.notna()]
        got[f"results.relapse.{g}.all.n"] = len(rel)
        got[f"results.relapse_survivor.{g}.all.n"] = int(rel.death_date.isna().sum())
        roles[g] = (ed, td, rel)
        # consistency of the event records
        assert ed.cr_date.isna().all() and ed.relapse_date.isna().all()
        assert (td.cr_date < td.death_date).all() and td.relapse_date.isna().all()
        assert (rel.cr_date < rel.relapse_date).all()
        assert (s.death_cause.eq("relapse") == (s.relapse_date.notna() & s.death_date.notna())).all()
        assert (s[s.death_date.notna()].last_contact_date == s[s.death_date.notna()].death_date).all()
        assert s.cr_date.notna().sum() == len(s) - len(ed)
    got["results.toxic_death.total.all.n"] = got["results.toxic_death.ALL.all.n"] + got["results.toxic_death.AML.all.n"]
    got["results.toxic_death.AML.down_syndrome.n"] = int((roles["AML"][1].down_syndrome == "yes").sum())
    got["results.event_time.total.all.max"] = df.loc[df.efs_event == 1, "efs_years"].max()
    info["day-8 response present for early deaths / AML"] = (
        int((A[A.death_cause == "early death"].day8_response != "").sum()), int((M.day8_response != "").sum()))
    # survival
    got["results.efs5.total.all.surv"] = km5(df, "efs")
    got["results.os5.total.all.surv"] = km5(df, "os")
    for g, s in groups.items():
        got[f"results.efs5.{g}.all.surv"] = km5(s, "efs")
        got[f"results.os5.{g}.all.surv"] = km5(s, "os")
    got["discussion.efs5.AML.all.surv"] = got["results.efs5.AML.all.surv"]
    got["results.efs.ALLvsAML.all.p"] = logrank_test(A.efs_years, M.efs_years, A.efs_event, M.efs_event).p_value
    got["results.os.ALLvsAML.all.p"] = logrank_test(A.os_years, M.os_years, A.os_event, M.os_event).p_value
    cov = pd.DataFrame({
        "age_lt6m": (df.age_days < AGE_6M).astype(int),
        "wbc_ge50": (df.wbc >= 50).astype(int),
        "kmt2a": df.kmt2a.astype(int),
    })
    for ep in ("efs", "os"):
        for c in cov:
            d = pd.DataFrame({"T": df[f"{ep}_years"], "E": df[f"{ep}_event"], c: cov[c]})
            cph = CoxPHFitter().fit(d, "T", "E")
            got[f"results.cox_{ep}.total.{c}.p"] = float(cph.summary.loc[c, "p"])
    for g, s in groups.items():  # not claimed by the paper; shown for information
        for ep in ("efs", "os"):
            for c in cov:
                d = pd.DataFrame({"T": s[f"{ep}_years"], "E": s[f"{ep}_event"], c: cov.loc[s.index, c]})
                cph = CoxPHFitter().fit(d, "T", "E")
                info[f"cox {ep} within {g}: {c} p"] = round(float(cph.summary.loc[c, "p"]), 3)
    r = A[A.day8_response != ""]
    y = (r.day8_response == "poor").astype(int).to_numpy()
    prot = r.protocol
    designs = {
        "wbc": r[["wbc"]].to_numpy(),
        "age": r[["age_days"]].to_numpy(float),
        "kmt2a": r[["kmt2a"]].to_numpy(float),
        "protocol": np.column_stack([(prot == "Interfant-99").to_numpy(float), (prot == "Interfant-06").to_numpy(float)]),
    }
    for k, x in designs.items():
        fit = sm.Logit(y, sm.add_constant(x)).fit(disp=0)
        got[f"results.day8.ALL.{k}.p"] = float(fit.llr_pvalue)
    for k, x in {"wbc>=50": (r.wbc >= 50).to_numpy(float), "age<6m": (r.age_days < AGE_6M).to_numpy(float)}.items():
        info[f"day-8 logistic LR p, {k}"] = round(float(sm.Logit(y, sm.add_constant(x)).fit(disp=0).llr_pvalue), 3)
    info["day-8 poor/good"] = (int(y.sum()), int(len(y) - y.sum()))
    info["protocol by type"] = {f"{a} {b}": int(v) for (a, b), v in df.groupby(["type", "protocol"]).size().items()}
    info["diagnosis years"] = (df.diagnosis_date.min().date().isoformat(), df.diagnosis_date.max().date().isoformat())
    info["last contact max"] = df.last_contact_date.max().date().isoformat()
    alive = df[df.os_event == 0]
    info["alive with follow-up >= 5 y / alive"] = (int((alive.os_years >= 5).sum()), len(alive))
    info["EFS-censored before last EFS event (years)"] = sorted(
        round(t, 2) for t in df.loc[(df.efs_event == 0) & (df.efs_years < got["results.event_time.total.all.max"]), "efs_years"])
    return got, info


def run_r() -> dict[str, float]:
    if shutil.which("Rscript") is None:
        print("Rscript not found: R cross-check skipped")
        return {}
    out = subprocess.run(["Rscript", str(HERE / "check_cohort.R"), str(HERE / "cohort.csv")],
                         capture_output=True, text=True, check=True).stdout
    res = {}
    for line in out.splitlines():
        if "\t" in line:
            k, v = line.split("\t")
            res[k] = float(v)
    return res


def verdict(e: dict, x: float) -> bool:
    if e.get("bound") == "upper":
        return x < e["value"]
    if e.get("bound") == "lower":
        return x >= e["value"]
    return abs(x - e["value"]) <= e["tolerance"] + 1e-9


def main() -> int:
    df = load()
    got, info = compute(df)
    rvals = run_r()
    pub = tomllib.loads((HERE / "published.toml").read_text(encoding="utf-8"))["value"]
    bad = 0
    print(f"{'id':52s} {'printed':>14s} {'python':>10s} {'R':>10s}  result")
    for e in pub:
        x = got.get(e["id"])
        if x is None:
            print(f"{e['id']:52s} NOT COMPUTED")
            bad += 1
            continue
        ok = verdict(e, x)
        rx = rvals.get(e["id"])
        r_ok = True if rx is None else verdict(e, rx) and abs(rx - x) <= max(1e-6, 1e-6 * abs(x))
        expected = e.get("reproduced", True)
        if (ok and r_ok) == expected:
            res = "ok" if expected else "deviates (documented)"
        else:
            res = "FAIL"
            bad += 1
        printed = e["printed"] if len(e["printed"]) <= 14 else e["printed"][:11] + "..."
        rs = "" if rx is None else f"{rx:.4f}"
        print(f"{e['id']:52s} {printed:>14s} {x:10.4f} {rs:>10s}  {res}")
    print("\nfor information:")
    for k, v in info.items():
        print(f"  {k}: {v}")
    print(f"\n{len(pub)} published values, {len(rvals)} recomputed in R, {bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
