"""The run's side of the history (``mimocorb.history``): every sample of the run's variables goes into
``history.sqlite`` of the output directory, as the setup's ``history`` block says.

The history is a record, not a part of the data taking: a database that cannot be opened or written is
reported and the run goes on without it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

from ..history import HistorySettings, HistoryWriter
from .variables import VariableSample


class Historian:
    """Writes the samples of one run (a consumer of the Sampler); ``close`` at the end of the run."""

    def __init__(self, writer: HistoryWriter, note: Callable[[str, int], None]) -> None:
        self.writer: HistoryWriter | None = writer
        self.note = note

    @classmethod
    def open(
        cls, settings: HistorySettings, run_dir: Path, setup_name: str, note: Callable[[str, int], None]
    ) -> Historian | None:
        """The historian of a run in ``run_dir`` (its parent is the output directory), or None if the
        setup turned the history off or the database cannot be opened (then it says why)."""
        if not settings.enabled:
            return None
        try:
            writer = HistoryWriter(run_dir.parent, settings, run_dir.name, setup_name)
        except (sqlite3.Error, OSError) as exc:
            note(f"WARNING: no history for this run: {run_dir.parent / 'history.sqlite'}: {exc}", 0)
            return None
        return cls(writer, note)

    def __call__(self, sample: VariableSample) -> None:
        if self.writer is None:
            return
        try:
            self.writer.record(sample.time, sample.state, sample.values)
        except (sqlite3.Error, OSError) as exc:  # a full disk, a damaged file: the run goes on without
            self.note(f"WARNING: the history stops for this run: {exc}", 0)
            self._drop()

    def close(self) -> None:
        if self.writer is None:
            return
        try:
            self.writer.close()
        except (sqlite3.Error, OSError) as exc:
            self.note(f"WARNING: the history lost the run's last samples: {exc}", 0)
            self._drop()

    def _drop(self) -> None:
        writer, self.writer = self.writer, None
        with contextlib.suppress(sqlite3.Error):
            if writer is not None:
                writer.db.close()
