"""Pictures of a real run for the documentation, made by running the example, not pasted.

``python docs/pictures/make_pictures.py [DIR]`` (default ``docs/_static/generated``); ``docs/conf.py`` calls
``make_all`` at the start of every build. Each step makes some pictures and returns their names; a step is
skipped when all its pictures are already there, so repeated builds do not run the example again (delete
the folder to renew them). A new kind of picture (screenshots of a web page, say) is one more function in
``STEPS``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

RUN_SECONDS = 12
TIMEOUT_S = 120

# the pictures the example's displays write without a display, by the name the pages use
RUN_PICTURES = {
    "scope.png": "*aveform*.png",
    "histograms.png": "*istogram*.png",
    "rates.png": "rates.png",
}


def _headless_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "Agg"
    return env


def run_pictures(target: Path) -> list[str]:
    """A few seconds of the muon-lifetime example without a display: its displays write PNG pictures
    into the run directory, which are copied under stable names."""
    with tempfile.TemporaryDirectory(prefix="mimocorb-pictures-") as scratch:
        command = [
            sys.executable,
            "-m",
            "mimocorb",
            "demo",
            "--runtime",
            str(RUN_SECONDS),
            "--no-gui",
            "--output",
            scratch,
            "-v",
            "0",
        ]
        subprocess.run(
            command,
            cwd=scratch,
            env=_headless_env(),
            stdin=subprocess.DEVNULL,
            check=True,
            capture_output=True,
            timeout=TIMEOUT_S,
        )
        (run_dir,) = [p for p in Path(scratch).iterdir() if p.is_dir()]
        for name, pattern in RUN_PICTURES.items():
            found = sorted(run_dir.rglob(pattern))
            if not found:
                made = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*.png"))
                raise RuntimeError(f"the example run made no picture {pattern!r}; it made {made}")
            shutil.copyfile(found[0], target / name)
    return list(RUN_PICTURES)


STEPS: list[tuple[list[str], Callable[[Path], list[str]]]] = [(list(RUN_PICTURES), run_pictures)]


def make_all(target: Path) -> list[str]:
    """Make every picture that is missing in ``target``; returns the names of the pictures made."""
    target.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    for names, step in STEPS:
        if not all((target / name).exists() for name in names):
            made += step(target)
    return made


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / "_static" / "generated"
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    print("made:", ", ".join(make_all(folder)) or "nothing (all pictures are there)")
