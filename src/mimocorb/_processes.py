"""Ending a helper process (a window, the dashboard server) that did not end when asked."""

from __future__ import annotations

from typing import Any


def terminate_then_kill(process: Any, grace: float = 1.0) -> None:
    """SIGTERM, up to ``grace`` s to go, then SIGKILL and a last short wait: bounded, whatever it does."""
    if process.is_alive():
        process.terminate()
        process.join(grace)
    if process.is_alive():
        process.kill()
        process.join(1.0)
