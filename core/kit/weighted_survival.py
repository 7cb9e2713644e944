"""Weighted Kaplan–Meier curves in the survival analysis (``weights = "<column>"``).

The curve of an IPT- or survey-weighted cohort is R's ``survfit(Surv(t, e) ~ g, weights =
w, robust = TRUE)`` (:mod:`cohortpress.stats.weighted_km`): weighted estimates with robust
(infinitesimal-jackknife) standard errors and intervals. The numbers at risk, events and
censorings the table and the figure print stay counts of patients, so a reader sees how
many patients each estimate rests on; the records say which numbers are weighted.

The log-rank test, the cumulative incidence of competing risks and the restricted mean
survival time are not weighted here, so a weighted section refuses them (one line each).
"""

from __future__ import annotations

import dataclasses

from cohortpress.api.results import Result
from cohortpress.common.errors import DataError
from cohortpress.common.formatting import in_sentence
from cohortpress.kit.prose import percent_text
from cohortpress.kit.table1_weighted import cohort_weights

__all__ = ["km_fit", "check_weighted_survival", "weighted_records", "weighted_sentence",
           "ROBUST_SE"]

ROBUST_SE = "robust (infinitesimal jackknife) standard errors"


def km_fit(time, event, weights, conf_type: str, conf_level: float, entry=None, counts=None):
    """The Kaplan–Meier fit of one curve: weighted (robust SE) when ``weights`` is given,
    with the patients' numbers at risk, events and censorings in place of the weighted
    ones; otherwise :func:`cohortpress.stats.kaplan_meier.kaplan_meier` (with delayed
    ``entry`` if given; weighted curves with delayed entry are refused by
    :func:`check_weighted_survival`; ``counts``: patients per row, for rows from
    aggregates, never with weights)."""
    from cohortpress.stats.kaplan_meier import kaplan_meier
    from cohortpress.stats.weighted_km import weighted_kaplan_meier

    counted = kaplan_meier(time, event, conf_type, conf_level, entry=entry, counts=counts)
    if weights is None:
        return counted
    weighted = weighted_kaplan_meier(time, event, weights, conf_type, conf_level)
    return dataclasses.replace(weighted, n_risk=counted.n_risk, n_event=counted.n_event,
                               n_censor=counted.n_censor, n=counted.n)


def check_weighted_survival(options, cohort) -> None:
    """What a weighted survival section refuses: bad weights, the log-rank test, competing
    risks shown as cumulative incidence, and the RMST."""
    if options.weights is None:
        return
    column = options.weights
    cohort_weights(cohort, column)
    if options.test != "none":
        raise DataError(f"weights = '{column}' gives weighted Kaplan–Meier curves; the "
                        f"{options.test} test is not weighted: set test = \"none\"",
                        key="test")
    competing = [name for name in options.endpoints
                 if options.cumulative_incidence and cohort.endpoint(name).has_competing]
    if competing:
        raise DataError(f"weights = '{column}': endpoint '{competing[0]}' has competing "
                        f"events, whose cumulative incidence is not weighted; give it "
                        f"cumulative_incidence = false or a section of its own",
                        key="weights")
    entered = [name for name in options.endpoints if cohort.endpoint(name).entry is not None]
    if entered:
        raise DataError(f"weights = '{column}': endpoint '{entered[0]}' has delayed entry, "
                        f"which the weighted Kaplan–Meier does not take; leave weights out "
                        f"or give that endpoint a section of its own", key="weights")
    if getattr(options, "rmst", False):
        raise DataError(f"weights = '{column}': the restricted mean survival time is not "
                        f"weighted; leave rmst out", key="rmst")


def weighted_records(name: str, options, cohort) -> list[Result]:
    """The records saying an endpoint's curves are weighted, by which column, and how."""
    if options.weights is None:
        return []
    return [Result("survfit", "weights", options.weights, variable=name),
            Result("survfit", "weights.label", cohort.variable(options.weights).label,
                   variable=name),
            Result("survfit", "std.err.type", "robust", variable=name),
            Result("survfit", "counts", "patients (unweighted)", variable=name)]


def weighted_sentence(options, cohort) -> str:
    """The methods sentence of weighted Kaplan–Meier curves."""
    label = in_sentence(cohort.variable(options.weights).label)
    return (f"Survival was estimated with the Kaplan\u2013Meier method weighted by {label}, "
            f"with {ROBUST_SE} and {percent_text(options.conf_level)} confidence intervals "
            f"(as R survival's survfit with weights and robust = TRUE); numbers at risk and "
            f"events are counts of patients.")
