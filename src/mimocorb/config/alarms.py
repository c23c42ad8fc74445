"""The ``Alarms`` of a setup: user alarms from their conditions, the built-in ones from their settings.

Checked before anything starts: a condition outside the language, a buffer or function the setup does not
have, a variable a buffer does not have, a key that belongs to another kind of alarm. Variables that
workers publish themselves cannot be known here; the run reports those that never came.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..alarms import AlarmSpec, ConditionTest, ExpressionError, action_of, builtin_alarms, parse
from ..alarms.builtin import DEFAULTS, THRESHOLDS
from ..alarms.spec import BUFFER_VARIABLES, WORKER_VARIABLES
from .diagnostics import suggest
from .schema import AlarmBlock

Problem = tuple[tuple[Any, ...], str]  # (key path below the setup's top level, message)
_BUFFER = re.compile(r"^RB_[1-9][0-9]*$")
_FUNCTION = re.compile(r"^Fkt_[1-9][0-9]*$")
_OWN_KEYS = ("when", "below_gb", "restarts", "within")


def setup_alarms(
    items: Sequence[Mapping[str, AlarmBlock | Literal[False]]] | None,
    buffers: Sequence[str],
    functions: Sequence[str],
) -> tuple[tuple[AlarmSpec, ...], list[Problem]]:
    """The alarms of a run (the setup's and the built-in ones) and what is wrong with ``Alarms``."""
    problems: list[Problem] = []
    user: list[AlarmSpec] = []
    settings: dict[str, dict[str, Any] | None] = {}
    seen: set[str] = set()
    for position, item in enumerate(items or []):
        for name, block in item.items():
            loc = ("Alarms", position, name)
            if name in seen:
                problems.append((loc, f"expected each alarm once, found '{name}' again"))
            seen.add(name)
            if name in DEFAULTS:
                settings[name] = _builtin_settings(name, block, loc, problems)
                continue
            spec = _user_alarm(name, block, loc, buffers, functions, problems)
            if spec is not None:
                user.append(spec)
    first = buffers[0] if buffers else None
    return (*user, *builtin_alarms(settings, buffers, first, functions)), problems


def _builtin_settings(
    name: str, block: AlarmBlock | Literal[False], loc: tuple[Any, ...], problems: list[Problem]
) -> dict[str, Any] | None:
    if block is False or not isinstance(block, AlarmBlock):
        return None
    given = block.model_dump(by_alias=True, exclude_none=True)
    allowed = ("for", "severity", "actions", *THRESHOLDS[name])
    for key in given:
        if key not in allowed:
            problems.append(
                ((*loc, key), f"the built-in alarm {name} has no '{key}'; expected {', '.join(allowed)}")
            )
    return {k: v for k, v in given.items() if k in allowed}


def _user_alarm(
    name: str,
    block: AlarmBlock | Literal[False],
    loc: tuple[Any, ...],
    buffers: Sequence[str],
    functions: Sequence[str],
    problems: list[Problem],
) -> AlarmSpec | None:
    if not isinstance(block, AlarmBlock):
        builtin = ", ".join(DEFAULTS)
        problems.append((loc, f"only the built-in alarms ({builtin}) can be turned off; expected a mapping"))
        return None
    for key in _OWN_KEYS[1:]:
        if getattr(block, key) is not None:
            owner = next(n for n, keys in THRESHOLDS.items() if key in keys)
            problems.append(
                (
                    (*loc, key),
                    f"'{key}' belongs to the built-in alarm {owner}; expected when, for, severity, actions",
                )
            )
    if block.when is None:
        guess = suggest(name, DEFAULTS)
        hint = f" (or did you mean the built-in alarm '{guess}'?)" if guess else ""
        problems.append(
            (loc, f"required key 'when' is missing: a condition such as 'RB_1.rate_hz < 0.5'{hint}")
        )
        return None
    try:
        condition = parse(block.when)
    except ExpressionError as exc:
        problems.append(((*loc, "when"), str(exc)))
        return None
    for variable in condition.variables:
        problem = variable_problem(variable, buffers, functions)
        if problem is not None:
            problems.append(((*loc, "when"), problem))
    actions = tuple(action_of(a) for a in block.actions or ["log"])
    return AlarmSpec(name, ConditionTest(condition), block.for_ or 0.0, block.severity or "warning", actions)


def variable_problem(variable: str, buffers: Sequence[str], functions: Sequence[str]) -> str | None:
    """What is wrong with a variable name that names a buffer or function, or None."""
    owner, _, rest = variable.partition(".")
    if _BUFFER.match(owner):
        if owner not in buffers:
            return f"'{variable}': the setup has no buffer {owner} (it has {', '.join(buffers) or 'none'})"
        if rest not in BUFFER_VARIABLES:
            guess = suggest(rest, BUFFER_VARIABLES)
            hint = f"; did you mean '{owner}.{guess}'?" if guess else ""
            return f"'{variable}': expected {owner}.<{' | '.join(BUFFER_VARIABLES)}>{hint}"
    elif _FUNCTION.match(owner):
        if owner not in functions:
            return (
                f"'{variable}': the setup has no function {owner} (it has {', '.join(functions) or 'none'})"
            )
        if not rest:
            return f"'{variable}': expected {owner}.<{' | '.join(WORKER_VARIABLES)} | a published variable>"
    return None
