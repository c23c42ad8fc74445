"""Parent-side helpers of the ring tests: child processes (multiprocessing, ``python -c``) that never
outlive a test. The /dev/shm bookkeeping is ``support.shm``.

Every process a ring test starts goes through ``ProcessGroup`` or ``popen_python``, which record its pid
with ``support.children.track``: the leak check of conftest.py attributes ``mimocorb_<pid>_...``
entries in /dev/shm to these tests only if <pid> is one of them (other people's tests may run on the
same machine).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from multiprocessing.connection import wait as wait_sentinels
from pathlib import Path

import support
from hypothesis import HealthCheck, Phase, settings
from support.children import track

RING_DIR = Path(__file__).resolve().parent

# Hypothesis settings for every property test here: reproducible (derandomized, no example database),
# no deadline (processes), no shrinking (each example runs processes; the failing example is printed).
RING_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)

# ---- child processes -------------------------------------------------------------------------------


class ProcessGroup:
    """Start children with one start method; join with deadlines; kill leftovers in ``cleanup``."""

    def __init__(self, method: str = "fork"):
        self.method = method
        self.ctx = mp.get_context(method)
        self.procs: list = []

    def start(self, target, *args, name: str | None = None):
        p = self.ctx.Process(target=target, args=args, name=name or target.__name__, daemon=True)
        p.start()
        track(p.pid)
        self.procs.append(p)
        return p

    def join(self, procs=None, timeout: float = 60.0, exitcode: int | None = 0) -> None:
        """Join ``procs`` (default: all) within ``timeout`` s in total; fail on a hang or a bad exit code."""
        procs = self.procs if procs is None else list(procs)
        deadline = time.monotonic() + timeout
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
        hung = [p.name for p in procs if p.is_alive()]
        assert not hung, f"processes still running after {timeout} s (deadlock?): {hung}"
        if exitcode is not None:
            bad = {p.name: p.exitcode for p in procs if p.exitcode != exitcode}
            assert not bad, f"unexpected exit codes: {bad}"

    def cleanup(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.kill()
        for p in self.procs:
            p.join(10)


def kill_and_wait(p, sig: int = signal.SIGKILL, timeout: float = 10.0) -> None:
    """Send ``sig`` to child ``p`` and wait until its sentinel fires (it is not reaped: a zombie)."""
    os.kill(p.pid, sig)
    assert wait_sentinels([p.sentinel], timeout), f"{p.name} did not die from signal {sig}"


def python_code(body: str) -> str:
    """A ``python -c`` program that can import ringworkers."""
    return f"import sys; sys.path.insert(0, {str(RING_DIR)!r})\n{body}"


def popen_python(body: str, log: Path | None = None, **kw) -> subprocess.Popen:
    """Start ``python -c body``; output goes to the file ``log`` (not a pipe: grandchildren such as
    multiprocessing's resource tracker may keep it open) or, without ``log``, to pipes."""
    out = open(log, "w") if log is not None else subprocess.PIPE  # noqa: SIM115
    try:
        p = subprocess.Popen(
            [sys.executable, "-c", python_code(body)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if log is not None else subprocess.PIPE,
            text=True,
            **kw,
        )
    finally:
        if log is not None:
            out.close()
    track(p.pid)
    return p


def run_python(body: str, timeout: float) -> subprocess.CompletedProcess:
    """Run a program that can import ringworkers to its end; a hang fails the test (and the process is
    killed)."""
    return support.run_python(python_code(body), timeout=timeout)


def pid_running(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
