"""mimocorb.activity_logger (the 1.0.2 logger) and what importing the workers package costs."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os

import pytest
import workers_procfuncs
from support import child_env, run_python

from mimocorb import activity_logger
from mimocorb.activity_logger import ENV_LEVEL, Gen_logger, Logging_manager


@pytest.fixture
def restore_gen_logger():
    """Gen_logger is process-wide: give later tests the level and environment they started with."""
    level, env = Gen_logger.level, os.environ.get(ENV_LEVEL)
    yield Gen_logger
    Gen_logger.set_level(level)
    if env is None:
        os.environ.pop(ENV_LEVEL, None)
    else:
        os.environ[ENV_LEVEL] = env


def test_manager_hands_out_standard_loggers_at_its_level(restore_gen_logger):
    manager = Logging_manager()
    log = manager("workers_test_a")
    assert log is logging.getLogger("workers_test_a")
    assert manager.level == logging.WARNING and log.level == logging.WARNING


def test_set_level_reaches_earlier_and_later_loggers(restore_gen_logger):
    manager = Logging_manager()
    early = manager("workers_test_b")
    manager.set_level(logging.DEBUG)
    late = manager("workers_test_c")
    assert early.level == late.level == logging.DEBUG
    manager.set_level("info")
    assert early.level == late.level == logging.INFO


@pytest.mark.parametrize("bad", ["LOUD", True, None])
def test_bad_levels_are_refused(bad):
    with pytest.raises(ValueError, match="invalid logging level"):
        Logging_manager().set_level(bad)


def test_gen_logger_is_the_module_manager():
    assert isinstance(Gen_logger, Logging_manager) and activity_logger.Gen_logger is Gen_logger


@pytest.mark.timeout(60)
def test_level_reaches_spawned_children(restore_gen_logger, tmp_path):
    Gen_logger.set_level(logging.DEBUG)
    result = tmp_path / "level.txt"
    ctx = mp.get_context("spawn")
    proc = ctx.Process(
        target=workers_procfuncs.report_log_level, args=(None, None, None, {"result_file": str(result)})
    )
    proc.start()
    proc.join(30)
    if proc.is_alive():
        proc.kill()
        proc.join(5)
    assert proc.exitcode == 0
    assert result.read_text() == "DEBUG"


def test_bad_level_in_the_environment_is_ignored_at_import():
    code = "from mimocorb.activity_logger import Gen_logger; print(Gen_logger.level)"
    out = run_python(code, env=child_env({ENV_LEVEL: "NOT_A_LEVEL"}))
    assert out.returncode == 0 and out.stdout.strip() == str(logging.WARNING)


def test_imports_are_light_and_leave_logging_alone():
    """No GUI, plotting or config libraries, and no logging.basicConfig (the controller configures)."""
    code = (
        "import logging, sys\n"
        "import mimocorb.workers, mimocorb.activity_logger\n"
        "heavy = [m for m in ('matplotlib', 'tkinter', 'yaml', 'pydantic', 'pandas', 'pyarrow') "
        "if m in sys.modules]\n"
        "print(heavy, logging.getLogger().handlers)\n"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] []"
