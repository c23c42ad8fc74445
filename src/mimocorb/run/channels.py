"""Where the operator meets a run: the keyboard (or a pipe) on stdin, the buffer-info window and the
dashboard.

Each may give commands (the letters of ``commands.TABLE``) and each may show the controller's messages.
They are started only after the workers, so that no worker is forked while they run, and every one of
them is optional: a window or a server that cannot start is noted and the run goes on without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .commands import HELP
from .dashboard import Dashboard
from .gui import GuiLink, gui_unavailable_reason
from .inputs import KeyboardInput
from .status import Console


class Channels:
    """The keyboard, the window and the dashboard of one run, each None until started (or if it is not
    used)."""

    def __init__(self, console: Console, note: Callable[[str, int], None]) -> None:
        self.console = console
        self.note = note
        self.keyboard: KeyboardInput | None = None
        self.gui: GuiLink | None = None
        self.web: Dashboard | None = None

    # -- starting -------------------------------------------------------------------------------
    def start_keyboard(self) -> None:
        keyboard = KeyboardInput(0)
        if keyboard.open:
            self.keyboard = keyboard
            if keyboard.is_terminal:
                self.note(HELP, 1)

    def start_gui(self, context: Any, buffers: list[str]) -> None:
        reason = gui_unavailable_reason()
        if reason is not None:
            self.note(f"GUI_control: running without the buffer-info window: {reason}", 1)
            return
        try:
            self.gui = GuiLink(context, buffers)
            self.note("Graphical User Interface active", 1)
        except Exception as exc:  # a GUI problem must never cost the run
            self.note(f"GUI_control: the buffer-info window could not be started: {exc}", 0)

    def use_web(self, dashboard: Dashboard | None) -> None:
        """The dashboard once it listens (None: it could not start, and said why)."""
        self.web = dashboard
        if dashboard is not None:
            self.console.message(f"Dashboard: {dashboard.url}", 0)

    # -- while the run goes on ------------------------------------------------------------------
    def waitables(self) -> list[Any]:
        """What the loop waits on besides the workers: stdin, the dashboard's socket."""
        waitables: list[Any] = []
        if self.keyboard is not None:
            waitables += self.keyboard.waitables()
        if self.web is not None:
            waitables += self.web.waitables()
        return waitables

    def commands(self, ready: list[Any]) -> list[tuple[str, str]]:
        """The command lines given since the last call, each with where it came from."""
        lines: list[tuple[str, str]] = []
        if self.keyboard is not None and self.keyboard.fd in ready:
            lines += [(line, "keyboard") for line in self.keyboard.read_lines()]
        if self.gui is not None:
            lines += [(line, "GUI") for line in self.gui.commands()]
        if self.web is not None:
            lines += [(letter, "web") for letter in self.web.commands()]
        return lines

    def interactive(self) -> bool:
        """Somebody can still give E: a terminal on stdin, or a window or dashboard that is open."""
        keyboard = self.keyboard is not None and self.keyboard.open and self.keyboard.is_terminal
        windows = (self.gui is not None and self.gui.alive) or (self.web is not None and self.web.alive)
        return keyboard or windows

    def show(self, text: str, level: int) -> None:
        """A controller message in the window (start and end messages, warnings) and on the dashboard."""
        if self.gui is not None and level <= 1:
            self.gui.log(text)
        if self.web is not None:
            self.web.log(text)

    def show_worker_line(self, name: str, line: str) -> None:
        if self.web is not None:
            self.web.log(line, name)

    # -- closing --------------------------------------------------------------------------------
    def close_inputs(self) -> None:
        """The window goes and stdin is no longer read; the dashboard stays for the final snapshot."""
        if self.gui is not None:
            self.gui.close()
        self.keyboard = None

    def close_web(self) -> None:
        if self.web is not None:
            self.web.close()
