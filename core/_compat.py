"""Old import paths that keep working for one release, with a DeprecationWarning.

Before 0.2 the package was one flat folder; plugins and the docs imported, for example,
``cohortpress.formatting`` or ``cohortpress.model``. Each old module is now a few lines that
call :func:`moved`: importing it warns once and forwards every attribute to its new home.
Nothing inside cohortpress imports an old path (a test checks the import graph).
"""

from __future__ import annotations

import importlib
import warnings
from typing import Sequence

#: The release that removes the old paths.
REMOVED_IN = "0.3"


def moved(old: str, new: str | Sequence[str], public: str):
    """Warn that ``old`` moved and return a module ``__getattr__`` forwarding to ``new``.

    Parameters
    ----------
    old : str
        The deprecated module's name (its ``__name__``).
    new : str or sequence of str
        The module, or modules, that now hold its contents. A name is looked up in each
        in turn, so a module that was split forwards every name it used to hold.
    public : str
        What plugin authors should import instead, as written in the warning.
    """
    warnings.warn(f"{old} is deprecated and will be removed in cohortpress {REMOVED_IN}; "
                  f"import from {public} instead", DeprecationWarning, stacklevel=3)
    targets = [importlib.import_module(name) for name in ([new] if isinstance(new, str) else new)]

    def __getattr__(name: str):
        for target in targets:
            try:
                return getattr(target, name)
            except AttributeError:
                continue
        raise AttributeError(f"module {old!r} has no attribute {name!r}")

    return __getattr__
