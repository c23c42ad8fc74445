"""The Red Pitaya source: waveforms of the MCPHA server's oscilloscope into the first buffer.

One capture is one event: the buffer's fields ``IN1`` (required) and ``IN2`` (optional) receive the two
inputs, ``channel_per_slot`` samples each. An int16 field gets the ADC counts as sent; when the buffer is
exactly ``IN1, IN2`` of int16 the samples go from the socket straight into the slot. A float field gets
millivolts (``mv_per_count``).

The board is armed, polled until its capture is complete, read and re-armed. The timestamp of an event
is the time the capture was seen complete; its dead time is the fraction of the time since the previous
capture during which the scope was not armed. A pause disarms the scope (and stops the histogram timers),
a resume re-arms it; the end of the run leaves the scope disarmed and the connection closed.

A board that stops answering is reported at once, then reconnected with growing intervals for
``reconnect_time`` seconds; if that fails the source raises ``DeviceError`` and the run ends in order with
every event acquired so far.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import Source, Timing, number, one_write_buffer, reconnect, with_defaults, write_setup
from ._mcpha import (
    ADC_MAX,
    ADC_MIN,
    CLOCK_HZ,
    DECIMATIONS,
    MAX_SAMPLES,
    PORT,
    Code,
    DeviceError,
    MCPHAClient,
    ScopeSettings,
    parse_address,
)

DEVICE = "redpitaya"
FIELDS = ("IN1", "IN2")
CHOICES = {
    "trigger_source": ("IN1", "IN2"),
    "trigger_slope": ("rising", "falling"),
    "trigger_mode": ("normal", "auto"),
}
DEFAULTS: dict[str, Any] = {
    "address": None,  # required
    "sample_rate": 4,
    "trigger_source": "IN1",
    "trigger_slope": "rising",
    "trigger_mode": "normal",
    "trigger_level": 500,
    "pretrigger_samples": None,  # a twentieth of the samples
    "invert": [],
    "mv_per_count": 1000 / 8192,  # ±1 V over the 14-bit range (the LV jumper setting)
    "connect_timeout": 5.0,
    "timeout": 2.0,
    "reconnect_time": 30.0,
    "histograms": False,
    "histogram_interval": 10.0,
}
HISTOGRAM_FILE = "redpitaya_histograms.csv"

log = logging.getLogger("mimocorb.devices.redpitaya")


@dataclass(frozen=True)
class RedPitayaConfig:
    """The board's address, its scope settings, the conversion to mV, the time limits and the
    histograms, checked (``from_config``: every error names the key and the values allowed)."""

    host: str
    port: int
    scope: ScopeSettings
    mv_per_count: float
    connect_timeout: float
    timeout: float
    reconnect_time: float
    histograms: bool
    histogram_interval: float

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], samples: int) -> RedPitayaConfig:
        c = with_defaults(DEVICE, config, DEFAULTS)
        if not isinstance(c["address"], str):
            raise ValueError(
                f"redpitaya: config key 'address' is required: the Red Pitaya's host or host:port "
                f"(the MCPHA server listens on {PORT}), e.g. rp-f0a1b2.local or 127.0.0.1:10001"
            )
        try:
            host, port = parse_address(c["address"])
        except ValueError as exc:
            raise ValueError(f"redpitaya: 'address': {exc}") from None
        return cls(
            host=host,
            port=port,
            scope=_scope(c, samples),
            mv_per_count=number(DEVICE, c, "mv_per_count"),
            connect_timeout=number(DEVICE, c, "connect_timeout"),
            timeout=number(DEVICE, c, "timeout"),
            reconnect_time=number(DEVICE, c, "reconnect_time", zero=True),
            histograms=_flag(c, "histograms"),
            histogram_interval=number(DEVICE, c, "histogram_interval"),
        )


def _scope(c: Mapping[str, Any], samples: int) -> ScopeSettings:
    if c["sample_rate"] not in DECIMATIONS or isinstance(c["sample_rate"], bool):
        rates = ", ".join(map(str, DECIMATIONS))
        raise ValueError(
            f"redpitaya: 'sample_rate' (the decimation of the 125 MHz clock) must be one of {rates}, "
            f"got {c['sample_rate']!r}"
        )
    for key, allowed in CHOICES.items():
        if c[key] not in allowed:
            raise ValueError(f"redpitaya: '{key}' must be one of {', '.join(allowed)}, got {c[key]!r}")
    level = _integer(c, "trigger_level")
    if not ADC_MIN <= level <= ADC_MAX:
        raise ValueError(
            f"redpitaya: 'trigger_level' must be within the ADC range {ADC_MIN} to {ADC_MAX} counts, "
            f"got {level}"
        )
    if not 2 <= samples <= MAX_SAMPLES:
        raise ValueError(
            f"redpitaya: the buffer's channel_per_slot must be 2 to {MAX_SAMPLES}, got {samples}"
        )
    pre = max(samples // 20, 1) if c["pretrigger_samples"] is None else _integer(c, "pretrigger_samples")
    if not 1 <= pre < samples:
        raise ValueError(
            f"redpitaya: 'pretrigger_samples' must be 1 to {samples - 1} (less than the buffer's "
            f"channel_per_slot, {samples}), got {pre}"
        )
    invert = c["invert"]
    if not isinstance(invert, list) or not set(invert) <= set(FIELDS):
        raise ValueError(f"redpitaya: 'invert' must be a list of inputs (IN1, IN2), got {invert!r}")
    return ScopeSettings(
        decimation=c["sample_rate"],
        trigger_channel=FIELDS.index(c["trigger_source"]),
        falling=c["trigger_slope"] == "falling",
        auto=c["trigger_mode"] == "auto",
        level=level,
        pretrigger=pre,
        samples=samples,
        negate=("IN1" in invert, "IN2" in invert),
    )


def _integer(c: Mapping[str, Any], key: str) -> int:
    value = c[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"redpitaya: '{key}' must be an integer, got {value!r}")
    return value


def _flag(c: Mapping[str, Any], key: str) -> bool:
    if not isinstance(c[key], bool):
        raise ValueError(f"redpitaya: '{key}' must be true or false, got {c[key]!r}")
    return c[key]


def check_buffer(dtype: np.dtype) -> None:
    names = dtype.names or ()
    if "IN1" not in names:
        raise ValueError(
            "redpitaya: the 'write' buffer needs a field IN1 (and may have IN2), "
            f"found {list(names) or dtype}"
        )
    extra = [name for name in names if name not in FIELDS]
    if extra:
        raise ValueError(f"redpitaya: the 'write' buffer may have the fields IN1 and IN2 only, found {extra}")
    for name in names:
        kind = dtype[name].kind
        if kind not in "if" or dtype[name].shape:
            raise ValueError(f"redpitaya: field {name} must be an integer (ADC counts) or float (mV) type")


def check_redpitaya_config(
    config_dict: Mapping[str, Any], buffers: Mapping[str, list], values_per_slot: Mapping[str, list]
) -> None:
    """What ``mimocorb validate`` checks: the config keys and the buffer the source writes."""
    check_buffer(one_write_buffer(DEVICE, buffers))
    RedPitayaConfig.from_config(config_dict, values_per_slot["write"][0])


class RedPitayaSource(Source):
    """Reads captures from an MCPHA server into the function's 'write' buffer (module docstring);
    arguments and errors as for ``Source``.
    """

    def __init__(self, sink_list: list[dict] | None, config_dict: dict | None, **rb_info: Any):
        setup = write_setup(DEVICE, sink_list, rb_info, log)
        dtype = np.dtype(setup["dtype"])
        check_buffer(dtype)
        config = dict(config_dict or {})
        self.directory = config.get("directory_prefix", "")
        self.config = RedPitayaConfig.from_config(config, int(setup["values_per_slot"]))
        self._attach(setup)
        self._store = _storer(dtype, self.config.scope.samples, self.config.mv_per_count)
        self.device = self._connect()
        self._next_histograms = time.monotonic() + self.config.histogram_interval

    # -- the run -----------------------------------------------------------------------------------

    def _acquire(self) -> None:
        timing = Timing()
        armed = False
        while self.state.running():
            if self.state.paused():
                self._pause()
                armed = False
                timing.restart()
                continue
            try:
                if not armed:
                    self.device.arm()
                    timing.armed = time.perf_counter()
                if not self.device.wait_captured(self.state.waiting):
                    continue  # paused or ended while armed
                if not self._take(timing):
                    return
                armed = True
                self._histograms_due()
            except DeviceError as exc:
                self._reconnect(exc)
                armed = False
                timing.restart()

    def _take(self, timing: Timing) -> bool:
        """Read the capture into a slot, re-arm, commit; False if the run ended before a slot was free."""
        timestamp, dead = timing.captured()

        def fill(slot: np.ndarray) -> None:
            self._store(self.device, slot)
            self.device.arm()  # the next capture runs while this one is committed
            timing.armed = time.perf_counter()

        return self._commit(fill, timestamp, dead)

    def _pause(self) -> None:
        """Disarm (and stop the live-time timers) until the run resumes or ends."""
        try:
            self.device.disarm()
            if self.config.histograms:
                self.device.send((Code.TIMER_MODE, 0, 0), (Code.TIMER_MODE, 1, 0))
        except DeviceError as exc:
            self._reconnect(exc)
        self.state.sleep_while_paused()
        if self.state.running() and self.config.histograms:
            try:
                self.device.send((Code.TIMER_MODE, 0, 1), (Code.TIMER_MODE, 1, 1))
            except DeviceError as exc:
                self._reconnect(exc)

    # -- the connection ----------------------------------------------------------------------------

    def _connect(self) -> MCPHAClient:
        c = self.config
        device = MCPHAClient(c.host, c.port, c.timeout, c.connect_timeout)
        device.configure(c.scope)
        if c.histograms:
            device.send(
                (Code.RESET_HISTOGRAM, 0, 0),
                (Code.RESET_HISTOGRAM, 1, 0),
                (Code.RESET_TIMER, 0, 0),
                (Code.RESET_TIMER, 1, 0),
                (Code.TIMER_MODE, 0, 1),
                (Code.TIMER_MODE, 1, 1),
            )
        return device

    def _reconnect(self, exc: DeviceError) -> None:
        """Try again with growing intervals for ``reconnect_time``; DeviceError if the board stays away."""
        self.device.close()
        what = f"the MCPHA server at {self.config.address}"
        limit = self.config.reconnect_time
        device = reconnect(self._reconnected, self.state, limit, log, what, self.events, exc)
        if device is not None:
            self.device = device

    def _reconnected(self) -> MCPHAClient:
        c = self.config
        device = MCPHAClient(c.host, c.port, c.timeout, min(c.connect_timeout, 1.0))
        device.configure(c.scope)  # a restarted server has forgotten the settings
        return device

    def _finish(self) -> None:
        """Leave the board disarmed and the connection closed, whatever ended the run."""
        try:
            self.device.disarm()
            if self.config.histograms:
                self.device.send((Code.TIMER_MODE, 0, 0), (Code.TIMER_MODE, 1, 0))
                self._write_histograms()
        except DeviceError:
            pass  # gone already: nothing is armed on a board we cannot reach
        finally:
            self.device.close()

    # -- histograms --------------------------------------------------------------------------------

    def _histograms_due(self) -> None:
        if self.config.histograms and time.monotonic() >= self._next_histograms:
            self._write_histograms()
            self._next_histograms = time.monotonic() + self.config.histogram_interval

    def _write_histograms(self) -> None:
        """The pulse-height spectra and live times, replaced as a whole so a reader never sees half."""
        status = self.device.status()
        counts = [self.device.read_histogram(channel) for channel in (0, 1)]
        live = [status.timer(channel) / CLOCK_HZ for channel in (0, 1)]
        path = os.path.join(self.directory, HISTOGRAM_FILE)
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            out.write(f"# live_time_IN1_s={live[0]:.6f} live_time_IN2_s={live[1]:.6f}\nbin,IN1,IN2\n")
            out.writelines(f"{i},{a},{b}\n" for i, (a, b) in enumerate(zip(*counts, strict=True)))
        os.replace(path + ".tmp", path)


def _storer(dtype: np.dtype, samples: int, mv_per_count: float) -> Callable[[MCPHAClient, np.ndarray], None]:
    """How a capture gets into a slot: straight from the socket when the layouts agree, else converted."""
    if dtype == np.dtype([("IN1", "<i2"), ("IN2", "<i2")]):
        return lambda device, slot: device.read_scope(slot)
    raw = np.empty((samples, 2), "<i2")
    names = [(name, FIELDS.index(name), dtype[name].kind == "f") for name in dtype.names or ()]

    def convert(device: MCPHAClient, slot: np.ndarray) -> None:
        device.read_scope(raw)
        for name, column, to_mv in names:
            slot[name] = raw[:, column] * mv_per_count if to_mv else raw[:, column]

    return convert


def redpitaya(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info) -> None:
    """Source function for a setup: ``file_name: mimocorb.devices``, ``fkt_name: redpitaya``.

    Waveforms of a Red Pitaya running Pavel Demin's MCPHA server (or ``mimocorb simulate redpitaya``)
    into the 'write' buffer; config keys in docs/devices.md.
    """
    RedPitayaSource(sink_list, config_dict, **rb_info)()


redpitaya.check_config = check_redpitaya_config  # type: ignore[attr-defined]  # a function attribute
