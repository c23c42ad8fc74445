"""Every step checked as ``mimocorb validate`` checks a setup, before the first run starts.

A step's overrides are put into the files they name as the validator loads them (``validate_setup``'s
``edit``), so each step is checked, and later run, with exactly the values it will have. A problem is
reported against the series file: its line, the step, the key, and what the validator said.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..config import ConfigError, Issue, ValidatedSetup, to_plain, validate_setup
from .keys import set_value
from .spec import Override, Series, Step


class StepEdit:
    """The ``edit`` of one step: puts its overrides into the files they name and keeps those files."""

    def __init__(self, step: Step, setup: Path, cwd: Path) -> None:
        self.step = step
        self.places = [cwd, setup.parent]
        self.changed: dict[Path, Any] = {}  # the files as the step uses them, by absolute path
        self.loaded: list[Path] = []
        self.used: set[Override] = set()
        self.problems: list[tuple[Override, str]] = []

    def __call__(self, path: Path, data: Any) -> Any:
        self.loaded.append(path)
        for override in self.step.overrides:
            if self.names(override.file, path):
                self.used.add(override)
                problem = set_value(data, override.key, to_plain(override.value))
                if problem is None:
                    self.changed[path] = data
                else:
                    self.problems.append((override, f"{override.file}: {problem}"))
        return data

    def names(self, given: str, path: Path) -> bool:
        """Whether ``given`` (as the series file writes it) is the file at ``path``."""
        if given == path.name:
            return True
        return any(Path(os.path.abspath(base / Path(given).expanduser())) == path for base in self.places)

    def write_as_used(self, run_dir: Path, copied: Sequence[Path], title: str) -> None:
        """Replace the run directory's copies of the changed files by the files as the step used them.

        ``copied`` are the files the run directory has copies of, under their base names (the first of
        a name wins, as the copies were made). Files the step did not change stay exact copies.
        """
        first: dict[str, Path] = {}
        for path in copied:
            first.setdefault(path.name, path)
        for path, data in self.changed.items():
            if first.get(path.name) != path:
                continue
            keys = [f"{o.key}: {o.value!r}" for o in self.step.overrides if self.names(o.file, path)]
            header = f"# {path.name} as {title} used it: {path}\n# with {'; '.join(keys)}\n"
            text = yaml.safe_dump(to_plain(data), sort_keys=False, allow_unicode=True)
            (run_dir / path.name).write_text(header + text, encoding="utf-8")

    def issues(self) -> list[tuple[Override, str]]:
        """Keys that could not be set, and files the setup does not load."""
        loaded = ", ".join(p.name for p in self.loaded)
        missing = [
            (o, f"'{o.file}' is no file of the setup (it loads {loaded})")
            for o in self.step.overrides
            if o not in self.used
        ]
        return self.problems + missing


def validate_step(series: Series, step: Step, cwd: Path) -> tuple[ValidatedSetup, StepEdit]:
    """The step's setup, validated with its overrides; ``ConfigError`` in terms of the series file."""
    edit = StepEdit(step, series.setup, cwd)
    try:
        setup = validate_setup(series.setup, cwd, edit)
    except ConfigError as exc:
        raise ConfigError(_issues(series, step, edit, exc.issues)) from exc
    if edit.issues():
        raise ConfigError(_issues(series, step, edit, ()))
    return setup, edit


def check_series(series: Series, cwd: str | os.PathLike[str] | None = None) -> ValidatedSetup:
    """Check every step; return the first step's setup (for its output directory and warnings).

    Raises ``ConfigError`` with every problem of every step; one that all steps share is named once.
    """
    base = Path(os.path.abspath(cwd or Path.cwd()))
    found: dict[tuple[str, int | None, str], list[Step]] = {}
    first: ValidatedSetup | None = None
    for step in series.steps:
        try:
            setup, _ = validate_step(series, step, base)
        except ConfigError as exc:
            for issue in exc.errors:
                found.setdefault((issue.key_path, issue.line, issue.message), []).append(step)
            continue
        first = first or setup
    if found:
        total = len(series.steps)
        raise ConfigError(
            Issue("error", series.shown, key, f"{_steps_text(numbers, total)}: {message}", line)
            for (key, line, message), numbers in found.items()
        )
    assert first is not None
    return first


def _issues(series: Series, step: Step, edit: StepEdit, found: Sequence[Issue]) -> list[Issue]:
    """The validator's issues and the edit's problems, as issues of the series file.

    ``check_series`` names the steps a problem appears in.
    """
    issues = []
    for override, problem in edit.issues():
        issues.append(Issue("error", series.shown, _where(override), problem, override.line))
    for issue in found:
        about = _override_of(issue, step)
        key = _where(about) if about else "setup"
        line = about.line if about else None
        issues.append(Issue(issue.severity, series.shown, key, str(issue), line))
    return issues


def _override_of(issue: Issue, step: Step) -> Override | None:
    """The step's override an issue of the setup is about: same file, and a key at or below it."""
    for override in step.overrides:
        file_matches = Path(issue.file).name == Path(override.file).name
        key = issue.key_path.replace("[", ".[")
        mine = override.key.replace("[", ".[")
        if file_matches and (key == mine or key.startswith(mine + ".") or _same_item(key, mine)):
            return override
    return None


def _same_item(key: str, mine: str) -> bool:
    """``Functions.[2].Fkt_2.x`` (as the validator writes it) is ``Functions.Fkt_2.x`` (as a series may)."""
    parts = [p for p in key.split(".") if not p.startswith("[")]
    return ".".join(parts) == mine or ".".join(parts).startswith(mine + ".")


def _where(override: Override) -> str:
    return f"{override.file}: {override.key}"


def _steps_text(steps: list[Step], total: int) -> str:
    if len(steps) == total and total > 1:
        return f"every step (1-{total})"
    if len(steps) == 1:
        return f"step {steps[0].number} of {total} ({steps[0].label()})"
    return f"steps {', '.join(str(s.number) for s in steps)} of {total}"
