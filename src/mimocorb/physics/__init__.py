"""Physics of the muon example: detector simulation, pulse selections and the lifetime fit.

``simulation`` (the detector and its waveforms), ``peaks`` (scipy peak finding with a lossless pre-cut),
``doublepulse`` (the lifetime selection), ``spectrum`` (the pulse-height selection), ``lifetime`` (the
unbinned fit), ``spin`` (the up/down asymmetry fit) and ``summary`` (the end-of-run physics summary of a
lifetime run). The example modules in
``examples/modules`` are thin wrappers around these, so that the physics can be tested without processes
and reused outside a run. scipy (peak finding) and matplotlib (the summary plot) are imported only by the
functions that need them.
"""
