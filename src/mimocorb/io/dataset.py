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

The rollover keys (``rollover_events``, ``rollover_mb``, ``rollover_minutes``; off by default) only
bound the parts further: every part is a complete file already.

A write that fails (disk full, directory gone, permissions) raises, so the run reports the failed worker
and ends in order; the manifest records the error and the number of events taken from the buffer but
not written (``unwritten``): nothing is dropped silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..ring import METADATA_DTYPE
from ._recorder import RECORDER_KEYS, Batch, Layout, PartWriter, Recorder, choice, flag, recorder_config_check
from .parts import ROLLOVER_KEYS, PartLog

DEFAULT_COMPRESSION = "lz4"  # the cheapest on CPU; zstd makes files about 20 % smaller
COMPRESSIONS = ("none", "snappy", "gzip", "brotli", "lz4", "zstd")
CONFIG_KEYS = (*RECORDER_KEYS, "compression", "compression_level", "byte_stream_split", *ROLLOVER_KEYS)
OWNER = "ParquetRecorder"


class ParquetRecorder(Recorder):
    """Records every event of one buffer into ``<directory_prefix>/<filename>.parquet/``.

    Config keys (all optional): ``filename`` (default: the buffer's name, e.g. ``RB_2``),
    ``flush_events`` (events per part; default: about 64 MB of data, at most 100000),
    ``flush_seconds`` (at most this long between parts while events come; default 5),
    ``compression`` (``lz4`` default, ``zstd``, ``snappy``, ``gzip``, ``brotli``, ``none``),
    ``compression_level``, ``byte_stream_split`` (true by default: floating-point columns are
    stored byte-plane by byte-plane, which compresses waveforms better and faster; a standard Parquet
    encoding), ``rollover_events``, ``rollover_mb``, ``rollover_minutes`` (off: parts are bounded by the
    flushes already). Other keys of the function's config are ignored (it may be shared).
    """

    owner = OWNER
    fmt = "parquet"
    extension = ".parquet"
    config_keys = CONFIG_KEYS

    def check(self, cfg: Mapping[str, Any]) -> None:
        _check_parquet(cfg)

    def make_writer(self, cfg: Mapping[str, Any]) -> PartWriter:
        return ParquetWriter(self.layout, self.path, self.log, cfg)


class ParquetWriter(PartWriter):
    """A dataset directory of part files, one per batch, each made visible by an atomic rename."""

    one_file_per_batch = True

    def __init__(self, layout: Layout, path: Path, log: PartLog, cfg: Mapping[str, Any]) -> None:
        super().__init__(log)
        self.compression = choice(OWNER, cfg, "compression", DEFAULT_COMPRESSION, COMPRESSIONS)
        self.compression_level = cfg.get("compression_level")
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa, self._pq = pa, pq
        self.layout = layout
        self.path = path
        self.path.mkdir(exist_ok=True)
        self.schema = self._make_schema()
        self._split = self._float_columns() if flag(OWNER, cfg, "byte_stream_split", True) else False
        self._seq = 0

    def _make_schema(self) -> Any:
        pa, vps = self._pa, self.layout.values_per_slot
        fields = [pa.field(n, pa.from_numpy_dtype(np.dtype(t))) for n, t in METADATA_DTYPE]
        for name, kind in self.layout.fields:
            arrow = pa.from_numpy_dtype(kind)
            fields.append(pa.field(name, arrow if vps == 1 else pa.list_(arrow, vps)))
        return pa.schema(fields, metadata=self.layout.metadata)

    def _float_columns(self) -> list[str]:
        """Column paths of the floating-point data: the encoding is old and widely read for floats only."""
        paths = ["timestamp", "deadtime"]
        for name, kind in self.layout.fields:
            if kind.kind == "f":
                paths.append(name if self.layout.values_per_slot == 1 else f"{name}.list.element")
        return paths

    def table(self, batch: Batch) -> Any:
        """The events of ``batch`` as an Arrow table of the recorder's schema."""
        pa, n, vps = self._pa, batch.n, self.layout.values_per_slot
        meta = batch.meta[:n]
        columns = [pa.array(meta[name]) for name, _ in METADATA_DTYPE]
        for _, column in batch.columns:
            values = column[:n]
            if vps == 1:
                columns.append(pa.array(values.reshape(n)))
            else:
                columns.append(pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), vps))
        return pa.Table.from_arrays(columns, schema=self.schema)

    def write(self, batch: Batch) -> None:
        """One complete part file, made visible by an atomic rename."""
        name = f"part-{self._seq:05d}-{os.getpid()}.parquet"
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
                row_group_size=batch.n,
            )
            os.replace(tmp, self.path / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._seq += 1
        self.log.add(name, batch.n, *batch.counters())
        self.log.close()


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


def _check_parquet(cfg: Mapping[str, Any], fields: set[str] | None = None) -> None:
    choice(OWNER, cfg, "compression", DEFAULT_COMPRESSION, COMPRESSIONS)
    flag(OWNER, cfg, "byte_stream_split", True)


check_recorder_config = recorder_config_check(OWNER, _check_parquet)
record_parquet.check_config = check_recorder_config  # type: ignore[attr-defined]
