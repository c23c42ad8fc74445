"""Alarms in real runs: a simulated source that stops and resumes, webhooks to a server in the test, the
acknowledge, pause and stop actions through the keyboard pipe, the history database."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import support
from alarmkit import Run, alarm_events, hook_server, smtp_server, write_setup

from mimocorb.alarms.record import alarm_rows

pytestmark = pytest.mark.slow
NO_MUONS = """  - no_muons:
      when: "RB_1.rate_hz < 0.5"
      for: 2
      actions: [log, {webhook: "%s"}]
  - no_events: off"""


def sink_count(project: Path) -> int:
    return json.loads((project / "count.json").read_text())


def test_a_source_that_stops_raises_the_alarm_after_its_time_and_clears_it_when_it_resumes(
    project: Path,
) -> None:
    with hook_server() as hook:
        write_setup(project, NO_MUONS % hook.url)
        run = Run(project)
        run.wait_for_log("workers started")
        support.wait_until(lambda: support.events_in_stats(run.run_dir) > 20, 60.0, "events flowing")
        quiet_since = time.time()
        (project / "quiet").touch()
        raised = support.wait_until(hook.bodies, 60.0, "the webhook of the raised alarm")[0]
        (project / "quiet").unlink()
        support.wait_until(lambda: len(hook.bodies()) == 2, 60.0, "the webhook of the cleared alarm")
        output = run.end()
        cleared = hook.bodies()[1]
    assert raised["time"] - quiet_since >= 2.0, "raised before the condition held for 2 s"
    assert raised["alarm"] == "no_muons" and raised["state"] == "raised" and raised["severity"] == "warning"
    assert raised["condition"] == "RB_1.rate_hz < 0.5" and raised["value"] < 0.5
    assert raised["run_directory"] == str(run.run_dir.resolve())
    assert cleared["state"] == "cleared" and cleared["value"] >= 0.5 and cleared["time"] > raised["time"]
    assert "ALARM no_muons raised (warning): RB_1.rate_hz < 0.5 [RB_1.rate_hz = " in output
    log = run.log()
    assert "ALARM no_muons raised (warning)" in log and "alarm no_muons cleared (warning)" in log
    summary = support.summary(run.run_dir)
    assert alarm_events(run.run_dir) == [("no_muons", "raised"), ("no_muons", "cleared")]
    assert summary["alarms"]["active_at_end"] == [] and summary["exit_code"] == 0
    assert summary["events"] == sink_count(project)
    rows = alarm_rows(project / "target", run.run_dir.name)
    assert [(r["alarm"], r["state"]) for r in rows] == [("no_muons", "raised"), ("no_muons", "cleared")]


def test_a_webhook_nobody_answers_does_not_disturb_the_run(project: Path) -> None:
    with socket.socket() as refusing, socket.socket() as silent:
        refusing.bind(("127.0.0.1", 0))
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # takes connections and never answers
        alarms = f"""  - always:
      when: "RB_1.events >= 0"
      actions: [{{webhook: "http://127.0.0.1:{refusing.getsockname()[1]}/"}},
                {{webhook: "http://127.0.0.1:{silent.getsockname()[1]}/"}}]"""
        write_setup(project, alarms, runtime=8)
        done = support.run(support.mimocorb_command("run", "setup.yaml", "--no-kbd"), project, 90.0)
    run_dir = support.only_run_dir(project / "target")
    summary = support.summary(run_dir)
    assert done.returncode == 0 and summary["end_reason"] == "runtime", done.stdout
    log = support.read_log(run_dir)
    assert "alarm always (raised): webhook failed: [Errno 111] Connection refused; the run goes on" in log
    assert "alarm always (raised): webhook failed: TimeoutError: timed out; the run goes on" in log
    assert summary["events"] == sink_count(project) > 0 and summary["buffers"]["RB_1"]["lost"] == 0
    assert [row["state"] for row in support.stats_rows(run_dir)].count("running") >= 2


def test_an_alarm_mail_reaches_the_smtp_server_and_no_secret_reaches_the_run_directory(
    project: Path,
) -> None:
    secret = "pw-that-must-not-leak"
    write_setup(project, '  - started: {when: "RB_1.events > 10", actions: [{email: "lab@example.org"}]}', 4)
    with smtp_server() as (port, received):
        env = {"MIMOCORB_SMTP_HOST": "127.0.0.1", "MIMOCORB_SMTP_PORT": str(port)}
        env["MIMOCORB_SMTP_PASSWORD"] = secret  # no user: not used, but in the environment of the run
        done = support.run(
            support.mimocorb_command("run", "setup.yaml", "--no-kbd"),
            project,
            90.0,
            env=support.child_env(env),
        )
        assert done.returncode == 0, done.stdout
        support.wait_until(lambda: received, 30.0, "the alarm's mail")
    assert received[0]["Subject"] == "[mimocorb] alarm started raised (warning)"
    assert "lab@example.org" in received[0]["To"]
    run_dir = support.only_run_dir(project / "target")
    assert "alarm started (raised): email: mail sent to lab@example.org" in support.read_log(run_dir)
    for file in run_dir.rglob("*"):
        assert not file.is_file() or secret.encode() not in file.read_bytes(), file
    assert secret not in done.stdout


def test_pause_run_holds_the_run_until_the_alarm_is_acknowledged_and_stop_run_ends_it(
    project: Path,
) -> None:
    alarms = """  - many: {when: "RB_1.events > 30", actions: [log, pause_run], severity: info}
  - more: {when: "RB_1.events > 400", actions: [stop_run], severity: error}"""
    write_setup(project, alarms)
    run = Run(project)
    run.wait_for_log("run paused by alarm many; A many acknowledges it, then R resumes")
    run.command("R")
    run.wait_for_log("R refused: alarm many holds the run paused; A many acknowledges it, then R resumes")
    run.command("A nothing")
    run.wait_for_log("A ignored: no raised alarm named 'nothing' waits for acknowledgement")
    run.command("A many")
    run.wait_for_log("alarm acknowledged: many")
    run.command("R")
    run.wait_for_log("alarm more: stopping the run")
    output = support.finish(run.proc, 60.0)
    summary = support.summary(run.run_dir)
    assert summary["end_reason"] == "alarm more", output
    assert alarm_events(run.run_dir) == [("many", "raised"), ("more", "raised")]
    assert [s for _, s in summary["states"]].count("paused") == 1
    assert summary["events"] == sink_count(project) > 400
    assert summary["alarms"]["active_at_end"][0]["acknowledged"] is True


def test_the_built_in_alarm_of_a_buffer_full_for_too_long(project: Path) -> None:
    write_setup(project, "  - buffer_full: {for: 1, severity: error}", runtime=5, slots=4, sink_sleep=0.05)
    done = support.run(support.mimocorb_command("run", "setup.yaml", "--no-kbd"), project, 90.0)
    run_dir = support.only_run_dir(project / "target")
    assert done.returncode == 0, done.stdout
    assert ("buffer_full:RB_1", "raised") in alarm_events(run_dir)
    assert "ALARM buffer_full:RB_1 raised (error): RB_1.fill >= 1 [RB_1.fill = 1]" in done.stdout
    assert support.summary(run_dir)["events"] == sink_count(project)


def test_the_built_in_alarm_of_a_worker_restarting_again_and_again(project: Path) -> None:
    setup = write_setup(
        project, "  - worker_restarts: {restarts: 2, within: 600}\n  - no_events: off", runtime=6
    )
    text = setup.read_text().replace(
        "fkt_name: counting_sink, num_process: 1,",
        "fkt_name: failing_sink, num_process: 1, on_error: restart,",
    )
    text = text.replace(
        "  counting_sink: {",
        f"  failing_sink: {{marks: {project / 'mark'}, fail_times: 2}}\n  counting_sink: {{",
    )
    setup.write_text(text)
    done = support.run(support.mimocorb_command("run", "setup.yaml", "--no-kbd"), project, 90.0)
    run_dir = support.only_run_dir(project / "target")
    assert done.returncode == 0, done.stdout
    assert alarm_events(run_dir) == [("worker_restarts:Fkt_2", "raised")]
    assert (
        "ALARM worker_restarts:Fkt_2 raised (warning): Fkt_2.restarts grew by 2 within 600 s" in done.stdout
    )
