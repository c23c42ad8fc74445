"""Reading recorded files back, whatever the format: the Parquet dataset, a part file, tar archives,
text, ROOT and HDF5 files, each possibly in numbered parts (``<stem>_00000<ext>``, ...).

Used by the replay source, ``mimocorb inspect`` and ``mimocorb convert``. Events come in blocks (one part
file, one tar member or a few thousand events at a time), as numpy arrays, so that replay at full speed
is not limited by per-row Python work. A recording is named by its directory, one of its files, or the
name its parts share (``RB_1.root`` for ``RB_1_00000.root``, ...): then every part is read, in order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .parts import parts_of
from .tarparquet import ARCHIVE_SUFFIXES, archives_in, counter_of, iter_archive

META_NAMES = ("counter", "timestamp", "deadtime")
SUFFIXES = {".parquet": "parquet", ".txt": "txt", ".root": "root", ".h5": "hdf5", ".hdf5": "hdf5"}


@dataclass
class Block:
    """Consecutive events: metadata arrays (``None`` where the format does not store them) and fields.

    ``fields[name]`` has shape ``(n, values_per_slot)``.
    """

    counter: np.ndarray
    timestamp: np.ndarray | None
    deadtime: np.ndarray | None
    fields: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.counter)


def kind_of(path: str | os.PathLike[str]) -> str:
    """``parquet`` (a dataset directory or one Parquet file), ``tar``, ``txt``, ``root`` or ``hdf5``.

    FileNotFoundError if there is neither the file nor parts of it, ValueError for an unknown format.
    """
    p = Path(path)
    if p.is_dir():
        if _parquet_parts(p):
            return "parquet"
        try:
            archives_in(p)
        except FileNotFoundError:
            raise ValueError(
                f"{str(p)!r} holds neither Parquet part files nor tar archives "
                f"({', '.join(ARCHIVE_SUFFIXES)})"
            ) from None
        return "tar"
    parts_of(p)
    if p.name.endswith(ARCHIVE_SUFFIXES):
        return "tar"
    if p.suffix in SUFFIXES:
        return SUFFIXES[p.suffix]
    raise ValueError(
        f"{str(p)!r}: unknown format; expected a Parquet dataset directory or .parquet file, "
        f"a tar archive ({', '.join(ARCHIVE_SUFFIXES)}), a .txt, .root, .h5 or .hdf5 file"
    )


def files_of(path: str | os.PathLike[str]) -> list[Path]:
    """The files of a recording, in the order their events were written."""
    p = Path(path)
    if kind_of(p) == "parquet":
        return parquet_files(p)
    return archives_in(p) if p.is_dir() else parts_of(p)


def _parquet_parts(directory: Path) -> list[Path]:
    """Complete part files (hidden temporaries of a part being written are not)."""
    return sorted(
        f for f in directory.rglob("*.parquet") if f.is_file() and not f.name.startswith((".", "_"))
    )


def parquet_files(path: str | os.PathLike[str]) -> list[Path]:
    p = Path(path)
    return _parquet_parts(p) if p.is_dir() else [p]


def read_schema(path: str | os.PathLike[str]) -> Any:
    import pyarrow.parquet as pq

    files = parquet_files(path)
    if not files:
        raise ValueError(f"{str(path)!r}: the dataset has no complete part file yet")
    return pq.read_schema(files[0])


def recording_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``mimocorb.*`` texts of a recording's first file (the formats that store them; else empty)."""
    kind = kind_of(path)
    first = files_of(path)[0]
    if kind == "parquet":
        meta = read_schema(path).metadata or {}
        return {k.decode(): v.decode() for k, v in meta.items() if k.startswith(b"mimocorb.")}
    if kind == "root":
        from .rootfile import root_objects

        file, _, metadata = root_objects(first)
        file.close()
        return metadata
    if kind == "hdf5":
        from .hdf5file import hdf5_metadata

        return hdf5_metadata(first)
    return {}


def blocks(path: str | os.PathLike[str]) -> Iterator[Block]:
    """Every event of a recorded file or directory, block by block, in file order."""
    kind = kind_of(path)
    if kind == "parquet":
        yield from _parquet_blocks(path)
        return
    read = {"tar": _tar_blocks, "txt": _txt_blocks, "root": _root_blocks, "hdf5": _hdf5_blocks}[kind]
    for file in files_of(path):
        yield from read(file)


def _root_blocks(path: Path) -> Iterator[Block]:
    from .rootfile import root_arrays

    for arrays in root_arrays(path):
        yield _block_of_arrays(arrays)


def _hdf5_blocks(path: Path) -> Iterator[Block]:
    from .hdf5file import hdf5_arrays

    for arrays in hdf5_arrays(path):
        yield _block_of_arrays(arrays)


def _block_of_arrays(arrays: dict[str, np.ndarray]) -> Block:
    n = len(arrays["counter"])
    fields = {k: v.reshape(n, -1) for k, v in arrays.items() if k not in META_NAMES}
    return Block(arrays["counter"], arrays.get("timestamp"), arrays.get("deadtime"), fields)


def _parquet_blocks(path: str | os.PathLike[str]) -> Iterator[Block]:
    import pyarrow.parquet as pq

    for file in parquet_files(path):
        f = pq.ParquetFile(file)
        for batch in f.iter_batches(batch_size=4096):
            yield _block_of_batch(batch)


def _block_of_batch(batch: Any) -> Block:
    n = batch.num_rows
    meta = {m: batch.column(m).to_numpy() for m in META_NAMES if m in batch.schema.names}
    fields = {}
    for name in batch.schema.names:
        if name in META_NAMES:
            continue
        column = batch.column(name)
        if hasattr(column, "flatten") and hasattr(column.type, "list_size"):
            values = column.flatten().to_numpy(zero_copy_only=False)
            fields[name] = values.reshape(n, column.type.list_size)
        else:
            fields[name] = column.to_numpy(zero_copy_only=False).reshape(n, 1)
    counter = meta.get("counter", np.arange(1, n + 1, dtype=np.int64))
    return Block(counter, meta.get("timestamp"), meta.get("deadtime"), fields)


def _tar_blocks(archive: Path) -> Iterator[Block]:
    for k, (name, table) in enumerate(iter_archive(archive)):
        counter = counter_of(name)
        fields = {c: table.column(c).to_numpy().reshape(1, -1) for c in table.column_names}
        yield Block(np.array([counter if counter is not None else k + 1], dtype=np.int64), None, None, fields)


def _txt_blocks(path: str | os.PathLike[str]) -> Iterator[Block]:
    import pandas as pd

    # the file holds every float64 exactly (shortest repr); pandas 2's default parser may miss the last bit,
    # pandas 3 reads exactly by default and deprecates the option
    exact = {"float_precision": "round_trip"} if pd.__version__.startswith(("1.", "2.")) else {}
    frame = pd.read_csv(path, sep="\t", **exact)
    columns = list(frame.columns)
    meta = columns[:3]  # counter, timestamp, deadtime, possibly under aliases
    fields = {c: frame[c].to_numpy().reshape(-1, 1) for c in columns[3:]}
    yield Block(
        frame[meta[0]].to_numpy(np.int64),
        frame[meta[1]].to_numpy(np.float64),
        frame[meta[2]].to_numpy(np.float64),
        fields,
    )
