"""The connection between the run controller and the web server process: one socket pair, no threads.

The controller must never wait for the server and must stay single-threaded (it forks workers), so the
two talk over a Unix socket pair of whole messages (``SOCK_SEQPACKET``, else ``SOCK_DGRAM``), both ends
non-blocking. A message the socket cannot take at once is dropped, never queued: a stalled or dead
server costs the controller one failed ``send`` per message. Each message is one JSON object with a
type ``t``:

controller → server: ``status`` (``d``: a snapshot), ``log`` (``d``: ``[time, source, text]``),
``close``;
server → controller: ``ready`` (``url``, ``port``), ``command`` (``c``: a command letter, ``a``: its
argument or ""),
``fatal`` (``error``: why the server gives up).
"""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

MAX_MESSAGE = 60_000  # bytes; longer log lines are cut, longer snapshots are not sent
SEND_BUFFER = 1 << 20


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """(controller end, server end), non-blocking, whole messages."""
    kind = getattr(socket, "SOCK_SEQPACKET", None)
    try:
        if kind is None:
            raise OSError("no SOCK_SEQPACKET")
        a, b = socket.socketpair(socket.AF_UNIX, kind)
    except OSError:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for end in (a, b):
        end.setblocking(False)
        with contextlib.suppress(OSError):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    return a, b


def send(sock: socket.socket, message: dict[str, Any]) -> bool:
    """Send one message if the socket takes it now; False if it was dropped."""
    data = json.dumps(message, separators=(",", ":"), default=_plain).encode("utf-8")
    if len(data) > MAX_MESSAGE:
        return False
    try:
        sock.send(data)
    except (BlockingIOError, InterruptedError, OSError, ValueError):
        return False
    return True


def receive(sock: socket.socket) -> tuple[list[dict[str, Any]], bool]:
    """All messages waiting now, and whether the other end has gone (end of file)."""
    out: list[dict[str, Any]] = []
    while True:
        try:
            data = sock.recv(MAX_MESSAGE + 1)
        except (BlockingIOError, InterruptedError):
            return out, False
        except (OSError, ValueError):
            return out, True
        if not data:
            return out, sock.type != socket.SOCK_DGRAM
        with contextlib.suppress(ValueError):
            message = json.loads(data)
            if isinstance(message, dict):
                out.append(message)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)
