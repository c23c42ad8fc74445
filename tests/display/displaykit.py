"""Helpers of the display tests: a setup with every kind of display, runs, pictures, Xvfb."""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import support

HERE = Path(__file__).parent
MODS = HERE / "dispmods"

SCOPE_CONFIG = (
    "{title: Test scope, min_sleeptime: 0.2, sample_time_ns: 4, pre_trigger_samples: 50, "
    "analogue_offset: -0.48, trigger_level: -440, channel_range: 500, trigger_channel: A, "
    "trigger_direction: rising, snapshot_interval: 1}"
)
HIST_CONFIG = (
    "{title: Known data, interval: 0.3, snapshot_interval: 1, "
    "histograms: {x: [0, 10, 10, 5, x value, 0], y: [0, 600, 30, 5, y value, 1]}}"
)


def setup_text(
    n_events: int,
    sleep: float = 0.0,
    gui: bool = False,
    runtime: float = 0,
    scope_sleep: float = 0.002,
    displays: str = "plot_displays",
) -> str:
    main = f"{{runtime: {runtime}}}" if runtime else "{}"
    return f"""\
output_directory: target
GUI_control: {str(gui).lower()}
KBD_control: false
RingBuffer:
  - RB_1: {{number_of_slots: 64, channel_per_slot: 1, data_type: {{1: [x, float64], 2: [y, float64]}}}}
  - RB_2: {{number_of_slots: 16, channel_per_slot: 500, data_type: {{1: [chA, float32], 2: [chB, float32]}}}}
Functions:
  - Fkt_main: {main}
  - Fkt_1: {{file_name: {MODS / "display_sources"}, fkt_name: known_values, num_process: 1,
            RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{file_name: {MODS / "display_sources"}, fkt_name: pulses, num_process: 1,
            RB_assign: {{RB_2: write}}}}
  - Fkt_3: {{file_name: {MODS / displays}, fkt_name: plot_histograms, num_process: 1,
            RB_assign: {{RB_1: read}}}}
  - Fkt_4: {{file_name: {MODS / displays}, fkt_name: plot_waveform, num_process: 1,
            RB_assign: {{RB_2: observe}}}}
  - Fkt_5: {{file_name: {MODS / "drain"}, fkt_name: drain, num_process: 1, RB_assign: {{RB_2: read}}}}
FunctionConfigs:
  known_values: {{n_events: {n_events}, sleep: {sleep}}}
  pulses: {{n_events: 0, sleep: {scope_sleep}, pre_trigger_samples: 50, analogue_offset: -0.48}}
  plot_histograms: {HIST_CONFIG}
  plot_waveform: {SCOPE_CONFIG}
  drain: {{}}
"""


def write_setup(directory: Path, text: str, name: str = "display_setup.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def start_run(setup: Path, env: dict[str, str], args: tuple[str, ...] = ()) -> subprocess.Popen:
    """``mimocorb run SETUP`` in the setup's directory with the whole environment ``env``; output and
    errors combined."""
    return support.start(support.mimocorb_command("run", setup.name, "-v", "1", *args), setup.parent, env=env)


@contextmanager
def ended_in_the_end(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """A run that the body does not end (it failed on the way) is killed, so no window stays open."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def headless_env() -> dict[str, str]:
    return support.child_env(support.HEADLESS)


def run_dir(directory: Path) -> Path:
    return support.only_run_dir(directory / "target")


def histogram_numbers(run: Path, title: str = "Known data") -> dict[str, tuple[int, float, float]]:
    """entries, mean, std per field, as the histogram display reported them in run.log."""
    log = (run / "run.log").read_text(encoding="utf-8")
    lines = [line for line in log.splitlines() if f"{title}: " in line and "entries" in line]
    assert lines, f"no histogram summary of '{title}' in run.log:\n{log}"
    found = re.findall(r"(\w+): entries (\d+), mean (\S+), std ([^;\s]+)", lines[-1])
    return {name: (int(n), float(mean), float(std)) for name, n, mean, std in found}


def read_png(path: Path) -> np.ndarray:
    """The picture as an array (rows, columns, channels) with values 0..1."""
    import matplotlib.image

    return np.asarray(matplotlib.image.imread(str(path)))


def assert_picture(path: Path, size: tuple[int, int]) -> np.ndarray:
    """The PNG exists, has ``size`` (width, height) in pixels and shows something besides the background."""
    assert path.is_file(), (
        f"{path.name} missing; the directory holds {sorted(p.name for p in path.parent.iterdir())}"
    )
    image = read_png(path)
    assert (image.shape[1], image.shape[0]) == size, f"{path.name}: {image.shape[1]}x{image.shape[0]}"
    rgb = image[..., :3]
    background = np.median(rgb.reshape(-1, 3), axis=0)
    differs = np.abs(rgb - background).sum(axis=2) > 0.1
    assert differs.mean() > 0.01, f"{path.name} is (almost) blank: {differs.mean():.4f} of the pixels drawn"
    return image


# ------------------------------------------------------------------------------------------ X ----
def x_tools_missing() -> str | None:
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (Debian: apt-get install -y xvfb xdotool)"
    try:
        import tkinter  # noqa: F401
    except ImportError:
        return "tkinter is not installed"
    return None


class Xvfb:
    """A private X server on a free display number."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write)
        number = b""
        deadline = time.monotonic() + 10.0
        while (
            not number.endswith(b"\n")
            and select.select([read], [], [], max(0.0, deadline - time.monotonic()))[0]
        ):
            chunk = os.read(read, 16)
            if not chunk:
                break
            number += chunk
        os.close(read)
        if not number.strip():
            self.close()
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number.decode().strip()}"

    def env(self) -> dict[str, str]:
        return support.child_env(
            {"DISPLAY": self.display, "WAYLAND_DISPLAY": None, "MIMOCORB_HEADLESS": None}
        )

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def xdotool(env: dict[str, str], *args: str, check: bool = True) -> str:
    result = subprocess.run(
        ["xdotool", *args], env=env, capture_output=True, text=True, timeout=10, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"xdotool {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def find_window(env: dict[str, str], title: str, timeout: float = 30.0) -> str:
    """The id of the mapped (visible) window with this title; a window that exists but is not mapped
    yet would not receive a click."""
    pattern = f"^{re.escape(title)}$"
    found = support.wait_until(
        lambda: xdotool(env, "search", "--onlyvisible", "--name", pattern, check=False),
        timeout,
        f"a window '{title}'",
        interval=0.2,
    )
    return found.splitlines()[0]


def window_gone(env: dict[str, str], title: str) -> bool:
    return not xdotool(env, "search", "--name", f"^{re.escape(title)}$", check=False)


def window_picture(env: dict[str, str], window: str) -> np.ndarray:
    """What the window shows on the X server, as an RGB array with values 0..1.

    The window is raised first (without a window manager all windows open at the same place); until
    its program has redrawn the uncovered part, the window shows only its background colour.
    """
    from PIL import ImageGrab

    xdotool(env, "windowraise", window)
    geometry = xdotool(env, "getwindowgeometry", "--shell", window)
    g = dict(line.split("=", 1) for line in geometry.splitlines() if "=" in line)
    x, y, w, h = (int(g[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))

    def grab() -> list[np.ndarray]:
        image = ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=env["DISPLAY"])
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
        return [rgb] if drawn_fraction(rgb) > 0.01 else []

    return support.wait_until(grab, 10, f"window {window} to be redrawn after raising it", interval=0.1)[0]


def drawn_fraction(rgb: np.ndarray) -> float:
    """Fraction of pixels that differ from the most common colour (the background)."""
    background = np.median(rgb.reshape(-1, 3), axis=0)
    return float((np.abs(rgb - background).sum(axis=2) > 0.1).mean())
