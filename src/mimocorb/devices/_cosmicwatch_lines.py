"""The lines a CosmicWatch desktop muon detector prints over USB, and what each field means.

Version 2 (Arduino Nano) prints, after a banner of ``#`` lines and its name, one line per event with the
values separated by spaces: event number, device time (ms since boot), ADC (0-1023), SiPM pulse height
(mV), accumulated dead time (ms), temperature (°C) and, in some firmware, the detector's name.

Version 3X (Raspberry Pi RP2040) prints its boot messages and a header as ``#`` lines, then one line per
event with the values separated by tabs: event number, device time (s), coincidence flag, ADC (12 bit),
SiPM (mV), accumulated dead time (s), temperature (°C), pressure (Pa), acceleration ``x:y:z`` (g),
rotation ``x:y:z`` (°/s) and the detector's name.

Both become the same fields, in the same units (times in ms), so that one setup reads either version.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("auto", "v2", "v3x")
NAME = "name"  # the detector's name: a text field (dtype S or U) of the buffer


@dataclass(frozen=True)
class Column:
    fields: tuple[str, ...]  # one, or three for an x:y:z triple
    scale: float = 1.0  # device unit -> field unit


V2 = (
    Column(("event",)),
    Column(("device_time_ms",)),
    Column(("adc",)),
    Column(("sipm_mV",)),
    Column(("deadtime_ms",)),
    Column(("temperature_C",)),
)
V3X = (
    Column(("event",)),
    Column(("device_time_ms",), 1000.0),
    Column(("coincident",)),
    Column(("adc",)),
    Column(("sipm_mV",)),
    Column(("deadtime_ms",), 1000.0),
    Column(("temperature_C",)),
    Column(("pressure_Pa",)),
    Column(("accel_x_g", "accel_y_g", "accel_z_g")),
    Column(("gyro_x_dps", "gyro_y_dps", "gyro_z_dps")),
)
LAYOUTS = {"v2": (V2, None), "v3x": (V3X, "\t")}
FIELDS = (*dict.fromkeys(f for column in V2 + V3X for f in column.fields), NAME)


class NotAnEvent(ValueError):
    """A line that is no event: a banner, a header, a boot message, or noise on the line."""


def line_format(line: str, wanted: str) -> str:
    """The format of an event line: ``wanted`` unless it is ``auto``, then tabs say v3X."""
    if wanted != "auto":
        return wanted
    return "v3x" if "\t" in line else "v2"


def parse_line(line: str, wanted: str = "auto") -> dict[str, float | str]:
    """The fields of one event line; NotAnEvent for anything else (comments, the banner, the name)."""
    stripped = line.strip()
    if not stripped[:1].isdigit():
        raise NotAnEvent(stripped)
    columns, separator = LAYOUTS[line_format(stripped, wanted)]
    values = stripped.split(separator)
    if not len(columns) <= len(values) <= len(columns) + 1:
        raise NotAnEvent(f"expected {len(columns)} or {len(columns) + 1} values: {stripped}")
    fields: dict[str, float | str] = {}
    try:
        for column, value in zip(columns, values, strict=False):
            parts = value.split(":")
            if len(parts) != len(column.fields):
                raise NotAnEvent(f"expected {len(column.fields)} value(s) in {value!r}: {stripped}")
            for name, part in zip(column.fields, parts, strict=True):
                fields[name] = float(part) * column.scale
    except NotAnEvent:
        raise
    except ValueError as exc:
        raise NotAnEvent(f"{exc}: {stripped}") from None
    if len(values) > len(columns):
        fields[NAME] = values[-1].strip()
    return fields
