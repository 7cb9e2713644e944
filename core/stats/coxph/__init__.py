"""Cox proportional hazards regression matching R ``survival::coxph`` and ``cox.zph``.

The parts, one job each: :mod:`.data` validates and sorts the inputs into the risk-set
layout, :mod:`.likelihood` evaluates the partial likelihood, score and information,
:mod:`.fit` runs coxfit6's Newton--Raphson and reports the model, :mod:`.robust` gives its
sandwich variance, :mod:`.concordance` Harrell's C, :mod:`.zph` tests proportional hazards.
This package re-exports their public functions.
"""

from cohortpress.stats.coxph.data import CoxData, prepare_cox_data
from cohortpress.stats.coxph.concordance import Concordance, concordance
from cohortpress.stats.coxph.fit import CoxFit, fit_cox, lr_test_terms, wald_test_terms
from cohortpress.stats.coxph.zph import ZphResult, cox_zph

__all__ = ["Concordance", "CoxData", "CoxFit", "ZphResult", "concordance", "cox_zph",
           "fit_cox", "lr_test_terms", "prepare_cox_data", "wald_test_terms"]
