"""What a validated setup resolves to: the typed description the run controller builds a run from.

Everything here is plain data (numpy dtypes, paths, dicts) plus the resolved user callables, so that
the controller never has to look at the YAML again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..history.settings import HistorySettings
from .errors import Issue

if TYPE_CHECKING:
    from ..alarms import AlarmSpec

PathBase = Literal["absolute", "cwd", "setup_dir", "import"]
ConfigOrigin = Literal["config_file", "common", "FunctionConfigs", "none"]
Dtype = list[tuple[str, np.dtype]] | np.dtype


@dataclass(frozen=True)
class ResolvedPath:
    """A path from a setup or config file: as written, as absolute path, and which base resolved it.

    Base ``import`` is a ``file_name`` that names an importable module rather than a file; ``path`` is
    then where that module was found, and workers import it by name.
    """

    given: str
    path: Path
    base: PathBase


@dataclass(frozen=True)
class ServeLink:
    """``serve:`` of a buffer: its network reader groups, offered at ``address``; key paths absolute."""

    address: str
    groups: tuple[str, ...] = ("default",)
    secret_key: str | None = None
    client_keys: str | None = None
    insecure: bool = False
    observe_interval: float = 0.05  # least s between two samples for remote observers


@dataclass(frozen=True)
class ConnectLink:
    """``connect:`` of a buffer: fed from the buffer served at ``address``; key paths absolute."""

    address: str
    group: str = "default"
    mode: Literal["read", "observe"] = "read"
    secret_key: str | None = None
    server_key: str | None = None
    insecure: bool = False
    timeout: float = 10.0  # the server silent this long: reported, the run ends with what it got


@dataclass(frozen=True)
class BufferLayout:
    """One ring buffer, ready for ``RingBuffer(number_of_slots, values_per_slot, dtype)``.

    ``dtype`` is a list of ``(field_name, numpy.dtype)`` tuples in file order for a field mapping
    (user code indexes events by field name), or a plain ``numpy.dtype`` for a type-string ``data_type``.
    """

    name: str
    number_of_slots: int
    values_per_slot: int
    dtype: Dtype
    serve: ServeLink | None = None
    connect: ConnectLink | None = None


@dataclass(frozen=True)
class WorkerFunction:
    """One ``Fkt_<index>`` block: which callable to run in how many processes, connected to what."""

    key: str
    index: int
    fkt_name: str
    file_name: str
    module: ResolvedPath
    module_name: str
    function: Callable[..., Any] = field(repr=False, compare=False)
    num_process: int
    rb_assign: dict[str, str]
    on_error: Literal["end", "restart"]
    config_dict: dict[Any, Any]
    config_origin: ConfigOrigin
    config_path: Path | None

    @property
    def reads(self) -> tuple[str, ...]:
        """Names of the buffers this function reads, in ``RB_assign`` order."""
        return self._with_role("read")

    @property
    def writes(self) -> tuple[str, ...]:
        """Names of the buffers this function writes, in ``RB_assign`` order."""
        return self._with_role("write")

    @property
    def observes(self) -> tuple[str, ...]:
        """Names of the buffers this function observes, in ``RB_assign`` order."""
        return self._with_role("observe")

    def _with_role(self, role: str) -> tuple[str, ...]:
        return tuple(name for name, value in self.rb_assign.items() if value == role)


@dataclass(frozen=True)
class ValidatedSetup:
    """A setup that passed every check; ``warnings`` lists what was accepted but looks suspicious."""

    setup_file: Path
    cwd: Path
    setup_dict: dict[Any, Any]
    output_directory: ResolvedPath
    gui_control: bool
    kbd_control: bool
    buffers: tuple[BufferLayout, ...]
    functions: tuple[WorkerFunction, ...]
    runtime: float
    runevents: int
    common_config_file: ResolvedPath | None
    config_files: tuple[Path, ...]
    warnings: tuple[Issue, ...]
    web: tuple[str, int] | None = None  # (host, port) of the live dashboard
    alarms: tuple[AlarmSpec, ...] = ()  # the setup's and the built-in ones
    history: HistorySettings = field(default_factory=HistorySettings)

    def summary(self) -> str:
        """A few lines describing buffers, functions and limits, for ``mimocorb validate``."""
        lines = [f"{len(self.buffers)} buffer(s):"]
        lines += [f"  {_buffer_line(b)}" for b in self.buffers]
        lines.append(f"{len(self.functions)} function(s):")
        lines += [f"  {_function_line(f, self.cwd)}" for f in self.functions]
        runtime = f"{self.runtime:g} s" if self.runtime else "unlimited"
        runevents = str(self.runevents) if self.runevents else "unlimited"
        lines.append(f"run limits: runtime {runtime}, runevents {runevents}")
        lines.append(f"output directory: {display_path(self.output_directory.path, self.cwd)}")
        lines += _alarm_lines(self.alarms)
        return "\n".join(lines)


def _buffer_line(buffer: BufferLayout) -> str:
    if isinstance(buffer.dtype, list):
        fields = ", ".join(f"{name}:{dtype}" for name, dtype in buffer.dtype)
    else:
        fields = str(buffer.dtype)
    line = f"{buffer.name}: {buffer.number_of_slots} slots x {buffer.values_per_slot} values [{fields}]"
    if buffer.serve is not None:
        line += f", served at {buffer.serve.address} (groups {', '.join(buffer.serve.groups)})"
    if buffer.connect is not None:
        line += f", fed from {buffer.connect.address} ({buffer.connect.mode}, group {buffer.connect.group})"
    return line


def _function_line(function: WorkerFunction, cwd: Path) -> str:
    assign = ", ".join(f"{name}:{role}" for name, role in function.rb_assign.items()) or "no buffers"
    config: str = function.config_origin
    if function.config_path is not None:
        config += f" {display_path(function.config_path, cwd)}"
    module = function.module
    origin = module.given if module.base == "import" else display_path(module.path, cwd)
    return (
        f"{function.key}: {function.fkt_name} from {origin} "
        f"x{function.num_process} ({assign}; config: {config})"
    )


def _alarm_lines(alarms: tuple[AlarmSpec, ...]) -> list[str]:
    own = [a for a in alarms if not a.builtin]
    lines = [f"{len(own)} alarm(s):"] if own else []
    for a in own:
        actions = ", ".join(action.describe() for action in a.actions)
        lines.append(f"  {a.name}: {a.condition} for {a.hold:g} s ({a.severity}; {actions})")
    builtin = sorted({a.name.partition(":")[0] for a in alarms if a.builtin})
    lines.append(f"built-in alarms: {', '.join(builtin) or 'all off'}")
    return lines


def display_path(path: Path, cwd: Path) -> str:
    """A path relative to the working directory when it lies below it, else absolute."""
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)
