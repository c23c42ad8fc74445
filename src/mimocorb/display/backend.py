"""Window or picture: which matplotlib backend a display process uses.

A display shows a window when there is a display to show it on and Tk can connect to it; otherwise the
same figures are rendered with Agg into PNG files. The decision is made in the display process itself,
right before pyplot is imported, so a ``matplotlib.use("TkAgg")`` done by a user module at import time
(the mimoCoRB 1.0.2 example modules do that) only chose a name and cannot break a headless run.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from .._optional import TKINTER_HINT

ENV_HEADLESS = "MIMOCORB_HEADLESS"  # set to 1 to render pictures even when a display exists
INTERACTIVE = "TkAgg"
HEADLESS = "Agg"


def display_reason() -> str | None:
    """Why no window can be shown here, or None if one can (a cheap check: nothing is imported)."""
    if os.environ.get(ENV_HEADLESS, "").strip() not in ("", "0"):
        return f"{ENV_HEADLESS} is set"
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return "no display (DISPLAY is not set)"
    if importlib.util.find_spec("tkinter") is None:
        return f"tkinter is not installed (it comes with {TKINTER_HINT})"
    return None


def tk_reachable() -> bool:
    """Whether Tk can really open a connection (DISPLAY may name a server that is gone)."""
    try:
        import tkinter

        root = tkinter.Tk()
        root.withdraw()
        root.destroy()
    except Exception:  # TclError, or a broken tkinter installation
        return False
    return True


def select_backend() -> str:
    """Set matplotlib's backend for this process and return its name (TkAgg or Agg)."""
    import matplotlib

    name = INTERACTIVE if display_reason() is None and tk_reachable() else HEADLESS
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        plt.switch_backend(name)
    else:
        matplotlib.use(name, force=True)
    return name


def agg_figure(size: tuple[float, float], dpi: float) -> Any:
    """A figure that can only be saved, independent of pyplot and of the process's backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Any, path: str) -> None:
    """Write atomically, so a reader of the run directory never sees half a picture."""
    tmp = f"{path}.tmp{os.getpid()}.png"
    fig.savefig(tmp, dpi=fig.dpi)
    os.replace(tmp, path)


def picture_name(title: str, fallback: str) -> str:
    """A file name for a display's picture, made from its title."""
    keep = "".join(c if c.isalnum() or c in "-_" else "_" for c in title.strip())
    keep = "_".join(part for part in keep.split("_") if part)
    return (keep or fallback) + ".png"
