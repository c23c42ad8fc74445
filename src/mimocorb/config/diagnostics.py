"""Turning pydantic errors and raw findings into messages a physicist can act on.

Pydantic speaks in terms of Python types ("valid dictionary"); setup authors write YAML.  Messages here
say "expected X, found Y" in YAML terms, and suggest the nearest valid key for a typo.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from .errors import Issue
from .loader import locate
from .schema import PATTERN_TEXT, UNION_TAGS

KeysAt = Callable[[tuple[Any, ...]], "list[str] | None"]

WHOLE_MESSAGES = ("alarm_action",)  # errors whose message says what was expected and found itself
_EXPECTED = {
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "list_type": "a list",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "invalid_key": "a text key",
}


def describe(value: Any) -> str:
    """Name a YAML value the way its author sees it."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return f"a mapping with keys {', '.join(map(str, value))}" if value else "an empty mapping"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word`` (case-insensitive), if any is close enough to be a typo."""
    by_lower = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def unknown_key_message(key: Any, valid: list[str]) -> str:
    guess = suggest(str(key), valid)
    if guess is not None:
        return f"unknown key; did you mean '{guess}'?"
    return f"unknown key; expected one of: {', '.join(valid)}"


def schema_issues(exc: ValidationError, data: Any, file: str, keys_at: KeysAt) -> list[Issue]:
    """One issue per pydantic error, located in ``data`` (as loaded by ``load_yaml``).

    A required key that is missing because it was misspelt is reported once, as the misspelt key.
    """
    errors = exc.errors(include_url=False)
    misspelt = {_typo_target(err, keys_at) for err in errors if err["type"] == "extra_forbidden"}
    return [
        _issue(err, data, file, keys_at)
        for err in errors
        if not (err["type"] == "missing" and _clean_loc(err["loc"]) in misspelt)
    ]


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(step for step in loc if step not in UNION_TAGS)


def _typo_target(err: Any, keys_at: KeysAt) -> tuple[Any, ...] | None:
    loc = _clean_loc(err["loc"])
    guess = suggest(str(loc[-1]), keys_at(loc[:-1]) or [])
    return None if guess is None else (*loc[:-1], guess)


def _issue(err: Any, data: Any, file: str, keys_at: KeysAt) -> Issue:
    loc = _clean_loc(err["loc"])
    is_key = bool(loc) and loc[-1] == "[key]"
    loc = loc[:-1] if is_key else loc
    key_path, line = locate(data, loc)
    return Issue("error", file, key_path, _message(err, loc, is_key, keys_at), line)


def _message(err: Any, loc: tuple[Any, ...], is_key: bool, keys_at: KeysAt) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "extra_forbidden":
        return unknown_key_message(loc[-1], keys_at(loc[:-1]) or [])
    if kind == "missing":
        return "required key is missing"
    if kind in WHOLE_MESSAGES:
        return str(err["msg"])
    if kind in ("too_short", "too_long") and isinstance(value, dict):
        return _size_message(ctx, value, "key")
    if kind in ("too_short", "too_long") and isinstance(value, list):
        return _size_message(ctx, value, "item")
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        wanted = PATTERN_TEXT.get(pattern, f"text matching {pattern}")
        what = "key" if is_key else "value"
        return f"expected {wanted} as {what}, found {describe(value)}"
    return f"expected {_expectation(kind, ctx, err['msg'])}, found {describe(value)}"


def _size_message(ctx: dict[str, Any], value: dict | list, unit: str) -> str:
    low, high = ctx.get("min_length"), ctx.get("max_length")
    if low == high == 1 and unit == "key":
        return f"expected a mapping with exactly one key (its name), found {describe(value)}"
    bounds = f"at least {low}" if high is None else f"at most {high}"
    return f"expected {bounds} {unit}(s), found {len(value)}"


def _expectation(kind: str, ctx: dict[str, Any], msg: str) -> str:
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind == "greater_than":
        return f"a value > {ctx['gt']:g}"
    if kind == "greater_than_equal":
        return f"a value >= {ctx['ge']:g}"
    if msg.startswith("Input should be "):
        return msg.removeprefix("Input should be ")
    return msg.removeprefix("expected ")
