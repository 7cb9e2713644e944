"""Sentence templates for the statistical-methods text: lists, test names and clauses.

The analyses write their methods sentences with these helpers so that every sentence
follows the same grammar: lists joined as "a, b and c"; clauses that themselves hold
commas joined with semicolons ("…; …; and …"), two clauses with a plain "and"; a test
named with its article ("the two-sample t-test", but "Fisher's exact test"); a note on a
test in one pair of parentheses; and each sentence starting with a capital letter and
ending with a full stop. Small and written here rather than taken from a library: the
rules are the house style of this report, not general English generation.
"""

from __future__ import annotations

import re
from typing import Iterable

from cohortpress.common.formatting import in_sentence

__all__ = ["join_list", "join_clauses", "test_phrase", "parenthetical", "sentence",
           "level_in_sentence", "percent_text", "endpoint_sentences", "logrank_phrase",
           "PAIRWISE_ADJUST", "between_groups"]

#: The adjustment of pairwise p-values, as the methods name it.
PAIRWISE_ADJUST = {"holm": "Holm's adjustment of the p-values",
                   "bonferroni": "the Bonferroni adjustment of the p-values",
                   "BH": "the Benjamini\u2013Hochberg adjustment of the p-values",
                   "none": "no adjustment of the p-values"}


def join_list(items: Iterable[str], last: str = "and") -> str:
    """"a", "a and b", "a, b and c" (no serial comma, as the report writes lists)."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def join_clauses(clauses: Iterable[str]) -> str:
    """Clauses of one sentence: two with "and"; more with commas, or with semicolons
    (and "; and" before the last) when a clause holds a comma of its own."""
    clauses = [c for c in clauses if c]
    if len(clauses) <= 2:
        return " and ".join(clauses)
    if any("," in c for c in clauses):
        return f"{'; '.join(clauses[:-1])}; and {clauses[-1]}"
    return join_list(clauses)


def level_in_sentence(level: str) -> str:
    """A group's name inside a sentence: "Female" → "female", but a code-like name ("A",
    "M0", "D-penicillamine") keeps its form."""
    first = level.split(" ", 1)[0]
    if len(first) <= 2 or (len(first) > 1 and first[1] in "-/"):
        return level
    return in_sentence(level)


def between_groups(levels, label: str) -> str:
    """"between the placebo and drug groups", "among the three treatment arm groups",
    "among the four risk groups"."""
    names = [level_in_sentence(level) for level in levels]
    if len(names) == 2:
        return f"between the {names[0]} and {names[1]} groups"
    label = in_sentence(label or "group")
    noun = f"{label}s" if label.endswith("group") else f"{label} groups"
    return f"among the {NUMBER_WORDS.get(len(names), str(len(names)))} {noun}"


#: Small counts as a sentence writes them.
NUMBER_WORDS = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
                9: "nine", 10: "ten"}


def test_phrase(method: str) -> str:
    """A test's name as a sentence uses it: "Two-sample t-test" → "the two-sample t-test";
    possessive names ("Fisher's exact test", "Gray's test") take no article."""
    method = method.strip()
    if method.split(" ", 1)[0].endswith(("'s", "\u2019s")):
        return method
    if method.lower().startswith("the "):
        return method
    return "the " + in_sentence(method)


def parenthetical(note: str) -> str:
    """A note as the inside of one pair of parentheses: nested brackets become commas
    ("100,000 tables (seed 7)" → "100,000 tables, seed 7") and a trailing stop goes."""
    text = re.sub(r"\s*\(([^()]*)\)", r", \1", note.strip())
    return text.rstrip(" .;")


def sentence(text: str) -> str:
    """One sentence: single spaces, a capital first letter and one full stop at the end."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text.rstrip(" ;,:") + "."


def percent_text(level: float) -> str:
    """A confidence level as a percentage: 0.95 → "95%", 0.975 → "97.5%"."""
    return f"{level * 100:.10g}%"


def endpoint_sentences(endpoints) -> list[str]:
    """How each endpoint was measured: from dates ("Event-free survival was measured from
    diagnosis to relapse or death; …"), or as the follow-up time and event status the
    cohort file records (the endpoint's ``definition`` then names columns, not events)."""
    from_dates, recorded = [], []
    for ep in endpoints:
        if ep.definition.startswith("from "):
            from_dates.append((ep.label, ep.definition))
        elif ep.definition:
            recorded.append(ep.label)
    sentences = []
    if from_dates:
        clauses = [f"{label if k == 0 else in_sentence(label)} was measured {definition}"
                   for k, (label, definition) in enumerate(from_dates)]
        sentences.append(sentence("; ".join(clauses) + "; patients without an event were "
                                  "censored at last contact"))
    if recorded:
        labels = join_list([recorded[0]] + [in_sentence(label) for label in recorded[1:]])
        sentences.append(sentence(f"{labels} {'was' if len(recorded) == 1 else 'were'} "
                                  f"analysed with the follow-up time and event status "
                                  f"recorded for each patient"))
    return sentences


def logrank_phrase(test: str, strata_label: str | None, rho: float, gamma: float) -> str:
    """The group comparison as the methods name it: "the log-rank test for trend,
    stratified by sex, with Fleming–Harrington weights (rho = 1, gamma = 0)"."""
    text = "the log-rank test" + (" for trend" if test == "trend" else "")
    if strata_label:
        text += f", stratified by {in_sentence(strata_label)}"
    if rho or gamma:
        text += f", with Fleming\u2013Harrington weights (rho = {rho:g}, gamma = {gamma:g})"
    return text
