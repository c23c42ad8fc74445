"""Helpers every test directory shares: waiting with a deadline, child runs, run directories, /dev/shm.

Importable as ``support`` from every test file, because the pytest configuration puts tests/ on sys.path
(``pythonpath`` in pyproject.toml). What only one directory needs stays in that directory's kit.
"""

from support.children import (
    HEADLESS,
    child_env,
    communicate,
    finish,
    mimocorb_command,
    run,
    run_python,
    start,
    stop_leftovers,
)
from support.rundirs import (
    events_in_stats,
    only_run_dir,
    read_log,
    run_dirs,
    stats_rows,
    summary,
    wait_for_run_dir,
)
from support.shm import child_runs_leave_nothing, no_new_segments
from support.waiting import poll_until, wait_until

__all__ = [
    "HEADLESS",
    "child_env",
    "child_runs_leave_nothing",
    "communicate",
    "events_in_stats",
    "finish",
    "mimocorb_command",
    "no_new_segments",
    "only_run_dir",
    "poll_until",
    "read_log",
    "run",
    "run_dirs",
    "run_python",
    "start",
    "stats_rows",
    "stop_leftovers",
    "summary",
    "wait_for_run_dir",
    "wait_until",
]
