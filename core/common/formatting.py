"""Formatting numbers the way journals print them.

Statistics are computed unrounded; these functions are the only place rounding happens.
Rounding is half away from zero on the decimal value (as a reader rounds "0.125" to
"0.13"), not Python's round-half-to-even on the binary float.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

MINUS = "\u2212"


def round_half_up(value: float, digits: int) -> Decimal:
    """``value`` rounded to ``digits`` decimals, halves away from zero.

    The float is first taken to 12 significant digits so that 0.145 (stored as
    0.14499999999999999) rounds to 0.15, as printed by hand.
    """
    exact = Decimal(repr(float(value)))
    cleaned = Decimal(f"{exact:.12g}") if exact != 0 else exact
    return cleaned.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def fmt_num(value: float | None, digits: int = 1, *, thousands: bool = False) -> str:
    """A number with fixed decimals; missing or non-finite values print as an en dash."""
    # float(): numpy float32 NaN/inf are not ``float`` instances and would print "NaN".
    if value is None or not math.isfinite(float(value)):
        return "\u2013"
    rounded = round_half_up(value, digits)
    if rounded == 0:
        rounded = abs(rounded)
    text = f"{rounded:,.{digits}f}" if thousands else f"{rounded:.{digits}f}"
    return text.replace("-", MINUS)


def fmt_count(n: int | float) -> str:
    return str(int(n))


def fmt_percent(numerator: float, denominator: float, digits: int = 0) -> str:
    """``numerator / denominator`` as a percentage without the % sign."""
    if not denominator:
        return "\u2013"
    return fmt_num(100.0 * numerator / denominator, digits)


def fmt_n_percent(n: int, denominator: int, digits: int = 0) -> str:
    """The journal's "n (%)": ``8 (32%)``; a zero denominator prints ``0 (–)``."""
    if not denominator:
        return f"{n} (\u2013)"
    return f"{n} ({fmt_percent(n, denominator, digits)}%)"


def format_p(p: float | None, digits: int = 3) -> str:
    """A p-value as journals print it.

    ``digits`` decimals; strictly below ``10**-digits`` prints ``<0.001``; above 0.99
    prints ``>0.99``; never ``0.000`` or ``1.000``. Missing or NaN prints as an en dash.
    """
    if p is None or not math.isfinite(p):
        return "\u2013"
    if p < 0 or p > 1 + 1e-12:
        raise ValueError(f"a p-value must be within [0, 1], got {p}")
    threshold = 10.0 ** -digits
    if p < threshold:
        return f"<{threshold:.{digits}f}"
    if p > 0.99:
        return ">0.99"
    rounded = round_half_up(p, digits)
    if rounded >= 1:  # digits=1: 0.96 would print "1.0"
        return f">{1 - threshold:.{digits}f}"
    return f"{rounded:.{digits}f}"



def p_phrase(formatted: str) -> str:
    """A printed p-value as it follows the letter p: ``= 0.04``, or ``<0.001`` as it is."""
    return formatted if formatted.startswith(("<", ">")) else f"= {formatted}"

def all_whole(values) -> bool:
    """True when every finite value is a whole number (ages in years, counts, scores), and
    there is at least one: such a variable's order statistics print without decimals."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return bool(finite) and all(v == math.floor(v) for v in finite)


def whole_number_digits(shown, digits: int) -> int:
    """The decimals of a cell of order statistics (median, quartiles, range) of a variable
    that holds whole numbers only: none when every number shown is whole ("50 (30–80)"),
    otherwise ``digits`` for all of them ("50.5 (30.0–80.0)", a median halfway between two
    values), so one cell never mixes decimals."""
    return 0 if all_whole(shown) and len([v for v in shown if v is not None]) == len(shown) \
        else digits


def fmt_range(low: float, high: float, digits: int = 0) -> str:
    return f"{fmt_num(low, digits)}\u2013{fmt_num(high, digits)}"


def fmt_significant(value: float | None, significant: int = 3) -> str:
    """``value`` to ``significant`` significant digits, never rounding the integer part.

    178.0 → ``178``; 18.8 → ``18.8``; 2.414 → ``2.41``; 1498.0 → ``1498`` (the integer part
    is kept whole, as tables print counts of cells), 687.08 → ``687``.
    """
    if value is None or not math.isfinite(value):
        return "\u2013"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    digits = max(0, significant - 1 - magnitude)
    return fmt_num(value, digits)


#: Names that keep their capital inside a sentence (eponyms of tests, scores, syndromes).
EPONYMS = frozenset({
    "Ann", "Breslow", "Burkitt", "Clark", "Cox", "Crohn", "Down", "Efron", "Fisher", "Gleason",
    "Gray", "Greenwood", "Hodgkin", "Holm", "Kaplan", "Karnofsky", "Kruskal", "Mann",
    "Pearson", "Philadelphia", "Schoenfeld", "Student", "Welch", "Whitney", "Wilcoxon", "Wilms",
    "Yates",
})


def in_sentence(label: str) -> str:
    """A label as it reads inside a sentence: "Age group" → "age group", while acronyms
    ("KMT2A status", "CNS leukaemia"), possessives ("Fisher's exact test") and eponyms
    ("Down syndrome", "Wilcoxon rank-sum test"; see :data:`EPONYMS`) keep their capitals."""
    if not label:
        return label
    first, _, rest = label.partition(" ")
    stem = first.split("-")[0].split("\u2013")[0]
    # "Day-8 response" reads "day-8 response"; "11q23 status" keeps its form.
    if any(c.isupper() for c in first[1:]) or any(c.isdigit() for c in stem) \
            or first.endswith("'s") or stem in EPONYMS:
        return label
    return first[0].lower() + first[1:] + (" " + rest if rest else "")


def humanise(name: str) -> str:
    """A column name as words: "diagnosis_date" → "diagnosis", "last_contact" → "last contact"."""
    words = name.replace("-", "_").split("_")
    if len(words) > 1 and words[-1].lower() in ("date", "dt", "day"):
        words = words[:-1]
    return " ".join(w for w in words if w)
