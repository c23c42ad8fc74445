"""The history database: one file per output directory, shared by processes that write and read at once."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from mimocorb.history import DATABASE_NAME, connect


def _write_rows(directory: str, n: int) -> None:
    with connect(directory) as c:
        c.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER)")
        for k in range(n):
            with c:
                c.execute("INSERT INTO t VALUES (?)", (k,))


def test_two_processes_write_one_database_and_a_reader_sees_both(tmp_path) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_write_rows, args=(str(tmp_path), 200)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    reader = connect(tmp_path, create=False)
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (400,)
    assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    reader.close()


def test_a_reader_of_a_directory_without_history_is_told_so_and_creates_nothing(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=DATABASE_NAME):
        connect(tmp_path, create=False)
    assert not any(tmp_path.iterdir())
