"""``mimocorb.plot_buffer``: the oscilloscope display of mimoCoRB 1.0.2 (see ``mimocorb.display``).

Importing this module does not import matplotlib, so a user module may call ``matplotlib.use("TkAgg")``
next to importing it and still run on a machine without a display.
"""

from .display.scope import animWaveformPlotter, plot_buffer

__all__ = ["animWaveformPlotter", "plot_buffer"]
