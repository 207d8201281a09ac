"""Webhooks: generic JSON, Slack, DingTalk and WeCom (企业微信) robot formats."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from .email import DeliveryError


def webhook_body(fmt: str, payload: Mapping[str, Any], subject: str, text: str) -> dict[str, Any]:
    """The JSON each chat tool expects."""
    if fmt == "slack":
        return {"text": f"*{subject}*\n{text}"}
    if fmt == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": subject,
                                                    "text": f"### {subject}\n\n{text}"}}
    if fmt == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": f"**{subject}**\n{text}"}}
    return {"source": "hostpatrol", "subject": subject, "text": text, **payload}


def send_webhook(channel: Mapping[str, Any], payload: Mapping[str, Any], subject: str,
                 text: str, session: requests.Session | None = None) -> None:
    """POST the message; any non-2xx answer (or a robot's errcode) is a failure."""
    body = webhook_body(channel.get("format", "generic"), payload, subject, text)
    http = session or requests.Session()
    try:
        resp = http.post(channel["url"], json=body, timeout=float(channel.get("timeout_seconds")
                                                                  or 10))
    except requests.RequestException as e:
        msg = f"webhook {channel['url']}: {e}"
        raise DeliveryError(msg) from e
    finally:
        if session is None:
            http.close()
    if not 200 <= resp.status_code < 300:
        msg = f"webhook {channel['url']} answered {resp.status_code}: {resp.text[:200]}"
        raise DeliveryError(msg)
    if channel.get("format") in ("dingtalk", "wecom"):
        try:
            errcode = resp.json().get("errcode", 0)
        except ValueError:
            errcode = 0
        if errcode:
            msg = f"webhook {channel['url']} errcode {errcode}: {resp.text[:200]}"
            raise DeliveryError(msg)
