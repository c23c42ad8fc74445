"""Helpers of the PicoScope tests: the stand-in driver built from C, runs with it on the library path,
and what it logged and handed out (picostub/picostub.c describes both)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from devkit import rp_setup
from picostub.build import build
from support import child_env

MAX_ADC = 32767


def build_stub(directory: Path, family: str = "ps4000a") -> Path:
    """The stand-in ``lib<family>.so`` in ``directory``; skips the test without a C compiler."""
    library = build(directory, family)
    if library is None:
        pytest.skip("no C compiler (cc or gcc) to build the stand-in PicoScope driver; apt-get install gcc")
    return library


@dataclass
class Stub:
    """One test's view of the stand-in: its directory on the library path, its call log and data file."""

    library_dir: Path
    log: Path
    data: Path

    def env(self, more: Mapping[str, str | None] | None = None, **settings: str) -> dict[str, str]:
        """A child environment in which picosdk's loader finds the stand-in, with its ``PICOSTUB_<KEY>``
        settings and ``more`` changes (None removes a variable)."""
        changes = {"LD_LIBRARY_PATH": str(self.library_dir), "PICOSTUB_LOG": str(self.log)}
        changes["PICOSTUB_DATA"] = str(self.data)
        changes |= {f"PICOSTUB_{key.upper()}": value for key, value in settings.items()}
        return child_env({**changes, **(more or {})})

    def calls(self, name: str = "") -> list[str]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [line for line in lines if line.startswith(name)]

    def handed_out(self, channels: int, samples: int) -> np.ndarray:
        """Every capture GetValuesBulk handed out, as [capture, channel, sample] counts."""
        raw = np.fromfile(self.data, np.int16) if self.data.exists() else np.empty(0, np.int16)
        return raw.reshape(-1, channels, samples)


def pulse_height_counts(capture: int, channel: int, range_mv: float = 500, max_adc: int = MAX_ADC) -> int:
    """The stand-in's pulse on channel A (0) or B (1) of capture number ``capture``: counts at its peak."""
    return round((100 + capture % 200 + 10 * channel) * max_adc / range_mv)


def pico_setup(
    directory: Path, config: str, fields: str = "{1: [chA, int16], 2: [chB, int16]}", **kw
) -> Path:
    """RB_1 of 256 samples written by the picoscope source (``config``: its flow-style keys), recorded to
    Parquet; ``kw`` as for devkit.rp_setup."""
    return rp_setup(directory, config, fields=fields, name="pico_setup.yaml", source="picoscope", **kw)
