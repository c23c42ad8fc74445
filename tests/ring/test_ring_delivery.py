"""Delivery guarantees under random scenarios, with real processes and real shared memory.

Every committed event reaches every reader group exactly once; within a group the processes' shares
are disjoint; each reader process sees each writer's events in that writer's commit order; a slot
is never reused while held; observers only ever see intact, committed events, in order, and each
gets its end-of-run None; the statistics agree.
"""

from __future__ import annotations

import itertools
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import ringtools
import ringworkers as rw
from hypothesis import given, settings
from hypothesis import strategies as st
from support import shm

from mimocorb import mimo_buffer as bm

# examples per start method (spawn starts a fresh interpreter per child: fewer and smaller scenarios)
EXAMPLES = {"fork": 30, "forkserver": 15, "spawn": 6}
LIMITS = {  # writers, members per group, observers
    "fork": (3, 3, 2),
    "forkserver": (3, 3, 2),
    "spawn": (2, 2, 1),
}


@dataclass
class Scenario:
    nslots: int
    vps: int
    writer_dict: list[int]  # per writer process: index of the writer setup dict it uses
    events: list[int]  # per writer process
    groups: list[int]  # processes per reader group
    observers: int
    observer_interval: float
    writer_delay: float
    reader_delay: float
    discard_every: int
    use_cm: list[bool]  # per writer process: ``with w.slot()`` or get_new_buffer/process_buffer
    seed: int


@st.composite
def scenarios(draw, max_writers: int, max_members: int, max_observers: int) -> Scenario:
    nw = draw(st.integers(1, max_writers))
    return Scenario(
        nslots=draw(st.integers(2, 16)),
        vps=draw(st.sampled_from([4, 5, 8, 64])),  # 32 bytes ... 512 bytes per slot
        # dict 0 always exists; further writers share one of the dicts or bring their own
        writer_dict=[0] + [draw(st.integers(0, k)) for k in range(1, nw)],
        events=draw(st.lists(st.integers(1, 120), min_size=nw, max_size=nw)),
        groups=draw(st.lists(st.integers(1, max_members), min_size=2, max_size=3)),
        observers=draw(st.integers(0, max_observers)),
        observer_interval=draw(st.sampled_from([0.0, 0.005, 0.05])),
        writer_delay=draw(st.sampled_from([0.0, 0.0002, 0.002])),
        reader_delay=draw(st.sampled_from([0.0, 0.0005, 0.003])),
        discard_every=draw(st.sampled_from([0, 0, 4])),
        use_cm=draw(st.lists(st.booleans(), min_size=nw, max_size=nw)),
        seed=draw(st.integers(0, 2**16)),
    )


def run_scenario(method: str, sc: Scenario, work: Path) -> None:
    buf = bm.NewBuffer(sc.nslots, sc.vps, rw.EVENT_DTYPE)
    base = buf.name
    pg = ringtools.ProcessGroup(method)
    try:
        wdicts = [buf.new_writer() for _ in range(max(sc.writer_dict) + 1)]
        gdicts = [buf.new_reader_group() for _ in sc.groups]
        odicts = [buf.new_observer(min_interval=sc.observer_interval) for _ in range(sc.observers)]
        readers, observers, writers = [], [], []
        for g, members in enumerate(sc.groups):
            for k in range(members):
                out = work / f"reader_{g}_{k}.json"
                p = pg.start(rw.delivery_reader, gdicts[g], sc.reader_delay, sc.seed + 100 * g + k, out)
                readers.append((g, out, p))
        for o, od in enumerate(odicts):
            out = work / f"observer_{o}.json"
            observers.append((out, pg.start(rw.delivery_observer, od, out)))
        for wid, d in enumerate(sc.writer_dict):
            out = work / f"writer_{wid}.json"
            args = (sc.events[wid], sc.writer_delay, sc.discard_every, sc.use_cm[wid], sc.seed + wid, out)
            writers.append((out, pg.start(rw.delivery_writer, wdicts[d], wid, *args)))
        pg.join([p for _, p in writers], timeout=120)
        buf.shutdown(timeout=60)
        pg.join([p for *_, p in readers] + [p for _, p in observers], timeout=60)
        report, stats = buf.shutdown_report, buf.stats()
    finally:
        pg.cleanup()
        buf.close()
    assert not shm.entries_named(base), "close() left segments or semaphores in /dev/shm"

    # what was committed
    expected, ndiscarded = Counter(), 0
    for out, _ in writers:
        w = rw.load(out)
        expected.update((w["wid"], s) for s in w["committed"])
        ndiscarded += len(w["discarded"])
    ncommitted = sum(expected.values())
    assert ncommitted == sum(sc.events) - ndiscarded

    # every group: exactly the committed events, shares disjoint, per-writer commit order per process
    for g in range(len(sc.groups)):
        shares = [rw.load(out)["rows"] for gg, out, _ in readers if gg == g]
        got = Counter((wid, seq) for rows in shares for wid, seq, *_ in rows)
        missing, extra = expected - got, got - expected
        dup = {k: n for k, n in got.items() if n > 1}
        assert not missing and not extra and not dup, (
            f"group {g}: missing {sorted(missing)}, unexpected {sorted(extra)}, duplicated {dup}"
        )
        for a, b in itertools.combinations(shares, 2):
            assert not {(r[0], r[1]) for r in a} & {(r[0], r[1]) for r in b}
        for rows in shares:
            assert all(intact for _, _, intact, _, _ in rows), f"group {g}: a reader saw a corrupt slot"
            assert all(counter == seq for _, seq, _, counter, _ in rows), "metadata counter != call count"
            assert all(stable for *_, stable in rows), f"group {g}: a slot was rewritten while held"
            for wid in range(len(sc.writer_dict)):
                seqs = [seq for w, seq, *_ in rows if w == wid]
                assert seqs == sorted(seqs), f"group {g}: writer {wid}'s events out of commit order"

    # observers: only intact committed events, in each writer's order, then exactly their own None
    for out, _ in observers:
        o = rw.load(out)
        assert o["end"] == "none", "an observer did not receive its end-of-run None"
        assert o["again_none"]
        for wid, seq, intact, counter in o["rows"]:
            assert intact, f"observer saw a torn slot (writer {wid}, event {seq})"
            assert (wid, seq) in expected, f"observer saw an event that was not committed: {(wid, seq)}"
            assert counter == seq
        for wid in range(len(sc.writer_dict)):
            seqs = [seq for w, seq, *_ in o["rows"] if w == wid]
            assert seqs == sorted(set(seqs)), "observer copies out of order or repeated"

    # statistics and shutdown report
    assert report["drained"] and not report["undelivered"], report
    assert stats["committed"] == ncommitted
    assert stats["discarded"] == ndiscarded
    assert stats["lost"] == 0
    assert stats["fill"] == 0
    for g in stats["groups"]:
        assert (g["consumed"], g["pending"]) == (ncommitted, 0), stats


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_delivery_guarantees(start_method: str, tmp_path: Path) -> None:
    max_writers, max_members, max_observers = LIMITS[start_method]

    @settings(ringtools.RING_SETTINGS, max_examples=EXAMPLES[start_method])
    @given(scenarios(max_writers, max_members, max_observers))
    def check(sc: Scenario) -> None:
        run_scenario(start_method, sc, Path(tempfile.mkdtemp(dir=tmp_path)))

    check()


@pytest.mark.timeout(120)
def test_worst_case_scenario_fork(tmp_path: Path) -> None:
    """The largest scenario the property test may draw, always run once: 2 slots, everything maxed."""
    sc = Scenario(
        nslots=2,
        vps=64,
        writer_dict=[0, 0, 1],
        events=[120, 120, 120],
        groups=[3, 3, 3],
        observers=2,
        observer_interval=0.0,
        writer_delay=0.0,
        reader_delay=0.0005,
        discard_every=4,
        use_cm=[True, False, False],
        seed=7,
    )
    run_scenario("fork", sc, tmp_path)


@pytest.mark.timeout(60)
def test_workers_importable_in_children(start_method: str, procs, tmp_path: Path) -> None:
    """Worker functions of this directory run under every start method."""
    out = tmp_path / "where.json"
    procs.join([procs.start(rw.where_am_i, out)], timeout=45)
    assert Path(rw.load(out)["file"]) == Path(rw.__file__)


def test_event_encoding_detects_tearing() -> None:
    """The checksum used by these tests catches a slot mixing two events."""
    a, b = np.zeros(12, rw.EVENT_DTYPE), np.zeros(12, rw.EVENT_DTYPE)
    rw.fill_event(a, 1, 5)
    rw.fill_event(b, 2, 6)
    assert rw.decode(a) == (1, 5, True)
    for cut in range(1, 12):
        torn = np.concatenate([a[:cut], b[cut:]])
        assert not rw.decode(torn)[2]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("nslots", "writers", "members", "observers"),
    [(128, 1, 1, 0), (128, 2, 2, 1), (8, 2, 3, 1)],
)
def test_delivery_at_full_speed(
    procs, tmp_path: Path, nslots: int, writers: int, members: int, observers: int
) -> None:
    """Writers and readers without any delay, 20 000 events per writer: the per-event calls at their
    highest rate (on the compiled path: its critical sections, the full ring's wait and wake-up, the
    readers' cached publish cursor). Every event reaches the group once, whole, in each writer's order."""
    n = 20_000
    with bm.NewBuffer(nslots, 8, rw.EVENT_DTYPE) as buf:
        group = buf.new_reader_group()
        readers = [procs.start(rw.seq_reader, group, tmp_path / f"r{k}.json") for k in range(members)]
        watchers = [
            procs.start(rw.delivery_observer, buf.new_observer(0.0), tmp_path / f"o{k}.json")
            for k in range(observers)
        ]
        setup = buf.new_writer()
        ws = [procs.start(rw.seq_writer, setup, wid, n, tmp_path / f"w{wid}.json") for wid in range(writers)]
        procs.join(ws, timeout=240)
        buf.shutdown(timeout=60)
        procs.join([*readers, *watchers], timeout=60)
    shares = [rw.load(tmp_path / f"r{k}.json")["rows"] for k in range(members)]
    got = sorted((wid, seq) for rows in shares for wid, seq, _ in rows)
    assert got == [(w, s) for w in range(writers) for s in range(n)]
    for rows in shares:
        assert all(intact for _, _, intact in rows)
        for wid in range(writers):
            seqs = [seq for w, seq, _ in rows if w == wid]
            assert seqs == sorted(seqs)
    for k in range(observers):
        seen = rw.load(tmp_path / f"o{k}.json")
        assert seen["end"] == "none" and all(intact for _, _, intact, _ in seen["rows"])
