"""The report config: a TOML file validated into a typed model.

Every error names the file and the key path (``section[2].variables[0]``); an unknown key
comes with a "did you mean" suggestion; relative paths resolve against the config file's
folder. Analysis options are validated later, against the analysis's own options model,
by :func:`validate_section_options`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError,
                      field_validator, model_validator)

from cohortpress.common.errors import ConfigError
from cohortpress.config.wording import (EXPECTED, expected, found, has, is_model_tag, join_path,
                                        key_hint, literal_message, model_of,
                                        toml_error_text, without_losing_union_branches)

Scalar = Union[str, int, float, bool]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- report


class ReportSettings(Strict):
    """``[report]``: what the report looks like and says about itself."""

    title: str
    subtitle: str = ""
    authors: list[str] = []
    date: str | None = None
    notice: str | None = None
    style: Literal["journal", "compact"] = "journal"
    language: str = "en"
    templates: Path | None = None
    css: list[Path] = []
    p_digits: int = Field(3, ge=1, le=6)
    percent_digits: int = Field(0, ge=0, le=3)
    abbreviations: dict[str, str] = {}
    pdf_variant: Literal["pdf/a-3b"] | None = None
    exports: list[Literal["csv", "xlsx", "docx", "png", "html"]] = ["csv", "xlsx", "docx", "png", "html"]
    section_timeout: float = Field(300.0, gt=0)

    @field_validator("date")
    @classmethod
    def _iso_date(cls, value: str | None):
        # Checked here, with the file and key, rather than after every analysis has run.
        if value:
            import datetime as dt

            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError("must be an ISO date such as 2024-05-31") from None
        return value


# --------------------------------------------------------------------------- cohort


class Condition(Strict):
    """A condition on one variable: exactly one comparison key besides ``variable``."""

    variable: str
    eq: Scalar | None = None
    ne: Scalar | None = None
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None
    is_in: list[Scalar] | None = Field(None, alias="in")
    not_in: list[Scalar] | None = None
    missing: bool | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_comparison(self):
        given = [k for k in ("eq", "ne", "lt", "le", "gt", "ge", "is_in", "not_in", "missing")
                 if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of eq, ne, lt, le, gt, ge, in, not_in, missing")
        return self


class CohortSettings(Strict):
    """``[cohort]``: where the data is and how to read it."""

    path: Path
    format: Literal["auto", "csv", "parquet", "excel", "spss", "stata"] | str = "auto"
    sheet: str | int | None = None
    encoding: str = "utf-8-sig"
    delimiter: str | None = None
    id: str | None = None
    group: str | None = None
    date_format: str | None = None
    filter: list[Condition] = []
    max_levels: int = Field(50, ge=2)


class VariableSettings(Strict):
    """``[variables.NAME]``: metadata of a cohort column."""

    label: str | None = None
    kind: Literal["categorical", "binary", "continuous", "date", "text"] | None = None
    levels: list[Scalar] | None = None
    labels: dict[str, str] = {}
    missing: list[Scalar] = []
    missing_label: str = "Unknown"
    unit: str | None = None
    reference: Scalar | None = None
    positive: Scalar | None = None
    date_format: str | None = None


class _DerivedBase(Strict):
    label: str | None = None
    unit: str | None = None
    missing_label: str = "Unknown"


class CutDerived(_DerivedBase):
    """Bin a continuous variable: ``breaks`` are the interval edges, ``labels`` one per bin."""

    type: Literal["cut"]
    source: str
    breaks: list[float]
    labels: list[str]
    right: bool = False

    @model_validator(mode="after")
    def _shape(self):
        if len(self.breaks) < 2:
            raise ValueError("breaks needs at least two edges")
        if sorted(set(self.breaks)) != list(self.breaks):
            raise ValueError("breaks must be strictly increasing")
        if len(self.labels) != len(self.breaks) - 1:
            raise ValueError(f"{len(self.breaks) - 1} bins need {len(self.breaks) - 1} labels, "
                             f"got {len(self.labels)}")
        return self


class RecodeDerived(_DerivedBase):
    """Map values to new ones; values not in ``mapping`` keep theirs unless ``other`` is set."""

    type: Literal["recode"]
    source: str
    mapping: dict[str, str]
    other: str | None = None
    levels: list[str] | None = None


class FlagDerived(_DerivedBase):
    """A yes/no variable: ``yes`` when ``when`` holds (all conditions), else ``no``."""

    type: Literal["flag"]
    when: list[Condition]
    yes: str = "Yes"
    no: str = "No"


class CaseDerived(_DerivedBase):
    """The first matching case's value (``when``: all conditions of a case must hold).

    ``unknown = "skip"`` (the default, as SQL's CASE): a condition on a missing value does
    not match, and the next case is tried. ``unknown = "missing"``: a row reaching a case it
    cannot decide gets a missing value (for rules such as risk groups, where an unknown
    input must not fall through to the default).
    """

    type: Literal["case"]
    cases: list["Case"]
    default: str | None = None
    levels: list[str] | None = None
    unknown: Literal["skip", "missing"] = "skip"


class Case(Strict):
    when: list[Condition]
    value: str


class DateDiffDerived(_DerivedBase):
    """Time between two date columns, in days, months or years (365.25 days a year)."""

    type: Literal["date_diff"]
    start: str
    end: str
    in_unit: Literal["days", "months", "years"] = Field("days", alias="unit_of_time")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TransformDerived(_DerivedBase):
    """A transformed continuous variable: log, log2, log10, sqrt, or per-N-units scaling."""

    type: Literal["transform"]
    source: str
    function: Literal["log", "log2", "log10", "sqrt", "scale"]
    per: float | None = None

    @model_validator(mode="after")
    def _per(self):
        if self.function == "scale" and not self.per:
            raise ValueError("function 'scale' needs 'per', e.g. per = 10")
        return self


class Kmt2aDerived(_DerivedBase):
    """KMT2A rearrangement status read from karyotypes, fusion names or partners.

    Uses the same parser as the ``kmt2a_partners`` analysis; text it cannot read becomes
    missing (and ``cohortpress validate`` lists it by patient).
    """

    type: Literal["kmt2a"]
    source: str
    kind: Literal["auto", "karyotype", "fusion", "partner"] = "auto"
    negative: str = "KMT2A negative"
    positive: str = "KMT2A positive"
    deletion_counts: bool = False


Derived = Annotated[
    Union[CutDerived, RecodeDerived, FlagDerived, CaseDerived, DateDiffDerived, TransformDerived,
          Kmt2aDerived],
    Field(discriminator="type"),
]


TimeUnit = Literal["days", "months", "years"]


class ColumnEndpoint(Strict):
    """``[endpoints.NAME]`` from a follow-up time column and an event code column.

    The unit of the time column is never guessed: ``time_unit`` is required. The report
    shows times in ``unit``, which defaults to ``time_unit`` (no conversion).
    """

    form: ClassVar[str] = "columns"
    label: str | None = None
    unit: TimeUnit | None = None
    time: str
    time_unit: TimeUnit
    event: str
    event_codes: list[Scalar] = [1]
    censor_codes: list[Scalar] = [0]

    @property
    def display_unit(self) -> str:
        return self.unit or self.time_unit

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.time, self.event)


class DateEndpoint(Strict):
    """``[endpoints.NAME]`` from dates: ``start``, one or more ``events`` (the earliest
    present date is the event: a composite endpoint such as EFS) and ``last_contact`` for
    the censored. ``competing`` dates make a competing-risks endpoint (status 2 when a
    competing date comes first). Times are shown in ``unit``, years by default.
    """

    form: ClassVar[str] = "dates"
    label: str | None = None
    unit: TimeUnit = "years"
    start: str
    events: list[str] = Field(min_length=1)
    competing: list[str] = []
    last_contact: str

    @property
    def display_unit(self) -> str:
        return self.unit

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.start, self.last_contact, *self.events, *self.competing)


ENDPOINT_FORMS = {"columns": ColumnEndpoint, "dates": DateEndpoint}
_COLUMN_KEYS = {"time", "time_unit", "event", "event_codes", "censor_codes"}
_DATE_KEYS = {"start", "events", "competing", "last_contact"}


def _endpoint_form(value: Any) -> str | None:
    """Which form an endpoint table is written in: time/event columns or dates."""
    if isinstance(value, BaseModel):
        return value.form
    if not isinstance(value, dict):
        return None
    return "columns" if ("time" in value or "event" in value) else "dates"


EndpointSettings = Annotated[
    Union[Annotated[ColumnEndpoint, Tag("columns")], Annotated[DateEndpoint, Tag("dates")]],
    Discriminator(_endpoint_form, custom_error_type="endpoint_form",
                  custom_error_message="an endpoint must be a table of keys"),
]


class SectionHead(BaseModel):
    """The keys every ``[[section]]`` has; the rest are the analysis's options."""

    model_config = ConfigDict(extra="allow", frozen=True)
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    analysis: str
    title: str = ""
    subset: list[Condition] = []


class Config(Strict):
    """The whole config file."""

    report: ReportSettings
    cohort: CohortSettings
    variables: dict[str, VariableSettings] = {}
    derived: dict[str, Derived] = {}
    endpoints: dict[str, EndpointSettings] = {}
    plugins: list[Path] = []
    disable_plugins: list[str] = []  # plugin names (as `cohortpress plugins` lists them)
    section: list[SectionHead] = []
    published: Path | None = None

    # Not part of the file: where it came from.
    source: Path = Path("report.toml")
    text: str = ""

    @field_validator("section")
    @classmethod
    def _unique_ids(cls, sections: list[SectionHead]):
        seen: set[str] = set()
        for s in sections:
            if s.id in seen:
                raise ValueError(f"duplicate section id '{s.id}'")
            seen.add(s.id)
        return sections

    @property
    def folder(self) -> Path:
        return self.source.parent

    def section_options(self, head: SectionHead) -> dict[str, Any]:
        """The keys of a section other than id, analysis and title."""
        return dict(head.model_extra or {})


CaseDerived.model_rebuild()

RESERVED_FILE_KEYS = {"source", "text"}


def load_config(path: str | Path) -> Config:
    """Read and validate a config file.

    Raises
    ------
    ConfigError
        With the file and key path, for a missing file, bad TOML or an invalid key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, not a config file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config: {exc}", file=str(path)) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(toml_error_text(exc), file=str(path)) from None
    for key in RESERVED_FILE_KEYS & raw.keys():
        raise ConfigError("unknown key", file=str(path), key=key)
    try:
        config = Config.model_validate({**raw, "source": path.resolve(), "text": text})
    except ValidationError as exc:
        raise config_error(exc, path, raw) from None
    return _resolve_paths(config)


def _resolve_paths(config: Config) -> Config:
    folder = config.folder

    def resolve(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else (folder / p))

    report = config.report.model_copy(update={
        "templates": resolve(config.report.templates),
        "css": [resolve(p) for p in config.report.css],
    })
    cohort = config.cohort.model_copy(update={"path": resolve(config.cohort.path)})
    return config.model_copy(update={
        "report": report, "cohort": cohort,
        "plugins": [resolve(p) for p in config.plugins],
        "published": resolve(config.published),
    })


# --------------------------------------------------------------------------- errors


def config_error(exc: ValidationError, file: Path, raw: Any, prefix: str = "",
                 model: type[BaseModel] | None = None) -> ConfigError:
    """Turn the first pydantic error into a one-line ConfigError naming the key path."""
    errors = without_losing_union_branches(exc.errors())
    # A misspelt key is both "unknown" and "required key missing": report the unknown one,
    # which comes with the "did you mean" that fixes both.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = _clean_loc(first["loc"])
    key = join_path(prefix, loc)
    message = _message(first, loc, raw, model)
    more = len(errors) - 1
    if more:
        message += f" (and {more} more error{'s' if more > 1 else ''})"
    return ConfigError(message, file=str(file), key=key)


def _clean_loc(loc: tuple) -> tuple:
    """The location without the tags pydantic adds for the derived and endpoint unions."""
    if len(loc) > 2 and loc[0] == "endpoints" and loc[2] in ENDPOINT_FORMS:
        loc = loc[:2] + loc[3:]
    return tuple(part for part in loc if not (isinstance(part, str) and (
        is_model_tag(part) or part in DERIVED_TYPES)))


def _message(error: dict, loc: tuple, raw: Any, model: type[BaseModel] | None) -> str:
    kind = error["type"]
    if len(loc) == 3 and loc[0] == "endpoints":
        if special := _endpoint_message(kind, str(loc[-1]), raw):
            return special
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1], model, raw)
        hint = key_hint(str(loc[-1]), known)
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"unknown 'type'; use one of {', '.join(DERIVED_TYPES)}"
    if kind == "union_tag_not_found":
        return f"needs a 'type' ({', '.join(DERIVED_TYPES)})"
    if kind == "literal_error":
        return literal_message(error)
    if kind in EXPECTED:
        return f"found {found(error.get('input'))}; expected {expected(error)}"
    # Our own validators' messages ("duplicate section id 's'"); pydantic's prefixes go.
    msg = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if kind in ("value_error", "assertion_error") and msg:
        return msg[0].lower() + msg[1:]
    return f"found {found(error.get('input'))}, which is not allowed here"


def _endpoint_message(kind: str, key: str, raw: Any) -> str | None:
    """Errors particular to the two forms of an endpoint (time/event columns or dates)."""
    if kind == "missing" and key == "time_unit":
        return ('the unit of the time column is never guessed: give time_unit = "days", '
                '"months" or "years"')
    if kind != "extra_forbidden":
        return None
    if key in _DATE_KEYS - _COLUMN_KEYS:
        return ("applies to date endpoints (start/events/last_contact); this endpoint uses "
                "time/event columns")
    if key in _COLUMN_KEYS - _DATE_KEYS:
        return ("applies to endpoints from time/event columns; this endpoint uses dates "
                "(start/events/last_contact)")
    return None


DERIVED_TYPES = {"cut": CutDerived, "recode": RecodeDerived, "flag": FlagDerived,
                 "case": CaseDerived, "date_diff": DateDiffDerived, "transform": TransformDerived,
                 "kmt2a": Kmt2aDerived}


def _known_keys(loc: tuple, model: type[BaseModel] | None, raw: Any) -> list[str]:
    """The keys allowed at ``loc`` (for "did you mean" suggestions)."""
    current: Any = model or Config
    node: Any = raw
    for depth, part in enumerate(loc):
        node = node[part] if isinstance(node, (dict, list)) and has(node, part) else None
        if isinstance(part, int):
            continue
        if current is Config and part in {"variables", "endpoints", "derived"} \
                and depth + 1 < len(loc):
            continue
        if current is Config and depth >= 1 and loc[0] == "derived" and depth == 1:
            kind = node.get("type") if isinstance(node, dict) else None
            current = DERIVED_TYPES.get(kind)
            continue
        if current is Config and depth >= 1 and loc[0] in {"variables", "endpoints"}:
            current = VariableSettings if loc[0] == "variables" \
                else ENDPOINT_FORMS.get(_endpoint_form(node) or "", None)
            continue
        field = getattr(current, "model_fields", {}).get(part) if current else None
        current = model_of(field.annotation) if field is not None else None
    if current is None or not hasattr(current, "model_fields"):
        return []
    # ``source`` and ``text`` are internal only at the top level (derived specs have a
    # ``source`` key users must be told about).
    hidden = RESERVED_FILE_KEYS if current is Config else set()
    return [info.alias or name for name, info in current.model_fields.items()
            if name not in hidden]


def validate_section_options(config: Config, index: int, head: SectionHead,
                             options_model: type[BaseModel]) -> BaseModel:
    """Validate one section's options against its analysis's model."""
    raw = config.section_options(head)
    try:
        return options_model.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, config.source, raw, prefix=f"section[{index}]",
                           model=options_model) from None
