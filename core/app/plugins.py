"""Building the plugin manager: built-ins first, then entry points, then config files.

A plugin that fails to import, names a hook that does not exist, or raises from
``cohortpress_analyses`` fails alone: it is recorded in :attr:`Plugins.load_errors` with its
name and the other plugins load. The manager is built by a factory, never at import time,
so every command and every test gets a fresh one.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import pluggy

from cohortpress.common.version import __version__
from cohortpress.api import hookspecs
from cohortpress.common.errors import PluginError
from cohortpress.common.suggest import did_you_mean
from cohortpress.api.sections import Analysis

ENTRY_POINT_GROUP = "cohortpress"

#: Built-in plugins, registered in this order, with the same marker third parties use.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "cohortpress.plugins.readers",
    "cohortpress.plugins.overview",
    "cohortpress.plugins.demographics",
    "cohortpress.plugins.crosstab",
    "cohortpress.plugins.kmt2a_partners",
    "cohortpress.plugins.survival",
    "cohortpress.plugins.cox",
    "cohortpress.plugins.finegray",
    "cohortpress.plugins.logistic",
    "cohortpress.plugins.distribution",
    "cohortpress.plugins.pdf",
)

HOOK_NAMES = frozenset(name for name in dir(hookspecs) if name.startswith("cohortpress_"))


@dataclass(frozen=True)
class PluginInfo:
    """What ``cohortpress plugins`` lists about one plugin."""

    name: str
    version: str
    source: str  # "builtin", "entry point", or "file"
    hooks: tuple[str, ...]
    analyses: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadError:
    """A plugin that could not be loaded, and why."""

    name: str
    source: str
    message: str


@dataclass
class Plugins:
    """The plugin manager with what was loaded, the analyses and the load errors."""

    manager: pluggy.PluginManager
    infos: list[PluginInfo] = field(default_factory=list)
    load_errors: list[LoadError] = field(default_factory=list)
    analyses: dict[str, Analysis] = field(default_factory=dict)
    analysis_owner: dict[str, str] = field(default_factory=dict)
    #: Plugins turned off by name, each with the function that would import it.
    disabled: dict[str, Any] = field(default_factory=dict)
    #: Every plugin name met, loaded or not, in the order met.
    names: list[str] = field(default_factory=list)

    @property
    def hook(self):
        return self.manager.hook

    def analysis(self, name: str) -> Analysis | None:
        return self.analyses.get(name)

    def failed_plugin_hint(self) -> str:
        """A sentence naming plugins that failed to load, for 'unknown analysis' errors."""
        if not self.load_errors:
            return ""
        names = ", ".join(f"'{e.name}' ({e.message})" for e in self.load_errors)
        return f" (plugins that failed to load: {names})"

    def disabled_owner(self, analysis: str) -> str | None:
        """The disabled plugin that provides ``analysis``, if any (imported to find out)."""
        for name, load in self.disabled.items():
            try:
                provided = getattr(load(), "cohortpress_analyses", None)
                if provided is not None and any(a.name == analysis for a in provided() or ()):
                    return name
            except Exception:  # a disabled plugin may well be broken: that may be why
                continue
        return None


def make_plugins(plugin_files: Iterable[Path] = (), *, entry_points: bool = True,
                 builtins: Iterable[str] = BUILTIN_PLUGINS,
                 disabled: Iterable[str] = ()) -> Plugins:
    """Build a fresh plugin manager.

    Parameters
    ----------
    plugin_files : iterable of Path
        Python files named in the config's ``plugins`` list.
    entry_points : bool
        Load installed distributions from the ``cohortpress`` entry-point group.
    builtins : iterable of str
        Module names of built-in plugins.
    disabled : iterable of str
        Names of plugins not to load (the config's ``disable_plugins``): they are blocked in
        pluggy and never imported. A name that matches no plugin is ignored here and
        reported by the plan, which knows the config key.
    """
    manager = pluggy.PluginManager("cohortpress")
    manager.add_hookspecs(hookspecs)
    plugins = Plugins(manager)
    for name in disabled:
        manager.set_blocked(name)
    for module_name in builtins:
        _register(plugins, module_name, lambda m=module_name: importlib.import_module(m),
                  source="builtin", version=__version__)
    if entry_points:
        for ep in _entry_points():
            dist = getattr(ep, "dist", None)
            version = dist.version if dist is not None else "unknown"
            _register(plugins, ep.name, ep.load, source="entry point", version=version)
    for path in plugin_files:
        _register(plugins, Path(path).stem, lambda p=Path(path): _import_file(p),
                  source="file", version="local", label=str(path))
    manager.check_pending()
    return plugins


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise PluginError(f"plugin file not found: {path}")
    module_name = f"cohortpress_local_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"not a Python file: {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _register(plugins: Plugins, name: str, load, *, source: str, version: str,
              label: str | None = None) -> None:
    """Import and register one plugin; on any failure record a load error and go on."""
    shown = label or name
    plugins.names.append(name)
    if plugins.manager.is_blocked(name):
        plugins.disabled[name] = load
        return
    try:
        plugin = load()
        _check_hook_names(plugin)
        plugins.manager.register(plugin, name=name)
        _check_pending(plugins.manager, plugin)
    except Exception as exc:  # a broken plugin fails alone
        plugins.load_errors.append(LoadError(shown, source, _describe(exc)))
        return
    hooks = tuple(sorted(c.name for c in plugins.manager.get_hookcallers(plugin) or ()))
    try:
        provided = _collect_analyses(plugins, plugin, name)
    except Exception as exc:
        plugins.manager.unregister(plugin)
        plugins.load_errors.append(LoadError(shown, source,
                                             f"cohortpress_analyses failed: {_describe(exc)}"))
        return
    plugins.infos.append(PluginInfo(shown, version, source, hooks, provided))


def _check_hook_names(plugin: Any) -> None:
    for attr in dir(plugin):
        if attr.startswith("cohortpress_") and attr not in HOOK_NAMES \
                and callable(getattr(plugin, attr, None)):
            raise PluginError(f"unknown hook '{attr}'{did_you_mean(attr, HOOK_NAMES)}")


def _check_pending(manager: pluggy.PluginManager, plugin: Any) -> None:
    """pluggy's ``check_pending`` for one plugin: a hook implementation without a spec.

    ``manager.check_pending()`` after all registrations would raise for the first such plugin
    and so take every plugin down with it; here the offending plugin is unregistered and
    fails alone (a marked function whose name lacks the ``cohortpress_`` prefix, say).
    """
    for caller in manager.get_hookcallers(plugin) or ():
        if caller.spec is not None:
            continue
        if any(impl.plugin is plugin and not impl.optionalhook
               for impl in caller.get_hookimpls()):
            manager.unregister(plugin)
            hint = did_you_mean(f"cohortpress_{caller.name}", HOOK_NAMES)
            raise PluginError(f"unknown hook '{caller.name}'{hint}")


def _collect_analyses(plugins: Plugins, plugin: Any, name: str) -> tuple[str, ...]:
    impl = getattr(plugin, "cohortpress_analyses", None)
    if impl is None:
        return ()
    provided = []
    for analysis in impl() or ():
        if not isinstance(analysis, Analysis):
            raise PluginError(f"returned {type(analysis).__name__}, not an Analysis")
        owner = plugins.analysis_owner.get(analysis.name)
        if owner is not None:
            raise PluginError(f"analysis '{analysis.name}' is already provided by '{owner}'")
        plugins.analyses[analysis.name] = analysis
        plugins.analysis_owner[analysis.name] = name
        provided.append(analysis.name)
    return tuple(provided)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (PluginError,)):
        return text
    return f"{type(exc).__name__}: {text}"
