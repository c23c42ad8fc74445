"""The one table of commands: every way of giving a command reads it, so they cannot disagree."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mimocorb.display.monitor import BUTTONS
from mimocorb.run import RunController
from mimocorb.run.commands import BY_KEY, HELP, TABLE, as_json
from mimocorb.run.inputs import parse_command
from mimocorb.run.states import RunState


def test_every_command_has_a_key_a_name_and_a_method_of_the_controller() -> None:
    assert len({c.key for c in TABLE}) == len({c.name for c in TABLE}) == len(TABLE)
    for command in TABLE:
        assert len(command.key) == 1 and command.key.isupper(), command
        assert command.name.isidentifier() and command.name.islower(), command
        assert callable(getattr(RunController, command.method, None)), command
        assert command.states and command.states <= set(RunState), command
        assert RunState.ENDED not in command.states, "an ended run takes no command"


def test_the_keyboard_takes_every_key_in_either_case_and_its_help_names_them() -> None:
    for command in TABLE:
        assert parse_command(command.key) == parse_command(f" {command.key.lower()}\n") == command.key
        assert f"{command.key}<ret> {command.does}" in HELP


def test_the_buffer_info_window_sends_keys_of_the_table() -> None:
    """The window keeps the buttons of mimoCoRB 1.0.2; each of them must be a command the run takes."""
    assert {key for _, key in BUTTONS} <= set(BY_KEY)


def test_the_dashboard_gets_the_table_as_json() -> None:
    sent = json.loads(json.dumps(as_json()))
    assert [(c["name"], c["key"]) for c in sent] == [(c.name, c.key) for c in TABLE]
    assert {c["name"]: c["states"] for c in sent} == {
        "pause": ["running"],
        "resume": ["paused"],
        "stop": ["running", "paused"],
        "end": ["running", "paused", "stopped"],
        "acknowledge": ["running", "paused"],
    }
    assert [c["name"] for c in sent if c["confirm"]] == ["end"]


def test_a_refused_command_names_the_states_that_take_it() -> None:
    assert BY_KEY["R"].refusal(RunState.RUNNING) == "R ignored: the run is running, not paused"
    assert BY_KEY["S"].refusal(RunState.STOPPED) == "S ignored: the run is stopped, not running or paused"


def test_the_web_guide_shows_the_table_as_the_api_sends_it() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text(encoding="utf-8")
    after = guide[guide.index("The commands (`GET /api/commands`)") :]
    block = re.search(r"```json\n(.*?)```", after, re.S)
    assert block is not None and json.loads(block.group(1)) == as_json()
