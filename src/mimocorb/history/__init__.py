"""What outlives a run: one SQLite database per output directory (``history.sqlite``, beside the run
directories) that every run of that directory writes into and the commands and pages read from.
"""

from .database import DATABASE_NAME, connect

__all__ = ["DATABASE_NAME", "connect"]
