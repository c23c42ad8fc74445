"""``mimocorb.bufferinfoGUI``: the buffer-monitor window of mimoCoRB 1.0.2 (see ``mimocorb.display``).

Importing this module imports neither tkinter nor matplotlib; the window's process does.
"""

from .display.monitor import bufferinfoGUI, plot_bufferinfo

__all__ = ["bufferinfoGUI", "plot_bufferinfo"]
