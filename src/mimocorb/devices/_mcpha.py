"""The wire protocol of Pavel Demin's MCPHA server on the Red Pitaya, and a client for it.

The server (``mcpha-server``, TCP port 1001) reads commands of eight bytes, one little-endian unsigned
64-bit integer each: ``code << 56 | channel << 52 | value``, the value taking the low 52 bits. It answers
three of them only — status (36 bytes), histogram (4096 × uint32) and oscilloscope read (4 bytes per
sample: int16 IN1, int16 IN2) — and never sends anything unasked. A client that reads exactly the replies
it asked for therefore stays in step, and any other silence means the device is gone.

Only the standard library and numpy are used, so the client runs wherever mimocorb does.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

PORT = 1001
CLOCK_HZ = 125_000_000  # the ADC clock; timers count its ticks
ADC_MIN, ADC_MAX = -8192, 8191  # 14-bit ADC, as the scope sends it in int16
HISTOGRAM_BINS = 4096
STATUS_BYTES = 36
MAX_SAMPLES = 0x7FFFFF  # the scope's ring in the board's memory
# the decimations the server's sample-rate command is used with; below 4 it switches decimation off
DECIMATIONS = (1, 4, 8, 16, 32, 64, 128, 256)
VALUE_BITS = 52
VALUE_MASK = (1 << VALUE_BITS) - 1
_COMMAND = struct.Struct("<Q")


class Code(IntEnum):
    """The server's command codes."""

    RESET_HISTOGRAM = 0
    RESET_TIMER = 1
    RESET_SCOPE = 2
    RESET_GENERATOR = 3
    SAMPLE_RATE = 4
    NEGATOR = 5
    PHA_DELAY = 6
    PHA_MIN = 7
    PHA_MAX = 8
    SET_TIMER = 9
    TIMER_MODE = 10
    READ_STATUS = 11
    READ_HISTOGRAM = 12
    TRIGGER_SOURCE = 13
    TRIGGER_SLOPE = 14
    TRIGGER_MODE = 15
    TRIGGER_LEVEL = 16
    PRETRIGGER = 17
    TOTAL_SAMPLES = 18
    START_SCOPE = 19
    READ_SCOPE = 20
    FALL_TIME = 21
    RISE_TIME = 22
    LOWER_LIMIT = 23
    UPPER_LIMIT = 24
    PULSE_RATE = 25
    DISTRIBUTION = 26
    RESET_SPECTRUM = 27
    SPECTRUM_BIN = 28
    START_GENERATOR = 29
    STOP_GENERATOR = 30


def encode(code: int, channel: int = 0, value: int = 0) -> bytes:
    """One command on the wire; a negative value (a trigger level) goes as its two's complement."""
    return _COMMAND.pack((code & 0xFF) << 56 | (channel & 0xF) << 52 | (value & VALUE_MASK))


def decode(raw: bytes) -> tuple[int, int, int]:
    """``(code, channel, value)`` of one command."""
    (word,) = _COMMAND.unpack(raw)
    return word >> 56, (word >> 52) & 0xF, word & VALUE_MASK


_READ_STATUS = encode(Code.READ_STATUS)
_ARM = encode(Code.RESET_SCOPE) + encode(Code.START_SCOPE)


@dataclass(frozen=True)
class Status:
    """The 36-byte status reply: nine little-endian uint32 words."""

    words: tuple[int, ...]

    @classmethod
    def from_bytes(cls, raw: bytes) -> Status:
        return cls(struct.unpack("<9I", raw))

    @property
    def capturing(self) -> bool:
        """The scope is armed and has not finished its capture yet (word 8, bit 0)."""
        return bool(self.words[8] & 1)

    def timer(self, channel: int) -> int:
        """The pulse-height analyser's live-time counter of ``channel``, in clock ticks (words 0-3)."""
        low, high = self.words[2 * channel], self.words[2 * channel + 1]
        return high << 32 | low


@dataclass(frozen=True)
class ScopeSettings:
    """What the oscilloscope is told before each run of captures; values as the server takes them."""

    decimation: int = 4
    trigger_channel: int = 0  # 0 = IN1, 1 = IN2
    falling: bool = False
    auto: bool = False
    level: int = 500
    pretrigger: int = 100
    samples: int = 2048
    negate: tuple[bool, bool] = (False, False)

    def commands(self) -> list[tuple[int, int, int]]:
        return [
            (Code.SAMPLE_RATE, 0, self.decimation),
            (Code.NEGATOR, 0, int(self.negate[0])),
            (Code.NEGATOR, 1, int(self.negate[1])),
            (Code.TRIGGER_SOURCE, self.trigger_channel, 0),
            (Code.TRIGGER_SLOPE, 0, int(self.falling)),
            (Code.TRIGGER_MODE, 0, int(self.auto)),
            (Code.TRIGGER_LEVEL, 0, self.level),
            (Code.PRETRIGGER, 0, self.pretrigger),
            (Code.TOTAL_SAMPLES, 0, self.samples),
        ]


class DeviceError(ConnectionError):
    """The device cannot be reached or stopped answering; the message names the address."""


def parse_address(text: str, default_port: int = PORT) -> tuple[str, int]:
    """``host`` or ``host:port`` (``[v6addr]:port`` for IPv6); ValueError says what is wrong."""
    host, port = text.strip(), default_port
    if host.startswith("["):
        inside, _, rest = host[1:].partition("]")
        host = inside
        if rest:
            port = _port(rest.removeprefix(":"), text)
    elif host.count(":") == 1:
        host, port_text = host.split(":")
        port = _port(port_text, text)
    if not host:
        raise ValueError(f"expected 'host' or 'host:port', got {text!r}")
    return host, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"expected a port number 1-65535 in {whole!r}, got {text!r}")
    return int(text)


class MCPHAClient:
    """A connection to one MCPHA server.

    Every operation either completes or raises ``DeviceError`` within ``timeout`` seconds, so that a
    device that is switched off or unplugged mid-run is noticed instead of waited for.

    Args:
        host: name or address of the Red Pitaya.
        port: the server's TCP port.
        timeout: seconds a reply may take before the device counts as lost.
        connect_timeout: seconds the connection may take.
    """

    def __init__(self, host: str, port: int = PORT, timeout: float = 2.0, connect_timeout: float = 5.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.address = f"{host}:{port}"
        try:
            self._sock = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as exc:
            raise DeviceError(_unreachable(self.address, exc)) from exc
        self._sock.settimeout(timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._status = bytearray(STATUS_BYTES)
        self._status_view = memoryview(self._status)

    def send(self, *commands: tuple[int, int, int]) -> None:
        """Send commands in one write: a settings block reaches the device as one packet."""
        self._sendall(b"".join(encode(*command) for command in commands))

    def status(self) -> Status:
        self._sendall(_READ_STATUS)
        self.receive_into(self._status_view)
        return Status.from_bytes(bytes(self._status))

    def capturing(self) -> bool:
        """The status bit alone: what the capture loop asks thousands of times a second."""
        self._sendall(_READ_STATUS)
        self.receive_into(self._status_view)
        return bool(self._status[32] & 1)

    def configure(self, settings: ScopeSettings) -> None:
        self.send(*settings.commands())

    def arm(self) -> None:
        """Reset the scope and start a capture (the server's way to re-arm)."""
        self._sendall(_ARM)

    def disarm(self) -> None:
        self.send((Code.RESET_SCOPE, 0, 0))

    def wait_captured(self, keep_waiting: Callable[[], bool]) -> bool:
        """Poll the status until the capture is complete; False if ``keep_waiting()`` said stop first.

        Polls back to back at first, then at most every millisecond: a fast trigger costs no latency
        and a quiet detector costs little processor time.
        """
        started = time.monotonic()
        while self.capturing():
            if not keep_waiting():
                return False
            waited = time.monotonic() - started
            if waited > 0.001:
                time.sleep(min(0.001, waited / 20))
        return True

    def read_scope(self, into: np.ndarray | memoryview) -> None:
        """The captured samples into ``into`` (4 bytes per sample: int16 IN1, IN2 interleaved, as an
        int16 array of shape (samples, 2) holds them)."""
        self.send((Code.READ_SCOPE, 0, 0))
        self.receive_into(as_bytes(into) if isinstance(into, np.ndarray) else into)

    def read_histogram(self, channel: int) -> np.ndarray:
        self.send((Code.READ_HISTOGRAM, channel, 0))
        counts = np.empty(HISTOGRAM_BINS, "<u4")
        self.receive_into(as_bytes(counts))
        return counts

    def receive_into(self, view: memoryview) -> None:
        """Exactly ``len(view)`` bytes, or DeviceError."""
        got, size = 0, len(view)
        try:
            while got < size:
                n = self._sock.recv_into(view[got:])
                if n == 0:
                    raise DeviceError(f"the MCPHA server at {self.address} closed the connection")
                got += n
        except TimeoutError as exc:
            raise DeviceError(
                f"the MCPHA server at {self.address} sent no reply for {self.timeout:g} s"
            ) from exc
        except OSError as exc:
            if isinstance(exc, DeviceError):
                raise
            raise DeviceError(f"the connection to the MCPHA server at {self.address} failed: {exc}") from exc

    def _sendall(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise DeviceError(f"the connection to the MCPHA server at {self.address} failed: {exc}") from exc

    def close(self) -> None:
        self._sock.close()


def as_bytes(array: np.ndarray) -> memoryview:
    """A writable byte view of a contiguous array, for ``recv_into``."""
    return memoryview(array.view(np.uint8).reshape(-1))  # type: ignore[arg-type]  # numpy arrays are buffers


def _unreachable(address: str, exc: OSError) -> str:
    """Why a connection failed, and what to look at: most often power, network or the server program."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError):
        reason = "no answer"
    return (
        f"cannot connect to the MCPHA server at {address}: {reason}. Check that the Red Pitaya is "
        "switched on and reachable from here (ping it), that its MCPHA application is running, and that "
        f"the port is right (the server listens on {PORT}); 'mimocorb simulate redpitaya' serves a "
        "simulated one"
    )
