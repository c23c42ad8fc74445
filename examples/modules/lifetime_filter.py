"""Double-pulse filter of the muon-lifetime example: keep events in which a stopped muon decayed.

The selection itself (peak finding, coincidences, signatures, pulse parameters) is
mimocorb.physics.doublepulse; this module connects it to the buffers. Where the result goes depends on
how many buffers the setup marks 'write':

* 1 buffer: the waveforms of accepted events (raw copy);
* 2 buffers (simulsource_setup.yaml): waveform -> 1st, pulse parameters -> 2nd;
* 3 buffers (spin_setup.yaml): waveform -> 1st, parameters of upward decays -> 2nd, downward -> 3rd.
"""

import numpy as np

from mimocorb.buffer_control import rbTransfer
from mimocorb.physics.doublepulse import DoublePulseFilter, check_filter_config
from mimocorb.physics.summary import SelectionCounter

# signature type (its index in the config's 'signatures') -> direction of the decay electron
UP, DOWN = 0, 1
DIRECTION = {0: UP, 1: DOWN, 2: UP}


def make_selector(config_dict, channels, record_dtypes):
    """The per-event function for rbTransfer: None (reject) or what to write (see module docstring)."""
    find_double_pulse = DoublePulseFilter(config_dict, channels)

    def select(event):
        pulse = find_double_pulse(event)
        if pulse is None:
            return None  # not a double pulse: nothing is written
        if not record_dtypes:
            return True  # only a waveform buffer: rbTransfer copies the event there
        if len(record_dtypes) == 1:
            return [pulse.record(record_dtypes[0])]  # fewer results than buffers: raw copy goes first
        direction = DIRECTION.get(pulse.signature, UP)
        record = pulse.record(record_dtypes[direction])
        return [record, None] if direction == UP else [None, record]  # None leaves a buffer out

    return select


def calculate_decay_time(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Read raw events, write the waveforms and pulse parameters of double pulses."""
    channels = np.dtype(source_list[0]["dtype"]).names
    record_dtypes = [buffer["dtype"] for buffer in sink_list[1:]]  # the 1st buffer gets the waveform
    select = make_selector(config_dict, channels, record_dtypes)

    counter = SelectionCounter(config_dict["directory_prefix"])  # events seen/accepted, for the summary

    def counted(event):
        result = select(event)
        counter.count(result is not None)
        return result

    try:
        rbTransfer(
            source_list=source_list, sink_list=sink_list, config_dict=config_dict, ufunc=counted, **rb_info
        )()
    finally:
        counter.save()


# lets `mimocorb validate` (and every run, before it starts) check thresholds and signatures
calculate_decay_time.check_config = check_filter_config  # type: ignore[attr-defined]  # a function attribute
