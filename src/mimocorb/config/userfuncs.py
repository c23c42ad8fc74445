"""Importing user modules as mimoCoRB 1.0.2 does, but an import error fails the validation (1.0.2 printed it
and started a process without a target) and the module stays importable in spawned children.

A module is imported under its bare name in the validating (= parent) process, from exactly the file the
setup names.  Its directory is appended to ``sys.path`` first, so that sibling imports such as
``from filters import *`` work, and it stays there: children started with spawn/forkserver must be able
to import the same module by name, and a later ``importlib.import_module(name)`` finds it.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from .diagnostics import suggest

CALL_ARGS = ("source_list", "sink_list", "observe_list", "config_dict")
EXPECTED_SIGNATURE = "(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info)"


class UserModuleError(Exception):
    """A user module cannot be used; the message says why in the user's terms."""


def module_file(base: Path) -> Path | None:
    """The file that implements module path ``base`` (given without '.py'): a module or a package."""
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def is_module_name(text: str) -> bool:
    """``mimocorb.devices``, ``mylab``: what ``import`` accepts, as opposed to a path."""
    return all(part.isidentifier() for part in text.split("."))


def import_named_module(name: str) -> ModuleType | None:
    """The installed (or otherwise importable) module ``name``, or None if there is none.

    Only the absence of ``name`` itself (or of a package above it) means None; a module that exists but
    fails to import is an error with the reason, since the user meant that module.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            return None
        raise UserModuleError(f"importing module '{name}' failed: {exception_text(exc)}") from exc
    except (Exception, SystemExit) as exc:
        raise UserModuleError(f"importing module '{name}' failed: {exception_text(exc)}") from exc


def import_user_module(name: str, file: Path) -> ModuleType:
    """Import ``file`` as module ``name``, or reuse the module of that name if it came from this file."""
    package = file.name == "__init__.py"
    directory = str(file.parent.parent if package else file.parent)
    if directory not in sys.path:
        sys.path.append(directory)
    existing = sys.modules.get(name)
    if existing is not None:
        return _reuse(existing, name, file)
    spec = importlib.util.spec_from_file_location(
        name, file, submodule_search_locations=[str(file.parent)] if package else None
    )
    if spec is None or spec.loader is None:
        raise UserModuleError(f"{file} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        del sys.modules[name]
        raise UserModuleError(f"importing {file} failed: {exception_text(exc)}") from exc
    return module


def _reuse(existing: ModuleType, name: str, file: Path) -> ModuleType:
    """Reuse an imported module only if it is the same file; anything else would run foreign code."""
    other = getattr(existing, "__file__", None)
    if other is not None and os.path.exists(other) and os.path.samefile(other, file):
        return existing
    origin = other or "a built-in module"
    raise UserModuleError(
        f"module name '{name}' is already taken by {origin}, so {file} would not be used; "
        "expected a module name not used by Python or an installed package: rename the file"
    )


def exception_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError):
        return text
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")]
    return f"{text} (raised at {frames[-1].filename}:{frames[-1].lineno})" if frames else text


def find_function(module: ModuleType, fkt_name: str) -> Callable[..., Any]:
    """The module-level callable ``fkt_name``; the error names the nearest existing callable."""
    if not hasattr(module, fkt_name):
        raise UserModuleError(
            f"module '{module.__name__}' has no function '{fkt_name}'{_hint(module, fkt_name)}"
        )
    function = getattr(module, fkt_name)
    if not callable(function):
        raise UserModuleError(
            f"'{fkt_name}' in module '{module.__name__}' is {type(function).__name__} {function!r:.40}; "
            "expected a callable (function or class)"
        )
    return function


def _hint(module: ModuleType, fkt_name: str) -> str:
    names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
    guess = suggest(fkt_name, names)
    return f"; did you mean '{guess}'?" if guess else f"; callables found: {', '.join(names) or 'none'}"


def signature_problem(
    function: Callable[..., Any], fkt_name: str, rb_assign: Mapping[str, Any]
) -> str | None:
    """Why ``function`` cannot take the worker call with this RB_assign, or None if it can.

    Callables without an inspectable signature (some builtins, C extensions) are given the benefit of
    the doubt: only the real call can tell.
    """
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(None, None, None, {}, **rb_assign)
    except TypeError as exc:
        call = ", ".join([*CALL_ARGS, *(f"{key}=..." for key in rb_assign)])
        return (
            f"'{fkt_name}{signature}' cannot accept the call {fkt_name}({call}): {exc}; "
            f"expected a signature like {fkt_name}{EXPECTED_SIGNATURE}"
        )
    return None
