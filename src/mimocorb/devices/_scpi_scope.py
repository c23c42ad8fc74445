"""The SCPI oscilloscope source: single acquisitions of a Rigol, Keysight, Tektronix or Siglent
oscilloscope over VISA into the first buffer, one acquisition per event.

The buffer's fields name the channels, ``CH1`` to ``CH4``, ``channel_per_slot`` samples each: a float
field gets volts (the preamble of each acquisition applied), an integer field the ADC counts as sent. A
float field ``time_s`` gets each sample's time relative to the trigger.

Each acquisition is armed as a single one, the status asked until it is complete, and every channel read;
``*IDN?`` is logged at the start. A pause stops the scope and a resume arms it again; the end of the run
leaves it stopped. A scope that stops answering is reported, reconnected with growing intervals for
``reconnect_time`` seconds (and configured again), and otherwise ends the run in order with every event
acquired so far. Needs PyVISA and PyVISA-py, the ``devices`` extra.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import (
    Source,
    Timing,
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
from ._mcpha import DeviceError
from ._scpi import PROFILES, Scale, ScpiScope, require_visa

DEVICE = "scpi_scope"
CHANNELS = ("CH1", "CH2", "CH3", "CH4")
TIME_FIELD = "time_s"
DEFAULTS: dict[str, Any] = {
    "resource": None,
    "profile": "auto",
    "commands": [],
    "connect_timeout": 5.0,
    "timeout": 2.0,
    "trigger_timeout": 10.0,
    "poll_interval": 0.005,
    "reconnect_time": 30.0,
}
RESOURCE = re.compile(
    r"^(TCPIP\d*::[^:]+::\d+::SOCKET|TCPIP\d*::[^:]+(::[^:]+)?::INSTR|USB\d*::.+::INSTR)$", re.I
)

log = logging.getLogger("mimocorb.devices.scpi_scope")


@dataclass(frozen=True)
class ScpiConfig:
    """The VISA resource, the dialect and extra commands, and the time limits, checked (``from_config``)."""

    resource: str
    profile: str
    commands: tuple[str, ...]
    connect_timeout: float
    timeout: float
    trigger_timeout: float
    poll_interval: float
    reconnect_time: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ScpiConfig:
        c = with_defaults(DEVICE, config, DEFAULTS)
        resource = text(
            DEVICE, c, "resource", "TCPIP::192.168.1.20::5025::SOCKET or TCPIP::scope.local::INSTR"
        )
        if not RESOURCE.match(resource):
            raise ValueError(
                f"{DEVICE}: 'resource' must be a VISA resource name: TCPIP::HOST::PORT::SOCKET, "
                f"TCPIP::HOST::INSTR or USB::VENDOR::PRODUCT::SERIAL::INSTR, got {resource!r}"
            )
        commands = c["commands"]
        if not isinstance(commands, list) or not all(isinstance(command, str) for command in commands):
            raise ValueError(f"{DEVICE}: 'commands' must be a list of SCPI commands, got {commands!r}")
        return cls(
            resource=resource,
            profile=choice(DEVICE, c, "profile", ("auto", *PROFILES)),
            commands=tuple(commands),
            connect_timeout=number(DEVICE, c, "connect_timeout"),
            timeout=number(DEVICE, c, "timeout"),
            trigger_timeout=number(DEVICE, c, "trigger_timeout"),
            poll_interval=number(DEVICE, c, "poll_interval", zero=True),
            reconnect_time=number(DEVICE, c, "reconnect_time", zero=True),
        )


def check_buffer(dtype: np.dtype) -> list[int]:
    """The channel numbers the buffer names."""
    known_fields(DEVICE, dtype, (*CHANNELS, TIME_FIELD))
    channels = [CHANNELS.index(name) + 1 for name in dtype.names or () if name in CHANNELS]
    if not channels:
        raise ValueError(f"{DEVICE}: the 'write' buffer needs at least one channel field, CH1 to CH4")
    for name in dtype.names or ():
        kinds = "f" if name == TIME_FIELD else "iuf"
        if dtype[name].kind not in kinds or dtype[name].shape:
            raise ValueError(
                f"{DEVICE}: field {name} must be a float (volts, seconds) or integer (counts) type"
            )
    return channels


def check_scpi_config(
    config_dict: Mapping[str, Any], buffers: Mapping[str, list], values_per_slot: Mapping[str, list]
) -> None:
    """What ``mimocorb validate`` checks: the config keys, the buffer the source writes, and PyVISA."""
    check_buffer(one_write_buffer(DEVICE, buffers))
    ScpiConfig.from_config(config_dict)
    require_visa()


Waveforms = list[tuple[Scale | None, np.ndarray]]


def _storer(dtype: np.dtype, points: int) -> Callable[[np.ndarray, Waveforms], None]:
    """How an acquisition gets into a slot: volts into float fields, counts into integer ones."""
    names = dtype.names or ()
    channels = [(name, dtype[name].kind == "f") for name in names if name in CHANNELS]

    def store(slot: np.ndarray, waveforms: Waveforms) -> None:
        for (name, volts), (scale, counts) in zip(channels, waveforms, strict=True):
            if len(counts) != points:
                raise RuntimeError(
                    f"{DEVICE}: the scope sent {len(counts)} points of {name}, the buffer holds "
                    f"channel_per_slot = {points}: set one to the other"
                )
            slot[name] = scale.volts(counts) if volts and scale else counts
        first = waveforms[0][0]
        if TIME_FIELD in names and first:
            slot[TIME_FIELD] = first.seconds(points)

    return store


class ScpiScopeSource(Source):
    """Reads single acquisitions into the function's 'write' buffer (module docstring); arguments
    and errors as for ``Source``.
    """

    def __init__(self, sink_list: list[dict] | None, config_dict: dict | None, **rb_info: Any):
        setup = write_setup(DEVICE, sink_list, rb_info, log)
        dtype = np.dtype(setup["dtype"])
        self.channels = check_buffer(dtype)
        self.points = int(setup["values_per_slot"])
        self.config = ScpiConfig.from_config(dict(config_dict or {}))
        self._attach(setup)
        self._store = _storer(dtype, self.points)
        self._scaled = TIME_FIELD in (dtype.names or ()) or any(
            dtype[n].kind == "f" for n in dtype.names or ()
        )
        self.scope = self._connect()
        run_log(log).info(
            "connected to %s: %s (profile %s)", self.config.resource, self.scope.idn, self.scope.profile.name
        )

    def _connect(self) -> ScpiScope:
        c = self.config
        scope = ScpiScope(c.resource, c.timeout, c.connect_timeout)
        try:
            scope.use(c.profile)
            scope.configure(self.channels, self.points, c.commands)
        except BaseException:
            scope.close()
            raise
        return scope

    def _acquire(self) -> None:
        timing = Timing()
        while self.state.running():
            if self.state.paused():
                self._pause()
                timing.restart()
                continue
            try:
                self.scope.arm()
                timing.armed = time.perf_counter()
                if self._triggered() and not self._take(timing):
                    return
            except DeviceError as exc:
                scope = reconnect(
                    self._connect, self.state, self.config.reconnect_time, log,
                    f"the oscilloscope at {self.config.resource}", self.events, exc,
                )  # fmt: skip
                if scope is None:
                    return
                self.scope = scope
                timing.restart()

    def _triggered(self) -> bool:
        """Wait until the acquisition is complete; False if the run paused or ended first."""
        warn_at = time.monotonic() + self.config.trigger_timeout
        while self.state.waiting():
            if self.scope.done():
                return True
            if time.monotonic() > warn_at:
                log.warning("no trigger for %g s; still waiting", self.config.trigger_timeout)
                warn_at = time.monotonic() + self.config.trigger_timeout
            time.sleep(self.config.poll_interval)
        return False

    def _take(self, timing: Timing) -> bool:
        """Read every channel into a slot; False if the run ended before a slot was free."""
        timestamp, dead = timing.captured()
        waveforms = [self.scope.read_channel(n, self._scaled) for n in self.channels]
        return self._commit(lambda slot: self._store(slot, waveforms), timestamp, dead)

    def _pause(self) -> None:
        """Stop the scope until the run resumes or ends; the loop arms it again."""
        try:
            self.scope.stop()
        except DeviceError as exc:
            log.warning("%s", exc)
        self.state.sleep_while_paused()

    def _finish(self) -> None:
        """Leave the scope stopped and the connection closed, whatever ended the run."""
        try:
            self.scope.stop()
        except DeviceError:
            pass  # gone already: a scope we cannot reach is stopped or will be by hand
        finally:
            self.scope.close()


def scpi_scope(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info) -> None:
    """Source function for a setup: ``file_name: mimocorb.devices``, ``fkt_name: scpi_scope``.

    Single acquisitions of a SCPI oscilloscope (Rigol, Keysight, Tektronix, Siglent) over VISA, or of
    ``mimocorb simulate scpi``, into the 'write' buffer by channel; config keys in docs/devices.md.
    """
    ScpiScopeSource(sink_list, config_dict, **rb_info)()


scpi_scope.check_config = check_scpi_config  # type: ignore[attr-defined]  # a function attribute
