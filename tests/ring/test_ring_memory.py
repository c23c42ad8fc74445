"""A buffer reserves all of its shared memory when it is made: one the machine has no room for is refused
then, naming it and the sizes, instead of a writer dying of SIGBUS once shared memory fills up mid-run.

The machine's /dev/shm is too large to fill in a test, so the program runs in a mount namespace of its
own with a 4 MB tmpfs on /dev/shm (root and util-linux's ``unshare``; skipped elsewhere, saying why).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

PROGRAM = """
import os
import numpy as np
from mimocorb.ring import RingBuffer, Writer

def fill(ring):
    writer = Writer(ring.new_writer())
    for _ in range(ring.number_of_slots):
        with writer.slot() as (data, meta):
            data[:] = 7  # every page of the slot written
    writer.close()

kept = RingBuffer(12, 2**18, np.uint8, name="RB_1")  # 3.2 MB of the 4 MB
fill(kept)
try:
    extra = RingBuffer(12, 2**18, np.uint8, name="RB_2")
except MemoryError as exc:
    print("refused:", exc)
else:
    fill(extra)  # without the reservation this is where the writer dies of SIGBUS
    print("accepted RB_2")
    extra.close()
kept.close()
print("left:", sorted(os.listdir("/dev/shm")))
"""


def _small_shm_command() -> list[str]:
    mount = 'mount -t tmpfs -o size=4m tmpfs /dev/shm && exec "$0" -c "$1"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, sys.executable, PROGRAM]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mount namespaces and tmpfs are Linux's")
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs on /dev/shm needs root")
@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux's unshare is not installed")
@pytest.mark.timeout(60)
def test_a_buffer_without_room_is_refused_at_creation_not_killed_by_sigbus() -> None:
    done = subprocess.run(_small_shm_command(), capture_output=True, text=True, timeout=50)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"exit {done.returncode}: {output}"
    assert "refused: ring buffer 'RB_2' needs 3 MB of shared memory; /dev/shm has " in output, output
    assert "(No space left on device)" in output
    assert "left: []" in output, output  # neither the refused buffer nor the closed one left anything
