"""The run directory: its unique name, copies of the setup and config files, run.log (and the log records
routed there), JSON output.

``<output_directory>/<setup stem>_<YYYY-MM-DD_HHMMSS>[_n]/`` — the whole stem (mimoCoRB 1.0.2 dropped the
last character of a stem without ``setup``), local time of the start, and ``_1``, ``_2``, ... when a
directory of that name exists already (two runs in one second), so a run never writes into another run's
directory. The directory is created atomically (``mkdir`` fails if
it exists), which also makes two runs started at the same moment by different processes safe.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from .status import Console, ConsoleLogHandler

DIR_MODE = 0o770


def make_run_directory(output_directory: Path, setup_stem: str, when: _dt.datetime | None = None) -> Path:
    """Create and return a new, unique run directory below ``output_directory`` (created if needed)."""
    when = when or _dt.datetime.now()
    output_directory.mkdir(parents=True, exist_ok=True)
    base = f"{setup_stem}_{when:%Y-%m-%d_%H%M%S}"
    for n in range(10000):
        path = output_directory / (base if n == 0 else f"{base}_{n}")
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free run directory name for {output_directory / base}")


def copy_into(directory: Path, files: Iterable[Path]) -> list[Path]:
    """Copy ``files`` into ``directory`` under their base names, wherever they are; the first name wins."""
    copied: list[Path] = []
    seen: set[str] = set()
    for file in files:
        if file.name in seen:
            continue
        seen.add(file.name)
        target = directory / file.name
        shutil.copy2(file, target)
        copied.append(target)
    return copied


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")
    tmp.replace(path)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    return repr(value)


class RunLog:
    """``run.log``: one timestamped line per message, tagged with who wrote it (controller or worker)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO | None = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self._lock = threading.Lock()  # logging records may come from user threads of the controller

    def write(self, source: str, text: str) -> None:
        if self._file is None:
            return
        stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        lines = text.splitlines() or [""]
        with self._lock:
            for line in lines:
                self._file.write(f"{stamp} [{source}] {line}\n")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class RunLogHandler(logging.Handler):
    """Sends log records of the controller process (ring, access classes, controller) to run.log."""

    def __init__(self, runlog: RunLog, source: str = "controller") -> None:
        super().__init__(logging.DEBUG)
        self.runlog = runlog
        self.source = source
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.runlog.write(self.source, self.format(record))


def relative_prefix(run_dir: Path, given_output: str | None, cwd: Path) -> str:
    """``config_dict["directory_prefix"]``: the run directory with a trailing "/", as in mimoCoRB 1.0.2.

    Relative to the working directory, as in mimoCoRB, when the output directory was given as a relative
    path below it; absolute otherwise (absolute output directory, or one found next to the setup file).
    """
    if given_output is not None and not os.path.isabs(given_output):
        try:
            return str(run_dir.relative_to(cwd)) + "/"
        except ValueError:
            pass
    return str(run_dir) + "/"


def route_logging(runlog: RunLog | None, console: Console, debug: bool) -> Callable[[], None]:
    """Log records of this process (ring, controller) go to run.log, warnings also to the console, until
    the function returned is called."""
    logger = logging.getLogger("mimocorb")
    handlers: list[logging.Handler] = []
    if runlog is not None:
        to_runlog = RunLogHandler(runlog)
        to_runlog.setLevel(logging.DEBUG if debug else logging.INFO)
        handlers.append(to_runlog)
    handlers.append(ConsoleLogHandler(console))
    for handler in handlers:
        logger.addHandler(handler)

    def unroute() -> None:
        for handler in handlers:
            logger.removeHandler(handler)

    return unroute
