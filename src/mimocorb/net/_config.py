"""Options of the two ends of a link, the link statistics record, keys and socket security."""

from __future__ import annotations

import dataclasses
import os
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import zmq
import zmq.auth

from .._hosts import is_loopback_host
from ._wire import NetError


@dataclasses.dataclass
class ServeOptions:
    """How a buffer is served.

    ``secret_key``: this side's key file written by ``write_keys`` (the ``.key_secret`` file);
    ``client_keys``: a directory with the public key files (``.key``) of the receivers allowed in.
    Without keys the link is plain (only allowed on loopback or ipc unless ``insecure``).
    """

    address: str
    secret_key: str | None = None
    client_keys: str | None = None
    insecure: bool = False
    heartbeat: float = 1.0  # seconds between heartbeats on a quiet link
    peer_timeout: float = 10.0  # a receiver silent this long is given up (its events go back to the group)
    max_batch: int = 1000  # events per DATA message at most
    max_message_bytes: int = 4 << 20  # ... and at most this much data (but one event at least): pipelining
    observe_interval: float = 0.05  # observers get at most one event per interval
    end_grace: float = 5.0  # after the ring's end: how long END is repeated to receivers that did not say BYE
    stats_interval: float = 1.0
    # where the server keeps the ids of its receivers, so that a restarted server waits for them (at most
    # peer_timeout) before it hands out again what its predecessor held (None: it does not wait)
    links_file: str | None = None


@dataclasses.dataclass
class ConnectOptions:
    """How a buffer is fed from a served one.

    ``secret_key``: this side's ``.key_secret`` file; ``server_key``: the server's public ``.key``
    file. ``link_id`` names this receiver to the server and must stay the same when the receiving
    process is restarted (that is how the server resends exactly what was not committed); the default
    is unique per options object, so a restarted process must get the same object (or id).
    ``connect_timeout``: give up if no server answered within it (None: wait until the ring ends).
    """

    address: str
    group: str = "default"
    mode: str = "read"  # or "observe"
    secret_key: str | None = None
    server_key: str | None = None
    insecure: bool = False
    link_id: str = dataclasses.field(
        default_factory=lambda: f"{socket.gethostname()}-{uuid.uuid4().hex[:12]}"
    )
    heartbeat: float = 1.0
    peer_timeout: float = 10.0  # the server silent this long: reported, the receiver ends
    connect_timeout: float | None = None
    window: int | None = None  # credits (events in flight); default: the receiving ring's slots
    stats_interval: float = 1.0


@dataclasses.dataclass
class LinkStats:
    """One report about one link, from either end (``role`` "serve" or "connect").

    ``state``: "waiting" (no peer yet / no data), "connected", "gone" (peer silent past the timeout),
    "refused", "ended". Counters are totals since the link object was made; ``rate`` is acknowledged
    events per second since the previous report of the same link.
    """

    role: str
    link: str
    peer: str
    group: str
    mode: str
    state: str
    events_sent: int = 0
    events_acked: int = 0
    events_resent: int = 0
    reconnects: int = 0
    bytes: int = 0
    rate: float = 0.0
    time: float = dataclasses.field(default_factory=time.time)
    message: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


Report = Callable[[LinkStats], None]


class RateClock:
    """Rate of a growing count between successive reports."""

    def __init__(self) -> None:
        self._t, self._n = time.monotonic(), 0

    def __call__(self, n: int) -> float:
        now = time.monotonic()
        dt = now - self._t
        rate = (n - self._n) / dt if dt > 0 else 0.0
        self._t, self._n = now, n
        return rate


# ---- addresses and keys -----------------------------------------------------------------------


def is_loopback(address: str) -> bool:
    """True for ipc:// and inproc:// and for tcp:// on a loopback address or ``localhost``: a link
    that never leaves the machine, for which plain (keyless) sockets are acceptable."""
    scheme, _, rest = address.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp" or not rest:
        return False
    return is_loopback_host(rest.rsplit(":", 1)[0])


def write_keys(name: str, directory: str | os.PathLike = ".") -> tuple[Path, Path]:
    """Write a CURVE key pair ``NAME.key`` (public: give it to the other side) and ``NAME.key_secret``
    (keep it) into ``directory``; returns both paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(d), name)
    os.chmod(secret, 0o600)
    return Path(public), Path(secret)


def _load(path: str, what: str, secret: bool) -> tuple[bytes, bytes | None]:
    try:
        public, sec = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as e:
        raise NetError(f"cannot read the {what} key file '{path}': {e}") from None
    if secret and sec is None:
        raise NetError(f"the {what} key file '{path}' holds no secret key (use the .key_secret file)")
    return public, sec


def check_plain(address: str, has_keys: bool, insecure: bool) -> None:
    """The rule for links without CURVE keys: only on loopback, unless the setup says ``insecure``.

    Anything reachable over a network must be authenticated, so a plain link to another host is a
    mistake unless it was asked for in so many words.

    Raises:
        NetError: ``address`` is not a loopback or ipc address, there are no keys and not ``insecure``.
    """
    if not has_keys and not insecure and not is_loopback(address):
        raise NetError(
            f"'{address}' is not a loopback address: give key files (mimocorb keys NAME) or insecure: true"
        )


def secure_server(ctx: zmq.Context, sock: zmq.Socket, opts: ServeOptions) -> object | None:
    """Make ``sock`` a CURVE server that admits only the keys in ``client_keys``; returns the
    authenticator thread (stop it at the end) or None for a plain socket."""
    check_plain(opts.address, bool(opts.secret_key), opts.insecure)
    if not opts.secret_key:
        return None
    if not opts.client_keys or not Path(opts.client_keys).is_dir():
        raise NetError(f"serving '{opts.address}' with a key needs client_keys, a directory of public keys")
    from zmq.auth.thread import ThreadAuthenticator

    public, secret = _load(opts.secret_key, "server", True)
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(opts.client_keys))
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_server = True
    return auth


def secure_client(sock: zmq.Socket, opts: ConnectOptions) -> None:
    check_plain(opts.address, bool(opts.secret_key), opts.insecure)
    if not opts.secret_key:
        return
    if not opts.server_key:
        raise NetError(f"connecting to '{opts.address}' with a key needs server_key, the server's public key")
    public, secret = _load(opts.secret_key, "client", True)
    server_public, _ = _load(opts.server_key, "server", False)
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_serverkey = server_public
