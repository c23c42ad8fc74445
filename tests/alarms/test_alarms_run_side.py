"""The run's side of the alarms (``run/alarms.py``) sample by sample, with given times: what it says,
what it asks the run to do, and the variables no sample ever had."""

from __future__ import annotations

import multiprocessing

from mimocorb.alarms import Action, AlarmSpec, ConditionTest, parse
from mimocorb.run.alarms import UNSEEN_AFTER, RunAlarms
from mimocorb.run.states import RunState


class Recorder:
    """The run's verbs as the alarms call them, and its state."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.calls: list[str] = []
        self.state = RunState.RUNNING

    def alarms(self, *specs: AlarmSpec) -> RunAlarms:
        return RunAlarms(
            specs,
            multiprocessing.get_context(),
            None,
            lambda text, level: self.notes.append(text),
            pause=lambda: self.calls.append("pause"),
            stop=lambda reason: self.calls.append(f"stop: {reason}"),
            state=lambda: self.state,
        )


def spec(name: str, when: str, *actions: str) -> AlarmSpec:
    return AlarmSpec(name, ConditionTest(parse(when)), 0.0, "warning", tuple(Action(a) for a in actions))


def test_variables_no_sample_had_are_reported_once_after_some_time_of_running() -> None:
    run = Recorder()
    alarms = run.alarms(spec("hot", "temperature > 30 or RB_1.fill > 2"))
    alarms.take({"RB_1.fill": 0.5}, 100.0)
    run.state = RunState.PAUSED
    alarms.take({"RB_1.fill": 0.5}, 100.0 + 10 * UNSEEN_AFTER)  # paused: not counted
    run.state = RunState.RUNNING
    alarms.take({"RB_1.fill": 0.5}, 100.0 + UNSEEN_AFTER + 1)
    alarms.take({"RB_1.fill": 0.5}, 100.0 + UNSEEN_AFTER + 2)
    warning = "WARNING: alarms: no value so far for temperature; conditions reading them cannot be raised"
    assert run.notes == [warning]


def test_the_verbs_and_the_acknowledgements() -> None:
    run = Recorder()
    alarms = run.alarms(
        spec("full", "RB_1.fill >= 1", "pause_run"), spec("dead", "RB_1.lost > 0", "stop_run")
    )
    alarms.acknowledge("")
    alarms.take({"RB_1.fill": 1.0, "RB_1.lost": 0}, 1.0)
    assert run.calls == ["pause"] and alarms.holding_pause() is not None
    run.state = RunState.PAUSED
    alarms.acknowledge("dead")
    alarms.acknowledge("full")
    assert alarms.holding_pause() is None
    run.state = RunState.RUNNING
    alarms.take({"RB_1.fill": 0.2, "RB_1.lost": 3}, 2.0)
    assert run.calls == ["pause", "stop: alarm dead"]
    assert run.notes == [
        "A ignored: no raised alarm waits for acknowledgement",
        "ALARM full raised (warning): RB_1.fill >= 1 [RB_1.fill = 1]",
        "run paused by alarm full; A full acknowledges it, then R resumes",
        "A ignored: no raised alarm named 'dead' waits for acknowledgement",
        "alarm acknowledged: full",
        "alarm full cleared (warning): RB_1.fill >= 1 [RB_1.fill = 0.2]",
        "ALARM dead raised (warning): RB_1.lost > 0 [RB_1.lost = 3]",
        "alarm dead: stopping the run",
    ]
    summary = alarms.summary()
    assert [(e["alarm"], e["state"]) for e in summary["events"]] == [
        ("full", "raised"),
        ("full", "cleared"),
        ("dead", "raised"),
    ]
    assert summary["alarms"][0] == {
        "name": "full",
        "condition": "RB_1.fill >= 1",
        "for_s": 0.0,
        "severity": "warning",
        "actions": ["pause_run"],
        "builtin": False,
    }
    alarms.close()
    assert alarms.link is None  # no action needed a process
