"""The setup's ``history`` block: spans written as people say them, checked before anything starts."""

from __future__ import annotations

from cfg_project import Project

from mimocorb.history import HistorySettings

SETUP = "simulsource_setup.yaml"


def _with_history(project: Project, block: str) -> None:
    project.edit_setup("RingBuffer:", f"history:\n{block}RingBuffer:")


def test_the_history_block_sets_interval_and_spans(example: Project) -> None:
    _with_history(example, "  interval: 2\n  full_resolution: 90m\n  minutes: 2w\n  hours: 1y\n")
    settings = example.validate().history
    assert settings == HistorySettings(True, 2.0, 5400.0, 14 * 86400.0, 365 * 86400.0)


def test_without_a_history_block_every_run_keeps_the_default_history(example: Project) -> None:
    assert example.validate().history == HistorySettings()
    _with_history(example, "  enabled: false\n")
    assert example.validate().history.enabled is False


def test_a_span_that_is_no_span_names_the_key_and_what_is_expected(example: Project) -> None:
    _with_history(example, "  full_resolution: six hours\n")
    text = str(example.failure())
    line = example.setup_line("full_resolution")
    assert (
        f"{SETUP}:{line}: history.full_resolution: expected a number of seconds or a number with a unit"
        in text
    )
    assert "found 'six hours'" in text


def test_an_unknown_key_of_the_history_block_is_an_error_with_a_suggestion(example: Project) -> None:
    _with_history(example, "  minute: 7d\n")
    line = example.setup_line("minute:")
    assert f"{SETUP}:{line}: history.minute: unknown key; did you mean 'minutes'?" in str(example.failure())
