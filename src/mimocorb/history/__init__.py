"""What outlives a run: one SQLite database per output directory (``history.sqlite``, beside the run
directories) that every run of that directory writes into and the commands and pages read from.

The run history (docs/operations.md): ``HistoryWriter`` writes a run's samples (``writer``), ``select``
and ``runs`` read them back (``query``), ``to_csv``, ``table`` and ``picture`` show them (``export``);
``HistorySettings`` (``settings``) says how long each resolution is kept.
"""

from .database import DATABASE_NAME, connect
from .export import overview, picture, table, to_csv
from .query import MAX_POINTS, Selection, Series, extent, runs, select, variables
from .settings import HistorySettings, parse_span, parse_time, span_text
from .writer import HistoryWriter

__all__ = [
    "DATABASE_NAME",
    "MAX_POINTS",
    "HistorySettings",
    "HistoryWriter",
    "Selection",
    "Series",
    "connect",
    "extent",
    "overview",
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
