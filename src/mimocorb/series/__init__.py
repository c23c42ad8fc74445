"""Run series: one setup run again and again with other values, a list or a grid of steps (docs/series.md).

Modules, by what they hold:

* ``spec``   — the series file: its keys, its steps (a list, a grid, or both), the failure policy
* ``keys``   — key paths (``general.runtime``, ``Functions.Fkt_2.num_process``) and setting a value there
* ``check``  — every step checked as ``mimocorb validate`` checks a setup, with its values put in place
* ``record`` — series.json and series.md: the table of the runs, written so that a crash leaves it whole
* ``lock``   — one sequence command per series directory
* ``runner`` — the steps one after another, each an ordinary run; resuming after a kill or power cut
"""

from __future__ import annotations

from .check import check_series
from .lock import SeriesBusy
from .record import SeriesChanged
from .runner import EXIT_FAILED, EXIT_STOPPED, run_series, series_directory
from .spec import Override, Policy, Series, Step, load_series

__all__ = [
    "EXIT_FAILED",
    "EXIT_STOPPED",
    "Override",
    "Policy",
    "Series",
    "SeriesBusy",
    "SeriesChanged",
    "Step",
    "check_series",
    "load_series",
    "run_series",
    "series_directory",
]
