"""Fixtures for the config tests (helpers live in cfg_project, a name no other test directory uses)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cfg_project import EXAMPLE_FILES, EXAMPLE_SETUP, Project


@pytest.fixture(autouse=True)
def _isolated_imports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Validation imports user modules and extends sys.path; undo both so tests stay independent.

    Only modules loaded from temporary test directories are forgotten; library modules imported on the
    way stay, as re-importing them would create second copies of their classes.
    """
    base, path = tmp_path_factory.getbasetemp(), list(sys.path)
    yield
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file is not None and Path(file).is_relative_to(base):
            del sys.modules[name]
    sys.path[:] = path


@pytest.fixture
def example(tmp_path: Path) -> Project:
    """mimoCoRB 1.0.2's example project: its setup file verbatim, with small real modules and configs."""
    project = Project(tmp_path)
    project.write(project.setup.name, EXAMPLE_SETUP.read_text(encoding="utf-8"))
    for relative, text in EXAMPLE_FILES.items():
        project.write(relative, text)
    return project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """An empty project; tests write setup.yaml and modules themselves."""
    return Project(tmp_path, "setup.yaml")
