"""Live histograms of the pulse parameters of a buffer (config key 'histograms').

Without a display, mimocorb.histogram_buffer writes the histograms as PNG files into the run directory.
"""

from mimocorb.histogram_buffer import histogram_buffer  # matplotlib is imported by the plot process only


def plot_histograms(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Histogram the configured fields of the buffer marked 'read' until the end of the run."""
    histogram_buffer(source_list, sink_list, observe_list, config_dict, **rb_info)()


# lets `mimocorb validate` (and every run, before it starts) check this function's config keys
plot_histograms.check_config = histogram_buffer.check_config  # type: ignore[attr-defined]  # a function attribute
