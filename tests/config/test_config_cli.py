"""``mimocorb validate`` as a user runs it: a separate process, exit code and output."""

from __future__ import annotations

import subprocess

import pytest
from cfg_project import Project
from support import mimocorb_command, run, run_python

from mimocorb.cli import main


def run_cli(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return run(mimocorb_command(*args), project.root, stderr=subprocess.PIPE)


def test_validate_good_setup_prints_ok_and_summary(example: Project) -> None:
    result = run_cli(example, "validate", "simulsource_setup.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "OK: simulsource_setup.yaml\n3 buffer(s):\n  RB_1: 128 slots x 4250 values"
    )
    assert "Fkt_4: save_parquet from modules/save_files.py x1 (RB_2:read;" in result.stdout
    assert result.stderr == ""


def test_validate_bad_setup_prints_report_and_fails(example: Project) -> None:
    example.edit_setup("num_process: 2", "num_process: 0")
    result = run_cli(example, "validate", "simulsource_setup.yaml")
    assert result.returncode == 1
    line = example.setup_line("num_process: 0")
    assert (
        f"simulsource_setup.yaml:{line}: Functions[2].Fkt_2.num_process: expected a value >= 1"
        in result.stderr
    )
    assert "OK" not in result.stdout


def test_validate_with_warnings_succeeds_and_prints_them(example: Project) -> None:
    example.edit_setup('RB_1: "write"', 'RB_1: "observe"')
    result = run_cli(example, "validate", "simulsource_setup.yaml")
    assert result.returncode == 0
    assert "warning: RingBuffer[0].RB_1: read by Fkt_2" in result.stderr
    assert result.stdout.startswith("OK: ")


def test_validate_missing_file_fails(example: Project) -> None:
    result = run_cli(example, "validate", "nothing.yaml")
    assert result.returncode == 1
    assert "setup file does not exist: 'nothing.yaml'" in result.stderr


def test_usage_errors_exit_with_2(example: Project) -> None:
    assert run_cli(example).returncode == 2
    result = run_cli(example, "validate")
    assert result.returncode == 2 and "the following arguments are required: setup" in result.stderr


def test_main_returns_the_exit_code(
    example: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(example.root)
    assert main(["validate", "simulsource_setup.yaml"]) == 0
    assert capsys.readouterr().out.startswith("OK: simulsource_setup.yaml")
    example.edit_setup("channel_per_slot: 4250", "chanel_per_slot: 4250")
    assert main(["validate", str(example.setup)]) == 1
    assert "did you mean 'channel_per_slot'?" in capsys.readouterr().err


def test_importing_the_config_package_stays_light() -> None:
    code = "import sys, mimocorb.config; print(sorted({'pydantic', 'yaml', 'matplotlib'} & set(sys.modules)))"
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
