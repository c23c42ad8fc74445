"""Start methods, the four-line run_daq.py from another directory, headless and stdin-less runs."""

from __future__ import annotations

import os
import shutil

import pytest
from runkit import MODS, RUN_DAQ, assert_zero_loss, chain, finish, run_cli, write_setup, write_tag_configs
from support import mimocorb_command, only_run_dir, start, summary


def _access_chain(project, name, main="runevents: 300"):
    body = chain(2, source="import_source", sink="export_sink", filter_procs=(2,)).replace(
        "fkt_name: copy_filter", "fkt_name: transfer_filter"
    )
    return write_setup(project, name, body, main=main)


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_start_methods(project, method):
    setup = _access_chain(project, f"{method}_setup.yaml")
    result = run_cli(["run", str(setup), "--start-method", method], project, timeout=80)
    assert result.returncode == 0, result.stdout
    run_dir = only_run_dir(project / "target")
    s = summary(run_dir)
    assert s["start_method"] == method
    assert assert_zero_loss(run_dir) == 300


def _project_for_run_daq(root):
    """The layout of the 1.0.2 examples: modules/ and config/ next to the setup file, relative paths."""
    proj = root / "proj"
    (proj / "modules").mkdir(parents=True)
    (proj / "config").mkdir()
    for name in ("chain_source.py", "chain_filter.py", "chain_sink.py"):
        shutil.copy(MODS / name, proj / "modules" / name)
    write_tag_configs(proj / "config")
    text = chain(2, source="import_source").replace(str(MODS), "modules")
    text = text.replace("config_file: final.yaml", "config_file: config/final.yaml")
    text = text.replace("config_file: rb1.yaml", "config_file: config/rb1.yaml")
    (proj / "config" / "common.yaml").write_text("general: {runevents: 200}\nimport_source: {}\n")
    return write_setup(proj, "demo_setup.yaml", text, main="config_file: config/common.yaml")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_run_daq_script_from_another_directory(tmp_path, method):
    """`run_daq.py ../proj/demo_setup.yaml -v 1` from elsewhere; under spawn the unguarded script must
    not be re-run in the workers."""
    setup = _project_for_run_daq(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    result = run_cli(
        [os.path.relpath(setup, other), "-v", "1"],
        other,
        script=RUN_DAQ,
        timeout=80,
        env={"MIMOCORB_START_METHOD": method},
    )
    assert result.returncode == 0, result.stdout
    assert "Finished, good bye !" in result.stdout
    assert "List of buffers" in result.stdout and "List of functions" in result.stdout
    run_dir = only_run_dir(other / "target")  # output_directory exists nowhere: created in the CWD
    assert run_dir.name.startswith("demo_setup_")
    assert assert_zero_loss(run_dir) == 200
    assert {"demo_setup.yaml", "common.yaml", "final.yaml", "rb1.yaml"} <= {p.name for p in run_dir.iterdir()}
    assert summary(run_dir)["start_method"] == method
    assert "workers started" in result.stdout
    assert result.stdout.count("workers started") == 1


@pytest.mark.timeout(60)
def test_run_daq_default_setup_name_and_missing_file(tmp_path):
    result = run_cli([], tmp_path, script=RUN_DAQ)
    assert result.returncode == 1
    assert "Setup YAML file 'demo_setup.yaml' does not exist!" in result.stdout


@pytest.mark.timeout(60)
def test_gui_requested_without_display_runs_headless(project):
    setup = _access_chain(project, "gui_setup.yaml", main="runevents: 100")
    setup.write_text(setup.read_text().replace("GUI_control: false", "GUI_control: true"))
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}
    result = run_cli(["run", str(setup)], project, env=env)
    assert result.returncode == 0, result.stdout
    assert "running without the buffer-info window" in result.stdout
    assert_zero_loss(only_run_dir(project / "target"))


@pytest.mark.timeout(60)
def test_run_with_stdin_closed(project):
    setup = _access_chain(project, "closed_setup.yaml", main="runevents: 100")
    proc = start(
        mimocorb_command("run", str(setup)),
        project,
        stdin=None,
        preexec_fn=lambda: os.close(0),
    )
    out = finish(proc)
    assert proc.returncode == 0, out
    assert_zero_loss(only_run_dir(project / "target"))


@pytest.mark.timeout(60)
def test_python_dash_m_mimocorb_and_verbosity_zero(project):
    setup = _access_chain(project, "quiet_setup.yaml", main="runevents: 100")
    result = run_cli(["run", str(setup), "-v", "0"], project)
    assert result.returncode == 0, result.stdout
    assert "workers started" not in result.stdout and "Execution time" not in result.stdout
    assert_zero_loss(only_run_dir(project / "target"))
