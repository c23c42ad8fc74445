"""The suite passes however it was started: also as a background job of a script, which inherits SIGINT
ignored (``cmd &`` without job control) and hands that on to every process it starts, through fork and
exec. The tests that interrupt a child with Ctrl-C are run here in such a pytest (tests/conftest.py
restores the answer to Ctrl-C)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INTERRUPTING = [
    "tests/ring/test_ring_faults.py::test_terminated_creator_leaves_no_segment[SIGINT]",
    "tests/ring/test_ring_faults.py::test_terminated_creator_leaves_no_segment[Ctrl-C]",
    "tests/ring/test_ring_faults.py::test_ctrl_c_while_the_admin_lock_changes_hands_never_leaves_it_taken",
]
# the way a shell without job control starts a background job: SIGINT ignored, then exec
IGNORING_CTRL_C = (
    "import os, signal, sys\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'pytest', *sys.argv[1:]])\n"
)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_ctrl_c_tests_pass_in_a_suite_that_inherited_sigint_ignored() -> None:
    command = [sys.executable, "-c", IGNORING_CTRL_C, "-p", "no:cacheprovider", "-q", *INTERRUPTING]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=220)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"{len(INTERRUPTING)} passed" in done.stdout, done.stdout[-2000:]
