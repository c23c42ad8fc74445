"""``serve`` and ``connect`` of a RingBuffer entry: what validation accepts, refuses, and resolves."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import run_python

from mimocorb.config import ConfigError, validate_setup

pytestmark = pytest.mark.net

MODULES = Path(__file__).resolve().parents[1] / "run" / "chainmods"


def setup(tmp_path: Path, rb_1: str, writer: bool = False, reader: bool = True) -> Path:
    functions = ""
    if writer:
        functions += (
            f"  - Fkt_1: {{file_name: {MODULES}/chain_source, fkt_name: counting_source, num_process: 1, "
            "RB_assign: {RB_1: write}, config_file: c.yaml}\n"
        )
    if reader:
        functions += (
            f"  - Fkt_{1 + writer}: {{file_name: {MODULES}/chain_sink, fkt_name: counting_sink, "
            "num_process: 1, RB_assign: {RB_1: read}, config_file: c.yaml}\n"
        )
    (tmp_path / "c.yaml").write_text("tag: x\n")
    path = tmp_path / "setup.yaml"
    path.write_text(
        "RingBuffer:\n"
        f"  - RB_1: {{number_of_slots: 4, channel_per_slot: 1, data_type: {{a: [value, int64]}}, {rb_1}}}\n"
        f"Functions:\n  - Fkt_main: {{}}\n{functions}"
    )
    return path


def errors(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        validate_setup(path)
    return "\n".join(str(e) for e in info.value.errors)


def test_short_and_long_forms_resolve_with_key_paths_beside_the_setup(tmp_path) -> None:
    (tmp_path / "keys" / "admitted").mkdir(parents=True)
    (tmp_path / "keys" / "me.key_secret").write_text("x")
    long = (
        "serve: {address: 'tcp://0.0.0.0:6000', groups: [farm, archive], secret_key: keys/me.key_secret, "
        "client_keys: keys/admitted}"
    )
    layout = validate_setup(setup(tmp_path, long, writer=True, reader=False)).buffers[0]
    assert layout.serve is not None and layout.serve.groups == ("farm", "archive")
    assert layout.serve.secret_key == str(tmp_path / "keys" / "me.key_secret")
    assert layout.serve.observe_interval == 0.05
    short = validate_setup(setup(tmp_path, "connect: 'tcp://127.0.0.1:6000'")).buffers[0].connect
    assert short is not None and (short.group, short.mode, short.timeout) == ("default", "read", 10.0)
    slow = "serve: {address: 'tcp://127.0.0.1:6000', observe_interval: 0.5}"
    served = validate_setup(setup(tmp_path, slow, writer=True, reader=False)).buffers[0].serve
    assert served is not None and served.observe_interval == 0.5


@pytest.mark.parametrize(
    ("rb_1", "expected"),
    [
        ("serve: 'tcp://127.0.0.1'", "RB_1.serve: expected 'tcp://ADDRESS:PORT' or 'ipc://PATH'"),
        ("serve: 5555", "expected an address 'tcp://ADDRESS:PORT' or a mapping {address, groups"),
        ("connect: {address: 'tcp://127.0.0.1:1', mode: watch}", "RB_1.connect.mode"),
        ("connect: {address: 'tcp://127.0.0.1:1', timeout: 0}", "RB_1.connect.timeout"),
        ("serve: {address: 'tcp://127.0.0.1:1', observe_interval: 0}", "RB_1.serve.observe_interval"),
        ("connect: 'tcp://10.0.0.1:6000'", "is not a loopback address and the link has no keys"),
        (
            "connect: {address: 'tcp://10.0.0.1:6000', secret_key: no.key_secret, server_key: s.key}",
            "RB_1.connect.secret_key: expected an existing key file (relative to the setup file), found "
            "'no.key_secret'",
        ),
        (
            "serve: {address: 'tcp://127.0.0.1:1', groups: [a, a]}",
            "RB_1.serve.groups: expected distinct group names",
        ),
    ],
)
def test_bad_links_are_refused_naming_file_key_and_expectation(tmp_path, rb_1, expected) -> None:
    text = errors(setup(tmp_path, rb_1, writer=rb_1.startswith("serve")))
    assert expected in text and "setup.yaml" in text, text


def test_a_connected_buffer_with_a_local_writer_is_refused(tmp_path) -> None:
    text = errors(setup(tmp_path, "connect: 'tcp://127.0.0.1:6000'", writer=True))
    assert "RB_1.connect: a connected buffer is written by its link alone" in text, text
    assert "Fkt_1 (counting_source)" in text


def test_insecure_allows_a_plain_non_loopback_link(tmp_path) -> None:
    path = setup(
        tmp_path, "serve: {address: 'tcp://0.0.0.0:6000', insecure: true}", writer=True, reader=False
    )
    assert validate_setup(path).buffers[0].serve.insecure


def test_without_pyzmq_only_a_setup_with_links_needs_the_net_extra(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    linked = setup(tmp_path / "a", "serve: 'tcp://127.0.0.1:6000'", writer=True)
    plain = setup(tmp_path / "b", "serve: null", writer=True)
    code = (
        "import sys; sys.modules['zmq'] = None  # as if pyzmq were not installed\n"
        "from mimocorb.cli import main\n"
        f"print('plain', main(['validate', {str(plain)!r}]))\n"
        f"print('linked', main(['validate', {str(linked)!r}]))\n"
    )
    result = run_python(code)
    out = result.stdout + result.stderr
    assert "plain 0" in out, out
    assert (
        "the 'net' extra is needed for serve and connect of a buffer: pip install 'mimocorb[net]'" in out
    ), out
    assert "Traceback" not in out
