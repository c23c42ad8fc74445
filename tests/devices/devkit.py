"""Helpers of the device tests: setups with the Red Pitaya source and the Parquet recorder, both named
by module (file_name: mimocorb.devices / mimocorb.io), and what the recording holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import support

from mimocorb.config import ConfigError, validate_setup

INT_FIELDS = "{1: [IN1, int16], 2: [IN2, int16]}"


def rp_setup(
    directory: Path,
    config: str,
    samples: int = 256,
    fields: str = INT_FIELDS,
    main: str = "",
    kbd: bool = False,
    name: str = "rp_setup.yaml",
    source: str = "redpitaya",
) -> Path:
    """RB_1 written by the ``source`` of mimocorb.devices (``config``: its flow-style keys), recorded to
    Parquet."""
    text = (
        f"output_directory: target\nGUI_control: false\nKBD_control: {str(kbd).lower()}\n"
        "RingBuffer:\n"
        f"  - RB_1: {{number_of_slots: 16, channel_per_slot: {samples}, data_type: {fields}}}\n"
        "Functions:\n"
        f"  - Fkt_main: {{{main}}}\n"
        f"  - Fkt_1: {{file_name: mimocorb.devices, fkt_name: {source}, num_process: 1,\n"
        "            RB_assign: {RB_1: write}}\n"
        "  - Fkt_2: {file_name: mimocorb.io, fkt_name: record_parquet, num_process: 1,\n"
        "            RB_assign: {RB_1: read}}\n"
        "FunctionConfigs:\n"
        f"  {source}: {{{config}}}\n"
        "  record_parquet: {}\n"
    )
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def run(args: list[str], cwd: Path, timeout: float = 60.0) -> tuple[int, str]:
    result = support.run(support.mimocorb_command(*args), cwd, timeout)
    return result.returncode, result.stdout


def recorded(run_dir: Path, buffer: str = "RB_1") -> pd.DataFrame:
    return pd.read_parquet(run_dir / f"{buffer}.parquet").sort_values("counter", ignore_index=True)


def as_wire(frame: pd.DataFrame, row: int) -> bytes:
    """One recorded event in the layout the board sends: int16 IN1, IN2 interleaved, little-endian."""
    samples = np.empty((len(frame.IN1[row]), 2), "<i2")
    samples[:, 0], samples[:, 1] = frame.IN1[row], frame.IN2[row]
    return samples.tobytes()


def assert_config_error(setup: Path, function: str, message: str) -> None:
    """``validate_setup`` fails with ``message`` on the line of the setup that names ``function``."""
    with pytest.raises(ConfigError) as info:
        validate_setup(setup)
    line = next(
        i for i, text in enumerate(setup.read_text().splitlines(), 1) if f"fkt_name: {function}" in text
    )
    report = str(info.value)
    assert f"{setup.name}:{line}: Functions[1].Fkt_1.fkt_name: config of '{function}'" in report
    assert message in report
