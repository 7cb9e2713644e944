"""Numbers written by R's ``jsonlite``, read back as float arrays, for checks against R."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

#: How jsonlite writes R's special values (as strings, where JSON has no number for them).
R_SPECIAL_VALUES = {"NA": math.nan, "NaN": math.nan, "Inf": math.inf, "-Inf": -math.inf}


def r_values(value) -> "np.ndarray":
    """A number, or a (nested) list of numbers, written by R's ``jsonlite``, as a float array.

    ``"NA"``, ``"NaN"``, ``"Inf"`` and ``"-Inf"`` become ``nan`` and infinities; a scalar
    becomes a one-element array.
    """
    import numpy as np

    def convert(item):
        if isinstance(item, list):
            return [convert(x) for x in item]
        return R_SPECIAL_VALUES.get(item, item) if isinstance(item, str) else item

    return np.atleast_1d(np.array(convert(value), dtype=float))
