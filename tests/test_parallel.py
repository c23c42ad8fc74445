"""The suite runs in parallel (``-n auto``) and relies on ``xdist_group`` keeping some tests in one process
(pages on fixed ports, the tests sharing one venv). pytest-xdist does that silently or not at all, depending
on the pytest version beside it, so it is checked here on a small suite of its own.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

GROUPED, FREE = 8, 8
SUITE = f"""
import pytest

@pytest.mark.xdist_group("together")
@pytest.mark.parametrize("i", range({GROUPED}))
def test_grouped(i):
    pass

@pytest.mark.parametrize("i", range({FREE}))
def test_free(i):
    pass
"""


@pytest.mark.timeout(120)
def test_an_xdist_group_runs_in_one_process(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-n",
        "2",
        "--dist",
        "loadgroup",
        "-v",
        "-p",
        "no:cacheprovider",
    ]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    ran = re.findall(r"\[(gw\d)\] \[\s*\d+%\] PASSED test_suite\.py::(test_\w+)\[", done.stdout)
    assert len(ran) == GROUPED + FREE and "2 workers" in done.stdout, done.stdout
    grouped = {gw for gw, test in ran if test == "test_grouped"}
    assert len(grouped) == 1, (
        f"the tests of one xdist_group ran in {sorted(grouped)}; this pytest-xdist does not keep groups "
        f"together beside pytest {pytest.__version__}:\n{done.stdout}"
    )
