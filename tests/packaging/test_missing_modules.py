"""A missing module is one line that says what to install, never a traceback.

Each test runs a child interpreter in which the module really cannot be imported (``hide/sitecustomize.py``
wraps the import finders), so the code paths are those of a machine where it is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pkgkit import REPO, run_hiding

SETUP = str(REPO / "examples" / "simulsource_setup.yaml")


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, f"expected one line, got:\n{text}"
    return lines[0]


@pytest.mark.parametrize(
    ("hidden", "package", "command"),
    [
        ("yaml", "pyyaml", ["validate", SETUP]),
        ("pydantic", "pydantic", ["validate", SETUP]),
        ("pydantic", "pydantic", ["run", SETUP, "--runtime", "1"]),
    ],
)
def test_cli_names_a_missing_dependency(tmp_path: Path, hidden: str, package: str, command: list[str]):
    result = run_hiding([hidden], ["-m", "mimocorb", *command], tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert one_line(result.stderr) == (
        f"mimocorb: {package} is not installed, but mimocorb needs it: pip install '{package}'"
    )
    assert not list(tmp_path.iterdir()), "nothing may be started or written"


def test_the_hidden_module_is_really_missing(tmp_path: Path) -> None:
    """The check of the blocker itself: without it the same command works."""
    result = run_hiding([], ["-m", "mimocorb", "validate", SETUP], tmp_path)
    assert result.returncode == 0, result.stderr
    hidden = run_hiding(["yaml"], ["-c", "import yaml"], tmp_path)
    assert hidden.returncode == 1 and "ModuleNotFoundError: No module named 'yaml'" in hidden.stderr


REQUIRE = (
    "import sys\n"
    "from mimocorb._optional import require\n"
    "try:\n"
    "    require(sys.argv[1], 'net', 'serve/connect')\n"
    "except ImportError as exc:\n"
    "    print(type(exc).__name__, exc, sep=': ')\n"
    "else:\n"
    "    print('imported')\n"
)


def test_require_names_the_extra(tmp_path: Path) -> None:
    result = run_hiding(["zmq"], ["-c", REQUIRE, "zmq"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert one_line(result.stdout) == (
        "MissingDependency: mimocorb: the 'net' extra is needed for serve/connect: "
        "pip install 'mimocorb[net]'"
    )


def test_require_returns_an_installed_module(tmp_path: Path) -> None:
    result = run_hiding([], ["-c", REQUIRE, "json"], tmp_path)
    assert one_line(result.stdout) == "imported", result.stderr


def test_require_does_not_blame_the_extra_for_what_the_module_imports(tmp_path: Path) -> None:
    """An installed module whose own import fails is a different problem; its error passes unchanged."""
    (tmp_path / "netlib.py").write_text("import gone_dependency\n")
    result = run_hiding([], ["-c", REQUIRE, "netlib"], tmp_path)
    assert one_line(result.stdout) == "ModuleNotFoundError: No module named 'gone_dependency'", result.stderr


TK = (
    "from mimocorb.display.backend import select_backend\n"
    "from mimocorb.run.gui import gui_unavailable_reason\n"
    "print(gui_unavailable_reason())\n"
    "print(select_backend())\n"
)


def test_without_tkinter_windows_give_way_to_pictures(tmp_path: Path) -> None:
    """With a display but no tkinter: the reason names the OS package, and displays render PNG files."""
    result = run_hiding(["tkinter", "_tkinter"], ["-c", TK], tmp_path, DISPLAY=":99")
    assert result.returncode == 0, result.stderr
    reason, backend = result.stdout.strip().splitlines()
    assert reason == (
        "tkinter is not installed (it comes with the operating system's package python3-tk; "
        "pip cannot install it)"
    )
    assert backend == "Agg"
