"""The same displays from a module that leaves matplotlib alone (no backend call at import)."""

from mimocorb.histogram_buffer import histogram_buffer
from mimocorb.plot_buffer import plot_buffer


def plot_waveform(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    plot_buffer(source_list, sink_list, observe_list, config_dict, **rb_info)()


def plot_histograms(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    histogram_buffer(source_list, sink_list, observe_list, config_dict, **rb_info)()
