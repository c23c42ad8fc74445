"""Display modules written the way the 1.0.2 examples are (plot_waveform.py, plot_histograms.py)."""

import matplotlib

matplotlib.use("TkAgg")  # as the 1.0.2 example modules do; must not break a headless run

from mimocorb.histogram_buffer import histogram_buffer
from mimocorb.plot_buffer import plot_buffer


def plot_waveform(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    plot_buffer(source_list, sink_list, observe_list, config_dict, **rb_info)()


def plot_histograms(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    histogram_buffer(source_list, sink_list, observe_list, config_dict, **rb_info)()
