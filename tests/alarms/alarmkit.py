"""Helpers of the alarm tests: setup files of a switchable source, and the servers that receive what
alarms send (an HTTP server for webhooks, an SMTP server for e-mails), all on loopback in the test.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import support

MODS = Path(__file__).parent / "alarmmods"


def write_setup(
    directory: Path, alarms: str, runtime: float = 0, extra: str = "", slots: int = 16, sink_sleep: float = 0
) -> Path:
    """A source writing ~100 events/s into RB_1 (none while ``directory/quiet`` exists), a counting
    sink, and ``alarms`` (YAML lines of the ``Alarms`` list, indented by two spaces)."""
    mods = MODS / "switched"
    text = f"""output_directory: target
GUI_control: false
RingBuffer:
  - RB_1: {{number_of_slots: {slots}, channel_per_slot: 1, data_type: {{1: [value, int64]}}}}
Functions:
  - Fkt_main: {{runtime: {runtime}}}
  - Fkt_1: {{file_name: {mods}, fkt_name: switched_source, num_process: 1, RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{file_name: {mods}, fkt_name: counting_sink, num_process: 1, RB_assign: {{RB_1: read}}}}
{extra}FunctionConfigs:
  switched_source: {{quiet: {directory / "quiet"}}}
  counting_sink: {{count_file: {directory / "count.json"}, sleep: {sink_sleep}}}
Alarms:
{alarms}
"""
    path = directory / "setup.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class Hook(ThreadingHTTPServer):
    """A webhook receiver: keeps the JSON body of every POST; ``answer`` is the status it replies."""

    daemon_threads = True

    def __init__(self, answer: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), _HookHandler)
        self.answer = answer
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.received)


class _HookHandler(BaseHTTPRequestHandler):
    server: Hook

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        with self.server.lock:
            self.server.received.append(body)
        self.send_response(self.server.answer)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
        pass


@contextmanager
def hook_server(answer: int = 200) -> Iterator[Hook]:
    server = Hook(answer)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[Any]]]:
    """aiosmtpd on loopback: (its port, the messages it received so far)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list[Any] = []

    class Keep(Message):
        def handle_message(self, message: Any) -> None:
            received.append(message)

    # aiosmtpd checks that it listens by connecting to its port, so port 0 cannot be given: a port the
    # system has just handed out and taken back is free
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def alarm_events(run_dir: Path) -> list[tuple[str, str]]:
    """(alarm, state) of every event run_summary.json lists, in order."""
    return [(e["alarm"], e["state"]) for e in support.summary(run_dir)["alarms"]["events"]]


class Run:
    """``mimocorb run setup.yaml`` of ``directory`` in a child process, with commands on its stdin."""

    def __init__(self, directory: Path, *extra: str, env: dict[str, str | None] | None = None) -> None:
        command = support.mimocorb_command("run", "setup.yaml", *extra)
        self.proc = support.start(command, directory, env=support.child_env(env), stdin=subprocess.PIPE)
        self.run_dir = support.wait_for_run_dir(directory / "target", 30.0, holding="run.log")

    def log(self) -> str:
        return support.read_log(self.run_dir)

    def wait_for_log(self, text: str, timeout: float = 60.0) -> None:
        support.wait_until(lambda: text in self.log(), timeout, f"{text!r} in run.log")

    def command(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def end(self, timeout: float = 60.0) -> str:
        """E, then the run's output once it has ended."""
        self.command("E")
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return support.finish(self.proc, timeout)
