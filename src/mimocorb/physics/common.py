"""Pieces shared by the example filters: config checking and output records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


class FilterConfigError(ValueError):
    """A filter configuration key is missing or has an unusable value."""


def config_number(
    config: Mapping[str, Any], key: str, default: float | None = None, minimum: float = 0.0
) -> float:
    """The number under ``key``; the error names the key and what was expected."""
    if key not in config and default is None:
        raise FilterConfigError(f"filter config: required key '{key}' is missing")
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise FilterConfigError(f"filter config: '{key}' expected a number >= {minimum}, found {value!r}")
    return float(value)


def offset_mv(config: Mapping[str, Any]) -> float:
    """The baseline in mV from ``analogue_offset``, which the configs give in volts."""
    offset = config.get("analogue_offset")
    if isinstance(offset, bool) or not isinstance(offset, (int, float)):
        raise FilterConfigError(f"filter config: 'analogue_offset' expected a number (V), found {offset!r}")
    return 1000.0 * offset


def make_record(values: Mapping[str, float], dtype: Any) -> np.ndarray:
    """One zeroed record of a sink's dtype, with the fields it shares with ``values`` filled in.

    Filling by name lets one filter serve buffers that order (or subset) the fields differently, as the
    lifetime and spin setups do; values are cast by numpy (a float into an int32 field is truncated).
    """
    record = np.zeros(1, dtype=dtype)
    for name in record.dtype.names or ():
        if name in values:
            record[name] = values[name]
    return record
