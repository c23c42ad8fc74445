"""``mimocorb validate`` on the ``Alarms`` of a setup: every mistake with file, line, key and what was
expected, before anything starts; a good setup lists its alarms."""

from __future__ import annotations

from pathlib import Path

import support
from alarmkit import write_setup

from mimocorb.config import ConfigError, validate_setup


def validate(path: Path) -> str:
    done = support.run(support.mimocorb_command("validate", path.name), path.parent, timeout=60)
    return done.stdout + done.stderr


def test_a_good_setup_lists_its_alarms_and_the_built_in_ones(project: Path) -> None:
    alarms = """  - no_muons:
      when: "RB_1.rate_hz < 0.5"
      for: 120
      severity: warning
      actions: [log, {webhook: "http://127.0.0.1:9000/hook"}, {email: "lab@example.org"}, stop_run]
  - hot: {when: "temperature > 30 and Fkt_1.cpu > 0.5", actions: [{exec: [notify-send, hot]}]}
  - no_events: off
  - disk_low: {below_gb: 5}"""
    output = validate(write_setup(project, alarms))
    assert "2 alarm(s):" in output, output
    assert (
        "no_muons: RB_1.rate_hz < 0.5 for 120 s (warning; log, webhook http://127.0.0.1:9000/hook, " in output
    )
    assert "hot: temperature > 30 and Fkt_1.cpu > 0.5 for 0 s (warning; exec notify-send hot)" in output
    assert "built-in alarms: buffer_full, disk_low, worker_restarts" in output
    setup = validate_setup(project / "setup.yaml")
    disk = next(a for a in setup.alarms if a.name == "disk_low")
    assert disk.condition == "disk_free_gb < 5.0" and disk.builtin


def test_every_mistake_is_reported_with_line_key_and_expectation(project: Path) -> None:
    alarms = """  - no_muons:
      when: "RB_1.rate_hz < 0.5 or RB_3.fill > 1 or RB_1.rate > 2 or Fkt_7.cpu > 1"
  - bad: {when: "__import__('os').system('ls') > 0"}
  - dsk_low: {below_gb: 3}
  - disk_low: {below_gb: 2, when: "x > 1"}
  - hot: off
  - no_muons: {when: "x > 1"}"""
    output = validate(write_setup(project, alarms))
    when = "setup.yaml:14: Alarms[0].no_muons.when:"
    expected = [
        f"{when} 'RB_3.fill': the setup has no buffer RB_3 (it has RB_1)",
        f"{when} 'RB_1.rate': expected RB_1.<events | rate_hz | fill | deadtime | lost>; did you mean "
        "'RB_1.rate_hz'?",
        f"{when} 'Fkt_7.cpu': the setup has no function Fkt_7 (it has Fkt_1, Fkt_2)",
        "setup.yaml:15: Alarms[1].bad.when: a call at column 1 is not allowed",
        "setup.yaml:16: Alarms[2].dsk_low.below_gb: 'below_gb' belongs to the built-in alarm disk_low",
        "setup.yaml:16: Alarms[2].dsk_low: required key 'when' is missing: a condition such as "
        "'RB_1.rate_hz < 0.5' (or did you mean the built-in alarm 'disk_low'?)",
        "setup.yaml:17: Alarms[3].disk_low.when: the built-in alarm disk_low has no 'when'; expected for, "
        "severity, actions, below_gb",
        "setup.yaml:18: Alarms[4].hot: only the built-in alarms (buffer_full, worker_restarts, disk_low, "
        "no_events) can be turned off",
        "setup.yaml:19: Alarms[5].no_muons: expected each alarm once, found 'no_muons' again",
    ]
    for line in expected:
        assert line in output, f"{line!r} not in\n{output}"
    assert "invalid configuration (9 errors" in output


def test_bad_actions_severities_and_keys_are_refused_by_the_schema(project: Path) -> None:
    alarms = """  - no_muons:
      when: "RB_1.rate_hz < 0.5"
      fro: 120
      severity: warnin
      actions: [lgo, {webhook: "htp://127.0.0.1:9000/hook"}, {email: "lab"}, {sms: "123"}, 3]"""
    output = validate(write_setup(project, alarms))
    actions = "setup.yaml:17: Alarms[0].no_muons.actions"
    expected = [
        "setup.yaml:15: Alarms[0].no_muons.fro: unknown key; did you mean 'for'?",
        "setup.yaml:16: Alarms[0].no_muons.severity: expected 'info', 'warning' or 'error', found 'warnin'",
        f"{actions}[0]: expected 'log', 'pause_run' or 'stop_run', found 'lgo'",
        f"{actions}[1]: expected webhook: an http:// or https:// URL, found 'htp://127.0.0.1:9000/hook'",
        f"{actions}[2]: expected email: an address such as lab@example.org, found 'lab'",
        f"{actions}[3].sms: expected 'webhook', 'email' or 'exec'",
        f"{actions}[4]: expected log, pause_run, stop_run or a mapping "
        "{webhook: URL}, {email: ADDRESS}, {exec: COMMAND}, found 3",
    ]
    for line in expected:
        assert line in output, f"{line!r} not in\n{output}"


def test_validation_errors_come_as_config_errors_from_python_too(project: Path) -> None:
    write_setup(project, '  - x: {when: "RB_2.events > 1"}')
    try:
        validate_setup(project / "setup.yaml")
    except ConfigError as error:
        assert [i.key_path for i in error.issues if i.severity == "error"] == ["Alarms[0].x.when"]
    else:
        raise AssertionError("a condition on a buffer the setup does not have was accepted")
