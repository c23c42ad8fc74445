"""Helpers of the run-controller tests: setup files of counting chains in tmp_path, and what their
sinks recorded. Starting runs, reading run directories and waiting are in ``support``.

Worker modules are real files in tests/run/chainmods; setup files name them by absolute path.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import support

HERE = Path(__file__).parent
MODS = HERE / "chainmods"
REPO = HERE.parent.parent
RUN_DAQ = REPO / "run_daq.py"

INT_BUFFER = "{number_of_slots: %d, channel_per_slot: 1, data_type: {1: [value, int64]}}"


def buffers(n: int, slots: int = 8) -> str:
    lines = ["RingBuffer:"]
    lines += [f"  - RB_{k}: {INT_BUFFER % slots}" for k in range(1, n + 1)]
    return "\n".join(lines) + "\n"


def fkt(k: int, module: str, name: str, assign: str, num: int = 1, extra: str = "") -> str:
    """One Functions item; ``assign`` like "RB_1: read, RB_2: write" ("" for none)."""
    rb = f", RB_assign: {{{assign}}}" if assign else ""
    more = f", {extra}" if extra else ""
    return f"  - Fkt_{k}: {{file_name: {MODS / module}, fkt_name: {name}, num_process: {num}{rb}{more}}}\n"


def write_setup(
    directory: Path,
    name: str,
    body: str,
    main: str = "",
    configs: str = "",
    output: str = "target",
) -> Path:
    text = f"output_directory: {output}\nGUI_control: false\n" + body
    text = text.replace("Functions:\n", f"Functions:\n  - Fkt_main: {{{main}}}\n")
    if configs:
        text += "FunctionConfigs:\n" + "".join(f"  {line}\n" for line in configs.strip().splitlines())
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def chain(
    n_buffers: int = 3,
    main: str = "",
    slots: int = 8,
    source: str = "counting_source",
    filter_procs: tuple[int, ...] = (3, 2),
    sink: str = "counting_sink",
    extra_body: str = "",
) -> str:
    """RB_1 -> copy_filter(s) -> ... -> RB_n -> sink, plus a second consumer of RB_1 (tag rb1)."""
    text = buffers(n_buffers, slots) + "Functions:\n"
    text += fkt(1, "chain_source", source, "RB_1: write")
    k = 2
    for b in range(1, n_buffers):
        procs = filter_procs[(b - 1) % len(filter_procs)]
        text += fkt(k, "chain_filter", "copy_filter", f"RB_{b}: read, RB_{b + 1}: write", procs)
        k += 1
    text += fkt(k, "chain_sink", sink, f"RB_{n_buffers}: read", extra="config_file: final.yaml")
    text += fkt(k + 1, "chain_sink", "counting_sink", "RB_1: read", extra="config_file: rb1.yaml")
    return text + extra_body


def write_tag_configs(directory: Path) -> None:
    (directory / "final.yaml").write_text("tag: final\n", encoding="utf-8")
    (directory / "rb1.yaml").write_text("tag: rb1\n", encoding="utf-8")


def run_cli(
    args: list[str],
    cwd: Path,
    timeout: float = 60.0,
    env: dict[str, str | None] | None = None,
    script: Path | None = None,
) -> subprocess.CompletedProcess:
    """``python -m mimocorb ARGS`` (or ``python SCRIPT ARGS``) in ``cwd``, with ``env`` as changes of
    the environment; output and errors combined."""
    command = [sys.executable, str(script), *args] if script else support.mimocorb_command(*args)
    return support.run(command, cwd, timeout, env=support.child_env(env))


def seen(run_dir: Path, tag: str) -> list[int]:
    """Values recorded by the sinks with this tag (all their processes together)."""
    values: list[int] = []
    files = sorted(run_dir.glob(f"seen_{tag}_*.json"))
    assert files, f"no seen_{tag}_*.json in {run_dir}: {sorted(p.name for p in run_dir.iterdir())}"
    for file in files:
        values += json.loads(file.read_text(encoding="utf-8"))
    return values


def filter_total(run_dir: Path) -> int:
    return sum(json.loads(p.read_text())["count"] for p in run_dir.glob("count_copy_filter_*.json"))


def assert_zero_loss(run_dir: Path) -> int:
    """Every event that entered RB_1 reached both obligatory paths exactly once; returns the count."""
    s = support.summary(run_dir)
    n = s["events"]
    expected = list(range(1, n + 1))
    assert sorted(seen(run_dir, "rb1")) == expected, "RB_1's direct consumer missed or repeated events"
    final = seen(run_dir, "final")
    assert len(final) == n, f"{n} events entered RB_1 but {len(final)} reached the end of the chain"
    assert sorted(final) == expected
    for name, b in s["buffers"].items():
        assert b["lost"] == 0, f"{name} lost events"
        assert b["shutdown"]["drained"], f"{name} was not drained: {b['shutdown']}"
        for consumer in b["consumers"]:
            assert consumer["consumed"] == b["events"], f"{name}: {consumer}"
    return n


# these runs are short: a hang shows sooner than with the default timeout
finish = functools.partial(support.finish, timeout=30.0)
