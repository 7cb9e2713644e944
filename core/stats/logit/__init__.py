"""Logistic regression matching R ``glm(family = binomial)``, ``confint()`` and ``logistf``.

The parts, one job each: :mod:`.design` checks the inputs and finds separation,
:mod:`.irls` runs glm's IRLS, :mod:`.likelihood` maximises the (penalised) likelihood
exactly, :mod:`.profile` finds profile-likelihood limits, :mod:`.fit` reports the model.
This package re-exports their public functions.
"""

from cohortpress.stats.logit.design import detect_separation
from cohortpress.stats.logit.fit import LogisticFit, fit_logistic, lr_test_terms

__all__ = ["LogisticFit", "detect_separation", "fit_logistic", "lr_test_terms"]
