"""The pieces of the web package that need no server: addresses, snapshots, views, run directories."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mimocorb._hosts import is_loopback_host
from mimocorb.run.status import BufferSample
from mimocorb.web import build_snapshot, parse_address, url_of
from mimocorb.web.access import Access
from mimocorb.web.runs import RunStore
from mimocorb.web.views import HistogramsView, ScopeView, find_views, observed_buffers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8080", ("127.0.0.1", 8080)),
        ("0.0.0.0:9000", ("0.0.0.0", 9000)),
        ("localhost:1", ("localhost", 1)),
        ("[::1]:8080", ("::1", 8080)),
    ],
)
def test_address_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "1.2.3.4:", "1.2.3.4:70000", ":80", "[::1:80"])
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"PORT|port"):
        parse_address(text)


def test_loopback_and_urls() -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("::1") and is_loopback_host("localhost")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("192.168.1.5")
    assert url_of("127.0.0.1", 8080, "abc") == "http://127.0.0.1:8080/?token=abc"
    assert url_of("::1", 80, None) == "http://[::1]:80/"


def test_token_verdicts() -> None:
    access = Access("s3cret", open_reading=True)
    assert [access.verdict(t) for t in (None, "", "wrong", "s3cret")] == [401, 401, 403, 200]


@dataclass
class Slot:
    """A worker slot as the controller holds it: the attributes the snapshot reads."""

    name: str
    key: str
    pid: int | None
    state: str
    restarts: int = 0


def test_snapshot_from_controller_values_is_json() -> None:
    samples = [
        BufferSample("RB_1", events=120, fill=3, slots=16, rate=250.0, deadtime=0.125, lost=0),
        BufferSample("RB_2", events=12, fill=0, slots=8, rate=25.0, deadtime=0.0, lost=1),
    ]
    workers = [Slot("source", "Fkt_1", 101, "running"), Slot("filter#1", "Fkt_2", None, "created")]
    snap = build_snapshot(
        state="running",
        active_time=4.56789,
        samples=samples,
        workers=workers,
        consumers={"RB_1": [("Fkt_2 (filter)", 3)]},
        progress=0.25,
        runtime=20.0,
    )
    again = json.loads(json.dumps(snap))
    assert again == snap
    assert snap["state"] == "running" and snap["active_time"] == 4.568 and snap["events"] == 120
    assert snap["buffers"][0] == {
        "name": "RB_1",
        "events": 120,
        "rate_hz": 250.0,
        "fill": 3,
        "slots": 16,
        "deadtime": 0.125,
        "lost": 0,
        "consumers": [{"label": "Fkt_2 (filter)", "pending": 3}],
    }
    assert snap["buffers"][1]["consumers"] == []
    assert snap["workers"][1] == {
        "name": "filter#1",
        "function": "Fkt_2",
        "state": "created",
        "pid": None,
        "restarts": 0,
    }
    assert snap["limits"] == {"runtime_s": 20.0, "runevents": 0} and snap["links"] == []


def test_views_follow_the_display_configs_of_the_setup() -> None:
    scope_conf = {
        "sample_time_ns": 4,
        "pre_trigger_samples": 10,
        "trigger_level": -440,
        "analogue_offset": -0.48,
    }
    hist_conf = {"histograms": {"h": [0, 10, 5, 1.0, "height", 0]}, "title": "H", "directory_prefix": "x/"}
    views = find_views(
        [
            ("Fkt_2 (filter)", {"threshold": 3}, [], ["RB_1"]),
            ("Fkt_5 (plot_waveform)", scope_conf, ["RB_2"], []),
            ("Fkt_6 (plot_histograms)", hist_conf, [], ["RB_3"]),
        ]
    )
    assert [(v["kind"], v["buffer"]) for v in views] == [("scope", "RB_2"), ("histograms", "RB_3")]
    assert "directory_prefix" not in views[1]["config"]
    assert observed_buffers(views + views) == ["RB_2", "RB_3"]

    dtype = [("chA", "f8"), ("chB", "f8")]
    scope = ScopeView(views[0], dtype, 1000)
    assert scope.layout["trigger"] == pytest.approx(40.0) and scope.layout["names"] == ["chA", "chB"]
    assert scope.data() is None
    data = np.zeros(1000, dtype=dtype)
    data["chA"] = -480.0  # the baseline: 0 mV once the offset is taken off
    meta = np.array([(7, 1.5, 0.0)], dtype=[("counter", "i8"), ("timestamp", "f8"), ("deadtime", "f8")])
    scope.add(data, meta)
    picture = scope.data()
    assert picture is not None and picture["counter"] == 7
    assert len(picture["traces"]["chA"]) == len(scope.layout["x"]) == len(range(0, 1000, 1000 // 250 + 1))
    assert set(picture["traces"]["chA"]) == {0.0}
    assert scope.data() is None  # each picture is sent once

    hist = HistogramsView(views[1], [("h", "f8")], 1)
    for value in (1.0, 1.5, 9.0, 12.0):
        hist.add(np.array([(value,)], dtype=[("h", "f8")]), meta)
    (h,) = hist.data()["histograms"]
    assert h["counts"] == [2, 0, 0, 0, 1] and h["entries"] == 3
    assert h["mean"] == pytest.approx(23.0 / 6)
    assert hist.layout["histograms"][0]["edges"] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


def _run_dir(root: Path, name: str, summary: dict) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "run_summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (d / "stats.csv").write_text(
        "time_s,active_s,state,buffer,events,rate_hz,fill,slots,deadtime,lost\n"
        "1.0,1.0,running,RB_1,10,10.0,1,8,0.0,0\n2.0,2.0,running,RB_1,30,20.0,2,8,0.0,0\n",
        encoding="utf-8",
    )
    return d


def test_run_store_lists_runs_and_serves_only_their_files(tmp_path: Path) -> None:
    summary = {
        "start": "2026-01-02T03:04:05",
        "setup_file": "/x/a.yaml",
        "end_reason": "runtime",
        "events": 30,
    }
    summary["buffers"] = {"RB_1": {"mean_rate_hz": 15.0}}
    a = _run_dir(tmp_path / "out", "a_2026", summary)
    _run_dir(tmp_path / "out" / "deeper", "b_2026", dict(summary, end_reason="SIGINT"))
    (tmp_path / "out" / "not_a_run").mkdir()
    (a / "picture.png").write_bytes(b"\x89PNG")
    (a / ".mimocorb").mkdir()
    (a / ".mimocorb" / "hidden.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("secret")
    (a / "link.txt").symlink_to(tmp_path / "secret.txt")

    store = RunStore(tmp_path / "out")
    runs = {r["id"]: r for r in store.runs()}
    assert set(runs) == {"a_2026", "deeper/b_2026"}
    assert runs["a_2026"]["setup"] == "a.yaml" and runs["a_2026"]["rate_hz"] == 15.0
    assert runs["deeper/b_2026"]["end_reason"] == "SIGINT"
    assert [f["name"] for f in store.files(a)] == ["picture.png", "run_summary.json", "stats.csv"]
    assert store.stats(a)["RB_1"]["rate_hz"] == [10.0, 20.0]

    assert store.file("a_2026", "picture.png") == (a / "picture.png").resolve()
    refused = [
        ("a_2026", "../../secret.txt"),
        ("a_2026", str(tmp_path / "secret.txt")),
        ("a_2026", "link.txt"),
        ("a_2026", ".mimocorb/hidden.json"),
        ("a_2026", ""),
        ("..", "secret.txt"),
        ("not_a_run", "x"),
        ("a_2026/..", "a_2026/picture.png"),
    ]
    for run_id, name in refused:
        assert store.file(run_id, name) is None, (run_id, name)

    only = RunStore(tmp_path / "out", only=a)
    assert [r["id"] for r in only.runs()] == ["a_2026"]
    assert only.find("deeper/b_2026") is None


def test_command_line_web_options() -> None:
    from mimocorb.cli import build_parser

    parser = build_parser()
    run = parser.parse_args(["run", "setup.yaml", "--web", "0.0.0.0:8081", "--web-token", "tok"])
    assert run.web == ("0.0.0.0", 8081) and run.web_token == "tok"
    assert parser.parse_args(["run", "setup.yaml"]).web is None
    serve = parser.parse_args(["serve"])
    assert serve.directory == "." and serve.web == ("127.0.0.1", 8080) and serve.web_token is None
    assert parser.parse_args(["serve", "runs", "--web", "9000"]).web == ("127.0.0.1", 9000)


def test_bad_web_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from mimocorb.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", "--web", "host:port"])
    assert exit_info.value.code == 2
    assert "--web" in capsys.readouterr().err


def test_loopback_host_names() -> None:
    from mimocorb.web.app import _loopback_host

    good = ["127.0.0.1:8080", "localhost:1", "localhost", "[::1]:80", "::1", "127.0.0.5"]
    bad = ["evil.example:8080", "evil.example", "192.168.1.2:80", "[2001:db8::1]:80", ""]
    assert all(_loopback_host(h) for h in good) and not any(_loopback_host(h) for h in bad)


def test_importing_the_web_package_imports_no_web_framework() -> None:
    """The controller imports mimocorb.web; only the server process may load FastAPI, uvicorn, plotly."""
    import subprocess
    import sys

    heavy = "('fastapi', 'uvicorn', 'plotly', 'starlette')"
    code = f"import sys, mimocorb.web; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
