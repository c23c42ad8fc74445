"""A plain consumer, so the waveform buffer has a reader group besides the observing scope."""

from mimocorb.buffer_control import rbDrain


def drain(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    rbDrain(source_list, config_dict, **rb_info)()
