"""``mimocorb.histogram_buffer``: the live histograms of mimoCoRB 1.0.2 (see ``mimocorb.display``).

Importing this module does not import matplotlib, so it selects no backend and needs no display.
"""

from .display.histograms import animHists, histogram_buffer, plot_Histograms

__all__ = ["animHists", "histogram_buffer", "plot_Histograms"]
