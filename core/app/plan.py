"""The plan of a build: the validated config, its plugins and what each section will run.

Everything that can be checked before the cohort is read is checked here: the files the
config names, the plugins it disables, every section's analysis and options. The variables
and endpoints the options name are collected as references, checked against the cohort's
columns once they are known (:func:`check_references`).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel

from cohortpress.api.options import Options, _Reference
from cohortpress.api.sections import Analysis
from cohortpress.app.plugins import Plugins, make_plugins
from cohortpress.common.errors import ConfigError, UserError
from cohortpress.common.suggest import did_you_mean, did_you_mean_dotted
from cohortpress.config.schema import (Condition, Config, SectionHead, VariableSettings,
                                       load_config, validate_section_options)


@dataclass(frozen=True)
class PlannedSection:
    """One ``[[section]]``: its place, its keys, its analysis and its validated options."""

    index: int
    head: SectionHead
    analysis: Analysis
    options: Options


@dataclass
class Plan:
    """A validated config with its plugins and the analyses each section will run."""

    config: Config
    plugins: Plugins
    sections: list[PlannedSection]
    references: list[tuple[str, str, str]] = field(default_factory=list)  # (key, kind, name)


def plan_build(config_path: str | Path, *, plugins: Plugins | None = None) -> Plan:
    """Load the config and plugins, and validate every section's options.

    ``plugins``: a plugin manager made by the caller instead of from the config's ``plugins``
    and ``disable_plugins`` (the names the config disables must then be disabled in it).
    """
    config = load_config(config_path)
    _check_config_files(config)
    if plugins is None:
        plugins = make_plugins(config.plugins, disabled=config.disable_plugins)
    _check_disabled_names(config, plugins)
    planned = []
    references: list[tuple[str, str, str]] = []
    for index, head in enumerate(config.section):
        analysis = _analysis_of(config, plugins, index, head)
        _check_reads_intervals(config, index, head, analysis, plugins)
        options = validate_section_options(config, index, head, analysis.options)
        _check_applicable(config, index, options)
        planned.append(PlannedSection(index, head, analysis, options))
        found = collect_references(options, f"section[{index}]")
        _check_listed_once(config, found)
        references += found
        references += [(f"section[{index}].subset[{j}].variable", "variable", cond.variable)
                       for j, cond in enumerate(head.subset)]
    return Plan(config, plugins, planned, references)


def _check_listed_once(config: Config, references: list[tuple[str, str, str]]) -> None:
    """A variable listed twice in one list of a section gives two indistinguishable rows
    and records: an error naming both places."""
    import re

    seen: dict[tuple[str, str], str] = {}
    for key, _kind, name in references:
        place = re.fullmatch(r"(.*)\[\d+\](?:\.variable)?", key)
        if place is None:
            continue
        first = seen.setdefault((place.group(1), name), key)
        if first != key:
            raise ConfigError(f"'{name}' is listed twice (also at {first})",
                              file=str(config.source), key=key)


def check_sections(plan: Plan, cohort) -> list[str]:
    """What each section's analysis would refuse in this cohort, before any statistics.

    Applies each section's ``subset`` (an empty one is an error) and calls its options'
    :meth:`~cohortpress.api.options.Options.check_data`: ``validate`` and ``build`` refuse
    the same configs with the same line. Returns the warnings, each naming its section.
    """
    from cohortpress.data.conditions import section_subset

    warnings = []
    for planned in plan.sections:
        key = f"section[{planned.index}]"
        try:
            mine = section_subset(cohort, planned.head.subset, key) \
                if planned.head.subset else cohort
            problems = planned.options.check_data(mine)
        except UserError as exc:  # named as every config error is: the file, the section
            exc.file = exc.file or str(plan.config.source)
            exc.key = _within_section(exc.key, key, planned.options)
            raise
        warnings += [f"section '{planned.head.id}': {problem}" for problem in problems]
    return warnings


def declared_level_warnings(config: Config, cohort) -> list[str]:
    """Levels, labels and recode keys the config names that no patient has.

    Warnings, not errors: nothing computed changes (a declared level with no patients is
    shown as such, a label or recode key for a value absent from this cohort is unused), and
    a config shared by several cohorts rightly names values one of them lacks. But a
    misspelt value reads the same way, so each is named, with the closest value found.
    """
    from cohortpress.data.columns import as_text

    warnings = []
    declared = [name for name in config.variables if name in cohort.variables
                and cohort.variables[name].kind in ("categorical", "binary")]
    recoded = [spec.source for spec in config.derived.values()
               if getattr(spec, "type", None) == "recode" and spec.source in cohort.variables]
    present_of = _present_values(cohort, declared + recoded)
    for name, settings in config.variables.items():
        info = cohort.variables.get(name)
        if info is None or info.kind not in ("categorical", "binary"):
            continue
        present = present_of[name]
        for code in (as_text(level) for level in settings.levels or ()):
            shown = settings.labels.get(code, code)
            if shown not in present:
                warnings.append(f"key 'variables.{name}.levels': no patient has the level "
                                f"'{shown}' (it is shown with no patients)")
        missing = {as_text(code) for code in settings.missing}
        for code, shown in settings.labels.items():
            if shown not in info.levels and code not in missing:
                warnings.append(f"key 'variables.{name}.labels.{code}': no patient has the value "
                                f"'{code}', so this label is not used"
                                f"{did_you_mean(code, _codes(settings, info))}")
    for name, spec in config.derived.items():
        mapping = getattr(spec, "mapping", None)
        if getattr(spec, "type", None) != "recode" or spec.source not in cohort.variables:
            continue
        present = present_of[spec.source]
        warnings += [f"key 'derived.{name}.mapping.{key}': no patient has the value '{key}' of "
                     f"'{spec.source}', so it recodes nothing{did_you_mean(key, present)}"
                     for key in mapping if key not in present]
    return warnings


def _present_values(cohort, names) -> dict[str, set[str]]:
    """The values of each variable in ``names`` that some patient has, as text (on the
    engine path in one scan of the view)."""
    from cohortpress.data.columns import as_text

    if getattr(cohort, "engine", False):
        from cohortpress.data.engine.cohort import present_values

        found = present_values(cohort, names)
        out = {}
        for name, values in found.items():
            info = cohort.variable(name)
            if info.kind in ("categorical", "binary"):  # the codes present, as their levels
                values = [info.levels[int(code)] for code in values]
            out[name] = {as_text(v) for v in values}
        return out
    return {name: {as_text(v) for v in cohort.values(name).dropna().unique()}
            for name in names}


def _codes(settings, info) -> list[str]:
    """A variable's values as the data writes them (the keys ``labels`` may use)."""
    from cohortpress.data.columns import as_text

    shown_of = {shown: code for code, shown in settings.labels.items()}
    return [shown_of.get(level, level) for level in info.levels] + \
        [as_text(level) for level in settings.levels or ()]


def _within_section(key: str | None, section_key: str, options: Options) -> str:
    """An error's key as a path from the top of the config: the analysis names its own
    options (``column``), the section's place is added (``section[1].column``)."""
    if key is None:
        return section_key
    first = key.split(".")[0].split("[")[0]
    return f"{section_key}.{key}" if first in type(options).model_fields else key


def _check_reads_intervals(config: Config, index: int, head: SectionHead, analysis: Analysis,
                           plugins: Plugins) -> None:
    """On a long-format cohort only analyses that read (start, stop] rows may run: the
    others would count a patient once per interval."""
    if config.cohort.rows != "intervals" or analysis.intervals:
        return
    able = sorted(name for name, a in plugins.analyses.items() if a.intervals)
    raise ConfigError(f"the analysis '{head.analysis}' counts one row per patient, but "
                      f"cohort.rows = \"intervals\" (several rows per patient); on such a "
                      f"cohort only {', '.join(able) or 'none'} can run: report "
                      f"'{head.analysis}' from a one-row-per-patient cohort in a config of "
                      f"its own", file=str(config.source), key=f"section[{index}].analysis")


def _check_applicable(config: Config, index: int, options: Options) -> None:
    """An option that cannot apply where it stands is an error (Options.inapplicable_keys)."""
    for key, why in options.inapplicable_keys(config)[:1]:
        raise ConfigError(why, file=str(config.source), key=f"section[{index}].{key}")


def _analysis_of(config: Config, plugins: Plugins, index: int, head: SectionHead) -> Analysis:
    analysis = plugins.analysis(head.analysis)
    if analysis is not None:
        return analysis
    key = f"section[{index}].analysis"
    owner = plugins.disabled_owner(head.analysis)
    if owner is not None:
        raise ConfigError(f"the analysis '{head.analysis}' belongs to the plugin '{owner}', "
                          f"which disable_plugins turns off", file=str(config.source), key=key)
    hint = did_you_mean(head.analysis, plugins.analyses) or \
        f"; available: {', '.join(sorted(plugins.analyses))}"
    raise ConfigError(f"unknown analysis '{head.analysis}'{hint}{plugins.failed_plugin_hint()}",
                      file=str(config.source), key=key)


def _check_disabled_names(config: Config, plugins: Plugins) -> None:
    """Every name in ``disable_plugins`` must be a plugin that would otherwise load."""
    for i, name in enumerate(config.disable_plugins):
        if name not in plugins.disabled:
            raise ConfigError(f"no plugin named '{name}'"
                              f"{did_you_mean_dotted(name, plugins.names)}",
                              file=str(config.source), key=f"disable_plugins[{i}]")


def _check_config_files(config: Config) -> None:
    """Files and folders the config names must exist (the cohort is checked when loaded)."""
    for i, path in enumerate(config.plugins):
        if not path.is_file():
            what = "is a folder, not a plugin file" if path.is_dir() else "plugin file not found"
            raise ConfigError(f"{what}: {path}", file=str(config.source), key=f"plugins[{i}]")
    templates = config.report.templates
    if templates is not None and not templates.is_dir():
        raise ConfigError(f"template folder not found: {templates}", file=str(config.source),
                          key="report.templates")


# --------------------------------------------------------------------------- references


def collect_references(value: Any, key: str) -> list[tuple[str, str, str]]:
    """Every (key path, kind, name) that an options model names in the cohort."""
    found: list[tuple[str, str, str]] = []
    if not isinstance(value, BaseModel):
        return found
    for name, info in type(value).model_fields.items():
        marker = next((m for m in info.metadata if isinstance(m, _Reference)), None) \
            or _marker_of(info.annotation)
        found += _references_in(getattr(value, name), f"{key}.{name}", marker)
    return found


def _references_in(item: Any, path: str, marker) -> list[tuple[str, str, str]]:
    if item is None:
        return []
    if isinstance(item, BaseModel):
        return collect_references(item, path)
    if isinstance(item, (list, tuple)):
        out = []
        for i, sub in enumerate(item):
            out += _references_in(sub, f"{path}[{i}]", marker)
        return out
    if isinstance(item, dict):
        out = []
        for k, sub in item.items():
            out += _references_in(sub, f"{path}.{k}", None)
        return out
    if marker is not None and isinstance(item, str):
        return [(path, marker.kind, item)]
    return []


def _marker_of(annotation: Any):
    """The reference marker inside an annotation such as ``list[Variable]``."""
    stack = [annotation]
    while stack:
        item = stack.pop()
        for meta in getattr(item, "__metadata__", ()):
            if isinstance(meta, _Reference):
                return meta
        stack.extend(typing.get_args(item))
    return None


def check_references(plan: Plan, available: Iterable[str]) -> None:
    """Every variable and endpoint a section names must exist: a ConfigError otherwise."""
    variables = set(available) | set(plan.config.derived)
    endpoints = set(plan.config.endpoints)
    for key, kind, name in plan.references:
        pool = variables if kind == "variable" else endpoints
        if name not in pool:
            where = "in the cohort or [derived]" if kind == "variable" else "in [endpoints]"
            raise ConfigError(f"unknown {kind} '{name}' (not {where}){did_you_mean(name, pool)}",
                              file=str(plan.config.source), key=key)


# --------------------------------------------------------------------------- batch


def sliced_config(config: Config, by: str, level: str) -> Config:
    """The config of one level's report: ``by = level`` added to ``cohort.filter``, the
    level named in the subtitle, and no ``[batch]``."""
    condition = Condition.model_validate({"variable": by, "eq": level})
    cohort = config.cohort.model_copy(update={"filter": [*config.cohort.filter, condition]})
    label = (config.variables.get(by) or VariableSettings()).label or by
    subtitle = " · ".join(t for t in (config.report.subtitle, f"{label}: {level}") if t)
    report = config.report.model_copy(update={"subtitle": subtitle})
    return config.model_copy(update={"cohort": cohort, "report": report, "batch": None})


def sliced_plan(plan: Plan, by: str, level: str) -> Plan:
    """The plan of one level's report of a batch (:mod:`cohortpress.app.batch`)."""
    return replace(plan, config=sliced_config(plan.config, by, level))
