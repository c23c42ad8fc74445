"""Sources for the display tests: known scalar values and simulated scope waveforms."""

import time

import numpy as np

from mimocorb.buffer_control import rbImport


def known_values(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Event i (1, 2, ...) carries x = i % 10 + 0.5 and y = 100 + i; n_events (0 = no end), sleep."""
    config = config_dict or {}
    n_events = int(config.get("n_events", 0))
    sleep = float(config.get("sleep", 0.0))

    def generate():
        i = 0
        while n_events == 0 or i < n_events:
            i += 1
            if sleep:
                time.sleep(sleep)
            yield [np.float64(i % 10 + 0.5), np.float64(100 + i)], None

    rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=generate, **rb_info)()


def pulses(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Waveforms with a negative pulse at the trigger position, offset -0.48 V as in the muon example."""
    config = config_dict or {}
    n_events = int(config.get("n_events", 0))
    sleep = float(config.get("sleep", 0.0))
    setup = sink_list[0]
    n_ch, n = len(setup["dtype"]), setup["values_per_slot"]
    pre = int(config.get("pre_trigger_samples", 0))
    baseline = 1000.0 * float(config.get("analogue_offset", 0.0))
    shape = np.zeros(n)
    shape[pre:] = 400.0 * np.exp(-np.arange(n - pre) / 20.0)

    def generate():
        i = 0
        rng = np.random.default_rng(1)
        while n_events == 0 or i < n_events:
            i += 1
            if sleep:
                time.sleep(sleep)
            yield baseline + shape[None, :] * rng.uniform(0.5, 1.0, (n_ch, 1)), None

    rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=generate, **rb_info)()
