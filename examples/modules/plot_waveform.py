"""Oscilloscope-like display of a sample of the waveforms of an observed buffer.

Observers never slow the data taking: they get a copy of a recent event whenever the display is ready.
Without a display, mimocorb.plot_buffer writes the pictures as PNG files into the run directory.
"""


def plot_waveform(source_list=None, sink_list=None, observe_list=None, config_dict=None, **rb_info):
    """Show waveforms of the buffer marked 'observe' until the end of the run."""
    from mimocorb.plot_buffer import plot_buffer  # imported here: only the display process needs matplotlib

    plot_buffer(source_list, sink_list, observe_list, config_dict, **rb_info)()
