"""Worker functions for the ring tests: module-level, so spawn and forkserver children can import them.

This module is imported as the top-level module ``ringworkers`` (tests/ring is on sys.path, see
conftest.py); spawn and forkserver children get the parent's sys.path and import it by that name.
Children report through small JSON files (never through pipes or queues, so a killed or stuck child
cannot block the parent) and signal the parent through multiprocessing Events.

Events of the multi-process tests are 1-D uint64 slots ``[writer id, sequence, payload..., checksum]``
whose payload is a hash of (writer id, sequence), so a torn or stale slot is always detected.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from mimocorb import mimo_buffer as bm
from mimocorb.ring import RingTimeout

EVENT_DTYPE = np.uint64
TIMEOUT = 60.0  # no blocking call in a worker waits longer than this (hang detection, not a speed limit)

_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)


# ---- event encoding ---------------------------------------------------------------------------------


def payload(wid: int, seq: int, n: int) -> np.ndarray:
    """n pseudo-random uint64 values determined by (wid, seq)."""
    x = np.arange(n, dtype=np.uint64)
    x ^= np.array([(wid << 40) ^ (seq << 8)], dtype=np.uint64)
    x *= _K1
    x ^= x >> np.uint64(29)
    x *= _K2
    return x


def checksum(values: np.ndarray) -> np.uint64:
    return np.add.reduce(values.astype(np.uint64) * _K2, dtype=np.uint64) ^ _K1


def fill_event(view: np.ndarray, wid: int, seq: int) -> None:
    """Write event (wid, seq) into a slot view: header first, checksum last."""
    n = len(view)
    view[0] = wid
    view[1] = seq
    view[2 : n - 1] = payload(wid, seq, n - 3)
    view[n - 1] = checksum(view[: n - 1])


def decode(row: np.ndarray) -> tuple[int, int, bool]:
    """(wid, seq, intact) of a slot (or of a copy of it)."""
    n = len(row)
    wid, seq = int(row[0]), int(row[1])
    intact = bool(
        wid < 2**20
        and seq < 2**31
        and np.array_equal(row[2 : n - 1], payload(wid, seq, n - 3))
        and row[n - 1] == checksum(row[: n - 1])
    )
    return wid, seq, intact


def dump(path, obj) -> None:
    """Write a JSON report atomically (the parent never sees a half-written file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj))
    tmp.replace(path)


def load(path):
    return json.loads(Path(path).read_text())


def _nap(rng: np.random.Generator, mean: float) -> None:
    if mean > 0 and rng.random() < 0.5:
        time.sleep(rng.exponential(mean))


def _sleep_forever() -> None:
    while True:
        time.sleep(1000)


class _Discard(Exception):
    pass


# ---- property test: writers, readers, observers ------------------------------------------------------


def delivery_writer(setup, wid, n_events, mean_delay, discard_every, use_cm, seed, out):
    """Write n_events events (discarding every discard_every-th); report the committed sequences."""
    rng = np.random.default_rng(seed)
    w = bm.Writer(setup)
    committed, discarded = [], []
    for seq in range(n_events):
        discard = bool(discard_every) and seq % discard_every == discard_every - 1
        if use_cm:
            try:
                with w.slot(timeout=TIMEOUT) as (data, _meta):
                    fill_event(data, wid, seq)
                    _nap(rng, mean_delay)
                    if discard:
                        raise _Discard
            except _Discard:
                discarded.append(seq)
            else:
                committed.append(seq)
        else:
            data = w.get_new_buffer(timeout=TIMEOUT)  # commits the previous slot, if any
            fill_event(data, wid, seq)
            _nap(rng, mean_delay)
            if discard:
                w.discard()
                discarded.append(seq)
            else:
                committed.append(seq)
                if rng.random() < 0.5:
                    w.process_buffer()  # commit now (else the next get_new_buffer does it)
    w.process_buffer()
    w.close()
    dump(out, {"wid": wid, "committed": committed, "discarded": discarded})


def delivery_reader(setup, mean_delay, seed, out):
    """Read until shutdown; per event: (wid, seq, intact, metadata counter, unchanged while held)."""
    rng = np.random.default_rng(seed)
    r = bm.Reader(setup)
    rows = []
    while True:
        try:
            view = r.get(timeout=TIMEOUT)
        except SystemExit:
            break
        snap = view.copy()
        wid, seq, intact = decode(snap)
        counter = int(r.get_metadata()[0])
        _nap(rng, mean_delay)
        stable = bool(np.array_equal(view, snap))  # the slot must not be reused while we hold it
        rows.append((wid, seq, intact, counter, stable))
    r.close()
    dump(out, {"pid": os.getpid(), "rows": rows})


def delivery_observer(setup, out):
    """Take copies until the end-of-run None; report (wid, seq, intact, counter) per copy."""
    o = bm.Observer(setup)
    rows, end = [], "none"
    while True:
        try:
            item = o.get(timeout=TIMEOUT)
        except RingTimeout:
            end = "timeout"
            break
        if item is None:
            break
        data, meta = item
        wid, seq, intact = decode(data)
        rows.append((wid, seq, intact, int(meta[0]["counter"])))
    again = o.get(timeout=1.0) if end == "none" else "skipped"
    dump(out, {"rows": rows, "end": end, "again_none": again is None})


# ---- observer consistency under heavy writing -------------------------------------------------------

HEAVY_DTYPE = [("ch0", np.float64), ("ch1", np.float64), ("ch2", np.float64), ("ch3", np.float64)]
HEAVY_POOL = 7


def heavy_pool(vps: int) -> np.ndarray:
    """HEAVY_POOL random slots of vps values from a fixed seed (identical in every process)."""
    rng = np.random.default_rng(20240613)
    pool = np.zeros((HEAVY_POOL, vps), dtype=HEAVY_DTYPE)
    for name, _ in HEAVY_DTYPE:
        pool[name] = rng.standard_normal((HEAVY_POOL, vps))
    return pool


def heavy_expected(pool: np.ndarray, seq: int) -> np.ndarray:
    e = pool[seq % HEAVY_POOL].copy()
    e["ch0"][0] = seq
    e["ch3"][-1] = seq * 3.0 + 0.5  # the checksum field: written last
    return e


def heavy_writer(setup, stop, out):
    """Fill slots as fast as possible until ``stop`` is set: bulk data, then header, checksum last."""
    pool = heavy_pool(setup["values_per_slot"])
    w = bm.Writer(setup)
    seq = 0
    while not stop.is_set():
        data = w.get_new_buffer(timeout=TIMEOUT)
        data[:] = pool[seq % HEAVY_POOL]
        data["ch0"][0] = seq
        data["ch3"][-1] = seq * 3.0 + 0.5
        w.set_metadata(seq, time.time(), 0.0)
        seq += 1
    w.process_buffer()
    w.close()
    dump(out, {"written": seq})


def heavy_reader(setup, out):
    r = bm.Reader(setup)
    n, last, in_order = 0, -1, True
    while True:
        try:
            v = r.get(timeout=TIMEOUT)
        except SystemExit:
            break
        s = int(v["ch0"][0])
        in_order &= s == last + 1
        last = s
        n += 1
    r.close()
    dump(out, {"read": n, "in_order": bool(in_order)})


def heavy_observer(setup, checked, out):
    """Verify every copy completely against the event its header names; count copies in ``checked``."""
    pool = heavy_pool(setup["values_per_slot"])
    o = bm.Observer(setup, min_interval=0.0)
    n, bad, last, increasing, first_bad, end = 0, 0, -1, True, None, "none"
    while True:
        try:
            item = o.get(timeout=TIMEOUT)
        except RingTimeout:
            end = "timeout"
            break
        if item is None:
            break
        data, meta = item
        seq = int(data["ch0"][0])
        ok = (
            0 <= seq < 2**40
            and np.array_equal(data, heavy_expected(pool, seq))
            and int(meta[0]["counter"]) == seq
        )
        if not ok:
            bad += 1
            if first_bad is None:
                first_bad = {"seq": seq, "counter": int(meta[0]["counter"])}
        increasing &= seq > last
        last = max(last, seq)
        n += 1
        checked.value = n
    dump(out, {"checked": n, "bad": bad, "first_bad": first_bad, "increasing": bool(increasing), "end": end})


# ---- generic workers for fault and semantics tests ------------------------------------------------


def seq_writer(setup, wid, n_events, out, delay=0.0, gate=None, gate_after=0):
    """Write events 0..n_events-1; after ``gate_after`` of them wait for the Event ``gate``.

    Reports how many events were committed and how it ended ("done", "SystemExit", "timeout").
    """
    w = bm.Writer(setup)
    committed, held, how = 0, False, "done"
    try:
        for seq in range(n_events):
            if gate is not None and seq == gate_after:
                w.process_buffer()
                committed, held = committed + held, False
                if not gate.wait(TIMEOUT):
                    how = "gate timeout"
                    break
            try:
                data = w.get_new_buffer(timeout=TIMEOUT)
            finally:  # it committed the slot we held, even when it raises
                committed, held = committed + held, False
            held = True
            fill_event(data, wid, seq)
            if delay:
                time.sleep(delay)
        w.process_buffer()
        committed, held = committed + held, False
    except SystemExit:
        how = "SystemExit"
    except RingTimeout:
        how = "timeout"
    w.close()
    dump(out, {"wid": wid, "committed": committed, "how": how})


def endless_writer(setup, wid, out):
    """Write until the buffer deactivates writers; report how many events were committed."""
    w = bm.Writer(setup)
    n = 0
    try:
        while True:
            data = w.get_new_buffer(timeout=TIMEOUT)  # commits event n-1 (if any)
            fill_event(data, wid, n)
            n += 1
    except SystemExit:
        how = "SystemExit"
    except RingTimeout:
        how = "timeout"
    # get_new_buffer commits the slot it was asked to replace before raising SystemExit
    dump(out, {"wid": wid, "committed": n, "how": how})


def seq_reader(setup, out, delay=0.0):
    """Read until shutdown; report (wid, seq, intact) of every event in arrival order."""
    r = bm.Reader(setup)
    rows, how = [], "SystemExit"
    while True:
        try:
            v = r.get(timeout=TIMEOUT)
        except SystemExit:
            break
        except RingTimeout:
            how = "timeout"
            break
        rows.append(decode(v))
        if delay:
            time.sleep(delay)
    r.close()
    dump(out, {"pid": os.getpid(), "rows": rows, "how": how})


def iter_reader(setup, out):
    """``for data in reader`` must end by itself at shutdown."""
    r = bm.Reader(setup)
    rows = [decode(v) for v in r]
    dump(out, {"rows": rows, "ended": True})


def admin_churn(setup, ready):
    """A reader that comes and goes as fast as it can (each time the ring's admin lock is taken and given
    back twice), until the process is interrupted."""
    ready.set()
    while True:
        bm.Reader(setup).close()


def holding_reader(setup, held, held_seq):
    """Take one event, tell the parent which, then hold it until killed."""
    r = bm.Reader(setup)
    v = r.get(timeout=TIMEOUT)
    held_seq.value = int(v[1])
    held.set()
    _sleep_forever()


def holding_writer(setup, wid, n_before, held):
    """Commit n_before events, claim one more slot, half-fill it, then hold it until killed."""
    w = bm.Writer(setup)
    for seq in range(n_before):
        fill_event(w.get_new_buffer(timeout=TIMEOUT), wid, seq)
    w.process_buffer()
    data = w.get_new_buffer(timeout=TIMEOUT)
    data[0] = wid  # half-written: no checksum
    held.set()
    _sleep_forever()


def slow_last_reader(setup, out_dir, hold):
    """Hold every event for ``hold`` seconds and leave a file 'released_<seq>' just before releasing it."""
    r = bm.Reader(setup)
    out_dir = Path(out_dir)
    while True:
        try:
            v = r.get(timeout=TIMEOUT)
        except SystemExit:
            break
        seq = int(v[1])
        time.sleep(hold)
        (out_dir / f"released_{seq}").touch()
    (out_dir / "reader_exit").touch()


def lazy_observer(setup, go, out):
    """Attach, then take nothing until ``go`` is set; report what the first get() returns then."""
    o = bm.Observer(setup)
    go.wait(TIMEOUT)
    try:
        item = o.get(timeout=5.0)
        result = "None" if item is None else "data"
    except RingTimeout:
        result = "timeout"
    dump(out, {"first": result})


def counting_observer(setup, out):
    """Count copies until the end-of-run None (and time the run, for the rate limit)."""
    o = bm.Observer(setup)
    t0 = time.monotonic()
    seqs, end = [], "none"
    while True:
        try:
            item = o.get(timeout=TIMEOUT)
        except RingTimeout:
            end = "timeout"
            break
        if item is None:
            break
        wid, seq, intact = decode(item[0])
        seqs.append((wid, seq, intact))
    dump(out, {"rows": seqs, "end": end, "seconds": time.monotonic() - t0})


def monitor_probe(setup, out):
    """Read the statistics of a buffer from another process, through any kind of setup dict."""
    m = bm.Monitor(setup)
    s = m.stats()
    dump(
        out,
        {k: s[k] for k in ("committed", "lost", "discarded", "fill", "slots", "name")}
        | {
            "groups": [{"consumed": g["consumed"], "pending": g["pending"]} for g in s["groups"]],
        },
    )


def where_am_i(out):
    """Proves that a child could import this module (spawn/forkserver import it by name)."""
    dump(out, {"file": __file__, "pid": os.getpid(), "main": sys.modules["__main__"].__name__})


def metadata_reader(setup, n, out):
    """Read n events and report their metadata and data."""
    r = bm.Reader(setup)
    rows = []
    for _ in range(n):
        v = r.get(timeout=TIMEOUT)
        rows.append({"meta": list(r.get_metadata()), "data": v.tolist() if v.dtype.names is None else None})
    r.close()
    dump(out, {"rows": rows})


def dtype_probe(setup, out):
    """Report how a child sees the dtype of a setup dict and of the views it gets."""
    r = bm.Reader(setup)
    v = r.get(timeout=TIMEOUT)
    dump(
        out,
        {
            "setup_dtype": repr(setup["dtype"]),
            "reader_dtype": repr(r.dtype),
            "view_dtype": str(v.dtype),
            "names": list(v.dtype.names or ()),
            "shape": list(v.shape),
            "first": [float(v[name][0]) for name in v.dtype.names] if v.dtype.names else [float(v[0])],
        },
    )
    r.close()


# ---- creator processes (run with ``python -c``, see test_ring_faults.py) -------------------------------


def _orphan_reader(setup):
    """A child of the creator: read until shutdown, or until the creator is gone."""
    parent = os.getppid()
    r = bm.Reader(setup)
    while os.getppid() == parent:
        try:
            r.get(timeout=0.2)
        except RingTimeout:
            continue
        except SystemExit:
            break
    os._exit(0)


def creator_main(report: str, with_children: bool, no_tracker: bool) -> None:
    """Create a buffer (and maybe two reader children), write a few events, report, then wait.

    ``no_tracker``: keep multiprocessing's resource tracker out of the game, so that only
    mimocorb's own cleanup can remove what a killed creator leaves behind.
    """
    import multiprocessing as mp
    from multiprocessing import resource_tracker

    if no_tracker:
        resource_tracker.register = lambda *a, **k: None
        resource_tracker.unregister = lambda *a, **k: None
    buf = bm.NewBuffer(8, 16, EVENT_DTYPE)
    group = buf.new_reader_group()
    children = []
    if with_children:
        ctx = mp.get_context("fork")
        for _ in range(2):
            p = ctx.Process(target=_orphan_reader, args=(group,), daemon=True)
            p.start()
            children.append(p.pid)
    w = bm.Writer(buf.new_writer())
    for seq in range(3):
        fill_event(w.get_new_buffer(timeout=TIMEOUT), 0, seq)
    w.process_buffer()
    mine = f"mimocorb_{os.getpid()}_"
    names = sorted(e.name for e in Path("/dev/shm").iterdir() if e.name.removeprefix("sem.").startswith(mine))
    dump(report, {"pid": os.getpid(), "children": children, "name": buf.name, "entries": names})
    _sleep_forever()


def path_probe(out):
    """Report which path this process runs and whether the compiled module was imported."""
    from mimocorb.ring import fast_path

    dump(out, {"path": fast_path(), "compiled_loaded": "mimocorb.ring._fastring" in sys.modules})
