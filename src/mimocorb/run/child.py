"""The worker side of a run: what runs inside each worker process before and around the user function.

``worker_main`` is the target of every worker process. It depends on nothing the parent set up in
memory, so it works the same under fork, spawn and forkserver: the ``WorkerSpec`` carries only
names, paths and setup dicts, and the child imports the user module itself, from the file the setup
names (a forked child finds it already imported and reuses it).

Before the user function is called, the child

* ignores SIGINT and SIGHUP (a Ctrl-C or a closed terminal reaches the whole process group; the
  controller alone decides how the run ends) and takes the default action for SIGTERM (the
  controller's last resort);
* asks the kernel for SIGTERM should the controller die (Linux), so no orphan keeps a buffer alive;
* sends its stdout and stderr (file descriptors 1 and 2, so C extensions and subprocesses too) into
  its own pipe to the controller, which writes every line to run.log with the process name;
* reads stdin from /dev/null, so it never competes with the controller for the keyboard and never
  blocks on a missing terminal;
* routes Python logging to that stderr, at the level of ``Gen_logger``.
* makes ``publish`` (user variables, ``published``) write to its own non-blocking pipe.

An exception of the user function is sent to the controller as a structured message (function name,
traceback) before the process exits with code 1; the controller reports it at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import io
import logging
import os
import signal
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .published import open_channel

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
EXIT_EXCEPTION = 1


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs, picklable under every start method."""

    key: str
    fkt_name: str
    module_name: str
    module_file: str
    instance: int
    source_list: list[dict] | None
    sink_list: list[dict] | None
    observe_list: list[dict] | None
    config_dict: dict[Any, Any]
    rb_info: dict[str, str]
    log_level: int = logging.WARNING
    # imported by name rather than by file: the run's own workers (network links) and functions of an
    # installed module named in the setup (file_name: mimocorb.devices)
    builtin: bool = False

    @property
    def label(self) -> str:
        return f"{self.key} ({self.fkt_name})"


@dataclass(frozen=True)
class WorkerError:
    """What the controller learns about an exception in a worker."""

    key: str
    fkt_name: str
    pid: int
    exc_type: str
    message: str
    traceback: str

    def summary(self) -> str:
        return f"{self.exc_type}: {self.message}" if self.message else self.exc_type


_messages: Connection | None = None


def send_message(item: Any) -> None:
    """A structured message to the controller (the run's own workers report their links this way)."""
    if _messages is not None:
        _messages.send(item)


def worker_main(
    spec: WorkerSpec, output: Connection, messages: Connection, variables: Connection | None = None
) -> None:
    """Target of every worker process (see the module docstring)."""
    global _messages
    _messages = messages
    open_channel(variables)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closed terminal: the controller ends the run
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    _redirect_output(output)
    _setup_logging(spec.log_level)
    try:
        function = _load_function(spec)
        config = dict(spec.config_dict)
        function(spec.source_list, spec.sink_list, spec.observe_list, config, **spec.rb_info)
    except SystemExit:
        raise  # the normal end (code 0, e.g. the ring's EndOfStream at shutdown) or the user's own exit code
    except BaseException as exc:
        _report(spec, exc, messages)
        _flush()
        os._exit(EXIT_EXCEPTION)
    finally:
        _flush()


def _load_function(spec: WorkerSpec) -> Any:
    """Import the user module by file, under its bare name, and return the function.

    The rules of ``mimocorb.config.userfuncs`` (which validated this module in the controller): the
    module's directory goes on ``sys.path`` (sibling imports), a module of that name imported from the
    same file is reused (always the case after fork). Written out here rather than imported so that a
    spawned worker does not load the validation machinery (pydantic) just to import one file.
    The run's own workers and modules the setup names by their dotted name are imported by name.
    """
    if spec.builtin:
        return getattr(importlib.import_module(spec.module_name), spec.fkt_name)
    file = Path(spec.module_file)
    package = file.name == "__init__.py"
    directory = str(file.parent.parent if package else file.parent)
    if directory not in sys.path:
        sys.path.append(directory)
    module = sys.modules.get(spec.module_name)
    same = module is not None and _same_file(getattr(module, "__file__", None), file)
    if not same:
        if module is not None:
            raise ImportError(
                f"module name '{spec.module_name}' is taken by {getattr(module, '__file__', module)!r} "
                f"in the worker process, so {file} cannot be imported under it"
            )
        location = [str(file.parent)] if package else None
        module_spec = importlib.util.spec_from_file_location(
            spec.module_name, file, submodule_search_locations=location
        )
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"{file} cannot be imported as a Python module")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[spec.module_name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[spec.module_name]
            raise
    function = getattr(module, spec.fkt_name, None)
    if not callable(function):
        raise AttributeError(f"module '{spec.module_name}' ({file}) has no callable '{spec.fkt_name}'")
    return function


def _same_file(name: str | None, file: Path) -> bool:
    try:
        return name is not None and os.path.samefile(name, file)
    except OSError:
        return False


def _report(spec: WorkerSpec, exc: BaseException, messages: Connection) -> None:
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code is worker_main.__code__ and tb.tb_next is not None:
        tb = tb.tb_next  # start at the user's code, not at this wrapper
    try:
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        message = str(exc)
    except Exception:  # an exception whose __str__ fails still has a type
        text, message = f"{type(exc).__name__} (its message cannot be shown)\n", ""
    error = WorkerError(spec.key, spec.fkt_name, os.getpid(), type(exc).__name__, message, text)
    try:
        messages.send(error)
    except Exception:  # the controller is gone or the pipe broke: say it where it can still be seen
        sys.stderr.write(f"exception in worker {spec.label}:\n{text}")


def _redirect_output(output: Connection) -> None:
    """stdout and stderr (the file descriptors) into the pipe to the controller; stdin from /dev/null."""
    fd = output.fileno()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    output.close()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
    )
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process


def _setup_logging(level: int) -> None:
    """Forked children inherit the controller's handlers (console, run.log): replace them."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("mimocorb", "mimocorb.run"):
        logger = logging.getLogger(name)
        for h in list(logger.handlers):
            logger.removeHandler(h)
    from ..loggers import Gen_logger

    Gen_logger.set_level(level)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stream has nothing left to flush
            stream.flush()


def _die_with_parent() -> None:
    """Linux: SIGTERM when the process that started us ends, so no worker outlives a killed controller."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the running program's symbols include libc's prctl
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass
