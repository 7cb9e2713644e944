"""Batch reports: one report per level of a variable, built in worker processes, and an index.

``cohortpress build report.toml --by centre`` (or a ``[batch]`` table) finds the levels of
``centre`` from that one column, then builds the report once per level, in
``OUTPUT/<level>/``, with ``centre = <level>`` added to ``cohort.filter`` (so the methods
say which patients the report is about, and a DuckDB source runs it in the engine: each
report reads only its slice). The reports are built ``jobs`` at a time, each in a fresh
process (spawned, not forked, so that no engine thread or lock of the parent is copied into
it); a level that fails is reported in the index and does not stop the others, and the
exit code is then 1. ``OUTPUT/index.md`` and ``OUTPUT/index.html`` list each level's report,
its number of patients and its status.
"""

from __future__ import annotations

import html
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from cohortpress.app.plan import Plan, plan_build
from cohortpress.common.errors import ConfigError, DataError, UserError
from cohortpress.common.progress import Progress
from cohortpress.config.schema import Config, VariableSettings, load_config

EXIT_OK, EXIT_FAILED = 0, 1
#: The default number of reports built at the same time is the number of CPUs, at most this.
MAX_DEFAULT_JOBS = 4


@dataclass(frozen=True)
class LevelOutcome:
    """How one level's report went: its folder, patients, exit code and, if it failed, why."""

    level: str
    folder: str
    n: int | str | None  # a str: the size a disclosure rule released
    exit_code: int
    message: str
    seconds: float

    @property
    def status(self) -> str:
        if self.exit_code == 0:
            return "ok"
        return f"failed: {self.message}" if self.message else "failed"


@dataclass
class BatchOutcome:
    exit_code: int
    output: Path
    levels: list[LevelOutcome]


def batch_variable(config_path: str | Path, by: str | None) -> str | None:
    """The variable a build is split by: ``--by``, else ``[batch] by``, else None (also for
    a config that cannot be read: the build then says why)."""
    from cohortpress.app.build import check_config_file

    if by:
        return by
    try:
        check_config_file(config_path)
        config = load_config(config_path)
    except UserError:  # the build says what is wrong, as it does without a batch
        return None
    return config.batch.by if config.batch is not None else None


# --------------------------------------------------------------------------- the levels


def batch_levels(plan: Plan, by: str, key: str) -> list[str]:
    """The levels of ``by`` that patients have, in the variable's order (display labels).

    Only the column ``by`` is read. Raises ConfigError when ``by`` is not a categorical
    column of the cohort (``key`` names where it was given).
    """
    from cohortpress.app.load import shown_path
    from cohortpress.data.columns import ColumnTyper, column_roles

    config = plan.config
    if by in config.derived:
        raise ConfigError(f"'{by}' is a derived variable; split by a column of the cohort",
                          file=str(config.source), key=key)
    values = _column_values(plan, by, key, shown_path(config.cohort.path, config))
    typer = ColumnTyper(config, values.to_frame(), str(config.cohort.path), {}, None)
    typed, info = typer.type_column(by, config.variables.get(by, VariableSettings()),
                                    column_roles(config).get(by))
    if info.kind not in ("categorical", "binary"):
        raise ConfigError(f"'{by}' is {info.kind}; a batch splits by a categorical variable",
                          file=str(config.source), key=key)
    present = set(typed.dropna().astype(str))
    return [level for level in info.levels if level in present]


def _column_values(plan: Plan, by: str, key: str, shown: str):
    """The values of one column: its distinct values through DuckDB, else the column read
    by the reader hook."""
    from cohortpress.common.suggest import did_you_mean
    from cohortpress.data.duck import open_source, source_kind
    from cohortpress.data.files import file_columns, guess_format

    config = plan.config
    kind = source_kind(config)
    if kind is not None:
        with open_source(config, kind, shown) as source:
            available = source.columns()
            if by not in available:
                raise ConfigError(f"column '{by}' not found in the cohort"
                                  f"{did_you_mean(by, available)}", file=str(config.source),
                                  key=key)
            found = source.distinct(by)
            if found is None:
                raise ConfigError(f"'{by}' has too many distinct values to split by",
                                  file=str(config.source), key=key)
            return found.series
    path = config.cohort.path
    if not path.is_file():
        raise DataError("cohort file not found", file=shown, key="cohort.path")
    fmt = guess_format(path, config.cohort.format)
    options = {"sheet": config.cohort.sheet, "encoding": config.cohort.encoding,
               "delimiter": config.cohort.delimiter}
    available = file_columns(path, fmt, options)
    if by not in available:
        raise ConfigError(f"column '{by}' not found in the cohort"
                          f"{did_you_mean(by, available)}", file=str(config.source), key=key)
    raw = plan.plugins.hook.cohortpress_read_cohort(path=path, fmt=fmt, columns=[by],
                                                    options=options)
    if raw is None:
        raise DataError(f"no reader for the format '{fmt}'", file=shown, key="cohort.format")
    return raw.data[by]


def folder_names(levels: list[str]) -> dict[str, str]:
    """A folder name per level: letters, digits, '-', '_' and '.', unique."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for level in levels:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", level).strip("._") or "level"
        name, n = base, 2
        while name.lower() in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name.lower())
        names[level] = name
    return names


# --------------------------------------------------------------------------- the batch


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS))


def build_batch(config_path: str | Path, output: str | Path | None, *, by: str | None = None,
                jobs: int | None = None, strict: bool = False,
                progress: Progress | None = None) -> BatchOutcome:
    """Build one report per level of ``by`` (default: ``[batch] by``) and the index.

    Raises UserError (exit code 2) when the config, the variable or its levels are wrong;
    a level that fails is an entry of the index and makes the exit code 1.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed
    import multiprocessing

    from cohortpress.app.build import check_config_file, require_sections
    from cohortpress.render.write import check_output_folder

    progress = progress or Progress()
    started = time.perf_counter()
    check_config_file(config_path)
    plan = plan_build(config_path)
    require_sections(plan)
    config = plan.config
    settings = config.batch
    key = "--by" if by else "batch.by"
    by = by or (settings.by if settings else None)
    if not by:
        raise UserError("no variable to split by: give --by or a [batch] table",
                        file=str(config.source), key="batch")
    out_dir = Path(output) if output else config.folder / "report"
    check_output_folder(out_dir)
    levels = _chosen_levels(plan, by, key)
    jobs = jobs or (settings.jobs if settings and settings.jobs else default_jobs())
    jobs = min(jobs, len(levels))
    folders = folder_names(levels)
    progress.say(f"batch by {by}: {len(levels)} reports into {out_dir}{os.sep}, {jobs} at a "
                 f"time")
    outcomes: list[LevelOutcome] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                             max_tasks_per_child=1) as pool:
        futures = {pool.submit(build_level, str(config_path), str(out_dir / folders[level]),
                               by, level, strict): level for level in levels}
        for future in as_completed(futures):
            level = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # the worker process died (a signal, out of memory)
                outcome = LevelOutcome(level, folders[level], None, EXIT_FAILED,
                                       f"its worker process ended: {type(exc).__name__}", 0.0)
            outcomes.append(outcome)
            patients = f", {_size_text(outcome.n)} patients" if outcome.n is not None else ""
            progress.timed(f"[{len(outcomes)}/{len(levels)}] {by} = {level}: "
                           f"{outcome.status}{patients}", outcome.seconds)
    order = {level: i for i, level in enumerate(levels)}
    outcomes.sort(key=lambda o: order[o.level])
    write_index(out_dir, config, by, outcomes)
    failed = [o for o in outcomes if o.exit_code != 0]
    progress.timed(f"wrote {len(outcomes) - len(failed)} of {len(outcomes)} reports and "
                   f"{out_dir / 'index.html'}", time.perf_counter() - started)
    return BatchOutcome(EXIT_FAILED if failed else EXIT_OK, out_dir, outcomes)


def _chosen_levels(plan: Plan, by: str, key: str) -> list[str]:
    from cohortpress.common.suggest import did_you_mean
    from cohortpress.data.columns import as_text

    levels = batch_levels(plan, by, key)
    settings = plan.config.batch
    if settings is not None and settings.levels is not None:
        chosen = [as_text(v) for v in settings.levels]
        for i, level in enumerate(chosen):
            if level not in levels:
                raise ConfigError(f"'{level}' is not a level of '{by}' that a patient has"
                                  f"{did_you_mean(level, levels)}",
                                  file=str(plan.config.source), key=f"batch.levels[{i}]")
        levels = [level for level in levels if level in chosen]
    if not levels:
        raise DataError(f"'{by}' has no value in the cohort, so there is no report to build",
                        file=str(plan.config.source), key=key)
    return levels


def build_level(config_path: str, folder: str, by: str, level: str,
                strict: bool) -> LevelOutcome:
    """In a worker process: build the report of one level; never raises."""
    from cohortpress.app.build import build
    from cohortpress.app.run import one_line

    started = time.perf_counter()
    name = Path(folder).name
    try:
        outcome = build(config_path, folder, strict=strict, progress=Progress(quiet=True),
                        batch_level=(by, level))
    except UserError as exc:
        return LevelOutcome(level, name, None, getattr(exc, "exit_code", 2), one_line(exc),
                            time.perf_counter() - started)
    except Exception as exc:
        return LevelOutcome(level, name, None, EXIT_FAILED, f"internal error: "
                            f"{type(exc).__name__}: {one_line(exc)}",
                            time.perf_counter() - started)
    failed = [s.id for s in outcome.sections if s.failed]
    message = f"section {', '.join(failed)} failed" if failed else ""
    return LevelOutcome(level, name, outcome.n_patients, outcome.exit_code, message,
                        time.perf_counter() - started)


# --------------------------------------------------------------------------- the index


def write_index(out_dir: Path, config: Config, by: str, outcomes: list[LevelOutcome]) -> None:
    """``index.md`` and ``index.html``: each level's report, patients and status."""
    out_dir.mkdir(parents=True, exist_ok=True)
    label = (config.variables.get(by) or VariableSettings()).label or by
    title = f"{config.report.title}: reports by {label}"
    _write(out_dir / "index.md", _markdown(title, label, outcomes))
    _write(out_dir / "index.html", _html(title, label, config.report.language, outcomes))


def _link(outcome: LevelOutcome) -> str | None:
    return f"{outcome.folder}/report.pdf" if outcome.exit_code in (0, 1) \
        and outcome.n is not None else None


def _size_text(n: int | str | None) -> str:
    """A report's patients as the index prints them (a str: released by a disclosure rule)."""
    if n is None:
        return "–"
    return f"{n:,}" if isinstance(n, int) else n


def _markdown(title: str, label: str, outcomes: list[LevelOutcome]) -> str:
    lines = [f"# {title}", "", f"| {label} | patients | status | report |",
             "| --- | ---: | --- | --- |"]
    for o in outcomes:
        link = _link(o)
        cells = [o.level, _size_text(o.n), o.status,
                 f"[{link}]({link})" if link else "–"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _html(title: str, label: str, language: str, outcomes: list[LevelOutcome]) -> str:
    e = html.escape
    rows = []
    for o in outcomes:
        link = _link(o)
        report = f'<a href="{e(link)}">{e(link)}</a>' if link else "–"
        rows.append(f"<tr><td>{e(o.level)}</td><td class=\"n\">"
                    f"{e(_size_text(o.n))}</td><td>{e(o.status)}</td>"
                    f"<td>{report}</td></tr>")
    return (f'<!DOCTYPE html>\n<html lang="{e(language)}">\n<head><meta charset="utf-8">'
            f"<title>{e(title)}</title>\n<style>body{{font-family:sans-serif;margin:2em}}"
            f"table{{border-collapse:collapse}}td,th{{padding:.3em .8em;border-bottom:1px "
            f"solid #ccc;text-align:left}}td.n{{text-align:right}}</style></head>\n<body>\n"
            f"<h1>{e(title)}</h1>\n<table>\n<tr><th>{e(label)}</th><th>patients</th>"
            f"<th>status</th><th>report</th></tr>\n" + "\n".join(rows) +
            "\n</table>\n</body>\n</html>\n")


def _write(path: Path, text: str) -> None:
    """Write a file whole or not at all."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
