"""The public API for plugin authors, and the old paths that keep working for one release.

A plugin imports from ``cohortpress``, ``cohortpress.kit`` and ``cohortpress.testing`` only
(docs/plugins.md, "The public API"). The flat module paths of 0.1 still import in 0.2, with a
DeprecationWarning naming the new place, and forward every name they held; a plugin file
written against them still builds a report.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import cohortpress
import cohortpress.kit
from cohortpress.testing import demo_config_path

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_MODULES = ("cohortpress", "cohortpress.kit", "cohortpress.testing")

#: Every deprecated path, what its warning tells plugin authors to import instead, and the
#: public names the module held in cohortpress 0.1 (read from the 0.1 sources).
OLD_PATHS = {
    "cohortpress.errors": ("cohortpress", "CohortpressError UserError ConfigError DataError "
                           "StatisticsError PluginError"),
    "cohortpress.formatting": ("cohortpress.kit", "MINUS round_half_up fmt_num fmt_count "
                               "fmt_percent fmt_n_percent format_p fmt_range fmt_significant "
                               "EPONYMS in_sentence humanise"),
    "cohortpress.model": ("cohortpress", "Variable EndpointName Options Cell CellLike as_cell "
                          "Row Footnote Table Figure Paragraph ErrorBlock CustomBlock Block "
                          "BLOCK_TYPES Result Section SectionContext Analysis"),
    "cohortpress.readers": ("cohortpress", "SUFFIX_FORMATS FORMATS FORMAT_NAMES RawCohort "
                            "guess_format file_columns read_cohort_file"),
    "cohortpress.cohort": ("cohortpress", "DAYS_PER_UNIT YES_WORDS VariableInfo Endpoint Cohort "
                           "needed_columns derived_sources build_cohort file_sha256 evaluate "
                           "ConditionError describe_condition"),
    "cohortpress.hookspecs": ("cohortpress.api.hookspecs", "hookspec cohortpress_analyses "
                              "cohortpress_read_cohort cohortpress_template_dirs "
                              "cohortpress_prepare_jinja_env cohortpress_process_sections "
                              "cohortpress_render_pdf"),
    "cohortpress.figures": ("cohortpress.kit", "DPI SINGLE_COLUMN_MM DOUBLE_COLUMN_MM OKABE_ITO "
                            "LINE_STYLES MAX_CENSOR_MARKS Curve STYLE at_risk step_figure "
                            "plain_number grouped_bars dot_plot"),
    "cohortpress.grouping": ("cohortpress.kit", "Grouping group_cohort"),
    "cohortpress.regression": ("cohortpress.kit", "NOT_ESTIMABLE Estimate ModelColumn "
                               "RegressionTable estimates_from separated_variables finite"),
    "cohortpress.design": ("cohortpress.kit", "Term Design build_design"),
}


def _fresh_import(name: str, monkeypatch) -> tuple[object, list[warnings.WarningMessage]]:
    """Import ``name`` as a first import would (the warning is given once per process)."""
    monkeypatch.delitem(sys.modules, name, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        __import__(name)  # as an import statement does: no frame of importlib's own
    return sys.modules[name], [w for w in caught if issubclass(w.category, DeprecationWarning)]


def test_the_table_lists_every_shim_on_disk():
    shims = {f"cohortpress.{path.stem}" for path in (ROOT / "core").glob("*.py")
             if "cohortpress._compat import moved" in path.read_text(encoding="utf-8")}
    assert shims == set(OLD_PATHS)


@pytest.mark.parametrize("old", sorted(OLD_PATHS))
def test_an_old_path_warns_and_names_the_new_one(old, monkeypatch):
    public, _ = OLD_PATHS[old]
    _, caught = _fresh_import(old, monkeypatch)
    assert len(caught) == 1, [str(w.message) for w in caught]
    message = str(caught[0].message)
    assert message.startswith(f"{old} is deprecated") and "removed in cohortpress 0.3" in message
    assert f"import from {public}" in message
    # Attributed to the code that imports the old path, not to cohortpress's own files.
    assert Path(caught[0].filename).resolve() == Path(__file__).resolve()


@pytest.mark.parametrize("old", sorted(OLD_PATHS))
def test_an_old_path_forwards_every_name_it_held(old):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(old)
    _, names = OLD_PATHS[old]
    missing = [name for name in names.split() if not hasattr(module, name)]
    assert not missing, f"{old} no longer forwards {missing}"
    with pytest.raises(AttributeError, match=f"module '{re.escape(old)}' has no attribute"):
        getattr(module, "no_such_name")


@pytest.mark.parametrize("old", sorted(set(OLD_PATHS) - {"cohortpress.hookspecs"}))
def test_an_old_name_is_the_same_object_as_the_public_one(old):
    public, names = OLD_PATHS[old]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(old)
    target = importlib.import_module(public)
    shared = [n for n in names.split() if n in target.__all__]
    assert shared, f"none of {old}'s names is public in {public}"
    for name in shared:
        assert getattr(module, name) is getattr(target, name), name


def test_the_documented_old_imports_work():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from cohortpress.errors import ConfigError, DataError, StatisticsError
        from cohortpress.formatting import fmt_n_percent, fmt_num, format_p
        from cohortpress.model import Analysis, Options, Row, Section, Table, Variable
        from cohortpress.readers import RawCohort

    assert fmt_num(2.345, 2) == cohortpress.kit.fmt_num(2.345, 2)
    assert fmt_n_percent is cohortpress.kit.fmt_n_percent and format_p is cohortpress.kit.format_p
    assert (Analysis, Options, Row, Section, Table, Variable) == (
        cohortpress.Analysis, cohortpress.Options, cohortpress.Row, cohortpress.Section,
        cohortpress.Table, cohortpress.Variable)
    assert (ConfigError, DataError, StatisticsError, RawCohort) == (
        cohortpress.ConfigError, cohortpress.DataError, cohortpress.StatisticsError,
        cohortpress.RawCohort)


@pytest.mark.parametrize("module", [cohortpress, cohortpress.kit], ids=lambda m: m.__name__)
def test_every_exported_name_resolves_and_lives_in_no_deprecated_module(module):
    assert module.__all__
    for name in module.__all__:
        value = getattr(module, name)
        home = getattr(value, "__module__", None)
        assert home not in OLD_PATHS, f"{module.__name__}.{name} comes from {home}"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError):
        cohortpress.NoSuchThing  # noqa: B018
    with pytest.raises(AttributeError):
        cohortpress.kit.no_such_thing  # noqa: B018


def test_the_guide_names_every_export_in_its_public_api_section():
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = text.split("## The public API", 1)[1].split("\n## ", 1)[0]
    missing = [n for n in cohortpress.__all__ if n != "__version__" and f"`{n}`" not in section]
    assert not missing, f"docs/plugins.md, The public API, does not list {missing}"
    for old in OLD_PATHS:
        assert f"`{old}`" in section, old


def _cohortpress_imports(source: str, where: str) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
    return [m for m in modules if m == "cohortpress" or m.startswith("cohortpress.")]


def _example_sources():
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    for i, block in enumerate(re.findall(r"^```python\n(.*?)^```\n", guide, re.S | re.M)):
        yield f"docs/plugins.md, Python block {i + 1}", block
    for folder in (ROOT / "templates" / "scaffold", ROOT / "examples"):
        for path in sorted(folder.rglob("*.py*")):
            if path.suffix in (".py", ".tmpl") and path.name.endswith((".py", ".py.tmpl")):
                yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")


def test_examples_import_only_the_public_api():
    sources = list(_example_sources())
    assert len(sources) >= 8
    outside = []
    for where, source in sources:
        source = source.replace("${", "__").replace("}", "__")  # scaffold placeholders
        try:
            imported = _cohortpress_imports(source, where)
        except SyntaxError:  # a fragment of a file, compiled together in test_docs.py
            imported = re.findall(r"^\s*(?:from|import) (cohortpress(?:\.\w+)*)\s", source, re.M)
        outside += [f"{where}: {m}" for m in imported if m not in PUBLIC_MODULES]
    assert not outside, "examples import internal modules:\n" + "\n".join(outside)


# --------------------------------------------------------------------------- an old plugin

OLD_PLUGIN = '''"""A third-party plugin written against cohortpress 0.1's documented imports."""

from cohortpress import hookimpl
from cohortpress.errors import DataError
from cohortpress.formatting import fmt_num
from cohortpress.model import Analysis, Options, Result, Row, Table, Variable


class MeanOptions(Options):
    variable: Variable


def run(cohort, options, context):
    values = cohort.values(options.variable).dropna().astype(float)
    if values.empty:
        raise DataError(f"no values of {options.variable}", column=options.variable)
    mean = float(values.mean())
    shown = fmt_num(mean, 1)
    table = Table(f"Mean {cohort.label(options.variable).lower()}.",
                  (Row.of("Variable", "Patients", "Mean"),),
                  (Row.of(cohort.label(options.variable), len(values), shown),))
    return context.section(blocks=[table], results=[
        Result("continuous", "mean", mean, variable=options.variable, formatted=shown),
        Result("continuous", "N", len(values), variable=options.variable,
               formatted=str(len(values)))])


@hookimpl
def cohortpress_analyses():
    return [Analysis("old_style_mean", run, MeanOptions, "The mean of a variable")]
'''

OLD_SECTION = '''
[[section]]
id = "old_mean"
analysis = "old_style_mean"
title = "Written for cohortpress 0.1"
variable = "age"
'''


def _cohortpress_command() -> list[str]:
    script = Path(sys.executable).with_name("cohortpress")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cohortpress"]


@pytest.mark.slow
def test_a_plugin_file_written_for_0_1_still_builds_a_report(tmp_path):
    demo = demo_config_path()
    for path in demo.parent.iterdir():
        if path.is_file():
            shutil.copy(path, tmp_path / path.name)
    (tmp_path / "old_plugin.py").write_text(OLD_PLUGIN, encoding="utf-8")
    config = tmp_path / "report.toml"
    config.write_text('plugins = ["old_plugin.py"]\n' + demo.read_text(encoding="utf-8")
                      + OLD_SECTION, encoding="utf-8")
    # No PYTHONWARNINGS: the command itself shows cohortpress's deprecation warnings.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    proc = subprocess.run([*_cohortpress_command(), "build", str(config), "--output",
                           str(tmp_path / "out"), "--quiet"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr

    records = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["results"]
    mean = [r for r in records if r["section"] == "old_mean" and r["stat_name"] == "mean"]
    assert len(mean) == 1 and mean[0]["variable"] == "age"
    table = (tmp_path / "out" / "tables" / "old_mean.csv").read_text(encoding="utf-8")
    assert mean[0]["formatted"] in table and "Age at diagnosis" in table
    assert (tmp_path / "out" / "report.pdf").stat().st_size > 0

    for old, public in (("cohortpress.model", "cohortpress"),
                        ("cohortpress.formatting", "cohortpress.kit"),
                        ("cohortpress.errors", "cohortpress")):
        assert re.search(rf"old_plugin\.py:\d+: DeprecationWarning: {re.escape(old)} is "
                         rf"deprecated .* import from {re.escape(public)} instead",
                         proc.stderr), proc.stderr
