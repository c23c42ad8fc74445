"""PicoScopes through Pico Technology's Python wrappers (``picosdk``) over the vendor's C driver (PicoSDK).

The wrapper binds every C function of a driver family when its module is imported, and that import loads
the shared library (``libps4000a.so``, found by ``ctypes.util.find_library``). So it happens in the
source's process when the source starts, and in ``find_picoscopes``, never at ``import mimocorb.devices``.

A family is a profile: the wrapper module, which is also the prefix of the C functions, the voltage
ranges in the order of the driver's range enum, and the channel letters. The calls of rapid-block capture
are the same in the families that have it, apart from a few arguments: ps5000a opens a unit with a
resolution, ps2000a and ps3000a take an oversample argument in GetTimebase2 and RunBlock (always 0 here).

Where the wrapper binds ``GetTriggerInfoBulk`` (ps3000a, ps5000a), each capture of a block has a
timestamp counter: sample intervals from the block's first trigger to its own. For ps4000a the wrapper
binds only ``GetValuesTriggerTimeOffsetBulk64``, a sub-sample correction of where the trigger lies within
a capture's first sample interval, not a time between captures; ps2000a has neither.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib
import importlib.util
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._mcpha import DeviceError

RANGES_MV = {  # every family's ranges are the first ones of these, in this order
    "10mV": 10,
    "20mV": 20,
    "50mV": 50,
    "100mV": 100,
    "200mV": 200,
    "500mV": 500,
    "1V": 1000,
    "2V": 2000,
    "5V": 5000,
    "10V": 10000,
    "20V": 20000,
    "50V": 50000,
    "100V": 100000,
    "200V": 200000,
}
COUPLINGS = {"AC": 0, "DC": 1}
DIRECTIONS = {"above": 0, "below": 1, "rising": 2, "falling": 3, "rising_or_falling": 4}
RATIO_MODE_NONE = 0
POWER_STATES = ("PICO_POWER_SUPPLY_NOT_CONNECTED", "PICO_USB3_0_DEVICE_NON_USB3_0_PORT")
LOST = ("PICO_NOT_FOUND", "PICO_NOT_RESPONDING", "PICO_INVALID_HANDLE")
POLL = 0.05  # s between looks at the unit and the run while a block is captured
DRIVER_HINT = (
    "install Pico Technology's PicoSDK for your system (https://www.picotech.com/downloads; on Linux the "
    "package lib{family} and Pico's udev rules) and the Python wrapper: pip install 'mimocorb[devices]'"
)
UNIT_HINT = (
    "check the USB cable (a USB 3 port for a USB 3 scope, the power adapter if it has one), the "
    "permission to use it (PicoSDK's udev rules; log in again after adding yourself to the group 'pico'), "
    "and that no other program (PicoScope 7, another run) holds the unit"
)

BlockReady = ctypes.CFUNCTYPE(None, ctypes.c_int16, ctypes.c_uint32, ctypes.c_void_p)


@dataclass(frozen=True)
class Family:
    """What differs between driver families: names, range enum, channels, and a few arguments."""

    name: str  # the wrapper's module and the prefix of the C functions
    title: str
    ranges: tuple[str, ...]  # index = the driver's range enum value
    channels: str  # index = the driver's channel enum value
    oversample: bool = False  # GetTimebase2 and RunBlock take an oversample argument
    resolutions: tuple[int, ...] = ()  # bits OpenUnit can be given; index = the driver's enum value
    trigger_info: bool = False  # GetTriggerInfoBulk gives each capture's timestamp counter


TO_50V = tuple(RANGES_MV)[:12]
FAMILIES = {
    "ps4000a": Family("ps4000a", "PicoScope 4000 Series", tuple(RANGES_MV), "ABCDEFGH"),
    "ps2000a": Family("ps2000a", "PicoScope 2000 Series", TO_50V, "ABCD", oversample=True),
    "ps3000a": Family("ps3000a", "PicoScope 3000 Series", TO_50V, "ABCD", oversample=True, trigger_info=True),
    "ps5000a": Family(
        "ps5000a", "PicoScope 5000 Series", TO_50V, "ABCD", resolutions=(8, 12, 14, 15, 16), trigger_info=True
    ),
}


class TriggerInfo(ctypes.Structure):
    """One segment's entry of GetTriggerInfoBulk (PS3000A_TRIGGER_INFO, PS5000A_TRIGGER_INFO: one layout)."""

    _pack_ = 1
    _fields_ = [
        ("status", ctypes.c_uint32),
        ("segmentIndex", ctypes.c_uint32),
        ("triggerIndex", ctypes.c_uint32),
        ("triggerTime", ctypes.c_int64),
        ("timeUnits", ctypes.c_int16),
        ("reserved0", ctypes.c_int16),
        ("timeStampCounter", ctypes.c_uint64),
    ]


class DriverMissing(OSError):
    """The wrapper or the vendor's driver library is not installed; the message says what to install.

    An OSError, so that ``mimocorb validate`` shows it as a setup error on the function's line.
    """


class WrapperMissing(DriverMissing):
    """Pico's Python wrapper is not installed: no family can be used."""


class UnitLost(DeviceError):
    """The unit stopped answering (unplugged, powered off): worth trying to open it again."""


class UnitNotFound(DeviceError):
    """No unit could be opened."""


def check_driver(family: Family) -> None:
    """Whether the wrapper and the driver library can be found, without loading them (for validation)."""
    hint = DRIVER_HINT.format(family=family.name)
    if importlib.util.find_spec("picosdk") is None:
        raise WrapperMissing(f"picoscope: Pico's Python wrapper (picosdk) is not installed; {hint}")
    if ctypes.util.find_library(family.name) is None:
        raise DriverMissing(f"picoscope: the PicoSDK driver lib{family.name} is not installed; {hint}")


def load_driver(family: Family) -> Any:
    """The wrapper's library object of ``family``; importing it loads the C driver."""
    hint = DRIVER_HINT.format(family=family.name)
    try:
        module = importlib.import_module(f"picosdk.{family.name}")
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("picosdk"):
            raise
        raise WrapperMissing(f"picoscope: Pico's Python wrapper (picosdk) is not installed; {hint}") from None
    except OSError as exc:  # the wrapper's CannotFindPicoSDKError and CannotOpenPicoSDKError
        raise DriverMissing(
            f"picoscope: the PicoSDK driver lib{family.name} cannot be loaded ({exc}); {hint}"
        ) from None
    return getattr(module, family.name)


@dataclass(frozen=True)
class Channel:
    letter: str
    range: str
    coupling: str
    offset_v: float  # analogue offset added to the input before it is digitised


@dataclass(frozen=True)
class Capture:
    """Rapid-block settings: the enabled channels, the trigger, the block."""

    channels: tuple[Channel, ...]
    trigger_channel: str
    trigger_mv: float
    direction: str
    delay: int
    auto_trigger_ms: int
    timebase: int
    samples: int
    pretrigger: int
    captures: int
    resolution: int = 8  # bits, for the families that are opened with one


class Scope:
    """One opened unit, set up for rapid-block capture into ``data[capture, channel, sample]``."""

    def __init__(self, driver: Any, family: Family, serial: str | None, capture: Capture):
        self.driver, self.family, self.capture = driver, family, capture
        self.status_names: dict[int, str] = driver.PICO_STATUS_LOOKUP
        self.handle = self._open(serial)
        self.ready = threading.Event()
        self._ready_status = 0
        self._on_ready = BlockReady(self._block_ready)  # kept: the driver calls it after RunBlock returns
        self.interval_ns = 0.0
        self.data = np.zeros((capture.captures, len(capture.channels), capture.samples), np.int16)
        self._overflow = np.zeros(capture.captures, np.int16)
        try:
            self.max_adc = self._maximum()
            self._configure()
        except BaseException:
            self.close()
            raise

    def call(self, name: str, *args: Any) -> None:
        """A C function of the family by its name without prefix; DeviceError (UnitLost) if not PICO_OK."""
        self._check(name, getattr(self.driver, self.family.name + name)(*args))

    def _check(self, name: str, status: int) -> None:
        if status == 0:
            return
        text = self.status_names.get(status, hex(status))
        error = UnitLost if text in LOST else DeviceError
        raise error(f"picoscope: {self.family.name}{name} returned {text}")

    def _open(self, serial: str | None) -> int:
        handle = ctypes.c_int16()
        args: list[Any] = [ctypes.byref(handle), serial.encode() if serial else None]
        if self.family.resolutions:
            args.append(self.family.resolutions.index(self.capture.resolution))
        status = getattr(self.driver, self.family.name + "OpenUnit")(*args)
        text = self.status_names.get(status, hex(status))
        power = hasattr(self.driver, self.family.name + "ChangePowerSource")
        if (
            handle.value > 0 and text in POWER_STATES and power
        ):  # a USB 3 scope on USB 2 or without its adapter
            self.call("ChangePowerSource", handle.value, status)
        elif status != 0 or handle.value <= 0:
            which = f"{self.family.title} unit {serial}" if serial else f"{self.family.title} unit"
            raise UnitNotFound(f"picoscope: no {which} could be opened ({text}); {UNIT_HINT}")
        return handle.value

    def _maximum(self) -> int:
        value = ctypes.c_int16()
        self.call("MaximumValue", self.handle, ctypes.byref(value))
        return value.value

    def _configure(self) -> None:
        c, h = self.capture, self.handle
        enabled = {channel.letter: channel for channel in c.channels}
        for index, letter in enumerate(self.family.channels[:4]):
            if letter not in enabled:
                self.call("SetChannel", h, index, 0, COUPLINGS["DC"], 0, ctypes.c_float(0))
        for channel in c.channels:
            self.call(
                "SetChannel",
                h,
                self.family.channels.index(channel.letter),
                1,
                COUPLINGS[channel.coupling],
                self.family.ranges.index(channel.range),
                ctypes.c_float(channel.offset_v),
            )
        self._set_trigger(enabled[c.trigger_channel])
        self._set_block()

    def _set_trigger(self, channel: Channel) -> None:
        c = self.capture
        threshold = round(c.trigger_mv / RANGES_MV[channel.range] * self.max_adc)
        self.call(
            "SetSimpleTrigger",
            self.handle,
            1,
            self.family.channels.index(channel.letter),
            threshold,
            DIRECTIONS[c.direction],
            c.delay,
            c.auto_trigger_ms,
        )

    def _set_block(self) -> None:
        c, h = self.capture, self.handle
        most = ctypes.c_int32()
        self.call("MemorySegments", h, c.captures, ctypes.byref(most))
        if c.samples > most.value:
            raise DeviceError(
                f"picoscope: {c.captures} captures of {c.samples} samples do not fit the unit's memory "
                f"({most.value} samples per capture); use fewer captures or samples"
            )
        self.call("SetNoOfCaptures", h, c.captures)
        interval = ctypes.c_float()
        self.call(
            "GetTimebase2",
            h,
            c.timebase,
            c.samples,
            ctypes.byref(interval),
            *self._oversample,
            ctypes.byref(most),
            0,
        )
        self.interval_ns = interval.value
        for segment in range(c.captures):
            for column, channel in enumerate(c.channels):
                buffer = self.data[segment, column].ctypes.data_as(ctypes.c_void_p)
                index = self.family.channels.index(channel.letter)
                self.call("SetDataBuffer", h, index, buffer, c.samples, segment, RATIO_MODE_NONE)

    # -- a block -----------------------------------------------------------------------------------

    def _block_ready(self, handle: int, status: int, parameter: Any) -> None:
        self._ready_status = status
        self.ready.set()

    def run_block(self) -> None:
        """Arm the unit for ``captures`` triggers; the driver calls back when the last is taken."""
        c = self.capture
        self.ready.clear()
        busy = ctypes.c_int32()
        self.call(
            "RunBlock",
            self.handle,
            c.pretrigger,
            c.samples - c.pretrigger,
            c.timebase,
            *self._oversample,
            ctypes.byref(busy),
            0,
            self._on_ready,
            None,
        )

    @property
    def _oversample(self) -> tuple[int, ...]:
        """The oversample argument of GetTimebase2 and RunBlock, in the families that have one: none."""
        return (0,) if self.family.oversample else ()

    def wait(self, go_on: Callable[[], bool]) -> bool:
        """True when the block is complete, False when ``go_on`` says stop first; UnitLost if it goes away.

        The callback says when the block is complete; IsReady between its waits notices a unit that went
        away, which never calls back.
        """
        ready = ctypes.c_int16()
        while not self.ready.wait(POLL):
            if not go_on():
                return False
            self.call("IsReady", self.handle, ctypes.byref(ready))
        self._check("BlockReady", self._ready_status)
        return True

    def collect(self) -> int:
        """Copy the block's completed captures into ``data``; how many there are."""
        done = ctypes.c_uint32()
        self.call("GetNoOfCaptures", self.handle, ctypes.byref(done))
        if done.value:
            samples = ctypes.c_uint32(self.capture.samples)
            overflow = self._overflow.ctypes.data_as(ctypes.c_void_p)
            self.call(
                "GetValuesBulk",
                self.handle,
                ctypes.byref(samples),
                0,
                done.value - 1,
                1,
                RATIO_MODE_NONE,
                overflow,
            )
        return done.value

    def trigger_counters(self, count: int) -> np.ndarray | None:
        """Each of the first ``count`` captures' trigger, in sample intervals after the first capture's
        (GetTriggerInfoBulk); None where the family has no timestamp counter."""
        if not self.family.trigger_info or count == 0:
            return None
        info = (TriggerInfo * count)()
        self.call("GetTriggerInfoBulk", self.handle, ctypes.byref(info), 0, count - 1)
        counters = np.array([entry.timeStampCounter for entry in info], np.float64)
        return counters - counters[0]

    def stop(self) -> None:
        self.call("Stop", self.handle)

    def close(self) -> None:
        """Stop and close; a unit that is gone already is closed as far as the driver lets us."""
        for name in ("Stop", "CloseUnit"):
            with contextlib.suppress(DeviceError):
                self.call(name, self.handle)


@dataclass(frozen=True)
class PicoScopeUnit:
    """A unit the driver can see: its family and serial number."""

    family: str
    serial: str


@dataclass(frozen=True)
class PicoScopeSearch:
    """What ``find_picoscopes`` found, and why it could not look where it could not (one line each)."""

    units: list[PicoScopeUnit]
    reasons: list[str]


def find_picoscopes(families: Sequence[str] = tuple(FAMILIES)) -> PicoScopeSearch:
    """The PicoScopes connected and not opened by another program, through each family's driver.

    Families whose driver is not installed are passed over, as most computers have one or two of them;
    only when the wrapper is missing, or none of the drivers, is there a reason, one line saying what to
    install, so a listing can show it. Loads the drivers: call it from a command, not at import.
    """
    units, missing = [], []
    for name in families:
        try:
            driver = load_driver(FAMILIES[name])
        except WrapperMissing as exc:  # the same for every family
            return PicoScopeSearch([], [str(exc)])
        except DriverMissing:
            missing.append(f"lib{name}")
            continue
        units += [PicoScopeUnit(name, serial) for serial in _enumerate(driver, name)]
    if len(missing) < len(families):
        return PicoScopeSearch(units, [])
    hint = DRIVER_HINT.format(family=families[0])
    return PicoScopeSearch([], [f"picoscope: no PicoSDK driver can be loaded ({', '.join(missing)}); {hint}"])


def _enumerate(driver: Any, family: str) -> list[str]:
    count, length = ctypes.c_int16(), ctypes.c_int16(256)
    serials = ctypes.create_string_buffer(256)
    status = getattr(driver, family + "EnumerateUnits")(ctypes.byref(count), serials, ctypes.byref(length))
    if status != 0 or count.value <= 0:
        return []
    return [serial for serial in serials.value.decode(errors="replace").split(",") if serial]
