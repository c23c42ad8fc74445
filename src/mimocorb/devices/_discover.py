"""``mimocorb devices``: what is connected, and which source of this package fits each.

Serial ports come from pyserial, VISA instruments from PyVISA-py (local interfaces only unless
``network``: looking for VXI-11 and HiSLIP instruments broadcasts on every network and takes seconds),
PicoScopes from ``find_picoscopes()``, which loads Pico's driver (when it is missing, its reasons say what
to install). A USB serial
chip says little about the board behind it, so ports named with ``serial`` are opened and listened to,
and resources named with ``visa`` are asked ``*IDN?``: that is how the simulators, which no discovery
finds, are listed too. Pseudo-terminals are never scanned: most of them are other programs' terminals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._optional import require
from ._cosmicwatch_lines import NotAnEvent, line_format, parse_line
from ._mcpha import DeviceError
from ._picodriver import FAMILIES, find_picoscopes
from ._scpi import ScpiScope, profile_of, require_visa

# USB serial chips a CosmicWatch is built with: v2 on an Arduino Nano (FTDI, or a CH340 on clones),
# v3X on a Raspberry Pi RP2040
COSMICWATCH_USB: dict[tuple[int, int | None], str] = {
    (0x0403, 0x6001): "FTDI FT232R (Arduino Nano: CosmicWatch v2)",
    (0x1A86, 0x7523): "CH340 (Arduino Nano clone: CosmicWatch v2)",
    (0x2341, None): "Arduino",
    (0x2E8A, None): "Raspberry Pi RP2040 (CosmicWatch v3X)",
}
LISTEN = 3.0  # s a probed serial port is listened to: a detector starts after it was opened


@dataclass(frozen=True)
class Found:
    """One connected thing: where it is, what it said, and the config that reads it (or None)."""

    kind: str  # serial, visa, picoscope
    address: str
    description: str
    source: str | None = None  # a source function of this package, with the config key that names it


def _usb_chip(vid: int | None, pid: int | None) -> str | None:
    if vid is None:
        return None
    return COSMICWATCH_USB.get((vid, pid)) or COSMICWATCH_USB.get((vid, None))


def serial_ports() -> list[Found]:
    """pyserial's list; a CosmicWatch's USB chip suggests the cosmicwatch source."""
    list_ports = require("serial.tools.list_ports", "devices", "listing serial ports (pyserial)")
    found = []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        usb = f"USB {port.vid:04x}:{port.pid:04x} " if port.vid is not None else ""
        chip = _usb_chip(port.vid, port.pid)
        description = f"{usb}{chip or port.description or ''}".strip()
        found.append(
            Found("serial", port.device, description, f"cosmicwatch, port: {port.device}" if chip else None)
        )
    return found


def probe_serial(path: str, listen: float = LISTEN) -> Found:
    """Open ``path`` and listen: a CosmicWatch says so in its banner or its event lines."""
    serial = require("serial", "devices", "opening serial ports (pyserial)")
    try:
        port = serial.Serial(path, 9600, timeout=0.2)
    except (serial.SerialException, OSError, ValueError) as exc:
        return Found("serial", path, f"cannot be opened: {exc}")
    try:
        description = _listen(port, time.monotonic() + listen)
    finally:
        port.close()
    source = f"cosmicwatch, port: {path}" if description.startswith("CosmicWatch") else None
    return Found("serial", path, description, source)


def _listen(port: Any, deadline: float) -> str:
    banner = False
    while time.monotonic() < deadline:
        line = port.readline().decode("ascii", "replace")
        banner = banner or "CosmicWatch" in line
        try:
            parse_line(line)
        except NotAnEvent:
            continue
        return f"CosmicWatch {line_format(line.strip(), 'auto')}"
    return "CosmicWatch (no event yet)" if banner else "no CosmicWatch lines"


def probe_visa(resource: str, timeout: float = 2.0) -> Found:
    """Ask ``*IDN?``; a maker with a profile is read by the scpi_scope source."""
    try:
        scope = ScpiScope(resource, timeout, timeout)
    except DeviceError as exc:
        return Found("visa", resource, f"no answer: {exc.__cause__ or exc}")
    scope.close()
    try:
        profile = profile_of(scope.idn).name
    except ValueError:
        return Found("visa", resource, scope.idn)
    return Found("visa", resource, scope.idn, f"scpi_scope, resource: {resource}, profile: {profile}")


def visa_resources(network: bool, timeout: float) -> tuple[list[Found], str | None]:
    """What PyVISA-py lists within ``timeout`` seconds, serial ports left out (listed above); a note
    when something was skipped."""
    require_visa()
    from pyvisa import constants
    from pyvisa_py.sessions import Session

    def listing() -> list[str]:
        names: list[str] = []
        for (interface, _), session in Session.iter_valid_session_classes():
            if interface == constants.InterfaceType.asrl or (
                interface == constants.InterfaceType.tcpip and not network
            ):
                continue
            names += [n for n in session.list_resources() if n.endswith("::INSTR") and "ASRL" not in n]
        return names

    names = _within(listing, timeout)
    note = None if network else "network discovery skipped: --network looks for VXI-11 and HiSLIP instruments"
    if names is None:
        return [], f"VISA discovery gave no answer within {timeout:g} s"
    return [probe_visa(name) for name in names], note


def _within(work: Callable[[], list[str]], timeout: float) -> list[str] | None:
    """``work()`` in a thread, or None if it took longer (the thread is left to finish on its own)."""
    result: list[list[str]] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0] if result else None


def picoscopes() -> tuple[list[Found], list[str]]:
    """The PicoScopes the driver sees (``find_picoscopes``); when there are none, its reasons (a driver or
    wrapper that is not installed, with what to install) as notes."""
    search = find_picoscopes()
    found = [
        Found(
            "picoscope",
            unit.serial,
            f"{FAMILIES[unit.family].title} ({unit.family})",
            f"picoscope, family: {unit.family}, serial: {unit.serial}",
        )
        for unit in search.units
    ]
    return found, [] if found else search.reasons


def find_devices(
    serial: Sequence[str] = (), visa: Sequence[str] = (), network: bool = False, timeout: float = 3.0
) -> tuple[list[Found], list[str]]:
    """Everything ``mimocorb devices`` lists, and its notes."""
    found = serial_ports() + [probe_serial(path) for path in serial]
    listed, note = visa_resources(network, timeout)
    pico, reasons = picoscopes()
    found += listed + [probe_visa(resource) for resource in visa] + pico
    return found, [n for n in (note, *reasons) if n]


def describe(found: Sequence[Found], notes: Sequence[str]) -> str:
    """The table ``mimocorb devices`` prints."""
    lines = []
    for kind, title in (
        ("serial", "serial ports"),
        ("visa", "VISA instruments"),
        ("picoscope", "PicoScopes"),
    ):
        lines.append(f"{title}:")
        rows = [f for f in found if f.kind == kind]
        lines += [
            f"  {f.address:<36} {f.description}" + (f"\n  {'':<36} -> {f.source}" if f.source else "")
            for f in rows
        ]
        if not rows:
            lines.append("  none")
    return "\n".join(lines + [f"({note})" for note in notes])
