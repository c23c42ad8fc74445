"""A simulated SCPI oscilloscope on a TCP port: the raw-socket SCPI service (``::SOCKET`` resources) of a
Rigol, Keysight, Tektronix or Siglent scope, answering its profile's commands.

It exists so that the SCPI source, its tests and a new setup run without a scope. A single acquisition is
complete ``1/rate`` seconds after it is armed; channel ``n`` of acquisition ``k`` holds
``scope_waveform(k, n, points)``, and the preamble says 10 mV per count, 1 ns per sample and the trigger
500 ns after the first sample (Siglent: its binary descriptor, ``siglent_descriptor``; a waveform block
ends with two line ends there, which the source must cope with). ``commands`` keeps every command
received, in order, for tests.

With a portmapper port it also answers VXI-11 (``::INSTR`` resources, ``_vxi11_sim``): the portmapper a
client asks first (port 111 on a real scope, which needs privileges to bind) and the core channel.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from ._common import InBackground, accept_client, end_process, serve_until_signal, start_simulator
from ._scpi import PROFILES, SIGLENT_DESCRIPTOR, Profile, block_header
from ._vxi11_sim import CoreChannel, serve_portmapper

STARTED = "SCPI oscilloscope simulator listening on "
PREAMBLES = {  # 10 mV per count around count 128 (signed: around 0), 1 ns per sample, trigger at 500 ns
    "rigol": "0,0,{points},1,1e-09,-5e-07,0,0.01,0,128",
    "keysight": "0,0,{points},1,1e-09,-5e-07,0,0.01,0,128",
    "tektronix": "0.01;0;0;1e-09;-5e-07;0",
}
SIGLENT = {  # the descriptor's vertical values, exact in float32: 0.25 V/div x probe 2 over 25 codes/div
    "vdiv": 0.25, "offset": 0.125, "code_per_div": 25.0, "probe": 2.0, "interval": 1e-9, "delay": -2e-7,
    "timebase": 9,  # SIGLENT_TIMEBASES[9]: 100 ns/div
}  # fmt: skip
STATUS = {  # (running, complete) replies to the profile's status query
    "rigol": ("WAIT", "STOP"),
    "keysight": ("+8", "+0"),
    "tektronix": ("1", "0"),
    "siglent": ("Ready", "Stop"),
}
IDN = {
    "rigol": "RIGOL TECHNOLOGIES,DS1104Z,SIMULATED,00.04.05",
    "keysight": "KEYSIGHT TECHNOLOGIES,DSOX1204G,SIMULATED,02.12",
    "tektronix": "TEKTRONIX,TBS2104,SIMULATED,CF:91.1CT FV:v1.0",
    "siglent": "Siglent Technologies,SDS2104X Plus,SIMULATED,1.5.2R3",
}


def siglent_descriptor(points: int) -> bytes:
    """The WAVEDESC of a Siglent preamble, little-endian, with the values of ``SIGLENT``: volts =
    signed count * 0.02 - 0.25, 1 ns per sample, the first sample at 200 ns - 5 x 100 ns = -300 ns."""
    d = bytearray(SIGLENT_DESCRIPTOR)
    d[0:8], d[16:23], d[76:89] = b"WAVEDESC", b"WAVEACE", b"SDS2104X Plus"
    struct.pack_into("<hhi", d, 32, 0, 0, SIGLENT_DESCRIPTOR)  # byte samples, LSB first, length
    struct.pack_into("<i", d, 60, points)  # bytes of the data array
    struct.pack_into("<i", d, 116, points)  # points
    s = SIGLENT
    struct.pack_into("<3f", d, 156, s["vdiv"], s["offset"], s["code_per_div"])
    struct.pack_into("<h", d, 172, 8)  # ADC bits
    struct.pack_into("<fd", d, 176, s["interval"], s["delay"])
    struct.pack_into("<hxxf", d, 324, s["timebase"], s["probe"])
    return bytes(d)


def _block(data: bytes, end: bytes = b"\n") -> bytes:
    return block_header(len(data)) + data + end


def scope_waveform(acquisition: int, channel: int, points: int, dtype: str = "u1") -> np.ndarray:
    """The known samples of channel ``channel`` in acquisition ``acquisition`` (1, 2, ...): every sample,
    channel and acquisition differs, so a lost, swapped or shifted one shows."""
    counts = (acquisition * 37 + channel * 61 + np.arange(points) * 3) % 256
    return counts.astype(np.uint8).view(dtype)


class _Scope:
    """The state of the simulated scope that all connections share."""

    def __init__(self, profile: Profile, rate: float):
        self.profile, self.rate = profile, rate
        self.points = 1200
        self.channel = 1
        self.acquisitions = 0
        self.armed_at: float | None = None
        self.commands: list[str] = []
        source = re.escape(profile.source).replace(r"\{n\}", r"(\d)")
        self._select = re.compile(re.escape(profile.select).replace(r"\{source\}", source) + "$")
        self._points = re.compile(re.escape(profile.points).replace(r"\{points\}", r"(\d+)") + "$")

    def complete(self) -> bool:
        return self.armed_at is None or time.monotonic() >= self.armed_at + 1 / self.rate

    def handle(self, command: str) -> bytes | None:
        """The reply to one command, or None for a command without one."""
        self.commands.append(command)
        p = self.profile
        if command == "*IDN?":
            return IDN[p.name].encode() + b"\n"
        if command == p.arm:
            self.acquisitions += 1
            self.armed_at = time.monotonic()
        elif command == p.stop:
            self.armed_at = None
        elif command == p.status:
            return STATUS[p.name][self.complete()].encode() + b"\n"
        elif command == p.preamble:
            if p.binary_preamble:
                return _block(siglent_descriptor(self.points))
            return PREAMBLES[p.name].format(points=self.points).encode() + b"\n"
        elif command == p.data:
            data = scope_waveform(self.acquisitions, self.channel, self.points).tobytes()
            return _block(data, b"\n\n" if p.name == "siglent" else b"\n")
        elif match := self._select.match(command):
            self.channel = int(match.group(1))
        elif match := self._points.match(command):
            self.points = int(match.group(1))
        return None


class _Service:
    """One listening TCP socket whose connections are each served by ``serve`` in a thread of their own;
    ``clients`` counts the connections open."""

    def __init__(self, host: str, port: int, serve: Callable[[socket.socket], None], name: str):
        self._listener = socket.create_server((host, port))
        self.port: int = self._listener.getsockname()[1]
        self._serve, self._clients = serve, set[socket.socket]()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name=name, daemon=True)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # not listening: nothing to shut down
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for client in self._clients:
                with contextlib.suppress(OSError):  # closed by the client already
                    client.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while (client := accept_client(self._listener)) is not None:
            with self._lock:
                self._clients.add(client)
            threading.Thread(target=self._run, args=(client,), daemon=True).start()

    def _run(self, client: socket.socket) -> None:
        try:
            with client:
                self._serve(client)
        except OSError:
            pass  # the client went away or the simulator stopped
        finally:
            with self._lock:
                self._clients.discard(client)


class ScpiSimulator(InBackground):
    """A simulated oscilloscope serving SCPI on a loopback TCP port from threads, and with
    ``portmapper_port`` also over VXI-11 (``_vxi11_sim``).

    Args:
        profile: the dialect it speaks: ``rigol``, ``keysight``, ``tektronix`` or ``siglent``.
        port: TCP port of the raw SCPI service; 0 picks a free one (``port`` says which).
        rate: acquisitions per second at most: how long after arming one is complete.
        host: address to listen on.
        portmapper_port: None for no VXI-11; 111 as on a real scope (a privileged port); 0 for a free one,
            which VISA cannot be told, so that the resource then names the core channel's port instead.
    """

    def __init__(
        self,
        profile: str = "rigol",
        port: int = 0,
        rate: float = 1000.0,
        host: str = "127.0.0.1",
        portmapper_port: int | None = None,
    ):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
        self.scope = _Scope(PROFILES[profile], rate)
        self.host = host
        self._lock = threading.Lock()
        self._services = [_Service(host, port, self._serve_socket, "scpi-simulator")]
        self.port: int = self._services[0].port
        self.portmapper_port: int | None = None
        if portmapper_port is not None:
            core = _Service(host, 0, lambda c: CoreChannel(self._handle).serve(c), "vxi11-core")
            mapper = _Service(host, portmapper_port, lambda c: serve_portmapper(c, core.port), "portmapper")
            self._services += [core, mapper]
            self.core_port, self.portmapper_port = core.port, mapper.port

    @property
    def resource(self) -> str:
        """The VISA resource name of the raw SCPI service."""
        return f"TCPIP::{self.host}::{self.port}::SOCKET"

    @property
    def instr_resource(self) -> str:
        """The VISA resource name for VXI-11: through the portmapper if it is on port 111, else naming
        the core channel's port (``HOST,PORT``, which PyVISA-py connects to without asking a portmapper)."""
        if self.portmapper_port is None:
            raise RuntimeError("the simulator serves no VXI-11: give it a portmapper_port")
        if self.portmapper_port == 111:
            return f"TCPIP::{self.host}::INSTR"
        return f"TCPIP::{self.host},{self.core_port}::INSTR"

    @property
    def commands(self) -> list[str]:
        return self.scope.commands

    @property
    def connected(self) -> bool:
        """A client holds a connection to the SCPI port or the core channel."""
        return any(service.clients for service in self._services[:2])

    def start(self) -> ScpiSimulator:
        for service in self._services:
            service.start()
        return self

    def stop(self) -> None:
        """Stop at once, as a scope switched off: every connection breaks."""
        for service in self._services:
            service.stop()

    def _handle(self, command: str) -> bytes | None:
        with self._lock:
            return self.scope.handle(command)

    def _serve_socket(self, client: socket.socket) -> None:
        with client.makefile("rb") as incoming:
            for line in incoming:
                reply = self._handle(line.decode("ascii", "replace").strip())
                if reply is not None:
                    client.sendall(reply)


def run_scpi_simulator(
    profile: str, port: int, rate: float, host: str = "127.0.0.1", portmapper_port: int | None = None
) -> None:
    """``mimocorb simulate scpi``: serve until SIGINT or SIGTERM; says where first."""
    simulator = ScpiSimulator(profile, port, rate, host, portmapper_port).start()
    vxi11 = "" if portmapper_port is None else f" and {simulator.instr_resource}"
    serve_until_signal(simulator.stop, f"{STARTED}{simulator.resource}{vxi11} ({profile})")


@contextlib.contextmanager
def simulated_scope(*options: str) -> Iterator[str]:
    """``mimocorb simulate scpi`` in its own process for as long as the block runs; yields its resource
    name."""
    process, resource = start_simulator("scpi", STARTED, "--port", "0", *options)
    try:
        yield resource
    finally:
        end_process(process)
