"""The two paths of the per-event calls: the compiled critical sections (``mimocorb.ring._fastring``)
and the pure-Python ones, forced with ``MIMOCORB_PURE_RING=1``.

The whole ring suite runs on the path this process has, and once more, in a child pytest, on the other
one. Processes on different paths share one buffer: the protocol and the memory are the same.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import ringworkers as rw

from mimocorb import mimo_buffer as bm
from mimocorb.ring import fast_path
from mimocorb.ring._fastpath import PURE_ENV

COMPILED = fast_path() == "compiled"
FORCED_PURE = os.environ.get(PURE_ENV, "") not in ("", "0")
HERE = Path(__file__).resolve().parent
SUITE_TIMEOUT = 1800.0
NESTED_ENV = "MIMOCORB_RING_SUITE_NESTED"  # set in the child pytest: it must not start another


def _start_on(procs, path: str, target, *args):
    """Start a spawn child on ``path`` ("compiled" or "pure"): the child reads the variable at import."""
    before = os.environ.get(PURE_ENV)
    os.environ[PURE_ENV] = "1" if path == "pure" else "0"
    try:
        return procs.start(target, *args)
    finally:
        if before is None:
            del os.environ[PURE_ENV]
        else:
            os.environ[PURE_ENV] = before


def test_the_compiled_path_is_built_where_a_compiler_is() -> None:
    """CI installs gcc: there the package must build its compiled module (else the suite would test the
    pure path twice)."""
    if FORCED_PURE:
        pytest.skip(f"{PURE_ENV} is set: this run tests the pure-Python path")
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler on this machine: the compiled module cannot have been built")
    assert COMPILED, f"a compiler is here, but the ring runs {fast_path()!r}: rebuild (pip install -e .)"


@pytest.mark.parametrize("start_method", ["spawn"])
def test_forcing_the_pure_path(procs, start_method: str, tmp_path: Path) -> None:
    out = tmp_path / "probe.json"
    p = _start_on(procs, "pure", rw.path_probe, out)
    procs.join([p])
    got = rw.load(out)
    assert got["path"].startswith("pure Python") and PURE_ENV in got["path"]
    assert not got["compiled_loaded"]


@pytest.mark.skipif(not COMPILED, reason="the compiled module is not built here (or the pure path is forced)")
@pytest.mark.parametrize("start_method", ["spawn"])
def test_writers_and_readers_on_both_paths_share_a_buffer(procs, start_method: str, tmp_path: Path) -> None:
    """Two writers and a reader group of two, one of each on each path, and an observer on the pure
    path: every event arrives once, whole, in each writer's order."""
    n = 3000
    with bm.NewBuffer(16, 8, rw.EVENT_DTYPE) as buf:
        group = buf.new_reader_group()
        readers = [
            _start_on(procs, p, rw.seq_reader, group, tmp_path / f"r_{p}.json") for p in ("compiled", "pure")
        ]
        observer = _start_on(procs, "pure", rw.delivery_observer, buf.new_observer(), tmp_path / "o.json")
        writers = [
            _start_on(procs, p, rw.seq_writer, buf.new_writer(), wid, n, tmp_path / f"w_{p}.json")
            for wid, p in enumerate(("compiled", "pure"))
        ]
        procs.join(writers, timeout=120)
        buf.shutdown(timeout=60)
        procs.join([*readers, observer], timeout=60)
    rows = [tuple(r) for p in ("compiled", "pure") for r in rw.load(tmp_path / f"r_{p}.json")["rows"]]
    assert all(intact for _, _, intact in rows)
    assert sorted((wid, seq) for wid, seq, _ in rows) == [(w, s) for w in range(2) for s in range(n)]
    for p in ("compiled", "pure"):  # each process gets each writer's events in order
        mine = rw.load(tmp_path / f"r_{p}.json")["rows"]
        for wid in range(2):
            seqs = [seq for w, seq, _ in mine if w == wid]
            assert seqs == sorted(seqs)
    seen = rw.load(tmp_path / "o.json")
    assert seen["end"] == "none" and all(intact for _, _, intact, _ in seen["rows"])


@pytest.mark.slow
@pytest.mark.timeout(SUITE_TIMEOUT + 60)
def test_the_ring_suite_on_the_other_path() -> None:
    """Every ring test (the property tests among them) once more, on the path this run does not take."""
    if not COMPILED and not FORCED_PURE:
        pytest.skip("the compiled module is not built here: there is only the pure-Python path")
    if os.environ.get(NESTED_ENV):
        pytest.skip("this is the run on the other path")
    env = dict(os.environ, **{PURE_ENV: "0" if FORCED_PURE else "1", NESTED_ENV: "1"})
    args = [sys.executable, "-m", "pytest", str(HERE), "-q", "-x", "-p", "no:cacheprovider"]
    args += ["-k", "not test_the_ring_suite_on_the_other_path"]
    run = subprocess.run(
        args, cwd=HERE.parents[1], env=env, capture_output=True, text=True, timeout=SUITE_TIMEOUT
    )
    tail = "\n".join(run.stdout.splitlines()[-30:])
    assert run.returncode == 0, f"the ring suite failed on the other path:\n{tail}\n{run.stderr[-2000:]}"
    assert " passed" in tail


def test_a_reader_nobody_names_lives_while_it_is_iterated() -> None:
    """``for e in Reader(setup)``, as a worker function writes it: the iteration holds the only reference
    to the reader, and the compiled ``get`` refers to its reader weakly; every event still comes."""
    from mimocorb.ring import Reader, RingBuffer, Writer

    ring = RingBuffer(64, 1, "int32", name="paths-iter")
    try:
        group = ring.new_reader_group()
        writer = Writer(ring.new_writer())
        writer.put_batch(np.arange(50, dtype=np.int32).reshape(-1, 1))
        writer.close()
        events = [int(e[0]) for e in itertools.islice(Reader(group), 50)]
        assert events == list(range(50))
    finally:
        ring.close()
