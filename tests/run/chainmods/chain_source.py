"""Sources for the run-controller tests: raw Writer loops and an rbImport generator."""

import time

import numpy as np

from mimocorb import mimo_buffer as bm
from mimocorb.buffer_control import rbImport


def counting_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Writes 1, 2, 3, ... into field 'value' of every sink; n_events (0 = no end), sleep per event."""
    config = config_dict or {}
    n_events = int(config.get("n_events", 0))
    sleep = float(config.get("sleep", 0.0))
    writers = [bm.Writer(s) for s in sink_list]
    n = 0
    while n_events == 0 or n < n_events:
        n += 1
        for w in writers:
            slot = w.get_new_buffer()
            slot["value"] = n
            w.set_metadata(n, time.time(), 0.0)
            w.process_buffer()
        if sleep:
            time.sleep(sleep)
    print(f"counting_source: {n} events written")


def import_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """rbImport with a generator of n_events events (0 = no end)."""
    config = config_dict or {}
    n_events = int(config.get("n_events", 0))
    sleep = float(config.get("sleep", 0.0))

    def generate():
        n = 0
        while n_events == 0 or n < n_events:
            n += 1
            if sleep:
                time.sleep(sleep)
            yield [np.int64(n)], None

    rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=generate, **rb_info)()


def waveform_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """rbImport of n_events waveforms (all fields filled with the event number)."""
    config = config_dict or {}
    n_events = int(config.get("n_events", 0))
    setup = sink_list[0]
    shape = (len(setup["dtype"]), setup["values_per_slot"])

    def generate():
        n = 0
        data = np.zeros(shape)
        while n_events == 0 or n < n_events:
            n += 1
            data[:] = n
            yield data, None

    rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=generate, **rb_info)()
