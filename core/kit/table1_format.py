"""Statistic strings of a Table 1: named fields such as ``"{median} ({p25}, {p75})"``.

A cell of Table 1 is a template whose fields are statistics of the variable in that column
(:data:`CONTINUOUS_FIELDS`, :data:`CATEGORICAL_FIELDS`); each field has its own decimals.
The named statistics of a continuous row (``median_range``, ``mean_sd``...) are templates
too (:data:`NAMED_STATS`). Formatting is plain string work on finished numbers; the numbers
come from the results records.
"""

from __future__ import annotations

import string
from typing import Mapping

from cohortpress.common.formatting import fmt_num, fmt_significant, whole_number_digits
from cohortpress.common.suggest import did_you_mean

#: The fields of a continuous row, with what each is (the docs print this table).
CONTINUOUS_FIELDS = {
    "mean": "mean", "sd": "standard deviation", "median": "median",
    "p25": "first quartile (25th percentile, by quantile_type)",
    "p75": "third quartile (75th percentile, by quantile_type)",
    "min": "smallest value", "max": "largest value",
    "N_nonmiss": "patients with a known value", "n_missing": "patients with no value",
    "p_missing": "percentage of the column's patients with no value",
    "N_obs": "patients in the column"}
#: The fields of a categorical or binary level row.
CATEGORICAL_FIELDS = {
    "n": "patients at the level", "N": "the percentage's denominator (percent_of)",
    "p": "percentage n / N", "N_nonmiss": "patients with a known value",
    "n_missing": "patients with no value",
    "p_missing": "percentage of the column's patients with no value",
    "N_obs": "patients in the column"}
#: Fields that are counts (no decimals unless asked) and percentages (percent_digits).
COUNT_FIELDS = frozenset({"n", "N", "N_nonmiss", "n_missing", "N_obs"})
PERCENT_FIELDS = frozenset({"p", "p_missing"})
#: Order statistics: printed without decimals when the variable and the row are whole.
ORDER_FIELDS = frozenset({"median", "p25", "p75", "min", "max"})
#: A field's name in a row label made from a custom string.
FIELD_LABELS = {"mean": "Mean", "sd": "SD", "median": "Median", "p25": "Q1", "p75": "Q3",
                "min": "Min", "max": "Max", "N_nonmiss": "N", "n_missing": "N missing",
                "p_missing": "% missing", "N_obs": "N", "n": "n", "N": "N", "p": "%"}

#: The named statistics of a continuous row: its label and its template. ``n_missing``
#: places the missing-value row there (labelled by the variable's missing label).
NAMED_STATS = {
    "median_range": ("Median (range)", "{median} ({min}\u2013{max})"),
    "median_iqr": ("Median (IQR)", "{median} ({p25}\u2013{p75})"),
    "mean_sd": ("Mean (SD)", "{mean} ({sd})"),
    "median": ("Median", "{median}"),
    "mean": ("Mean", "{mean}"),
    "iqr": ("IQR", "{p25}\u2013{p75}"),
    "range": ("Range", "{min}\u2013{max}"),
    "n": ("N", "{N_nonmiss}"),
    "n_missing": (None, "{n_missing}"),
}
#: The categorical statistic printed when none is given (``n (%)``).
DEFAULT_CATEGORICAL = "{n} ({p}%)"


def template_fields(template: str) -> list[str]:
    """The field names of a template, in order (``"{n} ({p}%)"`` -> ``["n", "p"]``).

    Raises ``ValueError`` for a malformed template (an unmatched brace) or a field with a
    format spec or conversion, which the digits options replace.
    """
    fields = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion:
            raise ValueError(f"'{{{name}}}' in \"{template}\": write fields as {{name}}; "
                             f"decimals are set by digits")
        fields.append(name)
    return fields


def check_template(template: str, kind: str) -> None:
    """Refuse a template with no field, an unknown field (with a did-you-mean) or a field
    of another kind of row; ``kind`` is ``continuous``, ``categorical`` or ``any``."""
    allowed = {"continuous": CONTINUOUS_FIELDS, "categorical": CATEGORICAL_FIELDS,
               "any": {**CATEGORICAL_FIELDS, **CONTINUOUS_FIELDS}}[kind]
    try:
        fields = template_fields(template)
    except ValueError as exc:
        raise ValueError(str(exc).replace("Single '}' encountered in format string",
                                          "an unmatched brace")) from None
    if not fields:
        raise ValueError(f"\"{template}\" has no field; write fields in braces, e.g. "
                         f"{{{next(iter(allowed))}}}")
    for name in fields:
        if name not in allowed:
            row = "" if kind == "any" else f" for a {kind} row"
            raise ValueError(f"unknown field '{{{name}}}' in \"{template}\"{row}"
                             f"{did_you_mean(name, allowed)} (fields: {', '.join(allowed)})")


def check_digits_fields(digits: Mapping[str, int]) -> None:
    """Refuse a per-field decimals table naming a field that does not exist."""
    known = {**CONTINUOUS_FIELDS, **CATEGORICAL_FIELDS}
    for name in digits:
        if name not in known:
            raise ValueError(f"digits names field '{name}', which does not exist"
                             f"{did_you_mean(name, known)} (fields: {', '.join(known)})")


def template_label(template: str) -> str:
    """A row label from a custom string: each field by its name in a label
    (``"{median} ({p25}, {p75})"`` -> ``"Median (Q1, Q3)"``)."""
    text = template.replace("{p}%", "{p}").replace("{p_missing}%", "{p_missing}")
    return text.format(**{name: FIELD_LABELS[name] for name in template_fields(template)})


def whole_in_row(values: Mapping[str, float | None], templates, explicit: Mapping[str, int]
              ) -> bool:
    """Whether the order statistics a row shows (in every column) are all whole, so that
    they print without decimals (fields with explicit decimals excepted): a median halfway
    between two values, "259.5", keeps one decimal for the whole row so that the columns
    agree. ``values`` is a list of per-column field values."""
    shown = [column[name] for column in values for template in templates
             for name in template_fields(template)
             if name in ORDER_FIELDS and name not in explicit and column.get(name) is not None]
    return whole_number_digits(shown, 1) == 0


def format_template(template: str, values: Mapping[str, float | None],
                    digits: Mapping[str, int], *, default_digits: int = 1,
                    percent_digits: int = 0, significant: int | None = None,
                    whole: bool = False) -> str:
    """A template filled with one column's values.

    Decimals per field: ``digits[field]`` if given; else counts none, percentages
    ``percent_digits``, means and SDs ``default_digits`` (or ``significant`` significant
    digits), order statistics the same but none when ``whole``. Percentages are stored as
    proportions and printed times 100. A missing value prints as an en dash.
    """
    filled = {}
    for name in template_fields(template):
        value = values.get(name)
        if name in PERCENT_FIELDS and value is not None:
            value = 100.0 * value
        if name in digits:
            filled[name] = fmt_num(value, digits[name])
        elif name in COUNT_FIELDS:
            filled[name] = "\u2013" if value is None else fmt_num(value, 0)
        elif name in PERCENT_FIELDS:
            filled[name] = fmt_num(value, percent_digits)
        elif significant and value is not None:
            filled[name] = fmt_significant(value, significant)
        else:
            filled[name] = fmt_num(value, 0 if whole and name in ORDER_FIELDS
                                   else default_digits)
    return template.format(**filled)


#: R's quantile types, as a footnote describes them (Hyndman and Fan 1996).
QUANTILE_TYPES = {
    1: "the inverse of the empirical distribution function",
    2: "the inverse of the empirical distribution function with averaging at "
       "discontinuities, SAS's default",
    3: "the nearest even order statistic",
    4: "linear interpolation of the empirical distribution function",
    5: "piecewise linear with nodes at (k \u2212 0.5)/n",
    6: "the p(n + 1) rule of Minitab and SPSS",
    7: "R's default, linear interpolation between the order statistics",
    8: "approximately median-unbiased",
    9: "approximately unbiased for normally distributed data",
}


def quantile_note(quantile_type: int) -> str:
    """The footnote of quartiles computed by a quantile type other than R's default."""
    return (f"Quartiles (Q1, Q3) by R's quantile type {quantile_type}: "
            f"{QUANTILE_TYPES[quantile_type]}.")
