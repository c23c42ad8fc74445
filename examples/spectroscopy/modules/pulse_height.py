"""Pulse-height filter of the spectroscopy example: one height per waveform of IN1.

The measurement is mimocorb.physics.gamma.pulse_height; this module connects it to the buffers.
"""

from mimocorb.buffer_control import rbTransfer
from mimocorb.physics.common import make_record
from mimocorb.physics.gamma import check_gamma_config
from mimocorb.physics.gamma import pulse_height as measure


def pulse_height(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Read waveforms, write the heights of at least ``threshold`` ADC counts."""
    pretrigger = config_dict["pretrigger_samples"]
    threshold = config_dict.get("threshold", 0)
    record_dtype = sink_list[0]["dtype"]

    def select(event):
        height = measure(event["IN1"], pretrigger)
        return None if height < threshold else [make_record({"height": height}, record_dtype)]

    rbTransfer(
        source_list=source_list, sink_list=sink_list, config_dict=config_dict, ufunc=select, **rb_info
    )()


# lets `mimocorb validate` (and every run, before it starts) check the filter's keys
pulse_height.check_config = check_gamma_config  # type: ignore[attr-defined]  # a function attribute
