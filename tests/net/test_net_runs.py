"""Whole runs linked over the network: ``python -m mimocorb run`` of a serving and a receiving setup.

The serving run writes 1..N into RB_1, which it serves; each receiving run has RB_1 connected and a
sink that records every value it read. Loopback TCP on a free port; small rings, a few thousand events.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from support import (
    child_runs_leave_nothing,
    finish,
    mimocorb_command,
    read_log,
    run,
    run_dirs,
    start,
    summary,
    wait_for_run_dir,
    wait_until,
)
from support.shm import remove_shared_memory_of

pytestmark = [pytest.mark.net, pytest.mark.timeout(120)]

MODULES = Path(__file__).resolve().parents[1] / "run" / "chainmods"
LAYOUT = "{a: [value, int64]}"


@pytest.fixture(autouse=True)
def _leave_nothing():
    with child_runs_leave_nothing():
        yield


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup_file(
    directory: Path, name: str, rb_1: str, functions: str, configs: dict[str, str] | None = None
) -> Path:
    """A setup in its own directory (so each run has its own target/), without keyboard or window."""
    directory.mkdir(parents=True, exist_ok=True)
    for file, text in (configs or {}).items():
        (directory / file).write_text(text)
    path = directory / name
    path.write_text(
        "GUI_control: false\nKBD_control: false\nRingBuffer:\n"
        f"  - RB_1: {{number_of_slots: 16, channel_per_slot: 1, data_type: {LAYOUT}, {rb_1}}}\n"
        f"Functions:\n  - Fkt_main: {{}}\n{functions}"
    )
    return path


def serving(directory: Path, serve: str, n: int, sleep: float = 0.0, source: str = "counting_source") -> Path:
    fkt = (
        f"  - Fkt_1: {{file_name: {MODULES}/chain_source, fkt_name: {source}, num_process: 1, "
        "RB_assign: {RB_1: write}, config_file: source.yaml}\n"
    )
    return setup_file(
        directory, "serving.yaml", f"serve: {serve}", fkt, {"source.yaml": f"n_events: {n}\nsleep: {sleep}\n"}
    )


def receiving(directory: Path, connect: str, layout: str = LAYOUT) -> Path:
    fkt = (
        f"  - Fkt_1: {{file_name: {MODULES}/chain_sink, fkt_name: counting_sink, num_process: 1, "
        "RB_assign: {RB_1: read}, config_file: sink.yaml}\n"
    )
    path = setup_file(directory, "receiving.yaml", f"connect: {connect}", fkt, {"sink.yaml": "tag: sink\n"})
    if layout != LAYOUT:
        path.write_text(path.read_text().replace(LAYOUT, layout))
    return path


def run_of(setup: Path) -> subprocess.Popen:
    return start(mimocorb_command("run", setup.name), setup.parent)


def the_run_dir(setup: Path) -> Path:
    (found,) = run_dirs(setup.parent / "target")
    return found


def seen(setup: Path) -> list[int]:
    values: list[int] = []
    for file in the_run_dir(setup).glob("seen_sink_*.json"):
        values += json.loads(file.read_text())
    return values


def ended(proc: subprocess.Popen, timeout: float = 60.0) -> str:
    out = finish(proc, timeout)
    assert proc.returncode == 0, out
    return out


@pytest.mark.parametrize("first", ["serving", "receiving"])
def test_two_runs_every_event_once_in_order(tmp_path, first) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    server, client = serving(tmp_path / "a", address, 3000), receiving(tmp_path / "b", address)
    if first == "serving":
        a = run_of(server)
        wait_for_run_dir(server.parent / "target")
        b = run_of(client)
    else:
        b = run_of(client)
        wait_for_run_dir(client.parent / "target")
        a = run_of(server)
    ended(a)
    out = ended(b)
    assert seen(client) == list(range(1, 3001))
    s = summary(the_run_dir(client))
    assert s["end_reason"] == "source exhausted", out
    (link,) = s["links"]
    assert link["role"] == "connect" and link["events_acked"] == 3000
    served = summary(the_run_dir(server))["links"]
    assert sum(r["events_acked"] for r in served if r["link"]) == 3000
    header = (the_run_dir(client) / "stats.csv").read_text().splitlines()[0]
    assert header.startswith("time_s,active_s,state,buffer,events,rate_hz,fill,slots,deadtime,lost,links,")


def test_two_receiving_runs_share_one_group(tmp_path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    clients = [receiving(tmp_path / name, address) for name in ("b", "c")]
    procs = [run_of(c) for c in clients]
    for c in clients:
        wait_for_run_dir(c.parent / "target")
    server = serving(tmp_path / "a", address, 4000, sleep=0.0005)
    ended(run_of(server))
    for p in procs:
        ended(p)
    parts = [seen(c) for c in clients]
    assert all(parts), [len(p) for p in parts]  # both got events
    assert sorted(parts[0] + parts[1]) == list(range(1, 4001))  # the union is exact, nothing twice
    assert all(p == sorted(p) for p in parts)


def test_two_served_groups_each_get_every_event(tmp_path) -> None:
    port = free_port()
    server = serving(tmp_path / "a", f"{{address: 'tcp://127.0.0.1:{port}', groups: [farm, archive]}}", 2000)
    clients = [
        receiving(tmp_path / group, f"{{address: 'tcp://127.0.0.1:{port}', group: {group}}}")
        for group in ("farm", "archive")
    ]
    procs = [run_of(c) for c in clients]
    ended(run_of(server))
    for p in procs:
        ended(p)
    for c in clients:
        assert seen(c) == list(range(1, 2001))


def test_an_observing_run_samples_while_the_serving_run_loses_nothing(tmp_path) -> None:
    port = free_port()
    server = serving(tmp_path / "a", f"tcp://127.0.0.1:{port}", 3000, sleep=0.0005)
    reader = receiving(tmp_path / "b", f"tcp://127.0.0.1:{port}")
    watcher = receiving(tmp_path / "c", f"{{address: 'tcp://127.0.0.1:{port}', mode: observe}}")
    procs = [run_of(reader), run_of(watcher)]
    ended(run_of(server))
    for p in procs:
        ended(p)
    assert seen(reader) == list(range(1, 3001))
    samples = seen(watcher)
    assert samples and samples == sorted(set(samples)) and len(samples) < 3000
    assert summary(the_run_dir(server))["buffers"]["RB_1"]["events"] == 3000


def test_a_layout_mismatch_ends_the_receiving_run_with_both_layouts(tmp_path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    server = serving(tmp_path / "a", address, 2000, sleep=0.001)
    wrong = receiving(tmp_path / "b", address, layout="{a: [value, float32]}")
    right = receiving(tmp_path / "c", address)
    a, c = run_of(server), run_of(right)
    b = run_of(wrong)
    out = finish(b, 60)
    assert b.returncode != 0 and "layout mismatch" in out and "<i8" in out and "<f4" in out, out
    b_dir = the_run_dir(wrong)
    assert "layout mismatch" in read_log(b_dir) and "<f4" in read_log(b_dir)
    assert summary(b_dir)["exit_code"] != 0
    ended(a)
    ended(c)
    assert seen(right) == list(range(1, 2001))  # the serving run went on unharmed


def test_a_killed_connect_worker_is_restarted_without_loss_or_duplicate(tmp_path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    server, client = serving(tmp_path / "a", address, 4000, sleep=0.001), receiving(tmp_path / "b", address)
    b = run_of(client)
    run_dir = wait_for_run_dir(client.parent / "target")
    a = run_of(server)
    pid = int(
        wait_until(lambda: re.search(r"\[connect_link:(\d+)\]", read_log(run_dir)), 20, "connect line")[1]
    )
    wait_until(lambda: "connected" in read_log(run_dir) or _stats_events(run_dir) > 300, 20, "events")
    os.kill(pid, signal.SIGKILL)
    ended(a)
    ended(b)
    assert seen(client) == list(range(1, 4001))
    s = summary(run_dir)
    assert s["restarts"], s["restarts"]


def _stats_events(run_dir: Path) -> int:
    rows = (run_dir / "stats.csv").read_text().splitlines()[1:] if (run_dir / "stats.csv").exists() else []
    return max((int(r.split(",")[4]) for r in rows if r.count(",") >= 9), default=0)


def test_a_killed_serving_run_is_reported_and_the_receiver_ends_cleanly(tmp_path) -> None:
    port = free_port()
    server = serving(tmp_path / "a", f"tcp://127.0.0.1:{port}", 0, sleep=0.001)  # no end of its own
    client = receiving(tmp_path / "b", f"{{address: 'tcp://127.0.0.1:{port}', timeout: 2}}")
    b = run_of(client)
    a = run_of(server)
    b_dir = wait_for_run_dir(client.parent / "target")
    wait_until(lambda: _stats_events(b_dir) > 100, 30, "events at the receiver")
    os.kill(a.pid, signal.SIGKILL)
    finish(a, 30)
    remove_shared_memory_of(a.pid)
    out = ended(b)
    assert "the serving run at" in out and "is gone" in out, out
    got = seen(client)
    assert got == list(range(1, len(got) + 1)) and len(got) > 100
    assert summary(b_dir)["end_reason"] == "serving run gone"


def test_curve_keys_right_key_works_wrong_key_refused(tmp_path) -> None:
    keys = tmp_path / "keys"
    for name, where in (("server", keys), ("client", keys / "clients"), ("stranger", keys)):
        assert run(mimocorb_command("keys", name, "--dir", str(where)), tmp_path).returncode == 0
    port = free_port()
    serve = (
        f"{{address: 'tcp://127.0.0.1:{port}', secret_key: {keys}/server.key_secret, "
        f"client_keys: {keys}/clients}}"
    )
    server = serving(tmp_path / "a", serve, 2000, sleep=0.001)

    def connect(who: str) -> str:
        secret = keys / ("clients" if who == "client" else "") / f"{who}.key_secret"
        return f"{{address: 'tcp://127.0.0.1:{port}', secret_key: {secret}, server_key: {keys}/server.key}}"

    right, wrong = (
        receiving(tmp_path / "b", connect("client")),
        receiving(tmp_path / "c", connect("stranger")),
    )
    a, b, c = run_of(server), run_of(right), run_of(wrong)
    out = finish(c, 60)
    assert c.returncode != 0 and "key" in out, out
    ended(a)
    ended(b)
    assert seen(right) == list(range(1, 2001))


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_plain_non_loopback_serve_is_refused_at_validation(tmp_path, command) -> None:
    setup = serving(tmp_path / "a", "tcp://0.0.0.0:5555", 10)
    result = run(mimocorb_command(command, setup.name), setup.parent, timeout=30)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "not a loopback address" in out and "mimocorb keys NAME" in out and "insecure: true" in out, out
    assert "RB_1.serve" in out and "serving.yaml" in out
    assert not (setup.parent / "target").exists() or not run_dirs(setup.parent / "target")


def test_pausing_the_serving_run_pauses_the_flow(tmp_path) -> None:
    """P in the serving run: nothing flows and the receiving run says so; E ends both, zero loss."""
    address = f"tcp://127.0.0.1:{free_port()}"
    server = serving(tmp_path / "a", address, 0, sleep=0.001, source="import_source")  # rbImport honours P
    server.write_text(server.read_text().replace("KBD_control: false", "KBD_control: true"))
    client = receiving(tmp_path / "b", address)
    b = run_of(client)
    a = start(mimocorb_command("run", server.name), server.parent, stdin=subprocess.PIPE)
    b_dir = wait_for_run_dir(client.parent / "target")
    wait_until(lambda: _stats_events(b_dir) > 100, 30, "events at the receiver")
    a.stdin.write("P\n")
    a.stdin.flush()
    idle = wait_until(lambda: _idle_rows(b_dir), 30, "a connected link without events in stats.csv")
    # the status line comes every 5 s without a terminal: let one come during the pause
    wait_until(lambda: _idle_rows(b_dir) >= idle + 6, 30, "six more seconds of pause")
    paused_at = _stats_events(b_dir)
    a.stdin.write("E\n")
    a.stdin.close()
    out_a, out_b = ended(a), ended(b)
    assert "waiting for data" in out_b, out_b
    got = seen(client)
    assert got == list(range(1, len(got) + 1)) == list(range(1, summary(the_run_dir(server))["events"] + 1))
    assert len(got) >= paused_at
    assert "paused" in out_a, out_a


def _idle_rows(run_dir: Path) -> int:
    """stats.csv rows of RB_1 in which its link is connected and carries nothing."""
    with open(run_dir / "stats.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return sum(r["links"] == "1" and float(r["link_rate_hz"]) == 0 and int(r["events"]) > 0 for r in rows)


def _pid_of(run_dir: Path, function: str) -> int:
    found = wait_until(
        lambda: re.search(rf"\[{function}:(\d+)\]", read_log(run_dir)), 20, f"a {function} line"
    )
    return int(found[1])


def test_a_killed_serve_worker_is_restarted_without_loss_or_duplicate(tmp_path) -> None:
    """SIGKILL of the serving run's serve process mid-run: it is restarted, gets back from the ring what
    it held, the receiving run carries on with it; every event once, in order, both runs exit 0."""
    address = f"tcp://127.0.0.1:{free_port()}"
    server, client = serving(tmp_path / "a", address, 4000, sleep=0.001), receiving(tmp_path / "b", address)
    b = run_of(client)
    b_dir = wait_for_run_dir(client.parent / "target")
    a = run_of(server)
    a_dir = wait_for_run_dir(server.parent / "target")
    pid = _pid_of(a_dir, "serve_link")
    wait_until(lambda: _stats_events(b_dir) > 300, 30, "events at the receiver")
    os.kill(pid, signal.SIGKILL)
    out_a, out_b = ended(a), ended(b)
    assert seen(client) == list(range(1, 4001)), out_a + out_b
    s = summary(a_dir)
    assert s["restarts"] and s["restarts"][0].startswith("serve RB_1"), s["restarts"]
    assert "restarting serve RB_1 serve_link (restart 1 of" in read_log(a_dir)
    assert _pid_of(a_dir, "serve_link") == pid  # the first line still; the new process has its own
    assert len(set(re.findall(r"\[serve_link:(\d+)\]", read_log(a_dir)))) == 2
    (link,) = summary(b_dir)["links"]
    assert link["reconnects"] >= 1 and summary(b_dir)["end_reason"] == "source exhausted"


def test_a_killed_serve_worker_of_a_shared_group_loses_and_doubles_nothing(tmp_path) -> None:
    """Two receiving runs share the group; the serve process is killed while both take events: its
    restart hears from both what they committed before it hands out again what the ring gave back."""
    address = f"tcp://127.0.0.1:{free_port()}"
    clients = [receiving(tmp_path / name, address) for name in ("b", "c")]
    procs = [run_of(c) for c in clients]
    dirs = [wait_for_run_dir(c.parent / "target") for c in clients]
    server = serving(tmp_path / "a", address, 4000, sleep=0.0005)
    a = run_of(server)
    a_dir = wait_for_run_dir(server.parent / "target")
    pid = _pid_of(a_dir, "serve_link")
    wait_until(lambda: all(_stats_events(d) > 200 for d in dirs), 30, "events at both receivers")
    os.kill(pid, signal.SIGKILL)
    out = ended(a)
    for p in procs:
        ended(p)
    parts = [seen(c) for c in clients]
    union = parts[0] + parts[1]
    assert sorted(union) == list(range(1, 4001)), (len(union), len(set(union)), out)
    assert summary(a_dir)["restarts"]
    assert all(summary(d)["links"][0]["reconnects"] >= 1 for d in dirs)


def test_a_serve_worker_killed_more_often_than_it_may_be_restarted_ends_the_run(tmp_path) -> None:
    """Killed four times (three restarts allowed): the serving run ends with a failure that says so, the
    receiving run ends after its timeout with what it got (each event once, in order), nothing left."""
    port = free_port()
    server = serving(tmp_path / "a", f"tcp://127.0.0.1:{port}", 0, sleep=0.001)  # no end of its own
    client = receiving(tmp_path / "b", f"{{address: 'tcp://127.0.0.1:{port}', timeout: 3}}")
    b = run_of(client)
    b_dir = wait_for_run_dir(client.parent / "target")
    a = run_of(server)
    a_dir = wait_for_run_dir(server.parent / "target")
    killed: set[str] = set()
    for _ in range(4):
        pids = wait_until(
            lambda: set(re.findall(r"\[serve_link:(\d+)\]", read_log(a_dir))) - killed,
            30,
            "a new serve process",
        )
        (pid,) = pids
        wait_until(lambda: _stats_events(b_dir) > 50 * (len(killed) + 1), 30, "events at the receiver")
        os.kill(int(pid), signal.SIGKILL)
        killed.add(pid)
    out_a = finish(a, 60)
    assert a.returncode != 0, out_a
    assert "serve RB_1 serve_link is not restarted again: its 3 restart(s) are used up" in out_a, out_a
    s = summary(a_dir)
    assert len(s["restarts"]) == 3 and s["exit_code"] != 0 and s["end_reason"].startswith("worker failed")
    out_b = ended(b)
    assert "is gone" in out_b and summary(b_dir)["end_reason"] == "serving run gone", out_b
    got = seen(client)
    assert got == list(range(1, len(got) + 1)) and len(got) > 200


def test_a_serving_run_ended_with_events_nobody_takes_says_they_were_not_delivered(tmp_path) -> None:
    """The receiver took 500 events and ended; the serving run, ended by hand, waits its grace period
    for a receiver, then terminates its serve process and says the events it held were not delivered."""
    address = f"tcp://127.0.0.1:{free_port()}"
    server, client = serving(tmp_path / "a", address, 3000), receiving(tmp_path / "b", address)
    client.write_text(client.read_text().replace("Fkt_main: {}", "Fkt_main: {runevents: 500}"))
    b = run_of(client)
    a = start(mimocorb_command("run", server.name, "--grace", "2"), server.parent)
    ended(b)
    a.send_signal(signal.SIGINT)
    out = finish(a, 60.0)
    assert a.returncode == 3, out
    assert "terminated after the grace period: serve RB_1" in out, out
    assert re.search(r"RB_1: \d+ event\(s\) serve RB_1 serve_link, pid \d+ held were not delivered", out), out
    assert "go to its next process" not in out, out


def test_runevents_of_a_run_whose_first_buffer_is_connected_is_exact(tmp_path) -> None:
    """runevents: 500 in the receiving run, whose first buffer's writer is the connect process: exactly
    events 1..500 go in, the run ends for that reason; what it did not take stays with the serving run,
    and a receiving run started later gets exactly the rest."""
    address = f"tcp://127.0.0.1:{free_port()}"
    server, client = serving(tmp_path / "a", address, 3000), receiving(tmp_path / "b", address)
    client.write_text(client.read_text().replace("Fkt_main: {}", "Fkt_main: {runevents: 500}"))
    b = run_of(client)
    b_dir = wait_for_run_dir(client.parent / "target")
    a = run_of(server)
    out_b = ended(b)
    s = summary(b_dir)
    assert s["end_reason"] == "runevents" and s["events"] == 500, out_b
    assert seen(client) == list(range(1, 501))
    (link,) = s["links"]
    assert link["events_acked"] == 500
    later = receiving(tmp_path / "c", address)
    ended(run_of(later))
    ended(a)
    assert seen(later) == list(range(501, 3001))
