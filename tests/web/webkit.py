"""Helpers of the web tests: finished runs made by `mimocorb run`, `mimocorb serve`, HTTP and the browser.

The browser is Debian's chromium driven by Playwright (its own browser downloads are never used); where
chromium or Playwright is missing the browser tests are skipped and say which.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from support import finish, mimocorb_command, read_log, run_dirs, start, wait_for_run_dir, wait_until

from mimocorb.web.headless import CHROMIUM_FLAGS

HERE = Path(__file__).parent
MODS = HERE / "webmods"
CHROMIUM_ARGS = list(CHROMIUM_FLAGS)
HTTP_TIMEOUT = 10.0
TICK_SETUP = """\
output_directory: target
GUI_control: false
RingBuffer:
  - RB_1: {{number_of_slots: 8, channel_per_slot: 1, data_type: {{1: [value, int64]}}}}
Functions:
  - Fkt_main: {{}}
  - Fkt_1: {{file_name: {mods}/ticks, fkt_name: tick_source, num_process: 1, RB_assign: {{RB_1: write}}}}
  - Fkt_2: {{file_name: {mods}/ticks, fkt_name: tick_sink, num_process: 1, RB_assign: {{RB_1: read}}}}
FunctionConfigs:
  tick_source: {{sleep: 0.005}}
  tick_sink: {{}}
"""


TOKEN = "web-test-token-0123"
DASHBOARD_LINE = re.compile(r"web: dashboard at (http://\S+)/ \(server pid (\d+)\)")


def tick_setup(
    directory: Path, name: str = "ticks.yaml", say: str | None = None, web: str | None = None
) -> Path:
    """The tick setup in ``directory``; ``say`` is a line the source prints now and then, ``web`` the
    value of the setup key ``web`` (YAML text)."""
    text = TICK_SETUP.format(mods=MODS)
    if say is not None:
        text = text.replace(
            "tick_source: {sleep: 0.005}", f"tick_source: {{sleep: 0.005, say: {json.dumps(say)}}}"
        )
    if web is not None:
        text = text.replace("GUI_control: false\n", f"GUI_control: false\nweb: {web}\n")
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


class DashboardRun:
    """`mimocorb run SETUP --web 127.0.0.1:0 --web-token TOKEN` in a child process, with the dashboard's
    address and the server's pid as the run wrote them to run.log."""

    def __init__(self, directory: Path, setup: Path, *extra: str) -> None:
        args = ["run", str(setup), "--no-kbd", "--web", "127.0.0.1:0", "--web-token", TOKEN, *extra]
        self.proc = start(mimocorb_command(*args), directory)
        self.run_dir = wait_for_run_dir(directory / "target", 30.0, holding="run.log")
        found = wait_until(
            lambda: DASHBOARD_LINE.search(read_log(self.run_dir)), 30.0, "the dashboard in run.log"
        )
        self.base = found.group(1)
        self.server_pid = int(found.group(2))
        self.url = f"{self.base}/?token={TOKEN}"

    def status(self) -> dict[str, Any]:
        return get_json(self.base + "/api/status")

    def wait_for_state(self, state: str, timeout: float = 20.0) -> dict[str, Any]:
        return wait_until(lambda: (s := self.status())["state"] == state and s, timeout, f"state {state!r}")

    def finish(self, timeout: float = 60.0) -> str:
        """The run's output once it has ended (the server's linger included)."""
        return finish(self.proc, timeout)


# evaluated through the browser's debugging protocol: the page's own policy forbids eval (waiting with
# Playwright's wait_for_function would need it)
PICTURE_LOADED = "document.querySelector('#run-pictures img').naturalWidth > 0"


def assert_no_injection(page: Any) -> None:
    """Markup from the run never became elements: no script ran, no foreign image exists."""
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("document.querySelectorAll('main script, img[src=\"x\"]').length") == 0


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if chromium() is None:
        return "chromium is not installed (apt-get install chromium; .ci/run does it as root)"
    return None


def make_run(directory: Path, setup_name: str, runtime: float = 1.0) -> Path:
    """One real, finished run of the tick setup; returns its run directory."""
    setup = directory / setup_name
    setup.write_text(TICK_SETUP.format(mods=MODS), encoding="utf-8")
    output = directory / "runs"
    before = set(run_dirs(output))
    command = [sys.executable, "-m", "mimocorb", "run", str(setup), "--runtime", str(runtime)]
    command += ["--no-kbd", "--no-gui", "--output", str(output), "-v", "1"]
    proc = start(command, directory)
    out = finish(proc, 60.0)
    assert proc.returncode == 0, out
    (new,) = set(run_dirs(output)) - before
    assert (new / "run_summary.json").is_file(), out
    return new


class Served:
    """`mimocorb serve DIR` in a child process, with the URL it printed."""

    def __init__(self, directory: Path, *extra: str) -> None:
        command = [sys.executable, "-m", "mimocorb", "serve", str(directory), "--web", "127.0.0.1:0", *extra]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = _first_line(self.proc, 30.0)  # the server prints its URL first, or fails with a message
        if "http://" not in line:
            self.close()
            raise AssertionError(f"mimocorb serve did not start: {line}")
        self.url = line[line.index("http://") :].strip()
        self.base = self.url.split("?")[0].rstrip("/")
        self.token = self.url.split("token=")[1] if "token=" in self.url else ""

    def close(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out or ""


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The child's first line of output, or "" if none came within ``timeout`` s (readline alone would
    wait for ever on a child that hangs before printing)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


def request(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """(status, body) of one HTTP request; HTTP errors are answers too."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    status, body = request(url, headers=headers)
    assert status == 200, (url, status, body[:300])
    return json.loads(body)


def command(base: str, word: str, token: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    status, _ = request(base + "/api/command", "POST", {"command": word}, headers)
    return status


def not_blank(png: bytes) -> bool:
    """A screenshot with more than a handful of distinct colours shows something."""
    import io

    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(io.BytesIO(png), format="png")
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    return len(colours) > 20


# ============================================================================ a live run, by hand ====
EVENT_DTYPE = [("chA", "f8"), ("x", "f8")]
SAMPLES = 200
SCOPE_CONFIG = {
    "title": "Scope <b>of</b> RB_1",
    "sample_time_ns": 4,
    "analogue_offset": -0.48,
    "trigger_level": -440,
}
HISTOGRAM_CONFIG = {
    "title": "Histograms",
    "histograms": {"x": [0, 10, 10, 1.0, "x <script>window.__xss = 1</script>", 0]},
}
INJECTION = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


def write_events(setup: dict, sleep: float) -> None:
    """A writer process: sine waves in chA (around the scope's baseline), 0 ... 9 in x."""
    import numpy as np

    from mimocorb.ring import Writer

    writer = Writer(setup)
    t = np.arange(SAMPLES)
    n = 0
    while True:  # SystemExit from slot() when the buffer ends
        n += 1
        with writer.slot() as (data, meta):
            data["chA"] = -480.0 + 100.0 * np.sin(t / 15.0 + n)
            data["x"] = n % 10 + 0.5
            meta["counter"] = n
            meta["timestamp"] = time.time()
        time.sleep(sleep)


def read_events(setup: dict) -> None:
    from mimocorb.ring import Reader

    for _ in Reader(setup):
        pass


class Slot:
    """A worker as a snapshot shows it."""

    def __init__(self, name: str, key: str, process: Any) -> None:
        self.name, self.key, self.process, self.restarts = name, key, process, 0

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def state(self) -> str:
        return "running" if self.process.is_alive() else f"exited ({self.process.exitcode})"


class LiveRun:
    """What a run controller would own: a ring buffer, a writer and a reader process, and a WebLink.

    ``step()`` is one turn of the owner's loop: publish a snapshot, collect commands, never wait.
    """

    def __init__(self, method: str = "fork", host: str = "127.0.0.1", sleep: float = 0.004) -> None:
        import multiprocessing

        from mimocorb.ring import Monitor, RingBuffer
        from mimocorb.run.commands import as_json
        from mimocorb.web import WebLink
        from mimocorb.web.views import find_views

        self.context = multiprocessing.get_context(method)
        self.buffer = RingBuffer(32, SAMPLES, EVENT_DTYPE, name="RB_1")
        self.monitor = Monitor(self.buffer.new_observer())
        reader = self.context.Process(target=read_events, args=(self.buffer.new_reader_group(),))
        writer = self.context.Process(target=write_events, args=(self.buffer.new_writer(), sleep))
        self.workers = [Slot("write_events", "Fkt_1", writer), Slot(f"reader {INJECTION}", "Fkt_2", reader)]
        for w in self.workers:
            w.process.start()
        views = find_views(
            [
                ("Fkt_5 (scope)", SCOPE_CONFIG, ["RB_1"], []),
                ("Fkt_6 (histograms)", HISTOGRAM_CONFIG, [], ["RB_1"]),
            ]
        )
        self.link = WebLink(
            self.context,
            host=host,
            port=0,
            views=views,
            observers={"RB_1": self.buffer.new_observer()},
            commands=as_json(),
        )
        self.url = self.link.wait_ready(30.0)
        assert self.url is not None, f"web server did not start: {self.link.exit_reason()}"
        self.base = f"http://127.0.0.1:{self.link.port}"
        self.commands: list[str] = []
        self.state = "running"
        self.t0 = time.monotonic()

    def step(self) -> bool:
        """Publish the newest snapshot; returns whether the server took it."""
        from mimocorb.run.status import BufferSample
        from mimocorb.web import build_snapshot

        self.commands += self.link.commands()
        sample = BufferSample.from_stats("RB_1", self.monitor.stats())
        snapshot = build_snapshot(
            state=self.state,
            active_time=time.monotonic() - self.t0,
            samples=[sample],
            workers=self.workers,
            consumers={"RB_1": [("Fkt_2 (read_events)", sample.fill)]},
            runtime=60.0,
            progress=(time.monotonic() - self.t0) / 60.0,
        )
        return self.link.publish(snapshot)

    def run_for(self, seconds: float, tick: float = 0.1) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.step()
            time.sleep(tick)

    def until(self, condition: Any, timeout: float, what: str) -> Any:
        """Run the owner's loop until ``condition()`` is true."""
        deadline = time.monotonic() + timeout
        while True:
            self.step()
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.1)

    def events(self) -> int:
        return int(self.monitor.stats()["committed"])

    def close(self) -> None:
        self.link.close()
        self.buffer.shutdown(5.0)
        for w in self.workers:
            w.process.join(5.0)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(2.0)
        self.buffer.close()
