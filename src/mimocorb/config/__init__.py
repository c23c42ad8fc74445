"""Setup-file handling: loading, schema, validation before any process starts.

The public names are loaded on first use, so that ``import mimocorb.config`` (for instance to catch
``ConfigError``) stays cheap and imports neither pydantic nor any user module.

Main entry point: ``validate_setup(path, cwd=None) -> ValidatedSetup`` (raises ``ConfigError``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, Issue

if TYPE_CHECKING:
    from .loader import YamlMapping, YamlSequence, load_yaml, to_plain
    from .resolved import BufferLayout, ConnectLink, ResolvedPath, ServeLink, ValidatedSetup, WorkerFunction
    from .schema import CommonConfigFile, SetupFile, setup_json_schema, setup_json_schema_text
    from .validate import validate_setup

_LAZY = {
    "load_yaml": "loader",
    "to_plain": "loader",
    "YamlMapping": "loader",
    "YamlSequence": "loader",
    "BufferLayout": "resolved",
    "ConnectLink": "resolved",
    "ResolvedPath": "resolved",
    "ServeLink": "resolved",
    "ValidatedSetup": "resolved",
    "WorkerFunction": "resolved",
    "SetupFile": "schema",
    "CommonConfigFile": "schema",
    "setup_json_schema": "schema",
    "setup_json_schema_text": "schema",
    "validate_setup": "validate",
}

__all__ = [
    "BufferLayout",
    "CommonConfigFile",
    "ConfigError",
    "ConnectLink",
    "Issue",
    "ResolvedPath",
    "ServeLink",
    "SetupFile",
    "ValidatedSetup",
    "WorkerFunction",
    "YamlMapping",
    "YamlSequence",
    "load_yaml",
    "setup_json_schema",
    "setup_json_schema_text",
    "to_plain",
    "validate_setup",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
