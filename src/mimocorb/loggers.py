"""Loggers for the access classes and user code, with one level switch for all of them.

User functions call ``rbImporter.logger.info(...)``; the run controller turns on DEBUG with
``Gen_logger.set_level(logging.DEBUG)`` and expects every logger made before or after that to follow.

This module deliberately does not call ``logging.basicConfig`` at import (the original did): handlers and
the output format belong to whoever runs the show — the run controller, or a user script — and a library
that configures the root logger on import takes that choice away from them.

The level also reaches child processes started with *spawn* or *forkserver*, which import this module
afresh: ``set_level`` stores it in the environment variable ``MIMOCORB_LOG_LEVEL``, which children
inherit and read at import. Forked children inherit the manager itself.
"""

from __future__ import annotations

import logging
import os

__all__ = ["ENV_LEVEL", "Gen_logger", "Logging_manager"]

ENV_LEVEL = "MIMOCORB_LOG_LEVEL"


def _as_level(level: int | str) -> int:
    """Accept what ``logging`` accepts (``10``, ``"DEBUG"``, ``"debug"``) but fail loudly on typos."""
    if isinstance(level, bool):
        raise ValueError(f"invalid logging level {level!r}")
    if isinstance(level, int):
        return level
    text = str(level).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    value = logging.getLevelName(text.upper())
    if not isinstance(value, int):
        raise ValueError(f"invalid logging level {level!r}")
    return value


def _level_from_environment(default: int) -> int:
    """A bad value in the environment must not break importing this module."""
    text = os.environ.get(ENV_LEVEL)
    if not text:
        return default
    try:
        return _as_level(text)
    except ValueError:
        return default


class Logging_manager:
    """Hands out standard ``logging`` loggers and keeps their levels in step.

    Args:
        level: the level of every logger handed out, a ``logging`` number or name.
    """

    def __init__(self, level: int | str = logging.WARNING):
        self.level: int = _as_level(level)
        self._names: set[str] = set()

    def __call__(self, name: str = "mimocorb") -> logging.Logger:
        """``logging.getLogger(name)`` at the current level; remembered so that ``set_level`` reaches it."""
        logger = logging.getLogger(name)
        logger.setLevel(self.level)
        self._names.add(name)
        return logger

    def set_level(self, level: int | str) -> None:
        """Change the level of every logger made so far and of later ones (also in later children)."""
        self.level = _as_level(level)
        os.environ[ENV_LEVEL] = str(self.level)
        for name in self._names:
            logging.getLogger(name).setLevel(self.level)


Gen_logger = Logging_manager(_level_from_environment(logging.WARNING))
