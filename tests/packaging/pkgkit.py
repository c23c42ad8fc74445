"""Helpers of the packaging tests: child interpreters with modules hidden, and what an import pulls in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HIDE_DIR = Path(__file__).resolve().parent / "hide"

# prints, as JSON, the top-level names of the modules that importing sys.argv[1] added to sys.modules
_FOOTPRINT = """
import importlib, json, sys
before = set(sys.modules)
importlib.import_module(sys.argv[1])
new = sorted(set(sys.modules) - before)
print(json.dumps(new))
"""


def headless_env(**extra: str) -> dict[str, str]:
    """The environment of a CI machine: no display; ``extra`` added."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(extra)
    return env


def run_hiding(hidden: list[str], args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``python args...`` in which the modules ``hidden`` cannot be imported."""
    path = os.pathsep.join(p for p in (str(HIDE_DIR), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=headless_env(PYTHONPATH=path, MIMOCORB_HIDE=",".join(hidden), **env),
    )


def imported_by(module: str, python: str = sys.executable, **env: str) -> list[str]:
    """The modules that importing ``module`` in a fresh interpreter (``env`` added to its environment)
    adds to sys.modules."""
    out = subprocess.run(
        [python, "-c", _FOOTPRINT, module],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=headless_env(**env),
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def third_party(modules: list[str]) -> list[str]:
    """Top-level names among ``modules`` that are neither standard library nor mimocorb.

    ``__mp_main__`` is multiprocessing's second name for the main module, not a module of its own.
    """
    tops = {name.partition(".")[0] for name in modules if not name.startswith("__")}
    return sorted(tops - set(sys.stdlib_module_names) - {"mimocorb"})
