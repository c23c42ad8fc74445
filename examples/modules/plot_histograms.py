"""Live histograms of the pulse parameters of a buffer (config key 'histograms').

Without a display, mimocorb.histogram_buffer writes the histograms as PNG files into the run directory.
"""


def plot_histograms(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Histogram the configured fields of the buffer marked 'read' until the end of the run."""
    from mimocorb.histogram_buffer import histogram_buffer  # imported here: only this process plots

    histogram_buffer(source_list, sink_list, observe_list, config_dict, **rb_info)()
