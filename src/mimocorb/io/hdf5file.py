"""HDF5 files of a buffer's events, written with h5py: read by h5py, pandas, MATLAB, Julia and C alike.

``record_hdf5`` writes ``<directory_prefix>/<filename>_00000.h5``, ``_00001.h5``, ... (a new part after
``rollover_mb`` MB of event data or ``rollover_minutes`` minutes, 2000 MB and 60 minutes unless
configured). Each file has one group named after the buffer (``/RB_1``) holding one dataset per column:
``counter`` (int64), ``timestamp`` and ``deadtime`` (float64), then every buffer field with its own type,
of shape ``(events,)`` or ``(events, values_per_slot)``. All are chunked (about 1 MB per chunk),
resizable along the first axis and compressed (``compression``: ``lzf``, the default, fast and built
into h5py; ``gzip``, slower but read by every HDF5 installation; ``none``), with the byte shuffle
filter in front of the compression.

One dataset per field rather than one structured dataset: an analysis reads the channels it needs and
nothing else, a waveform field is a plain 2-D array that every tool slices, and each chunk holds values
of one type and kind, which compresses better.

The group's attributes hold the run's metadata (``mimocorb.version``, ``mimocorb.buffer``,
``mimocorb.dtype``, ``mimocorb.values_per_slot``, ``mimocorb.config``, ``mimocorb.setup``). The file is
written in SWMR mode (``swmr: true``, the default): after each batch of ``flush_events`` events or
``flush_seconds`` seconds the datasets are flushed in an order that keeps the file consistent, so a
reader may follow the running file (``h5py.File(path, "r", swmr=True)``) and a killed recorder leaves
everything up to the last flush readable: open such a file with ``swmr=True`` (or clear its in-use flag
with ``h5clear -s``); closed parts open as usual. ``counter`` grows last, so its length is the number of
events that every dataset holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require
from ..ring import METADATA_DTYPE
from ._recorder import RECORDER_KEYS, PartFileWriter, Recorder, choice, flag, recorder_config_check
from .parts import FILE_ROLLOVER, ROLLOVER_KEYS

OWNER = "record_hdf5"
COMPRESSIONS = ("lzf", "gzip", "none")
DEFAULT_COMPRESSION = "lzf"
CHUNK_BYTES = 2**20
CONFIG_KEYS = (
    *RECORDER_KEYS,
    "compression",
    "compression_level",
    "swmr",
    *ROLLOVER_KEYS,
)


def h5py_module() -> Any:
    return require("h5py", "hdf5", "HDF5 files")


class Hdf5Writer(PartFileWriter):
    """HDF5 files of one group each: a new file from ``next_path`` whenever the previous one is closed."""

    def configure(self, cfg: Mapping[str, Any]) -> None:
        self.h5py = h5py_module()
        name = choice(OWNER, cfg, "compression", DEFAULT_COMPRESSION, COMPRESSIONS)
        self.filters: dict[str, Any] = {}
        if name != "none":
            self.filters = {"compression": name, "shuffle": True}
            if name == "gzip":
                self.filters["compression_opts"] = int(cfg.get("compression_level", 1))
        self.swmr = flag(OWNER, cfg, "swmr", True)
        self._file: Any = None
        self._datasets: list[tuple[str, Any]] = []

    def open(self, path: Path) -> None:
        h5 = self.h5py.File(path, "w", libver="latest" if self.swmr else "earliest")
        group = h5.create_group(self.layout.buffer, track_order=True)  # columns in the buffer's order
        group.attrs.update(self.layout.metadata)
        vps = self.layout.values_per_slot
        columns: list[tuple[str, np.dtype, tuple[int, ...]]]
        columns = [(m, np.dtype(t), ()) for m, t in METADATA_DTYPE]
        columns += [(n, kind, () if vps == 1 else (vps,)) for n, kind in self.layout.fields]
        self._datasets = []
        for name, kind, shape in columns:
            rows = max(1, CHUNK_BYTES // (kind.itemsize * (shape[0] if shape else 1)))
            dataset = group.create_dataset(
                name,
                shape=(0, *shape),
                maxshape=(None, *shape),
                dtype=kind,
                chunks=(rows, *shape),
                **self.filters,
            )
            self._datasets.append((name, dataset))
        if self.swmr:
            h5.swmr_mode = True
        self._file = h5

    def append(self, columns: dict[str, np.ndarray]) -> None:
        n = len(columns["counter"])
        for name, dataset in reversed(self._datasets):  # counter last: its length counts whole events
            start = dataset.shape[0]
            dataset.resize(start + n, axis=0)
            dataset[start:] = columns[name]
            dataset.flush()
        if not self.swmr:
            self._file.flush()

    def finish(self) -> None:
        self._file.close()
        self._file = None


class Hdf5Recorder(Recorder):
    """Records every event of one buffer into HDF5 files (see the module docstring for the keys)."""

    owner = OWNER
    fmt = "hdf5"
    extension = ".h5"
    config_keys = CONFIG_KEYS
    rollover_defaults = FILE_ROLLOVER
    writer_class = Hdf5Writer

    def check(self, cfg: Mapping[str, Any]) -> None:
        _check_hdf5(cfg)


def _check_hdf5(cfg: Mapping[str, Any], fields: set[str] | None = None) -> None:
    choice(OWNER, cfg, "compression", DEFAULT_COMPRESSION, COMPRESSIONS)
    flag(OWNER, cfg, "swmr", True)
    level = cfg.get("compression_level", 1)
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 9:
        raise ValueError(f"{OWNER}: config key 'compression_level' must be 0 ... 9 (gzip), got {level!r}")


def record_hdf5(
    source_list: list[dict] | None = None,
    sink_list: list[dict] | None = None,
    observe_list: list[dict] | None = None,
    config_dict: dict | None = None,
    **rb_info: Any,
) -> None:
    """A worker function recording its 'read' buffer into HDF5 files (module docstring).

    Args:
        source_list: the setup dicts of the 'read' buffers; the first one is recorded.
        sink_list: not used.
        observe_list: not used.
        config_dict: all optional: ``filename`` (default: the buffer's name), ``compression`` (``lzf``,
            ``gzip``, ``none``), ``compression_level`` (gzip, 1), ``swmr`` (true), ``flush_events``,
            ``flush_seconds`` (5), ``rollover_events``, ``rollover_mb`` (2000), ``rollover_minutes`` (60).
        rb_info: the ``RB_assign`` entries, by buffer name.

    Raises:
        ValueError: a config key has an unusable value, or the function has no 'read' buffer.
        mimocorb._optional.MissingDependency: h5py is not installed (the ``hdf5`` extra).
    """
    Hdf5Recorder(source_list, config_dict, **rb_info)()


record_hdf5.check_config = recorder_config_check(OWNER, _check_hdf5)  # type: ignore[attr-defined]


# -- reading -------------------------------------------------------------------------------------


def open_hdf5(path: Path) -> Any:
    """The file for reading; a file whose writer was killed in SWMR mode opens in SWMR mode."""
    h5py = h5py_module()
    try:
        return h5py.File(path, "r")
    except OSError:
        return h5py.File(path, "r", swmr=True)


def hdf5_group(file: Any, path: Path) -> Any:
    groups = [g for g in file.values() if "counter" in g]
    if not groups:
        raise ValueError(f"{str(path)!r} holds no group of a recorded buffer (with a 'counter' dataset)")
    return groups[0]


def hdf5_metadata(path: Path) -> dict[str, str]:
    with open_hdf5(path) as file:
        return {k: str(v) for k, v in hdf5_group(file, path).attrs.items() if k.startswith("mimocorb.")}


def hdf5_arrays(path: Path, step: int = 4096) -> Iterator[dict[str, np.ndarray]]:
    """The group's columns, ``step`` events at a time, up to the shortest column (the last flush)."""
    with open_hdf5(path) as file:
        group = hdf5_group(file, path)
        datasets = {name: group[name] for name in group}
        events = min(d.shape[0] for d in datasets.values())
        for start in range(0, events, step):
            stop = min(start + step, events)
            yield {name: d[start:stop] for name, d in datasets.items()}
