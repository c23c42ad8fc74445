"""Builds the stand-in PicoScope driver (picostub.c) of one family for the tests and
benchmarks/device_bench.py: ``python build.py DIRECTORY [FAMILY]`` by hand."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).with_name("picostub.c")
DEFINES = {  # what differs between the families (picostub.c's head)
    "ps4000a": ["-DRANGES=14"],
    "ps2000a": ["-DRANGES=12", "-DOVERSAMPLE"],
    "ps3000a": ["-DRANGES=12", "-DOVERSAMPLE", "-DTRIGGER_INFO"],
    "ps5000a": ["-DRANGES=12", "-DRESOLUTION", "-DTRIGGER_INFO"],
}
SYMBOL = re.compile(r"""make_symbol\(\s*["'][^"']*["'],\s*["'](\w+)["']""")


def wrapper_symbols(family: str) -> list[str]:
    """The C functions Pico's wrapper module of ``family`` binds when imported, read from its source
    (importing it would need the library being built); none without the wrapper."""
    spec = importlib.util.find_spec("picosdk")
    if spec is None or not spec.submodule_search_locations:
        return []
    module = Path(next(iter(spec.submodule_search_locations))) / f"{family}.py"
    return sorted(set(SYMBOL.findall(module.read_text(encoding="utf-8")))) if module.exists() else []


def placeholders(family: str) -> str:
    """A weak definition of every function the wrapper binds: those picostub.c defines win at link time."""
    lines = ["#include <stdint.h>"]
    lines += [
        f"__attribute__((weak)) uint32_t {name}(void) {{ return 0x3F; }}" for name in wrapper_symbols(family)
    ]
    return "\n".join(lines) + "\n"  # 0x3F: PICO_NOT_USED


def build(directory: Path, family: str = "ps4000a") -> Path | None:
    """``directory/lib<family>.so``, with the soname ``ctypes.util.find_library`` reports; None without a
    C compiler. Put ``directory`` on ``LD_LIBRARY_PATH`` of a new process to have picosdk load it."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    library = directory / f"lib{family}.so"
    unused = directory / f"{family}_placeholders.c"
    unused.write_text(placeholders(family), encoding="utf-8")
    command = [
        compiler,
        "-shared",
        "-fPIC",
        "-O2",
        "-Wall",
        "-o",
        str(library),
        f"-Wl,-soname,lib{family}.so",
    ]
    command += [f"-DFAMILY={family}", *DEFINES[family], str(SOURCE), str(unused), "-lpthread", "-lm"]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return library


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    print(build(target, *sys.argv[2:3]) or "no C compiler (cc or gcc)")
