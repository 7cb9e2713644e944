"""The command line (a contract): commands, usage errors, exit codes, one-line messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cohortpress.common.version import __version__


def test_version(capsys, cp):
    result = cp.run_cli(["--version"], capsys)
    assert result.code == 0 and result.out.strip() == f"cohortpress {__version__}"


def test_no_command_prints_help_and_exits_2(capsys, cp):
    result = cp.run_cli([], capsys)
    assert result.code == 2
    assert "build" in result.err and "validate" in result.err and "plugins" in result.err


@pytest.mark.parametrize("args, words", [
    (["bild", "report.toml"], "invalid choice: 'bild'"),
    (["build"], "the following arguments are required: config"),
    (["build", "report.toml", "--strcit"], "unrecognized arguments: --strcit"),
    (["validate"], "the following arguments are required: config"),
])
def test_bad_usage_is_exit_2_with_one_error_line(capsys, cp, args, words):
    result = cp.run_cli(args, capsys)
    assert result.code == 2
    (line,) = result.error_lines
    assert line.startswith("cohortpress: error: ") and words in line
    assert "Traceback" not in result.err


def test_help_is_fast_and_imports_no_heavy_library():
    code = ("import sys\nfrom cohortpress.cli import main\n"
            "try:\n    main(['build', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "heavy = [m for m in ('pandas', 'weasyprint', 'scipy', 'matplotlib', 'pydantic')"
            " if m in sys.modules]\nprint('heavy:', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--strict" in proc.stdout
    assert proc.stdout.strip().endswith("heavy: []")


def test_console_script_and_module_entry_points(tmp_path):
    script = Path(sys.executable).with_name("cohortpress")
    if not script.exists():
        pytest.skip(f"no console script beside {sys.executable} (not an installed venv)")
    for command in ([str(script)], [sys.executable, "-m", "cohortpress"]):
        proc = subprocess.run([*command, "--version"], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path)
        assert proc.returncode == 0 and proc.stdout.strip() == f"cohortpress {__version__}"


def test_missing_config_file(capsys, cp, tmp_path):
    result = cp.run_cli(["build", tmp_path / "nope.toml"], capsys)
    assert result.code == 2
    assert result.err_lines == [f"cohortpress: error: {tmp_path / 'nope.toml'}: config file "
                                f"not found"]


def test_unexpected_errors_are_exit_1_without_traceback_unless_debug(capsys, cp, monkeypatch,
                                                                      tmp_path):
    import cohortpress.app.build

    def explode(*args, **kwargs):
        raise RuntimeError("something\nunexpected")

    monkeypatch.setattr(cohortpress.app.build, "build", explode)
    result = cp.run_cli(["build", tmp_path / "r.toml"], capsys)
    assert result.code == 1
    assert result.err_lines == [
        "cohortpress: internal error: RuntimeError: something unexpected (the previous report "
        "is untouched; run with --debug for the traceback and report it)"]
    with pytest.raises(RuntimeError):
        cp.run_cli(["--debug", "build", tmp_path / "r.toml"], capsys)


def test_interrupt_is_exit_130(capsys, cp, monkeypatch, tmp_path):
    import cohortpress.app.build

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cohortpress.app.build, "build", interrupted)
    result = cp.run_cli(["build", tmp_path / "r.toml"], capsys)
    assert result.code == 130 and "previous report is untouched" in result.err


def test_build_progress_lines_and_quiet(cp, tmp_path, capsys):
    fake = ('from pathlib import Path\nfrom cohortpress import hookimpl\n@hookimpl\n'
            'def cohortpress_render_pdf(html, output, settings):\n'
            '    Path(output).write_bytes(b"%PDF-fake")\n    return True\n')
    project = cp.Project(tmp_path / "p", toml='plugins = ["fake.py"]\n' + cp.DEMO_TOML)
    project.write("fake.py", fake)
    result = cp.run_cli(["build", project.config, "-o", project.out], capsys)
    assert result.code == 0
    assert all(line.startswith("cohortpress: ") for line in result.err_lines)
    assert any("8 patients" in line for line in result.err_lines)
    assert any(line.startswith("cohortpress: [1/1] overview (overview) ok")
               for line in result.err_lines)
    quiet = cp.run_cli(["build", project.config, "-o", project.out, "--quiet"], capsys)
    assert quiet.code == 0 and quiet.err == "" and quiet.out == ""


# --------------------------------------------------------------------------- a Unix citizen


def test_a_closed_pipe_ends_quietly(tmp_path):
    """``cohortpress plugins --json | head -1``: no BrokenPipeError traceback."""
    reader = subprocess.Popen([sys.executable, "-m", "cohortpress", "plugins", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    first = reader.stdout.readline()
    reader.stdout.close()  # what head does after its first line
    err = reader.stderr.read().decode()
    code = reader.wait(timeout=60)
    assert first.strip() == b"{"
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code == 0


SLOW_PLUGIN = '''
import time
from pathlib import Path
from cohortpress import hookimpl, Analysis, Options

class SlowOptions(Options):
    seconds: float = 60

def run(cohort, options, context):
    Path("started").write_text("yes")
    time.sleep(options.seconds)

@hookimpl
def cohortpress_analyses():
    return [Analysis("slow", run, SlowOptions)]
'''


def test_ctrl_c_exits_130_with_one_line_and_keeps_the_previous_report(cp, tmp_path):
    import signal
    import time

    project = cp.Project(tmp_path / "proj")
    built = cp.run_cli_subprocess(["build", project.config, "--output", project.out, "--quiet"],
                                  cwd=project.root)
    assert built.code == 0, built.err
    before = cp.snapshot(project.out)
    project.write("slow.py", SLOW_PLUGIN)
    project.write("report.toml", 'plugins = ["slow.py"]\n' + cp.DEMO_TOML
                  + '[[section]]\nid = "slow"\nanalysis = "slow"\n')
    # SIGINT at its default in the child: a background job (make test &) inherits it ignored
    proc = subprocess.Popen([sys.executable, "-m", "cohortpress", "build", str(project.config),
                             "--output", str(project.out), "--quiet"],
                            cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not (project.root / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (project.root / "started").exists(), "the slow section never started"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.strip()] == [
        "cohortpress: interrupted; the previous report is untouched"]
    assert cp.snapshot(project.out) == before
    assert cp.staging_leftovers(project.out) == []
