"""Key paths: how a series names one value in a YAML file, and how a step's value is put there.

A key path is written as ``mimocorb validate`` prints one: names joined by dots, list positions in
brackets (``general.runtime``, ``Functions[2].Fkt_2.num_process``). A name may also pick the item of a
list that is a one-key mapping of that name, so ``Functions.Fkt_2.num_process`` and
``RingBuffer.RB_1.number_of_slots`` say the same without counting.

Only keys the file already has can be changed: a misspelt key would otherwise be added silently and
read by nobody, and the scan would measure nothing.
"""

from __future__ import annotations

import re
from typing import Any

from ..config.diagnostics import suggest

Part = str | int
_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def parse_key(text: str) -> list[Part] | None:
    """The parts of a key path (names as str, positions as int), or None if it is not one."""
    parts: list[Part] = []
    position = 0
    for match in _PART.finditer(text):
        gap = text[position : match.start()]
        if gap not in ("", ".") or (gap == "" and position > 0 and match.group(2) is not None):
            return None
        index, name = match.groups()
        parts.append(int(index) if index is not None else name.strip())
        position = match.end()
    if position != len(text) or not parts or any(p == "" for p in parts):
        return None
    return parts


def set_value(data: Any, key: str, value: Any) -> str | None:
    """Put ``value`` at the key path ``key`` in ``data`` (changed in place); the problem, or None."""
    parts = parse_key(key)
    if parts is None:
        return f"'{key}' is not a key path; expected names joined by dots, e.g. general.runtime"
    node = data
    for depth, part in enumerate(parts):
        holder, slot, problem = _find(node, part)
        if problem is not None:
            where = ".".join(str(p) for p in parts[:depth]) or "the top level"
            return f"{problem} (at {where})"
        if depth == len(parts) - 1:
            holder[slot] = value
            return None
        node = holder[slot]
    return None


def _find(node: Any, part: Part) -> tuple[Any, Any, str | None]:
    """The container and its key or index that ``part`` names in ``node``, or a problem."""
    if isinstance(node, list):
        return _find_in_list(node, part)
    if not isinstance(node, dict):
        return None, None, f"'{part}' is below a single value, not a mapping"
    for candidate in (part, str(part), _as_int(part)):
        if candidate is not None and candidate in node:
            return node, candidate, None
    names = [str(k) for k in node]
    guess = suggest(str(part), names)
    hint = f"did you mean '{guess}'?" if guess else f"it has {', '.join(names) or 'no keys'}"
    return None, None, f"no key '{part}': {hint}; a series changes only keys the file has"


def _find_in_list(node: list, part: Part) -> tuple[Any, Any, str | None]:
    if isinstance(part, int):
        if 0 <= part < len(node):
            return node, part, None
        return None, None, f"no position [{part}]: the list has {len(node)} items"
    for item in node:
        if isinstance(item, dict) and len(item) == 1 and part in item:
            return item, part, None
    names = [str(next(iter(i))) for i in node if isinstance(i, dict) and len(i) == 1]
    guess = suggest(str(part), names)
    hint = f"did you mean '{guess}'?" if guess else f"it has {', '.join(names) or 'no named items'}"
    return None, None, f"no item '{part}' in the list: {hint}"


def _as_int(part: Part) -> int | None:
    return int(part) if isinstance(part, str) and part.isdigit() else None
