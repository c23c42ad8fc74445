"""The CosmicWatch source: every event line of a CosmicWatch desktop muon detector (v2 or v3X) on a serial
port becomes one event in the first buffer, its values in the buffer's fields by name.

The device's own clock and dead time are kept as fields (``device_time_ms``, ``deadtime_ms``); the
event's timestamp is the host's time when the line arrived, and its dead-time fraction is the share of the
device time since the previous event that the device itself counted as dead. Banner, header and boot lines
go to the run log.

The port is read in chunks of whatever has arrived and split into lines here, so that nothing is lost or
merged at the highest rates the device reaches. The device cannot be told to stop: lines that arrive
during a pause are read and dropped (their event numbers show the gap), so the serial buffers never
overflow and the first event after the resume is current. A port that fails (cable pulled, device reset)
is reported, reopened with growing intervals for ``reconnect_time`` seconds, and otherwise ends the run in
order with every event read so far.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._optional import require
from ._common import (
    Source,
    choice,
    known_fields,
    number,
    one_write_buffer,
    reconnect,
    run_log,
    text,
    with_defaults,
    write_setup,
)
from ._cosmicwatch_lines import FIELDS, FORMATS, NAME, NotAnEvent, parse_line
from ._mcpha import DeviceError

DEVICE = "cosmicwatch"
BAUDRATES = (300, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
DEFAULTS: dict[str, Any] = {"port": None, "baudrate": 9600, "format": "auto", "reconnect_time": 30.0}
PURPOSE = "the CosmicWatch source (pyserial)"
READ_TIMEOUT = 0.1  # s a read waits for the first byte: how soon the end of the run is seen

log = logging.getLogger("mimocorb.devices.cosmicwatch")


@dataclass(frozen=True)
class CosmicWatchConfig:
    """The port, its baud rate and line format, and the reconnection time, checked (``from_config``)."""

    port: str
    baudrate: int
    format: str
    reconnect_time: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CosmicWatchConfig:
        c = with_defaults(DEVICE, config, DEFAULTS)
        return cls(
            port=text(DEVICE, c, "port", "/dev/ttyUSB0 (v2), /dev/ttyACM0 (v3X) or COM3"),
            baudrate=choice(DEVICE, c, "baudrate", BAUDRATES),
            format=choice(DEVICE, c, "format", FORMATS),
            reconnect_time=number(DEVICE, c, "reconnect_time", zero=True),
        )


def check_buffer(dtype: np.dtype, values_per_slot: int) -> None:
    known_fields(DEVICE, dtype, FIELDS)
    if values_per_slot != 1:
        raise ValueError(
            f"{DEVICE}: one event is one line: channel_per_slot must be 1, got {values_per_slot}"
        )
    for name in dtype.names or ():
        kinds = "SU" if name == NAME else "iuf"
        if dtype[name].kind not in kinds or dtype[name].shape:
            wanted = "a text type such as U16" if name == NAME else "a number type"
            raise ValueError(f"{DEVICE}: field {name} must be {wanted}, got {dtype[name]}")


def check_cosmicwatch_config(
    config_dict: Mapping[str, Any], buffers: Mapping[str, list], values_per_slot: Mapping[str, list]
) -> None:
    """What ``mimocorb validate`` checks: the config keys, the buffer the source writes, and pyserial."""
    check_buffer(one_write_buffer(DEVICE, buffers), values_per_slot["write"][0])
    CosmicWatchConfig.from_config(config_dict)
    require("serial", "devices", PURPOSE)


def absent_message(port: str, exc: BaseException) -> str:
    return (
        f"cannot open the CosmicWatch's serial port {port}: {exc}. Check that the detector is plugged in "
        f"and powered (its display or LED is lit), that {port} is its port ('mimocorb devices' lists the "
        "serial ports), and that you may open it: on Linux be in the group that owns it ('ls -l "
        f"{port}', usually dialout: 'sudo usermod -aG dialout $USER', then log in again)"
    )


def _filler(dtype: np.dtype) -> Callable[[np.ndarray, Mapping[str, Any]], None]:
    """Fields by name; what a line does not have (v3X's sensors in a v2 line) is zero or empty."""
    defaults = {name: "" if dtype[name].kind in "SU" else 0 for name in dtype.names or ()}

    def fill(slot: np.ndarray, fields: Mapping[str, Any]) -> None:
        for name, default in defaults.items():
            slot[name] = fields.get(name, default)

    return fill


class _DeadTime:
    """The fraction of device time the device counted as dead since the previous event."""

    def __init__(self) -> None:
        self.previous: tuple[float, float] | None = None

    def fraction(self, fields: Mapping[str, Any]) -> float:
        now = (float(fields["device_time_ms"]), float(fields["deadtime_ms"]))
        before, self.previous = self.previous, now
        if before is None or now[0] <= before[0]:
            return 0.0  # the first event, or the device was reset
        return min(max((now[1] - before[1]) / (now[0] - before[0]), 0.0), 1.0)


class CosmicWatchSource(Source):
    """Reads a CosmicWatch's event lines into the function's 'write' buffer (module docstring);
    arguments and errors as for ``Source`` (the instrument: the serial port).
    """

    def __init__(self, sink_list: list[dict] | None, config_dict: dict | None, **rb_info: Any):
        setup = write_setup(DEVICE, sink_list, rb_info, log)
        dtype = np.dtype(setup["dtype"])
        check_buffer(dtype, int(setup["values_per_slot"]))
        self.config = CosmicWatchConfig.from_config(dict(config_dict or {}))
        self.serial = require("serial", "devices", PURPOSE)
        self._attach(setup)
        self._fill = _filler(dtype)
        self._dead = _DeadTime()
        run_log(log)
        self.port = self._open()
        self.dropped = 0

    def _finish(self) -> None:
        self.port.close()
        log.info("%d event(s) stored, %d dropped while paused", self.events, self.dropped)

    def _open(self) -> Any:
        try:
            return self.serial.Serial(
                self.config.port, self.config.baudrate, timeout=READ_TIMEOUT, exclusive=True
            )
        except (self.serial.SerialException, OSError, ValueError) as exc:
            raise DeviceError(absent_message(self.config.port, exc)) from exc

    def _acquire(self) -> None:
        pending = bytearray()
        while self.state.running():
            try:
                chunk = self.port.read(max(1, self.port.in_waiting))
            except (self.serial.SerialException, OSError) as exc:
                if not self._reopen(exc):
                    return
                pending.clear()
                continue
            arrival = time.time()
            pending += chunk
            *lines, rest = pending.split(b"\n")
            pending[:] = rest
            for line in lines:
                if not self._line(line.decode("ascii", "replace"), arrival):
                    return

    def _reopen(self, exc: BaseException) -> bool:
        """The port failed: open it again, or raise DeviceError; False if the run ended meanwhile."""
        self.port.close()
        lost = DeviceError(f"the CosmicWatch at {self.config.port} failed: {exc}")
        port = reconnect(
            self._open, self.state, self.config.reconnect_time, log,
            f"the CosmicWatch at {self.config.port}", self.events, lost,
        )  # fmt: skip
        if port is None:
            return False
        self.port = port
        return True

    def _line(self, line: str, arrival: float) -> bool:
        """One line: an event into the buffer, anything else into the log; False once the run ended."""
        try:
            fields = parse_line(line, self.config.format)
        except NotAnEvent as exc:
            if line.strip():
                log.log(logging.WARNING if line[:1].isdigit() else logging.INFO, "device: %s", exc)
            return True
        if self.state.paused():
            self.dropped += 1
            return True
        dead = self._dead.fraction(fields)
        return self._commit(lambda slot: self._fill(slot, fields), arrival, dead)


def cosmicwatch(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info) -> None:
    """Source function for a setup: ``file_name: mimocorb.devices``, ``fkt_name: cosmicwatch``.

    Event lines of a CosmicWatch muon detector (v2 or v3X) on a serial port, or of ``mimocorb simulate
    cosmicwatch``, into the 'write' buffer by field name; config keys in docs/devices.md.
    """
    CosmicWatchSource(sink_list, config_dict, **rb_info)()


cosmicwatch.check_config = check_cosmicwatch_config  # type: ignore[attr-defined]  # a function attribute
