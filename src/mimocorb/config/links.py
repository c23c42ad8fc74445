"""``serve`` and ``connect`` of a buffer: what they resolve to, and what must hold before a run starts.

A link's mistakes (a key file that is not there, a plain link leaving the machine, a connected buffer
that also has a local writer) would otherwise show only once both runs are up, or never. The network
package (``mimocorb.net``) needs pyzmq, which is an extra: it is imported only for a setup that uses a
link, and a missing pyzmq is then the one-line message of ``mimocorb._optional``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .._optional import require
from .resolved import ConnectLink, ServeLink
from .schema import BufferBlock, ConnectBlock, ServeBlock

Problem = tuple[tuple[str, ...], str]  # (key path below the buffer, message)
KEYS_HINT = "make a key pair with 'mimocorb keys NAME' (docs/net.md)"
B = TypeVar("B", ServeBlock, ConnectBlock)


def links_of(
    block: BufferBlock, setup_dir: Path, is_loopback: Callable[[str], bool]
) -> tuple[ServeLink | None, ConnectLink | None, list[Problem]]:
    """The buffer's resolved links (key paths relative to the setup file's directory) and its problems."""
    problems: list[Problem] = []
    serve = connect = None
    if block.serve is not None:
        s = _block(block.serve, ServeBlock)
        secret = _key_file(s.secret_key, setup_dir, ("serve", "secret_key"), "file", problems)
        clients = _key_file(s.client_keys, setup_dir, ("serve", "client_keys"), "directory", problems)
        if len(set(s.groups)) != len(s.groups):
            problems.append((("serve", "groups"), f"expected distinct group names, found {s.groups}"))
        if secret is not None and s.client_keys is None:
            problems.append(
                (
                    ("serve", "client_keys"),
                    "expected a directory of the receivers' public keys with secret_key",
                )
            )
        _plain_check(s.address, s.secret_key, s.insecure, is_loopback, "serve", problems)
        serve = ServeLink(s.address, tuple(s.groups), secret, clients, s.insecure, s.observe_interval)
    if block.connect is not None:
        c = _block(block.connect, ConnectBlock)
        secret = _key_file(c.secret_key, setup_dir, ("connect", "secret_key"), "file", problems)
        server = _key_file(c.server_key, setup_dir, ("connect", "server_key"), "file", problems)
        if secret is not None and c.server_key is None:
            problems.append(
                (("connect", "server_key"), "expected the serving run's public .key file with secret_key")
            )
        _plain_check(c.address, c.secret_key, c.insecure, is_loopback, "connect", problems)
        connect = ConnectLink(c.address, c.group, c.mode, secret, server, c.insecure, float(c.timeout))
    return serve, connect, problems


def _block(value: Any, kind: type[B]) -> B:
    """A bare address in the setup stands for a block with that address and nothing else."""
    return value if isinstance(value, kind) else kind.model_validate({"address": value})


def loopback_test() -> Callable[[str], bool]:
    """``net.is_loopback``, importing ``mimocorb.net`` (and pyzmq) only now."""
    require("zmq", "net", "serve and connect of a buffer")
    from ..net import is_loopback

    return is_loopback


def _key_file(
    given: str | None, setup_dir: Path, key: tuple[str, ...], kind: str, problems: list[Problem]
) -> str | None:
    if given is None:
        return None
    path = (setup_dir / Path(given).expanduser()).resolve()
    exists = path.is_dir() if kind == "directory" else path.is_file()
    if not exists:
        problems.append(
            (key, f"expected an existing key {kind} (relative to the setup file), found '{given}'")
        )
    return str(path)


def _plain_check(
    address: str,
    secret_key: Any,
    insecure: bool,
    is_loopback: Callable[[str], bool],
    side: str,
    problems: list[Problem],
) -> None:
    if secret_key is None and not insecure and not is_loopback(address):
        problems.append(
            (
                (side,),
                f"'{address}' is not a loopback address and the link has no keys: give secret_key and "
                f"{'client_keys' if side == 'serve' else 'server_key'} ({KEYS_HINT}) or say insecure: true",
            )
        )
