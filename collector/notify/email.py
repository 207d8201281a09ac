"""Email through SMTP (STARTTLS or implicit TLS, optional login); password from file or env."""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from ..errors import CollectorError


class DeliveryError(CollectorError):
    """A message could not be delivered (it will be retried)."""


def _password(smtp: Mapping[str, Any]) -> str | None:
    if smtp.get("password_file"):
        return Path(smtp["password_file"]).read_text(encoding="utf-8").strip()
    if smtp.get("password_env"):
        return os.environ.get(smtp["password_env"])
    return None


def send_email(channel: Mapping[str, Any], subject: str, body: str,
               context: ssl.SSLContext | None = None) -> None:
    """Send one message to the channel's recipients."""
    smtp = channel["smtp"]
    msg = EmailMessage()
    msg["From"] = smtp["from"]
    msg["To"] = ", ".join(channel["to"])
    msg["Subject"] = subject
    msg.set_content(body)
    timeout = float(channel.get("timeout_seconds") or 10)
    try:
        context = context or ssl.create_default_context(cafile=smtp.get("ca_file") or None)
        if smtp.get("ssl"):
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp["host"], smtp["port"], timeout=timeout,
                                                    context=context)
        else:
            client = smtplib.SMTP(smtp["host"], smtp["port"], timeout=timeout)
        with client:
            if smtp.get("starttls") and not smtp.get("ssl"):
                client.starttls(context=context)
            if smtp.get("username"):
                client.login(smtp["username"], _password(smtp) or "")
            client.send_message(msg)
    except (OSError, smtplib.SMTPException) as e:
        msg_text = f"email to {', '.join(channel['to'])} via {smtp['host']}:{smtp['port']}: {e}"
        raise DeliveryError(msg_text) from e
