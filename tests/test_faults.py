"""Fault injection: builds killed, interrupted, run twice at once, into a full disk, a
read-only target or a mount point, with plugins that hang or try to end the program.

Each test asserts the documented outcome: the exit code, the one line that says why, and
that the previous report is byte for byte as it was. Builds run as real processes (a
signal must reach a real process); the module takes well under 90 s.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals and mounts")]

#: An analysis-free plugin that waits in a hook until killed, after writing a marker file.
WAIT_IN_HOOK = '''
import os, time
from pathlib import Path
from cohortpress import hookimpl

def _wait():
    marker = os.environ.get("COHORTPRESS_TEST_MARKER")
    if marker:
        Path(marker).write_text(str(os.getpid()))
        time.sleep(60)

@hookimpl
def {hook}:
    _wait()
'''

HOOKS = {
    "reading the cohort": "cohortpress_read_cohort(path, fmt, columns, options)",
    "after the analyses": "cohortpress_process_sections(sections, config)",
    "rendering": "cohortpress_prepare_jinja_env(env)",
}
#: Where a kill -9 lands (reading the cohort is covered by the sys.exit test's hook).
KILL_POINTS = ["after the analyses", "rendering"]


def _command(project, *extra) -> list[str]:
    return [sys.executable, "-m", "cohortpress", "build", str(project.config), "--output",
            str(project.out), *map(str, extra)]


def _built(cp, project, *extra):
    result = cp.run_cli_subprocess(["build", project.config, "--output", project.out, "-q",
                                    *extra], cwd=project.root)
    return result


def _hook_project(cp, tmp_path, hook: str):
    project = cp.Project(tmp_path / "p", toml='plugins = ["waiting.py"]\n' + cp.DEMO_TOML)
    project.write("waiting.py", WAIT_IN_HOOK.format(hook=HOOKS[hook]))
    first = _built(cp, project)
    assert first.code == 0, first.err
    return project


def _answer_ctrl_c() -> None:
    """In the child: Ctrl-C at its default. A shell starts a background job (``make test &``)
    with SIGINT ignored and children inherit that, so the build would rightly ignore the
    test's SIGINT too."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_and_wait_for_marker(project, marker: Path) -> subprocess.Popen:
    env = {**os.environ, "COHORTPRESS_TEST_MARKER": str(marker)}
    child = subprocess.Popen(_command(project, "-q"), cwd=project.root, env=env,
                             preexec_fn=_answer_ctrl_c,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists():
        if child.poll() is not None:
            raise AssertionError(child.stderr.read())
        assert time.monotonic() < deadline, "the build never reached the hook"
        time.sleep(0.05)
    return child


@pytest.mark.parametrize("hook", KILL_POINTS)
def test_kill_9_at_any_point_leaves_the_previous_report_and_the_next_build_cleans_up(
        cp, tmp_path, hook):
    project = _hook_project(cp, tmp_path, hook)
    previous = cp.snapshot(project.out)
    child = _start_and_wait_for_marker(project, tmp_path / "marker")
    child.kill()
    child.wait(timeout=30)
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert cp.snapshot(project.out) == previous
    again = cp.run_cli_subprocess(["build", project.config, "--output", project.out],
                                  cwd=project.root)
    assert again.code == 0, again.err
    if hook == "rendering":  # the staging folder is made just before rendering
        assert "the staging folder of a build that was interrupted" in again.err
    assert cp.staging_leftovers(project.out) == []
    assert cp.snapshot(project.out) == previous


def test_sigint_ends_the_build_with_one_line_and_the_previous_report_intact(cp, tmp_path):
    project = _hook_project(cp, tmp_path, "after the analyses")
    previous = cp.snapshot(project.out)
    child = _start_and_wait_for_marker(project, tmp_path / "marker")
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode not in (0, 1, 2, -signal.SIGKILL)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0], err
    assert "Traceback" not in err
    assert cp.snapshot(project.out) == previous
    assert cp.staging_leftovers(project.out) == []


def test_two_concurrent_builds_into_one_folder_leave_one_complete_report(cp, tmp_path):
    project = cp.Project(tmp_path / "p")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: _built(cp, project), range(2)))
    assert [r.code for r in results] == [0, 0], [r.err for r in results]
    files = cp.snapshot(project.out)
    assert json.loads(files["results.json"])["results"]
    assert files["report.pdf"].startswith(b"%PDF") and b"%%EOF" in files["report.pdf"][-64:]
    assert "tables/overview.csv" in files
    assert cp.staging_leftovers(project.out) == []


# --------------------------------------------------------------------------- mounts


def _mount_tmpfs(folder: Path, *options: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options or ("size=20m",)),
                           "tmpfs", str(folder)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")


@pytest.fixture
def mounts():
    """Mount points made by a test, unmounted at its end."""
    made: list[Path] = []
    yield made
    for folder in reversed(made):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_build_into_a_mount_point_replaces_the_report_atomically(cp, tmp_path, mounts):
    project = cp.Project(tmp_path / "p")
    _mount_tmpfs(project.out)
    mounts.append(project.out)
    first = _built(cp, project)
    assert first.code == 0, first.err
    previous = cp.snapshot(project.out)
    assert "results.json" in previous
    again = _built(cp, project)
    assert again.code == 0 and again.err == "", again.err
    assert cp.snapshot(project.out) == previous  # no staging folder left inside either
    assert cp.staging_leftovers(project.out) == []


def test_a_read_only_target_is_one_line_and_exit_2(cp, tmp_path, mounts):
    project = cp.Project(tmp_path / "p")
    _mount_tmpfs(project.out)
    mounts.append(project.out)
    assert _built(cp, project).code == 0
    previous = cp.snapshot(project.out)
    proc = subprocess.run(["mount", "-o", "remount,ro", str(project.out)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot remount read-only: {proc.stderr.strip()}")
    result = _built(cp, project)
    assert result.code == 2, result.err
    assert len(result.err_lines) == 1 and "read-only" in result.err, result.err
    assert cp.snapshot(project.out) == previous


def test_a_full_disk_is_one_line_and_exit_2_and_the_previous_report_survives(
        cp, tmp_path, mounts):
    project = cp.Project(tmp_path / "p")
    reference = tmp_path / "reference"
    assert cp.run_cli_subprocess(["build", project.config, "--output", reference, "-q"],
                                 cwd=project.root).code == 0
    size = sum(p.stat().st_size for p in reference.rglob("*") if p.is_file())
    # Room for the previous report and a little, not for a second copy beside it.
    _mount_tmpfs(project.out, f"size={size + size // 3}")
    mounts.append(project.out)
    for item in reference.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, project.out / item.name)
    previous = cp.snapshot(project.out)
    result = _built(cp, project)
    assert result.code == 2, result.err
    assert len(result.err_lines) == 1 and "No space left on device" in result.err, result.err
    assert cp.snapshot(project.out) == previous
    assert not [p for p in project.out.iterdir() if ".cohortpress-tmp-" in p.name]


# --------------------------------------------------------------------------- plugins


def test_an_analysis_that_busy_loops_is_stopped_by_the_section_time_limit(cp, tmp_path):
    text = ('from cohortpress import hookimpl, Analysis\n'
            'def run(cohort, options, context):\n    while True:\n        pass\n'
            '@hookimpl\ndef cohortpress_analyses():\n    return [Analysis("spin", run)]\n')
    toml = 'plugins = ["spin.py"]\n' + cp.DEMO_TOML.replace(
        'date = "2024-05-31"', 'date = "2024-05-31"\nsection_timeout = 1') + \
        '[[section]]\nid = "spin"\nanalysis = "spin"\n'
    project = cp.Project(tmp_path / "p", toml=toml)
    project.write("spin.py", text)
    started = time.monotonic()
    result = _built(cp, project)
    assert time.monotonic() - started < 60
    # --quiet silences progress, never the reason for exit code 1.
    assert result.code == 1
    assert result.err_lines == ["cohortpress: section 'spin' failed: the analysis 'spin' did "
                                "not finish within 1 s (report.section_timeout); if it was "
                                "still making progress, set report.section_timeout = 2 under "
                                "[report]"]
    assert (project.out / "report.pdf").exists()


@pytest.mark.parametrize("hook", list(HOOKS))
def test_a_plugin_hook_that_calls_sys_exit_is_one_line_and_exit_2(cp, tmp_path, hook):
    project = cp.Project(tmp_path / "p", toml='plugins = ["quits.py"]\n' + cp.DEMO_TOML)
    project.write("quits.py", "import sys\nfrom cohortpress import hookimpl\n@hookimpl\n"
                              f"def {HOOKS[hook]}:\n    sys.exit(3)\n")
    result = _built(cp, project)
    assert result.code == 2
    assert len(result.err_lines) == 1 and "tried to end the program (SystemExit 3)" in \
        result.err, result.err
    assert not project.out.exists()


# --------------------------------------------------------------------------- at exit


def test_an_early_error_build_ends_cleanly_every_time(cp, tmp_path):
    """A build that fails while reading the cohort, 12 times, 4 at once: exit code 2 and
    the one line every time (no abort at interpreter exit from a thread left running)."""
    header = cp.DEMO_CSV.splitlines()[0] + "\n"
    project = cp.Project(tmp_path / "p", csv=header)

    def one(i: int):
        return subprocess.run(_command(project, "-q"), cwd=project.root,
                              capture_output=True, text=True, timeout=60)

    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(one, range(12)))
    outcomes = {(r.returncode, r.stderr) for r in runs}
    assert outcomes == {(2, "cohortpress: error: cohort.csv: the cohort has no rows\n")}
