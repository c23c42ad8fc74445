"""``pip install .`` builds the ring's compiled module where a C compiler is; where none is, the install
still works, says so in one line, and the ring runs its pure-Python path.

Each case installs a clean copy of this repository (without its dependencies, numpy apart: the ring
needs nothing else) into a fresh venv and moves events through a ring there. The copy leaves out
every built file, so the module is compiled (or not) by this install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pkgkit import REPO, headless_env

INSTALL_TIMEOUT = 600.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(2 * INSTALL_TIMEOUT + 120),
    pytest.mark.xdist_group("compiled-ring-venv"),
]
LEFT_OUT = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "target", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "*.so"
)
# a ring round trip in the venv; prints the path it ran
ROUND_TRIP = """
import numpy as np
from mimocorb.ring import Reader, RingBuffer, Writer, fast_path
with RingBuffer(4, 1, np.int64) as ring:
    w, r = Writer(ring.new_writer()), Reader(ring.new_reader_group())
    for i in range(20):
        w.get_new_buffer()[0] = i
        w.process_buffer()
        assert r.get()[0] == i
    r.close(); w.close()
print(fast_path())
"""


def _run(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    assert out.returncode == 0, (
        f"{args} exited with {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    )
    return out


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A copy per test: pip builds in the source tree, and a build/ left by one install would serve the
    next."""
    shutil.copytree(REPO, tmp_path / "mimocorb", symlinks=True, ignore=LEFT_OUT)
    return tmp_path / "mimocorb"


def _install(source: Path, venv: Path, **env_extra: str) -> tuple[str, str]:
    """(pip's output, the path the ring runs) of a fresh venv with this package and numpy."""
    env = headless_env(PIP_DISABLE_PIP_VERSION_CHECK="1", **env_extra)
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "MIMOCORB_PURE_RING"):
        env.pop(name, None)
    _run([sys.executable, "-m", "venv", str(venv)], env, source.parent)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    _run([*pip, "install", "-q", "numpy"], env, source.parent)
    out = _run([*pip, "install", "-v", "--no-deps", str(source)], env, source.parent)
    ran = _run([str(venv / "bin" / "python"), "-c", ROUND_TRIP], env, source.parent)
    return out.stdout + out.stderr, ran.stdout.strip()


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no gcc here: the compiled module cannot be built")
def test_install_with_a_compiler_builds_the_compiled_ring(source: Path, tmp_path: Path) -> None:
    log, path = _install(source, tmp_path / "venv", CC="gcc")
    assert path == "compiled", log[-3000:]
    assert "pure-Python path" not in log


def test_install_without_a_compiler_runs_the_pure_path(source: Path, tmp_path: Path) -> None:
    log, path = _install(source, tmp_path / "venv", CC=str(tmp_path / "no-such-compiler"))
    assert path == "pure Python (the compiled module is not built)"
    notices = [line for line in log.splitlines() if "the ring runs its pure-Python path" in line]
    assert notices, log[-3000:]
