"""Replay: a source function that feeds recorded events back into a run (RB_1, normally).

In a module of the setup::

    from mimocorb.io import replay          # fkt_name: replay, RB_assign: {RB_1: write}

Config keys: ``path`` (required: a Parquet dataset directory or part file written by the recorder, a ROOT
or HDF5 file, a tar archive of ``rb_toParquetfile``, or a directory of such archives; the common name of
numbered parts, ``RB_1.root`` for ``RB_1_00000.root``, ..., replays them all; relative to the working
directory),
``timing`` (``full`` — as fast as the chain takes them, the default; ``recorded`` — the recorded time
differences, divided by ``speedup``; ``fixed`` — ``rate`` events per second; ``poisson`` — random
intervals with mean 1/``rate``), ``rate`` (Hz), ``speedup`` (default 1), ``metadata`` (``original``,
the default: the recorded counter, timestamp and deadtime; ``new``: stamped afresh as by any source).

Fields are matched by name: every field of the target buffer must exist in the recording (extra recorded
fields are ignored), and the recorded values per event must fit the buffer's ``values_per_slot``. The tar
format stores only the counter (in the member name): with ``metadata: original`` the events keep it and get
the replay time as timestamp and deadtime 0; ``timing: recorded`` needs timestamps, which the other
formats store. The source ends ("source exhausted") after the last event.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..workers.sources import rbImport
from .reading import Block, blocks, kind_of

TIMINGS = ("full", "recorded", "fixed", "poisson")
SLEEP_STEP = 0.2  # s: a long wait is cut into steps so that the end of the run is noticed
MAX_LATE = 0.5  # s: an event due longer ago than this (the run was paused) re-anchors the timing


class ReplayConfig:
    """The checked configuration of a replay source (errors name the key and what was expected)."""

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        path = cfg.get("path")
        if not isinstance(path, str) or not path:
            raise ValueError(
                "replay: config key 'path' is required (a recorded dataset, ROOT, HDF5 or tar file)"
            )
        self.path = Path(path).expanduser()
        self.kind = kind_of(self.path)  # FileNotFoundError / ValueError with the path
        if self.kind == "txt":
            raise ValueError(
                f"replay: {path!r} is a text file; replay reads Parquet datasets and tar archives"
            )
        self.timing = cfg.get("timing", "full")
        if self.timing not in TIMINGS:
            raise ValueError(
                f"replay: config key 'timing' must be one of {', '.join(TIMINGS)}, got {self.timing!r}"
            )
        self.rate = _number(cfg, "rate", None)
        if self.timing in ("fixed", "poisson") and self.rate is None:
            raise ValueError(
                f"replay: timing '{self.timing}' needs config key 'rate' (events per second, > 0)"
            )
        self.speedup = _number(cfg, "speedup", 1.0)
        self.metadata = cfg.get("metadata", "original")
        if self.metadata not in ("original", "new"):
            raise ValueError(
                f"replay: config key 'metadata' must be 'original' or 'new', got {self.metadata!r}"
            )
        if self.timing == "recorded" and self.kind == "tar":
            raise ValueError(
                f"replay: timing 'recorded' needs timestamps, which the tar format ({path!r}) "
                "does not store; "
                "use timing full, fixed or poisson"
            )


def _number(cfg: Mapping[str, Any], key: str, default: float | None) -> float | None:
    value = cfg.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"replay: config key '{key}' must be a positive number, got {value!r}")
    return float(value)


class _Pacer:
    """Waits until the next event is due; never busy, and gives up waiting when the run ends."""

    def __init__(self, config: ReplayConfig, active: Any) -> None:
        self.config, self.active = config, active
        self.t0: float | None = None
        self.ts0: float | None = None
        self.due = 0.0

    def wait(self, timestamp: float | None) -> bool:
        """False if the run ended while waiting."""
        c = self.config
        now = time.monotonic()
        if c.timing == "full":
            return True
        if self.t0 is None:
            self.t0, self.ts0, self.due = now, timestamp, now
            return True
        if c.timing == "recorded":
            assert timestamp is not None and self.ts0 is not None and c.speedup is not None
            self.due = self.t0 + (timestamp - self.ts0) / c.speedup
        elif c.timing == "fixed":
            assert c.rate is not None
            self.due += 1.0 / c.rate
        else:
            assert c.rate is not None
            self.due += random.expovariate(c.rate)
        late = now - self.due
        if late > MAX_LATE:  # after a pause or a stall: resume the pattern from now, no burst
            self.due += late
            self.t0 += late
        while (left := self.due - time.monotonic()) > 0:
            if not self.active.is_set():
                return False
            time.sleep(min(left, SLEEP_STEP))
        return True


class ReplaySource:
    """A source replaying a recording into its 'write' buffer (see the module docstring)."""

    def __init__(
        self, sink_list: list[dict] | None = None, config_dict: dict | None = None, **rb_info: Any
    ) -> None:
        self.config = ReplayConfig(config_dict or {})
        self._importer = rbImport(sink_list=sink_list, config_dict=config_dict, ufunc=self._events, **rb_info)
        self._names = self._importer.chnams
        self._vps = int(sink_list[0]["values_per_slot"]) if sink_list else 0
        self.logger = self._importer.logger
        self.replayed = 0

    def _events(self) -> Iterator[tuple[list[np.ndarray], Any]]:
        pacer = _Pacer(self.config, self._importer.sink.active)
        original = self.config.metadata == "original"
        for block in blocks(self.config.path):
            columns = self._columns(block)
            for i in range(len(block)):
                ts = None if block.timestamp is None else float(block.timestamp[i])
                if not pacer.wait(ts):
                    return
                meta = None
                if original:
                    meta = (
                        int(block.counter[i]),
                        ts if ts is not None else time.time(),
                        float(block.deadtime[i]) if block.deadtime is not None else 0.0,
                    )
                self.replayed += 1
                yield [c[i] for c in columns], meta

    def _columns(self, block: Block) -> list[np.ndarray]:
        missing = [n for n in self._names if n not in block.fields]
        if missing:
            raise ValueError(
                f"replay: the recording {str(self.config.path)!r} has no field(s) {missing} of the target "
                f"buffer (recorded fields: {sorted(block.fields)})"
            )
        columns = [block.fields[n] for n in self._names]
        for name, column in zip(self._names, columns, strict=True):
            if column.shape[1] not in (1, self._vps):
                raise ValueError(
                    f"replay: field {name!r} of {str(self.config.path)!r} has {column.shape[1]} values per "
                    "event, "
                    f"the target buffer {self._vps}"
                )
        return columns

    def __call__(self) -> None:
        self._importer()
        self.logger.info("replay: %d events replayed from %s", self.replayed, self.config.path)


def replay(
    source_list: list[dict] | None = None,
    sink_list: list[dict] | None = None,
    observe_list: list[dict] | None = None,
    config_dict: dict | None = None,
    **rb_info: Any,
) -> None:
    """Worker function: replay ``config_dict['path']`` into the 'write' buffer (module docstring).

    A source: it ends (and, as ``Fkt_1``, ends the run) when the recording is exhausted.

    Args:
        source_list: not used.
        sink_list: the setup dicts of the 'write' buffers; the first one is filled.
        observe_list: not used.
        config_dict: ``path`` (required: a dataset directory or part file of ``record_parquet``, a
            ROOT or HDF5 file or the common name of its parts, a tar archive of ``rb_toParquetfile`` or a
            directory of them), ``timing`` (``full``, ``recorded``,
            ``fixed``, ``poisson``), ``rate``, ``speedup`` and ``metadata`` (``original`` or ``new``).
        rb_info: the ``RB_assign`` entries, by buffer name.

    Raises:
        ValueError: a config key is missing or unusable, or a field of the buffer is not in the recording.
        FileNotFoundError: ``path`` does not exist.
    """
    ReplaySource(sink_list, config_dict, **rb_info)()


replay.check_config = ReplayConfig  # type: ignore[attr-defined]  # see mimocorb.config.validate
