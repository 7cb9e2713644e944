"""The committed sample outputs hold on another machine, proved without one.

A CPU other than the one that built the samples makes numpy choose other SIMD kernels and
OpenBLAS other BLAS kernels, and both add in another order: the last digits of unrounded
numbers change (a byte comparison of ``results.json`` fails there). Both choices can be
forced down on this machine: ``NPY_DISABLE_CPU_FEATURES`` turns off the SIMD features
numpy dispatches to at run time, and ``OPENBLAS_CORETYPE`` makes OpenBLAS use the kernels
of an older core. The committed-output checks of ``test_samples.py`` run again in a child
process so set up, and must still pass.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = ("belgian_infant_leukaemia", "mll10_infant_kmt2a")

# What numpy and OpenBLAS chose in a process: the SIMD features numpy can dispatch to and
# whether each is on, and the core each loaded OpenBLAS library uses (numpy's and scipy's
# wheels each bring their own; found among the libraries the process has mapped).
PROBE = r"""
import ctypes, json, re
import numpy, scipy.linalg
try:
    from numpy._core import _multiarray_umath as umath
except ImportError:  # numpy 1.x
    from numpy.core import _multiarray_umath as umath
features = {name: bool(umath.__cpu_features__.get(name)) for name in umath.__cpu_dispatch__}
cores = {}
try:
    with open("/proc/self/maps") as maps:
        libraries = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
except OSError:
    libraries = []
for path in libraries:
    library = ctypes.CDLL(path)
    for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                   "openblas_get_corename64_", "openblas_get_corename"):
        function = getattr(library, symbol, None)
        if function is not None:
            function.restype = ctypes.c_char_p
            cores[re.sub(r"-[0-9a-f]{8}\.", ".", path.rsplit("/", 1)[-1])] = function().decode()
            break
print(json.dumps({"features": features, "avx": bool(umath.__cpu_features__.get("AVX")),
                  "openblas": cores}))
"""


def probe(env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def another_cpu(native: dict) -> dict[str, str]:
    """Settings that make this machine compute as an older CPU would: every SIMD feature
    numpy dispatches to here turned off (widest first), and OpenBLAS on an older core."""
    settings = {}
    on = [name for name, enabled in native["features"].items() if enabled]
    if on:
        settings["NPY_DISABLE_CPU_FEATURES"] = ",".join(reversed(on))
    cores = {core.lower() for core in native["openblas"].values()}
    if platform.machine().lower() in ("x86_64", "amd64"):
        # Sandybridge: AVX kernels without FMA or AVX2; Prescott: SSE3 only.
        older = (["Sandybridge"] if native["avx"] else []) + ["Prescott"]
    elif platform.machine().lower() in ("aarch64", "arm64"):
        older = ["ARMV8"]
    else:
        older = []
    for core in older:
        if core.lower() not in cores:
            settings["OPENBLAS_CORETYPE"] = core
            break
    return settings


@pytest.mark.slow
def test_committed_outputs_hold_on_another_cpu(cp, tmp_path):
    native = probe(dict(os.environ))
    settings = another_cpu(native)
    if not settings:
        pytest.skip("this CPU has no SIMD feature numpy dispatches to and no older OpenBLAS "
                    "core to fall back on: there is no other code path to emulate")
    env = {**os.environ, **settings}
    emulated = probe(env)
    # The settings took: what numpy dispatched to here is off, OpenBLAS chose other kernels.
    disabled = settings.get("NPY_DISABLE_CPU_FEATURES", "").split(",")
    assert not [f for f in disabled if f and emulated["features"].get(f)], emulated
    changed = [lib for lib, core in emulated["openblas"].items()
               if core != native["openblas"].get(lib)]
    assert changed or not native["openblas"] or "OPENBLAS_CORETYPE" not in settings, \
        (native, emulated)

    run = cp.run_pytest(["-q", REPO / "tests" / "test_samples.py", "-k", "committed"],
                        cwd=REPO, env=env, report=tmp_path / "samples.xml")
    names = [f"{test}[{sample}]" for sample in SAMPLES
             for test in ("test_committed_results_have_the_numbers_of_a_rebuild",
                          "test_committed_pdf_has_the_text_of_a_rebuild")]
    if cp.assert_tests_passed(run, names):
        cp.poppler("pdftotext")  # the numbers were checked; says the PDF text was not
