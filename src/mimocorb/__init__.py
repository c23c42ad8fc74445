"""mimocorb: a multiple-in multiple-out configurable ring buffer for data acquisition.

Importing the package imports no submodule (users import ``mimocorb.mimo_buffer`` etc. explicitly),
so ``import mimocorb`` stays cheap and never pulls in GUI or plotting libraries.
"""

from ._version_info import __version__, major, minor, revision, suffix  # noqa: F401

# the submodules that ``from mimocorb import *`` imports
__all__ = [
    "buffer_control",
    "bufferinfoGUI",
    "histogram_buffer",
    "mimo_buffer",
    "parquetReader",
    "plot_buffer",
    "pulseSimulator",
]
