"""Pictures of a real run for the documentation, made by running the example, not pasted.

``python docs/pictures/make_pictures.py [DIR]`` (default ``docs/_static/generated``); ``docs/conf.py`` calls
``make_all`` at the start of every build. Each step makes some pictures and returns their names; a step is
skipped when all its pictures are already there, so repeated builds do not run the example again (delete
the folder to renew them). A new kind of picture is one more function in ``STEPS``. The dashboard's
screenshot needs Playwright and Debian's chromium; without them a stand-in picture says why, and the next
build tries again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mimocorb.web.headless import CHROMIUM_FLAGS

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


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = list(CHROMIUM_FLAGS)
DASHBOARD_SECONDS = 10  # the example's run: long enough for the page to fill its charts
PAGE_SETTLE_S = 5


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    if not Path(CHROMIUM).is_file():
        return f"chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


def _stand_in(picture: Path, text: str) -> list[str]:
    """A picture saying why the real one could not be made, so that the pages still build; the marker
    file next to it has the next build try again."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(8, 1))
    fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    fig.savefig(picture, dpi=80)
    plt.close(fig)
    _marker(picture).touch()
    return [picture.name]


def _marker(picture: Path) -> Path:
    return picture.with_name(picture.name + ".stand-in")


def _dashboard_url(output: Path, run: subprocess.Popen) -> str:
    """The URL the run prints once its dashboard listens (with the token)."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline and run.poll() is None:
        found = re.search(r"Dashboard: (\S+)", output.read_text(encoding="utf-8", errors="replace"))
        if found:
            return found[1]
        time.sleep(0.2)
    raise RuntimeError(f"the example run printed no dashboard address:\n{output.read_text()[-2000:]}")


def dashboard_picture(target: Path) -> list[str]:
    """A screenshot of the live dashboard of a short example run, taken by headless chromium."""
    missing = _browser_missing()
    if missing:
        print(f"dashboard.png not made: {missing}")
        return _stand_in(target / "dashboard.png", f"No screenshot of the dashboard: {missing}.")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="mimocorb-dashboard-") as scratch:
        output = Path(scratch) / "run.out"
        command = [sys.executable, "-m", "mimocorb", "demo", "--web", "127.0.0.1:0", "--runtime"]
        command += [str(DASHBOARD_SECONDS), "--no-gui", "--output", scratch]
        with output.open("w") as out:
            run = subprocess.Popen(
                command, cwd=scratch, env=_headless_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        try:
            url = _dashboard_url(output, run)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url, timeout=60_000)
                page.wait_for_timeout(PAGE_SETTLE_S * 1000)
                page.screenshot(path=str(target / "dashboard.png"), full_page=True)
                _marker(target / "dashboard.png").unlink(missing_ok=True)
                browser.close()
            run.wait(timeout=TIMEOUT_S)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait(timeout=30)
    return ["dashboard.png"]


STEPS: list[tuple[list[str], Callable[[Path], list[str]]]] = [
    (list(RUN_PICTURES), run_pictures),
    (["dashboard.png"], dashboard_picture),
]


def make_all(target: Path) -> list[str]:
    """Make every picture that is missing in ``target``; returns the names of the pictures made."""
    target.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    for names, step in STEPS:
        if not all((target / name).exists() and not _marker(target / name).exists() for name in names):
            made += step(target)
    return made


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / "_static" / "generated"
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    print("made:", ", ".join(make_all(folder)) or "nothing (all pictures are there)")
