"""Which hosts never leave the machine: the one rule behind "loopback only by default" of the dashboard
and of the network links (both accept plain, tokenless or keyless access only there)."""

from __future__ import annotations

import ipaddress


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and every loopback address (127.0.0.0/8, ``::1``; IPv6 may be bracketed)."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
