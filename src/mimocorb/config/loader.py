"""YAML loading that keeps line numbers, with the PyYAML semantics existing setups rely on.

Setups written for mimoCoRB use anchors/aliases (often parked under ``general:``), merge keys and even
duplicated keys (the demo setup repeats ``data_type:``; the last one wins).  A ``SafeLoader`` already
behaves that way; this loader only adds the line of every mapping key and sequence item, so that
messages can point at the offending line.
"""

from __future__ import annotations

import errno
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, Issue


class YamlMapping(dict):
    """A ``dict`` that also knows the 1-based line of each of its keys (``key_lines``) and of itself."""

    __slots__ = ("key_lines", "line")

    def __init__(self, line: int | None = None) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}


class YamlSequence(list):
    """A ``list`` that also knows the 1-based line of each item (``item_lines``) and of itself."""

    __slots__ = ("item_lines", "line")

    def __init__(self, line: int | None = None) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences record where their entries were written."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[YamlMapping]:
    # Yield first, fill afterwards: this is how PyYAML supports recursive structures through aliases.
    data = YamlMapping(node.start_mark.line + 1)
    yield data
    loader.flatten_mapping(node)  # resolves '<<' merge keys like SafeLoader does
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
            )
        data[key] = loader.construct_object(value_node)  # a duplicate key overwrites: last wins
        data.key_lines[key] = key_node.start_mark.line + 1


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[YamlSequence]:
    data = YamlSequence(node.start_mark.line + 1)
    yield data
    for item_node in node.value:
        data.append(loader.construct_object(item_node))
        data.item_lines.append(item_node.start_mark.line + 1)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: str | Path, display_name: str | None = None) -> Any:
    """Load one YAML document; mappings come back as ``YamlMapping``, sequences as ``YamlSequence``.

    Raises ``FileNotFoundError`` naming the file, and ``ConfigError`` with file and line for a syntax
    error.  ``display_name`` is how the file is named in messages (default: the path as given).
    """
    path = Path(path)
    shown = display_name or str(path)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "YAML file does not exist", shown)
    text = path.read_text(encoding="utf-8")
    try:
        return yaml.load(text, Loader=_LineLoader)  # _LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError([_syntax_issue(exc, shown)]) from exc


def _syntax_issue(exc: yaml.YAMLError, shown: str) -> Issue:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return Issue("error", shown, "", f"YAML syntax error: {detail}; expected valid YAML", line)


def to_plain(data: Any, _memo: dict[int, Any] | None = None) -> Any:
    """Return ``data`` with plain ``dict``/``list`` containers, as user functions expect them.

    Shared (aliased) containers stay shared, so recursive structures do not loop for ever.
    """
    memo = {} if _memo is None else _memo
    if id(data) in memo:
        return memo[id(data)]
    if isinstance(data, dict):
        plain: Any = memo.setdefault(id(data), {})
        plain.update((key, to_plain(value, memo)) for key, value in data.items())
        return plain
    if isinstance(data, list):
        plain = memo.setdefault(id(data), [])
        plain.extend(to_plain(item, memo) for item in data)
        return plain
    return data


def locate(data: Any, loc: tuple[Any, ...]) -> tuple[str, int | None]:
    """Turn a location (keys and list indices) into a key path like ``Functions[2].Fkt_2.num_process``.

    Also returns the line of the deepest part of the path found in ``data`` (so a missing key points to
    the line of its parent).
    """
    parts: list[str] = []
    line: int | None = None
    node = data
    for step in loc:
        if isinstance(node, list) and isinstance(step, int):
            parts.append(f"[{step}]")
            if not 0 <= step < len(node):
                node = None
                continue
            line = _item_line(node, step) or line
            node = node[step]
        else:
            parts.append(f".{step}" if parts else str(step))
            line = (node.key_lines.get(step) if isinstance(node, YamlMapping) else None) or line
            node = node.get(step) if isinstance(node, dict) else None
    return "".join(parts), line


def _item_line(node: list, index: int) -> int | None:
    return node.item_lines[index] if isinstance(node, YamlSequence) else None
