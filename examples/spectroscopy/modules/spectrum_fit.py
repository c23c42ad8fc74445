"""Recorder of the spectroscopy example: the pulse heights into a Parquet dataset, then the spectrum's
peaks, fitted and calibrated (mimocorb.physics.gamma), into gamma_spectrum.json and the run log.

The fit runs after the recorder's last event, when every height of the run is in the file.
"""

from mimocorb.io import record_parquet
from mimocorb.io.dataset import check_recorder_config
from mimocorb.physics.gamma import analyse, report, write_summary

ANALYSIS_KEYS = ("calibration_lines", "reference_line")


def record_and_fit(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Record RB_2, then fit its spectrum."""
    import pandas as pd  # here, in the worker: the run controller never imports a library with threads

    recorder_config = {k: v for k, v in config_dict.items() if k not in ANALYSIS_KEYS}
    record_parquet(source_list, sink_list, observe_list, recorder_config, **rb_info)
    directory = config_dict["directory_prefix"]
    heights = pd.read_parquet(f"{directory}{config_dict.get('filename', 'spectrum')}.parquet")["height"]
    summary = analyse(heights.to_numpy(), config_dict["calibration_lines"])
    reference = config_dict.get("reference_line")
    if reference is not None:
        nearest = min(summary["peaks"], key=lambda peak: abs(peak["energy"] - reference))
        summary["reference"] = {"line_kev": reference, "measured_kev": nearest["energy"]}
    write_summary(directory, summary)
    print(report(summary))
    if reference is not None:
        deviation = 100 * (summary["reference"]["measured_kev"] / reference - 1)
        print(f"  the {reference:g} keV line is measured at {nearest['energy']:.1f} keV ({deviation:+.2f} %)")


def check_config(config_dict):
    """The calibration lines, and the recorder's own keys."""
    lines = config_dict.get("calibration_lines")
    if not (isinstance(lines, list) and len(lines) == 2 and all(isinstance(e, (int, float)) for e in lines)):
        raise ValueError(f"'calibration_lines' must be two energies in keV, got {lines!r}")
    check_recorder_config({k: v for k, v in config_dict.items() if k not in ANALYSIS_KEYS})


record_and_fit.check_config = check_config  # type: ignore[attr-defined]  # a function attribute
