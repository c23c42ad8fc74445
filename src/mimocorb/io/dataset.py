"""The recommended recorder: one Parquet dataset per buffer and run, made of crash-safe part files.

``<directory_prefix>/<filename>.parquet/`` is a directory of part files ``part-<seq>-<pid>.parquet``.
Events are collected in memory and written as one part every ``flush_events`` events or ``flush_seconds``
seconds (whichever comes first, and at the end). A part is written under a hidden temporary name and
renamed when its footer is on disk, so the directory only ever holds complete files: after a SIGKILL of
the recorder or of the whole run, everything older than the flush interval is readable, and pandas or
pyarrow can read the dataset even while the run is going on.

Columns: ``counter`` (int64), ``timestamp`` (float64, epoch s), ``deadtime`` (float64), then every
buffer field with its own type — a scalar column if the buffer has one value per slot, otherwise a
fixed-size list column of ``values_per_slot`` values (pandas shows it as one numpy array per row). The
Arrow schema's key-value metadata holds the buffer (``mimocorb.buffer``, ``mimocorb.dtype``,
``mimocorb.values_per_slot``), the recorder's configuration and the run's setup and config files
(``mimocorb.setup``, a JSON mapping of file name to text).

A write that fails (disk full, directory gone, permissions) raises, so the run reports the failed worker
and ends in order; the manifest records the error and the number of events taken from the buffer but
not written (``unwritten``): nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .._version_info import __version__
from ..ring import METADATA_DTYPE, Reader, RingTimeout, until_end
from ._common import ExporterArgs
from ._guard import TerminationGuard
from .manifest import Manifest

DEFAULT_FLUSH_SECONDS = 5.0
DEFAULT_COMPRESSION = "lz4"  # the cheapest on CPU; zstd makes files about 20 % smaller
BATCH_BYTES = 64 * 2**20  # default flush_events keeps the in-memory batch near this size
MAX_FLUSH_EVENTS = 100_000
COMPRESSIONS = ("none", "snappy", "gzip", "brotli", "lz4", "zstd")
CONFIG_KEYS = (
    "filename",
    "flush_events",
    "flush_seconds",
    "compression",
    "compression_level",
    "byte_stream_split",
)


def default_flush_events(event_bytes: int) -> int:
    return int(max(1, min(MAX_FLUSH_EVENTS, BATCH_BYTES // max(1, event_bytes))))


class ParquetRecorder:
    """Records every event of one buffer into ``<directory_prefix>/<filename>.parquet/``.

    Config keys (all optional): ``filename`` (default: the buffer's name, e.g. ``RB_2``),
    ``flush_events`` (events per part; default: about 64 MB of data, at most 100000),
    ``flush_seconds`` (at most this long between parts while events come; default 5),
    ``compression`` (``lz4`` default, ``zstd``, ``snappy``, ``gzip``, ``brotli``, ``none``),
    ``compression_level``, ``byte_stream_split`` (true by default: floating-point columns are
    stored byte-plane by byte-plane, which compresses waveforms better and faster; a standard Parquet
    encoding). Other keys of the function's config are ignored (it may be shared).
    """

    def __init__(
        self, source_list: list[dict] | None = None, config_dict: dict | None = None, **rb_info: Any
    ) -> None:
        args = ExporterArgs("ParquetRecorder", source_list, config_dict, rb_info, need_config=False)
        self.logger = args.logger
        self._names = args.field_names()
        self._dtype = args.dtype
        self._vps = args.values_per_slot
        cfg = args.config
        self.flush_events = _positive(
            cfg, "flush_events", default_flush_events(self._vps * args.dtype.itemsize)
        )
        self.flush_seconds = float(_positive(cfg, "flush_seconds", DEFAULT_FLUSH_SECONDS, kind=float))
        self.compression = _compression(cfg.get("compression", DEFAULT_COMPRESSION))
        self.compression_level = cfg.get("compression_level")
        name = args.filename(default=args.label)
        args.check_directory()
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa, self._pq = pa, pq
        self.path = Path(args.output_path(name + ".parquet"))
        self.path.mkdir(exist_ok=True)
        self._schema = self._make_schema(args, cfg)
        # two batches: one is filled from the ring while the part writer thread compresses the other
        self._batches = [_Batch(self.flush_events, self._vps, self._dtype) for _ in range(2)]
        self._batch = self._batches[0]
        self._split = self._float_columns() if _flag(cfg, "byte_stream_split", True) else False
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-part")
        self._pending: Future | None = None
        self._seq = 0
        self.taken = 0  # events taken from the ring
        self.events = 0  # events in complete part files
        self.parts: list[dict[str, Any]] = []
        self._closed = False
        self._due = 0.0  # when the part being collected must be written (time.monotonic)
        self._manifest = Manifest(args.directory or ".", self.path.name, "parquet", args.label)
        self._manifest.update(parts=self.parts)
        self._guard = TerminationGuard(self.close)
        self.source = Reader(args.setup)

    # -- schema ---------------------------------------------------------------------------------

    def _make_schema(self, args: ExporterArgs, cfg: Mapping[str, Any]) -> Any:
        pa = self._pa
        fields = [pa.field(n, pa.from_numpy_dtype(np.dtype(t))) for n, t in METADATA_DTYPE]
        for name in self._names:
            kind = pa.from_numpy_dtype(self._dtype[name])
            fields.append(pa.field(name, kind if self._vps == 1 else pa.list_(kind, self._vps)))
        metadata = {
            "mimocorb.version": __version__,
            "mimocorb.buffer": args.label,
            "mimocorb.dtype": json.dumps([[n, self._dtype[n].str] for n in self._names]),
            "mimocorb.values_per_slot": str(self._vps),
            "mimocorb.config": json.dumps(
                {k: v for k, v in cfg.items() if k in CONFIG_KEYS or k == "directory_prefix"}, default=str
            ),
            "mimocorb.setup": json.dumps(_run_files(args.directory or ".")),
        }
        return pa.schema(fields, metadata=metadata)

    def _float_columns(self) -> list[str]:
        """Column paths of the floating-point data: the encoding is old and widely read for floats only."""
        paths = ["timestamp", "deadtime"]
        for name in self._names:
            if self._dtype[name].kind == "f":
                paths.append(name if self._vps == 1 else f"{name}.list.element")
        return paths

    # -- recording ------------------------------------------------------------------------------

    def __call__(self) -> None:
        """Record until the buffer shuts down; the last part is written in every case."""
        reader = self.source
        metadata = reader.get_metadata
        self._guard.install()
        self._due = time.monotonic() + self.flush_seconds
        try:
            for data in until_end(self._next_event):
                batch = self._batch
                if data is not None:
                    n = batch.n
                    for name, column in batch.columns:
                        column[n] = data[name]
                    batch.meta[n] = metadata()
                    batch.n = n + 1
                    self.taken += 1
                    if n == 0:
                        self._due = time.monotonic() + self.flush_seconds
                if batch.n >= self.flush_events or (batch.n and time.monotonic() >= self._due):
                    reader.release()  # the writer of RB may go on while we hand over the batch
                    with self._guard.busy():
                        self._flush()
        except BaseException as exc:
            self._fail(exc)
            raise
        finally:
            with self._guard.busy():
                self.close()
            self._guard.uninstall()

    def _flush(self) -> None:
        """Hand the collected events to the part writer and go on filling the other batch.

        Waits for the previous part first, so at most two batches exist and a failed write is raised
        here, in the recording loop, at the latest one flush interval after it happened.
        """
        batch = self._batch
        if batch.n == 0:
            return
        self._wait_for_part()
        self._pending = self._writer.submit(self._write_part, batch, self._seq)
        self._seq += 1
        self._batch = self._batches[1] if batch is self._batches[0] else self._batches[0]

    def _wait_for_part(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def table(self, batch: _Batch) -> Any:
        """The events of ``batch`` as an Arrow table of the recorder's schema."""
        pa, n = self._pa, batch.n
        meta = batch.meta[:n]
        columns = [pa.array(meta[name]) for name, _ in METADATA_DTYPE]
        for _, column in batch.columns:
            values = column[:n]
            if self._vps == 1:
                columns.append(pa.array(values.reshape(n)))
            else:
                columns.append(pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), self._vps))
        return pa.Table.from_arrays(columns, schema=self._schema)

    def _write_part(self, batch: _Batch, seq: int) -> None:
        """In the part writer thread: one complete part file, made visible by an atomic rename."""
        n = batch.n
        name = f"part-{seq:05d}-{os.getpid()}.parquet"
        tmp = self.path / f".{name}.tmp"
        try:
            self._pq.write_table(
                self.table(batch),
                tmp,
                compression=self.compression,
                compression_level=self.compression_level,
                use_dictionary=False,
                use_byte_stream_split=self._split,
                write_statistics=[m for m, _ in METADATA_DTYPE],
                row_group_size=n,
            )
            os.replace(tmp, self.path / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        counters = batch.meta["counter"][:n]
        batch.n = 0
        self.events += n
        self.parts.append(
            {"file": name, "events": n, "first_counter": int(counters[0]), "last_counter": int(counters[-1])}
        )
        self._manifest.update(events=self.events, parts=self.parts)

    def _next_event(self) -> np.ndarray | None:
        """The next event, or None when the part being collected is due before one came."""
        wait = max(0.0, self._due - time.monotonic()) if self._batch.n else None
        try:
            return self.source.get(timeout=wait)
        except RingTimeout:
            return None

    def _fail(self, exc: BaseException) -> None:
        """Say in the manifest how many events were not written, before the exception ends the worker."""
        self._closed = True
        with contextlib.suppress(BaseException):  # the error being reported may be this very part's
            self._wait_for_part()
        self._writer.shutdown(wait=True)
        unwritten = self.taken - self.events
        if unwritten:
            self.logger.error(
                "ParquetRecorder: %d events of %s were not written: %s", unwritten, self.path, exc
            )
        self._manifest.update(
            events=self.events, parts=self.parts, error=f"{type(exc).__name__}: {exc}", unwritten=unwritten
        )

    def close(self) -> None:
        """Write the collected events as the last part and wait for it; idempotent (SIGTERM, end)."""
        if self._closed:
            return
        try:
            self._flush()
            self._wait_for_part()
        except BaseException as exc:
            self._fail(exc)
            raise
        self._closed = True
        self._writer.shutdown(wait=True)
        self._manifest.update(events=self.events, parts=self.parts, complete=True)


class _Batch:
    """Events collected for one part, already in the column layout of the file.

    Each field of a slot is copied straight into its own contiguous array (one pass over the slot; a
    copy of the whole slot plus a later split into columns costs three times as much), and the arrays are
    reused for every part (fresh ones would cost page faults on every first touch).
    """

    def __init__(self, size: int, values_per_slot: int, dtype: np.dtype) -> None:
        names = dtype.names or ()
        self.columns = [(n, np.zeros((size, values_per_slot), dtype[n])) for n in names]
        self.meta = np.zeros(size, dtype=METADATA_DTYPE)
        self.n = 0


def record_parquet(
    source_list: list[dict] | None = None,
    sink_list: list[dict] | None = None,
    observe_list: list[dict] | None = None,
    config_dict: dict | None = None,
    **rb_info: Any,
) -> None:
    """A worker function recording its 'read' buffer; import it into a setup's module to use it.

    Named in a setup (``fkt_name: record_parquet`` in a module that imports it) with its buffer marked
    ``read``; the file goes to ``<run directory>/<filename>.parquet/``.

    Args:
        source_list: the setup dicts of the 'read' buffers; the first one is recorded.
        sink_list: not used.
        observe_list: not used.
        config_dict: the keys of ``ParquetRecorder``, all optional, plus ``directory_prefix``.
        rb_info: the ``RB_assign`` entries, by buffer name.

    Returns:
        ``None``, after the end of the run, when the last part is on disk.

    Raises:
        ValueError: a config key has an unusable value, or the function has no 'read' buffer.

    Example:
        ``modules/save.py`` holds ``from mimocorb.io import record_parquet``; the setup says::

            - Fkt_3: {file_name: modules/save, fkt_name: record_parquet, num_process: 1,
                      RB_assign: {RB_2: read}}
    """
    ParquetRecorder(source_list, config_dict, **rb_info)()


def check_recorder_config(cfg: Mapping[str, Any]) -> None:
    """The recorder's config keys, checked by ``mimocorb validate`` before anything starts (ValueError)."""
    if "flush_events" in cfg:
        _positive(cfg, "flush_events", 1)
    _positive(cfg, "flush_seconds", DEFAULT_FLUSH_SECONDS, kind=float)
    _compression(cfg.get("compression", DEFAULT_COMPRESSION))
    _flag(cfg, "byte_stream_split", True)


record_parquet.check_config = check_recorder_config  # type: ignore[attr-defined]


def _positive(cfg: Mapping[str, Any], key: str, default: Any, kind: type = int) -> Any:
    value = cfg.get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if not ok or (kind is int and int(value) != value):
        what = "a positive integer" if kind is int else "a positive number"
        raise ValueError(f"ParquetRecorder: config key '{key}' must be {what}, got {value!r}")
    return kind(value)


def _flag(cfg: Mapping[str, Any], key: str, default: bool) -> bool:
    value = cfg.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"ParquetRecorder: config key '{key}' must be true or false, got {value!r}")
    return value


def _compression(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in COMPRESSIONS:
        raise ValueError(
            f"ParquetRecorder: config key 'compression' must be one of {', '.join(COMPRESSIONS)}, "
            f"got {value!r}"
        )
    return value.lower()


def _run_files(directory: str) -> dict[str, str]:
    """The setup and config files the run copied into its directory (YAML files, small)."""
    files: dict[str, str] = {}
    for path in sorted(Path(directory).glob("*.y*ml")):
        try:
            files[path.name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return files
