"""The run's own network workers and what the controller keeps of their link reports.

A buffer with ``serve`` gets one process running ``serve_link`` (its network reader groups, made with
the buffer so nothing is missed); a buffer with ``connect`` gets one process running ``connect_link``
as its writer. Both are ordinary supervised worker processes. Their link statistics and the reason a
connect link ended travel over the worker's message pipe (``child.send_message``), which the
controller's loop already waits on: no thread, no extra socket.

In the controller, ``LinkBoard`` keeps the latest report of every link and says what it means: the
status line part, the per-buffer columns of stats.csv, the ``links`` of run_summary.json and of the
dashboard, and the one-off messages (a receiver gone, the serving run gone).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import BufferLayout
from .child import WorkerSpec, send_message
from .plan import connect_key, serve_key

LINK_STATS = "link-stats"
LINK_END = "link-end"
CSV_COLUMNS = (
    "links",
    "link_peers",
    "link_sent",
    "link_acked",
    "link_resent",
    "link_reconnects",
    "link_bytes",
    "link_rate_hz",
)


# ---- in the worker process ------------------------------------------------------------------------


def serve_link(source_list, sink_list, observe_list, config_dict, **rb_info) -> None:
    """Worker function of a served buffer: its reader groups (``source_list``, in ``groups`` order)
    and an observer for remote observers."""
    from ..net import ServeOptions, serve_worker

    buffer = config_dict["buffer"]
    groups = dict(zip(config_dict["groups"], source_list, strict=True))
    options = ServeOptions(**config_dict["options"])
    print(f"{buffer}: served at {options.address} (groups {', '.join(groups)})")
    serve_worker(groups, observe_list[0] if observe_list else None, options, _reporter(buffer))


def connect_link(source_list, sink_list, observe_list, config_dict, **rb_info) -> None:
    """Worker function of a connected buffer: its only writer. The reason the link ended goes to the
    controller, which decides what it means for the run; a refusal (NetError) is raised."""
    from ..net import ConnectOptions, connect_worker

    buffer = config_dict["buffer"]
    options = ConnectOptions(**config_dict["options"])
    print(
        f"{buffer}: fed from {options.address} (group {options.group}, {options.mode}, "
        f"link {options.link_id})"
    )
    reason = connect_worker(sink_list[0], options, _reporter(buffer))
    send_message((LINK_END, buffer, reason))


def _reporter(buffer: str) -> Callable[[Any], None]:
    def report(stats: Any) -> None:
        send_message((LINK_STATS, buffer, stats.as_dict()))

    return report


# ---- in the controller ------------------------------------------------------------------------------


def link_id(setup_file: str, buffer: str) -> str:
    """The receiver's name at the server: the same for every restart of the connect process of this run
    (so the server resends exactly what was not committed), different for any other run (the
    controller's pid is part of it: two runs of the same setup on one host are two receivers)."""
    return (
        f"{socket.gethostname()}-{os.path.splitext(os.path.basename(setup_file))[0]}-{buffer}-{os.getpid()}"
    )


def link_specs(
    layout: BufferLayout, setups: dict[str, Any], link: str, log_level: int, run_dir: Path | None = None
) -> list[WorkerSpec]:
    """The specs of the buffer's network workers; ``setups``: ``groups`` (reader setup dicts in order),
    ``observer`` and ``writer`` setup dicts as the buffer needs them. In ``run_dir`` the serve worker
    keeps the ids of its receivers, for its restart."""
    specs = []
    if layout.serve is not None:
        s = layout.serve
        options: dict[str, Any] = {"address": s.address, "secret_key": s.secret_key}
        options.update(client_keys=s.client_keys, insecure=s.insecure, observe_interval=s.observe_interval)
        if run_dir is not None:
            options["links_file"] = str(run_dir / f"serve_{layout.name}.links")
        config = {"buffer": layout.name, "groups": list(s.groups), "options": options}
        specs.append(
            _spec(
                serve_key(layout.name),
                "serve_link",
                config,
                log_level,
                read=setups["groups"],
                observe=[setups["observer"]],
            )
        )
    if layout.connect is not None:
        c = layout.connect
        options = {
            "address": c.address,
            "group": c.group,
            "mode": c.mode,
            "secret_key": c.secret_key,
            "server_key": c.server_key,
            "insecure": c.insecure,
            "peer_timeout": c.timeout,
            "link_id": link,
        }
        config = {"buffer": layout.name, "options": options}
        specs.append(
            _spec(connect_key(layout.name), "connect_link", config, log_level, write=[setups["writer"]])
        )
    return specs


def _spec(
    key: str,
    name: str,
    config: dict,
    log_level: int,
    read: Any = None,
    write: Any = None,
    observe: Any = None,
) -> WorkerSpec:
    return WorkerSpec(
        key=key,
        fkt_name=name,
        module_name=__name__,
        module_file="",
        instance=0,
        source_list=read,
        sink_list=write,
        observe_list=observe,
        config_dict=config,
        rb_info={},
        log_level=log_level,
        builtin=True,
    )


class LinkBoard:
    """The latest report of every link, by buffer (see the module docstring)."""

    def __init__(self, note: Callable[[str, int], None], addresses: dict[str, str]) -> None:
        self.note = note
        self.addresses = addresses  # connected buffer -> the serving run's address
        self.links: dict[tuple[str, str, str], dict[str, Any]] = {}  # (buffer, role, link) -> report

    def update(self, buffer: str, report: dict[str, Any], running: bool) -> None:
        """A new report; ``running``: the run is taking data (a receiver leaving now is news)."""
        key = (buffer, str(report.get("role")), str(report.get("link")) or str(report.get("peer")))
        before = self.links.get(key, {}).get("state")
        arrow = "<-" if report.get("role") == "connect" else "->"
        name = f"{buffer}{arrow}{report.get('peer') or report.get('link') or '?'}"
        self.links[key] = {"buffer": buffer, "name": name, **report}
        state = report.get("state")
        if state != before and report.get("role") == "serve" and report.get("link"):
            self._serve_change(buffer, report, running)

    def _serve_change(self, buffer: str, report: dict[str, Any], running: bool) -> None:
        peer = report.get("peer") or report.get("link")
        if report["state"] == "connected":
            self.note(f"{buffer}: receiving run {peer} connected (group {report.get('group')})", 1)
        elif report["state"] in ("gone", "ended") and running:
            how = "is gone" if report["state"] == "gone" else "has ended"
            self.note(
                f"{buffer}: the receiving run {peer} {how} ({report.get('message') or 'no reason given'}); "
                "its unacknowledged events are held for a reconnect",
                0,
            )

    def take_message(self, item: Any, running: bool, received: Callable[[str], int]) -> bool:
        """A network worker's link report, or why its link ended; True if the serving run is gone, so
        that the run ends with what came (``received(buffer)``: the events it holds).

        end-of-stream: the serving run ended and all it sent is committed (the exit that follows is a
        source's exhaustion); peer-timeout or connect-timeout: the serving run vanished.
        """
        if not (isinstance(item, tuple) and len(item) == 3):
            return False
        kind, buffer, payload = item
        if kind == LINK_STATS:
            self.update(buffer, payload, running)
        elif kind == LINK_END and payload == "end-of-stream":
            address = self.addresses.get(buffer, "?")
            self.note(f"{buffer}: the serving run at {address} ended; every event it sent is here", 1)
        elif kind == LINK_END and payload in ("peer-timeout", "connect-timeout"):
            self.note(self.gone_message(buffer, received(buffer)), 0)
            return True
        return False

    def gone_message(self, buffer: str, received: int) -> str:
        address = self.addresses.get(buffer, "?")
        return (
            f"{buffer}: the serving run at {address} is gone (no word from it within the timeout); "
            f"ending the run with the {received} event(s) received"
        )

    def of_buffer(self, buffer: str) -> list[dict[str, Any]]:
        return [r for (b, _, _), r in self.links.items() if b == buffer]

    def status(self, full: set[str]) -> str:
        """``RB_1<-tcp://host:5555 340Hz`` per connected buffer, ``RB_1->2 links 340Hz`` per served one;
        ``full``: the buffers without a free slot (a link into one waits for its readers, not for data)."""
        parts = []
        for buffer in dict.fromkeys(b for b, _, _ in self.links):
            reports = self.of_buffer(buffer)
            for r in (r for r in reports if r["role"] == "connect"):
                state = "waiting for its readers" if buffer in full else _link_state(r)
                parts.append(f"{buffer}<-{self.addresses.get(buffer, r['peer'])} {state}")
            served = [r for r in reports if r["role"] == "serve" and r.get("link")]
            if served:
                live = [r for r in served if r["state"] == "connected"]
                rate = sum(float(r["rate"]) for r in live)
                parts.append(f"{buffer}->{len(live)} link(s) {rate:.0f}Hz")
        return "  ".join(parts)

    def csv_values(self, buffer: str) -> tuple[Any, ...]:
        """The link columns of a buffer's stats.csv row (empty for a buffer without links)."""
        reports = [r for r in self.of_buffer(buffer) if r.get("link")]
        if not reports:
            return ("",) * len(CSV_COLUMNS)
        total = {k: sum(int(r[k]) for r in reports) for k in ("events_sent", "events_acked", "events_resent")}
        return (
            sum(r["state"] == "connected" for r in reports),
            ";".join(str(r["peer"] or r["link"]) for r in reports),
            total["events_sent"],
            total["events_acked"],
            total["events_resent"],
            sum(int(r["reconnects"]) for r in reports),
            sum(int(r["bytes"]) for r in reports),
            f"{sum(float(r['rate']) for r in reports):.3f}",
        )

    def summary(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.links.values()]


def _link_state(report: dict[str, Any]) -> str:
    if report["state"] == "connected":
        rate = float(report["rate"])
        return f"{rate:.0f}Hz" if rate > 0 else "waiting for data"
    return {"waiting": "waiting for the server"}.get(report["state"], str(report["state"]))
