"""Lazy re-exports: a package names what it offers without importing it until first use.

The package root and :mod:`cohortpress.kit` export names that live in heavier modules
(pandas, matplotlib); importing them eagerly would make ``cohortpress --help`` and every
plugin import slow. Each keeps a table ``name -> module`` and installs :func:`lazy_exports`.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, MutableMapping


def lazy_exports(package: str, table: Mapping[str, str],
                 namespace: MutableMapping[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` on first use of ``name``.

    The value is then cached in ``namespace`` (the module's globals), so the lookup happens
    once per name.
    """

    def __getattr__(name: str) -> Any:
        module_name = table.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        namespace[name] = value
        return value

    return __getattr__
