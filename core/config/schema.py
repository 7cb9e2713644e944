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
from cohortpress.config.cause_codes import CAUSE_KEYS as _CAUSE_KEYS, check_cause_codes
from cohortpress.config.derived import (Case, CaseDerived, Condition, CutDerived,  # noqa: F401
                                        DateDiffDerived, FlagDerived, Kmt2aDerived,
                                        RecodeDerived, Scalar, Strict, TransformDerived)
from cohortpress.config.disclosure import DisclosureSettings
from cohortpress.config.wording import (EXPECTED, expected, found, has, is_model_tag, join_path,
                                        key_hint, literal_message, model_of,
                                        toml_error_text, without_losing_union_branches)

EXPORTS = ["csv", "xlsx", "docx", "png", "html"]

# --------------------------------------------------------------------------- report


class ReportSettings(Strict):
    """``[report]``: what the report looks like and says about itself."""

    title: str = Field(description="the report's title", examples=["Infant ALL in Belgium"])
    subtitle: str = Field("", description="a line under the title on the title page",
                          examples=["Cohort 2000-2020"])
    authors: list[str] = Field([], description="the authors, on the title page",
                               examples=[["A. Author", "B. Author"]])
    date: str | None = Field(None, description="an ISO date, on the title page and the PDF's "
                             "date; none stamped otherwise (rebuilds give identical bytes)",
                             examples=["2024-05-31"])
    notice: str | None = Field(None, description="a boxed note on the title page",
                               examples=["Synthetic reconstruction"])
    style: Literal["journal", "compact"] = Field(
        "journal", description="journal: serif, three-rule tables, caption above, notes "
        "below; compact: sans-serif, denser, sections run on", examples=["compact"])
    language: str = Field("en", description="the document language (PDF and HTML)",
                          examples=["nl"])
    templates: Path | None = Field(None, description="a folder of Jinja templates that "
                                   "override the built-in ones (docs/styles.md)",
                                   examples=["templates"])
    css: list[Path] = Field([], description="your stylesheets, applied after the style",
                            examples=[["report.css"]])
    p_digits: int = Field(3, ge=1, le=6, description="decimals of p-values: 0.254, <0.001, "
                          ">0.99", examples=[4])
    percent_digits: int = Field(0, ge=0, le=3, description="decimals of percentages, unless "
                                "an analysis sets its own", examples=[1])
    abbreviations: dict[str, str] = Field({}, description="abbreviation = meaning, listed "
                                          "after the methods",
                                          examples=[{"CNS": "central nervous system"}])
    pdf_variant: Literal["pdf/a-3b"] | None = Field(
        None, description="pdf/a-3b: PDF/A-3b with results.json attached inside the PDF",
        examples=["pdf/a-3b"])
    exports: list[Literal["csv", "xlsx", "docx", "png", "html"]] = Field(
        EXPORTS, description="the files written beside the PDF: tables (csv, xlsx, docx), "
        "figures (png), the report as HTML", examples=[["csv", "xlsx"]])
    section_timeout: float | None = Field(
        None, gt=0, description="seconds an analysis may run before its section is reported "
        "as failed; default: 300 s plus 300 s per million patients (a large cohort gets the "
        "time it needs, a stuck analysis on a small one is stopped soon)", examples=[600])

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


class CohortSettings(Strict):
    """``[cohort]``: where the data is and how to read it."""

    path: Path = Field(description="the data file; or a folder or glob pattern of Parquet "
                       "files, or a DuckDB database (.duckdb), read with DuckDB "
                       "(docs/data_sources.md)", examples=["cohort.csv", "visits/*.parquet"])
    format: Literal["auto", "csv", "parquet", "excel", "spss", "stata", "duckdb"] | str = Field(
        "auto", description="the file format; auto: from the suffix; or a format a plugin "
        "reads", examples=["excel"])
    engine: Literal["auto", "pandas", "duckdb", "spark"] = Field(
        "auto", description="what reads a CSV or Parquet file: auto: DuckDB for a folder, a "
        "glob, a DuckDB database, a table or a query, else pandas; duckdb: always DuckDB "
        "(only the used columns and, where it can, the rows cohort.filter keeps leave the "
        "engine; no size ceiling); spark: the statistics are computed from aggregates by "
        "Spark, where the data lives (docs/engine.md)", examples=["duckdb"])
    spark_master: str | None = Field(None, description="with engine = \"spark\": the "
                                     "master URL of the Spark cluster; default: local[*], "
                                     "Spark in this process on every core",
                                     examples=["spark://registry-head:7077"])
    spark_conf: dict[str, str] | None = Field(None, description="with engine = \"spark\": "
                                              "Spark settings for the session",
                                              examples=[{"spark.executor.memory": "8g"}])
    table: str | None = Field(None, description="the table (or view) of patients in the "
                              "DuckDB database cohort.path names", examples=["patients"])
    query: str | None = Field(None, description="SQL whose result is the cohort, run by "
                              "DuckDB; the file cohort.path names is the table 'cohort' in it "
                              "(a database: its tables by name)",
                              examples=["SELECT * FROM cohort WHERE year >= 2010"])
    sheet: str | int | None = Field(None, description="the Excel sheet, by name or by "
                                    "position (0 is the first); default: the first",
                                    examples=["Patients"])
    encoding: str = Field("utf-8-sig", description="the CSV text encoding (a byte-order mark "
                          "is accepted)", examples=["latin-1"])
    delimiter: str | None = Field(None, description="the CSV delimiter; default: a comma, a "
                                  "tab for .tsv", examples=[";"])
    id: str | None = Field(None, description="the patient id column: must be unique (one "
                           "row per patient unless rows = intervals); errors name patients "
                           "by it", examples=["patient_id"])
    rows: Literal["patients", "intervals"] = Field(
        "patients", description="what a row is: a patient, or one (start, stop] interval of "
        "a patient (long format, time-varying covariates: several rows per patient, id "
        "required, endpoints with entry = the start column; only cox runs on it)",
        examples=["intervals"])
    recurrent: bool = Field(False, description="with rows = intervals: a patient may have "
                            "an event in an interval before the last (recurrent events); "
                            "default: only the last interval of a patient may end in an "
                            "event", examples=[True])
    group: str | None = Field(None, description="the grouping variable of sections that give "
                              "no by", examples=["diagnosis"])
    date_format: str | None = Field(None, description="the date format of every date column "
                                    "that sets none; default: ISO 8601",
                                    examples=["%d/%m/%Y"])
    filter: list[Condition] = Field([], description="conditions every patient must meet "
                                     "(all); a condition on a missing value removes the row",
                                     examples=[[{"variable": "age_days", "le": 365}]])
    statistics: Literal["auto", "rows", "engine"] = Field(
        "auto", description="where the statistics are computed: rows: from the patients' "
        "rows in memory; engine: from aggregates the SQL engine computes (only aggregates "
        "leave it, except a Cox fit on exact times streams the rows; memory does not grow "
        "with the rows; docs/engine.md); auto: engine for a "
        "DuckDB source too large for memory when every section can, else rows",
        examples=["engine"])
    max_levels: int = Field(50, ge=2, description="a categorical variable with more levels "
                            "is an error (an id column used as a category)", examples=[100])

    @model_validator(mode="after")
    def _spark_settings_need_spark(self):
        given = [key for key in ("spark_master", "spark_conf") if getattr(self, key) is not None]
        if given and self.engine != "spark":
            raise ValueError(f"{given[0]} applies only to engine = \"spark\" (found engine "
                             f"= \"{self.engine}\")")
        return self

    @field_validator("statistics", "query", "table", "sheet", "rows")
    @classmethod
    def _keys_that_do_not_apply_to_spark(cls, value, info):
        """Each key refused, by its own name, where it does not apply with Spark."""
        engine = info.data.get("engine")
        key = info.field_name
        if engine != "spark":
            return value
        if key == "statistics" and value == "rows":
            raise ValueError("engine = \"spark\" computes the statistics from aggregates in "
                             "Spark; \"rows\" needs the rows in memory: use engine = "
                             "\"duckdb\", or statistics = \"engine\"")
        if key == "rows" and value == "intervals":
            raise ValueError("a long-format cohort has no engine path, and engine = "
                             "\"spark\" computes from aggregates only")
        if key in ("query", "table", "sheet") and value is not None:
            raise ValueError("does not apply to engine = \"spark\", which reads the Parquet "
                             "or CSV files cohort.path names")
        return value

    @model_validator(mode="after")
    def _intervals_need_an_id(self):
        if self.rows == "intervals" and not self.id:
            raise ValueError("rows = \"intervals\" needs id, the patient id column that "
                             "ties a patient's intervals together")
        if self.recurrent and self.rows != "intervals":
            raise ValueError("recurrent applies only to rows = \"intervals\" (several "
                             "rows per patient)")
        return self


class BatchSettings(Strict):
    """``[batch]``: one report per level of a variable, plus an index (docs/batch.md)."""

    by: str = Field(description="the categorical column whose levels each get a report, in "
                    "OUTPUT/LEVEL/ (--by overrides it)", examples=["centre"])
    levels: list[Scalar] | None = Field(None, description="only these levels (as displayed); "
                                        "default: every level a patient has",
                                        examples=[["Leuven", "Gent"]])
    jobs: int | None = Field(None, ge=1, le=64, description="reports built at the same time, "
                             "each in a process of its own (--jobs overrides it); default: "
                             "the number of CPUs, at most 4", examples=[2])


class VariableSettings(Strict):
    """``[variables.NAME]``: metadata of a cohort column."""

    label: str | None = Field(None, description="the row label; default: the SPSS/Stata "
                              "variable label, else the name", examples=["Sex"])
    kind: Literal["categorical", "binary", "continuous", "date", "text"] | None = Field(
        None, description="what the column holds; default: guessed (numbers are continuous "
        "unless 0/1, text is categorical)", examples=["categorical"])
    levels: list[Scalar] | None = Field(None, description="the levels in display order; a "
                                        "value outside them is an error naming the row",
                                        examples=[["Male", "Female"]])
    labels: dict[str, str] = Field({}, description="display labels for codes",
                                   examples=[{"1": "Male", "2": "Female"}])
    missing: list[Scalar] = Field([], description="values meaning missing",
                                  examples=[["Unknown", 99]])
    missing_label: str = Field("Unknown", description="the row label for missing values",
                               examples=["Not known"])
    unit: str | None = Field(None, description="shown after the label",
                             examples=["×10⁹/L"])
    reference: Scalar | None = Field(None, description="the reference level in regression "
                                     "models; default: the first level", examples=["Female"])
    positive: Scalar | None = Field(None, description="the level a binary row counts; "
                                    "default: yes/1/true/present, else the last level",
                                    examples=["Yes"])
    date_format: str | None = Field(None, description="this column's date format; default: "
                                    "cohort.date_format", examples=["%d.%m.%Y"])


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
    label: str | None = Field(None, description="the endpoint's name in tables and figures; "
                              "default: its key", examples=["Overall survival"])
    unit: TimeUnit | None = Field(None, description="the unit the report shows times in (a "
                                  "year is 365.25 days); default: time_unit",
                                  examples=["years"])
    time: str = Field(description="the follow-up time column (numbers, not negative)",
                      examples=["os_days"])
    time_unit: TimeUnit = Field(description="the unit of the time column: required, never "
                                "guessed", examples=["days"])
    event: str = Field(description="the event indicator column", examples=["os_status"])
    event_codes: list[Scalar] = Field([1], description="the values of event that mean the "
                                      "event happened", examples=[["Dead"]])
    censor_codes: list[Scalar] = Field([0], description="the values that mean censored; a value "
                                       "listed nowhere is an error naming its count",
                                       examples=[["Alive"]])
    competing_codes: list[Scalar] = Field([], description="codes of the event column that are "
        "competing causes, each code its own cause", examples=[[2], ["death in CR"]])
    cause_labels: dict[str, str] = Field({}, description="names of competing causes by code "
        "as written in competing_codes (default: the code)", examples=[{"2": "Death in CR"}])
    missing_cause: Literal["error", "censored"] = Field("error", description="an empty "
        "event/cause value is an error, or censored", examples=["censored"])
    entry: str | None = Field(None, description="delayed entry (left truncation): the time, "
                              "in time_unit, a patient enters the risk set (before time); "
                              "default: at risk from 0", examples=["age_at_entry"])

    @property
    def display_unit(self) -> str:
        return self.unit or self.time_unit

    _codes_have_one_meaning = model_validator(mode="after")(check_cause_codes)

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.time, self.event, *([self.entry] if self.entry else []))


class DateEndpoint(Strict):
    """``[endpoints.NAME]`` from dates: ``start``, one or more ``events`` (the earliest
    present date is the event: a composite endpoint such as EFS) and ``last_contact`` for
    the censored. ``competing`` dates make a competing-risks endpoint (status 2 when a
    competing date comes first). Times are shown in ``unit``, years by default.
    """

    form: ClassVar[str] = "dates"
    label: str | None = Field(None, description="the endpoint's name in tables and figures; "
                              "default: its key", examples=["Event-free survival"])
    unit: TimeUnit = Field("years", description="the unit the report shows times in (a year "
                           "is 365.25 days)", examples=["months"])
    start: str = Field(description="the date follow-up starts", examples=["diagnosis_date"])
    events: list[str] = Field(min_length=1, description="event dates: the earliest present "
                              "is the event (a composite endpoint such as EFS)",
                              examples=[["relapse_date", "death_date"]])
    competing: list[str] = Field([], description="dates of competing events (status 2 when "
                                 "one comes first): cumulative incidence, Gray's test",
                                 examples=[["death_date"]])
    last_contact: str = Field(description="the censoring date of patients without an event",
                              examples=["last_contact_date"])
    entry: str | None = Field(None, description="delayed entry (left truncation): the date a "
                              "patient enters the risk set, counted from start like the exit "
                              "(start = birth date makes age the time scale); default: at "
                              "risk from start", examples=["referral_date"])

    @property
    def display_unit(self) -> str:
        return self.unit

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.start, self.last_contact, *self.events, *self.competing,
                *([self.entry] if self.entry else []))


ENDPOINT_FORMS = {"columns": ColumnEndpoint, "dates": DateEndpoint}
_COLUMN_KEYS = {"time", "time_unit", "event", "event_codes", "censor_codes", *_CAUSE_KEYS}
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
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="the section's "
                    "name in results.json and exports: letters, digits, _ . -",
                    examples=["table1"])
    analysis: str = Field(description="the analysis (cohortpress plugins lists them)",
                          examples=["demographics"])
    title: str = Field("", description="the section's heading", examples=["Patients"])
    subset: list[Condition] = Field([], description="conditions (all must hold) selecting "
                                    "this section's patients; none left is an error",
                                    examples=[[{"variable": "age", "lt": 1}]])


class Config(Strict):
    """The whole config file."""

    report: ReportSettings = Field(description="the [report] table")
    cohort: CohortSettings = Field(description="the [cohort] table")
    variables: dict[str, VariableSettings] = Field({}, description="[variables.NAME] tables")
    derived: dict[str, Derived] = Field({}, description="[derived.NAME] tables")
    endpoints: dict[str, EndpointSettings] = Field({}, description="[endpoints.NAME] tables")
    plugins: list[Path] = Field([], description="plugin files, loaded beside installed "
                                "plugin packages", examples=[["my_plugin.py"]])
    disable_plugins: list[str] = Field([], description="plugins not to load (not even "
                                       "imported), by the name cohortpress plugins lists",
                                       examples=[["cohortpress.plugins.pdf"]])
    section: list[SectionHead] = Field([], description="[[section]] tables, in report order")
    batch: BatchSettings | None = Field(None, description="the [batch] table: a report per "
                                        "level of a variable")
    published: Path | None = Field(None, description="a file of published values that "
                                   "cohortpress verify checks", examples=["published.toml"])
    disclosure: DisclosureSettings | None = Field(
        None, description="the [disclosure] table: small counts hidden and the others rounded "
        "in every output; off when absent", examples=[{"min_count": 10, "round_to": 5}])

    # Not part of the file: where it came from.
    source: Path = Field(Path("report.toml"), description="the config file (set on loading)")
    text: str = Field("", description="the config file's text (set on loading)")

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
