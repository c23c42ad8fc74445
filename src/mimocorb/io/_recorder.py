"""What the column recorders share (Parquet, ROOT, HDF5): reading the ring into batches that a second
thread writes, ending parts, and saying in the manifest what is on disk.

Events are copied field by field into the column layout every one of these formats stores, and a batch
is handed to a writer thread every ``flush_events`` events or ``flush_seconds`` seconds, so that reading
from the ring never waits for compression or the disk. A format is a ``PartWriter``: it appends a batch
to its current file (or writes a file per batch) and finishes a file when the batch ends a part.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .._version_info import __version__
from ..ring import METADATA_DTYPE, Reader, RingTimeout, until_end
from ._common import ExporterArgs
from ._guard import TerminationGuard
from .manifest import Manifest
from .parts import NO_ROLLOVER, PartLog, PartNames, Rollover, check_rollover_config

DEFAULT_FLUSH_SECONDS = 5.0
BATCH_BYTES = 64 * 2**20  # default flush_events keeps the in-memory batch near this size
MAX_FLUSH_EVENTS = 100_000
META_NAMES = tuple(name for name, _ in METADATA_DTYPE)
RECORDER_KEYS = ("filename", "flush_events", "flush_seconds")  # the config keys every recorder reads


def default_flush_events(event_bytes: int, batch_bytes: int = BATCH_BYTES) -> int:
    return int(max(1, min(MAX_FLUSH_EVENTS, batch_bytes // max(1, event_bytes))))


class Layout:
    """What a recording holds: the fields with their types, values per event, and its metadata.

    ``metadata`` is the same set of texts in every format (``mimocorb.version``, ``mimocorb.buffer``,
    ``mimocorb.dtype``, ``mimocorb.values_per_slot``, ``mimocorb.config``, ``mimocorb.setup``), so that a
    file explains itself and a conversion keeps it.
    """

    def __init__(
        self, fields: Sequence[tuple[str, np.dtype]], values_per_slot: int, metadata: dict[str, str]
    ):
        self.fields = [(name, np.dtype(kind)) for name, kind in fields]
        self.values_per_slot = values_per_slot
        self.metadata = metadata

    @classmethod
    def of_buffer(cls, args: ExporterArgs, config_keys: Sequence[str]) -> Layout:
        names = args.field_names()
        cfg = {k: v for k, v in args.config.items() if k in config_keys or k == "directory_prefix"}
        metadata = {
            "mimocorb.version": __version__,
            "mimocorb.buffer": args.label,
            "mimocorb.dtype": json.dumps([[n, args.dtype[n].str] for n in names]),
            "mimocorb.values_per_slot": str(args.values_per_slot),
            "mimocorb.config": json.dumps(cfg, default=str),
            "mimocorb.setup": json.dumps(run_files(args.directory or ".")),
        }
        return cls([(n, args.dtype[n]) for n in names], args.values_per_slot, metadata)

    @property
    def buffer(self) -> str:
        return self.metadata.get("mimocorb.buffer", "events")

    @property
    def event_bytes(self) -> int:
        return self.values_per_slot * sum(kind.itemsize for _, kind in self.fields)


class Batch:
    """Events collected for one write, already in the column layout of the files.

    Each field of a waveform slot is copied straight into its own contiguous array (one pass over the slot;
    a copy of the whole slot plus a later split into columns costs three times as much). A record of one
    value per field is copied whole into ``rows``, whose fields are the columns: one copy instead of one per
    field, a third of the time per event. The arrays are reused for every write (fresh ones would cost
    page faults on every first touch).
    """

    def __init__(self, size: int, layout: Layout) -> None:
        vps = layout.values_per_slot
        self.rows: np.ndarray | None = None
        if vps == 1:
            self.rows = np.zeros(size, dtype=[(n, kind) for n, kind in layout.fields])
            self.columns = [(n, self.rows[n].reshape(size, 1)) for n, _ in layout.fields]
        else:
            self.columns = [(n, np.zeros((size, vps), kind)) for n, kind in layout.fields]
        self.meta = np.zeros(size, dtype=METADATA_DTYPE)
        self.n = 0
        self.ends_part = False

    @classmethod
    def of_arrays(cls, meta: np.ndarray, columns: list[tuple[str, np.ndarray]]) -> Batch:
        """A batch over arrays read from a file (for conversions): no copy."""
        batch = cls.__new__(cls)
        batch.meta, batch.columns, batch.n, batch.ends_part = meta, columns, len(meta), False
        batch.rows = None
        return batch

    def counters(self) -> tuple[int, int]:
        return int(self.meta["counter"][0]), int(self.meta["counter"][self.n - 1])


class PartWriter:
    """One format's files: ``write`` appends a batch (in the writer thread), ``close`` ends the file."""

    one_file_per_batch = False  # every batch a complete file of its own (then flushes are the parts)

    def __init__(self, log: PartLog) -> None:
        self.log = log

    def write(self, batch: Batch) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the current file, if any; idempotent."""


class PartFileWriter(PartWriter):
    """The formats that append batches to one open file per part (ROOT, HDF5).

    A format opens a file (``open``), appends columns to it (``append``) and finishes it (``finish``);
    the parts' names come from ``next_path`` and their events go to the log here.
    """

    def __init__(
        self, layout: Layout, next_path: Callable[[], Path], log: PartLog, cfg: Mapping[str, Any]
    ) -> None:
        super().__init__(log)
        self.layout = layout
        self.next_path = next_path
        self._path: Path | None = None
        self.configure(cfg)

    def configure(self, cfg: Mapping[str, Any]) -> None:
        """The format's library and settings, from the recorder's config (ValueError naming the key)."""

    def open(self, path: Path) -> None:
        raise NotImplementedError

    def append(self, columns: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def write(self, batch: Batch) -> None:
        if self._path is None:
            self._path = self.next_path()
            self.open(self._path)
        n = batch.n
        columns = {m: batch.meta[m][:n] for m in META_NAMES}
        for name, column in batch.columns:
            columns[name] = column[:n, 0] if self.layout.values_per_slot == 1 else column[:n]
        self.append(columns)
        self.log.add(self._path.name, n, *batch.counters())

    def close(self) -> None:
        if self._path is None:
            return
        self.finish()
        self._path = None
        self.log.close()


class Recorder:
    """Records every event of one buffer through a ``PartWriter`` until the buffer shuts down.

    Subclasses set ``owner``, ``fmt`` (the manifest's format name), ``extension``, ``config_keys``,
    ``rollover_defaults`` and ``writer_class`` (made with a callable giving each new part's path), and
    check their own keys in ``check``.
    """

    owner = "Recorder"
    fmt = ""
    extension = ""
    config_keys: tuple[str, ...] = ()
    rollover_defaults: Mapping[str, float | None] = NO_ROLLOVER
    writer_class: Any = None
    batch_bytes = BATCH_BYTES  # the default flush_events keeps a batch near this size

    def __init__(
        self, source_list: list[dict] | None = None, config_dict: dict | None = None, **rb_info: Any
    ) -> None:
        args = ExporterArgs(self.owner, source_list, config_dict, rb_info, need_config=False)
        self.logger = args.logger
        cfg = args.config
        self.layout = Layout.of_buffer(args, self.config_keys)
        event_bytes = self.layout.event_bytes
        default = default_flush_events(event_bytes, self.batch_bytes)
        self.flush_events = positive(self.owner, cfg, "flush_events", default)
        self.flush_seconds = positive(self.owner, cfg, "flush_seconds", DEFAULT_FLUSH_SECONDS, kind=float)
        self.rollover = Rollover.from_config(self.owner, cfg, event_bytes, self.rollover_defaults)
        self.check(cfg)
        name = args.filename(default=args.label) + self.extension
        args.check_directory()
        self.path = Path(args.output_path(name))
        manifest = Manifest(args.directory or ".", name, self.fmt, args.label)
        manifest.update(parts=[])
        self.log = PartLog(manifest)
        self.writer = self.make_writer(cfg)
        if self.writer.one_file_per_batch:  # each flush is a part: the rollover only bounds them
            self.flush_events = min(self.flush_events, self.rollover.events or self.flush_events)
            self.flush_seconds = min(self.flush_seconds, self.rollover.seconds or self.flush_seconds)
            self.rollover = Rollover()
        # two batches: one is filled from the ring while the writer thread writes the other
        self._batches = [Batch(self.flush_events, self.layout) for _ in range(2)]
        self._batch = self._batches[0]
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.fmt}-writer")
        self._pending: Future | None = None
        self._part_events = 0
        self._part_started = 0.0
        self.taken = 0  # events taken from the ring
        self._due = 0.0  # when the batch being collected must be written (time.monotonic)
        self._closed = False
        self._guard = TerminationGuard(self.close)
        self.source = Reader(args.setup)

    def check(self, cfg: Mapping[str, Any]) -> None:
        """The format's own config keys (ValueError naming the key)."""

    def make_writer(self, cfg: Mapping[str, Any]) -> PartWriter:
        return self.writer_class(self.layout, PartNames(self.path).claim, self.log, cfg)

    @property
    def events(self) -> int:
        """Events readable in the files."""
        return self.log.events

    @property
    def parts(self) -> list[dict[str, Any]]:
        return self.log.parts

    def _limit(self) -> int:
        """Events of the next batch: a batch never spans two parts."""
        if self.rollover.events is None:
            return self.flush_events
        return min(self.flush_events, self.rollover.events - self._part_events)

    def __call__(self) -> None:
        """Record until the buffer shuts down; the last events are written in every case."""
        reader = self.source
        metadata = reader.get_metadata
        self._guard.install()
        self._due = time.monotonic() + self.flush_seconds
        limit = self._limit()
        try:
            for data in until_end(self._next_event):
                batch = self._batch
                if data is not None:
                    n = batch.n
                    if batch.rows is not None:
                        batch.rows[n] = data[0]
                    else:
                        for name, column in batch.columns:
                            column[n] = data[name]
                    batch.meta[n] = metadata()
                    batch.n = n + 1
                    self.taken += 1
                    if n == 0:
                        self._due = time.monotonic() + self.flush_seconds
                if batch.n >= limit or (batch.n and time.monotonic() >= self._due):
                    reader.release()  # the writer of RB may go on while we hand over the batch
                    with self._guard.busy():
                        self._flush()
                    limit = self._limit()
        except BaseException as exc:
            self._fail(exc)
            raise
        finally:
            with self._guard.busy():
                self.close()
            self._guard.uninstall()

    def _next_event(self) -> np.ndarray | None:
        """The next event, or None when the batch being collected is due before one came."""
        wait = max(0.0, self._due - time.monotonic()) if self._batch.n else None
        try:
            return self.source.get(timeout=wait)
        except RingTimeout:
            return None

    def _flush(self) -> None:
        """Hand the collected events to the writer thread and go on filling the other batch.

        Waits for the previous write first, so at most two batches exist and a failed write is raised
        here, in the recording loop, at the latest one flush interval after it happened.
        """
        batch = self._batch
        if batch.n == 0:
            return
        if self._part_events == 0:
            self._part_started = time.monotonic()
        self._part_events += batch.n
        batch.ends_part = self.rollover.due(self._part_events, self._part_started)
        if batch.ends_part:
            self._part_events = 0
        self._wait_for_write()
        self._pending = self._thread.submit(self._write, batch)
        self._batch = self._batches[1] if batch is self._batches[0] else self._batches[0]

    def _write(self, batch: Batch) -> None:
        """In the writer thread."""
        self.writer.write(batch)
        if batch.ends_part:
            self.writer.close()
        batch.n = 0

    def _wait_for_write(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _fail(self, exc: BaseException) -> None:
        """Say in the manifest how many events were not written, before the exception ends the worker."""
        self._closed = True
        with contextlib.suppress(BaseException):  # the error being reported may be this very write's
            self._wait_for_write()
        self._thread.shutdown(wait=True)
        with contextlib.suppress(BaseException):  # keep what the file holds readable, if it still can be
            self.writer.close()
        unwritten = self.taken - self.events
        if unwritten:
            self.logger.error(
                "%s: %d events of %s were not written: %s", self.owner, unwritten, self.path, exc
            )
        self.log.save(error=f"{type(exc).__name__}: {exc}", unwritten=unwritten)

    def close(self) -> None:
        """Write the collected events, finish the file and wait for it; idempotent (SIGTERM, end)."""
        if self._closed:
            return
        try:
            self._flush()
            self._wait_for_write()
            self.writer.close()
        except BaseException as exc:
            self._fail(exc)
            raise
        self._closed = True
        self._thread.shutdown(wait=True)
        self.log.save(complete=True)


def recorder_config_check(owner: str, extra: Any = None) -> Any:
    """A ``check_config`` for ``mimocorb validate``: the keys every recorder has, then ``extra``'s.

    ``extra(cfg, fields)`` gets the field names of the recorded buffer, when validation knows them.
    """

    def check(cfg: Mapping[str, Any], buffers: Mapping[str, Sequence[np.dtype]] | None = None) -> None:
        if "flush_events" in cfg:
            positive(owner, cfg, "flush_events", 1)
        positive(owner, cfg, "flush_seconds", DEFAULT_FLUSH_SECONDS, kind=float)
        check_rollover_config(owner, cfg)
        if extra is not None:
            read = (buffers or {}).get("read") or []
            extra(cfg, set(read[0].names or ()) if read else None)

    return check


def positive(owner: str, cfg: Mapping[str, Any], key: str, default: Any, kind: type = int) -> Any:
    value = cfg.get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if not ok or (kind is int and int(value) != value):
        what = "a positive integer" if kind is int else "a positive number"
        raise ValueError(f"{owner}: config key '{key}' must be {what}, got {value!r}")
    return kind(value)


def choice(owner: str, cfg: Mapping[str, Any], key: str, default: str, allowed: Sequence[str]) -> str:
    value = cfg.get(key, default)
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"{owner}: config key '{key}' must be one of {', '.join(allowed)}, got {value!r}")
    return value.lower()


def flag(owner: str, cfg: Mapping[str, Any], key: str, default: bool) -> bool:
    value = cfg.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{owner}: config key '{key}' must be true or false, got {value!r}")
    return value


def run_files(directory: str) -> dict[str, str]:
    """The setup and config files the run copied into its directory (YAML files, small)."""
    files: dict[str, str] = {}
    for path in sorted(Path(directory).glob("*.y*ml")):
        try:
            files[path.name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return files
