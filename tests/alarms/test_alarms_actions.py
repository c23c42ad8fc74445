"""The action process on its own: real webhook receivers, a real SMTP server, real commands, the history
database; every failure comes back as a report with its reason and the process goes on."""

from __future__ import annotations

import json
import multiprocessing
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alarmkit import hook_server, smtp_server
from support import wait_until

from mimocorb.alarms import ActionLink
from mimocorb.alarms.record import alarm_rows

EVENT = {
    "alarm": "no_muons",
    "state": "raised",
    "severity": "warning",
    "value": 0.1,
    "values": {"RB_1.rate_hz": 0.1},
    "condition": "RB_1.rate_hz < 0.5",
    "run_directory": None,
    "time": 1767268800.0,
}


@pytest.fixture(params=["fork", "spawn"])
def link(request: pytest.FixtureRequest) -> Iterator[ActionLink]:
    """The action process, started as the run starts its workers (fork on Linux, spawn on macOS)."""
    link = ActionLink(multiprocessing.get_context(request.param))
    yield link
    link.close(timeout=10.0)
    assert not link.process.is_alive()


def reports(link: ActionLink, count: int) -> list[str]:
    seen: list[str] = []

    def enough() -> bool:
        seen.extend(text for _, text in link.reports())
        return len(seen) >= count

    wait_until(enough, 30.0, f"{count} report(s) of the action process")
    return seen


def test_webhook_command_and_history_row_of_one_event(link: ActionLink, tmp_path: Path) -> None:
    run_dir = tmp_path / "setup_2026-01-01_120000"
    run_dir.mkdir()
    event = {**EVENT, "run_directory": str(run_dir)}
    script = "import json, os; json.dump(dict(os.environ), open('env.json', 'w'))"
    with hook_server() as hook:
        actions = [{"webhook": hook.url}, {"exec": [sys.executable, "-c", script]}]
        record = {"output_directory": str(tmp_path), "run": run_dir.name}
        assert link.submit(event, actions, record)
        done = reports(link, 2)
        assert hook.bodies() == [event]
    assert sorted(done) == sorted(
        [
            f"alarm no_muons (raised): webhook: {hook.url} answered 200",
            f"alarm no_muons (raised): exec: {sys.executable} done",
        ]
    )
    env = json.loads((run_dir / "env.json").read_text())  # the command ran in the run directory
    assert env["MIMOCORB_ALARM"] == "no_muons" and env["MIMOCORB_ALARM_STATE"] == "raised"
    assert env["MIMOCORB_ALARM_VALUE"] == "0.1" and env["MIMOCORB_RUN_DIRECTORY"] == str(run_dir)
    assert json.loads(env["MIMOCORB_ALARM_JSON"]) == event
    rows = wait_until(lambda: alarm_rows(tmp_path, run_dir.name), 30.0, "the history row")
    assert [(r["alarm"], r["state"], r["value"], r["values"]) for r in rows] == [
        ("no_muons", "raised", 0.1, {"RB_1.rate_hz": 0.1})
    ]


def test_failures_are_reported_with_their_reason_and_the_next_event_is_served(link: ActionLink) -> None:
    with socket.socket() as closed, socket.socket() as silent:
        closed.bind(("127.0.0.1", 0))  # kept bound, so no server below gets its port
        nobody = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"  # bound, not listening: refused
        check_failures(link, nobody, silent)


def check_failures(link: ActionLink, nobody: str, silent: socket.socket) -> None:
    with hook_server(answer=500) as failing, hook_server() as good:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # takes the connection, never answers: the webhook's timeout ends it
        hanging = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        actions = [{"webhook": nobody}, {"webhook": hanging}, {"webhook": failing.url}, {"exec": "false"}]
        assert link.submit(EVENT, actions, None)
        failed = reports(link, 4)
        assert link.submit({**EVENT, "state": "cleared"}, [{"webhook": good.url}], None)
        assert reports(link, 1) == [f"alarm no_muons (cleared): webhook: {good.url} answered 200"]
    prefix = "WARNING: alarm no_muons (raised): "
    assert f"{prefix}webhook failed: [Errno 111] Connection refused; the run goes on" in failed
    assert f"{prefix}webhook failed: HTTP 500 Internal Server Error; the run goes on" in failed
    assert f"{prefix}webhook failed: TimeoutError: timed out; the run goes on" in failed, failed
    assert f"{prefix}exec failed: RuntimeError: false exited with 1; the run goes on" in failed


def test_mail_reaches_the_smtp_server_and_a_refusal_is_reported_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIMOCORB_SMTP_CONFIG", str(tmp_path / "smtp.yaml"))
    with smtp_server() as (port, received):
        (tmp_path / "smtp.yaml").write_text(f"host: 127.0.0.1\nport: {port}\nfrom: daq@example.org\n")
        link = ActionLink(multiprocessing.get_context())
        try:
            assert link.submit(EVENT, [{"email": "lab@example.org"}], None)
            assert reports(link, 1) == ["alarm no_muons (raised): email: mail sent to lab@example.org"]
        finally:
            link.close()
        assert len(received) == 1
        mail = received[0]
        assert mail["To"] == "lab@example.org" and mail["From"] == "daq@example.org"
        assert mail["Subject"] == "[mimocorb] alarm no_muons raised (warning)"
        assert "condition: RB_1.rate_hz < 0.5" in mail.get_payload()
        monkeypatch.setenv("MIMOCORB_SMTP_USER", "daq")
        monkeypatch.setenv("MIMOCORB_SMTP_PASSWORD", "s3cret-pw")  # this server offers no login
        link = ActionLink(multiprocessing.get_context())
        try:
            assert link.submit(EVENT, [{"email": "lab@example.org"}], None)
            (refused,) = reports(link, 1)
        finally:
            link.close()
    assert refused.startswith("WARNING: alarm no_muons (raised): email failed: SMTPNotSupportedError")
    assert "s3cret-pw" not in refused and len(received) == 1


def test_mail_without_a_server_configured_says_where_settings_are_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MIMOCORB_SMTP_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/mimocorb/smtp.yaml there
    link = ActionLink(multiprocessing.get_context())
    try:
        assert link.submit(EVENT, [{"email": "lab@example.org"}], None)
        (report,) = reports(link, 1)
    finally:
        link.close()
    assert "email failed: SmtpSettingsError: no SMTP server configured: set MIMOCORB_SMTP_HOST" in report
