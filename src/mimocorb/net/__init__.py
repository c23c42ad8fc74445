"""Buffers across machines: a served buffer's reader groups and observers on other hosts, over ZeroMQ.

Two worker entry points, to be run as ordinary worker processes:

- ``serve_worker(groups, observer, ServeOptions(address=...), report)``: the network reader group(s)
  of a local buffer. Events stay held in the ring until a receiver acknowledged their commit.
- ``connect_worker(writer_setup, ConnectOptions(address=..., group=...), report)``: the writer of a
  local buffer, fed from a served one; ends after the serving run's end-of-stream.

``report`` is any callable taking a ``LinkStats`` record (e.g. ``queue.put``). For scripts and
notebooks: ``observe(address)`` yields samples, ``join(address, group)`` yields batches to commit.
``write_keys(name)`` writes a CURVE key pair; ``is_loopback(address)`` tells whether a plain link is
acceptable. The wire protocol is described in ``mimocorb.net._wire`` and docs/net.md.
"""

from ._client import ReceivedBatch, connect_worker, join, observe
from ._config import ConnectOptions, LinkStats, ServeOptions, check_plain, is_loopback, write_keys
from ._server import serve_worker
from ._wire import NetError

__all__ = [
    "ConnectOptions",
    "LinkStats",
    "NetError",
    "ReceivedBatch",
    "ServeOptions",
    "check_plain",
    "connect_worker",
    "is_loopback",
    "join",
    "observe",
    "serve_worker",
    "write_keys",
]
