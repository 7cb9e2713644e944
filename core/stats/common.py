"""Result types shared by the statistical modules."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestResult:
    """The outcome of a hypothesis test.

    Attributes
    ----------
    method : str
        The test's name as a footnote prints it, e.g. ``"Fisher's exact test"``.
    p_value : float
        Two-sided p-value unless ``method`` says otherwise; ``nan`` when not computable.
    statistic : float or None
        The test statistic (chi-square, t, W, H, F); ``None`` for exact tests without one.
    df : float or None
        Degrees of freedom where the reference distribution has them.
    note : str or None
        Anything the reader must know to reproduce the p-value, e.g. the number of Monte
        Carlo tables and the seed, or that an exact test fell back to an approximation.
    """

    __test__ = False  # not a pytest test class, despite the name

    method: str
    p_value: float
    statistic: float | None = None
    df: float | None = None
    note: str | None = None
