"""The PicoScope source: rapid-block captures of a PicoScope into the first buffer, one event per capture.

The buffer's fields ``chA`` .. ``chH`` name the channels to enable, ``channel_per_slot`` samples each; an
int16 field gets the ADC counts, a float field millivolts (counts × range / the driver's maximum count).
The values are what the scope digitised, the analogue offset included, as the muon example's
``analogue_offset`` expects.

The unit captures ``captures`` triggers into as many memory segments before the driver calls back; the
source then copies them out with one bulk call and arms the next block. Each capture is one event
(``_CaptureClock`` gives the times): where the driver has a timestamp counter per capture (ps3000a,
ps5000a), its timestamp is the block's completion on the host's clock, less the last capture's
post-trigger samples, less the counter's sample intervals between its trigger and the last one; elsewhere
the captures of a block share the completion time. Only the first capture of a block has dead time: the
share of the time since the previous capture during which the unit was not armed (its data copied out);
between the segments of a block the unit re-arms itself, for a time the driver does not report. A pause
or the end stops the unit and keeps the captures the interrupted block already holds; a resume arms it
again; the end of the run closes the unit.

A unit that goes away is reported and opened again with growing intervals for ``reconnect_time``
seconds; if it stays away the source raises ``DeviceError`` and the run ends in order with every event
acquired so far.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import (
    Source,
    choice,
    number,
    one_write_buffer,
    reconnect,
    unknown_keys,
    with_defaults,
    write_setup,
)
from ._picodriver import (
    COUPLINGS,
    DIRECTIONS,
    FAMILIES,
    RANGES_MV,
    Capture,
    Channel,
    Family,
    Scope,
    UnitLost,
    check_driver,
    load_driver,
)

DEVICE = "picoscope"

DEFAULTS: dict[str, Any] = {
    "family": "ps4000a",
    "serial": None,  # the first unit found
    "timebase": 0,
    "captures": 16,
    "range": "500mV",
    "coupling": "DC",
    "analogue_offset": 0.0,
    "channels": {},  # per channel letter: range, coupling, analogue_offset
    "trigger_channel": "A",
    "trigger_level": 100.0,
    "trigger_direction": "rising",
    "trigger_delay": 0,
    "auto_trigger_ms": 0,
    "pretrigger_samples": None,  # a twentieth of the samples
    "resolution": None,  # bits, ps5000a only: 8 unless set
    "reconnect_time": 30.0,
}
CHANNEL_KEYS = ("range", "coupling", "analogue_offset")
INF = float("inf")

log = logging.getLogger("mimocorb.devices.picoscope")


@dataclass(frozen=True)
class PicoScopeConfig:
    """The driver family, the unit, the rapid-block capture and the reconnection time, checked
    (``from_config``: every error names the key and the values allowed)."""

    family: Family
    serial: str | None
    capture: Capture
    reconnect_time: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any], fields: tuple[str, ...], samples: int) -> PicoScopeConfig:
        c = with_defaults(DEVICE, config, DEFAULTS)
        family = FAMILIES[choice(DEVICE, c, "family", FAMILIES)]
        if c["serial"] is not None and not isinstance(c["serial"], str):
            raise ValueError(
                f"picoscope: 'serial' must be a string such as 'JO123/0045', got {c['serial']!r}"
            )
        channels = _channels(c, family, fields)
        reconnect_time = number(DEVICE, c, "reconnect_time", zero=True)
        return cls(family, c["serial"], _capture(c, family, channels, samples), reconnect_time)


def _number(value: Any, key: str, low: float, high: float, integer: bool = False, unit: str = "") -> Any:
    """``value`` if it is a number (an integer if asked) within ``low`` .. ``high``."""
    kinds = int if integer else (int, float)
    if not isinstance(value, kinds) or isinstance(value, bool) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        limits = "" if low == -INF else f" >= {low:g}" if high == INF else f" {low:g} to {high:g}"
        raise ValueError(f"picoscope: '{key}' must be {kind}{limits}{unit}, got {value!r}")
    return value


def _channels(c: Mapping[str, Any], family: Family, fields: tuple[str, ...]) -> tuple[Channel, ...]:
    """The enabled channels, one per buffer field, with the defaults and their own settings."""
    own = c["channels"]
    if not isinstance(own, Mapping):
        raise ValueError(f"picoscope: 'channels' must map channel letters to settings, got {own!r}")
    unknown_keys(DEVICE, own, tuple(family.channels), "channel", also=())
    letters = [field[2:] for field in fields]
    channels = []
    for letter in letters:
        settings = own.get(letter) or {}
        unknown_keys(DEVICE, settings, CHANNEL_KEYS, f"key of channel {letter}", also=())
        where = f"channels.{letter}." if letter in own else ""  # the key a message names
        s = {f"{where}{key}": settings.get(key, c[key]) for key in CHANNEL_KEYS}
        offset = f"{where}analogue_offset"
        channels.append(
            Channel(
                letter,
                choice(DEVICE, s, f"{where}range", family.ranges),
                choice(DEVICE, s, f"{where}coupling", COUPLINGS),
                float(_number(s[offset], offset, -INF, INF, unit=" V")),
            )
        )
    unused = sorted(set(own) - set(letters))
    if unused:
        raise ValueError(f"picoscope: 'channels' sets {unused}, but the buffer has no field ch{unused[0]}")
    return tuple(channels)


def _resolution(c: Mapping[str, Any], family: Family, channels: int) -> int:
    """The bits a ps5000a is opened with; 15 bits allow two channels, 16 bits one."""
    if not family.resolutions:
        if c["resolution"] is not None:
            raise ValueError(
                f"picoscope: 'resolution' is set at opening in the ps5000a family only, not {family.name}"
            )
        return 8
    bits = choice(
        DEVICE,
        {"resolution": 8 if c["resolution"] is None else c["resolution"]},
        "resolution",
        family.resolutions,
    )
    most = {15: 2, 16: 1}.get(bits, len(family.channels))
    if channels > most:
        raise ValueError(
            f"picoscope: at resolution {bits} the {family.title} digitises {most} channel(s), "
            f"the buffer has {channels}"
        )
    return bits


def _capture(c: Mapping[str, Any], family: Family, channels: tuple[Channel, ...], samples: int) -> Capture:
    letters = tuple(channel.letter for channel in channels)
    trigger = choice(DEVICE, c, "trigger_channel", letters)
    full_scale = RANGES_MV[channels[letters.index(trigger)].range]
    level = _number(
        c["trigger_level"], "trigger_level", -full_scale, full_scale, unit=f" mV (the range of {trigger})"
    )
    if samples < 2:
        raise ValueError(f"picoscope: the buffer's channel_per_slot must be at least 2, got {samples}")
    pre = max(samples // 20, 1) if c["pretrigger_samples"] is None else c["pretrigger_samples"]
    pre_limit = f" (less than the buffer's channel_per_slot, {samples})"
    return Capture(
        channels=channels,
        trigger_channel=trigger,
        trigger_mv=float(level),
        direction=choice(DEVICE, c, "trigger_direction", DIRECTIONS),
        delay=_number(c["trigger_delay"], "trigger_delay", 0, 2**32 - 1, integer=True, unit=" samples"),
        auto_trigger_ms=_number(c["auto_trigger_ms"], "auto_trigger_ms", 0, 32767, integer=True, unit=" ms"),
        timebase=_number(c["timebase"], "timebase", 0, 2**32 - 1, integer=True),
        samples=samples,
        pretrigger=_number(pre, "pretrigger_samples", 0, samples - 1, integer=True, unit=pre_limit),
        captures=_number(c["captures"], "captures", 1, 10000, integer=True),
        resolution=_resolution(c, family, len(channels)),
    )


def _family(config: Mapping[str, Any] | None) -> Family:
    """The family whose channels the buffer is checked against; an unknown one is the config's error."""
    family = (config or {}).get("family", DEFAULTS["family"])
    return FAMILIES.get(family if isinstance(family, str) else "", FAMILIES[DEFAULTS["family"]])


def check_buffer(dtype: np.dtype, family: Family) -> tuple[str, ...]:
    """The buffer's fields, which must be channels (chA, ...) of integer (counts) or float (mV) type."""
    names = dtype.names or ()
    allowed = [f"ch{letter}" for letter in family.channels]
    wrong = [name for name in names if name not in allowed]
    if not names or wrong:
        raise ValueError(
            f"picoscope: the 'write' buffer's fields must be channels of the {family.title}: "
            f"{', '.join(allowed)}; found {list(names) or dtype}"
        )
    for name in names:
        if dtype[name].kind not in "if" or dtype[name].shape:
            raise ValueError(f"picoscope: field {name} must be an int16 (ADC counts) or float (mV) type")
    return names


def check_picoscope_config(
    config_dict: Mapping[str, Any], buffers: Mapping[str, list], values_per_slot: Mapping[str, list]
) -> None:
    """What ``mimocorb validate`` checks: the config keys and the buffer the source writes."""
    family = _family(config_dict)
    fields = check_buffer(one_write_buffer(DEVICE, buffers), family)
    PicoScopeConfig.from_config(config_dict, fields, values_per_slot["write"][0])
    check_driver(family)


class PicoScopeSource(Source):
    """Reads rapid blocks of a PicoScope into the function's 'write' buffer (module docstring).

    Arguments and errors as for ``Source``; besides, ``DriverMissing`` (an OSError) when the wrapper or
    PicoSDK's driver is not installed. DeviceError also when no unit could be opened.
    """

    def __init__(self, sink_list: list[dict] | None, config_dict: dict | None, **rb_info: Any):
        setup = write_setup(DEVICE, sink_list, rb_info, log)
        config = {key: value for key, value in (config_dict or {}).items() if key != "directory_prefix"}
        dtype: np.dtype = np.dtype(setup["dtype"])
        fields = check_buffer(dtype, _family(config))
        self.config = PicoScopeConfig.from_config(config, fields, int(setup["values_per_slot"]))
        self.driver = load_driver(self.config.family)
        self._attach(setup)
        self.scope = self._open()
        self._columns = [(name, column, dtype[name].kind == "f") for column, name in enumerate(fields)]
        print(f"{self.config.family.title} opened: {self.scope.interval_ns:g} ns per sample", flush=True)

    # -- the run -----------------------------------------------------------------------------------

    def _finish(self) -> None:
        self.scope.close()

    def _acquire(self) -> None:
        clock = _CaptureClock()
        while self.state.running():
            if self.state.paused():
                self.state.sleep_while_paused()  # nothing is armed while paused
                clock.restart()
                continue
            try:
                self.scope.run_block()
                clock.armed = time.time()
                if not self.scope.wait(self.state.waiting):
                    self.scope.stop()
                    if not self.state.running():
                        return  # the buffer takes no more events
                if not self._store(self.scope.collect(), clock):
                    return
            except UnitLost as exc:
                self._reconnect(exc)
                clock.restart()

    def _store(self, count: int, clock: _CaptureClock) -> bool:
        """The block's captures into slots; False if the run ended before a slot was free."""
        if count == 0:
            return True
        timestamps, dead = clock.captured(count, self._offsets(count))
        data = self.scope.data
        factors = [RANGES_MV[channel.range] / self.scope.max_adc for channel in self.config.capture.channels]
        for capture in range(count):
            fill = functools.partial(self._fill, data[capture], factors)
            if not self._commit(fill, float(timestamps[capture]), float(dead[capture])):
                return False
        return True

    def _offsets(self, count: int) -> np.ndarray | None:
        """Each capture's trigger relative to the end of the last capture, in s; None without a counter."""
        counters = self.scope.trigger_counters(count)
        if counters is None:
            return None
        c, step = self.config.capture, self.scope.interval_ns * 1e-9
        return (counters - counters[-1] - (c.samples - c.pretrigger)) * step

    def _fill(self, capture: np.ndarray, factors: list[float], slot: np.ndarray) -> None:
        """One capture's channels (``capture[column]``) into a slot, in counts or millivolts."""
        for name, column, to_mv in self._columns:
            raw = capture[column]
            slot[name] = raw * factors[column] if to_mv else raw

    # -- the unit ----------------------------------------------------------------------------------

    def _open(self) -> Scope:
        c = self.config
        return Scope(self.driver, c.family, c.serial, c.capture)

    def _reconnect(self, exc: UnitLost) -> None:
        """Open the unit again with growing intervals for ``reconnect_time``; DeviceError if it stays away."""
        self.scope.close()
        what = f"the {self.config.family.title}"
        scope = reconnect(self._open, self.state, self.config.reconnect_time, log, what, self.events, exc)
        if scope is not None:
            self.scope = scope


class _CaptureClock:
    """The captures' times on the host's clock (epoch s) and their dead time (module docstring)."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """After a pause or a reconnection: the time away is not dead time."""
        self.previous = self.armed = time.time()

    def captured(self, count: int, offsets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Timestamps and dead-time fractions of the ``count`` captures of a block just seen complete,
        their ``offsets`` from the block's end known or (None) not."""
        now = time.time()
        timestamps = np.full(count, now) if offsets is None else now + offsets
        span = max(float(timestamps[0]) - self.previous, 1e-9)
        dead = np.zeros(count)
        dead[0] = min(max((self.armed - self.previous) / span, 0.0), 1.0)
        self.previous = max(float(timestamps[-1]), self.armed)
        return timestamps, dead


def picoscope(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info) -> None:
    """Source function for a setup: ``file_name: mimocorb.devices``, ``fkt_name: picoscope``.

    Rapid-block captures of a PicoScope (through Pico's picosdk wrapper and the PicoSDK driver) into the
    'write' buffer, one event per capture; config keys in docs/devices.md.
    """
    PicoScopeSource(sink_list, config_dict, **rb_info)()


picoscope.check_config = check_picoscope_config  # type: ignore[attr-defined]  # a function attribute
