"""The PicoScope source: rapid-block captures of a PicoScope into the first buffer, one event per capture.

The buffer's fields ``chA`` .. ``chH`` name the channels to enable, ``channel_per_slot`` samples each; an
int16 field gets the ADC counts, a float field millivolts (counts × range / the driver's maximum count).
The values are what the scope digitised, the analogue offset included, as the muon example's
``analogue_offset`` expects.

The unit captures ``captures`` triggers into as many memory segments before the driver calls back; the
source then copies them out with one bulk call and arms the next block. The driver gives no wall-clock
time per capture, so the events of a block share the time the block was seen complete as their
timestamp, and the block's dead time (from its completion to the next arming, as a fraction of the time
since the previous block) as theirs. A pause or the end stops the unit and keeps the captures the
interrupted block already holds; a resume arms it again; the end of the run closes the unit.

A unit that goes away is reported and opened again with growing intervals for ``reconnect_time``
seconds; if it stays away the source raises ``DeviceError`` and the run ends in order with every event
acquired so far.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ring import Writer
from ..workers.arguments import WRITE, first_of, require_list, require_role
from ._mcpha import DeviceError
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
    "reconnect_time": 30.0,
}
KEYS = (*DEFAULTS, "directory_prefix")
CHANNEL_KEYS = ("range", "coupling", "analogue_offset")
PAUSE_STEP = 0.05  # s between looks at the paused flag
INF = float("inf")

log = logging.getLogger("mimocorb.devices.picoscope")


@dataclass(frozen=True)
class PicoScopeConfig:
    """The checked configuration; every error names the key and the values allowed."""

    family: Family
    serial: str | None
    capture: Capture
    reconnect_time: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any], fields: tuple[str, ...], samples: int) -> PicoScopeConfig:
        _known_keys(config, KEYS, "config key")
        c = {**DEFAULTS, **config}
        if c["family"] not in FAMILIES:
            raise ValueError(f"picoscope: 'family' must be one of {', '.join(FAMILIES)}, got {c['family']!r}")
        family = FAMILIES[c["family"]]
        if c["serial"] is not None and not isinstance(c["serial"], str):
            raise ValueError(
                f"picoscope: 'serial' must be a string such as 'JO123/0045', got {c['serial']!r}"
            )
        channels = _channels(c, family, fields)
        reconnect = _number(c["reconnect_time"], "reconnect_time", 0, INF, unit=" s")
        return cls(family, c["serial"], _capture(c, family, channels, samples), float(reconnect))


def _known_keys(config: Mapping[str, Any], known: tuple[str, ...], what: str) -> None:
    for key in config:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"expected one of {', '.join(known)}"
            raise ValueError(f"picoscope: unknown {what} '{key}'; {hint}")


def _choice(value: Any, allowed: Mapping[str, Any] | Sequence[str], key: str) -> Any:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"picoscope: '{key}' must be one of {', '.join(allowed)}, got {value!r}")
    return value


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
    _known_keys(own, tuple(family.channels), "channel")
    letters = [field[2:] for field in fields]
    channels = []
    for letter in letters:
        settings = own.get(letter) or {}
        _known_keys(settings, CHANNEL_KEYS, f"key of channel {letter}")
        s = {key: settings.get(key, c[key]) for key in CHANNEL_KEYS}
        where = f"channels.{letter}." if letter in own else ""
        channels.append(
            Channel(
                letter,
                _choice(s["range"], family.ranges, f"{where}range"),
                _choice(s["coupling"], COUPLINGS, f"{where}coupling"),
                float(_number(s["analogue_offset"], f"{where}analogue_offset", -INF, INF, unit=" V")),
            )
        )
    unused = sorted(set(own) - set(letters))
    if unused:
        raise ValueError(f"picoscope: 'channels' sets {unused}, but the buffer has no field ch{unused[0]}")
    return tuple(channels)


def _capture(c: Mapping[str, Any], family: Family, channels: tuple[Channel, ...], samples: int) -> Capture:
    letters = tuple(channel.letter for channel in channels)
    trigger = _choice(c["trigger_channel"], letters, "trigger_channel")
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
        direction=_choice(c["trigger_direction"], DIRECTIONS, "trigger_direction"),
        delay=_number(c["trigger_delay"], "trigger_delay", 0, 2**32 - 1, integer=True, unit=" samples"),
        auto_trigger_ms=_number(c["auto_trigger_ms"], "auto_trigger_ms", 0, 32767, integer=True, unit=" ms"),
        timebase=_number(c["timebase"], "timebase", 0, 2**32 - 1, integer=True),
        samples=samples,
        pretrigger=_number(pre, "pretrigger_samples", 0, samples - 1, integer=True, unit=pre_limit),
        captures=_number(c["captures"], "captures", 1, 10000, integer=True),
    )


def _family(config: Mapping[str, Any] | None) -> Family:
    """The family whose channels the buffer is checked against; an unknown one is the config's error."""
    return FAMILIES.get((config or {}).get("family", DEFAULTS["family"]), FAMILIES[DEFAULTS["family"]])


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
    if len(buffers["write"]) != 1 or buffers["read"] or buffers["observe"]:
        raise ValueError("picoscope: expected one buffer marked 'write' and nothing else in RB_assign")
    family = _family(config_dict)
    fields = check_buffer(np.dtype(buffers["write"][0]), family)
    PicoScopeConfig.from_config(config_dict, fields, values_per_slot["write"][0])
    check_driver(family)


class PicoScopeSource:
    """Reads rapid blocks of a PicoScope into the function's 'write' buffer (module docstring).

    Args:
        sink_list: the setup dict of the one 'write' buffer.
        config_dict: the config keys of docs/devices.md.
        rb_info: the ``RB_assign`` entries.

    Raises:
        ValueError: a config or buffer the source cannot work with.
        DriverMissing: the wrapper or PicoSDK's driver is not installed (an ImportError).
        DeviceError: no unit could be opened, or the unit was lost and did not come back.
    """

    def __init__(self, sink_list: list[dict] | None, config_dict: dict | None, **rb_info: Any):
        require_role("picoscope", rb_info, WRITE)
        setup = first_of("picoscope", require_list("picoscope", sink_list, WRITE), WRITE, log)
        config = {key: value for key, value in (config_dict or {}).items() if key != "directory_prefix"}
        dtype: np.dtype = np.dtype(setup["dtype"])
        fields = check_buffer(dtype, _family(config))
        self.config = PicoScopeConfig.from_config(config, fields, int(setup["values_per_slot"]))
        self.driver = load_driver(self.config.family)
        self.sink = Writer(setup)
        self.scope = self._open()
        self._columns = [(name, column, dtype[name].kind == "f") for column, name in enumerate(fields)]
        self.events = 0
        print(f"{self.config.family.title} opened: {self.scope.interval_ns:g} ns per sample", flush=True)

    # -- the writer's state, read as the library's own sources read it ---------------------------------

    def _running(self) -> bool:
        return self.sink._active.is_set()

    def _paused(self) -> bool:
        return self.sink._paused.is_set()

    def _waiting(self) -> bool:
        return self._running() and not self._paused()

    # -- the run -----------------------------------------------------------------------------------

    def __call__(self) -> None:
        try:
            self._acquire()
        finally:
            self.scope.close()

    def _acquire(self) -> None:
        previous = time.perf_counter()  # when the previous block was seen complete
        while self._running():
            if self._paused():
                self._pause()
                previous = time.perf_counter()
                continue
            try:
                self.scope.run_block()
                armed = time.perf_counter()
                if not self.scope.wait(self._waiting):
                    self.scope.stop()
                    if not self._running():
                        return  # the buffer takes no more events
                done = time.perf_counter()
                dead = (armed - previous) / max(done - previous, 1e-9)
                previous = done
                if not self._store(self.scope.collect(), time.time(), min(max(dead, 0.0), 1.0)):
                    return
            except UnitLost as exc:
                self._reconnect(exc)
                previous = time.perf_counter()

    def _store(self, count: int, timestamp: float, dead: float) -> bool:
        """The block's captures into slots; False if the run ended before a slot was free."""
        data = self.scope.data
        factors = [RANGES_MV[channel.range] / self.scope.max_adc for channel in self.config.capture.channels]
        for capture in range(count):
            try:
                slot = self.sink.get_new_buffer()
            except SystemExit:
                return False
            for name, column, to_mv in self._columns:
                raw = data[capture, column]
                slot[name] = raw * factors[column] if to_mv else raw
            self.events += 1
            self.sink.set_metadata(self.events, timestamp, dead)
            self.sink.process_buffer()
        return True

    def _pause(self) -> None:
        """Nothing is armed while paused; wait until the run resumes or ends."""
        while self._paused() and self._running():
            time.sleep(PAUSE_STEP)

    # -- the unit ----------------------------------------------------------------------------------

    def _open(self) -> Scope:
        c = self.config
        return Scope(self.driver, c.family, c.serial, c.capture)

    def _reconnect(self, exc: UnitLost) -> None:
        """Open the unit again with growing intervals for ``reconnect_time``; DeviceError if it stays away."""
        self.scope.close()
        limit = self.config.reconnect_time
        log.warning("%s; %d event(s) so far; reconnecting for up to %g s", exc, self.events, limit)
        deadline, pause = time.monotonic() + limit, 0.1
        while self._running() and time.monotonic() < deadline:
            try:
                self.scope = self._open()
                log.warning("reconnected to the %s", self.config.family.title)
                return
            except DeviceError:
                time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
                pause = min(pause * 2, 2.0)
        if self._running():
            raise DeviceError(
                f"lost the {self.config.family.title} and could not open it again within {limit:g} s "
                f"({exc}); the run ends with the {self.events} event(s) acquired"
            ) from exc


def picoscope(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info) -> None:
    """Source function for a setup: ``file_name: mimocorb.devices``, ``fkt_name: picoscope``.

    Rapid-block captures of a PicoScope (through Pico's picosdk wrapper and the PicoSDK driver) into the
    'write' buffer, one event per capture; config keys in docs/devices.md.
    """
    PicoScopeSource(sink_list, config_dict, **rb_info)()


picoscope.check_config = check_picoscope_config  # type: ignore[attr-defined]  # a function attribute
