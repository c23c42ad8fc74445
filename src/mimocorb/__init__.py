"""mimocorb: a multiple-in multiple-out configurable ring buffer for data acquisition.

Importing the package imports no submodule (users import ``mimocorb.mimo_buffer`` etc. explicitly),
so ``import mimocorb`` stays cheap and never pulls in GUI or plotting libraries.
"""

from ._version_info import __version__, major, minor, revision, suffix  # noqa: F401

# grows as the compat modules of compat-api §1 are built
__all__ = ["buffer_control", "mimo_buffer", "parquetReader", "pulseSimulator"]
