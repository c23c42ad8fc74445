"""Checks of the constructor arguments that every access class shares: a ``ValueError`` for each mistake.

A worker whose buffers are wired up wrongly should stop in its constructor with a message that names the
class and the mistake in the user's terms (the RB_assign entry, the list, the field), not with an
AttributeError deep inside a loop hours into a run. Every check runs before any buffer is attached, so a
refused worker leaves nothing behind in the ring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

SetupDict = dict[str, Any]

READ, WRITE, OBSERVE = "read", "write", "observe"
_LIST_OF_ROLE = {READ: "source_list", WRITE: "sink_list", OBSERVE: "observe_list"}


def _roles(rb_info: Mapping[str, Any]) -> list[Any]:
    return list(rb_info.values())


def require_role(owner: str, rb_info: Mapping[str, Any], role: str) -> None:
    """The original decides a worker's direction from RB_assign; without the entry it has no buffer."""
    if role not in _roles(rb_info):
        raise ValueError(
            f"{owner}: no buffer is marked '{role}' in RB_assign (got {dict(rb_info) or 'nothing'}); "
            f"add one, e.g. RB_1: {role}"
        )


def forbid_roles(owner: str, rb_info: Mapping[str, Any], roles: Sequence[str]) -> None:
    """A source that also reads (or a sink that also writes) is a wiring mistake, not a feature."""
    bad = {key: value for key, value in rb_info.items() if value in roles}
    if bad:
        raise ValueError(
            f"{owner}: RB_assign entries {bad} are not allowed here; "
            f"this class only accepts {_allowed_text(roles)}"
        )


def _allowed_text(forbidden: Sequence[str]) -> str:
    allowed = [r for r in (READ, WRITE, OBSERVE) if r not in forbidden]
    return " / ".join(f"'{r}'" for r in allowed) + " buffers"


def warn_roles(owner: str, rb_info: Mapping[str, Any], roles: Sequence[str], logger: logging.Logger) -> None:
    """Where the original only warned, keep it a warning: existing setups must still run."""
    extra = {key: value for key, value in rb_info.items() if value in roles}
    if extra:
        logger.warning("%s: RB_assign entries %s are ignored by this class", owner, extra)


def require_list(owner: str, setups: Any, role: str) -> list[SetupDict]:
    """An absent list means RB_assign has no such buffer; catching it here beats a TypeError later."""
    name = _LIST_OF_ROLE[role]
    if setups is None:
        raise ValueError(
            f"{owner}: {name} is None; the function needs at least one buffer marked '{role}' in RB_assign"
        )
    if not isinstance(setups, (list, tuple)) or not setups:
        raise ValueError(
            f"{owner}: {name} must be a non-empty list of buffer setup dicts, got {setups!r:.80}"
        )
    for k, setup in enumerate(setups):
        if not isinstance(setup, dict) or "dtype" not in setup:
            raise ValueError(f"{owner}: {name}[{k}] is not a buffer setup dict: {setup!r:.80}")
    return list(setups)


def only_role(
    owner: str, rb_info: Mapping[str, Any], setups: Any, role: str, others: Sequence[str]
) -> list[SetupDict]:
    """The setups of a class that only reads or only writes: ``role`` in RB_assign, none of ``others``."""
    forbid_roles(owner, rb_info, others)
    require_role(owner, rb_info, role)
    return require_list(owner, setups, role)


def require_callable(owner: str, ufunc: Any) -> Callable:
    if not callable(ufunc):
        raise ValueError(f"{owner}: ufunc must be a callable (a function), got {ufunc!r:.80}")
    return ufunc


def first_of(owner: str, setups: list[SetupDict], role: str, logger: logging.Logger) -> SetupDict:
    """Classes with one input/output use the first buffer; more is allowed, as in the original, but said."""
    if len(setups) > 1:
        logger.warning(
            "%s: %d buffers are marked '%s'; only the first one (%s) is used",
            owner,
            len(setups),
            role,
            buffer_label(setups[0], None),
        )
    return setups[0]


def buffer_labels(rb_info: Mapping[str, Any], role: str, setups: list[SetupDict]) -> list[str]:
    """Names for messages: the RB_assign key where known (sink k is the k-th 'write' entry)."""
    keys = [key for key, value in rb_info.items() if value == role]
    return [buffer_label(s, keys[k] if k < len(keys) else None) for k, s in enumerate(setups)]


def buffer_label(setup: SetupDict, key: str | None) -> str:
    return key or setup.get("name") or "buffer"


def field_names(owner: str, setup: SetupDict, label: str) -> tuple[str, ...]:
    """Field names of a structured buffer; a plain dtype has none, which these classes cannot use."""
    names = np.dtype(setup["dtype"]).names
    if not names:
        raise ValueError(
            f"{owner}: buffer {label} has the plain dtype {np.dtype(setup['dtype'])}, but this class "
            "addresses data by field name; declare data_type as a mapping of field names to types "
            "(e.g. {'ch1': 'float32'}) or use Reader/Writer from mimocorb.mimo_buffer directly"
        )
    return names


def config_mapping(owner: str, config_dict: Any) -> Mapping[str, Any]:
    """``None`` is what a function without configuration gets; anything but a mapping is a mistake."""
    if config_dict is None:
        return {}
    if not isinstance(config_dict, Mapping):
        raise ValueError(f"{owner}: config_dict must be a mapping, got {type(config_dict).__name__}")
    return config_dict
