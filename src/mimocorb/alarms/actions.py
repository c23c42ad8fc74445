"""The actions that reach outside the run (webhook, e-mail, command) and the history rows, carried out in
a process of their own so that none of them can stop or slow the run.

The run's controller stays single-threaded (it forks workers) and never waits: it sends each alarm event
over a non-blocking socket pair (``web.channel``) and reads the reports when it samples. The action
process gives every action a thread with a timeout; a webhook nobody answers, an SMTP server that refuses
or a command that hangs is reported back with its reason, and the run goes on. The process is started
when the first alarm is raised, so a run without alarms has none.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._processes import terminate_then_kill
from ..web import channel

TIMEOUTS = {"webhook": 5.0, "email": 15.0, "exec": 30.0}  # s one action may take
MAX_RUNNING = 8  # actions under way at once; more are refused and reported
CLOSE_WAIT = 5.0  # s the process gets at the end of the run to finish the actions under way
SECRETS = ("MIMOCORB_SMTP_PASSWORD",)  # never handed to an exec action


class ActionLink:
    """The action process seen from the run (see the module docstring)."""

    def __init__(self, context: Any, guard: contextlib.AbstractContextManager | None = None) -> None:
        self._sock, child = channel.socket_pair()
        opts = {
            "owner_pid": os.getpid(),
            "close_fd": self._sock.fileno() if context.get_start_method() == "fork" else -1,
        }
        self.process = context.Process(target=serve_actions, args=(child, opts), name="mimocorb-alarms")
        self.process.daemon = True
        try:
            with guard if guard is not None else contextlib.nullcontext():
                self.process.start()
        finally:
            child.close()
        self._closed = False

    def submit(
        self, event: Mapping[str, Any], actions: Sequence[Any], record: Mapping[str, str] | None
    ) -> bool:
        """Carry out ``actions`` (plain, as the setup writes them) for ``event`` and append it to the
        history database ``record`` names (``output_directory``, ``run``); False if the process could
        not take it now (reported by the caller)."""
        message = {"t": "event", "event": dict(event), "actions": list(actions), "record": record}
        return not self._closed and channel.send(self._sock, message)

    def reports(self) -> list[tuple[int, str]]:
        """(level, text) of every action finished or failed since the last call."""
        if self._closed:
            return []
        messages, _ = channel.receive(self._sock)
        return [(int(m.get("level", 0)), str(m.get("text"))) for m in messages if m.get("t") == "report"]

    def close(self, timeout: float = CLOSE_WAIT) -> list[tuple[int, str]]:
        """Let the actions under way finish (at most ``timeout`` s), end the process; the last reports."""
        if self._closed:
            return []
        channel.send(self._sock, {"t": "close"})
        self.process.join(timeout + 1.0)
        last = self.reports()
        self._closed = True
        terminate_then_kill(self.process)
        self._sock.close()
        return last


def serve_actions(sock: Any, opts: dict[str, Any]) -> None:
    """The action process: events in, one thread per action, reports out; ends at ``close`` or when its
    owner is gone."""
    close_fd = int(opts.get("close_fd", -1))
    if close_fd >= 0:
        with contextlib.suppress(OSError):
            os.close(close_fd)
    sock.setblocking(False)  # a report the owner cannot take now is dropped, never waited for
    owner = int(opts.get("owner_pid") or 0)
    runner = _Runner(sock)
    while True:
        ready, _, _ = select.select([sock], [], [], 1.0)
        if owner and os.getppid() != owner:
            return
        if not ready:
            continue
        messages, gone = channel.receive(sock)
        for m in messages:
            if m.get("t") == "close":
                runner.finish(CLOSE_WAIT)
                return
            if m.get("t") == "event":
                runner.take(m)
        if gone:
            runner.finish(CLOSE_WAIT)
            return


class _Runner:
    """Runs the actions of events in threads, reporting each outcome."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def report(self, text: str, level: int = 0) -> None:
        with self.lock:
            channel.send(self.sock, {"t": "report", "text": text, "level": level})

    def take(self, message: Mapping[str, Any]) -> None:
        event = dict(message.get("event") or {})
        record = message.get("record")
        jobs: list[tuple[str, Any]] = [("record", record)] if record else []
        for action in message.get("actions") or []:
            if isinstance(action, dict) and len(action) == 1:
                jobs.append(next(iter(action.items())))
        self.threads = [t for t in self.threads if t.is_alive()]
        for kind, target in jobs:
            if len(self.threads) >= MAX_RUNNING:
                busy = f"{MAX_RUNNING} actions still under way"
                self.report(f"WARNING: alarm {event.get('alarm')}: {kind} not done, {busy}")
                continue
            thread = threading.Thread(target=self.run, args=(kind, target, event), daemon=True)
            thread.start()
            self.threads.append(thread)

    def run(self, kind: str, target: Any, event: dict[str, Any]) -> None:
        what = f"alarm {event.get('alarm')} ({event.get('state')}): {kind}"
        try:
            done = ACTIONS[kind](target, event)
        except Exception as exc:  # every failure is reported, none ends the process
            self.report(f"WARNING: {what} failed: {_reason(exc)}; the run goes on")
        else:
            if kind != "record":  # the history row is no news; only its failure is
                self.report(f"{what}: {done}", 2)

    def finish(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        late = sum(t.is_alive() for t in self.threads)
        if late:
            self.report(
                f"WARNING: alarms: {late} action(s) still under way at the end of the run were abandoned"
            )


def _webhook(url: str, event: dict[str, Any]) -> str:
    body = json.dumps(event).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "mimocorb"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUTS["webhook"]) as response:
        return f"{url} answered {response.status}"


def _email(to: str, event: dict[str, Any]) -> str:
    from .smtp import send_mail

    subject = f"[mimocorb] alarm {event.get('alarm')} {event.get('state')} ({event.get('severity')})"
    body = "\n".join(f"{key}: {value}" for key, value in event.items()) + "\n"
    send_mail(to, subject, body, TIMEOUTS["email"])
    return f"mail sent to {to}"


def _exec(command: str | list[str], event: dict[str, Any]) -> str:
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(alarm_environment(event))
    done = subprocess.run(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUTS["exec"],
        cwd=event.get("run_directory") or None,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"{argv[0]} exited with {done.returncode} {tail[0]}".strip())
    return f"{argv[0]} done"


def alarm_environment(event: Mapping[str, Any]) -> dict[str, str]:
    """What an exec action finds in its environment: MIMOCORB_ALARM (the name), ..._STATE, ..._SEVERITY,
    ..._VALUE, ..._CONDITION, ..._TIME, ..._JSON (the whole event), MIMOCORB_RUN_DIRECTORY."""
    value = event.get("value")
    return {
        "MIMOCORB_ALARM": str(event.get("alarm")),
        "MIMOCORB_ALARM_STATE": str(event.get("state")),
        "MIMOCORB_ALARM_SEVERITY": str(event.get("severity")),
        "MIMOCORB_ALARM_VALUE": "" if value is None else repr(value),
        "MIMOCORB_ALARM_CONDITION": str(event.get("condition")),
        "MIMOCORB_ALARM_TIME": str(event.get("time")),
        "MIMOCORB_ALARM_JSON": json.dumps(dict(event)),
        "MIMOCORB_RUN_DIRECTORY": str(event.get("run_directory") or ""),
    }


def _record(record: Mapping[str, str], event: dict[str, Any]) -> str:
    from .record import record_event

    record_event(record["output_directory"], record["run"], event)
    return "recorded in the history database"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"no end after {exc.timeout:g} s (killed)"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


ACTIONS: dict[str, Callable[[Any, dict[str, Any]], str]] = {
    "webhook": _webhook,
    "email": _email,
    "exec": _exec,
    "record": _record,
}
