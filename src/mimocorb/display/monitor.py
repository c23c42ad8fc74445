"""The buffer monitor: rates, status and run controls in one window, as in mimoCoRB 1.0.2.

Runs in its own process, started by the run controller when ``GUI_control`` is on and a display exists.
It talks to the controller only through the three queues of mimoCoRB 1.0.2: commands ``P/R/S/E`` from
its buttons go into ``Qcmd``; the controller's log lines come from ``Qlog``; ``Qinfo`` holds at most one
status tuple ``(state, active_time, events, deadtime, {RB_n: [events, filled, rate]}, workers_ok)``.
Nothing it does can block the controller: it only reads with ``get_nowait`` and writes single letters.

The buttons sit at fixed pixel positions (``BUTTON_X``, ``BUTTON_Y``, ``BUTTON_SIZE``) so that a person
— or a test with xdotool — always finds them in the same place.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import queue
import time
from collections import deque
from typing import Any

WINDOW_TITLE = "Buffer Information"
WINDOW_SIZE = (1024, 600)
BUTTONS = (("Pause", "P"), ("Resume", "R"), ("Stop", "S"), ("EndRun", "E"))
BUTTON_SIZE = (96, 32)
BUTTON_Y = 8
BUTTON_X = tuple(10 + i * (BUTTON_SIZE[0] + 10) for i in range(len(BUTTONS)))
HISTORY = 180  # points of rate history
MIN_RATE = 0.01


def button_centre(label: str) -> tuple[int, int]:
    """Window coordinates of the middle of a button."""
    index = [name for name, _ in BUTTONS].index(label)
    return BUTTON_X[index] + BUTTON_SIZE[0] // 2, BUTTON_Y + BUTTON_SIZE[1] // 2


class plot_bufferinfo:
    """The rate-history figure: one line per buffer, log y axis from 0.01 Hz to ``maxRate``.

    ``__call__(n)`` takes the newest status tuple from ``Q`` (if there is one), appends the rates and
    returns the changed artists; ``latest`` holds that tuple for the status text.
    """

    def __init__(
        self, Q: Any, RBnames: list[str], maxRate: float = 4500.0, interval: float = 1000.0, fig: Any = None
    ) -> None:
        self.Q, self.names, self.max_rate, self.interval = Q, list(RBnames), float(maxRate), float(interval)
        if fig is None:
            from .backend import agg_figure

            fig = agg_figure((6.0, 4.0), 100.0)
        self.fig = fig
        self.latest: tuple | None = None
        self.rates = {name: deque([float("nan")] * HISTORY, maxlen=HISTORY) for name in self.names}
        self.init()

    def init(self) -> list[Any]:
        """Draw the empty axes of the rate history (the animation's first frame)."""
        self.fig.clear()
        ax = self.fig.add_subplot(1, 1, 1)
        self.ax = ax
        seconds = self.interval / 1000.0
        self.t = [(i - HISTORY + 1) * seconds for i in range(HISTORY)]
        ax.set_yscale("log")
        ax.set_ylim(MIN_RATE, self.max_rate)
        ax.set_xlim(self.t[0], 0.0)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("rate (Hz)")
        ax.grid(True, which="both", color="grey", alpha=0.25)
        self.lines = {name: ax.plot(self.t, list(self.rates[name]), label=name)[0] for name in self.names}
        ax.legend(loc="upper left", fontsize="small")
        self.fig.tight_layout()
        return list(self.lines.values())

    def __call__(self, n: int = 0) -> list[Any]:
        item = _newest(self.Q)
        if item is None:
            return []
        self.latest = item
        info = item[4] if len(item) > 4 else {}
        top = self.max_rate
        for name in self.names:
            rate = float(info.get(name, [0, 0, 0.0])[2])
            self.rates[name].append(max(rate, MIN_RATE))
            self.lines[name].set_ydata(list(self.rates[name]))
            top = max(top, rate * 1.5)
        if top > self.ax.get_ylim()[1]:
            self.ax.set_ylim(MIN_RATE, top)
        return list(self.lines.values())


def _newest(q: Any) -> tuple | None:
    item = None
    with contextlib.suppress(queue.Empty, OSError, ValueError, EOFError):
        while True:
            item = q.get_nowait()
    return item


def status_lines(info: tuple | None, names: list[str]) -> str:
    """The status text: state, active time, events, deadtime, per buffer fill and rate, workers."""
    if info is None:
        return "waiting for the first status ..."
    state, active, events, deadtime, rbinfo, ok = info
    lines = [
        f"status:       {state}",
        f"active time:  {float(active):.1f} s",
        f"events:       {events}",
        f"deadtime:     {100.0 * max(float(deadtime), 0.0):.2f} %",
        "",
    ]
    for name in names:
        ev, filled, rate = rbinfo.get(name, (0, 0, 0.0))
        lines.append(f"{name}: {ev:>9} ev {rate:8.1f} Hz {filled:>4} filled")
    lines += ["", "workers  √" if ok else "workers  !!!  (see the log)"]
    return "\n".join(lines)


class BufferMonitor:
    """The Tk window; ``run()`` is its main loop."""

    def __init__(
        self, Qcmd: Any, Qlog: Any, Qinfo: Any, names: list[str], max_rate: float, interval: float
    ) -> None:
        import tkinter as tk
        from tkinter import scrolledtext

        from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg
        from matplotlib.figure import Figure

        self.cmd, self.log_q, self.names = Qcmd, Qlog, names
        self.interval_ms = max(50, int(interval))
        self.parent = multiprocessing.parent_process()
        root = tk.Tk()
        self.root = root
        root.title(WINDOW_TITLE)
        root.geometry(f"{WINDOW_SIZE[0]}x{WINDOW_SIZE[1]}")
        root.protocol("WM_DELETE_WINDOW", self.on_close)
        bar = tk.Frame(root, height=BUTTON_Y * 2 + BUTTON_SIZE[1])
        bar.pack(side=tk.TOP, fill=tk.X)
        for (label, letter), x in zip(BUTTONS, BUTTON_X, strict=True):
            button = tk.Button(bar, text=label, command=functools.partial(self.send, letter))
            button.place(x=x, y=BUTTON_Y, width=BUTTON_SIZE[0], height=BUTTON_SIZE[1])
        self.clock = tk.Label(bar, font=("TkFixedFont", 12))
        self.clock.place(relx=1.0, x=-10, y=BUTTON_Y + 4, anchor="ne")
        middle = tk.Frame(root)
        middle.pack(side=tk.TOP, fill=tk.BOTH, expand=True)
        fig = Figure(figsize=(6.0, 3.6), dpi=100)
        self.figure = plot_bufferinfo(Qinfo, names, max_rate, interval, fig=fig)
        self.canvas = FigureCanvasTkAgg(fig, master=middle)
        self.canvas.get_tk_widget().pack(side=tk.LEFT, fill=tk.BOTH, expand=True)
        self.status = tk.Label(middle, justify=tk.LEFT, anchor="nw", font="TkFixedFont", width=46)
        self.status.pack(side=tk.LEFT, fill=tk.Y, padx=6, pady=6)
        self.log = scrolledtext.ScrolledText(root, height=9, font="TkFixedFont")
        self.log.pack(side=tk.BOTTOM, fill=tk.X)
        self.status.configure(text=status_lines(None, names))

    def send(self, letter: str) -> None:
        """Send a command letter (P, R, S, E) to the run controller and log it."""
        with contextlib.suppress(Exception):
            self.cmd.put_nowait(letter)
        self.append_log(f"command {letter} sent")

    def on_close(self) -> None:
        """Closing the window asks first: the run goes on without it."""
        from tkinter import messagebox

        if messagebox.askokcancel(WINDOW_TITLE, "Close this window? The run goes on (end it with EndRun)."):
            self.root.destroy()

    def append_log(self, text: str) -> None:
        """Add a time-stamped line to the log pane."""
        self.log.insert("end", f"{time.strftime('%H:%M:%S')}  {text}\n")
        self.log.see("end")

    def update(self) -> None:
        """Every ``interval``: new status, new log lines, clock; ends when the controller is gone."""
        if self.parent is not None and not self.parent.is_alive():
            self.root.destroy()
            return
        if self.figure():
            self.canvas.draw_idle()
            self.status.configure(text=status_lines(self.figure.latest, self.names))
        with contextlib.suppress(queue.Empty, OSError, ValueError, EOFError):
            for _ in range(200):
                self.append_log(str(self.log_q.get_nowait()))
        self.clock.configure(text=time.strftime("%Y-%m-%d %H:%M:%S"))
        self.root.after(self.interval_ms, self.update)

    def run(self) -> None:
        """Show the window until the controller is gone or the window is closed."""
        self.canvas.draw()
        self.update()
        self.root.mainloop()


def bufferinfoGUI(
    Qcmd: Any,
    Qlog: Any,
    Qinfo: Any,
    RBnames: list[str] | None = None,
    maxRate: float = 4500.0,
    interval: float = 1000.0,
) -> None:
    """The monitor window's process body: returns only when the window is closed.

    A display that cannot be reached (DISPLAY names a server that is gone) ends only this process, with
    a message; the run goes on without the window and can still be ended.
    """
    from .backend import tk_reachable

    if not tk_reachable():
        display = os.environ.get("DISPLAY", "")
        print(f"bufferinfoGUI: no window can be opened on DISPLAY={display!r}; the run goes on without it")
        return
    BufferMonitor(Qcmd, Qlog, Qinfo, list(RBnames or ["RB_1"]), maxRate, interval).run()
