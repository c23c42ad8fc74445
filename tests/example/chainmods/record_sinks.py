"""Test sinks for the example chain: they write what reached them to plain files for the test to check."""

import numpy as np

from mimocorb.buffer_control import rbExport


def record_decays(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """One line 'counter decay_time' per pulse-parameter record."""
    with open(config_dict["directory_prefix"] + "decays.txt", "w") as out:
        for item in rbExport(source_list=source_list, config_dict=config_dict, **rb_info)():
            if item is None:
                break
            data, metadata = item
            out.write(f"{int(metadata[0])} {int(data['decay_time'][0])}\n")


def count_waveforms(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """One line 'counter pulse_maximum_chA' per waveform, to check that real waveforms arrived."""
    with open(config_dict["directory_prefix"] + "waveforms.txt", "w") as out:
        for item in rbExport(source_list=source_list, config_dict=config_dict, **rb_info)():
            if item is None:
                break
            data, metadata = item
            out.write(f"{int(metadata[0])} {float(np.max(data['chA'])):.1f}\n")
