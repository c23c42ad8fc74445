"""The series file on its own: the steps a list, a grid and both stand for, ranges, the failure policy,
key paths, and the problems found in it (no runs here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from serieskit import project

from mimocorb.config import ConfigError
from mimocorb.series import Policy, load_series
from mimocorb.series.keys import parse_key, set_value


def steps_of(tmp_path: Path, text: str) -> list[tuple[dict, float | None, int | None]]:
    series = load_series(project(tmp_path, "setup: pulses_setup.yaml\n" + text), tmp_path)
    assert [s.number for s in series.steps] == list(range(1, len(series.steps) + 1))
    return [(s.record()["overrides"], s.runtime, s.runevents) for s in series.steps]


def test_a_range_includes_its_end_and_keeps_decimals_as_written(tmp_path: Path) -> None:
    found = steps_of(tmp_path, "scan: {trigger.yaml: {threshold: {from: 0.1, to: 0.5, step: 0.1}}}\n")
    assert [o["trigger.yaml threshold"] for o, _, _ in found] == [0.1, 0.2, 0.3, 0.4, 0.5]
    down = steps_of(tmp_path, "scan: {trigger.yaml: {threshold: {from: 100, to: 10, step: -30}}}\n")
    assert [o["trigger.yaml threshold"] for o, _, _ in down] == [100, 70, 40, 10]


def test_a_grid_is_every_combination_with_the_first_key_slowest(tmp_path: Path) -> None:
    found = steps_of(
        tmp_path,
        """\
runtime: 2
scan:
  trigger.yaml:
    threshold: [10, 20]
  pulses_setup.yaml:
    FunctionConfigs.pulse_source.sleep: [0.001, 0.002, 0.004]
""",
    )
    assert [
        (o["trigger.yaml threshold"], o["pulses_setup.yaml FunctionConfigs.pulse_source.sleep"])
        for o, _, _ in found
    ] == [
        (10, 0.001),
        (10, 0.002),
        (10, 0.004),
        (20, 0.001),
        (20, 0.002),
        (20, 0.004),
    ]
    assert {(runtime, runevents) for _, runtime, runevents in found} == {(2.0, None)}


def test_listed_steps_have_their_own_limits_and_run_at_every_point_of_a_scan(tmp_path: Path) -> None:
    found = steps_of(
        tmp_path,
        """\
runevents: 500
steps:
  - trigger.yaml: {fail: false}
  - trigger.yaml: {fail: true}
    runtime: 3
scan:
  trigger.yaml:
    threshold: [10, 20]
""",
    )
    assert found == [
        ({"trigger.yaml fail": False, "trigger.yaml threshold": 10}, None, 500),
        ({"trigger.yaml fail": False, "trigger.yaml threshold": 20}, None, 500),
        ({"trigger.yaml fail": True, "trigger.yaml threshold": 10}, 3.0, 500),
        ({"trigger.yaml fail": True, "trigger.yaml threshold": 20}, 3.0, 500),
    ]


@pytest.mark.parametrize(
    ("given", "policy"),
    [
        ("", Policy(0, "stop")),
        ("on_failure: skip\n", Policy(0, "skip")),
        ("on_failure: {retry: 2}\n", Policy(2, "stop")),
    ],
)
def test_the_failure_policy(tmp_path: Path, given: str, policy: Policy) -> None:
    series = load_series(project(tmp_path, f"setup: pulses_setup.yaml\n{given}steps: [{{}}]\n"), tmp_path)
    assert series.policy == policy


def test_every_problem_of_the_file_is_named_with_its_line(tmp_path: Path) -> None:
    text = """\
setup: no_such_setup.yaml
runtime: -1
on_failure: {retry: 1, then: go_on}
scna: {}
scan:
  trigger.yaml:
    threshold: {from: 10, to: 100, step: 0}
    "a..b": [1]
"""
    with pytest.raises(ConfigError) as caught:
        load_series(project(tmp_path, text, name="bad.yaml"), tmp_path)
    assert [str(issue).split(": ", 2)[:2] for issue in caught.value.issues] == [
        [f"{tmp_path / 'bad.yaml'}:1", "setup"],
        [f"{tmp_path / 'bad.yaml'}:2", "runtime"],
        [f"{tmp_path / 'bad.yaml'}:3", "on_failure.then"],
        [f"{tmp_path / 'bad.yaml'}:4", "scna"],
        [f"{tmp_path / 'bad.yaml'}:7", "scan.trigger.yaml.threshold"],
        [f"{tmp_path / 'bad.yaml'}:8", "scan.trigger.yaml.a..b"],
    ]
    assert "did you mean 'scan'?" in str(caught.value)
    assert "expected numbers with a step that leads from 10 to 100, found step 0" in str(caught.value)


def test_key_paths_name_list_items_by_position_or_by_name() -> None:
    assert parse_key("Functions[2].Fkt_2.num_process") == ["Functions", 2, "Fkt_2", "num_process"]
    assert parse_key("a..b") is None and parse_key("a[1]b") is None
    data = {"Functions": [{"Fkt_main": {}}, {"Fkt_1": {"num_process": 1}}], "RingBuffer": []}
    assert set_value(data, "Functions.Fkt_1.num_process", 3) is None
    assert set_value(data, "Functions[1].Fkt_1.num_process", 4) is None
    assert data["Functions"][1]["Fkt_1"]["num_process"] == 4
    assert "did you mean 'Fkt_1'?" in str(set_value(data, "Functions.Fkt_11.num_process", 2))
    assert "no key 'num_proces': did you mean 'num_process'?" in str(
        set_value(data, "Functions.Fkt_1.num_proces", 2)
    )


def test_a_grid_too_large_to_be_meant_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    axes = "\n".join(f"    key{k}: {{from: 1, to: 1000, step: 1}}" for k in range(3))
    with pytest.raises(ConfigError, match=r"scan: 1000000000 steps; expected at most 10000"):
        load_series(
            project(tmp_path, f"setup: pulses_setup.yaml\nscan:\n  trigger.yaml:\n{axes}\n"), tmp_path
        )


def test_a_key_both_listed_and_scanned_is_refused(tmp_path: Path) -> None:
    text = "setup: pulses_setup.yaml\nsteps:\n  - trigger.yaml: {threshold: 5}\n"
    text += "scan:\n  trigger.yaml: {threshold: [1, 2]}\n"
    with pytest.raises(ConfigError, match=r"bad.yaml:3: steps.trigger.yaml.threshold: set by scan as well"):
        load_series(project(tmp_path, text, name="bad.yaml"), tmp_path)
