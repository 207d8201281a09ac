"""One-line human summaries of check data for `hostpatrol-agent check`'s table."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Summary = Callable[[dict[str, Any]], str]


def _disk(d: dict[str, Any]) -> str:
    # df rounds Use% up (96.01 % is "97%"): so does the table, so both say the same
    return ", ".join(f"{fs['mount']} {math.ceil(fs['used_percent'])}%" for fs in d["filesystems"])


def _inventory(d: dict[str, Any]) -> str:
    return f"{d['hostname']} · {d['os']['pretty_name']} · kernel {d['kernel']}"


def _patches(d: dict[str, Any]) -> str:
    text = f"{d['pending_count']} pending, {d['security_count']} security ({d['manager']})"
    if d.get("reboot", {}).get("required"):
        text += ", reboot required"
    return text


def _antivirus(d: dict[str, Any]) -> str:
    s = d["summary"]
    issues = "; ".join(s.get("issues", [])[:2])
    names = ", ".join(p["name"] for p in d["products"] if p.get("installed")) or "none"
    return f"{names}: {issues}" if issues else names


def _logs(d: dict[str, Any]) -> str:
    alive = "logging alive" if d["logging"]["alive"] else "NO logging daemon"
    unknown = d["errors"].get("severity_unknown_lines") or 0
    guessed = (f" (+{unknown} line(s) whose source gives no severity: "
               "`hostpatrol-agent install --rsyslog`)" if unknown else "")
    return (f"{d['errors']['total']} error line(s){guessed}, {d['auth']['failed_attempts']} "
            f"failed login(s), {alive}")


def _accounts(d: dict[str, Any]) -> str:
    admins = ", ".join(a["name"] for a in d["admins"][:5])
    extra = d.get("extra_uid0_accounts") or []
    return (("SECOND UID 0: " + ", ".join(extra) + "; " if extra else "")
            + f"{len(d['users'])} user(s), admins: {admins or 'none'}, "
            f"{len(d['empty_password'])} empty password(s), {len(d['dormant'])} dormant")


def _ports(d: dict[str, Any]) -> str:
    tcp = ", ".join(map(str, d["tcp_ports"][:12]))
    down = d.get("services_down") or []
    return f"TCP {tcp or 'none'}" + (f"; DOWN: {', '.join(down)}" if down else "")


def _software(d: dict[str, Any]) -> str:
    return (f"{d['installed_count']} packages, {d['denied_count']} denied, "
            f"{d['not_allowed_count']} not allowed")


def _backups(d: dict[str, Any]) -> str:
    if not d["configured"]:
        return "no backup locations configured"
    bad = [loc["name"] for loc in d["locations"] if loc.get("violations")]
    return f"{len(d['locations'])} location(s)" + (f"; failing: {', '.join(bad)}" if bad else "")


def _hardware(d: dict[str, Any]) -> str:
    sys_ = d["system"]
    vendor = " ".join(x for x in (sys_.get("vendor"), sys_.get("model")) if x) or "unknown model"
    return f"{vendor}, {len(d['disks'])} disk(s), DNS {', '.join(d['dns_servers'][:3])}"


def _isolation(d: dict[str, Any]) -> str:
    findings = d.get("findings") or []
    return f"zone {d['zone']}" + (f"; {len(findings)} finding(s)" if findings else "")


def _text_summary(d: dict[str, Any]) -> str:
    return str(d.get("summary", ""))


SUMMARIES: dict[str, Summary] = {
    "disk": _disk, "inventory": _inventory, "patches": _patches, "antivirus": _antivirus,
    "logs": _logs, "accounts": _accounts, "ports": _ports, "software_policy": _software,
    "backups": _backups, "hardware": _hardware, "isolation": _isolation,
    "time": _text_summary, "firewall": _text_summary,
}


def summarize(check: str, status: str, data: dict[str, Any], error: str | None) -> str:
    """A short line for a result; never raises (odd data falls back to nothing)."""
    if error:
        return error
    if status == "skipped":
        return str(data.get("reason", ""))
    fn = SUMMARIES.get(check, _text_summary)
    try:
        return fn(data)
    except (KeyError, TypeError, AttributeError, ValueError):
        return ""
