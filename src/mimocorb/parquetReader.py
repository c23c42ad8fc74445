"""``mimocorb.parquetReader``: events of ``rb_toParquetfile`` archives for a user source.

``parquetReader(config_dict)`` with ``path`` (a directory holding archives ending in .tar, .gz, .tgz or
.bz2, or one archive), ``number_of_samples`` (required, unused), ``sleeptime`` (s, default 0.1) and
``random`` (exponentially distributed sleeps of mean ``sleeptime`` instead of fixed ones). After
``init(number_of_channels, number_of_values, channel_names)``, each call sleeps and returns the next
event as a list of numpy arrays, one per channel name, or ``None`` once every archive is exhausted.

Differences to mimoCoRB 1.0.2 (see docs/compatibility.md): archives are read in sorted name order, a
directory without archives raises ``FileNotFoundError`` naming it (instead of a bare ``StopIteration``),
directories and other non-file members are skipped, and a missing column raises a ``KeyError`` naming the
member and its columns.
For replaying recordings into a run without writing a generator, see ``mimocorb.io.replay``.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .io.tarparquet import archives_in, iter_archive

__all__ = ["parquetReader"]


class parquetReader:
    """Events of the tar archives of Parquet files that ``rb_toParquetfile`` writes, one per call.

    A user source calls it in its generator, as with mimoCoRB 1.0.2; ``mimocorb.io.replay`` does the
    same without code.

    Args:
        config_dict: ``path`` (required: a directory of archives ending in .tar, .gz, .tgz or .bz2, or
            one archive), ``number_of_samples`` (required, not used), ``sleeptime`` (s between events,
            default 0.1) and ``random`` (exponential waits of mean ``sleeptime`` instead of fixed ones).

    Raises:
        KeyError: ``path`` or ``number_of_samples`` is missing.
        FileNotFoundError: ``path`` holds no archive.

    Example:
        ::

            reader = parquetReader({"path": "target/run/simulated_data.tar", "number_of_samples": 4250,
                                    "sleeptime": 0})
            reader.init(channel_names=["chA", "chB"])
            while (event := reader()) is not None:
                ...   # event: [chA array, chB array]
    """

    def __init__(self, config_dict: Mapping[str, Any]) -> None:
        for key in ("path", "number_of_samples"):
            if key not in config_dict:
                raise KeyError(f"parquetReader: config key '{key}' is required")
        self.path = config_dict["path"]
        self.number_of_samples = config_dict["number_of_samples"]
        self.sleeptime = float(config_dict.get("sleeptime", 0.10))
        self.random = bool(config_dict.get("random", False))
        self.archives = archives_in(self.path)  # FileNotFoundError naming the path if there is none
        self._members = self._all_members()
        self._next = self._first_member()
        self.number_of_channels: int | None = None
        self.number_of_values: int | None = None
        self.channel_names: list[str] | None = None

    def _all_members(self) -> Iterator[tuple[str, Any]]:
        for archive in self.archives:
            yield from iter_archive(archive)

    def _first_member(self) -> tuple[str, Any] | None:
        """The first archive is opened here, as in the original, so a broken one fails before the run."""
        return next(self._members, None)

    def init(
        self,
        number_of_channels: int | None = None,
        number_of_values: int | None = None,
        channel_names: list[str] | None = None,
    ) -> None:
        """Choose the columns to return: ``channel_names`` (default: every column of each member).

        ``number_of_channels`` and ``number_of_values`` are kept as attributes, as in mimoCoRB 1.0.2.
        """
        self.number_of_channels = number_of_channels
        self.number_of_values = number_of_values
        self.channel_names = list(channel_names) if channel_names is not None else None

    def __call__(self) -> list[np.ndarray] | None:
        """Wait ``sleeptime``, then return the next event as one array per channel, ``None`` at the end.

        Raises:
            KeyError: a member lacks one of the chosen columns (the message names it and its columns).
        """
        time.sleep(
            _random.expovariate(1.0 / self.sleeptime)
            if self.random and self.sleeptime > 0
            else self.sleeptime
        )
        item, self._next = self._next, None
        if item is None:
            item = next(self._members, None)
        if item is None:
            return None
        name, table = item
        names = self.channel_names if self.channel_names is not None else table.column_names
        missing = [n for n in names if n not in table.column_names]
        if missing:
            raise KeyError(
                f"parquetReader: member {name} has no column(s) {missing}; columns: {table.column_names}"
            )
        return [table.column(n).to_numpy() for n in names]
