"""Builds the stand-in PicoScope driver (ps4000a_stub.c) for the tests and benchmarks/device_bench.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("ps4000a_stub.c")


def build(directory: Path) -> Path | None:
    """``directory/libps4000a.so``, with the soname ``ctypes.util.find_library`` reports; None without a
    C compiler. Put ``directory`` on ``LD_LIBRARY_PATH`` of a new process to have picosdk load it."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    library = directory / "libps4000a.so"
    command = [compiler, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(library), "-Wl,-soname,libps4000a.so"]
    subprocess.run([*command, str(SOURCE), "-lpthread", "-lm"], check=True, capture_output=True, text=True)
    return library
