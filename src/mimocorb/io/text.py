"""``rb_toTxtfile``: one tab-separated line per event, as mimoCoRB 1.0.2 wrote it.

Meant for buffers of single values (one record per event, e.g. fit results). Each line is written with
one ``write`` to a file opened for appending, and handed to the kernel at once: a killed exporter loses
no line it had taken from the buffer, and several processes of one exporter append whole lines.

Rollover is off unless asked for (``rollover_events``, ``rollover_mb``, ``rollover_minutes``), so that
the file is the one mimoCoRB 1.0.2 wrote; with it, each process writes numbered parts
``<filename>_00000.txt``, ... of its own, each with the header line.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..ring import METADATA_DTYPE, Reader
from ._common import ExporterArgs
from ._guard import TerminationGuard
from .manifest import Manifest
from .parts import NO_ROLLOVER, PartLog, PartNames, Rollover, StreamParts

MANIFEST_EVERY = 1000  # events between manifest updates (and at the end)


def _formatter(dtype: np.dtype) -> Callable[[Any], str]:
    """How a value of ``dtype`` is printed: integers as integers, floats in shortest round-trip form.

    As in the original, values pass through float64 and are cast back to the column's type; NaN is an
    empty field (pandas' ``to_csv`` default).
    """
    if dtype.kind in "iub":
        kind = dtype.type
        return lambda v: str(int(kind(float(v))))
    if dtype.kind == "f":
        kind = dtype.type

        def fmt(v: Any) -> str:
            x = float(v)
            return "" if math.isnan(x) else str(kind(x)) if kind is not np.float64 else repr(x)

        return fmt
    return str


def _create_with_header(path: str, header: str) -> None:
    """Create (or truncate) the file with its header line, once per run.

    Several processes of one exporter function share the file. In a run directory (it has the
    controller's run.log, and is new for every run) the file therefore appears atomically, header
    included, made by whichever process comes first; the others only append — truncating it would lose
    lines a faster sibling already wrote. Elsewhere (a function used outside a run) the file is
    truncated, as in mimoCoRB.
    """
    if not os.path.exists(os.path.join(os.path.dirname(path) or ".", "run.log")):
        with open(path, "w", encoding="utf-8") as f:
            f.write(header)
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(header)
    try:
        os.link(tmp, path)  # fails if a sibling was first; never shows a file without its header
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


class rb_toTxtfile:
    """Writes every event of a buffer with one value per slot to ``<directory_prefix>/<filename>.txt``.

    Columns: ``counter``, ``timestamp``, ``deadtime``, then the buffer's fields in order; ``header_alias``
    (mapping of original name to header text) renames any of them in the header line.
    """

    def __init__(
        self, source_list: list[dict] | None = None, config_dict: dict | None = None, **rb_info: Any
    ) -> None:
        args = ExporterArgs("rb_toTxtfile", source_list, config_dict, rb_info, need_config=True)
        self.logger = args.logger
        if args.values_per_slot != 1:
            raise ValueError(
                f"rb_toTxtfile: buffer {args.label} has {args.values_per_slot} values per slot; the text "
                "format holds one value per field and event (channel_per_slot: 1); use rb_toParquetfile "
                "or the Parquet recorder for waveforms"
            )
        names = args.field_names()
        alias = args.config.get("header_alias") or {}
        if not isinstance(alias, dict):
            raise ValueError(f"rb_toTxtfile: header_alias must be a mapping name -> header, got {alias!r}")
        self.filename = args.output_path(args.filename() + ".txt")
        self.rollover = Rollover.from_config("rb_toTxtfile", args.config, args.dtype.itemsize, NO_ROLLOVER)
        args.check_directory()
        meta: np.dtype = np.dtype(METADATA_DTYPE)
        meta_names = [name for name, _ in METADATA_DTYPE]
        columns = [*meta_names, *names]
        self._header = "\t".join(str(alias.get(c, c)) for c in columns) + "\n"
        self._names = PartNames(Path(self.filename))
        if not self.rollover.active:
            _create_with_header(self.filename, self._header)
        self._meta_formats = [_formatter(meta[n]) for n in meta_names]
        self._fields = [(n, _formatter(args.dtype[n])) for n in names]
        manifest = Manifest(args.directory or ".", os.path.basename(self.filename), "txt", args.label)
        self._log = PartLog(manifest)
        self._log.save()
        self._parts = StreamParts(self._log, MANIFEST_EVERY)
        self.events = 0
        self.source = Reader(args.setup)

    def _open_part(self) -> int:
        """The file to append to: the one file, or the next part (made with its header)."""
        path = self._names.claim() if self.rollover.active else Path(self.filename)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        if self.rollover.active:
            os.write(fd, self._header.encode("utf-8"))
        self._parts.begin(path.name)
        return fd

    def _line(self, data: np.ndarray, metadata: tuple) -> bytes:
        first = data[0]
        values = [f(v) for f, v in zip(self._meta_formats, metadata, strict=True)]
        values += [f(first[n]) for n, f in self._fields]
        return ("\t".join(values) + "\n").encode("utf-8")

    def __call__(self) -> None:
        """Write every event until the buffer shuts down."""
        metadata = self.source.get_metadata
        guard = TerminationGuard(self._finish)  # every line is on disk already; SIGTERM only counts
        guard.install()
        parts, rollover = self._parts, self.rollover
        fd = self._open_part()
        try:
            for data in self.source:
                meta = metadata()
                line = self._line(data, meta)
                with guard.busy():
                    if os.write(fd, line) != len(line):
                        raise OSError(f"rb_toTxtfile: short write to {self.filename} (disk full?)")
                    self.events += 1
                    parts.count(int(meta[0]))
                if rollover.due(parts.events, parts.started):
                    with guard.busy():
                        os.close(fd)
                        parts.end()
                        fd = self._open_part()
        except BaseException as exc:
            parts.report()
            self._log.save(error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            os.close(fd)
            guard.uninstall()
        self._finish()

    def _finish(self) -> None:
        self._parts.end()
        self._log.save(complete=True)
