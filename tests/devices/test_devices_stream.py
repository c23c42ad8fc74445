"""The stream source: events sent by a small program of the test (JSON lines over TCP, numpy frames
over ZeroMQ) reach the buffer's fields by name and the recording."""

from __future__ import annotations

import json
import socket
import threading

import numpy as np
import pytest
from devkit import recorded, run
from support import only_run_dir, poll_until

from mimocorb.config import ConfigError, validate_setup


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _setup(directory, config: str):
    text = (
        "output_directory: target\nGUI_control: false\nKBD_control: false\n"
        "RingBuffer:\n"
        "  - RB_1: {number_of_slots: 8, channel_per_slot: 4, data_type: {1: [x, float64], 2: [n, int32]}}\n"
        "Functions:\n"
        "  - Fkt_main:\n"
        "  - Fkt_1: {file_name: mimocorb.devices, fkt_name: stream, num_process: 1,\n"
        "            RB_assign: {RB_1: write}}\n"
        "  - Fkt_2: {file_name: mimocorb.io, fkt_name: record_parquet, num_process: 1,\n"
        "            RB_assign: {RB_1: read}}\n"
        f"FunctionConfigs:\n  stream: {{{config}}}\n  record_parquet: {{}}\n"
    )
    path = directory / "stream_setup.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _in_background(send) -> threading.Thread:
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def _connect(port: int) -> socket.socket:
    """The source listens once its worker started: try until it does."""
    connection: list[socket.socket] = []

    def attempt() -> bool:
        try:
            connection.append(socket.create_connection(("127.0.0.1", port), timeout=1))
        except OSError:
            return False
        return True

    assert poll_until(attempt, 30), "the stream source never listened"
    return connection[0]


@pytest.mark.timeout(60)
def test_json_lines_reach_the_fields_by_name(project):
    port = _free_port()
    setup = _setup(project, f'address: "127.0.0.1:{port}", events: 20')

    def send() -> None:
        with _connect(port) as sender:
            sender.sendall(b'{"x": [1, 2, 3, 4], "colour": 1}\nnot json\n')  # both rejected, logged
            for i in range(20):
                event = {"n": [i, i, i, i], "x": [i / 2] * 4} if i % 2 else {"x": [i / 2] * 4}
                sender.sendall(json.dumps(event).encode() + b"\n")

    sender = _in_background(send)
    code, out = run(["run", str(setup)], project)
    sender.join(10)
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    assert len(frame) == 20
    for i in range(20):
        assert list(frame.x[i]) == [i / 2] * 4
        assert list(frame.n[i]) == ([i] * 4 if i % 2 else [0] * 4)  # a field not sent is zero


@pytest.mark.timeout(60)
def test_numpy_frames_over_zeromq(project):
    zmq = pytest.importorskip("zmq", reason="pyzmq (the net extra) is not installed")
    port = _free_port()
    setup = _setup(project, f'protocol: zmq, address: "tcp://127.0.0.1:{port}", events: 10')
    record = np.dtype([("x", "<f8"), ("n", "<i4")])

    def send() -> None:
        context = zmq.Context()
        push = context.socket(zmq.PUSH)
        push.connect(f"tcp://127.0.0.1:{port}")  # ZeroMQ keeps the messages until the source binds
        for i in range(5):
            events = np.zeros(4, record)
            events["x"], events["n"] = i, -i
            push.send(events.tobytes())
        for i in range(5, 10):
            header = json.dumps({"fields": ["n"]}).encode()
            push.send_multipart([header, np.full(4, i, "<i4").tobytes()])
        push.close(linger=10_000)
        context.term()

    sender = _in_background(send)
    code, out = run(["run", str(setup)], project)
    sender.join(15)
    assert code == 0, out
    frame = recorded(only_run_dir(project / "target"))
    assert [list(v) for v in frame.n] == [[-i] * 4 for i in range(5)] + [[i] * 4 for i in range(5, 10)]
    assert [list(v) for v in frame.x] == [[float(i)] * 4 for i in range(5)] + [[0.0] * 4] * 5


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("protocol: udp, address: '127.0.0.1:1'", "'protocol' must be one of json, zmq, got 'udp'"),
        ("events: 5", "config key 'address' is required, e.g. 127.0.0.1:5555"),
        ("address: localhost", "'address' must be host:port for protocol json"),
    ],
)
def test_bad_stream_config_is_a_validate_error(project, config, message):
    with pytest.raises(ConfigError, match="config of 'stream'") as info:
        validate_setup(_setup(project, config))
    assert message in str(info.value)
