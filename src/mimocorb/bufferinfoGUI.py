"""``mimocorb.bufferinfoGUI``: the buffer-monitor window of compat-api §9.1 (see ``mimocorb.display``).

Importing this module imports neither tkinter nor matplotlib; the window's process does.
"""

from .display.monitor import bufferinfoGUI, plot_bufferinfo

__all__ = ["bufferinfoGUI", "plot_bufferinfo"]
