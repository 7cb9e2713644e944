"""The methods text of every analysis, with each option that changes it, reads as a journal's.

Every analysis the plugin manager offers is run on a small synthetic cohort, once with the
options in :data:`VARIANTS` (each an option that changes the methods sentences) or, for an
analysis added since, with options filled from its required keys. For each run the methods
paragraphs are composed alone and then together, and each sentence must:

* start with a capital letter (or a quotation mark or a name written in lower case), never
  a numeral;
* end with a full stop, with no doubled spaces or punctuation, no "; and" in a list of two,
  no empty parentheses;
* name no raw column name or level code where the config gives a label;
* name each test, adjustment and model that the section's results records say ran
  (:func:`required_words`).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

#: A sentence may start with these names, which are written in lower case.
LOWER_CASE_NAMES = ("cohortpress", "p-values", "pandas")

COLUMNS = "id,arm,treat,sex_code,age_years,wbc,stage,response,karyotype,fusion," \
          "os_months,os_event,start_date,relapse_date,death_date,last_contact"

HEAD = """\
[report]
title = "Methods grammar"

[cohort]
path = "cohort.csv"
id = "id"
group = "arm"

[variables.arm]
label = "Treatment arm"
levels = ["A", "B", "C"]
labels = { A = "Observation", B = "Low dose", C = "High dose" }

[variables.treat]
label = "Treatment"
levels = ["P", "D"]
labels = { P = "Placebo", D = "Drug" }

[variables.sex_code]
label = "Sex"
levels = ["F", "M"]
labels = { F = "Female", M = "Male" }
missing = ["U"]

[variables.age_years]
label = "Age"
kind = "continuous"
unit = "years"

[variables.wbc]
label = "Leukocytes"
kind = "continuous"

[variables.stage]
label = "Stage"
levels = ["I", "II", "III", "IV"]

[variables.response]
label = "Response"
levels = ["no", "yes"]
positive = "yes"

[variables.karyotype]
label = "Karyotype"
kind = "text"

[variables.fusion]
label = "KMT2A fusion"
kind = "text"

[variables.relapse_date]
label = "Relapse"
kind = "date"

[variables.death_date]
label = "Death"
kind = "date"

[variables.start_date]
label = "Diagnosis"
kind = "date"

[endpoints.os]
label = "Overall survival"
time = "os_months"
time_unit = "months"
event = "os_event"
event_codes = ["dead"]
censor_codes = ["alive"]

[endpoints.efs]
label = "EFS"
start = "start_date"
events = ["relapse_date", "death_date"]
last_contact = "last_contact"

[endpoints.relapse]
label = "Relapse"
start = "start_date"
events = ["relapse_date"]
competing = ["death_date"]
last_contact = "last_contact"
"""

#: Per built-in analysis, options (TOML inline-table bodies) that each change the methods.
VARIANTS: dict[str, list[str]] = {
    "overview": ['endpoints = ["os"]'],
    "demographics": [
        'variables = ["sex_code", "age_years", "stage"]',
        'by = "treat"\nvariables = ["sex_code", "age_years", "wbc", "stage"]',
        'by = "treat"\nsmd = true\nvariables = ["sex_code", "age_years"]',
        'by = "treat"\nvariables = [{ variable = "age_years", test = "wilcoxon" }, '
        '{ variable = "wbc", test = "welch" }, { variable = "stage", test = "chisq" }, '
        '{ variable = "sex_code", test = "fisher" }]',
        'variables = [{ variable = "age_years", test = "anova" }, '
        '{ variable = "wbc", test = "kruskal" }]',
        'by = "treat"\nvariables = [{ variable = "stage", test_missing = true, '
        'exclude_from_test = ["IV"] }]',
        'by = "treat"\nsubset = [{ variable = "sex_code", eq = "Female" }]\n'
        'variables = ["age_years", "stage"]',
        'by = "treat"\ntests = "gtsummary"\nquantile_type = 2\n'
        'variables = ["sex_code", "age_years", "stage"]',
        'by = "treat"\nvariables = [{ variable = "age_years", '
        'stat = ["median_iqr", "range", "mean_sd"] }, { variable = "stage", trend = true }]',
        'by = "treat"\nadd_difference = true\nvariables = ["sex_code", "age_years"]',
        'by = "treat"\nweights = "wbc"\nvariables = ["sex_code", "age_years", "stage"]',
        'by = "treat"\nstrata = "arm"\nvariables = ["sex_code", "age_years"]',
    ],
    "crosstab": ['row = "stage"\ncolumn = "treat"',
                 'row = "sex_code"\ncolumn = "arm"\ntest = "chisq"',
                 'row = "sex_code"\ncolumn = "treat"\ntest = "chisq_yates"'],
    "kmt2a_partners": ['source = "karyotype"\nkind = "karyotype"',
                       'source = "karyotype"\nkind = "karyotype"\ndeletion_counts = true',
                       'source = "fusion"\nkind = "fusion"\nby = "treat"\ngene_names = true',
                       'source = "fusion"\nkind = "auto"\nstatus_test = "chisq"'],
    "survival": [
        'endpoints = ["os", "efs"]\nfigure = false',
        'endpoints = ["os"]\nby = "treat"\nconf_type = "log-log"\nconf_level = 0.9\n'
        'figure = false',
        'endpoints = ["efs"]\nby = "stage"\ntest = "trend"\nfigure = false',
        'endpoints = ["os"]\nstrata = "sex_code"\nrho = 1\nfigure = false',
        'endpoints = ["os"]\npairwise = true\nadjust = "holm"\nfigure = false',
        'endpoints = ["os"]\npairwise = true\nadjust = "BH"\nfigure = false',
        'endpoints = ["os"]\ntest = "none"\nfollowup = false\nfigure = false',
        'endpoints = ["relapse"]\nby = "treat"\nfigure = false',
        'endpoints = ["relapse"]\nby = "treat"\ncif_causes = "stacked"\nlandmarks = [12]',
        'endpoints = ["os"]\nby = "treat"\nrmst = true\nfigure = false',
        'endpoints = ["os"]\nby = "treat"\nweights = "wbc"\ntest = "none"\nfigure = false',
    ],
    "finegray": ['endpoint = "relapse"\ncovariates = ["treat", "age_years"]',
                 'endpoint = "relapse"\ncovariates = ["stage"]\nmultivariable = false'],
    "cox": ['endpoint = "os"\ncovariates = ["sex_code", "age_years", "stage"]',
            'endpoint = "efs"\ncovariates = ["treat", "age_years"]\nties = "breslow"\n'
            'strata = "sex_code"\nph_check = "none"\nconf_level = 0.9',
            'endpoint = "os"\ncovariates = ["stage", "age_years"]\nrobust = true',
            'endpoint = "os"\ncovariates = ["stage", "age_years"]\ncluster = "arm"\n'
            'forest = true',
            'endpoint = "os"\ncovariates = ["age_years", "treat", "sex_code"]\n'
            'splines = ["age_years"]\nspline_df = 3\ninteractions = [["treat", "sex_code"]]'],
    "logistic": ['outcome = "response"\ncovariates = ["treat", "age_years", "stage"]',
                 'outcome = "response"\ncovariates = ["treat", "age_years"]\nfirth = true\n'
                 'ci = "wald"',
                 'outcome = "response"\ncovariates = ["treat", "age_years"]\nauc = true\n'
                 'hosmer_lemeshow = true\nintercept_row = true',
                 'outcome = "response"\ncovariates = ["treat", "age_years", "sex_code"]\n'
                 'splines = ["age_years"]\ninteractions = [["treat", "sex_code"]]'],
    "distribution": ['variable = "stage"\nby = "treat"',
                     'variable = "wbc"\nplot = "dots"\nby = "treat"',
                     'variable = "age_years"\nplot = "dots"'],
}

#: Values a new analysis's required options are tried with, by option name.
GUESSES = {"endpoint": ["os", "efs", "relapse"], "endpoints": [["os"], ["relapse"]],
           "covariates": [["treat", "age_years"]], "outcome": ["response"],
           "variable": ["stage", "age_years"], "variables": [["sex_code", "age_years"]],
           "row": ["stage"], "column": ["treat"], "source": ["karyotype"], "by": ["treat"]}


def cohort_csv(n: int = 90) -> str:
    """A seeded synthetic cohort: three arms, a two-level treatment, labelled codes, a few
    unknown values, karyotypes and fusion names, and follow-up both as columns and dates."""
    rng = np.random.default_rng(20261204)
    karyotypes = ["46,XX,t(4;11)(q21;q23)", "46,XY,t(9;11)(p22;q23)", "46,XY",
                  "46,XX,del(11)(q23)", "46,XX,t(11;19)(q23;p13.3)"]
    fusions = ["KMT2A::AFF1", "KMT2A::MLLT3", "negative", "KMT2A::MLLT1", "KMT2A::MLLT10"]
    lines = [COLUMNS]
    for i in range(n):
        arm = "ABC"[i % 3]
        treat = "PD"[(i // 3) % 2]
        sex = "U" if i in (5, 40) else "FM"[int(rng.integers(2))]
        age = int(rng.integers(20, 80))
        wbc = round(float(rng.lognormal(2.5, 1.0)), 1)
        stage = "I II III IV".split()[int(rng.integers(4))]
        response = "yes" if rng.random() < 0.3 + 0.3 * (treat == "D") else "no"
        months = round(float(rng.exponential(30 if treat == "D" else 20)) + 0.5, 1)
        status = "dead" if rng.random() < 0.6 else "alive"
        start = np.datetime64("2015-01-01") + int(rng.integers(0, 700))
        last = start + int(rng.integers(200, 2500))
        relapse = start + int(rng.integers(30, 2000)) if rng.random() < 0.4 else None
        death = start + int(rng.integers(60, 2400)) if rng.random() < 0.3 else None
        relapse = relapse if relapse is not None and relapse <= last else None
        death = death if death is not None and death <= last else None
        if death is not None:
            last = death
        lines.append(",".join(str(v) for v in (
            f"P{i:03d}", arm, treat, sex, age, wbc, stage, response, f'"{karyotypes[i % 5]}"',
            fusions[i % 5], months, status, start, relapse or "", death or "", last)))
    return "\n".join(lines) + "\n"


def builtin_analyses() -> dict:
    from cohortpress.app.plugins import make_plugins

    return dict(make_plugins(entry_points=False).analyses)


def guessed_variants(analysis) -> list[str]:
    """Options for an analysis :data:`VARIANTS` does not know: its required keys filled from
    :data:`GUESSES` (each candidate value in turn, first one that runs is kept)."""
    required = [name for name, f in analysis.options.model_fields.items() if f.is_required()]
    if any(name not in GUESSES for name in required):
        return []
    choices = [[(name, value) for value in GUESSES[name]] for name in required]
    out = []
    for k in range(max((len(c) for c in choices), default=1)):
        body = "\n".join(f"{name} = {_toml(c[min(k, len(c) - 1)][1])}"
                         for name, c in zip(required, choices))
        out.append(body)
    return out


def _toml(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f'"{value}"'


def config_text(cases: list[tuple[str, str, str]]) -> str:
    parts = [HEAD]
    for sid, analysis, body in cases:
        parts.append(f'\n[[section]]\nid = "{sid}"\nanalysis = "{analysis}"\n'
                     f'title = "Section {sid}"\n{body}\n')
    return "".join(parts)


def all_cases() -> list[tuple[str, str, str]]:
    cases = []
    for name, analysis in sorted(builtin_analyses().items()):
        bodies = VARIANTS.get(name) or guessed_variants(analysis)
        cases += [(f"{name}_{k}", name, body) for k, body in enumerate(bodies)]
    return cases


def _plans(cp, folder, case) -> bool:
    """Whether a guessed case's options pass the config's and the analysis's checks."""
    from cohortpress.common.errors import UserError

    try:
        cp.Project(folder, toml=config_text([case]), csv=cohort_csv()).plan()
    except UserError:
        return False
    return True


@pytest.fixture(scope="module")
def built(cp, tmp_path_factory):
    """Every case run once (one cohort, one section runner), the sections by id. A case
    guessed for an analysis :data:`VARIANTS` does not know is kept only if it plans."""
    from cohortpress.app.load import load_cohort
    from cohortpress.app.run import SectionRunner

    root = tmp_path_factory.mktemp("grammar")
    cases = [case for k, case in enumerate(all_cases())
             if case[1] in VARIANTS or _plans(cp, root / f"try{k}", case)]
    project = cp.Project(root / "p", toml=config_text(cases), csv=cohort_csv())
    plan = project.plan()
    cohort = load_cohort(plan)
    with SectionRunner(plan.sections, cohort, plan.config, 300) as runner:
        sections = [runner.run(i) for i in range(len(plan.sections))]
    return plan, cohort, {s.id: s for s in sections}, cases


def methods_of(plan, cohort, sections) -> list[str]:
    from cohortpress.render.methods import compose_methods
    from cohortpress.render.provenance import package_versions

    return compose_methods(plan.config, cohort, sections, package_versions())


# --------------------------------------------------------------------------- the checks


def sentences(paragraph: str) -> list[str]:
    """Split at a full stop followed by a space and what may start a sentence."""
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[^a-z\s])", paragraph.strip()) if s]


def grammar_faults(text: str) -> list[str]:
    faults = []
    for s in sentences(text):
        first = s.split(" ", 1)[0]
        if not (s[0].isupper() or s[0] in "\u201c\"(" or first.startswith(LOWER_CASE_NAMES)):
            faults.append(f"does not start with a capital: {s!r}")
        if s[0].isdigit():
            faults.append(f"starts with a numeral: {s!r}")
        if not s.endswith("."):
            faults.append(f"does not end with a full stop: {s!r}")
        for bad in ("  ", "..", ",,", ";;", " ,", " .", " ;", ",.", ";.", ",;", ";,", "()",
                    "( ", " )"):
            if bad in s:
                faults.append(f"{bad!r} in {s!r}")
        if "; and " in s and s.count(";") < 2:
            faults.append(f"'; and' joins only two items: {s!r}")
        if len(s.split()) < 4 or not VERB.search(s):
            faults.append(f"a fragment, not a sentence: {s!r}")
    return faults


#: A sentence of the methods has one of these verbs (a fragment has none).
VERB = re.compile(r"\b(was|were|is|are|has|have|had|left|used)\b")

#: Column names and level codes of the cohort that have labels: never in the methods.
RAW_NAMES = ("sex_code", "age_years", "wbc", "os_months", "os_event", "start_date",
             "relapse_date", "death_date", "last_contact", "treat")
RAW_CODES = (r"= [FMPD]\b", r"\bbetween the [FMPD] and [FMPD]\b")


def raw_name_faults(text: str) -> list[str]:
    faults = [f"raw column name {n!r}" for n in RAW_NAMES if re.search(rf"\b{n}\b", text)]
    return faults + [f"raw level code {c!r}" for c in RAW_CODES if re.search(c, text)]


ADJUST_WORDS = {"holm": "Holm", "bonferroni": "Bonferroni", "BH": "Benjamini",
                "none": "no adjustment"}


def required_words(record) -> list[str]:
    """The words the methods must hold because this results record exists."""
    context, stat, value = record.context, record.stat_name, record.stat
    if context == "survfit" and stat != "label":  # a label alone: the groups' name
        return ["Kaplan\u2013Meier"]
    if context == "followup":
        return ["reverse Kaplan\u2013Meier"]
    if context == "survdiff" and stat == "method":
        words = ["log-rank"]
        words += ["trend"] if "trend" in value else []
        words += ["stratified by"] if "Stratified" in value else []
        words += ["Fleming\u2013Harrington"] if "Fleming" in value else []
        return words
    if context == "survdiff.pairwise" and stat == "adjust.method":
        return ["Pairs of groups", ADJUST_WORDS[value]]
    if context == "cuminc" and stat == "method":
        return [value, "Aalen\u2013Johansen"]
    if context == "coxph":
        words = ["Cox proportional-hazards regression"]
        if stat == "ties":
            words.append(record.formatted)
        if stat == "strata":
            words.append(f"stratified by {record.formatted}")
        return words
    if context == "cox.zph":
        return ["Schoenfeld"]
    if stat == "method.term":
        return ["Wald tests" if value == "Wald test" else "likelihood-ratio tests"]
    if context == "logistic" and stat in ("method", "conf.method", "p.method"):
        return [value]
    if context == "test":
        return {"smd": ["standardised mean difference"],
                "method.monte_carlo": ["Monte Carlo"],
                "test.missing": ["tested as a category"] if value else [],
                "excluded.level": ["left out", str(value)],
                "method": [value]}.get(stat, [])
    if context == "difference" and stat == "method":  # described in prose, not by name
        words = ["Differences between the two groups"]
        words += ["Welch's interval"] if "Welch" in value else []
        words += ["Wald interval"] if "Wald" in value else []
        words += ["design-based intervals"] if "design-based" in value else []
        words += ["standardised mean difference"] if "Yang" in value else []
        return words
    if stat == "method" and isinstance(value, str):  # an analysis added since: its name
        return [value]
    return []


def missing_words(text: str, records) -> list[str]:
    lowered = text.lower()
    out = []
    for record in records:
        for word in required_words(record):
            if word and word.lower() not in lowered:
                out.append(f"{record.context}/{record.stat_name}={record.stat!r} needs "
                           f"{word!r}")
    return sorted(set(out))


# --------------------------------------------------------------------------- the tests


def test_every_analysis_is_exercised():
    """Each analysis has variants, or its required options can be guessed."""
    analyses = builtin_analyses()
    unknown = [name for name, a in analyses.items()
               if name not in VARIANTS and not guessed_variants(a)]
    assert not unknown, f"add methods variants for {unknown} to VARIANTS"


def test_every_case_runs(built):
    """Every listed case runs; an analysis known only by guesses runs in one case at least."""
    _, _, sections, cases = built
    failed = {sid: s.blocks[0].message if s.blocks else "" for sid, s in sections.items()
              if s.failed and sid.rsplit("_", 1)[0] in VARIANTS}
    assert not failed, failed
    assert len(sections) == len(cases)
    for name in set(builtin_analyses()) - set(VARIANTS):
        ran = [sid for sid, s in sections.items() if sid.rsplit("_", 1)[0] == name
               and not s.failed]
        assert ran, f"no guessed options ran {name!r}: add its variants to VARIANTS"


def _case_ids():
    return [case[0] for case in all_cases()]


@pytest.mark.parametrize("sid", _case_ids())
def test_each_case_alone_reads_as_sentences_naming_what_ran(built, sid):
    plan, cohort, sections, _ = built
    section = sections.get(sid)
    if section is None or (section.failed and sid.rsplit("_", 1)[0] not in VARIANTS):
        pytest.skip(f"{sid}: guessed options that do not fit this analysis")
    paragraphs = methods_of(plan, cohort, [section])
    text = " ".join(paragraphs)
    assert not grammar_faults(text), grammar_faults(text)
    assert not raw_name_faults(text), (raw_name_faults(text), text)
    assert not missing_words(text, section.results), (missing_words(text, section.results),
                                                      text)


def test_all_cases_together_are_merged_into_sentences(built):
    plan, cohort, sections, _ = built
    paragraphs = methods_of(plan, cohort, [s for s in sections.values() if not s.failed])
    text = " ".join(paragraphs)
    assert not grammar_faults(text), grammar_faults(text)
    assert not raw_name_faults(text), raw_name_faults(text)
    every = [r for s in sections.values() for r in s.results]
    assert not missing_words(text, every), missing_words(text, every)
    said = sentences(text)
    assert len(said) == len(set(said)), "a sentence is repeated"


def test_sentence_checks_catch_the_faults_the_issue_lists():
    """The checks themselves: each fault of the old text is found."""
    for bad in ("Normal approximation with continuity correction.",
                "Compared with the t-test for age and leukocytes; and Fisher's test for sex.",
                "11q23 deletions were counted as rearrangements.",
                "EFS was measured time_days and status; patients were censored",
                "Survival was estimated  with the Kaplan–Meier method."):
        assert grammar_faults(bad), bad
    assert raw_name_faults("restricted to patients with sex = F.")
    assert not raw_name_faults("restricted to patients with sex = Female.")
    assert grammar_faults("Groups were compared with the log-rank test.") == []


def test_captions_keep_an_acronym_endpoint_label(built):
    """"Kaplan–Meier estimates of EFS by treatment", not "of efs"."""
    import dataclasses

    from cohortpress.api.blocks import Figure
    from cohortpress.app.run import SectionRunner

    plan, cohort, _, _ = built
    config = plan.config
    planned = [p for p in plan.sections if p.head.id == "survival_0"]
    assert planned
    options = planned[0].options.model_copy(update={"figure": True, "by": "treat"})
    rerun = dataclasses.replace(planned[0], options=options)
    with SectionRunner([rerun], cohort, config, 120) as runner:
        section = runner.run(0)
    captions = [b.caption for b in section.blocks if isinstance(b, Figure)]
    assert "Kaplan\u2013Meier estimates of EFS by treatment." in captions, captions
