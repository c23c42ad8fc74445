"""The process that owns a display's figure: a window, or PNG snapshots when there is no display.

A worker display (oscilloscope, histograms) is split in two. The worker process takes the data (as an
observer or a reader) and hands the newest state to a *plot process* through a queue that holds one
item: when the plot process is still busy drawing, the offer is simply dropped, so drawing can never
hold up the data side, and updates are rate-limited by what the data side offers. The plot process owns
everything graphical; when its window is closed, or Tk dies because the X server went away, only the
plot process ends — the worker goes on taking data and still writes the final picture at the end.

Without a display the plot process renders the same figure with Agg and replaces a PNG snapshot every
``snapshot_interval`` seconds.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._processes import terminate_then_kill
from .backend import INTERACTIVE, agg_figure, save_png, select_backend

POLL = 0.05  # how long the window's event loop runs between looks at the queue
SNAPSHOT_POLL = 0.5
View = Callable[[Any], Any]


@dataclass(frozen=True)
class ViewSpec:
    """How to build a display's figure, in any process: ``factory(*args, fig=figure)`` is the view."""

    factory: Callable[..., View]
    args: tuple = ()
    title: str = ""
    picture: str = ""  # PNG path for snapshots (headless) and the final picture
    snapshot_interval: float = 10.0
    size: tuple[float, float] = (8.0, 6.0)
    dpi: float = 100.0

    def build(self, fig: Any) -> View:
        """Make the view on ``fig``, in the process that draws."""
        return self.factory(*self.args, fig=fig)


def render_picture(spec: ViewSpec, item: Any) -> bool:
    """Draw ``item`` with Agg and write ``spec.picture`` (the final picture of a run).

    A picture that cannot be written (disk full, say) is reported, but it does not make the run fail:
    the data the run took are complete either way.
    """
    try:
        fig = agg_figure(spec.size, spec.dpi)
        view = spec.build(fig)
        view(item)
        save_png(fig, spec.picture)
    except Exception as exc:
        print(f"display '{spec.title}': {spec.picture} not written: {exc}", file=sys.stderr)
        return False
    return True


def plot_main(items: Any, spec: ViewSpec) -> None:
    """Target of the plot process."""
    parent = multiprocessing.parent_process()
    if select_backend() == INTERACTIVE:
        _window_loop(items, spec, parent)
    else:
        _snapshot_loop(items, spec, parent)


def _window_loop(items: Any, spec: ViewSpec, parent: Any) -> None:
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=spec.size, dpi=spec.dpi)
    with contextlib.suppress(Exception):  # not every backend's window has a title
        if (manager := fig.canvas.manager) is not None:
            manager.set_window_title(spec.title or "mimocorb")
    view = spec.build(fig)
    plt.show(block=False)
    while plt.fignum_exists(fig.number) and (parent is None or parent.is_alive()):
        try:
            fig.canvas.start_event_loop(POLL)  # handles the window's events; not a busy wait
        except Exception:  # the window was destroyed under us
            break
        item = _newest(items)
        if item is None:
            break
        if item is not _NOTHING and plt.fignum_exists(fig.number):
            view(item)
            fig.canvas.draw_idle()
    plt.close("all")


def _snapshot_loop(items: Any, spec: ViewSpec, parent: Any) -> None:
    fig = agg_figure(spec.size, spec.dpi)
    view = spec.build(fig)
    next_shot = time.monotonic() + spec.snapshot_interval
    changed = False
    while parent is None or parent.is_alive():
        try:
            item = items.get(timeout=SNAPSHOT_POLL)
        except queue.Empty:
            item = _NOTHING
        if item is None:
            return
        if item is not _NOTHING:
            view(item)
            changed = True
        if changed and spec.picture and time.monotonic() >= next_shot:
            save_png(fig, spec.picture)
            changed = False
            next_shot = time.monotonic() + spec.snapshot_interval


class _Nothing:
    """No new item (distinct from ``None``, which means the end)."""


_NOTHING = _Nothing()


def _newest(items: Any) -> Any:
    try:
        return items.get_nowait()
    except queue.Empty:
        return _NOTHING


class PlotLink:
    """The data side's handle on its plot process."""

    def __init__(self, spec: ViewSpec) -> None:
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        self.spec = spec
        self._items = context.Queue(maxsize=1)
        self.process = context.Process(
            target=plot_main, args=(self._items, spec), name=f"{spec.title or 'display'} (plot)", daemon=True
        )
        self.process.start()
        self.dropped = 0
        self._gone_noted = False

    @property
    def alive(self) -> bool:
        """Whether the plot process still runs."""
        return self.process.is_alive()

    def offer(self, item: Any) -> bool:
        """Hand over the newest state unless the plot process is still busy with the last one."""
        if not self.process.is_alive():
            if not self._gone_noted:
                self._gone_noted = True
                print(
                    f"display '{self.spec.title}': window closed (exit code {self.process.exitcode}); "
                    "data taking goes on",
                    file=sys.stderr,
                )
            return False
        try:
            self._items.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def close(self, timeout: float = 2.0) -> None:
        """End the plot process (it closes its window); never waits longer than ``timeout`` seconds."""
        if self.process.is_alive():
            with contextlib.suppress(queue.Full, OSError, ValueError):
                self._items.put(None, timeout=min(timeout, 0.5))
            self.process.join(timeout)
        terminate_then_kill(self.process)
        self._items.cancel_join_thread()
        self._items.close()
