#!/usr/bin/env python3
"""What the web dashboard costs a run, and how fresh it is, with several headless browsers watching.

Two setups, each measured without the dashboard and with it open in ``--clients`` headless chromium
pages (Debian's chromium through Playwright):

* ``ring``: this process owns a ring buffer (4 x 1000 float64 per event) with a writer process (paced to
  ``--rate`` Hz, 0 = as fast as it goes) and a reader process, and runs the owner's loop of a controller:
  a snapshot every ``--publish`` s through a ``WebLink``; the oscilloscope and a histogram view observe
  the buffer.
* ``example``: ``mimocorb run`` of the muon-lifetime example (its displays headless), once at full
  speed (the simulator's sleep 0) and once at its own rate of about 1 kHz; each without the dashboard,
  with it (``--web 127.0.0.1:0``) but no page open (what the server itself costs), and with it open in
  ``--clients`` pages. The rate is measured over ``--seconds`` after ``--settle`` s of active time, when
  the pages are open; a run with the dashboard is then ended by the End command through the API.

Columns: events/s of the writer (RB_1), ``ratio`` to the run without the dashboard (target >= 98 %),
``lag`` of the numbers on the page (snapshot made → its events number shown on the page; median and
maximum, target <= 1 s), updates per second of the scope and histogram views shown on the page (changes
of the text the page writes under a view with its picture: the scope's event number, the histograms'
entries; target >= 5 while events flow), the CPU of the web server process and that of all processes
of the pages' browsers together (% of one core). A probe in each page watches what it shows and the
page's own event stream; the pages are tall enough to have every chart in sight (the page does not
draw charts scrolled out of sight). The browsers run on the same machine as the run, so with a
saturated writer (``--rate 0``) the ratio mostly shows the CPU that the browsers themselves take away.

Run:  .venv/bin/python benchmarks/web_bench.py [--setups ring example] [--clients 5] [--seconds 10]
      [--rate 1000] [--settle 8]

It never asserts and exits 0; what it cannot measure (no chromium, no dashboard) it says in the table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from mimocorb.web.headless import CHROMIUM_FLAGS

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SLEEP = 0.001  # the example's own mean wait between triggers: about 1 kHz
SAMPLES = 1000
FIELDS = [("chA", "f8"), ("chB", "f8"), ("chC", "f8"), ("chD", "f8")]
CHROMIUM_ARGS = list(CHROMIUM_FLAGS)
VIEWPORT = {"width": 1280, "height": 2400}  # the whole page in sight: the page draws all its charts
# each page gets a probe that watches what the page shows, on the page's own event stream: the lag of
# the events number on the page (snapshot made -> its number shown) and how often the text under each
# view changed (the scope's event number, the histograms' entries, drawn with the view's picture)
PROBE = """
window.__probe = {lags: [], views: {}};
(() => {
const made = new Map();  // events number of a snapshot -> the time it was made
const Plain = window.EventSource;
window.EventSource = class extends Plain {
  constructor(...args) {
    super(...args);
    this.addEventListener('status', e => {
      const s = JSON.parse(e.data);
      if (!made.has(String(s.events))) made.set(String(s.events), s.time);
      if (made.size > 1000) made.delete(made.keys().next().value);
    });
  }
};
const shown = {};
new MutationObserver(records => {
  const now = Date.now() / 1000;
  for (const r of records) {
    const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
    if (!node || !node.id) continue;
    const text = node.textContent;
    if (node.id === 'events' && made.has(text) && shown.events !== text) {
      window.__probe.lags.push(now - made.get(text));
    } else if (node.id.startsWith('view-info-') && shown[node.id] !== undefined && shown[node.id] !== text) {
      const id = node.id.slice(10);
      window.__probe.views[id] = (window.__probe.views[id] || 0) + 1;
    }
    shown[node.id] = text;
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""


# ---------------------------------------------------------------------------------- workers ----
def write_events(setup: dict, rate: float) -> None:
    from mimocorb.ring import Writer

    writer = Writer(setup)
    wave = -480.0 + 200.0 * np.exp(-np.arange(SAMPLES) / 40.0)
    period = 1.0 / rate if rate > 0 else 0.0
    next_t = time.perf_counter()
    while True:  # SystemExit from slot() at the end
        with writer.slot() as (data, _meta):
            for name, _ in FIELDS:
                data[name] = wave
        if period:
            next_t += period
            pause = next_t - time.perf_counter()
            if pause > 0:
                time.sleep(pause)


def read_events(setup: dict) -> None:
    from mimocorb.ring import Reader

    for _ in Reader(setup):
        pass


# ---------------------------------------------------------------------------------- clients ----
class Clients:
    """``n`` headless pages on the dashboard, each with the probe."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pages: list[Any] = []
        self._pw: Any = None
        self._browser: Any = None

    @staticmethod
    def missing() -> str | None:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            return "playwright not installed"
        return None if shutil.which("chromium") else "chromium not installed"

    def open(self, url: str) -> None:
        if not self.n:
            return
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        for _ in range(self.n):
            page = self._browser.new_page(viewport=VIEWPORT)
            page.add_init_script(PROBE)
            page.goto(url)
            self.pages.append(page)

    def reset(self) -> None:
        for page in self.pages:
            page.evaluate("window.__probe.lags = []; window.__probe.views = {}")

    def results(self) -> tuple[list[float], dict[str, int]]:
        lags: list[float] = []
        views: dict[str, int] = {}
        for page in self.pages:
            probe = page.evaluate("window.__probe")
            lags += probe["lags"]
            for key, count in probe["views"].items():
                views[key] = views.get(key, 0) + count
        return lags, views

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._pw is not None:
            self._pw.stop()


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state is [0], parent [1]), None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = _stat(pid)
    if fields is None:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_cpu() -> dict[int, float]:
    """CPU seconds so far of every chromium process below this one: the browsers of the pages."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(entry.name) if entry.name.isdigit() else None
        if fields is not None:
            parents[int(entry.name)] = int(fields[1])
    mine, out = os.getpid(), {}
    for pid in parents:
        up = parents.get(pid)
        while up is not None and up != mine:
            up = parents.get(up)
        if up == mine and _comm(pid).startswith("chrom"):
            out[pid] = cpu_seconds(pid)
    return out


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def browser_load(before: dict[int, float], elapsed: float) -> float:
    """% of one core the browsers used since ``before`` (``browser_cpu``), all processes together."""
    now = browser_cpu()
    used = sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items() if cpu == cpu)
    return 100.0 * used / elapsed


# ------------------------------------------------------------------------------------ setups ----
def bench_ring(args: argparse.Namespace, web: bool) -> dict[str, Any]:
    from mimocorb.ring import Monitor, RingBuffer
    from mimocorb.run.status import BufferSample
    from mimocorb.web import WebLink, build_snapshot
    from mimocorb.web.views import find_views

    context = multiprocessing.get_context("fork")
    buffer = RingBuffer(128, SAMPLES, FIELDS, name="RB_1")
    monitor = Monitor(buffer.new_observer())
    procs = [
        context.Process(target=read_events, args=(buffer.new_reader_group(),)),
        context.Process(target=write_events, args=(buffer.new_writer(), args.rate)),
    ]
    for p in procs:
        p.start()
    link = clients = None
    row: dict[str, Any] = {"setup": "ring", "web": web, "pages": args.clients}
    try:
        if web:
            scope = {"sample_time_ns": 4, "analogue_offset": -0.48, "title": "RB_1"}
            hist = {"histograms": {"chA": [-600, 0, 50, 1.0, "chA[0]", 0]}}
            views = find_views([("scope", scope, ["RB_1"], []), ("hist", hist, ["RB_1"], [])])
            link = WebLink(context, views=views, observers={"RB_1": buffer.new_observer()})
            url = link.wait_ready(30.0)
            clients = Clients(args.clients)
            if url is not None and not Clients.missing():
                clients.open(url)
        time.sleep(1.0)  # settle
        if clients is not None:
            clients.reset()
        start_events, t0 = monitor.stats()["committed"], time.monotonic()
        cpu0 = cpu_seconds(link.process.pid) if link is not None else 0.0
        pages0 = browser_cpu()
        while time.monotonic() - t0 < args.seconds:
            if link is not None:
                sample = BufferSample.from_stats("RB_1", monitor.stats())
                link.publish(
                    build_snapshot(state="running", active_time=time.monotonic() - t0, samples=[sample])
                )
                link.commands()
            time.sleep(args.publish)
        elapsed = time.monotonic() - t0
        row["rate"] = (monitor.stats()["committed"] - start_events) / elapsed
        if link is not None:
            row["cpu"] = 100.0 * (cpu_seconds(link.process.pid) - cpu0) / elapsed
        if clients is not None and clients.pages:
            row["pages_cpu"] = browser_load(pages0, elapsed)
            row.update(_page_figures(clients, elapsed))
        elif web:
            row["note"] = Clients.missing() or "no dashboard"
    finally:
        if clients is not None:
            clients.close()
        if link is not None:
            link.close()
        buffer.shutdown(5.0)
        for p in procs:
            p.join(5.0)
        buffer.close()
    return row


RING_VIEWS = {"v0": "scope", "v1": "histograms"}


def _page_figures(clients: Clients, elapsed: float, kinds: dict[str, str] = RING_VIEWS) -> dict[str, Any]:
    """Lag of the numbers and updates per second and page of the scope and histogram views (the
    slowest view of each kind)."""
    lags, views = clients.results()
    per_page = {k: views.get(k, 0) / clients.n / elapsed for k in kinds}

    def slowest(kind: str) -> float:
        rates = [rate for k, rate in per_page.items() if kinds[k] == kind]
        return min(rates) if rates else float("nan")

    return {
        "lag_median": statistics.median(lags) if lags else float("nan"),
        "lag_max": max(lags) if lags else float("nan"),
        "scope_hz": slowest("scope"),
        "hist_hz": slowest("histograms"),
    }


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def example_copy(work: Path, sleeptime: float) -> Path:
    """The example directory in ``work`` with the simulator's mean sleep set (0 = full speed)."""
    target = work / f"example_{sleeptime:g}"
    shutil.copytree(REPO / "examples", target, ignore=shutil.ignore_patterns("target", "__pycache__"))
    config = target / "config" / "simulation_config.yaml"
    text, n = re.subn(r"(?m)^(  sleeptime:) [0-9.]+", rf"\g<1> {sleeptime}", config.read_text(), count=1)
    if n != 1:
        raise SystemExit(f"no sleeptime in {config}")
    config.write_text(text)
    return target


class Output:
    """The lines of a child's output, read by a thread, so that waiting for one has a deadline."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float) -> re.Match | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        return None


def window_rate(run_dir: Path, start: float) -> float:
    """Events/s of RB_1 from stats.csv between active time ``start`` and the last running sample."""
    import csv

    with (run_dir / "stats.csv").open(newline="") as file:
        rows = [r for r in csv.DictReader(file) if r["buffer"] == "RB_1" and r["state"] == "running"]
    rows = [r for r in rows if float(r["active_s"]) >= start]
    if len(rows) < 2:
        return float("nan")
    first, last = rows[0], rows[-1]
    return (int(last["events"]) - int(first["events"])) / (float(last["active_s"]) - float(first["active_s"]))


def bench_example(
    args: argparse.Namespace, pages: int | None, sleeptime: float, work: Path
) -> dict[str, Any]:
    """The example through ``mimocorb run`` (displays headless); ``pages`` None: without the dashboard,
    else with it and that many pages open.

    Without the dashboard the run lasts ``--settle`` + ``--seconds`` s and its rate is that of stats.csv
    after the settling time. With it, the pages open first (however long that takes on a loaded
    machine), then the window of ``--seconds`` s is measured through the API and the run is ended with
    the End command.
    """
    name = "example" if sleeptime == 0 else f"ex {1 / sleeptime:g}Hz"
    row: dict[str, Any] = {"setup": name, "web": pages is not None, "pages": pages or 0}
    directory = work / f"example_{sleeptime:g}"
    if not directory.exists():
        example_copy(work, sleeptime)
    out = directory / f"runs_{pages}"
    runtime = args.settle + args.seconds + (0.0 if pages is None else 300.0)  # with pages: a fallback
    command = [sys.executable, "-m", "mimocorb", "run", "simulsource_setup.yaml", "--runtime", str(runtime)]
    command += ["--no-kbd", "--no-gui", "--output", str(out)]
    token = secrets.token_urlsafe(16)
    if pages is not None:
        command += ["--web", "127.0.0.1:0", f"--web-token={token}"]  # a token may start with "-"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("DISPLAY", None)  # the example's displays draw PNG files
    proc = subprocess.Popen(
        command,
        cwd=directory,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output = Output(proc)
    clients = Clients(pages or 0)
    try:
        if pages is not None:
            _watch(args, output, clients, row, token)
        if output.wait_for(r"run directory:", runtime + 60.0) is None:
            row["note"] = "the run did not end: " + "".join(output.seen[-3:]).strip()
            return row
        proc.wait(30)
    finally:
        clients.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run_dirs = [p.parent for p in out.glob("*/run_summary.json")]
    if not run_dirs:
        row["note"] = "run failed: " + "".join(output.seen[-3:]).strip()
    elif pages is None:
        row["rate"] = window_rate(run_dirs[0], args.settle)
    return row


def _watch(
    args: argparse.Namespace, output: Output, clients: Clients, row: dict[str, Any], token: str
) -> None:
    """Open the pages on the run's dashboard, measure the run, the pages and the server for
    ``--seconds`` after ``--settle`` s of active time, then end the run."""
    server = output.wait_for(r"server pid (\d+)", 60.0)
    url = output.wait_for(r"Dashboard: (http://\S+)", 10.0)
    if server is None or url is None:
        row["note"] = "no dashboard in the run's output"
        return
    base = url.group(1).split("?")[0].rstrip("/")
    if clients.n and Clients.missing():
        row["note"] = str(Clients.missing())
    elif clients.n:
        clients.open(url.group(1))
    pid = int(server.group(1))
    kinds = {v["id"]: v["kind"] for v in _get(base + "/api/views")["layouts"]}
    deadline = time.monotonic() + args.settle + 60.0
    while _get(base + "/api/status")["active_time"] < args.settle and time.monotonic() < deadline:
        time.sleep(0.25)
    clients.reset()
    first, t0, cpu0, pages0 = _get(base + "/api/status"), time.monotonic(), cpu_seconds(pid), browser_cpu()
    time.sleep(args.seconds)
    last, elapsed = _get(base + "/api/status"), time.monotonic() - t0
    row["cpu"] = 100.0 * (cpu_seconds(pid) - cpu0) / elapsed
    row["rate"] = (last["events"] - first["events"]) / max(last["active_time"] - first["active_time"], 1e-9)
    if clients.pages:
        row["pages_cpu"] = browser_load(pages0, elapsed)
        row.update(_page_figures(clients, elapsed, kinds))
    request = urllib.request.Request(
        base + "/api/command",
        data=json.dumps({"command": "end"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


# ------------------------------------------------------------------------------------- table ----
def _dashboard(row: dict[str, Any]) -> str:
    if not row["web"]:
        return "none"
    return f"{row['pages']} pages" if "pages" in row else "open"


def table(rows: list[dict[str, Any]]) -> str:
    def num(value: Any, fmt: str) -> str:
        width = int(fmt.split(".")[0] or 0)
        ok = isinstance(value, (int, float)) and value == value
        return format(value, fmt) if ok else "-".rjust(width)

    head = (
        f"{'setup':10} {'dashboard':9} {'events/s':>10} {'ratio %':>8} {'lag med s':>10} {'lag max s':>10} "
    )
    head += f"{'scope/s':>8} {'hist/s':>7} {'cpu %':>6} {'pages %':>8}  note"
    out = [head, "-" * len(head)]
    base: dict[str, float] = {}
    for r in rows:
        if not r["web"] and "rate" in r:
            base[r["setup"]] = r["rate"]
        ratio = 100 * r["rate"] / base[r["setup"]] if r.get("rate") and base.get(r["setup"]) else None
        out.append(
            f"{r['setup']:10} {_dashboard(r):9} {num(r.get('rate'), '10.0f')} "
            f"{num(ratio, '8.1f')} {num(r.get('lag_median'), '10.3f')} {num(r.get('lag_max'), '10.3f')} "
            f"{num(r.get('scope_hz'), '8.1f')} {num(r.get('hist_hz'), '7.1f')} {num(r.get('cpu'), '6.1f')} "
            f"{num(r.get('pages_cpu'), '8.1f')}  "
            f"{r.get('note', '')}"
        )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setups", nargs="+", choices=("ring", "example"), default=["ring", "example"])
    parser.add_argument("--clients", type=int, default=5, help="headless pages on the dashboard (5)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per run (10)")
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="writer rate of the ring setup, 0 = free (1000)"
    )
    parser.add_argument(
        "--publish", type=float, default=0.25, help="s between snapshots of the ring setup (0.25, as a run)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=8.0,
        help="s of an example run before the window, for the pages to open (8)",
    )
    parser.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    args = parser.parse_args()
    rows = []
    for setup in args.setups:
        if setup == "ring":
            for web in (False, True):
                rows.append(bench_ring(args, web))
                print(f"  ring {'with' if web else 'without'} dashboard: done", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory() as work:
            for sleeptime in (0.0, EXAMPLE_SLEEP):
                for pages in (None, 0, args.clients):
                    rows.append(bench_example(args, pages, sleeptime, Path(work)))
                    speed = "full speed" if sleeptime == 0 else "at 1 kHz"
                    print(f"  example {speed}, {_dashboard(rows[-1])}: done", file=sys.stderr)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
