"""Helpers of the CosmicWatch and SCPI tests: setups naming the sources by module, recorded to Parquet."""

from __future__ import annotations

from pathlib import Path

COSMICWATCH_FIELDS = (
    "{1: [event, int64], 2: [device_time_ms, float64], 3: [adc, int32], 4: [sipm_mV, float64], "
    "5: [deadtime_ms, float64], 6: [temperature_C, float64]}"
)
V3X_FIELDS = COSMICWATCH_FIELDS[:-1] + ", 7: [pressure_Pa, float64], 8: [accel_z_g, float64], 9: [name, U16]}"
SCOPE_FIELDS = "{1: [CH1, float64], 2: [CH2, float64]}"


def device_setup(
    directory: Path,
    function: str,
    config: str,
    fields: str,
    samples: int = 1,
    main: str = "",
    kbd: bool = False,
) -> Path:
    """RB_1 written by ``function`` of mimocorb.devices (``config``: its flow-style keys), recorded."""
    text = (
        f"output_directory: target\nGUI_control: false\nKBD_control: {str(kbd).lower()}\n"
        "RingBuffer:\n"
        f"  - RB_1: {{number_of_slots: 64, channel_per_slot: {samples}, data_type: {fields}}}\n"
        "Functions:\n"
        f"  - Fkt_main: {{{main}}}\n"
        f"  - Fkt_1: {{file_name: mimocorb.devices, fkt_name: {function}, num_process: 1,\n"
        "            RB_assign: {RB_1: write}}\n"
        "  - Fkt_2: {file_name: mimocorb.io, fkt_name: record_parquet, num_process: 1,\n"
        "            RB_assign: {RB_1: read}}\n"
        "FunctionConfigs:\n"
        f"  {function}: {{{config}}}\n"
        "  record_parquet: {}\n"
    )
    path = directory / f"{function}_setup.yaml"
    path.write_text(text, encoding="utf-8")
    return path
