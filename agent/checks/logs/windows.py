"""Windows event parsers for the logs check: ``wevtutil qe /f:xml`` and Get-WinEvent JSON.

Security 4625 (failed logon) and 4624 (logon) become auth events with the target user
and source address; System/Application events at level 1 (critical) or 2 (error)
become error lines. Levels map onto syslog severities: 1 → crit, 2 → err, 3 → warning,
4/0 → info.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own wevtutil output, no DTDs
from dataclasses import dataclass
from typing import Any

from .parse import AuthEvent, LogLine

_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
_LEVEL_TO_SEVERITY = {1: 2, 2: 3, 3: 4, 4: 6, 0: 6, 5: 7}


@dataclass(frozen=True, slots=True)
class WinEvent:
    """The fields of one Windows event the check uses."""

    channel: str
    provider: str
    event_id: int
    level: int
    record_id: int | None
    data: dict[str, str]
    message: str

    def to_line(self) -> LogLine:
        """As a syslog-style line: source is the provider, severity from the level."""
        text = self.message or " ".join(v for v in self.data.values() if v)
        return LogLine(self.provider or self.channel, f"[{self.event_id}] {text}"[:2000],
                       _LEVEL_TO_SEVERITY.get(self.level, 6))

    def auth_event(self) -> AuthEvent | None:
        """4625 → failed attempt, 4624 → successful logon (network/RDP types only)."""
        if self.event_id not in (4624, 4625) or "Security" not in self.channel:
            return None
        user = self.data.get("TargetUserName") or None
        domain = self.data.get("TargetDomainName")
        if user and domain and domain != "-":
            user = f"{domain}\\{user}"
        ip = self.data.get("IpAddress")
        ip = ip if ip and ip not in ("-", "") else None
        if self.event_id == 4625:
            return AuthEvent("windows_4625", user, ip, attempt=True)
        if self.data.get("LogonType") not in ("3", "8", "10"):
            return None  # service and interactive console logons are not remote logins
        return AuthEvent("windows_4624", user, ip, success=True)


def _text(el: ET.Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


def parse_wevtutil_xml(text: str) -> list[WinEvent]:
    """Parse ``wevtutil qe LOG /f:xml`` output: concatenated <Event> elements."""
    body = re.sub(r"<\?xml[^>]*\?>", "", text)
    if "<!DOCTYPE" in body or "<!ENTITY" in body:
        msg = "refusing XML with a DTD"
        raise ValueError(msg)
    root = ET.fromstring(f"<Events>{body}</Events>")  # noqa: S314 - DTDs refused above
    events = []
    for ev in root.iter(f"{_NS}Event"):
        system = ev.find(f"{_NS}System")
        provider = system.find(f"{_NS}Provider") if system is not None else None
        data: dict[str, str] = {}
        unnamed = 0
        for d in ev.iter(f"{_NS}Data"):
            name = d.get("Name")
            if name is None:
                name, unnamed = f"param{unnamed + 1}", unnamed + 1
            data[name] = (d.text or "").strip()
        rendered = ev.find(f"{_NS}RenderingInfo/{_NS}Message")
        events.append(WinEvent(
            channel=_text(system.find(f"{_NS}Channel")) if system is not None else "",
            provider=provider.get("Name", "") if provider is not None else "",
            event_id=_int(_text(system.find(f"{_NS}EventID")) if system is not None else ""),
            level=_int(_text(system.find(f"{_NS}Level")) if system is not None else "", 4),
            record_id=_int(_text(system.find(f"{_NS}EventRecordID")), 0) or None
            if system is not None else None,
            data=data,
            message=_text(rendered),
        ))
    return events


_MSG_FIELD = re.compile(r"^\s*(Account Name|Account Domain|Source Network Address|Logon Type):"
                        r"[ \t]*(.*?)\s*$", re.M)


def _fields_from_message(message: str) -> dict[str, str]:
    """TargetUserName/IpAddress from a rendered 4624/4625 message (the target block)."""
    target = re.split(r"Account For Which Logon Failed:|New Logon:", message, maxsplit=1)
    out: dict[str, str] = {}
    for key, value in _MSG_FIELD.findall(target[-1]):
        name = {"Account Name": "TargetUserName", "Account Domain": "TargetDomainName",
                "Source Network Address": "IpAddress", "Logon Type": "LogonType"}[key]
        out.setdefault(name, value)
    for key, value in _MSG_FIELD.findall(target[0]):
        if key == "Logon Type":
            out.setdefault("LogonType", value)
    return out


def parse_winevent_json(text: str) -> list[WinEvent]:
    """Parse ``Get-WinEvent ... | ConvertTo-Json`` (one object or a list of them)."""
    doc: Any = json.loads(text.lstrip("\ufeff"))
    items = doc if isinstance(doc, list) else [doc]
    events = []
    for item in items:
        if not isinstance(item, dict):
            continue
        message = str(item.get("Message") or "")
        event_id = _int(str(item.get("Id", "")))
        data = _fields_from_message(message) if event_id in (4624, 4625) else {}
        events.append(WinEvent(
            channel=str(item.get("LogName") or item.get("ContainerLog") or ""),
            provider=str(item.get("ProviderName") or ""),
            event_id=event_id,
            level=_int(str(item.get("Level", "")), 4),
            record_id=_int(str(item.get("RecordId", "")), 0) or None,
            data=data,
            message=message,
        ))
    return events
