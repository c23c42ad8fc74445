"""The commands a run takes, in one table read by every way of giving them.

The keyboard (``inputs``), the buffer-info window's queue (``gui``) and the dashboard (its server and its
page, which get the table from the controller through ``as_json``) all name commands by this table, so
they cannot disagree about which letters exist or when a button may be pressed.

A new command is one ``Command`` in ``TABLE`` plus the ``RunController`` method it names; the controller
refuses it, with a note, in every state its entry does not list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .states import ACTIVE, ENDABLE, RunState


@dataclass(frozen=True)
class Command:
    """One command: how it is given, what it does, and when it is taken.

    ``key``: the letter typed on stdin (lower case works too), as in mimoCoRB 1.0.2; ``name``: the word
    of the dashboard's API and its button; ``does``: plain words for the help line and the buttons;
    ``method``: the ``RunController`` method that carries it out; ``confirm``: the question the page asks
    before sending a command that cannot be undone; ``argument``: what the one optional word after the
    letter names (``A no_muons``), for the commands that take one.
    """

    name: str
    key: str
    does: str
    states: frozenset[RunState]
    method: str
    confirm: str | None = None
    argument: str | None = None

    def refusal(self, state: RunState) -> str:
        """Why the command is ignored in ``state``, naming the states that would take it."""
        wanted = " or ".join(s.value for s in RunState if s in self.states)
        return f"{self.key} ignored: the run is {state}, not {wanted}"


#: Every command, in the order of the help line and of the dashboard's buttons.
TABLE: tuple[Command, ...] = (
    Command("pause", "P", "pause data taking", frozenset({RunState.RUNNING}), "pause"),
    Command("resume", "R", "resume data taking", frozenset({RunState.PAUSED}), "resume"),
    Command("stop", "S", "stop data taking", ACTIVE, "stop"),
    Command("end", "E", "end the run", ENDABLE, "end_run", confirm="End the run now?"),
    Command("acknowledge", "A", "acknowledge raised alarms", ACTIVE, "acknowledge", argument="alarm name"),
)

BY_KEY = {command.key: command for command in TABLE}
BY_NAME = {command.name: command for command in TABLE}
HELP = "commands: " + ", ".join(f"{c.key}<ret> {c.does}" for c in TABLE)


def as_json() -> list[dict[str, Any]]:
    """The table for the dashboard: its server checks commands by it, its page draws the buttons from it."""
    return [
        {
            "name": c.name,
            "key": c.key,
            "does": c.does,
            "states": [s.value for s in RunState if s in c.states],
            "confirm": c.confirm,
            "argument": c.argument,
        }
        for c in TABLE
    ]
