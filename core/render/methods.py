"""The statistical-methods paragraph, written from what actually ran.

Each analysis contributes sentences about what it did (``Section.methods``): the test used
for each variable, the Kaplan–Meier confidence-interval transform, the Cox ties method. This
module arranges them the way a paper's Methods reads:

1. descriptive statistics and tests (Table 1, cross-tabulations, distributions);
2. survival (Kaplan–Meier, log-rank, cumulative incidence);
3. regression (Cox, logistic);
4. missing data, counted from the results, and any restriction of the population;
5. the software, with versions.

A section's place is read from its results records (``survfit`` records make it a survival
section, ``coxph`` or ``logistic`` records a regression one), so a third-party analysis lands
in the right paragraph without registering anything. Repeated sentences are dropped, and
sentences that differ only in their subject ("Associations with event-free survival were
estimated ..." and "Associations with overall survival were estimated ...") are merged into
one. The paragraph therefore changes whenever the config changes a method, and only then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from cohortpress.api.sections import Section
from cohortpress.common.errors import DataError
from cohortpress.common.formatting import in_sentence
from cohortpress.data.conditions import section_subset
from cohortpress.kit.disclosure import released_text
from cohortpress.kit.prose import join_list
from cohortpress.kit.records import STREAMED_RECORD

if TYPE_CHECKING:  # pragma: no cover
    from cohortpress.common.disclosure import DisclosureRule
    from cohortpress.config.schema import Config
    from cohortpress.data.cohort import Cohort

DESCRIPTIVE, SURVIVAL, REGRESSION = "descriptive", "survival", "regression"
ORDER = (DESCRIPTIVE, SURVIVAL, REGRESSION)

#: Results contexts that place a section in the survival or regression paragraph.
SURVIVAL_CONTEXTS = frozenset({"survfit", "survdiff", "cuminc", "followup", "survival"})
REGRESSION_CONTEXTS = frozenset({"coxph", "cox.zph", "logistic", "glm", "lm", "regression"})
#: Built-in analyses whose sections may hold no records (a failed run, text only).
KNOWN_ANALYSES = {"survival": SURVIVAL, "cox": REGRESSION, "logistic": REGRESSION}

#: Library names as they are written in prose, in the order they are cited.
LIBRARIES = (("numpy", "NumPy"), ("scipy", "SciPy"), ("pandas", "pandas"))


def compose_methods(config: "Config", cohort: "Cohort", sections: Sequence[Section],
                    versions: Mapping[str, str],
                    plugins: Sequence[tuple[str, str]] = ()) -> list[str]:
    """The paragraphs of the statistical-methods section, as plain text.

    Parameters
    ----------
    config, cohort, sections
        The build's config, cohort and sections (failed sections contribute nothing).
    versions
        Package versions (``cohortpress``, ``python``, ``numpy``...), as in ``results.json``.
    plugins
        ``(name, version)`` of the third-party plugins loaded, cited with the software.
    """
    rule = config.disclosure.rule() if getattr(config, "disclosure", None) else None
    heads = {head.id: head for head in config.section}
    by_kind: dict[str, list[str]] = {kind: [] for kind in ORDER}
    for section in sections:
        if section.failed:
            continue
        head = heads.get(section.id)
        kind = section_kind(section, head.analysis if head is not None else None)
        sentences = [_capitalised(one) for text in section.methods if text and text.strip()
                     for one in split_sentences(text)]
        if sentences and head is not None and head.subset:
            sentences.append(_subset_sentence(cohort, head, section, config, rule))
        by_kind[kind].extend(sentences)
    paragraphs = [" ".join(merge_parallel(dedupe(by_kind[kind])))
                  for kind in ORDER if by_kind[kind]]
    paragraphs.append(missing_data_paragraph(cohort, sections, by_kind, rule))
    if rule is not None:
        paragraphs.append(rule.sentence())
    software = software_paragraph(versions, sections, plugins)
    engine = engine_sentence(cohort, sections)
    paragraphs.append(f"{software} {engine}" if engine else software)
    return [p for p in paragraphs if p]


#: Engines as a methods section names them, by the name in ``source_info["engine"]``.
ENGINE_NAMES = {"duckdb": "DuckDB", "spark": "Apache Spark", "pyspark": "Apache Spark"}


def engine_name(cohort: "Cohort") -> str:
    """The SQL engine that computed the statistics, with its version ("DuckDB 1.2.0")."""
    engine = str(getattr(cohort, "source_info", {}).get("engine", "the SQL engine"))
    name, _, version = engine.partition(" ")
    return f"{ENGINE_NAMES.get(name.lower(), name)} {version}".strip()


def engine_sentence(cohort: "Cohort", sections: Sequence[Section] = ()) -> str:
    """On the engine path: where the statistics were computed ("" on the rows path), and
    whether the patients' rows left the engine (a section that read them streamed records
    ``rows.streamed``: a Cox section's models, or a survival section's endpoints)."""
    if not getattr(cohort, "engine", False):
        return ""
    streamed = streamed_sections(sections)
    if streamed:
        titles = join_list(f"\u201c{s.title}\u201d" for s in sections if s.id in streamed)
        which = f"the sections {titles} read" if len(streamed) > 1 else \
            f"the section {titles} reads"
        return (f"The statistics were computed from aggregates in {engine_name(cohort)}, "
                f"except that {which} the patients' rows from it a chunk at a time.")
    return (f"The statistics were computed from aggregates in {engine_name(cohort)}; the "
            f"patients' rows did not leave the engine.")


def streamed_sections(sections: Sequence[Section]) -> list[str]:
    """The sections whose analyses read the patients' rows from the engine, streamed
    (their record ``rows.streamed``)."""
    return [section.id for section in sections if not section.failed
            and any(r.stat_name == STREAMED_RECORD for r in section.results)]


def section_kind(section: Section, analysis: str | None = None) -> str:
    """Which paragraph a section's sentences belong to, from its results records."""
    contexts = {r.context for r in section.results}
    if contexts & REGRESSION_CONTEXTS:
        return REGRESSION
    if contexts & SURVIVAL_CONTEXTS:
        return SURVIVAL
    if not contexts and analysis in KNOWN_ANALYSES:
        return KNOWN_ANALYSES[analysis]
    return DESCRIPTIVE


def split_sentences(text: str) -> list[str]:
    """A method string as its sentences (an analysis may give several in one string), so
    that a sentence two sections share is said once."""
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\u201c])", text.strip()) if s]


def dedupe(sentences: Iterable[str]) -> list[str]:
    """Sentences in order, each once."""
    seen: list[str] = []
    for sentence in sentences:
        if sentence not in seen:
            seen.append(sentence)
    return seen


# --------------------------------------------------------------------------- merging

#: A merge needs this many shared words before the difference and after it; the difference
#: must start within the first MAX_PREFIX words (the subject) and be at most MAX_SPAN words.
MIN_PREFIX, MIN_SUFFIX, MAX_PREFIX, MAX_SPAN = 2, 3, 8, 4


@dataclass
class _Parallel:
    """A sentence with one slot that several sentences filled differently."""

    prefix: list[str]
    variants: list[list[str]]
    suffix: list[str]
    tokens: list[str] = field(default_factory=list)

    def text(self) -> str:
        if len(self.variants) == 1:
            return " ".join(self.tokens)
        spans = [" ".join(v) for v in self.variants]
        suffix = list(self.suffix)
        if not self.prefix:  # merged subjects: "A was …" and "B was …" → "A and b were …"
            spans = spans[:1] + [in_sentence(span) for span in spans[1:]]
            suffix[0] = "were"
        joined = spans[0] if len(spans) == 1 else f"{', '.join(spans[:-1])} and {spans[-1]}"
        return " ".join([*self.prefix, joined, *suffix])


def merge_parallel(sentences: Sequence[str]) -> list[str]:
    """Merge sentences that differ only in a short span near their start.

    "Associations with event-free survival were estimated with Cox regression." and
    "Associations with overall survival were estimated with Cox regression." become
    "Associations with event-free and overall survival were estimated with Cox regression."
    Sentences whose singular subject alone differs merge too: "Overall survival was analysed
    with ..." and "EFS was analysed with ..." become "Overall survival and EFS were analysed
    with ...". Sentences that differ later (a different confidence-interval transform,
    another ties method) are left apart: they describe different methods.
    """
    merged: list[_Parallel] = []
    for sentence in sentences:
        tokens = sentence.split()
        for item in merged:
            if _absorb(item, tokens):
                break
        else:
            merged.append(_Parallel([], [tokens], [], tokens))
    return [item.text() for item in merged]


def _absorb(item: _Parallel, tokens: list[str]) -> bool:
    if len(item.variants) > 1:  # the slot is fixed: the new sentence must fit it
        p, s = len(item.prefix), len(item.suffix)
        if len(tokens) <= p + s or tokens[:p] != item.prefix or tokens[len(tokens) - s:] != item.suffix:
            return False
        span = tokens[p:len(tokens) - s]
        if not _span_ok(span) or span in item.variants:
            return False
        item.variants.append(span)
        return True
    first = item.tokens
    p = 0
    while p < min(len(first), len(tokens)) and first[p] == tokens[p]:
        p += 1
    s = 0
    while (s < min(len(first), len(tokens)) - p and first[len(first) - 1 - s] == tokens[len(tokens) - 1 - s]):
        s += 1
    a, b = first[p:len(first) - s], tokens[p:len(tokens) - s]
    subject = p == 0 and s > MIN_SUFFIX and first[len(first) - s] == "was"
    if not ((MIN_PREFIX <= p <= MAX_PREFIX or subject) and s >= MIN_SUFFIX
            and _span_ok(a) and _span_ok(b)):
        return False
    item.prefix, item.suffix, item.variants = first[:p], first[len(first) - s:], [a, b]
    return True


def _span_ok(span: list[str]) -> bool:
    return 1 <= len(span) <= MAX_SPAN and not any(t[-1] in ".;:!?" for t in span)


# --------------------------------------------------------------------------- missing data


def missing_data_paragraph(cohort: "Cohort", sections: Sequence[Section],
                           by_kind: Mapping[str, Sequence[str]],
                           rule: "DisclosureRule | None" = None) -> str:
    """How missing values were handled, with the counts the results hold (under a
    disclosure rule, as released: a variable with a hidden count says so, without it)."""
    sentences = []
    counts = missing_counts(sections)
    hidden = _hidden_missing(sections)
    counts.update({name: counts.get(name, 0) or 1 for name in hidden})
    if by_kind[DESCRIPTIVE] or counts:
        tested = _tested_missing(cohort, sections)
        text = ("Missing values were reported in their own row for each variable and were "
                + (f"not included in statistical tests, except for {_join(tested)}, whose "
                   f"unknown values were tested as a category" if tested
                   else "not included in any statistical test"))
        missing = [(name, n) for name, n in counts.items() if n > 0]
        if missing:
            listed = [f"{_variable_label(cohort, name)} ({_patients(n, name in hidden, rule)})"
                      for name, n in missing]
            text += f"; values were missing for {_join(listed)}"
        elif counts:
            text += "; no values were missing in the variables compared"
        sentences.append(text + ".")
    regression = " ".join(by_kind[REGRESSION])
    if regression and "complete case" not in regression:
        sentences.append("Regression models were fitted to complete cases.")
    excluded = _excluded_levels(cohort, sections)
    if excluded:
        sentences.append(_capitalised("; ".join(excluded)) + ".")
    if cohort.filter_text:
        sentences.append(f"The analysis population was restricted to patients with "
                         f"{cohort.filter_text} ({released_text(cohort.n, rule)} of "
                         f"{released_text(cohort.n_rows_read, rule)} records)"
                         f"{_filter_unknown_clause(cohort, rule)}.")
    return " ".join(sentences)


def _patients(n: int, hidden: bool, rule: "DisclosureRule | None") -> str:
    """"3 patients"; a count the disclosure rule hides in one of its cells, not given."""
    if hidden and rule is not None:
        return f"some counts shown as {rule.hidden_text}"
    return f"{n} patient{'s' if n != 1 else ''}"


def _hidden_missing(sections: Sequence[Section]) -> set[str]:
    """Variables with an ``N_miss`` record a disclosure rule hides."""
    return {r.variable for s in sections for r in s.results if r.stat_name == "N_miss"
            and r.variable is not None and r.stat is None and r.disclosure is not None}


def _filter_unknown_clause(cohort: "Cohort", rule: "DisclosureRule | None" = None) -> str:
    """What a filter removed for an unknown value, which its text does not say."""
    removed = getattr(cohort, "filter_unknown", ()) or ()
    parts = [f"{released_text(n, rule)} patient{'s' if n != 1 or rule else ''} with unknown "
             f"{_variable_label(cohort, name)}" for name, n in removed if n > 0]
    return f"; the filter also removed {_join(parts)}" if parts else ""


def _tested_missing(cohort: "Cohort", sections: Sequence[Section]) -> list[str]:
    """The variables whose unknown values a test counted as a category (``test.missing``
    records), once each."""
    names = dict.fromkeys(r.variable for section in sections for r in section.results
                          if r.context == "test" and r.stat_name == "test.missing" and r.stat)
    return [_variable_label(cohort, name) for name in names]


def _excluded_levels(cohort: "Cohort", sections: Sequence[Section]) -> list[str]:
    """``level of variable`` for each level a test left out (``excluded.level``)."""
    found: dict[str, list[str]] = {}
    for section in sections:
        for r in section.results:
            if r.context == "test" and r.stat_name == "excluded.level":
                levels = found.setdefault(r.variable, [])
                if str(r.stat) not in levels:
                    levels.append(str(r.stat))
    return [f"the test of {_variable_label(cohort, name)} left out {_join(levels)}"
            for name, levels in found.items()]


def missing_counts(sections: Sequence[Section]) -> dict[str, int]:
    """Patients with a missing value, per variable, from the ``N_miss`` records.

    The overall column's count is used when there is one; otherwise the groups' counts are
    added. A variable shown in several sections is counted once (its largest count).
    """
    counts: dict[str, int] = {}
    for section in sections:
        overall: dict[str, int] = {}
        grouped: dict[str, int] = {}
        for record in section.results:
            if record.stat_name != "N_miss" or record.variable is None:
                continue
            value = _as_int(record.stat)
            if value is None:
                continue
            target = overall if record.group_level is None else grouped
            target[record.variable] = target.get(record.variable, 0) + value
        for name in {**grouped, **overall}:
            n = overall.get(name, grouped.get(name, 0))
            counts[name] = max(counts.get(name, 0), n)
    return counts


def _as_int(value: Any) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number == number else None


# --------------------------------------------------------------------------- software


def software_paragraph(versions: Mapping[str, str], sections: Sequence[Section],
                       plugins: Sequence[tuple[str, str]] = ()) -> str:
    """The software cited with versions, and the sidedness of tests when any ran."""
    libs = [f"{shown} {versions[name]}" for name, shown in LIBRARIES if name in versions]
    text = (f"Analyses were performed in Python {versions.get('python', '')} with "
            f"cohortpress {versions.get('cohortpress', '')}")
    if libs:
        text += f" ({_join(libs)})"
    if plugins:
        text += f" and the plugin{'s' if len(plugins) > 1 else ''} " + \
            _join([f"{name} {version}" for name, version in plugins])
    text += "."
    has_figures = any(b.kind == "figure" for s in sections for b in s.blocks)
    if has_figures and "matplotlib" in versions:
        text += f" Figures were drawn with matplotlib {versions['matplotlib']}."
    if any(r.stat_name == "p.value" for s in sections for r in s.results):
        text += " All tests were two-sided."
    return text


# --------------------------------------------------------------------------- words


def _subset_sentence(cohort: "Cohort", head, section: Section, config=None,
                     rule: "DisclosureRule | None" = None) -> str:
    """"The analysis in “Title” was restricted to the 25 patients with leukaemia type = ALL"."""
    conditions = _join([_condition_text(cohort, c, config) for c in head.subset])
    try:
        n = f"the {released_text(section_subset(cohort, head.subset, head.id).n, rule)} "
    except DataError:  # the section failed on its subset: its error block says why
        n = ""
    return (f"The analysis in \u201c{section.title.rstrip('.')}\u201d was restricted to "
            f"{n}patients with {conditions}.")


WORDS = (("eq", "="), ("ne", "≠"), ("lt", "<"), ("le", "≤"), ("gt", ">"), ("ge", "≥"))


def _condition_text(cohort: "Cohort", cond, config=None) -> str:
    label = _variable_label(cohort, cond.variable)
    shown = _value_labels(config, cond.variable)
    for key, word in WORDS:
        value = getattr(cond, key, None)
        if value is not None:
            return f"{label} {word} {shown(value)}"
    if getattr(cond, "is_in", None) is not None:
        return f"{label} {_join([shown(v) for v in cond.is_in], last=' or ')}"
    if getattr(cond, "not_in", None) is not None:
        return f"{label} other than {_join([shown(v) for v in cond.not_in], last=' or ')}"
    return f"{label} {'missing' if getattr(cond, 'missing', False) else 'known'}"


def _value_labels(config, name: str):
    """A function showing a variable's coded value by its label where the config gives one
    ("F" → "Female"), as the tables show it."""
    settings = getattr(config, "variables", {}).get(name) if config is not None else None
    labels = {str(k): v for k, v in (getattr(settings, "labels", None) or {}).items()}

    def shown(value) -> str:
        text = f"{value:g}" if isinstance(value, float) else str(value)
        return labels.get(text, text)
    return shown


def _variable_label(cohort: "Cohort", name: str) -> str:
    """A variable's label as it reads mid-sentence ("leukaemia type", "CNS leukaemia")."""
    try:
        label = cohort.variable(name).label or name
    except Exception:  # a variable the analysis made up: its name is all there is
        label = name
    return _lower_first(label)


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is an acronym (CNS, KMT2A)."""
    first = text.split(" ", 1)[0]
    if len(first) > 1 and any(c.isupper() for c in first[1:]):
        return text
    return text[:1].lower() + text[1:]


def _capitalised(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _join(items: Sequence[str], last: str = " and ") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + last + items[-1]
