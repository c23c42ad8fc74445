"""The web server as a process: live status, commands and their refusal, views, access off loopback, a
killed server, and the run browser of `mimocorb serve` (real processes, sockets and run directories)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from support import wait_until
from webkit import INJECTION, LiveRun, Served, command, get_json, request

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def live(request: pytest.FixtureRequest):
    run = LiveRun(getattr(request, "param", "fork"))
    try:
        yield run
    finally:
        run.close()


@pytest.mark.parametrize("live", ["fork", "spawn"], indirect=True)
def test_status_follows_the_run_and_commands_need_the_token(live: LiveRun) -> None:
    live.link.log(f"a line {INJECTION}", "Fkt_1")
    live.run_for(0.5)
    first = get_json(live.base + "/api/status")
    assert first["state"] == "running" and [b["name"] for b in first["buffers"]] == ["RB_1"]
    assert {"name", "events", "rate_hz", "fill", "slots", "deadtime", "consumers"} <= set(first["buffers"][0])
    assert [w["name"] for w in first["workers"]] == ["write_events", f"reader {INJECTION}"]
    later = live.until(
        lambda: (
            (s := get_json(live.base + "/api/status"))["buffers"][0]["events"] > first["buffers"][0]["events"]
            and s
        ),
        10.0,
        "growing event counts",
    )
    assert later["active_time"] > first["active_time"]

    # refused: no token, a wrong one, a bad command; nothing reaches the owner
    assert command(live.base, "pause", None) == 401
    assert command(live.base, "pause", "wrong") == 403
    assert command(live.base, "dance", live.link.token) == 400
    status, _ = request(
        live.base + "/api/command", "POST", b"not json", {"Authorization": f"Bearer {live.link.token}"}
    )
    assert status == 400
    live.run_for(0.5)
    assert live.commands == []

    for word, letter in (("pause", "P"), ("resume", "R"), ("stop", "S"), ("end", "E")):
        assert command(live.base, word, live.link.token) == 202
        live.until(lambda letter=letter: letter in live.commands, 5.0, f"{word} through commands()")
    assert live.commands == ["P", "R", "S", "E"]

    log = get_json(live.base + "/api/log")
    assert any(line["text"] == f"a line {INJECTION}" and line["source"] == "Fkt_1" for line in log)
    # a page of another site whose name points at 127.0.0.1 (DNS rebinding) reads nothing
    assert request(live.base + "/api/status", headers={"Host": f"evil.example:{live.link.port}"})[0] == 403
    schema = get_json(live.base + "/api/openapi.json")
    assert {"/api/status", "/api/command", "/api/events", "/api/runs"} <= set(schema["paths"])


def test_views_are_fed_by_the_observer(live: LiveRun) -> None:
    def both_views() -> dict | None:
        views = get_json(live.base + "/api/views")
        data = {v["id"]: v for v in views["views"]}
        return views if len(data) == 2 and data["v1"]["histograms"][0]["entries"] >= 20 else None

    views = live.until(both_views, 15.0, "scope and histogram data")
    scope_layout, hist_layout = views["layouts"]
    assert scope_layout["kind"] == "scope" and scope_layout["title"] == "Scope <b>of</b> RB_1"
    assert scope_layout["trigger"] == pytest.approx(40.0)
    data = {v["id"]: v for v in views["views"]}
    trace = data["v0"]["traces"]["chA"]
    assert len(trace) == len(scope_layout["x"]) and max(trace) <= 100.0 + 1e-6 and min(trace) >= -100.0 - 1e-6
    counts = data["v1"]["histograms"][0]["counts"]
    assert len(counts) == len(hist_layout["histograms"][0]["edges"]) - 1 == 10
    assert sum(counts) == data["v1"]["histograms"][0]["entries"]


def test_off_loopback_every_endpoint_needs_the_token() -> None:
    run = LiveRun(host="0.0.0.0")
    try:
        token = run.link.token
        run.run_for(0.3)
        for path in ("/", "/static/app.js", "/api/status", "/api/events", "/api/runs"):
            assert request(run.base + path)[0] == 401, path
            assert request(run.base + path, headers={"Authorization": "Bearer nope"})[0] == 403, path
        assert request(run.base + "/api/status", headers={"Authorization": f"Bearer {token}"})[0] == 200
        status, body = request(run.base + f"/api/status?token={token}")
        assert status == 200 and json.loads(body)["buffers"][0]["name"] == "RB_1"
        assert "token=" in run.url and run.url.startswith("http://localhost:")
    finally:
        run.close()


def test_the_page_gets_the_run_controllers_command_table_with_the_same_access_rules() -> None:
    from mimocorb.run.commands import as_json

    run = LiveRun(host="0.0.0.0")
    try:
        assert request(run.base + "/api/commands")[0] == 401
        assert request(run.base + "/api/commands", headers={"Authorization": "Bearer nope"})[0] == 403
        auth = {"Authorization": f"Bearer {run.link.token}"}
        assert get_json(run.base + "/api/commands", headers=auth) == as_json()
    finally:
        run.close()


def test_a_killed_server_is_reported_and_the_owner_goes_on(live: LiveRun) -> None:
    live.run_for(0.3)
    assert live.link.alive and live.link.exit_reason() is None and live.link.waitables()
    os.kill(live.link.process.pid, signal.SIGKILL)
    wait_until(lambda: not live.link.alive, 5.0, "the server to be gone")
    assert live.link.exit_reason() == "killed by SIGKILL"
    live.link.commands()
    assert live.link.waitables() == []  # nothing left that would wake the owner's loop for ever
    before = live.events()
    t0 = time.monotonic()
    published = [live.step() for _ in range(50)]  # the owner's loop: never blocks on the dead server
    assert time.monotonic() - t0 < 5.0
    assert published[-1] is False and live.link.commands() == []
    wait_until(lambda: live.events() > before, 5.0, "events to go on")
    t0 = time.monotonic()
    live.link.close()
    assert time.monotonic() - t0 < 3.0


@pytest.mark.xdist_group("web-finished-runs")  # one pair of finished runs for both
def test_serve_lists_runs_and_serves_only_their_files(finished_runs: list[Path]) -> None:
    root = finished_runs[0].parent
    (root.parent / "secret.txt").write_text("not for the web")
    served = Served(root)
    try:
        runs = get_json(served.base + "/api/runs")
        assert sorted(r["setup"] for r in runs) == sorted(
            ["ticks.yaml", "inj<img src=x onerror=window.__xss=3>.yaml"]
        )
        for r in runs:
            assert r["end_reason"] == "runtime" and r["events"] > 0 and r["rate_hz"] > 0 and r["files"] >= 4
        one = next(r for r in runs if r["setup"] == "ticks.yaml")
        detail = get_json(served.base + "/api/run?id=" + quote(one["id"]))
        assert detail["summary"]["end_reason"] == "runtime" and detail["stats"]["RB_1"]["time_s"]
        names = {f["name"] for f in detail["files"]}
        assert {"run.log", "stats.csv", "run_summary.json", "rates.png"} <= names
        status, png = request(served.base + f"/api/file?run={quote(one['id'])}&name=rates.png")
        assert status == 200 and png.startswith(b"\x89PNG")

        # path traversal, in every spelling, is not found
        bad = [
            f"/api/file?run={quote(one['id'])}&name=..%2F..%2Fsecret.txt",
            f"/api/file?run={quote(one['id'])}&name=%2Fetc%2Fpasswd",
            "/api/file?run=..&name=secret.txt",
            "/api/file?run=.&name=secret.txt",
            f"/api/run?id={quote(one['id'])}%2F..",
            "/static/..%2F..%2F__init__.py",
            "/static/plotly.min.js%2F..%2F..%2Fapp.py",
        ]
        for path in bad:
            status, body = request(served.base + path)
            assert status == 404 and b"not for the web" not in body, path
        host, port = served.base.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", f"/api/file?run={quote(one['id'])}&name=../../secret.txt")
        raw = conn.getresponse()
        assert raw.status == 404 and b"not for the web" not in raw.read()
        conn.close()

        assert command(served.base, "end", None) == 401
        assert command(served.base, "end", served.token) == 409  # no run to steer here
    finally:
        served.close()


OWNER = """\
import multiprocessing, sys, time
from mimocorb.web import WebLink
link = WebLink(multiprocessing.get_context(sys.argv[1]))
print(link.port, link.wait_ready(30), flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_the_server_ends_when_its_owner_is_killed(method: str) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, method], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert "http://" in line, line
        base = f"http://127.0.0.1:{line.split()[1].split(':')[2].split('/')[0]}"
        assert get_json(base + "/api/status")["state"] == "waiting"
        owner.kill()
        owner.wait(10)

        def refused() -> bool:
            try:
                request(base + "/api/status")
            except OSError:
                return True
            return False

        wait_until(refused, 10.0, "the orphaned server to end")
    finally:
        if owner.poll() is None:
            owner.kill()
        owner.communicate(timeout=10)


def test_close_is_bounded_even_when_the_owner_catches_sigterm() -> None:
    """The controller catches SIGTERM for an orderly end; its forked server must still end on close()."""
    import multiprocessing

    from mimocorb.web import WebLink

    caught: list[int] = []
    old = signal.signal(signal.SIGTERM, lambda signum, frame: caught.append(signum))
    try:
        link = WebLink(multiprocessing.get_context("fork"))
        assert link.wait_ready(30.0) is not None
        link.process.terminate()  # what close() falls back to
        wait_until(lambda: not link.process.is_alive(), 5.0, "the server to end on SIGTERM")
        assert link.exit_reason() == "killed by SIGTERM" and caught == []
        t0 = time.monotonic()
        link.close()
        assert time.monotonic() - t0 < 3.0
    finally:
        signal.signal(signal.SIGTERM, old)
