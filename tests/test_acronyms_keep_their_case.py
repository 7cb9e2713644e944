"""Acronyms and level labels keep their case wherever they are printed (issue 23, item 8).

A report whose labels are acronyms (AML, MRD, FAB) and whose levels are written in capitals
("Unknown AML", "MPAL") is built section by section; no caption, footnote, figure caption or
methods sentence may print them in another case (the old footnotes printed "unknown all or
aml").
"""

from __future__ import annotations

import re

CSV = """\
id,fab,mrd,subtype,blasts,os_m,os_s
P1,M1,POS,AML,34,26,dead
P2,M2,NEG,AML,45,59,alive
P3,M1,POS,MPAL,50,8,dead
P4,M2,,ALL,61,3,dead
P5,M1,NEG,ALL,29,24,alive
P6,M2,POS,MPAL,28,60,alive
P7,M1,NEG,AML,71,4,dead
P8,M2,,ALL,40,60,alive
"""

TOML = """\
[report]
title = "Case"
date = "2024-05-31"

[cohort]
path = "cohort.csv"
id = "id"
group = "fab"

[variables.fab]
label = "FAB group"

[variables.mrd]
label = "MRD status"
missing_label = "Unknown MRD"

[variables.subtype]
label = "AML subtype"
missing_label = "Unknown AML"

[variables.blasts]
label = "BM blasts"
kind = "continuous"
unit = "%"

[endpoints.os]
label = "OS after HSCT"
time = "os_m"
time_unit = "months"
event = "os_s"
event_codes = ["dead"]
censor_codes = ["alive"]

[[section]]
id = "t1"
analysis = "demographics"
variables = ["blasts", { variable = "mrd", test_missing = true, exclude_from_test = ["POS"] }]

[[section]]
id = "x"
analysis = "crosstab"
row = "subtype"

[[section]]
id = "km"
analysis = "survival"
endpoints = ["os"]
landmarks = [12]

[[section]]
id = "cox"
analysis = "cox"
endpoint = "os"
covariates = ["blasts", "mrd"]

[[section]]
id = "d"
analysis = "distribution"
variable = "blasts"
plot = "dots"
"""

#: Words that must never be printed in lower case.
CAPITALS = ("AML", "MRD", "FAB", "BM", "OS", "HSCT", "MPAL", "POS", "Unknown MRD")


def _texts(section) -> list[str]:
    texts = list(section.methods)
    for block in section.blocks:
        texts += [getattr(block, "caption", "") or ""]
        texts += [note.text for note in getattr(block, "footnotes", ())]
    return texts


def test_no_printed_sentence_changes_the_case_of_an_acronym_or_a_level(cp, tmp_path):
    from cohortpress.app.load import load_cohort
    from cohortpress.app.run import analyse, section_context

    project = cp.Project(tmp_path / "p", toml=TOML, csv=CSV)
    plan = project.plan()
    cohort = load_cohort(plan)
    texts = []
    for planned in plan.sections:
        texts += _texts(analyse(planned, cohort, section_context(planned, plan.config)))
    printed = "\n".join(texts)
    for word in CAPITALS:
        wrong = [m.group(0) for m in re.finditer(
                     rf"(?<![\w]){re.escape(word)}(?![\w])", printed, re.IGNORECASE)
                 if m.group(0) != word]
        assert not wrong, f"{word!r} printed as {wrong}:\n{printed}"
    # and they are printed: the test reads what the sections say
    for word in ("FAB group", "MRD status", "AML subtype", "OS after HSCT", "Unknown MRD"):
        assert word in printed or word[0].lower() + word[1:] in printed, (word, printed)
