"""``mimocorb.histogram_buffer``: live histograms of compat-api §9.3 (see ``mimocorb.display``).

Importing this module does not import matplotlib (D1, D26).
"""

from .display.histograms import animHists, histogram_buffer, plot_Histograms

__all__ = ["animHists", "histogram_buffer", "plot_Histograms"]
