"""The dashboard of real runs: `python -m mimocorb run ... --web` in a child process, watched and steered
through its page in a real browser and through the API, its server killed mid-run, and the setup key
``web``."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from support import finish, mimocorb_command, read_log, run, run_dirs, start, summary, wait_until
from webkit import (
    INJECTION,
    PICTURE_LOADED,
    TOKEN,
    DashboardRun,
    assert_no_injection,
    command,
    not_blank,
    tick_setup,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
FALLBACK = ("--runtime", "60")  # runs ended by a command still end by themselves if the test goes wrong
SAID = f"worker says {INJECTION}"


def states(run_dir: Path) -> list[str]:
    return [state for _, state in summary(run_dir)["states"]]


def assert_ended_cleanly(run: DashboardRun, end_reason: str) -> dict[str, Any]:
    facts = summary(run.run_dir)
    assert run.proc.returncode == 0
    assert facts["end_reason"] == end_reason and facts["clean"] and facts["exit_code"] == 0
    assert facts["failures"] == [] and facts["buffers"]["RB_1"]["lost"] == 0
    return facts


@pytest.mark.browser
def test_the_page_shows_a_real_run_and_steers_it(page: Any, tmp_path: Path) -> None:
    run = DashboardRun(tmp_path, tick_setup(tmp_path, say=SAID), *FALLBACK)
    page.goto(run.url)
    page.locator("#buffers tbody tr").first.wait_for()
    assert page.inner_text("#buffers tbody tr td >> nth=0") == "RB_1"
    first = int(page.inner_text("#events"))
    wait_until(lambda: int(page.inner_text("#events")) > first, 20.0, "growing counts on the page")
    assert page.inner_text("#state") == "running"
    # the worker's line, markup and all, arrives in the log as text
    wait_until(lambda: SAID in page.inner_text("#log"), 20.0, "the worker's line in the page's log")
    assert not_blank(page.screenshot(full_page=True))

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#btn-end")  # dismissed: nothing is sent, so the Pause after it is the next command
    page.click("#btn-pause")
    paused = run.wait_for_state("paused")
    assert paused["end_reason"] is None
    wait_until(lambda: page.inner_text("#state") == "paused", 20.0, "the paused state on the page")
    assert page.is_enabled("#btn-resume") and not page.is_enabled("#btn-pause")
    page.click("#btn-resume")
    run.wait_for_state("running")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#btn-end")
    # the last snapshot comes after run_summary.json, and the server lingers for the page to fetch it
    wait_until(
        lambda: "end command" in page.inner_text("#run-summary"), 20.0, "the run's summary on the page"
    )
    assert "run_summary.json" in page.inner_text("#run-files")
    wait_until(lambda: page.evaluate(PICTURE_LOADED), 20.0, "the run's rates.png on the page")
    output = run.finish()
    facts = assert_ended_cleanly(run, "end command")
    assert facts["pauses"] == 1
    assert states(run.run_dir)[:5] == ["configured", "running", "paused", "running", "stopping"]
    log = read_log(run.run_dir)
    assert [line.split("command ")[1] for line in log.splitlines() if " from web" in line] == [
        "P (pause) from web",
        "R (resume) from web",
        "E (end) from web",
    ]
    assert f"Dashboard: {run.url}" in output and TOKEN not in log
    wait_until(lambda: page.inner_text("#connection") == "server ended", 20.0, "the page to see the end")
    assert_no_injection(page)
    assert page.errors == [], page.errors


def test_a_killed_server_is_reported_and_the_run_ends_cleanly(tmp_path: Path) -> None:
    run = DashboardRun(tmp_path, tick_setup(tmp_path), "--runtime", "5")
    events = wait_until(lambda: run.status()["events"], 20.0, "events on the dashboard")
    os.kill(run.server_pid, signal.SIGKILL)
    output = run.finish()
    warning = "WARNING: web: the dashboard server is gone (killed by SIGKILL); the run goes on"
    assert output.count(warning) == 1, output
    assert read_log(run.run_dir).count(warning) == 1
    facts = assert_ended_cleanly(run, "runtime")
    assert facts["events"] > events and facts["active_time_s"] >= 5.0


def test_commands_from_the_api_need_the_token(tmp_path: Path) -> None:
    run = DashboardRun(tmp_path, tick_setup(tmp_path), *FALLBACK)
    run.wait_for_state("running")
    assert command(run.base, "pause", None) == 401
    assert command(run.base, "pause", "not-the-token") == 403
    refused = time.time()
    later = wait_until(
        lambda: (s := run.status())["time"] > refused + 1.0 and s, 20.0, "snapshots after the refusals"
    )
    assert later["state"] == "running"

    assert command(run.base, "pause", TOKEN) == 202
    run.wait_for_state("paused")
    assert command(run.base, "stop", TOKEN) == 202
    run.wait_for_state("stopped")  # with a dashboard up, a stopped run waits for End
    assert command(run.base, "end", TOKEN) == 202
    run.finish()
    facts = assert_ended_cleanly(run, "stop command")
    assert facts["pauses"] == 1
    assert states(run.run_dir)[1:5] == ["running", "paused", "stopped", "stopping"]
    assert read_log(run.run_dir).count(" from web") == 3  # the refused commands never reached the run


def test_the_setup_key_web_starts_the_dashboard(tmp_path: Path) -> None:
    setup = tick_setup(tmp_path, web="0")
    result = run(mimocorb_command("run", str(setup), "--runtime", "1", "--no-kbd"), tmp_path)
    assert result.returncode == 0, result.stdout
    url = re.search(r"Dashboard: http://127\.0\.0\.1:(\d+)/\?token=(\S+)", result.stdout)
    assert url is not None, result.stdout
    assert int(url.group(1)) > 0  # port 0: the one the OS picked
    (run_dir,) = run_dirs(tmp_path / "target")
    log = read_log(run_dir)
    assert f"web: dashboard at http://127.0.0.1:{url.group(1)}/ (server pid " in log
    assert url.group(2) not in log


def test_a_taken_port_costs_the_dashboard_not_the_run(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        command = mimocorb_command(
            "run", str(tick_setup(tmp_path)), "--runtime", "1", "--no-kbd", "--web", address
        )
        result = run(command, tmp_path)
    assert result.returncode == 0, result.stdout
    assert "web: the dashboard could not be started: OSError:" in result.stdout
    assert "Dashboard:" not in result.stdout
    (run_dir,) = run_dirs(tmp_path / "target")
    assert summary(run_dir)["end_reason"] == "runtime" and summary(run_dir)["clean"]


@pytest.mark.parametrize("verb", ["validate", "run"])
def test_a_malformed_web_key_is_refused_before_anything_starts(tmp_path: Path, verb: str) -> None:
    setup = tick_setup(tmp_path, name="bad_web.yaml", web='"nonsense:port"')
    line = setup.read_text(encoding="utf-8").splitlines().index('web: "nonsense:port"') + 1
    result = run(mimocorb_command(verb, str(setup)), tmp_path)
    assert result.returncode != 0
    expected = f"bad_web.yaml:{line}: web: expected [ADDRESS:]PORT with a port number 0 ... 65535, found"
    assert f"{expected} 'nonsense:port'\n" in result.stdout, result.stdout
    assert not (tmp_path / "target").exists() and "workers started" not in result.stdout


def test_the_dashboard_of_a_run_fed_over_the_network_shows_its_link(tmp_path: Path) -> None:
    """A receiving run with its dashboard: /api/status has the link (its peer, its events) while events
    come from a serving run on loopback."""
    pytest.importorskip("zmq", reason="linked runs need pyzmq (pip install mimocorb[net])")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    serving, receiving = tmp_path / "a", tmp_path / "b"
    for directory in (serving, receiving):
        directory.mkdir()
    text = tick_setup(serving).read_text(encoding="utf-8")
    rb_1 = "data_type: {1: [value, int64]}"
    sink_line = next(line for line in text.splitlines() if "tick_sink, num_process" in line)
    served = text.replace(rb_1, f"{rb_1}, serve: '{address}'").replace(sink_line + "\n", "")
    (serving / "ticks.yaml").write_text(served, encoding="utf-8")
    source_line = next(line for line in text.splitlines() if "tick_source, num_process" in line)
    fed = text.replace(rb_1, f"{rb_1}, connect: '{address}'").replace(source_line + "\n", "")
    (receiving / "ticks.yaml").write_text(fed.replace("Fkt_2:", "Fkt_1:"), encoding="utf-8")
    receiver = DashboardRun(receiving, receiving / "ticks.yaml", *FALLBACK)
    server = start(mimocorb_command("run", "ticks.yaml", "--runtime", "3", "--no-kbd"), serving)

    def link() -> dict[str, Any] | None:
        links = [r for r in receiver.status()["links"] if r["role"] == "connect"]
        return links[0] if links and links[0]["events_acked"] > 0 else None

    shown = wait_until(link, 30.0, "the link with events in /api/status")
    assert shown["peer"] == address and shown["state"] == "connected" and shown["buffer"] == "RB_1"
    out = finish(server, 60.0)
    assert server.returncode == 0, out
    receiver.finish()
    facts = assert_ended_cleanly(receiver, "source exhausted")
    assert facts["links"][0]["events_acked"] >= shown["events_acked"]
