"""ROOT files of a buffer's events, written with uproot: the format most particle physicists analyse.

``record_root`` writes ``<directory_prefix>/<filename>_00000.root``, ``_00001.root``, ... (a new part
after ``rollover_mb`` MB of event data or ``rollover_minutes`` minutes, 2000 MB and 60 minutes unless
configured): each a complete ROOT file with a TTree (or, with ``format: rntuple``, an RNTuple) named
``tree`` (default ``events``) of one entry per event — branches ``counter`` (Long64_t), ``timestamp``
and ``deadtime`` (double), then one per buffer field of its own type, a fixed-size array branch
(``ch1[4250]/F``) if the buffer has several values per slot. The events are collected and written in
baskets of ``flush_events`` events or ``flush_seconds`` seconds; uproot completes the file's directory
after every basket, so a killed recorder leaves every basket written before readable.

The directory ``mimocorb`` of every file holds the run's metadata as TObjStrings (``version``, ``buffer``,
``dtype``, ``values_per_slot``, ``config``, ``setup``: JSON of the setup and config files of the run) and,
when the part is closed, ``part`` (JSON: part number, events, counters, first and last time). With
``histograms: {amp: {bins: 100, range: [0, 500]}}`` each part also holds a TH1D ``h_amp`` of every value
of that field in the part (no under- or overflow bins), which ROOT's ``hadd`` adds up across parts.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require
from ._recorder import (
    META_NAMES,
    RECORDER_KEYS,
    PartFileWriter,
    Recorder,
    choice,
    positive,
    recorder_config_check,
)
from .parts import FILE_ROLLOVER, ROLLOVER_KEYS

OWNER = "record_root"
COMPRESSIONS = ("lz4", "zstd", "zlib", "lzma", "none")
DEFAULT_COMPRESSION = "lz4"  # the fastest to write; ROOT reads every one of them
FORMATS = ("ttree", "rntuple")
CONFIG_KEYS = (
    *RECORDER_KEYS,
    "compression",
    "compression_level",
    "format",
    "tree",
    "histograms",
    *ROLLOVER_KEYS,
)
META_DIR = "mimocorb"


def uproot_module() -> Any:
    return require("uproot", "root", "ROOT files")


class RootWriter(PartFileWriter):
    """ROOT files of one tree each: a new file from ``next_path`` whenever the previous one is closed."""

    def configure(self, cfg: Mapping[str, Any]) -> None:
        self.uproot = uproot_module()
        self.tree_name = str(cfg.get("tree", "events"))
        self.ntuple = choice(OWNER, cfg, "format", "ttree", FORMATS) == "rntuple"
        self.compression = _compression(self.uproot, cfg)
        self.histograms = _histogram_specs(cfg.get("histograms") or {}, {n for n, _ in self.layout.fields})
        self._file: Any = None
        self._tree: Any = None
        self._seq = -1
        self._counts: dict[str, np.ndarray] = {}
        self._times: list[float] = []

    def open(self, path: Path) -> None:
        self._seq += 1
        self._file = self.uproot.recreate(path, compression=self.compression)
        vps = self.layout.values_per_slot
        types: dict[str, Any] = {"counter": np.int64, "timestamp": np.float64, "deadtime": np.float64}
        for name, kind in self.layout.fields:
            types[name] = kind if vps == 1 else np.dtype((kind, (vps,)))
        if self.ntuple:
            self._tree = self._file.mkrntuple(self.tree_name, types)
        else:
            self._tree = self._file.mktree(self.tree_name, types, title=f"events of {self.layout.buffer}")
        for key, text in self.layout.metadata.items():
            self._file[f"{META_DIR}/{key.removeprefix('mimocorb.')}"] = text
        self._counts = {name: np.zeros(spec[0], np.float64) for name, spec in self.histograms.items()}
        self._times = []

    def append(self, columns: dict[str, np.ndarray]) -> None:
        self._tree.extend(columns)
        for name, (bins, low, high) in self.histograms.items():
            self._counts[name] += np.histogram(columns[name], bins=bins, range=(low, high))[0]
        self._times += [float(columns["timestamp"][0]), float(columns["timestamp"][-1])]

    def finish(self) -> None:
        """Histograms and the part's facts into the file, then the file is complete."""
        for name, (bins, low, high) in self.histograms.items():
            self._file[f"h_{name}"] = (self._counts[name], np.linspace(low, high, bins + 1))
        part = self.log.open or {}
        facts = {k: part.get(k) for k in ("events", "first_counter", "last_counter")}
        if self._times:
            facts.update(start=_iso(min(self._times)), end=_iso(max(self._times)))
        self._file[f"{META_DIR}/part"] = json.dumps({"part": self._seq, **facts})
        self._file.close()
        self._file = self._tree = None


class RootRecorder(Recorder):
    """Records every event of one buffer into ROOT files (see the module docstring for the keys)."""

    owner = OWNER
    fmt = "root"
    extension = ".root"
    config_keys = CONFIG_KEYS
    rollover_defaults = FILE_ROLLOVER
    writer_class = RootWriter
    batch_bytes = 16 * 2**20  # a few MB per branch: uproot writes them 1.5 x as fast as 16 MB

    def check(self, cfg: Mapping[str, Any]) -> None:
        _check_root(cfg, {name for name, _ in self.layout.fields})


def _compression(uproot: Any, cfg: Mapping[str, Any]) -> Any:
    name = choice(OWNER, cfg, "compression", DEFAULT_COMPRESSION, COMPRESSIONS)
    if name == "none":
        return None
    level = positive(OWNER, cfg, "compression_level", 1)
    return {"lz4": uproot.LZ4, "zstd": uproot.ZSTD, "zlib": uproot.ZLIB, "lzma": uproot.LZMA}[name](level)


def _histogram_specs(spec: Any, fields: set[str] | None) -> dict[str, tuple[int, float, float]]:
    """``{field: (bins, low, high)}`` from ``histograms: {field: {bins: N, range: [low, high]}}``."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"{OWNER}: config key 'histograms' must map field names to {{bins, range}}")
    names = fields | set(META_NAMES) if fields is not None else None
    specs = {}
    for name, h in spec.items():
        if names is not None and name not in names:
            raise ValueError(
                f"{OWNER}: histograms: the buffer has no field {name!r} (fields: {sorted(names)})"
            )
        try:
            bins, (low, high) = int(h["bins"]), (float(x) for x in h["range"])
        except (TypeError, KeyError, ValueError):
            raise ValueError(
                f"{OWNER}: histograms: {name!r} needs bins (a number) and range ([low, high]), got {h!r}"
            ) from None
        if bins < 1 or not high > low:
            raise ValueError(f"{OWNER}: histograms: {name!r} needs bins >= 1 and low < high, got {h!r}")
        specs[name] = (bins, low, high)
    return specs


def _check_root(cfg: Mapping[str, Any], fields: set[str] | None = None) -> None:
    choice(OWNER, cfg, "compression", DEFAULT_COMPRESSION, COMPRESSIONS)
    choice(OWNER, cfg, "format", "ttree", FORMATS)
    if "compression_level" in cfg:
        positive(OWNER, cfg, "compression_level", 1)
    _histogram_specs(cfg.get("histograms") or {}, fields)


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, tz=_dt.timezone.utc).isoformat(timespec="milliseconds")


def record_root(
    source_list: list[dict] | None = None,
    sink_list: list[dict] | None = None,
    observe_list: list[dict] | None = None,
    config_dict: dict | None = None,
    **rb_info: Any,
) -> None:
    """A worker function recording its 'read' buffer into ROOT files (module docstring).

    Args:
        source_list: the setup dicts of the 'read' buffers; the first one is recorded.
        sink_list: not used.
        observe_list: not used.
        config_dict: all optional: ``filename`` (default: the buffer's name), ``tree`` (``events``),
            ``format`` (``ttree`` or ``rntuple``), ``compression`` (``lz4``, ``zstd``, ``zlib``, ``lzma``,
            ``none``), ``compression_level`` (1), ``flush_events`` (about 16 MB of events),
            ``flush_seconds`` (5),
            ``histograms``, ``rollover_events``, ``rollover_mb`` (2000), ``rollover_minutes`` (60).
        rb_info: the ``RB_assign`` entries, by buffer name.

    Raises:
        ValueError: a config key has an unusable value, or the function has no 'read' buffer.
        mimocorb._optional.MissingDependency: uproot is not installed (the ``root`` extra).
    """
    RootRecorder(source_list, config_dict, **rb_info)()


record_root.check_config = recorder_config_check(OWNER, _check_root)  # type: ignore[attr-defined]


# -- reading -------------------------------------------------------------------------------------


def root_objects(path: Path) -> tuple[Any, Any, dict[str, str]]:
    """The open file, its tree (or RNTuple) and the ``mimocorb`` metadata texts of one ROOT file."""
    uproot = uproot_module()
    file = uproot.open(path)
    metadata = {}
    trees = []
    for key, kind in file.classnames(recursive=True).items():
        key = key.rpartition(";")[0]
        if kind == "TObjString" and key.startswith(f"{META_DIR}/"):
            metadata[f"mimocorb.{key.removeprefix(META_DIR + '/')}"] = str(file[key])
        elif kind in ("TTree", "ROOT::RNTuple"):
            trees.append(key)
    if not trees:
        raise ValueError(f"{str(path)!r} holds no TTree or RNTuple")
    tree = file[trees[0] if len(trees) == 1 or "events" not in trees else "events"]
    return file, tree, metadata


def root_arrays(path: Path, step: int = 4096) -> Iterator[dict[str, np.ndarray]]:
    """The tree's columns, ``step`` entries at a time, as native-order numpy arrays."""
    import awkward as ak

    file, tree, _ = root_objects(path)
    with file:
        for start in range(0, tree.num_entries, step):
            chunk = tree.arrays(entry_start=start, entry_stop=min(start + step, tree.num_entries))
            yield {f: _native(ak.to_numpy(chunk[f])) for f in chunk.fields}


def _native(a: np.ndarray) -> np.ndarray:
    return a.astype(a.dtype.newbyteorder("="), copy=False)
