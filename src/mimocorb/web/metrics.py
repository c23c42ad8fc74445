"""``/metrics``: the live run's figures in the Prometheus text format, from the newest status snapshot.

Each scrape reads the snapshot the controller published last (at most 0.25 s old) and turns it into
metric families; nothing is counted here, so a scrape never costs the run anything. The families come
from the functions of ``FAMILIES``, one per part of the snapshot: a new part of the snapshot (alarms,
for instance) is one more function there.

Names follow Prometheus' conventions: ``mimocorb_`` first, counters end in ``_total`` (they start again
with each run, which ``rate()`` takes in its stride), units in the name (``_seconds``, ``_hz``, ``_ratio``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric

from .. import __version__

Snapshot = Mapping[str, Any]


def run_families(s: Snapshot) -> Iterator[Metric]:
    """The run as a whole: what it is, its state, its clock and its events."""
    info = {
        "version": __version__,
        "setup": str(s.get("setup") or ""),
        "run_directory": str(s.get("run_directory") or ""),
    }
    yield InfoMetricFamily("mimocorb_run", "the run: mimocorb version, setup file, run directory", value=info)
    state = GaugeMetricFamily("mimocorb_run_state", "1 for the state the run is in", labels=["state"])
    state.add_metric([str(s.get("state"))], 1.0)
    yield state
    yield GaugeMetricFamily(
        "mimocorb_run_active_seconds", "active time (pauses excluded)", value=s["active_time"]
    )
    yield CounterMetricFamily("mimocorb_run_events", "events in the first buffer", value=s["events"])
    if s.get("progress") is not None:
        yield GaugeMetricFamily(
            "mimocorb_run_progress_ratio", "share of the end condition reached", value=s["progress"]
        )
    yield GaugeMetricFamily(
        "mimocorb_snapshot_timestamp_seconds", "Unix time of these figures", value=s["time"]
    )


def buffer_families(s: Snapshot) -> Iterator[Metric]:
    """Per buffer: events, rate, fill, dead time, lost events, and what each consumer has still to read."""
    buffers = list(s.get("buffers") or ())
    families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
        "events": CounterMetricFamily(
            "mimocorb_buffer_events", "events written into the buffer", labels=["buffer"]
        ),
        "rate_hz": GaugeMetricFamily("mimocorb_buffer_rate_hz", "recent event rate", labels=["buffer"]),
        "fill": GaugeMetricFamily(
            "mimocorb_buffer_fill_slots", "slots holding unread events", labels=["buffer"]
        ),
        "slots": GaugeMetricFamily("mimocorb_buffer_slots", "slots of the buffer", labels=["buffer"]),
        "lost": CounterMetricFamily(
            "mimocorb_buffer_lost_events", "events lost (buffer full)", labels=["buffer"]
        ),
    }
    for b in buffers:
        for key, family in families.items():
            family.add_metric([b["name"]], b[key])
    yield from families.values()
    deadtime = GaugeMetricFamily(
        "mimocorb_buffer_deadtime_ratio", "share of time writers waited", labels=["buffer"]
    )
    pending = GaugeMetricFamily(
        "mimocorb_buffer_pending_events", "events a consumer has still to read", labels=["buffer", "consumer"]
    )
    for b in buffers:
        if b["deadtime"] >= 0:  # below 0: not measured
            deadtime.add_metric([b["name"]], b["deadtime"])
        for consumer in b.get("consumers") or ():
            pending.add_metric([b["name"], consumer["label"]], consumer["pending"])
    yield deadtime
    yield pending


def worker_families(s: Snapshot) -> Iterator[Metric]:
    """Per worker process: alive or not, and how often it was restarted."""
    labels = ["worker", "function"]
    alive = GaugeMetricFamily("mimocorb_worker_alive", "1 while the worker process runs", labels=labels)
    restarts = CounterMetricFamily("mimocorb_worker_restarts", "restarts of the worker", labels=labels)
    for w in s.get("workers") or ():
        names = [str(w["name"]), str(w["function"])]
        alive.add_metric(names, 1.0 if w["state"] == "running" else 0.0)
        restarts.add_metric(names, w["restarts"])
    yield alive
    yield restarts


FAMILIES: tuple[Callable[[Snapshot], Iterable[Metric]], ...] = (
    run_families,
    buffer_families,
    worker_families,
)


class SnapshotCollector:
    """What the registry collects: the families of one snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        for families in FAMILIES:
            yield from families(self.snapshot)


def exposition(snapshot: Snapshot) -> tuple[bytes, str]:
    """The snapshot in the Prometheus text format, and that format's content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry), CONTENT_TYPE_LATEST
