"""Exporters of the muon examples: pulse parameters to a text file, waveforms to a tar of parquet files.

The recorders of mimocorb.io are imported too, so that a setup can name them instead: fkt_name
"record_root" (or "record_hdf5", "record_parquet") records the waveforms to ROOT (HDF5, a Parquet
dataset) by changing that one line.

save_to_txt also closes a lifetime run with its physics result: after the last event (the end of the run
reaches the exporter as SystemExit), it fits the muon lifetime to the decay times it wrote, if its config
has a 'physics_summary' block (config/save_lifetime.yaml).
"""

import contextlib

from mimocorb.buffer_control import rb_toParquetfile, rb_toTxtfile
from mimocorb.io import record_hdf5, record_parquet, record_root  # noqa: F401 - for fkt_name


def save_to_txt(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """One tab-separated line per event: counter, timestamp, dead time, then the buffer's fields."""
    summary = config_dict.get("physics_summary")
    exporter_config = {key: value for key, value in config_dict.items() if key != "physics_summary"}
    exporter = rb_toTxtfile(source_list=source_list, config_dict=exporter_config, **rb_info)
    with contextlib.suppress(SystemExit):  # how the end of the run reaches the exporter
        exporter()
    # here every event of the run is in the file
    if summary is not None:
        from mimocorb.physics.summary import write_lifetime_summary

        write_lifetime_summary(exporter_config, **summary)


def save_parquet(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Every event's waveform as one parquet member of <filename>.tar."""
    rb_toParquetfile(source_list=source_list, config_dict=config_dict, **rb_info)()
