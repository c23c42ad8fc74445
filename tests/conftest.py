"""Settings for the whole suite."""

from __future__ import annotations

import os

import pytest


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one test process more than there are cores. Most tests spend their time waiting for
    the runs they started (paced sources, grace periods, children starting), so a third process on two
    cores keeps them busy without slowing the tests that compute."""
    return (os.cpu_count() or 1) + 1
