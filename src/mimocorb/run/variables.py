"""The run's variables: every number one sample of the run consists of, by name.

``RunVariables.current`` returns them as ``dict[str, float]``; the Sampler hands that dict, as a
``VariableSample`` with the time and the run state, to each of its consumers (the history writer first,
then the alarms) every ``interval`` seconds. The names:

* per buffer: ``<buffer>.events``, ``<buffer>.rate_hz``, ``<buffer>.fill`` (fraction 0..1),
  ``<buffer>.deadtime``, ``<buffer>.lost``;
* per function of the setup (its key, e.g. ``Fkt_main``), summed over its processes:
  ``<worker>.cpu`` (fraction of one core), ``<worker>.memory_mb`` (resident, 10^6 bytes),
  ``<worker>.restarts``;
* ``disk_free_gb``: free space (10^9 bytes) of the file system of the output directory;
* user variables, under the names the workers publish them (``mimocorb.run.publish``, see
  ``published``): a worker calls ``publish("temperature", 21.5)``; the call never blocks, the value
  reaches the controller through the process's own pipe and counts from the next sample on, as long as
  the process runs.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .status import BufferSample
from .supervisor import WorkerProcess

BYTES_PER_MB = 1e6
BYTES_PER_GB = 1e9


@dataclass(frozen=True)
class VariableSample:
    """One sample of the run's variables: ``time`` (Unix time, s), the run ``state``, the ``values``."""

    time: float
    state: str
    values: dict[str, float]


VariableConsumer = Callable[[VariableSample], None]


def buffer_variables(samples: Iterable[BufferSample]) -> dict[str, float]:
    values: dict[str, float] = {}
    for s in samples:
        values[f"{s.name}.events"] = float(s.events)
        values[f"{s.name}.rate_hz"] = s.rate
        values[f"{s.name}.fill"] = s.fill / s.slots if s.slots else 0.0
        values[f"{s.name}.deadtime"] = s.deadtime
        values[f"{s.name}.lost"] = float(s.lost)
    return values


class ProcessMeter:
    """CPU (fraction of a core since the last sample) and resident memory of processes by pid.

    psutil measures the CPU time between two calls on the same process object, so the objects are kept
    while their processes run.
    """

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self._processes: dict[int, Any] = {}

    def measure(self, pid: int) -> tuple[float, float]:
        """(cpu, memory_mb) of one process; zeros for a process that is gone."""
        psutil = self._psutil
        try:
            process = self._processes.get(pid)
            if process is None:
                process = self._processes[pid] = psutil.Process(pid)
            with process.oneshot():
                return process.cpu_percent(None) / 100.0, process.memory_info().rss / BYTES_PER_MB
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._processes.pop(pid, None)
            return 0.0, 0.0

    def forget_all_but(self, pids: set[int]) -> None:
        for pid in set(self._processes) - pids:
            del self._processes[pid]


class RunVariables:
    """Gathers the current variables of a run (see the module docstring).

    ``workers()`` gives the worker process slots; ``output_directory`` is the directory whose file
    system ``disk_free_gb`` measures (``None``: a run without output, no disk variable).
    """

    def __init__(self, workers: Callable[[], list[WorkerProcess]], output_directory: Path | None) -> None:
        self.workers = workers
        self.output_directory = output_directory
        self.meter = ProcessMeter()

    def current(self, samples: Iterable[BufferSample]) -> dict[str, float]:
        """All variables of one sample: buffers, workers, disk, then the user variables."""
        values = buffer_variables(samples)
        values.update(self.worker_variables())
        free = self.disk_free_gb()
        if free is not None:
            values["disk_free_gb"] = free
        values.update(self.user_variables())
        return values

    def worker_variables(self) -> dict[str, float]:
        values: dict[str, float] = {}
        running: set[int] = set()
        for worker in self.workers():
            cpu = memory = 0.0
            if worker.alive and worker.pid is not None:
                running.add(worker.pid)
                cpu, memory = self.meter.measure(worker.pid)
            key = worker.key
            values[f"{key}.cpu"] = values.get(f"{key}.cpu", 0.0) + cpu
            values[f"{key}.memory_mb"] = values.get(f"{key}.memory_mb", 0.0) + memory
            values[f"{key}.restarts"] = values.get(f"{key}.restarts", 0.0) + worker.restarts
        self.meter.forget_all_but(running)
        return values

    def user_variables(self) -> dict[str, float]:
        """What the running processes published; of a name several publish, the later process's value."""
        values: dict[str, float] = {}
        for worker in self.workers():
            if worker.alive:
                values.update(worker.published.values)
        return values

    def disk_free_gb(self) -> float | None:
        if self.output_directory is None:
            return None
        with contextlib.suppress(OSError):
            return shutil.disk_usage(self.output_directory).free / BYTES_PER_GB
        return None
