"""Who may read and who may steer: the access token, the bind address, and the printed URL.

* The server binds to loopback unless told otherwise. On loopback reading needs no token; on any other
  address every request needs it (the page's own files too).
* Commands always need it, in an ``Authorization: Bearer`` header: a page of another site cannot send
  that header, so a visited web page cannot steer the run (no cookie is accepted for commands).
* For reading, the token may also come as ``?token=`` (the printed URL carries it) or in the cookie the
  page gets when it is opened with that URL, so pictures and the event stream load without a header.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
COOKIE = "mimocorb_token"


def make_token() -> str:
    """A random access token (18 bytes of ``secrets``, URL-safe), made for every run not given one.

    Returns:
        The token, 24 characters that need no quoting in a URL.
    """
    return secrets.token_urlsafe(18)


def parse_address(text: str) -> tuple[str, int]:
    """``[ADDRESS:]PORT`` (IPv6 in brackets: ``[::1]:8080``) as (host, port); ValueError if malformed."""
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = DEFAULT_HOST, text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or ("]" in host or "[" in host):
        raise ValueError(f"expected [ADDRESS:]PORT, got {text!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"expected [ADDRESS:]PORT with a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0 ... 65535, got {port} in {text!r}")
    return host, port


def url_of(host: str, port: int, token: str | None) -> str:
    """The address to open in a browser; with ``token``, carrying it so that the page may read at once.

    A wildcard bind address (``0.0.0.0``, ``::``) is shown as ``localhost``, IPv6 hosts in brackets.

    Example:
        >>> url_of("127.0.0.1", 8080, "abc")
        'http://127.0.0.1:8080/?token=abc'
    """
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "localhost"
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


@dataclass(frozen=True)
class Access:
    """The token and whether reading is open (loopback)."""

    token: str
    open_reading: bool

    def verdict(self, presented: str | None) -> int:
        """200 if ``presented`` is the token, 401 if there is none, 403 if it is wrong."""
        if not presented:
            return 401
        return 200 if secrets.compare_digest(presented.encode(), self.token.encode()) else 403
