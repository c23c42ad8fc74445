"""Where alarm e-mails go out: the SMTP server and its credentials, from the environment or a file of the
user's, never from the setup (the run directory keeps a copy of the setup, and logs are shared).

Environment: ``MIMOCORB_SMTP_HOST``, ``MIMOCORB_SMTP_PORT``, ``MIMOCORB_SMTP_USER``,
``MIMOCORB_SMTP_PASSWORD``, ``MIMOCORB_SMTP_FROM``, ``MIMOCORB_SMTP_TLS`` (``none``, ``starttls``,
``ssl``). File: ``MIMOCORB_SMTP_CONFIG`` names it, else ``~/.config/mimocorb/smtp.yaml``; a YAML mapping
with the keys host, port, user, password, from, tls. The environment wins over the file.
"""

from __future__ import annotations

import os
import smtplib
import socket
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml

KEYS = ("host", "port", "user", "password", "from", "tls")
TLS_MODES = ("none", "starttls", "ssl")
DEFAULT_FILE = Path("~/.config/mimocorb/smtp.yaml")


class SmtpSettingsError(ValueError):
    """No usable SMTP settings; the message says where they are looked for (and never shows a secret)."""


def smtp_settings(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The SMTP settings: the file's, overridden by the environment's."""
    env = dict(os.environ if environ is None else environ)
    settings = _file_settings(env)
    for key in KEYS:
        value = env.get(f"MIMOCORB_SMTP_{key.upper()}")
        if value:
            settings[key] = value
    if not settings.get("host"):
        raise SmtpSettingsError(
            f"no SMTP server configured: set MIMOCORB_SMTP_HOST or write {DEFAULT_FILE} "
            "(host, port, user, password, from, tls)"
        )
    tls = str(settings.get("tls") or "none").lower()
    if tls not in TLS_MODES:
        raise SmtpSettingsError(f"SMTP tls: expected one of {', '.join(TLS_MODES)}, found '{tls}'")
    settings["tls"] = tls
    try:
        settings["port"] = int(settings.get("port") or (465 if tls == "ssl" else 25))
    except ValueError:
        raise SmtpSettingsError("SMTP port: expected a number") from None
    settings.setdefault("from", f"mimocorb@{socket.gethostname()}")
    return settings


def _file_settings(env: dict[str, str]) -> dict[str, Any]:
    path = Path(env.get("MIMOCORB_SMTP_CONFIG") or DEFAULT_FILE).expanduser()
    if not path.is_file():
        if env.get("MIMOCORB_SMTP_CONFIG"):
            raise SmtpSettingsError(f"MIMOCORB_SMTP_CONFIG: {path} does not exist")
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SmtpSettingsError(f"{path}: not readable as YAML ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise SmtpSettingsError(f"{path}: expected a mapping with the keys {', '.join(KEYS)}")
    unknown = [str(k) for k in data if k not in KEYS]
    if unknown:
        raise SmtpSettingsError(f"{path}: unknown keys {', '.join(unknown)}; expected {', '.join(KEYS)}")
    return {k: v for k, v in data.items() if v is not None}


def send_mail(
    to: str, subject: str, body: str, timeout: float, environ: dict[str, str] | None = None
) -> None:
    """Send one plain-text mail; SmtpSettingsError, OSError or smtplib.SMTPException if it fails."""
    s = smtp_settings(environ)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = str(s["from"]), to, subject
    message.set_content(body)
    kind = smtplib.SMTP_SSL if s["tls"] == "ssl" else smtplib.SMTP
    with kind(str(s["host"]), s["port"], timeout=timeout) as server:
        if s["tls"] == "starttls":
            server.starttls()
        if s.get("user"):
            server.login(str(s["user"]), str(s.get("password") or ""))
        server.send_message(message)
