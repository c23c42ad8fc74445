"""Live displays of a run: the buffer monitor, the oscilloscope and the live histograms.

Everything here runs in display processes only. Modules import matplotlib inside functions, so that
importing them (as ``mimocorb.plot_buffer`` and the other modules with mimoCoRB 1.0.2's names do for user
modules) never selects a backend or needs a display, and a headless run goes on without windows.
``backend`` decides between a window and PNG snapshots.
"""
