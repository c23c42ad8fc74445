"""The stream source: events that a program outside mimocorb sends over the network, into a buffer.

Two transports, chosen by ``protocol``:

* ``json`` — the source listens on TCP ``address`` (``host:port``) and reads newline-delimited JSON
  objects, one event each: ``{"IN1": [1, 2, ...], "energy": 661.7}``. Any language can send that with
  a plain socket; several senders may connect one after the other or at the same time.
* ``zmq`` — the source binds (or, with ``connect: true``, connects) a ZeroMQ PULL socket, or a SUB socket
  with ``pattern: sub``, at ``address`` (``tcp://host:port``), and reads numpy frames: a message is one
  event, either a single frame holding one record of the buffer's dtype, or a JSON header
  ``{"fields": ["IN1", ...]}`` followed by one raw frame per named field (dtype and length as the buffer
  has them). Needs pyzmq (the ``net`` extra).

Fields are matched by name: a field the event does not name is set to zero, a name the buffer does not
have is an error (``unknown: ignore`` drops it instead). A sender's mistake ends that event, not the run:
it is logged and counted. The source runs until the end of the run, or until ``events`` events were
stored, and never waits longer than ``poll_interval`` without looking at the run's state.
"""

from __future__ import annotations

import functools
import json
import logging
import selectors
import socket
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._optional import require
from ..ring import Writer
from ._common import RunState, commit, one_write_buffer, write_setup

PROTOCOLS = ("json", "zmq")
PATTERNS = ("pull", "sub")
KEYS = ("protocol", "address", "connect", "pattern", "unknown", "events", "poll_interval", "directory_prefix")

log = logging.getLogger("mimocorb.devices.stream")


class BadEvent(ValueError):
    """One event that does not fit the buffer; the source logs it and goes on."""


@dataclass(frozen=True)
class StreamConfig:
    protocol: str
    address: str
    connect: bool
    pattern: str
    ignore_unknown: bool
    events: int
    poll_interval: float

    @classmethod
    def from_config(cls, c: Mapping[str, Any]) -> StreamConfig:
        for key in c:
            if key not in KEYS:
                raise ValueError(
                    f"stream: unknown config key '{key}'; expected one of {', '.join(KEYS[:-1])}"
                )
        protocol = c.get("protocol", "json")
        if protocol not in PROTOCOLS:
            raise ValueError(f"stream: 'protocol' must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        address = c.get("address")
        if not isinstance(address, str) or not address:
            example = "127.0.0.1:5555" if protocol == "json" else "tcp://127.0.0.1:5555"
            raise ValueError(f"stream: config key 'address' is required, e.g. {example}")
        pattern = c.get("pattern", "pull")
        if pattern not in PATTERNS:
            raise ValueError(f"stream: 'pattern' must be one of {', '.join(PATTERNS)}, got {pattern!r}")
        unknown = c.get("unknown", "error")
        if unknown not in ("error", "ignore"):
            raise ValueError(f"stream: 'unknown' must be 'error' or 'ignore', got {unknown!r}")
        events = c.get("events", 0)
        if isinstance(events, bool) or not isinstance(events, int) or events < 0:
            raise ValueError(f"stream: 'events' must be an integer >= 0 (0: no limit), got {events!r}")
        poll = c.get("poll_interval", 0.1)
        if isinstance(poll, bool) or not isinstance(poll, int | float) or poll <= 0:
            raise ValueError(f"stream: 'poll_interval' must be a number > 0, got {poll!r}")
        return cls(
            protocol, address, bool(c.get("connect", False)), pattern, unknown == "ignore", events, poll
        )


def check_stream_config(config_dict: Mapping[str, Any], buffers: Mapping[str, list]) -> None:
    """What ``mimocorb validate`` checks: the keys, and a buffer with named fields to write."""
    config = StreamConfig.from_config(config_dict)
    one_write_buffer("stream", buffers)
    if config.protocol == "json":
        _host_port(config.address)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"stream: 'address' must be host:port for protocol json, got {address!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class _Filler:
    """Puts one decoded event into a slot, by field name."""

    def __init__(self, dtype: np.dtype, values_per_slot: int, ignore_unknown: bool):
        self.dtype, self.size, self.ignore_unknown = dtype, values_per_slot, ignore_unknown
        self.names = dtype.names or ()

    def check(self, fields: Mapping[str, Any]) -> None:
        unknown = [name for name in fields if name not in self.names]
        if unknown and not self.ignore_unknown:
            raise BadEvent(f"fields {unknown} are not in the buffer (it has {list(self.names)})")

    def fill(self, slot: np.ndarray, fields: Mapping[str, Any]) -> None:
        for name in self.names:
            value = fields.get(name)
            if value is None:
                slot[name] = 0
                continue
            try:
                slot[name] = value
            except (TypeError, ValueError) as exc:
                raise BadEvent(f"field {name}: {exc}") from exc

    def record_frame(self, frame: bytes) -> Mapping[str, Any]:
        """A single frame holding whole records of the buffer's dtype."""
        expected = self.dtype.itemsize * self.size
        if len(frame) != expected:
            raise BadEvent(
                f"a record frame must have {expected} bytes ({self.size} × {self.dtype}), got {len(frame)}"
            )
        records = np.frombuffer(frame, self.dtype)
        return {name: records[name] for name in self.names}

    def field_frames(self, header: bytes, frames: list[bytes]) -> Mapping[str, Any]:
        try:
            names = json.loads(header)["fields"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BadEvent(f'the first frame must be a JSON header {{"fields": [...]}}: {exc}') from exc
        if not isinstance(names, list) or len(names) != len(frames):
            raise BadEvent(f"the header names {names!r} but {len(frames)} data frame(s) follow")
        self.check(dict.fromkeys(names))
        out = {}
        for name, frame in zip(names, frames, strict=True):
            if name in self.names:
                field = self.dtype[name]
                if len(frame) != field.itemsize * self.size:
                    raise BadEvent(
                        f"field {name}: expected {self.size} values of {field} ({field.itemsize * self.size} "
                        f"bytes), got {len(frame)} bytes"
                    )
                out[name] = np.frombuffer(frame, field)
        return out


class StreamSource:
    """Reads events from the network into the function's 'write' buffer (module docstring).

    Args:
        sink_list: the setup dict of the one 'write' buffer.
        config_dict: ``protocol``, ``address`` and the optional keys of the module docstring.
        rb_info: the ``RB_assign`` entries.
    """

    def __init__(self, sink_list: list[dict] | None, config_dict: dict | None, **rb_info: Any):
        setup = write_setup("stream", sink_list, rb_info, log)
        config = dict(config_dict or {})
        self.config = StreamConfig.from_config(config)
        dtype = np.dtype(setup["dtype"])
        if not dtype.names:
            raise ValueError("stream: the 'write' buffer needs named fields")
        self.filler = _Filler(dtype, int(setup["values_per_slot"]), self.config.ignore_unknown)
        self.sink = Writer(setup)
        self.state = RunState(self.sink)
        self.stored = self.rejected = 0
        # bound here, before the run starts, so that senders can connect as soon as it does
        if self.config.protocol == "json":
            self._incoming = _json_events(self, socket.create_server(_host_port(self.config.address)))
        else:
            self._incoming = _zmq_events(self, _zmq_socket(self.config))

    def running(self) -> bool:
        return self.state.running() and not (self.config.events and self.stored >= self.config.events)

    def __call__(self) -> None:
        try:
            for fields in self._incoming:
                if not self._store(fields):
                    break
        finally:
            self._incoming.close()
            log.info("stream: %d event(s) stored, %d rejected", self.stored, self.rejected)

    def _store(self, fields: Mapping[str, Any]) -> bool:
        """One event into the buffer; False once the run has ended. Events sent during a pause are
        dropped: a sender outside mimocorb cannot be held back."""
        if self.state.paused():
            return True
        fill = functools.partial(self.filler.fill, fields=fields)
        try:
            self.filler.check(fields)
            if not commit(self.sink, self.stored + 1, fill, time.time(), 0.0):
                return False
        except BadEvent as exc:  # the event does not fit: nothing of it stays in the buffer
            return self._reject(exc)
        self.stored += 1
        return self.running()

    def _reject(self, exc: BadEvent) -> bool:
        self.rejected += 1
        log.warning("stream: event rejected: %s", exc)
        return True


def _json_events(source: StreamSource, server: socket.socket) -> Generator[Mapping[str, Any], None, None]:
    """Events from every TCP connection, one JSON object per line."""
    server.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(server, selectors.EVENT_READ, None)
    try:
        while source.running():
            for key, _ in selector.select(source.config.poll_interval):
                if key.data is None:
                    connection, _ = server.accept()
                    connection.setblocking(False)
                    selector.register(connection, selectors.EVENT_READ, bytearray())
                    continue
                yield from _json_lines(key.fileobj, key.data, selector)  # type: ignore[arg-type]
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        selector.close()


def _json_lines(
    connection: socket.socket, pending: bytearray, selector: selectors.BaseSelector
) -> Generator[Mapping[str, Any], None, None]:
    try:
        chunk = connection.recv(1 << 16)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        chunk = b""
    if not chunk:
        selector.unregister(connection)
        connection.close()
        chunk = b"\n"  # a last line without its newline still counts
    pending += chunk
    *lines, rest = pending.split(b"\n")
    pending[:] = rest
    for line in lines:
        if line.strip():
            try:
                event = json.loads(line)
            except ValueError as exc:
                log.warning("stream: a line that is not JSON was skipped: %s", exc)
                continue
            if isinstance(event, dict):
                yield event
            else:
                log.warning("stream: expected a JSON object per line, got %s", type(event).__name__)


def _zmq_socket(config: StreamConfig) -> Any:
    zmq = require("zmq", "net", "the ZeroMQ stream source")
    sock = zmq.Context.instance().socket(zmq.SUB if config.pattern == "sub" else zmq.PULL)
    sock.setsockopt(zmq.LINGER, 0)
    if config.pattern == "sub":
        sock.setsockopt(zmq.SUBSCRIBE, b"")
    (sock.connect if config.connect else sock.bind)(config.address)
    return sock


def _zmq_events(source: StreamSource, sock: Any) -> Generator[Mapping[str, Any], None, None]:
    """Events from a ZeroMQ PULL or SUB socket."""
    config = source.config
    try:
        while source.running():
            if not sock.poll(int(config.poll_interval * 1000)):
                continue
            frames = sock.recv_multipart(copy=True)
            try:
                yield _decode_frames(source.filler, frames)
            except BadEvent as exc:
                source._reject(exc)
    finally:
        sock.close(linger=0)


def _decode_frames(filler: _Filler, frames: list[bytes]) -> Mapping[str, Any]:
    if len(frames) == 1:
        return filler.record_frame(frames[0])
    return filler.field_frames(frames[0], frames[1:])


def stream(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info) -> None:
    """Source function for a setup: ``file_name: mimocorb.devices``, ``fkt_name: stream``.

    Events sent by another program (newline-delimited JSON over TCP, or numpy frames over ZeroMQ) into
    the 'write' buffer, by field name; config keys in docs/devices.md.
    """
    StreamSource(sink_list, config_dict, **rb_info)()


stream.check_config = check_stream_config  # type: ignore[attr-defined]  # a function attribute
