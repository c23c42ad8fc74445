"""Worker processes: starting them, collecting their output and errors, noticing their end.

The supervisor never blocks and owns no thread. The controller's loop waits on ``waitables()`` (process
sentinels, the output pipes, the error pipes) together with its own inputs and hands what became ready
to ``dispatch``; ``reap()`` then names the processes that ended since the last call.

Each worker process has two pipes to the controller, created just before it starts (so a process forked
later cannot inherit the write end of another worker's pipe):

* its stdout/stderr, read as raw bytes and split into lines, each passed to ``on_output``;
* structured messages (``WorkerError`` when the user function raised), passed to ``on_error`` at once;
  anything else (the link reports of the run's own network workers) goes to ``on_message``;
* the user variables it publishes (``published``), read by ``read_published`` on every loop iteration
  and kept as the last value of each name while the process runs.

A process's end is noticed by its sentinel and, as a fallback for sentinels held open by grandchildren
that inherited them, by polling every process on each ``reap()`` (one ``waitpid`` per process per loop
iteration, ≤ 0.1 s).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from .child import WorkerError, WorkerSpec, worker_main
from .published import PublishedValues
from .states import WorkerState

MAX_LINE = 65536  # a "line" without newline is passed on once it is this long
READ_CHUNK = 65536
READ_BUDGET = 1 << 20  # bytes read from one pipe per dispatch, so one chatty worker cannot starve the loop


class WorkerProcess:
    """One worker process slot (``Fkt_<i>`` instance k) across its restarts."""

    def __init__(self, spec: WorkerSpec, on_error: str) -> None:
        self.spec = spec
        self.on_error = on_error
        self.process: Any = None
        self.pids: list[int] = []
        self.state = WorkerState.CREATED
        self.exitcode: int | None = None
        self.errors: list[WorkerError] = []
        self.restarts = 0
        self.terminated = False  # we sent SIGTERM/SIGKILL to the current incarnation
        self.start_error: str | None = None
        self.t_start: float | None = None
        self.t_end: float | None = None
        self.lost_events = 0
        self.reported = False  # the current incarnation's failure was announced
        self._out: Connection | None = None
        self._msg: Connection | None = None
        self._vars: Connection | None = None
        self.published = PublishedValues()  # the current incarnation's user variables
        self._sentinel: int | None = None
        self._partial = b""

    # -- identity -------------------------------------------------------------------------------
    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def fkt_name(self) -> str:
        return self.spec.fkt_name

    @property
    def pid(self) -> int | None:
        return self.pids[-1] if self.pids else None

    @property
    def name(self) -> str:
        """How the process appears in logs: the function name, plus the instance if there are several."""
        return self.spec.fkt_name if self.spec.instance == 0 else f"{self.spec.fkt_name}#{self.spec.instance}"

    @property
    def label(self) -> str:
        pid = f", pid {self.pid}" if self.pid else ""
        return f"{self.spec.key} {self.name}{pid}"

    @property
    def alive(self) -> bool:
        return self.state == WorkerState.RUNNING

    # -- pipes (the supervisor's side) ----------------------------------------------------------
    def attach(
        self, process: Any, output: Connection, messages: Connection, variables: Connection | None = None
    ) -> None:
        """Watch a freshly started incarnation: its process, its output, message and variables pipes."""
        self.process = process
        self.pids.append(process.pid)
        self._out, self._msg, self._partial = output, messages, b""
        self._vars, self.published = variables, PublishedValues()
        self._sentinel = process.sentinel

    @property
    def output(self) -> Connection | None:
        """The output pipe while it is watched."""
        return self._out

    @property
    def messages(self) -> Connection | None:
        """The message pipe while it is watched."""
        return self._msg

    @property
    def variables(self) -> Connection | None:
        """The pipe of the user variables while it is watched."""
        return self._vars

    @property
    def sentinel(self) -> int | None:
        """The process sentinel while it is watched."""
        return self._sentinel

    def forget_sentinel(self) -> None:
        """The sentinel fired: its number may soon belong to another pipe, so it is no longer ours."""
        self._sentinel = None

    def received(self) -> Iterator[Any]:
        """What the message pipe holds now; nothing once it is closed or broken."""
        conn = self._msg
        if conn is None:
            return
        try:
            while conn.poll():
                yield conn.recv()
        except (EOFError, OSError):
            return

    def lines(self, data: bytes, final: bool) -> list[str]:
        """The complete lines of the output with ``data`` added; an unfinished line waits for more,
        unless ``final`` or it is ``MAX_LINE`` long."""
        *lines, rest = (self._partial + data).split(b"\n")
        if (final and rest) or len(rest) >= MAX_LINE:
            lines.append(rest)
            rest = b""
        self._partial = rest
        return [line.rstrip(b"\r").decode("utf-8", "replace") for line in lines]

    def close_output(self) -> None:
        """The output pipe reached its end."""
        if self._out is not None:
            self._out.close()
            self._out = None

    def detach(self) -> tuple[Connection | None, bytes]:
        """Stop watching an ended incarnation: the message pipe is closed; the output pipe and its
        unfinished line are handed over, since a grandchild that inherited the pipe may still write."""
        self._sentinel = None
        for conn in (self._msg, self._vars):
            if conn is not None:
                conn.close()
        self._msg = self._vars = None
        out, partial = self._out, self._partial
        self._out, self._partial = None, b""
        return out, partial

    def close_pipes(self) -> None:
        """Close what is still open of the pipes (the process has ended)."""
        out, _ = self.detach()
        if out is not None:
            out.close()

    def exit_text(self) -> str:
        """The end of the current incarnation in words."""
        code = self.exitcode
        if code is None:
            return "still running" if self.alive else (self.start_error or "not started")
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"killed by {name}"
        return f"exit code {code}"


class Supervisor:
    """Starts worker processes and reports their output, errors and ends (see the module docstring)."""

    def __init__(
        self,
        context: Any,
        on_output: Callable[[WorkerProcess, str], None],
        on_error: Callable[[WorkerProcess, WorkerError], None],
        on_message: Callable[[WorkerProcess, Any], None] | None = None,
    ) -> None:
        self.context = context
        self._on_message = on_message
        self.workers: list[WorkerProcess] = []
        self._on_output = on_output
        self._on_error = on_error
        self._by_fd: dict[int, tuple[WorkerProcess, str]] = {}
        # output pipes of ended processes, kept until EOF: (worker, connection, partial line)
        self._orphan_out: dict[int, list[Any]] = {}
        self._reaped: list[WorkerProcess] = []

    def add(self, spec: WorkerSpec, on_error: str) -> WorkerProcess:
        worker = WorkerProcess(spec, on_error)
        self.workers.append(worker)
        return worker

    # -- starting -------------------------------------------------------------------------------
    def start(self, worker: WorkerProcess) -> bool:
        """Start (or restart) ``worker``'s process; False if it could not be started (then it failed)."""
        ctx = self.context
        out_r, out_w = ctx.Pipe(duplex=False)
        msg_r, msg_w = ctx.Pipe(duplex=False)
        var_r, var_w = ctx.Pipe(duplex=False)
        pipes = (out_r, out_w, msg_r, msg_w, var_r, var_w)
        process = ctx.Process(
            target=worker_main, args=(worker.spec, out_w, msg_w, var_w), name=worker.spec.fkt_name
        )
        worker.terminated = False
        worker.exitcode = None
        worker.reported = False
        worker.start_error = None
        try:
            with start_guard(ctx):
                process.start()
        except Exception as exc:  # fork refused, args not picklable, ...
            for conn in pipes:
                conn.close()
            worker.state = WorkerState.FAILED
            worker.start_error = f"could not be started: {type(exc).__name__}: {exc}"
            worker.t_end = time.monotonic()
            return False
        for conn in (out_w, msg_w, var_w):
            conn.close()
        os.set_blocking(out_r.fileno(), False)
        os.set_blocking(var_r.fileno(), False)
        worker.attach(process, out_r, msg_r, var_r)
        worker.state = WorkerState.RUNNING
        worker.t_start = time.monotonic()
        worker.t_end = None
        self._by_fd[out_r.fileno()] = (worker, "out")
        self._by_fd[process.sentinel] = (worker, "sentinel")
        return True

    # -- watching -------------------------------------------------------------------------------
    def waitables(self) -> list[Any]:
        items: list[Any] = list(self._by_fd)
        items += [w.messages for w in self.workers if w.messages is not None]
        items += list(self._orphan_out)
        return items

    def dispatch(self, ready: list[Any]) -> None:
        """Handle what ``multiprocessing.connection.wait`` returned (objects of ``waitables()``)."""
        for item in ready:
            if isinstance(item, Connection):
                worker = next((w for w in self.workers if w.messages is item), None)
                if worker is not None:
                    self._read_messages(worker)
                continue
            if item in self._orphan_out:
                self._read_orphan(item)
                continue
            entry = self._by_fd.get(item)
            if entry is None:
                continue
            worker, kind = entry
            if kind == "out":
                self._read_output(worker)
            else:  # sentinel: stop waiting on it; reap() polls the exit status
                self._by_fd.pop(item, None)
                worker.forget_sentinel()

    def reap(self) -> list[WorkerProcess]:
        """Workers whose process ended since the last call (output and messages read to the end)."""
        ended = []
        for worker in self.workers:
            if worker.state != WorkerState.RUNNING or worker.process is None:
                continue
            code = worker.process.exitcode  # waitpid(WNOHANG)
            if code is None:
                continue
            worker.exitcode = code
            worker.t_end = time.monotonic()
            self._read_messages(worker)
            self._read_published(worker)
            self._read_output(worker, final=True)
            self._detach(worker)
            if worker.terminated:
                worker.state = WorkerState.TERMINATED
            elif code == 0:
                worker.state = WorkerState.EXITED
            elif code < 0:
                worker.state = WorkerState.KILLED
            else:
                worker.state = WorkerState.FAILED
            ended.append(worker)
        return ended

    def alive(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.alive]

    def workers_of(self, key: str) -> list[WorkerProcess]:
        """The process slots of one function (``Fkt_<i>``)."""
        return [w for w in self.workers if w.key == key]

    def read_published(self) -> None:
        """Take in the user variables every running process published since the last call."""
        for worker in self.workers:
            self._read_published(worker)

    def _read_published(self, worker: WorkerProcess) -> None:
        conn = worker.variables
        if conn is not None:
            data, _ = _read_available(conn.fileno())
            worker.published.take(data)

    def _read_messages(self, worker: WorkerProcess) -> None:
        for item in worker.received():
            if isinstance(item, WorkerError):
                worker.errors.append(item)
                self._on_error(worker, item)
            elif self._on_message is not None:
                self._on_message(worker, item)

    def _read_output(self, worker: WorkerProcess, final: bool = False) -> None:
        conn = worker.output
        if conn is None:
            return
        data, eof = _read_available(conn.fileno())
        if data or final or eof:
            self._emit(worker, worker.lines(data, final=final or eof))
        if eof:
            self._by_fd.pop(conn.fileno(), None)
            worker.close_output()

    def _emit(self, worker: WorkerProcess, lines: list[str]) -> None:
        for line in lines:
            self._on_output(worker, line)

    def _detach(self, worker: WorkerProcess) -> None:
        """After the end of a process: stop watching its sentinel and error pipe.

        Its output pipe stays watched until EOF: a grandchild that inherited it (a plot process, say)
        may still write there, and its lines belong in run.log too.
        """
        if worker.sentinel is not None:
            self._by_fd.pop(worker.sentinel, None)
        out, partial = worker.detach()
        if out is not None:
            fd = out.fileno()
            self._by_fd.pop(fd, None)
            self._orphan_out[fd] = [worker, out, partial]

    def _read_orphan(self, fd: int) -> None:
        entry = self._orphan_out[fd]
        worker, conn, partial = entry
        data, eof = _read_available(fd)
        if data or (eof and partial):
            *lines, rest = (partial + data).split(b"\n")
            if eof and rest:
                lines.append(rest)
                rest = b""
            entry[2] = rest
            for line in lines:
                self._on_output(worker, line.rstrip(b"\r").decode("utf-8", "replace"))
        if eof:
            self._orphan_out.pop(fd, None)
            conn.close()

    # -- ending ---------------------------------------------------------------------------------
    def terminate(self, worker: WorkerProcess) -> None:
        if worker.alive and worker.process is not None:
            worker.terminated = True
            with contextlib.suppress(OSError, ValueError):
                worker.process.terminate()

    def kill(self, worker: WorkerProcess) -> None:
        if worker.alive and worker.process is not None:
            worker.terminated = True
            with contextlib.suppress(OSError, ValueError):
                worker.process.kill()

    def close(self) -> None:
        """Read what is left in the pipes and close them; processes must have ended."""
        for worker in self.workers:
            self._emit(worker, worker.lines(b"", final=True))
            worker.close_pipes()
            if worker.process is not None and not worker.alive:
                with contextlib.suppress(Exception):
                    worker.process.close()
        for fd, (worker, conn, partial) in list(self._orphan_out.items()):
            data, _ = _read_available(fd)
            for line in (partial + data).split(b"\n"):
                if line:
                    self._on_output(worker, line.rstrip(b"\r").decode("utf-8", "replace"))
            conn.close()
        self._by_fd.clear()
        self._orphan_out.clear()


def _read_available(fd: int) -> tuple[bytes, bool]:
    """What a non-blocking pipe holds right now (up to READ_BUDGET), and whether it reached EOF."""
    chunks: list[bytes] = []
    total = 0
    while total < READ_BUDGET:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return b"".join(chunks), False
        except OSError:
            return b"".join(chunks), True
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks), False


@contextlib.contextmanager
def start_guard(context: Any) -> Iterator[None]:
    """Start a process so that it neither dies of an early Ctrl-C nor re-runs the caller's script.

    * SIGINT is ignored while the process is created: the disposition is inherited through fork and
      exec, so the child ignores Ctrl-C from its first instruction (the worker keeps it ignored).
    * Under spawn and forkserver, multiprocessing would import the parent's ``__main__`` in the child.
      A driver script like the four-line ``run_daq.py`` of the mimoCoRB 1.0.2 example has no
      ``if __name__ == "__main__"`` guard and would start a second run inside every worker. Workers need
      nothing from ``__main__`` (the user module is imported by file), so ``__main__`` is hidden while the
      process is created.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    hide_main = context.get_start_method() != "fork"
    main = sys.modules.get("__main__")
    if hide_main:
        sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if hide_main and main is not None:
            sys.modules["__main__"] = main
        if main_thread:
            signal.signal(signal.SIGINT, old if old is not None else signal.SIG_DFL)
