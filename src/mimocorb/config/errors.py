"""Configuration problems as plain data.

Problems are collected rather than raised one by one, so that a user fixing a setup sees every mistake
in one pass instead of one per attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One finding: where it is (file, line, key path) and what was expected versus found."""

    severity: Severity
    file: str
    key_path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        tag = "warning: " if self.severity == "warning" else ""
        path = f"{self.key_path}: " if self.key_path else ""
        return f"{where}: {tag}{path}{self.message}"


class ConfigError(ValueError):
    """A setup cannot be run; carries every issue found (errors and warnings) in ``issues``.

    ``args`` holds the issues (not the text) so that the exception survives pickling between processes.
    """

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(issues)
        super().__init__(self.issues)

    @property
    def errors(self) -> tuple[Issue, ...]:
        """The issues that make the setup unrunnable."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """The issues that were accepted but look suspicious."""
        return tuple(i for i in self.issues if i.severity == "warning")

    def __str__(self) -> str:
        counts = _plural(len(self.errors), "error")
        if self.warnings:
            counts += ", " + _plural(len(self.warnings), "warning")
        lines = [f"invalid configuration ({counts}):"]
        lines += [f"  {issue}" for issue in (*self.errors, *self.warnings)]
        return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
