"""``pip install mimocorb`` with no extras, into a fresh venv, runs a mimoCoRB 1.0.2 setup headless.

The venv gets a non-editable install of a clean copy of this repository (what a fresh clone holds), so
the example must come from the wheel: ``mimocorb.examples`` with its setups, config files and modules.
In it, without a display and with stdin not a terminal, the driver script ``run_daq.py``, ``mimocorb run`` and
``mimocorb demo`` each run the muon-lifetime example for a bounded number of events and write its files.
pip's cache is used, so on a machine that installed the project before, nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pkgkit import REPO, headless_env
from support.children import finish, start
from support.rundirs import run_dirs
from support.shm import no_new_segments

EVENTS = 1500
INSTALL_TIMEOUT = 600.0  # a first install on a machine with an empty pip cache downloads ~150 MB
RUN_TIMEOUT = 90.0

# the first test also waits for the venv fixture, and pytest-timeout counts that in; under -n the tests
# stay in one process, so that the venv is built once
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(INSTALL_TIMEOUT + RUN_TIMEOUT + 60),
    pytest.mark.xdist_group("plain-venv"),
]
LEFT_OUT = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "target", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)
EXAMPLE_FILES = [
    "simulsource_setup.yaml",
    "spin_setup.yaml",
    "demo_setup.yaml",
    "config/simulation_config.yaml",
    "config/save_lifetime.yaml",
    "modules/simulation_source.py",
    "modules/lifetime_filter.py",
    "modules/save_files.py",
    "modules/plot_waveform.py",
    "modules/plot_histograms.py",
]


class Venv:
    def __init__(self, root: Path, source: Path) -> None:
        self.root, self.source = root, source
        self.bin = root / "bin"
        self.env = headless_env()
        for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "MPLBACKEND"):
            self.env.pop(name, None)
        self.env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(self, args: list[str], cwd: Path, timeout: float = RUN_TIMEOUT) -> str:
        """Run ``args`` (a program in the venv's bin/ first) and return its output; it must exit 0."""
        process = start([str(self.bin / args[0]), *args[1:]], cwd, env=self.env)
        out = finish(process, timeout)
        assert process.returncode == 0, f"{args} exited with {process.returncode}:\n{out}"
        return out

    def python(self, code: str) -> str:
        return self.run(["python", "-c", code], self.root).strip()


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    base = tmp_path_factory.mktemp("plain")
    source = base / "mimocorb"
    shutil.copytree(REPO, source, symlinks=True, ignore=LEFT_OUT)
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, timeout=120)
    env = Venv(base / "venv", source)
    env.run(["pip", "install", "-q", str(source)], base, timeout=INSTALL_TIMEOUT)
    print(f"\nplain install into a fresh venv: {time.monotonic() - t0:.1f} s")
    yield env
    shutil.rmtree(base, ignore_errors=True)  # the venv holds some 500 MB


@pytest.fixture
def no_leaks(venv: Venv) -> Iterator[None]:
    with no_new_segments():
        yield


def test_installs_the_package_not_the_tree(venv: Venv) -> None:
    where = Path(venv.python("import mimocorb; print(mimocorb.__file__)"))
    assert venv.root in where.parents, f"mimocorb imported from {where}, not from the venv"
    package = where.parent
    missing = [f for f in EXAMPLE_FILES if not (package / "examples" / f).is_file()]
    assert not missing, f"not in the installed mimocorb.examples: {missing}"
    assert not (package / "examples").is_symlink()
    assert (package / "py.typed").is_file()
    # a plain install brings the dependencies of the runs, and no test tools
    found = venv.python(
        "import importlib.util as u; "
        "print(sorted(m for m in ('yaml', 'pydantic', 'pyarrow', 'pandas', 'matplotlib', 'scipy', 'pytest') "
        "if u.find_spec(m)))"
    )
    assert found == str(sorted(["yaml", "pydantic", "pyarrow", "pandas", "matplotlib", "scipy"]))


def installed_examples(venv: Venv) -> Path:
    return Path(venv.python("import mimocorb.examples as e; print(list(e.__path__)[0])"))


def check_run_directory(run_dir: Path) -> None:
    """The files every lifetime run leaves: text and Parquet output, pictures, the run's record."""
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["events"] >= EVENTS, summary
    lines = (run_dir / "muon_lifetime.txt").read_text().splitlines()
    assert len(lines) > 10, f"only {len(lines)} lines in muon_lifetime.txt"
    assert (run_dir / "simulated_data.tar").stat().st_size > 0
    pictures = {p.name for p in run_dir.glob("*.png")}
    assert "lifetime_fit.png" in pictures and len(pictures) >= 3, pictures
    assert (run_dir / "physics_summary.json").is_file()


def test_run_daq_script_on_the_lifetime_setup(venv: Venv, tmp_path: Path, no_leaks: None) -> None:
    """``run_daq.py simulsource_setup.yaml`` in a copy of the installed example, its limit cut to events."""
    work = tmp_path / "examples"
    shutil.copytree(installed_examples(venv), work, ignore=LEFT_OUT)
    config = work / "config" / "simulation_config.yaml"
    text = config.read_text().replace("runtime: 60 ", "runtime: 0 ")
    config.write_text(text.replace("runevents: 0 ", f"runevents: {EVENTS} "))
    venv.run(["python", str(venv.source / "run_daq.py"), "simulsource_setup.yaml", "-v", "1"], work)
    (run_dir,) = run_dirs(work / "target")
    check_run_directory(run_dir)


def test_mimocorb_run(venv: Venv, tmp_path: Path, no_leaks: None) -> None:
    out = tmp_path / "runs"
    command = ["mimocorb", "run", "examples/simulsource_setup.yaml", "--events", str(EVENTS), "-v", "1"]
    log = venv.run([*command, "--output", str(out)], venv.source)
    assert "Traceback" not in log, log
    (run_dir,) = run_dirs(out)
    check_run_directory(run_dir)


def test_mimocorb_demo_from_an_empty_directory(venv: Venv, tmp_path: Path, no_leaks: None) -> None:
    log = venv.run(["mimocorb", "demo", "--events", str(EVENTS), "-v", "1"], tmp_path)
    assert "Traceback" not in log, log
    (run_dir,) = run_dirs(tmp_path / "target")
    check_run_directory(run_dir)
    assert os.listdir(tmp_path) == ["target"]
