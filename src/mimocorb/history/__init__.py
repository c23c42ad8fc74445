"""What outlives a run: one SQLite database per output directory (``history.sqlite``, beside the run
directories) that every run of that directory writes into and the commands and pages read from.

The run catalog (``catalog``) lists every run with its figures, tags and notes; ``list_runs`` brings it up
to date with the run directories and filters it, ``add_note`` writes into the logbook of a run.

The run history (docs/operations.md): ``HistoryWriter`` writes a run's samples (``writer``), ``select``
and ``runs`` read them back (``query``), ``to_csv``, ``table`` and ``picture`` show them (``export``);
``HistorySettings`` (``settings``) says how long each resolution is kept.
"""

from .catalog import check_tag
from .database import DATABASE_NAME, connect
from .export import overview, picture, table, to_csv
from .filters import RunFilter, compile_grep, parse_since
from .listing import list_runs
from .naming import UnknownRun, find_run
from .notes import add_note
from .query import MAX_POINTS, Selection, Series, extent, runs, select, variables
from .settings import HistorySettings, parse_span, parse_time, span_text
from .writer import HistoryWriter

__all__ = [
    "DATABASE_NAME",
    "MAX_POINTS",
    "HistorySettings",
    "HistoryWriter",
    "RunFilter",
    "Selection",
    "Series",
    "UnknownRun",
    "add_note",
    "check_tag",
    "compile_grep",
    "connect",
    "extent",
    "find_run",
    "list_runs",
    "overview",
    "parse_since",
    "parse_span",
    "parse_time",
    "picture",
    "runs",
    "select",
    "span_text",
    "table",
    "to_csv",
    "variables",
]
