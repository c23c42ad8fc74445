"""Waiting for something to happen, always with a deadline, never by a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """True as soon as ``predicate()`` is true, False once ``timeout`` s passed; for callers that
    decide themselves what a miss means (clean-up code, which must not raise)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return bool(predicate())
        time.sleep(interval)
    return True


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """The first true value of ``predicate()``; fails the test, naming ``what`` was awaited, when it is
    still false after ``timeout`` s (so a test that would hang says what it was waiting for)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
