"""The wheel holds the whole package: every module imports from it and the data files are in.

setup.py discovers the package list from the folders (core/ is ``cohortpress``, plugins/ is
``cohortpress.plugins``, templates/ is ``cohortpress.templates``). This test builds the wheel,
installs it into a fresh virtual environment and imports every module there, so a subpackage
or a data file left out of the wheel fails here rather than on a user's machine. The
dependencies come from this interpreter's site-packages (a ``.pth`` file), whose
``.pth`` files, among them this checkout's editable install, the fresh environment does not
run: what it imports as ``cohortpress`` is the wheel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: What the wheel is built from.
PACKAGED = ("pyproject.toml", "setup.py", "README.md", "core", "plugins", "templates")

CHECK = textwrap.dedent('''
    import importlib, json, pkgutil, sys
    from importlib.resources import files

    import cohortpress

    imported, skipped = ["cohortpress"], []
    for info in pkgutil.walk_packages(cohortpress.__path__, "cohortpress.",
                                      onerror=lambda name: sys.exit(f"cannot import {name}")):
        spec = importlib.util.find_spec(info.name)
        source = open(spec.origin, encoding="utf-8").read() if spec.origin.endswith(".py") else ""
        if info.name == "cohortpress.__main__" or "cohortpress._compat import" in source:
            skipped.append(info.name)  # runs the command line / a deprecated shim
            continue
        importlib.import_module(info.name)
        imported.append(info.name)

    def names(package, folder=""):
        root = files(package)
        for part in filter(None, folder.split("/")):
            root = root / part
        return sorted(p.name for p in root.iterdir())

    print(json.dumps({
        "file": cohortpress.__file__,
        "imported": imported,
        "skipped": skipped,
        "templates": names("cohortpress.templates"),
        "blocks": names("cohortpress.templates", "blocks"),
        "static": names("cohortpress.templates", "static"),
        "fonts": names("cohortpress.templates", "static/fonts"),
        "scaffold": names("cohortpress.templates", "scaffold"),
        "demo": names("cohortpress.testing", "demo"),
    }))
''')


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The wheel, installed into a fresh environment, and what its check found there."""
    tmp = tmp_path_factory.mktemp("packaging")
    # Built from a copy: setuptools keeps a build/ folder in the source tree, whose leftovers
    # (a module since deleted) would go into the wheel and hide a real omission.
    source = tmp / "source"
    source.mkdir()
    for name in PACKAGED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--quiet", "-w", str(wheels), str(source)], cwd=tmp)
    (wheel,) = wheels.glob("cohortpress-*.whl")
    env = tmp / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    purelib = Path(_run([str(python), "-c", "import sysconfig; "
                         "print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
          str(purelib), str(wheel)])
    # The dependencies: this interpreter's site-packages, after the wheel on sys.path.
    (purelib / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n",
                                                 encoding="utf-8")
    done = _run([str(python), "-c", CHECK], cwd=tmp)
    return {"env": env.resolve(), **json.loads(done.stdout)}


@pytest.mark.slow
def test_the_wheel_not_the_checkout_is_what_the_fresh_environment_imports(installed):
    assert Path(installed["file"]).resolve().is_relative_to(installed["env"])
    assert not Path(installed["file"]).resolve().is_relative_to(ROOT)


@pytest.mark.slow
def test_every_module_of_the_package_imports_from_the_wheel(installed):
    source_modules = _modules_in_the_checkout()
    assert set(installed["imported"]) | set(installed["skipped"]) == source_modules
    assert {"cohortpress.app.run", "cohortpress.testing.demo", "cohortpress.plugins.cox",
            "cohortpress.kit.figures", "cohortpress.common.timelimit"} <= \
        set(installed["imported"])
    assert "cohortpress.errors" in installed["skipped"]  # a deprecated shim


@pytest.mark.slow
def test_the_package_data_is_in_the_wheel(installed):
    assert "report.html.j2" in installed["templates"]
    assert {p.name for p in (ROOT / "templates" / "blocks").iterdir()} <= \
        set(installed["blocks"])
    assert {"base.css", "fonts.css", "fonts"} <= set(installed["static"])
    assert {p.name for p in (ROOT / "templates" / "static" / "fonts").iterdir()} == \
        set(installed["fonts"])
    assert installed["scaffold"]
    assert {"demo_cohort.csv", "demo_report.toml"} <= set(installed["demo"])


def _modules_in_the_checkout() -> set[str]:
    """Every module of the source folders, named as installed."""
    found = set()
    for name, folder in (("cohortpress", "core"), ("cohortpress.plugins", "plugins"),
                         ("cohortpress.templates", "templates")):
        base = ROOT / folder
        for path in base.rglob("*.py"):
            if "__pycache__" in path.parts or (folder == "templates" and
                                               "scaffold" in path.parts):
                continue
            parts = path.relative_to(base).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if name == "cohortpress" and parts and parts[0] in ("plugins", "templates"):
                continue
            found.add(".".join((name, *parts)))
    return found
