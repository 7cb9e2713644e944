"""The command line (a contract: outside checks rely on its commands and exit codes).

    cohortpress build CONFIG [--output DIR] [--strict] [--quiet] [--by VARIABLE] [--jobs N]
    cohortpress validate CONFIG [--quiet]
    cohortpress plugins [--json]
    cohortpress verify CONFIG [--output DIR] [--quiet]
    cohortpress new-plugin NAME [--directory DIR]

Exit codes: 0 success; 1 a section failed (report still written, or nothing written under
``--strict``); 2 bad config, bad data or bad usage, with one line naming the file, key or
column, and no traceback. Heavy libraries are imported inside the commands so that
``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Sequence

from cohortpress.common.version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


def _closed_pipe() -> int:
    """The reader of our output went away (``cohortpress plugins --json | head -1``).

    Nothing more can be said on stdout; end quietly, as Unix tools do. stdout is pointed at
    /dev/null so that Python's final flush does not raise a second BrokenPipeError.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file descriptor (a test's captured stdout)
        pass
    return EXIT_OK


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # bad usage: one line, exit 2
        self.print_usage(sys.stderr)
        print(f"cohortpress: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cohortpress",
                     description="Publication-style statistical reports for clinical cohorts.")
    parser.add_argument("--version", action="version", version=f"cohortpress {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("build", help="build the report (PDF, HTML, results.json, tables)")
    p.add_argument("config", help="the report's TOML config file")
    p.add_argument("--output", "-o", help="output folder (default: 'report' beside the config)")
    p.add_argument("--strict", action="store_true",
                   help="a failing section stops the build and nothing is written")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    p.add_argument("--by", metavar="VARIABLE",
                   help="one report per level of VARIABLE, in OUTPUT/LEVEL/, plus an index "
                        "(as a [batch] table does)")
    p.add_argument("--jobs", "-j", type=_positive_int, metavar="N",
                   help="with --by or [batch]: reports built at the same time (default: the "
                        "number of CPUs, at most 4)")

    p = sub.add_parser("validate", help="check the config and the data, without rendering")
    p.add_argument("config")
    p.add_argument("--quiet", "-q", action="store_true")

    p = sub.add_parser("plugins", help="list plugins, their hooks, analyses and load errors")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("verify", help="rebuild the results and compare them with the "
                                      "published values named in the config")
    p.add_argument("config")
    p.add_argument("--output", "-o", help="where to write the rebuilt report "
                                          "(default: a temporary folder)")
    p.add_argument("--quiet", "-q", action="store_true")

    p = sub.add_parser("new-plugin", help="scaffold a plugin package with one analysis")
    p.add_argument("name", help="the distribution name, e.g. cohortpress-forest")
    p.add_argument("--directory", "-d", default=".", help="where to create it")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, found {text!r}") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"expected 1 to 64, found {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    # Multi-threaded BLAS slows the small dense solves of model fitting by up to 100x on a
    # busy two-core machine; the estimators are vectorised over rows instead.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from cohortpress.common.errors import UserError

    # Python hides DeprecationWarnings raised outside __main__; a plugin that still imports
    # an old cohortpress path should hear about it from the command it runs under.
    warnings.filterwarnings("default", category=DeprecationWarning, message=r"cohortpress\.")
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"cohortpress: error: {exc.one_line()}", file=sys.stderr)
        # A section failing under --strict is exit code 1 (nothing written), not bad input.
        return getattr(exc, "exit_code", EXIT_USAGE)
    except KeyboardInterrupt:
        print("cohortpress: interrupted; the previous report is untouched", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as exc:
        if args.debug or os.environ.get("COHORTPRESS_DEBUG"):
            raise
        text = " ".join(str(exc).split())
        print(f"cohortpress: internal error: {type(exc).__name__}: {text} (the previous "
              f"report is untouched; run with --debug for the traceback and report it)",
              file=sys.stderr)
        return EXIT_FAILED


def run() -> None:
    """The ``cohortpress`` command: :func:`main`, and a quick exit.

    At exit Python's garbage collector walks every object pandas, SciPy and Matplotlib
    created at import, about 0.3 s for nothing: the outputs are written and in place by
    then. Freezing those objects skips the walk; everything else about the exit (flushing,
    ``atexit`` handlers) is as usual.
    """
    try:
        code = main()
        sys.stdout.flush()  # a closed pipe shows here, while it can still end quietly
    except BrokenPipeError:
        code = _closed_pipe()
    import gc

    gc.freeze()
    raise SystemExit(code)


def _build(args) -> int:
    from cohortpress.app.batch import batch_variable, build_batch
    from cohortpress.app.build import Progress, build
    from cohortpress.common.errors import UserError

    by = batch_variable(args.config, args.by)
    if by is not None:
        batch = build_batch(args.config, args.output, by=args.by, jobs=args.jobs,
                            strict=args.strict, progress=Progress(quiet=args.quiet))
        if args.quiet:
            for level in batch.levels:
                if level.exit_code != 0:
                    print(f"cohortpress: report {by} = {level.level} {level.status}",
                          file=sys.stderr)
        return batch.exit_code
    if args.jobs is not None:
        raise UserError("--jobs applies to batch builds: give --by or a [batch] table")

    outcome = build(args.config, args.output, strict=args.strict,
                    progress=Progress(quiet=args.quiet))
    if args.quiet:  # quiet silences progress, never the reason for a non-zero exit
        for section in outcome.sections:
            if section.failed:
                reasons = [b.message for b in section.blocks if hasattr(b, "message")]
                print(f"cohortpress: section '{section.id}' failed: "
                      f"{reasons[0] if reasons else 'see the report'}", file=sys.stderr)
    return outcome.exit_code


def _validate(args) -> int:
    from cohortpress.app.build import Progress, validate

    progress = Progress(quiet=args.quiet)
    plan, cohort = validate(args.config, progress)
    progress.say(f"valid: {len(plan.sections)} sections, {cohort.size_text()}, "
                 f"{len(cohort.endpoints)} endpoints")
    return EXIT_OK


def _plugins(args) -> int:
    import json

    from cohortpress.app.plugins import make_plugins

    plugins = make_plugins()
    if args.json:
        document = {
            "plugins": [{"name": p.name, "version": p.version, "source": p.source,
                         "hooks": list(p.hooks), "analyses": list(p.analyses)}
                        for p in plugins.infos],
            "load_errors": [{"name": e.name, "source": e.source, "message": e.message}
                            for e in plugins.load_errors],
        }
        print(json.dumps(document, indent=2))
    else:
        for p in plugins.infos:
            analyses = f"  analyses: {', '.join(p.analyses)}" if p.analyses else ""
            print(f"{p.name} {p.version} ({p.source})")
            print(f"  hooks: {', '.join(p.hooks)}")
            if analyses:
                print(analyses)
        for e in plugins.load_errors:
            print(f"FAILED {e.name} ({e.source}): {e.message}")
    return EXIT_OK


def _verify(args) -> int:
    from cohortpress.app.verify import run_verify

    return run_verify(args.config, args.output, quiet=args.quiet)


def _new_plugin(args) -> int:
    from cohortpress.app.scaffold import new_plugin

    path = new_plugin(args.name, args.directory)
    print(f"created {path}; next: pip install -e {path} && pytest {path}")
    return EXIT_OK


COMMANDS = {"build": _build, "validate": _validate, "plugins": _plugins, "verify": _verify,
            "new-plugin": _new_plugin}
