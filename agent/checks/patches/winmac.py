"""patches on Windows (Windows Update Agent via PowerShell) and macOS (softwareupdate).

Both searches use what the OS already knows: the WUA searcher runs with ``Online =
$false`` and ``softwareupdate -l --no-scan`` lists the last scan's results, so neither
contacts an update server (the index age stands for how stale that knowledge is).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from .model import Advisory, Host, ManagerReport, PendingUpdate

WUA_SCRIPT = r"""
$ErrorActionPreference = 'Stop'
$s = New-Object -ComObject Microsoft.Update.Session
$q = $s.CreateUpdateSearcher()
$q.Online = $false
$r = $q.Search("IsInstalled=0 and IsHidden=0")
$u = @($r.Updates | ForEach-Object { [pscustomobject]@{
    Title = $_.Title; KBArticleIDs = @($_.KBArticleIDs); MsrcSeverity = $_.MsrcSeverity
    Categories = @($_.Categories | ForEach-Object { $_.Name }) } })
$last = (New-Object -ComObject Microsoft.Update.AutoUpdate).Results.LastSearchSuccessDate
$reboot = (New-Object -ComObject Microsoft.Update.SystemInfo).RebootRequired
[pscustomobject]@{ Updates = $u; RebootRequired = $reboot
    LastSearchSuccessDate = if ($last) { $last.ToUniversalTime().ToString('o') } else { $null }
} | ConvertTo-Json -Depth 4 -Compress
""".strip()

_KB = re.compile(r"\(KB(\d+)\)")
_NEW_ITEM = re.compile(r"^\s*\* Label: (?P<label>.+)$")
_NEW_TITLE = re.compile(r"^\s*Title: (?P<title>.*?), Version: (?P<version>[^,]*)")
_OLD_ITEM = re.compile(r"^\s*\* (?P<label>\S.*)$")
_OLD_TITLE = re.compile(r"^\s+(?P<title>.+?) \((?P<version>[^)]*)\)")


def _as_list(value: Any) -> list[Any]:
    """ConvertTo-Json writes a one-element array as a bare value; undo that."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _category_names(raw: Any) -> list[str]:
    names = []
    for c in _as_list(raw):
        name = c.get("Name") if isinstance(c, dict) else c
        if isinstance(name, str):
            names.append(name)
    return names


def parse_windows_updates(text: str) -> tuple[list[PendingUpdate], dict[str, Any]]:
    """Updates from the WUA search JSON (a list, or an object with ``Updates``) plus extras."""
    doc = json.loads(text) if text.strip() else []
    extras: dict[str, Any] = {}
    if isinstance(doc, dict) and "Updates" in doc:
        extras = {k: v for k, v in doc.items() if k != "Updates"}
        doc = doc["Updates"]
    out = []
    for item in _as_list(doc):
        if not isinstance(item, dict):
            continue
        title = str(item.get("Title") or "")
        kbs = [f"KB{k}" for k in (str(x) for x in _as_list(item.get("KBArticleIDs"))) if k]
        if not kbs:
            kbs = [f"KB{k}" for k in _KB.findall(title)]
        severity = item.get("MsrcSeverity") or None
        cats = _category_names(item.get("Categories"))
        # Without categories (older agents, trimmed output) the title is the only hint.
        security = bool(severity) or "Security Updates" in cats or (
            not cats and "Security Update" in title)
        out.append(PendingUpdate(name=title, installed=None, candidate=None,
                                 origin=", ".join(cats) or None, security=security,
                                 advisories=tuple(kbs), severity=severity))
    return out, extras


def parse_softwareupdate(text: str) -> list[PendingUpdate]:
    """Updates from ``softwareupdate -l`` (10.15+ ``Label:/Title:`` and older layouts)."""
    out: list[PendingUpdate] = []
    label = None
    for line in text.splitlines():
        m = _NEW_ITEM.match(line) or _OLD_ITEM.match(line)
        if m:
            label = m["label"].strip()
            continue
        if label is None:
            continue
        t = _NEW_TITLE.match(line) or _OLD_TITLE.match(line)
        if t:
            title = t["title"].strip()
            out.append(PendingUpdate(
                name=title, installed=None, candidate=t["version"].strip() or None,
                origin=label, security="security" in f"{title} {label}".lower(),
            ))
            label = None
    return out


def collect_windows(host: Host) -> ManagerReport:
    """Windows Update Agent search through PowerShell (no download, no install)."""
    res, err = host.call(["powershell", "-NoProfile", "-NonInteractive", "-Command",
                          WUA_SCRIPT])
    if err or res is None:
        return ManagerReport(manager="windows_update", errors=(err or "powershell: no output",))
    try:
        updates, extras = parse_windows_updates(res.stdout)
    except (ValueError, TypeError) as e:
        return ManagerReport(manager="windows_update",
                             errors=(f"powershell: unreadable JSON ({e})",))
    updated_at = None
    last = extras.get("LastSearchSuccessDate")
    if isinstance(last, str):
        try:
            updated_at = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()
        except ValueError:
            updated_at = None
    reboot = extras.get("RebootRequired")
    advisories = tuple(Advisory(id=kb, severity=u.severity, security=u.security,
                                packages=(u.name,))
                       for u in updates for kb in u.advisories)
    return ManagerReport(
        manager="windows_update", updates=tuple(updates), advisories=advisories,
        index_updated_at=updated_at,
        index_source="WUA LastSearchSuccessDate" if updated_at is not None else None,
        reboot_required=reboot if isinstance(reboot, bool) else None,
    )


def collect_macos(host: Host) -> ManagerReport:
    """``softwareupdate -l --no-scan``: the updates the last scan found."""
    res, err = host.call(["softwareupdate", "-l", "--no-scan"])
    if err or res is None:
        return ManagerReport(manager="softwareupdate", errors=(err or "no output",))
    return ManagerReport(manager="softwareupdate",
                         updates=tuple(parse_softwareupdate(res.stdout + "\n" + res.stderr)))
