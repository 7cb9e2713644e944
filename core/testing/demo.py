"""The synthetic demo cohort and config shipped with the package, and loading the cohort."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from cohortpress.data.cohort import Cohort

DEMO_COHORT = "demo_cohort.csv"
DEMO_CONFIG = "demo_report.toml"


def _data_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("cohortpress.testing") / "demo"))


def demo_cohort_path() -> Path:
    """The shipped demo cohort, a CSV file of synthetic patients.

    Columns: ``id``; ``arm`` (``A``/``B``, shown as Standard/Experimental); ``age`` (years);
    ``sex`` (``F``/``M``); ``stage`` (``I``–``IV``, ``9`` = unknown); ``ldh`` (lactate
    dehydrogenase in U/L, empty when missing); ``start_date``, ``death_date`` (empty when
    alive) and ``last_contact`` (ISO dates).

    Returns
    -------
    Path
        The file inside the installed package. Read it, copy it; do not write beside it.
    """
    return _data_dir() / DEMO_COHORT


def demo_config_path() -> Path:
    """The demo config: the demo cohort with its variable metadata and the endpoint ``os``.

    It declares ``[variables]`` for every column (labels, levels, the missing code ``9`` of
    ``stage``, units), ``cohort.group = "arm"`` and ``[endpoints.os]``, with one
    ``overview`` section. :func:`build_report` starts from it.

    Returns
    -------
    Path
        The file inside the installed package. Building it in place would write the report
        into the package: use :func:`build_report`, which copies it into a temporary folder.
    """
    return _data_dir() / DEMO_CONFIG


def load_demo_cohort(config: str | os.PathLike[str] | None = None) -> "Cohort":
    """Load the demo cohort as the typed :class:`~cohortpress.data.cohort.Cohort` analyses receive.

    The cohort is read through the reader hook and typed from the config exactly as a build
    does: categorical columns become ordered ``pandas.Categorical`` of their display labels
    (``cohort.values("arm")`` holds ``"Standard"`` and ``"Experimental"``), the missing code
    of ``stage`` becomes NA, and ``cohort.endpoint("os")`` holds times in years.

    Parameters
    ----------
    config : path, optional
        Another config whose cohort to load instead (its sections' analyses must be
        available; only the columns it declares or uses are read).

    Returns
    -------
    Cohort
        A new object on every call: an analysis that changes it cannot affect another test.
    """
    from cohortpress.app.load import load_cohort
    from cohortpress.app.plan import Plan, plan_build
    from cohortpress.app.plugins import make_plugins
    from cohortpress.config.schema import load_config

    if config is None:
        # The demo needs nothing but the built-in reader: do not depend on what is installed.
        plan = Plan(load_config(demo_config_path()), make_plugins(entry_points=False), [])
    else:
        plan = plan_build(config)
    return load_cohort(plan)
