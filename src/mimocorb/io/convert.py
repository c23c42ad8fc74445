"""``mimocorb convert IN OUT``: a recording in another format, every value and the metadata kept.

The target's format follows its name: ``.parquet`` (a dataset directory, as the recorder writes it),
``.root`` or ``.h5``/``.hdf5`` (one file). The source is anything ``mimocorb inspect`` reads, all parts
of it in order. Values keep their types, so Parquet → ROOT → HDF5 → Parquet gives back the same table;
the texts of the run (buffer, types, setup files) travel along. Formats without timestamps (tar of
Parquet) or without the metadata texts get NaN times and texts made from the data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .._version_info import __version__
from ..ring import METADATA_DTYPE
from ._recorder import Batch, Layout, PartWriter
from .parts import PartLog
from .reading import SUFFIXES, Block, blocks, kind_of, recording_metadata


def convert(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> int:
    """Write every event of ``source`` into ``target``; returns the number of events."""
    kind_of(source)  # FileNotFoundError / ValueError before anything is made
    out = Path(target)
    fmt = SUFFIXES.get(out.suffix)
    if fmt not in ("parquet", "root", "hdf5"):
        raise ValueError(f"{str(out)!r}: the target must end in .parquet, .root, .h5 or .hdf5")
    if out.exists():
        raise FileExistsError(f"{str(out)!r} exists already; convert writes a new file only")
    writer: PartWriter | None = None
    events = 0
    try:
        for block in blocks(source):
            if writer is None:
                writer = _writer(fmt, _layout(source, block), out)
            writer.write(Batch.of_arrays(_meta(block), list(block.fields.items())))
            events += len(block)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError(f"{str(source)!r} holds no events")
    return events


def _writer(fmt: str, layout: Layout, out: Path) -> PartWriter:
    log = PartLog()
    if fmt == "parquet":
        from .dataset import ParquetWriter

        return ParquetWriter(layout, out, log, {})
    paths = iter([out])
    if fmt == "root":
        from .rootfile import RootWriter

        return RootWriter(layout, lambda: next(paths), log, {})
    from .hdf5file import Hdf5Writer

    return Hdf5Writer(layout, lambda: next(paths), log, {"swmr": False})


def _layout(source: str | os.PathLike[str], block: Block) -> Layout:
    fields = [(name, values.dtype) for name, values in block.fields.items()]
    vps = next(iter(block.fields.values())).shape[1]
    metadata = {k: v for k, v in recording_metadata(source).items() if k != "mimocorb.part"}
    metadata.setdefault("mimocorb.version", __version__)
    metadata["mimocorb.dtype"] = json.dumps([[n, np.dtype(k).str] for n, k in fields])
    metadata["mimocorb.values_per_slot"] = str(vps)
    return Layout(fields, vps, metadata)


def _meta(block: Block) -> np.ndarray:
    meta = np.empty(len(block), dtype=METADATA_DTYPE)
    meta["counter"] = block.counter
    meta["timestamp"] = np.nan if block.timestamp is None else block.timestamp
    meta["deadtime"] = np.nan if block.deadtime is None else block.deadtime
    return meta


def main_convert(source: str, target: str) -> str:
    """The line ``mimocorb convert`` prints."""
    events = convert(source, target)
    return f"{source} -> {target}: {events} events"
