"""Recorder of the spectroscopy example: the pulse heights into a Parquet dataset (record_and_fit) or ROOT
files (record_root_and_fit), then the spectrum's peaks, fitted and calibrated (mimocorb.physics.gamma),
into gamma_spectrum.json and the run log.

The fit runs after the recorder's last event, when every height of the run is in the file; it reads the
heights back from the file, so that the result is the one an analysis of the file would give.
"""

from pathlib import Path

from mimocorb.io import record_parquet, record_root
from mimocorb.physics.gamma import analyse, report, write_summary

ANALYSIS_KEYS = ("calibration_lines", "reference_line")


def record_and_fit(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Record RB_2 into <filename>.parquet, then fit its spectrum."""
    _record(record_parquet, source_list, sink_list, observe_list, config_dict, **rb_info)
    import pandas as pd  # here, in the worker: the run controller never imports a library with threads

    path = f"{config_dict['directory_prefix']}{_filename(config_dict)}.parquet"
    _fit(pd.read_parquet(path)["height"].to_numpy(), config_dict)


def record_root_and_fit(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Record RB_2 into <filename>_00000.root, ... (a TTree 'events'), then fit its spectrum."""
    _record(record_root, source_list, sink_list, observe_list, config_dict, **rb_info)
    import numpy as np
    import uproot

    parts = sorted(Path(config_dict["directory_prefix"]).glob(f"{_filename(config_dict)}_*.root"))
    heights = []
    for part in parts:
        with uproot.open(part) as file:
            heights.append(file[config_dict.get("tree", "events")]["height"].array(library="np"))
    _fit(np.concatenate(heights), config_dict)


def _record(recorder, source_list, sink_list, observe_list, config_dict, **rb_info):
    recorder_config = {k: v for k, v in config_dict.items() if k not in ANALYSIS_KEYS}
    recorder(source_list, sink_list, observe_list, recorder_config, **rb_info)


def _filename(config_dict):
    return config_dict.get("filename", "spectrum")


def _fit(heights, config_dict):
    directory = config_dict["directory_prefix"]
    summary = analyse(heights, config_dict["calibration_lines"])
    reference = config_dict.get("reference_line")
    if reference is not None:
        nearest = min(summary["peaks"], key=lambda peak: abs(peak["energy"] - reference))
        summary["reference"] = {"line_kev": reference, "measured_kev": nearest["energy"]}
    write_summary(directory, summary)
    print(report(summary))
    if reference is not None:
        deviation = 100 * (summary["reference"]["measured_kev"] / reference - 1)
        print(f"  the {reference:g} keV line is measured at {nearest['energy']:.1f} keV ({deviation:+.2f} %)")


def _checker(recorder):
    def check_config(config_dict, buffers=None):
        """The calibration lines, and the recorder's own keys."""
        lines = config_dict.get("calibration_lines")
        if not (
            isinstance(lines, list) and len(lines) == 2 and all(isinstance(e, (int, float)) for e in lines)
        ):
            raise ValueError(f"'calibration_lines' must be two energies in keV, got {lines!r}")
        recorder.check_config({k: v for k, v in config_dict.items() if k not in ANALYSIS_KEYS}, buffers)

    return check_config


# lets `mimocorb validate` (and every run, before it starts) check the keys
record_and_fit.check_config = _checker(record_parquet)  # type: ignore[attr-defined]  # a function attribute
record_root_and_fit.check_config = _checker(record_root)  # type: ignore[attr-defined]
