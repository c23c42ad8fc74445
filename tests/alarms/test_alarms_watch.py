"""Debounce, raise, clear, acknowledge and the built-in tests, sample by sample with given times."""

from __future__ import annotations

from mimocorb.alarms import Action, AlarmSpec, AlarmWatch, ConditionTest, builtin_alarms, parse
from mimocorb.alarms.watch import CLEARED, RAISED


def alarm(text: str, hold: float, *actions: str, while_paused: bool = False) -> AlarmSpec:
    kinds = tuple(Action(a) for a in actions) or (Action("log"),)
    return AlarmSpec("low", ConditionTest(parse(text)), hold, "warning", kinds, while_paused)


def states(watch: AlarmWatch, samples: list[tuple[float, dict]], running: bool = True) -> list[tuple]:
    """(time, state) of every change over the samples."""
    out = []
    for now, values in samples:
        out += [(now, event.state) for _, event in watch.evaluate(values, now, running)]
    return out


def test_an_alarm_is_raised_only_after_its_condition_held_for_its_time_and_cleared_at_once() -> None:
    watch = AlarmWatch([alarm("rate < 0.5", 10.0)])
    rates = [(0, 5), (1, 0.1), (5, 0.1), (8, 2.0), (9, 0.1), (15, 0.1), (19, 0.1), (20, 0.2), (21, 3)]
    changes = states(watch, [(float(t), {"rate": r}) for t, r in rates])
    assert changes == [(19.0, RAISED), (21.0, CLEARED)]  # the dip at 1..5 was too short
    raised = watch.events[0]
    assert raised.values == {"rate": 0.1} and raised.condition == "rate < 0.5" and raised.value == 0.1
    assert raised.message() == "ALARM low raised (warning): rate < 0.5 [rate = 0.1]"


def test_an_unknown_value_neither_raises_nor_clears() -> None:
    watch = AlarmWatch([alarm("temperature > 30", 0.0)])
    changes = states(watch, [(0.0, {}), (1.0, {"temperature": 35}), (2.0, {}), (3.0, {"temperature": 20})])
    assert changes == [(1.0, RAISED), (3.0, CLEARED)]
    assert watch.unseen() == []
    assert AlarmWatch([alarm("pressure > 1", 0.0)]).unseen() == ["pressure"]


def test_while_paused_only_the_alarms_meant_for_it_are_tested_and_the_others_start_anew() -> None:
    low = alarm("rate < 0.5", 2.0)
    disk = AlarmSpec("disk", ConditionTest(parse("free < 1")), 0.0, "error", (Action("pause_run"),), True)
    watch = AlarmWatch([low, disk])
    assert states(watch, [(0.0, {"rate": 0, "free": 5}), (1.5, {"rate": 0, "free": 5})]) == []
    assert states(watch, [(3.0, {"rate": 0, "free": 0.5})], running=False) == [(3.0, RAISED)]
    assert [e.alarm for e in watch.events] == ["disk"]  # "low" would have been due at 2.0 s
    assert states(watch, [(4.0, {"rate": 0, "free": 0.5}), (5.0, {"rate": 0, "free": 0.5})]) == []
    assert states(watch, [(6.0, {"rate": 0, "free": 0.5})]) == [(6.0, RAISED)]  # 2 s after the pause


def test_acknowledging_releases_what_an_alarm_holds_until_it_is_raised_again() -> None:
    spec = alarm("free < 1", 0.0, "log", "pause_run")
    watch = AlarmWatch([spec])
    states(watch, [(0.0, {"free": 0.5})])
    assert watch.holding("pause_run") == ["low"]
    assert watch.acknowledge("other") == []
    assert watch.acknowledge("low") == ["low"] and watch.acknowledge() == []
    assert watch.holding("pause_run") == [] and watch.active()[0]["acknowledged"] is True
    states(watch, [(1.0, {"free": 2}), (2.0, {"free": 0.5})])
    assert watch.holding("pause_run") == ["low"]  # raised anew: acknowledged no more


def test_the_built_in_alarms_follow_the_setup_and_watch_what_they_say() -> None:
    specs = builtin_alarms(
        {"no_events": {"for": 5.0}, "buffer_full": None, "worker_restarts": {"restarts": 2, "within": 10}},
        ["RB_1", "RB_2"],
        "RB_1",
        ["Fkt_1", "Fkt_2"],
    )
    names = [s.name for s in specs]
    assert names == ["worker_restarts:Fkt_1", "worker_restarts:Fkt_2", "disk_low", "no_events"]
    disk = specs[2]
    assert disk.condition == "disk_free_gb < 1.0" and disk.has("pause_run") and disk.while_paused
    watch = AlarmWatch(specs)
    samples = [
        (0.0, {"RB_1.events": 10, "Fkt_1.restarts": 0, "Fkt_2.restarts": 0, "disk_free_gb": 50}),
        (3.0, {"RB_1.events": 10, "Fkt_1.restarts": 1, "Fkt_2.restarts": 0, "disk_free_gb": 50}),
        (8.0, {"RB_1.events": 10, "Fkt_1.restarts": 1, "Fkt_2.restarts": 0, "disk_free_gb": 0.9}),
        (9.0, {"RB_1.events": 12, "Fkt_1.restarts": 2, "Fkt_2.restarts": 1, "disk_free_gb": 0.9}),
        (30.0, {"RB_1.events": 20, "Fkt_1.restarts": 3, "Fkt_2.restarts": 1, "disk_free_gb": 3}),
    ]
    changes = []
    for now, values in samples:
        changes += [(now, e.alarm, e.state) for _, e in watch.evaluate(values, now)]
    assert changes == [
        (8.0, "disk_low", RAISED),
        (8.0, "no_events", RAISED),  # no new events from 0 s to 8 s, 5 s needed
        (9.0, "worker_restarts:Fkt_1", RAISED),  # 0 -> 2 within 10 s
        (9.0, "no_events", CLEARED),
        (30.0, "worker_restarts:Fkt_1", CLEARED),  # one restart in the last 10 s
        (30.0, "disk_low", CLEARED),
    ]
