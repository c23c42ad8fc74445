"""SCPI oscilloscopes over VISA: the command dialects, definite-length blocks and waveform scaling.

Oscilloscopes agree on the acquisition (arm a single acquisition, ask until it is complete, read each
channel as a binary block) but not on the words, nor on how the preamble turns ADC counts into volts. A
``Profile`` holds one dialect; ``PROFILES`` names the ones known. All read 8-bit samples: the fastest
transfer, and every scope's native resolution in normal acquisition mode.

A binary block is IEEE 488.2's definite-length form, ``#<n><length><data>``: one digit saying how many
digits of length follow. It is read in one piece with the termination character switched off, since the
data may contain it. Line ends left over after a block (some Siglent firmware ends one with two) are
skipped before the next reply, so that they cannot shift every reply after them by one.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._optional import require
from ._mcpha import DeviceError


@dataclass(frozen=True)
class Scale:
    """volts = (count - offset) * gain + zero;  seconds = x_zero + (index - x_reference) * x_step."""

    gain: float
    offset: float
    zero: float
    x_step: float
    x_zero: float
    x_reference: float

    def volts(self, counts: np.ndarray) -> np.ndarray:
        return (counts.astype(np.float64) - self.offset) * self.gain + self.zero

    def seconds(self, points: int) -> np.ndarray:
        return self.x_zero + (np.arange(points) - self.x_reference) * self.x_step


def _ten_values(reply: str) -> list[float]:
    """The ten comma-separated values of a Rigol or Keysight preamble."""
    values = [float(v) for v in reply.split(",")]
    if len(values) != 10:
        raise ValueError(f"a preamble has ten values, got {len(values)}: {reply!r}")
    return values


def _rigol_scale(reply: str) -> Scale:
    _, _, _, _, xinc, xorig, xref, yinc, yorig, yref = _ten_values(reply)
    return Scale(yinc, yorig + yref, 0.0, xinc, xorig, xref)


def _keysight_scale(reply: str) -> Scale:
    _, _, _, _, xinc, xorig, xref, yinc, yorig, yref = _ten_values(reply)
    return Scale(yinc, yref, yorig, xinc, xorig, xref)


def _tektronix_scale(reply: str) -> Scale:
    ymult, yoff, yzero, xincr, xzero, pt_off = (float(v) for v in reply.split(";"))
    return Scale(ymult, yoff, yzero, xincr, xzero, pt_off)


SIGLENT_TIMEBASES = (  # s/div of the timebase index in a Siglent descriptor, 100 ps to 1000 s
    *(mantissa * 10.0**exponent for exponent in range(-10, 3) for mantissa in (1, 2, 5)),
    1000.0,
)
SIGLENT_DESCRIPTOR = 346  # bytes of the WAVEDESC a Siglent preamble holds
SIGLENT_DIVISIONS = 10  # horizontal divisions of the screen


def _siglent_scale(descriptor: bytes) -> Scale:
    """From the binary WAVEDESC of a Siglent preamble: volts = code * vdiv / code_per_div - offset (vdiv
    and offset times the probe factor), and the first sample at -delay - 5 divisions."""
    if len(descriptor) < SIGLENT_DESCRIPTOR or descriptor[:8] != b"WAVEDESC":
        raise ValueError(
            f"a Siglent preamble is a {SIGLENT_DESCRIPTOR}-byte WAVEDESC, got {descriptor[:16]!r}"
        )
    order = ">" if struct.unpack_from("<h", descriptor, 34)[0] else "<"  # COMM_ORDER: 1 is big-endian
    vdiv, offset, code_per_div = struct.unpack_from(order + "3f", descriptor, 156)
    interval, delay = struct.unpack_from(order + "fd", descriptor, 176)
    timebase, probe = struct.unpack_from(order + "hxxf", descriptor, 324)
    if code_per_div <= 0 or not 0 <= timebase < len(SIGLENT_TIMEBASES):
        raise ValueError(f"code_per_div {code_per_div} or timebase index {timebase} out of range")
    first = -delay - SIGLENT_TIMEBASES[timebase] * SIGLENT_DIVISIONS / 2
    return Scale(vdiv * probe / code_per_div, 0.0, -offset * probe, interval, first, 0.0)


@dataclass(frozen=True)
class Profile:
    """One dialect: the commands (``{source}``, ``{points}`` filled in) and how to read the replies."""

    name: str
    maker: str  # how *IDN? names the manufacturer, upper case
    source: str  # a channel's name, ``{n}`` its number
    setup: tuple[str, ...]  # once per connection
    points: str
    select: str
    arm: str
    status: str
    done: Callable[[str], bool]
    stop: str
    preamble: str
    scale: Callable[[Any], Scale]  # of the preamble's reply: text, or bytes if ``binary_preamble``
    data: str
    dtype: str  # of the samples in a block
    binary_preamble: bool = False  # the preamble is a definite-length block


PROFILES = {
    "rigol": Profile(
        name="rigol",
        maker="RIGOL",
        source="CHAN{n}",
        setup=(":WAV:MODE NORM", ":WAV:FORM BYTE"),
        points=":WAV:POIN {points}",
        select=":WAV:SOUR {source}",
        arm=":SING",
        status=":TRIG:STAT?",
        done=lambda reply: reply.strip().upper() == "STOP",
        stop=":STOP",
        preamble=":WAV:PRE?",
        scale=_rigol_scale,
        data=":WAV:DATA?",
        dtype="u1",
    ),
    "keysight": Profile(
        name="keysight",
        maker="KEYSIGHT",
        source="CHANnel{n}",
        setup=(":WAVeform:FORMat BYTE", ":WAVeform:UNSigned 1", ":WAVeform:POINts:MODE NORMal"),
        points=":WAVeform:POINts {points}",
        select=":WAVeform:SOURce {source}",
        arm=":SINGle",
        status=":OPERegister:CONDition?",
        done=lambda reply: not int(reply) & 8,  # the Run bit is cleared once the acquisition is done
        stop=":STOP",
        preamble=":WAVeform:PREamble?",
        scale=_keysight_scale,
        data=":WAVeform:DATA?",
        dtype="u1",
    ),
    "tektronix": Profile(
        name="tektronix",
        maker="TEKTRONIX",
        source="CH{n}",
        setup=("HEADer OFF", "DATa:ENCdg RIBinary", "DATa:WIDth 1", "ACQuire:STOPAfter SEQuence"),
        points="DATa:STARt 1;:DATa:STOP {points}",
        select="DATa:SOUrce {source}",
        arm="ACQuire:STATE RUN",
        status="ACQuire:STATE?",
        done=lambda reply: reply.strip() == "0",
        stop="ACQuire:STATE STOP",
        preamble="WFMOutpre:YMUlt?;YOFf?;YZEro?;XINcr?;XZEro?;PT_Off?",
        scale=_tektronix_scale,
        data="CURVe?",
        dtype="i1",
    ),
    "siglent": Profile(
        name="siglent",
        maker="SIGLENT",
        source="C{n}",
        setup=(":WAVeform:WIDTh BYTE", ":WAVeform:STARt 0"),
        points=":WAVeform:POINt {points}",
        select=":WAVeform:SOURce {source}",
        arm=":TRIGger:MODE SINGle",
        status=":TRIGger:STATus?",
        done=lambda reply: reply.strip().upper() == "STOP",
        stop=":TRIGger:STOP",
        preamble=":WAVeform:PREamble?",
        scale=_siglent_scale,
        data=":WAVeform:DATA?",
        dtype="i1",
        binary_preamble=True,
    ),
}
MAKERS = {"AGILENT": "keysight", **{p.maker: p.name for p in PROFILES.values()}}


OLD_SIGLENT = re.compile(r"^SDS[12]\d{3}X(-[A-Z]+)?$")  # SDS1000X(-E), SDS2000X: ``C1:WF?`` only


def profile_of(idn: str) -> Profile:
    """The profile for a scope's ``*IDN?`` reply (``auto``); ValueError naming the maker if none fits."""
    maker = idn.split(",")[0].strip().upper()
    model = [*idn.split(","), ""][1].strip().upper()
    if maker.startswith("SIGLENT") and OLD_SIGLENT.match(model):
        raise ValueError(
            f"the Siglent {model} speaks the older C1:WF? dialect, which no profile covers; the "
            "siglent profile is for the SDS800X HD, SDS1000X HD, SDS2000X Plus/HD and later series"
        )
    for name, profile in MAKERS.items():
        if maker.startswith(name):
            return PROFILES[profile]
    raise ValueError(
        f"no profile for an oscilloscope made by {maker or idn!r}; "
        f"set 'profile' to one of {', '.join(PROFILES)}"
    )


def block_header(length: int) -> bytes:
    digits = str(length)
    return f"#{len(digits)}{digits}".encode()


def parse_block(data: bytes) -> bytes:
    """The payload of a complete definite-length block (with or without its final newline)."""
    if data[:1] != b"#" or not data[1:2].isdigit() or data[1:2] == b"0":
        raise ValueError(f"not a definite-length block: {data[:12]!r}")
    n = int(data[1:2])
    length = int(data[2 : 2 + n])
    payload = data[2 + n : 2 + n + length]
    if len(payload) != length:
        raise ValueError(f"the block announces {length} bytes but holds {len(payload)}")
    return payload


def absent_message(resource: str, exc: BaseException) -> str:
    return (
        f"cannot open the oscilloscope at {resource}: {exc}. Check that it is switched on and on the "
        "network (ping its address), that remote control over LAN is enabled in its utility menu, and the "
        "resource name: TCPIP::ADDRESS::5025::SOCKET for the raw SCPI port (5555 on Rigol scopes, 4000 on "
        "Tektronix), TCPIP::ADDRESS::INSTR for VXI-11"
    )


def tune_socket(resource: Any) -> None:
    """Send each command at once and receive in large pieces, on ``::SOCKET`` resources of PyVISA-py.

    It leaves Nagle's algorithm on and cannot switch it off through the VISA attribute, so a command
    that follows another without a reply in between waits for the scope's delayed acknowledgement, tens
    of ms; and it receives 4 KiB per call, which makes a waveform of 100 000 points take 25 calls and
    selects. The session's socket is reached directly; other resources are left as they are."""
    session = getattr(resource.visalib, "sessions", {}).get(resource.session)
    interface = getattr(session, "interface", None)
    if session is not None and isinstance(interface, socket.socket):
        interface.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session.max_recv_size = 1 << 20


def require_visa() -> Any:
    """PyVISA, with its pure-Python backend (both of the devices extra)."""
    pyvisa = require("pyvisa", "devices", "the SCPI oscilloscope source (PyVISA)")
    require("pyvisa_py", "devices", "the SCPI oscilloscope source (PyVISA-py)")
    return pyvisa


class ScpiScope:
    """A connection to one oscilloscope through PyVISA's pure-Python backend; every failure of the
    connection is a DeviceError, so that the source treats them alike."""

    def __init__(self, resource: str, timeout: float, connect_timeout: float):
        pyvisa = require_visa()
        self._errors = (pyvisa.errors.Error, OSError, ValueError)
        self.name = resource
        self.profile = PROFILES["rigol"]
        try:
            self._manager = pyvisa.ResourceManager("@py")
            self._io = self._manager.open_resource(
                resource, open_timeout=int(connect_timeout * 1000), timeout=int(timeout * 1000),
                read_termination="\n", write_termination="\n",
            )  # fmt: skip
            self._io.chunk_size = 1 << 20
            tune_socket(self._io)
            self.idn = self.query("*IDN?")
        except self._errors as exc:
            self.close()
            raise DeviceError(absent_message(resource, exc)) from exc

    def use(self, profile: str) -> None:
        """Speak ``profile``'s dialect, or with ``auto`` the one of the maker ``*IDN?`` named."""
        self.profile = profile_of(self.idn) if profile == "auto" else PROFILES[profile]

    def write(self, *commands: str) -> None:
        try:
            for command in commands:
                self._io.write(command)
        except self._errors as exc:
            raise DeviceError(f"the oscilloscope at {self.name} failed on {commands[0]!r}: {exc}") from exc

    def query(self, command: str) -> str:
        """The reply to ``command``; empty lines before it are line ends left over after a block."""
        try:
            reply = self._io.query(command)
            while not reply.strip():
                reply = self._io.read()
            return reply
        except self._errors as exc:
            raise DeviceError(
                f"the oscilloscope at {self.name} sent no answer to {command!r}: {exc}"
            ) from exc

    def configure(self, channels: Sequence[int], points: int, commands: Sequence[str]) -> None:
        """The profile's data format, the number of points, then the setup's own commands."""
        p = self.profile
        self.write(*p.setup)
        for n in channels:
            self.write(p.select.format(source=p.source.format(n=n)), p.points.format(points=points))
        self.write(*commands)

    def arm(self) -> None:
        self.write(self.profile.arm)

    def stop(self) -> None:
        self.write(self.profile.stop)

    def done(self) -> bool:
        reply = self.query(self.profile.status)
        try:
            return self.profile.done(reply)
        except ValueError as exc:
            raise DeviceError(f"the oscilloscope at {self.name} sent {reply!r} as its status") from exc

    def read_channel(self, n: int, scaled: bool = True) -> tuple[Scale | None, np.ndarray]:
        """The samples of channel ``n`` of the last acquisition, and with ``scaled`` their scale (an
        extra round trip, which counts alone do not need)."""
        p = self.profile
        self.write(p.select.format(source=p.source.format(n=n)))
        try:
            scale = self._scale() if scaled else None
        except ValueError as exc:
            message = f"the oscilloscope at {self.name} sent a preamble that cannot be read: {exc}"
            raise DeviceError(message) from exc
        self.write(p.data)
        return scale, np.frombuffer(self._read_block(), p.dtype)

    def _scale(self) -> Scale:
        p = self.profile
        if not p.binary_preamble:
            return p.scale(self.query(p.preamble))
        self.write(p.preamble)
        return p.scale(bytes(self._read_block()))

    def _read_block(self) -> memoryview:
        try:
            with self._io.read_termination_context(None):
                head = self._io.read_bytes(1)
                while head in (b"\n", b"\r"):  # left over after the previous block
                    head = self._io.read_bytes(1)
                head += self._io.read_bytes(1)
                if head[:1] != b"#" or not head[1:2].isdigit() or head[1:2] == b"0":
                    raise ValueError(f"expected a definite-length block (#<n><length>), got {head!r}")
                length = int(self._io.read_bytes(int(head[1:2])))
                data = self._io.read_bytes(length + 1)  # and the newline that ends the reply
        except self._errors as exc:
            raise DeviceError(f"the oscilloscope at {self.name} broke off a waveform: {exc}") from exc
        return memoryview(data)[:length]  # without the newline, and without a copy

    def close(self) -> None:
        if hasattr(self, "_io"):
            with contextlib.suppress(*self._errors):  # gone already
                self._io.close()
