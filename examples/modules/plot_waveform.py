"""Oscilloscope-like display of a sample of the waveforms of an observed buffer.

Observers never slow the data taking: they get a copy of a recent event whenever the display is ready.
Without a display, mimocorb.plot_buffer writes the pictures as PNG files into the run directory.
"""

from mimocorb.plot_buffer import plot_buffer  # matplotlib itself is imported by the display process only


def plot_waveform(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Show waveforms of the buffer marked 'observe' until the end of the run."""
    plot_buffer(source_list, sink_list, observe_list, config_dict, **rb_info)()


# lets `mimocorb validate` (and every run, before it starts) check this function's config keys
plot_waveform.check_config = plot_buffer.check_config  # type: ignore[attr-defined]  # a function attribute
