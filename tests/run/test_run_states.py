"""The run states: the words the run's files use, and the one table of allowed changes."""

from __future__ import annotations

import csv
import io
import json

import pytest

from mimocorb.run.states import ENDABLE, TRANSITIONS, IllegalTransition, RunState, StateHistory

WORDS = ["configured", "running", "paused", "stopped", "stopping", "ended"]


def test_states_are_the_words_of_the_files():
    assert [s.value for s in RunState] == WORDS
    for state in RunState:
        assert state == state.value and str(state) == state.value and f"{state:<10}" == f"{state.value:<10}"
        assert {state.value: 1}[state] == 1  # a state finds its word among plain strings
    out = io.StringIO()
    csv.writer(out).writerow(list(RunState))
    assert out.getvalue().strip() == ",".join(WORDS)
    assert json.loads(json.dumps(list(RunState))) == WORDS


def test_every_state_can_reach_the_end_and_is_reachable():
    seen, todo = set(), [RunState.CONFIGURED]
    while todo:
        state = todo.pop()
        if state not in seen:
            seen.add(state)
            todo += TRANSITIONS[state]
    assert seen == set(RunState)
    assert all(RunState.ENDED in TRANSITIONS[s] for s in RunState if s != RunState.ENDED)
    assert frozenset({RunState.RUNNING, RunState.PAUSED, RunState.STOPPED}) == ENDABLE


def test_a_change_the_table_does_not_allow_is_refused():
    history = StateHistory()
    for state in (RunState.RUNNING, RunState.PAUSED, RunState.RUNNING, RunState.STOPPING):
        history.move(state)
    with pytest.raises(IllegalTransition, match="stopping cannot change to running"):
        history.move(RunState.RUNNING)
    assert history.current == RunState.STOPPING  # a refused change changes nothing
    history.move(RunState.ENDED)
    for state in RunState:
        with pytest.raises(IllegalTransition):
            history.move(state)
    assert [s for _, s in history.changes] == [
        "configured",
        "running",
        "paused",
        "running",
        "stopping",
        "ended",
    ]
