"""Layer 1: the report config, from a TOML file to a validated, typed model.

Imports only :mod:`cohortpress.common`.
"""

from cohortpress.config.schema import *  # noqa: F401,F403 - the config types, by their old path
from cohortpress.config.schema import load_config  # noqa: F401
