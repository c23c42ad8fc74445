"""``mimocorb.plot_buffer``: the oscilloscope display of compat-api §9.2 (see ``mimocorb.display``).

Importing this module does not import matplotlib, so a user module may call ``matplotlib.use("TkAgg")``
next to importing it and still run on a machine without a display (D26).
"""

from .display.scope import animWaveformPlotter, plot_buffer

__all__ = ["animWaveformPlotter", "plot_buffer"]
