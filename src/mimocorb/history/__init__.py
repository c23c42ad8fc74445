"""What outlives a run: one SQLite database per output directory (``history.sqlite``, beside the run
directories) that every run of that directory writes into and the commands and pages read from.

The run catalog (``catalog``) lists every run with its figures, tags and notes; ``list_runs`` brings it up
to date with the run directories and filters it, ``add_note`` writes into the logbook of a run.
"""

from .catalog import check_tag
from .database import DATABASE_NAME, connect
from .filters import RunFilter, compile_grep, parse_since
from .listing import list_runs
from .naming import UnknownRun, find_run
from .notes import add_note

__all__ = [
    "DATABASE_NAME",
    "RunFilter",
    "UnknownRun",
    "add_note",
    "check_tag",
    "compile_grep",
    "connect",
    "find_run",
    "list_runs",
    "parse_since",
]
