"""docs/config.md cannot drift from the schema: its key tables are what
tools/gen_config_docs.py writes now, every key of the config and of every built-in analysis
has a description and an example, every example is a value its key accepts, and the
example config in the reference passes ``cohortpress validate``."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError

import cohortpress.config
from cohortpress.common.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "config.md"


def _tool():
    spec = importlib.util.spec_from_file_location("gen_config_docs",
                                                  ROOT / "tools" / "gen_config_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _tool()


def _schema_models() -> list[type[BaseModel]]:
    """Every pydantic model defined in the config package, whoever added it."""
    found = []
    for info in pkgutil.iter_modules(cohortpress.config.__path__, "cohortpress.config."):
        module = importlib.import_module(info.name)
        found += [obj for obj in vars(module).values()
                  if isinstance(obj, type) and issubclass(obj, BaseModel)
                  and obj.__module__ == module.__name__]
    return found


def _with_nested(models) -> list[type[BaseModel]]:
    """The models and every model their fields hold, recursively, each once."""
    seen: list[type[BaseModel]] = []
    todo = list(models)
    while todo:
        model = todo.pop(0)
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            todo += GEN._models_in(field.annotation)
    return seen


ANALYSES = GEN.analyses()
MODELS = _with_nested(_schema_models() + [a.options for a in ANALYSES.values()])
FIELDS = [(model, name, field) for model in MODELS for name, field in model.model_fields.items()]


def _field_id(item) -> str:
    model, name, _ = item
    return f"{model.__name__}.{name}"


def test_docs_config_md_is_what_the_generator_writes():
    current = DOC.read_text(encoding="utf-8")
    assert GEN.render(current) == current, "docs/config.md is out of date: run make docs"


def test_every_built_in_analysis_has_its_table():
    text = DOC.read_text(encoding="utf-8")
    assert {"overview", "demographics", "crosstab", "kmt2a_partners", "survival", "cox",
            "logistic", "distribution"} <= set(ANALYSES)
    for name in ANALYSES:
        assert f"<!-- generated: analysis.{name} -->" in text


@pytest.mark.parametrize("item", FIELDS, ids=_field_id)
def test_every_key_has_a_one_line_description(item):
    model, name, field = item
    description = (field.description or "").strip()
    assert description, (f"{model.__module__}.{model.__name__}.{name} has no description: "
                         f"give it Field(..., description=\"one line\", examples=[...]), "
                         f"then run make docs")
    assert "\n" not in description, f"{model.__name__}.{name}: the description is one line"


DOCUMENTED = [(model, key, field) for model in GEN.models().values()
              for key, field in GEN.documented_fields(model)]


@pytest.mark.parametrize("item", DOCUMENTED, ids=_field_id)
def test_every_documented_key_has_an_example_its_validation_accepts(item):
    model, key, field = item
    assert field.examples, f"{model.__name__}.{key} has no example: give it examples=[...]"
    for example in field.examples:
        try:
            model.model_validate({key: example})
        except ValidationError as exc:
            mine = [e for e in exc.errors() if e["loc"] and e["loc"][0] == key]
            assert not mine, f"{model.__name__}.{key}: example {example!r} is refused: {mine}"


def test_every_toml_example_in_the_tables_parses_as_toml():
    import tomllib

    cells = re.findall(r"^\|.*\| `([^`]*)` \|$", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    assert len(cells) > 100
    for cell in cells:
        tomllib.loads(f"key = {cell}")


def _example(name: str) -> str:
    found = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(.*?)^```",
                      DOC.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)
    assert found, f"docs/config.md has no example {name}"
    return found[1]


def test_the_example_config_passes_validate(tmp_path):
    from cohortpress.app.build import validate
    from cohortpress.config.schema import load_config

    (tmp_path / "cohort.csv").write_text(_example("cohort.csv"), encoding="utf-8")
    path = tmp_path / "report.toml"
    path.write_text(_example("report.toml"), encoding="utf-8")
    config = load_config(path)
    assert [s.analysis for s in config.section] == ["overview", "demographics", "survival"]
    plan, cohort = validate(path, Progress(quiet=True))
    assert cohort.n == 6 and len(plan.sections) == 3


# --------------------------------------------------------------------------- the generator


def test_a_key_without_a_description_stops_the_generator():
    class Bare(BaseModel):
        shown: int = Field(1, description="has one", examples=[2])
        hidden: int = 1

    with pytest.raises(GEN.DocsError, match=r"Bare\.hidden has no description"):
        GEN.table("bare", Bare)


def test_a_new_analysis_gets_its_section_and_a_removed_one_is_an_error():
    text = DOC.read_text(encoding="utf-8")
    start = text.index("### `distribution`")
    end = text.index("<!-- end generated: analysis.distribution -->\n")
    without = text[:start] + text[end + len("<!-- end generated: analysis.distribution -->\n"):]
    regenerated = GEN.render(without)
    assert "### `distribution`" in regenerated
    assert ANALYSES["distribution"].summary in regenerated
    assert regenerated.index("<!-- generated: analysis.distribution -->") \
        < regenerated.index(GEN.NEW_ANALYSES)
    stale = text + "<!-- generated: analysis.gone -->\n<!-- end generated: analysis.gone -->\n"
    with pytest.raises(GEN.DocsError, match="analysis.gone"):
        GEN.render(stale)


def test_cells_read_as_a_reader_expects():
    from cohortpress.plugins.survival import SurvivalOptions

    fields = SurvivalOptions.model_fields
    assert GEN.field_type(fields["endpoints"]) == "list of endpoint names"
    assert GEN.allowed_text(fields["conf_level"]) == "> 0.5, < 1"
    assert GEN.allowed_text(fields["landmarks"]) == "each ≥ 0"
    assert GEN.allowed_text(fields["width_mm"]) == "40 to 180"
    assert GEN.default_text(fields["xlabel"]) == "none"
    assert GEN.toml_value({"a b": [1, True, "x"]}) == '{ "a b" = [1, true, "x"] }'


def test_check_mode_fails_with_the_command_to_run(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "config.md"
    copy.write_text(DOC.read_text(encoding="utf-8").replace("| `title` | text |",
                                                            "| `title` | words |"),
                    encoding="utf-8")
    monkeypatch.setattr(GEN, "OUTPUT", copy)
    assert GEN.main(["--check"]) == 1
    assert "run make docs" in capsys.readouterr().err
    assert GEN.main([]) == 0 and GEN.main(["--check"]) == 0


def test_an_analysis_added_by_a_plugin_is_documented_by_one_command(monkeypatch):
    from cohortpress.api.options import Options, Variable
    from cohortpress.api.sections import Analysis

    class ExtraOptions(Options):
        outcome: Variable = Field(description="the variable modelled", examples=["relapse"])
        times: tuple[float, ...] = Field(default_factory=lambda: (1.0, 2.0),
                                         description="times", examples=[[1, 5]])

    extra = Analysis("extra", lambda *a: None, ExtraOptions, "An analysis added this round")
    monkeypatch.setattr(GEN, "analyses", lambda: {**ANALYSES, "extra": extra})
    text = GEN.render(DOC.read_text(encoding="utf-8"))
    section = text[text.index("### `extra`"):text.index(GEN.NEW_ANALYSES)]
    assert "An analysis added this round.\n" in section
    assert "| `outcome` | variable name | required |  | the variable modelled | `\"relapse\"` |" \
        in section
    assert "| `times` | list of numbers | `[1.0, 2.0]` |" in section
    assert GEN.render(text) == text
