"""Source of the muon examples: simulated detector waveforms into the first buffer.

A real experiment would read its oscilloscope here; the structure stays the same: a generator yields one
event at a time, and rbImport puts each into the ring buffer with counter, timestamp and dead time.
"""

import numpy as np

from mimocorb.buffer_control import rbImport
from mimocorb.pulseSimulator import pulseSimulator


def simulation_source(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Fill the buffer marked 'write' with events of the four-layer muon detector."""
    buffer = sink_list[0]
    channels = np.dtype(buffer["dtype"]).names  # one buffer field per detector layer: chA, chB, ...
    n_samples = buffer["values_per_slot"]
    if config_dict.get("number_of_samples", n_samples) != n_samples:
        raise ValueError(
            f"simulation_source: config 'number_of_samples' is {config_dict['number_of_samples']}, "
            f"but the buffer holds {n_samples} values per channel (channel_per_slot)"
        )

    simulator = pulseSimulator(config_dict)
    simulator.init(number_of_channels=len(channels), number_of_values=n_samples, channel_names=channels)

    def events():
        while True:
            yield simulator(), None  # (data, metadata): None lets rbImport count and time-stamp the event

    source = rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=events, **rb_info)
    source.logger.info("simulating %d channels of %d samples", len(channels), n_samples)
    source()  # runs until the end of the run
