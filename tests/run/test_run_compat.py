"""The mimoCoRB 1.0.2 face: run_mimoDAQ and buffer_control used from Python (see docs/compatibility.md)."""

from __future__ import annotations

import pytest
import yaml
from runkit import assert_zero_loss, chain, filter_total, write_setup
from support import run_python, wait_until


@pytest.mark.timeout(60)
def test_run_mimoDAQ_from_python(project, capsys):
    from mimocorb.buffer_control import run_mimoDAQ, tc

    setup = write_setup(project, "py_setup.yaml", "KBD_control: false\n" + chain(3), main="runevents: 500")
    daq = run_mimoDAQ(str(setup), verbose=1)
    assert daq.setup_dict["Functions"][0] == {"Fkt_main": {"runevents": 500}}
    assert daq.kbdcontrol is False and daq.GUIcontrol is False
    assert daq.output_directory == "target"
    assert daq.directory_prefix.startswith("target/py_setup_") and daq.directory_prefix.endswith("/")
    assert (project / daq.directory_prefix).is_dir()
    assert daq.status == "Initialized" and daq.state == "configured"
    daq.setup()
    assert daq.RBnames == ["RB_1", "RB_2", "RB_3"]
    assert daq.bc.status == "WorkersSet"
    assert daq.bc.parallel_functions["FKT_2"] == ("copy_filter", 3, {"RB_1": "read", "RB_2": "write"})
    daq.run()
    assert daq.status == "Shutdown" and daq.state == "ended"
    assert daq.exit_code == 0
    out = capsys.readouterr().out
    assert "3 buffers created..." in out and "List of buffers" in out and "Finished, good bye !" in out
    assert "  RB_2: 8 slots, 1 values per slot" in out
    run_dir = daq.result.run_dir
    assert assert_zero_loss(run_dir) == 500
    daq.run()  # a second call does not fail
    assert "has been started already" in capsys.readouterr().out
    assert tc.E == "\033[0m"


@pytest.mark.timeout(60)
def test_run_mimoDAQ_invalid_setup_raises_before_creating_anything(project):
    from mimocorb.buffer_control import run_mimoDAQ
    from mimocorb.config import ConfigError

    setup = write_setup(project, "bad_setup.yaml", "RingBuffer: []\nFunctions:\n")
    with pytest.raises(ConfigError):
        run_mimoDAQ(str(setup), verbose=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_mimoDAQ(str(project / "missing.yaml"))
    assert not (project / "target").exists()


@pytest.mark.timeout(60)
def test_buffer_control_from_setup_parts(project):
    """The original's lower-level class: dicts in, processes under the caller's control."""
    from mimocorb.buffer_control import buffer_control

    setup = yaml.safe_load(chain(3) + "FunctionConfigs:\n  copy_filter: {max_sleep: 0.0005}\n")
    setup["Functions"].insert(0, {"Fkt_main": {"runtime": 0}})
    run_dir = project / "runs" / "manual"
    bc = buffer_control(setup["RingBuffer"], setup["Functions"], setup["FunctionConfigs"], str(run_dir))
    assert bc.status == "Initialized"
    rbs = bc.setup_buffers()
    assert bc.status == "BuffersSet" and list(rbs) == ["RB_1", "RB_2", "RB_3"] == bc.ringbuffer_names
    bc.setup_workers()
    assert bc.status == "WorkersSet" and bc.process_list == []
    processes = bc.start_workers()
    assert bc.status == "Running" and len(processes) == 1 + 3 + 2 + 1 + 1
    assert processes[-1].name == "counting_source"  # Fkt_1's first process is started last
    wait_until(lambda: rbs["RB_3"].cumulative_event_count > 100, 20, "events through the chain")
    bc.pause()
    assert bc.status == "Paused"
    bc.resume()
    assert bc.status == "Running"
    bc.resume()  # ignored when not paused
    bc.stop()
    assert bc.status == "Stopped"
    wait_until(lambda: not processes[-1].is_alive(), 20, "the source to end after stop")
    result = bc.shutdown()
    assert bc.status == "Shutdown" and result.exit_code == 0
    n = assert_zero_loss(run_dir)
    assert filter_total(run_dir) == 2 * n


def test_import_has_no_side_effects_and_no_gui():
    code = (
        "import multiprocessing as mp, sys, time\n"
        "p = mp.get_context('fork').Process(target=time.sleep, args=(60,), daemon=True); p.start()\n"
        "import mimocorb.buffer_control as bc\n"
        "from mimocorb.buffer_control import rbImport, rbPut, rbExport, rbTransfer, rbProcess, rbDrain, "
        "rb_toTxtfile, rb_toParquetfile, rbObserver, rbWSObserver, buffer_control, run_mimoDAQ\n"
        "assert p.is_alive(), 'importing buffer_control killed a child'\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tkinter', 'matplotlib', 'pydantic')]\n"
        "assert not bad, bad\n"
        "p.terminate(); p.join()\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
