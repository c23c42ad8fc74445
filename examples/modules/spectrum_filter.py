"""Pulse-height filter of the spectrum example (demo_setup.yaml): height, position and integral per channel.

The selection is mimocorb.physics.spectrum. The record goes to the last buffer marked 'write'; with two
buffers the raw waveform of each accepted event also goes to the first.
"""

import numpy as np

from mimocorb.buffer_control import rbTransfer
from mimocorb.physics.common import make_record
from mimocorb.physics.spectrum import SpectrumFilter, check_spectrum_config


def find_peaks(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Read raw events, write one record of pulse parameters per event with a trigger pulse."""
    channels = np.dtype(source_list[0]["dtype"]).names
    record_dtype = sink_list[-1]["dtype"]
    measure = SpectrumFilter(config_dict, channels)

    def select(event):
        values = measure(event)
        if values is None:
            return None  # no pulse in the trigger channel
        return [make_record(values, record_dtype)]

    rbTransfer(
        source_list=source_list, sink_list=sink_list, config_dict=config_dict, ufunc=select, **rb_info
    )()


# lets `mimocorb validate` (and every run, before it starts) check this function's config keys
find_peaks.check_config = check_spectrum_config  # type: ignore[attr-defined]  # a function attribute
