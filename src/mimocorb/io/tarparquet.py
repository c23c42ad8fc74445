"""The tar-of-Parquet format of mimoCoRB 1.0.2: one Parquet member per event.

``rb_toParquetfile`` writes ``<directory_prefix>/<filename>.tar``; every event becomes a member
``<filename>_<counter>.parquet`` holding a table with one column per buffer field and one row per value of
the slot (timestamp and deadtime are not stored — the format has no place for them). ``iter_archive``
reads such archives back, for ``parquetReader``, the replay source and ``mimocorb inspect``.

The archive is finished (end-of-archive blocks) however the exporter ends: at the end of the run, on an
exception, and on SIGTERM. After SIGKILL every member written before is complete, since each
member is handed to the kernel as soon as it is written.

Rollover is off unless asked for (``rollover_events``, ``rollover_mb``, ``rollover_minutes``), so that
the archive is the one mimoCoRB 1.0.2 wrote; with it, each process writes finished archives
``<filename>_00000.tar``, ... of its own.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..ring import Reader
from ._common import ExporterArgs
from ._guard import TerminationGuard
from .manifest import Manifest
from .parts import NO_ROLLOVER, PartLog, PartNames, Rollover, StreamParts

ARCHIVE_SUFFIXES = (".tar", ".gz", ".tgz", ".bz2")
MANIFEST_EVERY = 100  # members between manifest updates (and at the end)
_COUNTER = re.compile(r"_(-?\d+)\.parquet$")


class rb_toParquetfile:
    """Writes every event of a buffer as one Parquet member of ``<directory_prefix>/<filename>.tar``."""

    owner = "rb_toParquetfile"

    def __init__(
        self, source_list: list[dict] | None = None, config_dict: dict | None = None, **rb_info: Any
    ) -> None:
        args = ExporterArgs("rb_toParquetfile", source_list, config_dict, rb_info, need_config=True)
        self.logger = args.logger
        self._base = args.filename()
        self._names = args.field_names()
        args.check_directory()
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa, self._pq = pa, pq
        event_bytes = args.dtype.itemsize * args.values_per_slot
        self.rollover = Rollover.from_config(self.owner, args.config, event_bytes, NO_ROLLOVER)
        self.filename = args.output_path(self._base + ".tar")
        self._part_names = PartNames(Path(self.filename))
        manifest = Manifest(args.directory or ".", os.path.basename(self.filename), "tar", args.label)
        self._log = PartLog(manifest)
        self._log.save()
        self._parts = StreamParts(self._log, MANIFEST_EVERY)
        self._tar: tarfile.TarFile | None = None
        self._finished = False
        self._open_part()
        self.events = 0
        self._guard = TerminationGuard(self._finish)
        self.source = Reader(args.setup)

    def _open_part(self) -> None:
        """The one archive, or the next part."""
        if self.rollover.active:
            path = self._part_names.claim()
            self._file: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed by _close_part
        else:
            self._file, self.filename = _open_archive(self.filename)
            path = Path(self.filename)
        self._tar = tarfile.open(  # noqa: SIM115 - closed by _close_part
            fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT
        )
        self._parts.begin(path.name)

    def _close_part(self) -> None:
        """End-of-archive blocks and close; idempotent, so SIGTERM and the normal end may both call it."""
        tar, self._tar = self._tar, None
        if tar is None:
            return
        try:
            tar.close()
        finally:
            self._file.close()
        self._parts.end()

    def _member(self, data: Any, counter: Any) -> None:
        pa = self._pa
        table = pa.table({name: data[name] for name in self._names})
        sink = pa.BufferOutputStream()
        self._pq.write_table(table, sink)
        payload = sink.getvalue().to_pybytes()
        info = tarfile.TarInfo(f"{self._base}_{int(counter)}.parquet")
        info.size, info.mtime, info.mode = len(payload), 0, 0o644
        tar = self._tar
        assert tar is not None
        with self._guard.busy():  # a SIGTERM meanwhile finishes the archive as soon as the member is counted
            tar.addfile(info, io.BytesIO(payload))
            self._file.flush()  # each member reaches the kernel whole
            self.events += 1
            self._parts.count(int(counter))
            if self.rollover.due(self._parts.events, self._parts.started):
                self._close_part()
                self._open_part()

    def _finish(self, error: str | None = None) -> None:
        """The last archive finished, the manifest complete (or the error); idempotent."""
        if self._finished:
            return
        self._finished = True
        self._close_part()
        self._log.save(complete=error is None, **({"error": error} if error else {}))

    def __call__(self) -> None:
        """Write every event until the buffer shuts down; the archive is finished in every case."""
        metadata = self.source.get_metadata
        error: str | None = None
        self._guard.install()
        try:
            for data in self.source:
                self._member(data, metadata()[0])
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with self._guard.busy():
                self._finish(error)
            self._guard.uninstall()


def _open_archive(path: str) -> tuple[BinaryIO, str]:
    """The archive file, and its name.

    Several processes of one exporter function cannot share a tar file. In a run directory (it has the
    controller's run.log and is new for every run) the first process gets ``<filename>.tar``, the others
    ``<filename>_<pid>.tar`` beside it (``parquetReader`` and replay read every archive of a directory).
    Elsewhere the file is truncated, as in mimoCoRB.
    """
    if not os.path.exists(os.path.join(os.path.dirname(path) or ".", "run.log")):
        return open(path, "wb"), path
    try:
        return open(path, "xb"), path
    except FileExistsError:
        root, ext = os.path.splitext(path)
        other = f"{root}_{os.getpid()}{ext}"
        return open(other, "xb"), other


def archives_in(path: str | os.PathLike[str]) -> list[Path]:
    """The archive ``path`` itself, or the archives in directory ``path`` sorted by name."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise FileNotFoundError(f"no tar archive or directory at {str(p)!r}")
    found = sorted(f for f in p.iterdir() if f.is_file() and f.name.endswith(ARCHIVE_SUFFIXES))
    if not found:
        raise FileNotFoundError(
            f"no archive (files ending in {', '.join(ARCHIVE_SUFFIXES)}) in directory {str(p)!r}"
        )
    return found


def counter_of(member_name: str) -> int | None:
    """The event counter in a member name ``<filename>_<counter>.parquet``."""
    match = _COUNTER.search(member_name)
    return int(match.group(1)) if match else None


def iter_archive(path: str | os.PathLike[str]) -> Iterator[tuple[str, Any]]:
    """``(member name, pyarrow.Table)`` for every Parquet member of one archive, in archive order.

    Compression is detected; directories and other non-file members are skipped. An archive cut off
    by a killed writer yields its complete members and stops at the cut.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with tarfile.open(path, "r:*") as tar:
        while True:
            try:
                member = tar.next()
            except tarfile.ReadError:
                return  # a truncated archive: the members before the cut were complete
            if member is None:
                return
            if not member.isfile() or not member.name.endswith(".parquet"):
                continue
            f = tar.extractfile(member)
            if f is None:
                continue
            payload = f.read()
            if len(payload) < member.size:
                return
            # one small event per member: arrow's thread pools bring nothing here, and its asynchronous
            # pre-buffering made about 1 exit in 50 abort ("terminate called without an active exception")
            table = pq.read_table(pa.BufferReader(payload), use_threads=False, pre_buffer=False)
            yield member.name, table
