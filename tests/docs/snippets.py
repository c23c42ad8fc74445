"""The code blocks of the documentation pages, and how to run them.

Conventions of the pages (docs/*.md, docs/tutorials/*.md):

* ``python`` blocks run in a fresh interpreter, in the page's folder.
* ``console`` blocks run their ``$`` lines (other lines are output), ``bash`` blocks every line that is not
  a comment; one block is one bash script (``set -e``), so a ``cd`` holds until the end of the block.
* ``yaml`` blocks must parse.
* ``<!-- file: PATH -->`` on the line before a block: the block is written to ``PATH`` (relative to the
  page's folder) instead of being run; later blocks use it.
* ``<!-- no-run: REASON -->`` on the line before a block: not run; the tests list these with their reasons.
* Anything else (``text``, no language, MyST directives such as ``{toctree}``) is shown, not run.

The blocks of one page run in order in one folder: an empty one for the tutorials (which start "in a new
folder"), a copy of the repository's ``examples/`` (with ``run_daq.py`` beside it) for the guides, which
talk about the example. Windows cannot open (no ``DISPLAY``), so displays write PNG pictures. The fixed
ports the pages write out (``DOC_PORTS``) become free ones for each run of a page, in its blocks and in
the copied example files, so that another program on the machine holding one cannot fail the page.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
RUNNABLE = {"python", "console", "bash", "yaml"}
MARKER = re.compile(r"^<!--\s*(file|no-run):\s*(.+?)\s*-->$")
FENCE = re.compile(r"^( *)(`{3,})\s*([^\s`]*)")  # indented: a block inside a list item
TIMEOUT_S = 120
# a served buffer, the dashboard, the simulated Red Pitaya (its default and the tutorial's)
DOC_PORTS = ("5555", "8080", "10001", "10031")
# blocks that start a DAQ run take seconds each; their pages are marked slow
RUN_WORDS = ("mimocorb run", "mimocorb demo", "run_daq.py", "run_mimoDAQ(", "run_setup(")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    file: str | None = None  # write the block to this path instead of running it
    no_run: str | None = None  # the reason why the block is not run

    @property
    def where(self) -> str:
        shown = self.page.relative_to(REPO) if self.page.is_relative_to(REPO) else self.page.name
        return f"{shown}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.file is None and self.no_run is None and self.language in RUNNABLE


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md")) + sorted((DOCS / "tutorials").glob("*.md"))


def blocks(page: Path) -> list[Block]:
    """Every fenced block of a page, with the marker on the line before it."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, language = opening.groups()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith(indent + fence)), None)
        if end is None:
            raise ValueError(f"{page}:{i + 1}: code block never closed")
        marker = MARKER.match(lines[i - 1].strip()) if i > 0 else None
        kind, value = marker.groups() if marker else (None, None)
        found.append(
            Block(
                page,
                i + 1,
                language,
                "\n".join(line.removeprefix(indent) for line in lines[i + 1 : end]) + "\n",
                file=value if kind == "file" else None,
                no_run=value if kind == "no-run" else None,
            )
        )
        i = end + 1
    return found


def commands(block: Block) -> list[str]:
    """The shell commands of a console or bash block; ``\\`` at the end of a line continues it."""
    wanted = []
    for line in block.text.splitlines():
        if block.language == "console":
            if line.startswith("$ "):
                wanted.append(line[2:])
            elif wanted and wanted[-1].endswith("\\"):
                wanted.append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            wanted.append(line)
    return wanted


def is_slow(page: Path) -> bool:
    return any(word in b.text for b in blocks(page) if b.runs for word in RUN_WORDS)


def listens(page: Path) -> bool:
    """Whether the page's code serves or connects on an address it writes out (a network buffer, a
    dashboard port): two such pages at once could meet on the same port."""
    return any(re.search(r"tcp://|ipc://|--web\b", b.text) for b in blocks(page) if b.runs)


def page_folder(page: Path, scratch: Path) -> Path:
    """Where the page's blocks run: see the module docstring."""
    if page.parent.name == "tutorials":
        return scratch
    leave_out = shutil.ignore_patterns("target", "__pycache__")
    shutil.copytree(REPO / "examples", scratch / "examples", ignore=leave_out)
    shutil.copy2(REPO / "run_daq.py", scratch / "run_daq.py")
    return scratch / "examples"


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    # `mimocorb`, and `python3` for run_daq.py's #! line, are the ones of the interpreter running the tests
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def free_ports() -> dict[str, str]:
    """A free port for each of ``DOC_PORTS`` (all bound at once, so they differ)."""
    sockets = [socket.socket() for _ in DOC_PORTS]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return {port: str(s.getsockname()[1]) for port, s in zip(DOC_PORTS, sockets, strict=True)}
    finally:
        for s in sockets:
            s.close()


def with_ports(text: str, ports: dict[str, str]) -> str:
    return re.sub(r"\b(" + "|".join(ports) + r")\b", lambda m: ports[m.group(1)], text)


def run_block(block: Block, folder: Path, scratch: Path, ports: dict[str, str] | None = None) -> None:
    """Write, run or parse one block (its ports replaced by ``ports``); AssertionError with the page, the
    line and the output on failure."""
    if block.no_run is not None or (block.language not in RUNNABLE and block.file is None):
        return
    text = with_ports(block.text, ports) if ports else block.text
    if block.file is not None:
        target = folder / block.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return
    if block.language == "yaml":
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise AssertionError(f"{block.where}: YAML does not parse: {error}") from None
        return
    if block.language == "python":
        script = scratch / f"snippet_{block.line}.py"
        script.write_text(text, encoding="utf-8")
        argv = [sys.executable, str(script)]
    else:
        lines = commands(Block(block.page, block.line, block.language, text))
        if not lines:
            raise AssertionError(f"{block.where}: {block.language} block without commands; fence it as text")
        argv = ["bash", "-e", "-c", "\n".join(lines)]
    started = time.time()
    try:
        done = subprocess.run(
            argv,
            cwd=folder,
            env=environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{block.where}: still running after {TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise AssertionError(
            f"{block.where}: exit status {done.returncode}\n--- stdout\n{done.stdout[-3000:]}"
            f"\n--- stderr\n{done.stderr[-3000:]}{_written_output(folder, started)}"
        )


def _written_output(folder: Path, since: float) -> str:
    """The ends of the output files and run logs a failed block wrote (blocks that send a run's output
    to a file, to run it in the background, leave nothing on stdout)."""
    found = [
        path
        for pattern in ("*.out", "run.log")
        for path in folder.rglob(pattern)
        if path.is_file() and path.stat().st_mtime >= since - 1.0
    ]
    return "".join(
        f"\n--- {path.relative_to(folder)}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-40:])
        for path in sorted(found)
    )


def run_page(page: Path, scratch: Path) -> int:
    """Run every block of a page in order; returns how many ran (files written count as run)."""
    folder = page_folder(page, scratch)
    ports = free_ports()
    for example in folder.rglob("*.yaml"):
        example.write_text(with_ports(example.read_text(encoding="utf-8"), ports), encoding="utf-8")
    count = 0
    for block in blocks(page):
        if block.runs or block.file is not None:
            run_block(block, folder, scratch, ports)
            count += 1
    return count
