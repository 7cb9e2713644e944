"""``cohortpress new-plugin NAME``: a plugin package that works from the first minute.

The package has one real analysis (a per-group summary of a continuous variable, with a
Kruskal–Wallis test and results records), the template-folder hook with an example of a
block-template override, a README, a ``pyproject.toml`` with the ``cohortpress`` entry
point, and tests written with :mod:`cohortpress.testing` that pass once it is installed.

The files come from ``templates/scaffold/`` in the package (``cohortpress.templates``);
``${...}`` placeholders are filled with :class:`string.Template`. A folder named
``package`` becomes the module, ``test_module.py`` becomes ``test_<module>.py``,
``gitignore`` becomes ``.gitignore``, and the ``.tmpl`` suffix is dropped.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import string
import sys
import tempfile
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from cohortpress.common.version import __version__
from cohortpress.common.errors import UserError

__all__ = ["new_plugin", "plugin_names", "PluginNames"]

#: A distribution name: letters and digits, single ``-``, ``_`` or ``.`` between them,
#: starting with a letter (so that the module name is a Python identifier).
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*$")
TEMPLATE_SUFFIX = ".tmpl"


class PluginNames:
    """The names a plugin package is made of, derived from its distribution name.

    Attributes
    ----------
    dist : str
        The distribution name as given (``cohortpress-forest``): the folder and the
        ``[project] name``.
    module : str
        The import name (``cohortpress_forest``).
    short : str
        The entry-point name, the module without a ``cohortpress_`` prefix (``forest``).
    analysis : str
        The name of the scaffold's analysis (``forest_summary``).
    """

    def __init__(self, dist: str, module: str, short: str, analysis: str):
        self.dist, self.module, self.short, self.analysis = dist, module, short, analysis

    def substitutions(self) -> dict[str, str]:
        major_minor = ".".join(__version__.split(".")[:2])
        return {"dist": self.dist, "module": self.module, "short": self.short,
                "analysis": self.analysis, "cohortpress_version": major_minor}


def plugin_names(name: str) -> PluginNames:
    """Check a plugin's distribution name and derive its module and analysis names.

    Parameters
    ----------
    name : str
        E.g. ``cohortpress-forest``.

    Raises
    ------
    UserError
        The name is not a valid distribution name, or its module name would be a Python
        keyword, a standard-library module, or ``cohortpress`` itself.
    """
    if not NAME_PATTERN.match(name):
        raise UserError(f"invalid plugin name '{name}': use letters and digits, with single "
                        f"'-', '_' or '.' between them, starting with a letter (e.g. "
                        f"cohortpress-forest)")
    module = re.sub(r"[-.]", "_", name).lower()
    if keyword.iskeyword(module) or module in sys.stdlib_module_names:
        raise UserError(f"invalid plugin name '{name}': its module '{module}' would shadow "
                        f"Python's own; choose another (e.g. cohortpress-{name.lower()})")
    if module == "cohortpress":
        raise UserError(f"invalid plugin name '{name}': the module would shadow cohortpress "
                        f"itself; choose another (e.g. cohortpress-forest)")
    short = module.removeprefix("cohortpress_")
    return PluginNames(name, module, short, f"{short}_summary")


def new_plugin(name: str, directory: str | os.PathLike[str] = ".") -> Path:
    """Create the plugin package ``directory/name``.

    Parameters
    ----------
    name : str
        The distribution name, e.g. ``cohortpress-forest`` (module ``cohortpress_forest``,
        analysis ``forest_summary``).
    directory : path
        Where to create it; made if missing.

    Returns
    -------
    Path
        The new package folder.

    Raises
    ------
    UserError
        An invalid name, or ``directory/name`` exists already (nothing is overwritten).
        The command line shows it as one line and exits with 2.
    """
    names = plugin_names(name)
    parent = Path(directory)
    target = parent / name
    if target.exists() or target.is_symlink():
        raise UserError("already exists; nothing was written (choose another name or "
                        "--directory)", file=str(target))
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the folder: {exc.strerror}", file=str(parent)) from None
    # Write everything into a temporary folder beside the target, then rename it into place:
    # an interrupted scaffold leaves nothing half-written.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.cohortpress-tmp-", dir=parent))
    try:
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the package is not
        _render_tree(files("cohortpress.templates") / "scaffold", staging, names)
        try:
            os.rename(staging, target)
        except OSError:
            if target.exists():
                raise UserError("already exists; nothing was written", file=str(target)) \
                    from None
            raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _render_tree(source: Traversable, destination: Path, names: PluginNames) -> None:
    values = names.substitutions()
    for item in sorted(source.iterdir(), key=lambda t: t.name):
        if item.name in ("__pycache__",) or item.name.endswith(".pyc"):
            continue
        target = destination / _target_name(item.name, names)
        if item.is_dir():
            target.mkdir()
            _render_tree(item, target, names)
            continue
        text = item.read_text(encoding="utf-8")
        try:
            rendered = string.Template(text).substitute(values)
        except (KeyError, ValueError) as exc:  # pragma: no cover - a broken template
            raise RuntimeError(f"scaffold template {item.name}: bad placeholder {exc}") from None
        target.write_text(rendered, encoding="utf-8", newline="\n")


def _target_name(name: str, names: PluginNames) -> str:
    name = name.removesuffix(TEMPLATE_SUFFIX)
    if name == "package":
        return names.module
    if name == "test_module.py":
        return f"test_{names.module}.py"
    if name == "gitignore":
        return ".gitignore"
    return name
