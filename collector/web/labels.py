"""Translatable names for check areas, statuses, OS families and roles on the dashboard."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

CHECKS = {
    "disk": _l("Disk"), "patches": _l("Patches"), "antivirus": _l("Antivirus"),
    "logs": _l("Logs"), "inventory": _l("Inventory"), "hardware": _l("Hardware"),
    "accounts": _l("Accounts"), "ports": _l("Ports & services"),
    "software_policy": _l("Unauthorised software"), "backups": _l("Backups"),
    "isolation": _l("Isolation"), "time": _l("Time"), "firewall": _l("Firewall"),
}

STATUSES = {
    "ok": _l("ok"), "warn": _l("warning"), "fail": _l("failed"), "error": _l("error"),
    "skipped": _l("skipped"), "pending": _l("pending"), "active": _l("active"),
    "revoked": _l("revoked"), "silent": _l("silent"), "reporting": _l("reporting"),
}

# OS families (hostpatrol.shared.osfamily.FAMILIES) and the domestic distributions.
FAMILIES = {
    "xinchuang": _l("Domestic (Xinchuang) OS"), "windows": _l("Windows"),
    "macos": _l("macOS"), "debian": _l("Debian / Ubuntu"), "rhel": _l("RHEL-like"),
    "suse": _l("SUSE"), "other_linux": _l("Other Linux"), "unknown": _l("Unknown OS"),
}
DISTROS = {
    "kylin": _l("Kylin"), "uos": _l("UnionTech UOS"), "openeuler": _l("openEuler"),
    "anolis": _l("Anolis OS"), "openkylin": _l("openKylin"), "deepin": _l("Deepin"),
}

ROLES = {
    "admin": _l("admin"), "operator": _l("operator"), "approver": _l("approver"),
    "auditor": _l("auditor"), "viewer": _l("viewer"),
}


def check_label(name: str) -> str:
    """The check's display name (its raw name when unknown)."""
    return str(CHECKS[name]) if name in CHECKS else name


def status_label(name: str | None) -> str:
    """The status's display name."""
    if name is None:
        return "—"
    return str(STATUSES[name]) if name in STATUSES else name


def role_label(name: str) -> str:
    """The role's display name."""
    return str(ROLES[name]) if name in ROLES else name


# Words of the report's further tables (reports.figures breakdowns), stored untranslated.
BREAKDOWN_WORDS = {
    "Hosts by operating system": _l("Hosts by operating system"),
    "OS family": _l("OS family"), "Hosts": _l("Hosts"), "Share": _l("Share"),
}


def breakdown_text(value: object) -> str:
    """A word or cell of a report breakdown table in the current language."""
    if value is None:
        return "—"
    text = str(value)
    if text.startswith("family:"):
        return family_label(text[7:])
    if text.startswith("distro:"):
        return "· " + distro_label(text[7:])
    return str(BREAKDOWN_WORDS[text]) if text in BREAKDOWN_WORDS else text


def family_label(name: str) -> str:
    """An OS family's display name."""
    return str(FAMILIES[name]) if name in FAMILIES else name


def distro_label(name: str) -> str:
    """A domestic distribution's display name (its key when unknown)."""
    return str(DISTROS[name]) if name in DISTROS else name


# Baseline kinds (hostpatrol.collector.rules.drift.BASELINES).
BASELINE_KINDS = {
    "ports": _l("Listening ports"), "admins": _l("Admin accounts"),
    "software": _l("Installed software"), "network": _l("Network configuration"),
    "hardware": _l("Hardware"),
}
# The agent's schedules (agent.schedule) and how a report arrived.
SCHEDULES = {
    "heartbeat": _l("heartbeat"), "daily": _l("daily"), "weekly": _l("weekly"),
    "manual": _l("manual run"), "run_now": _l("run now (from the dashboard)"),
}
SOURCES = {"http": _l("over the network"), "import": _l("imported (offline)"),
           "dashboard": _l("the dashboard"), "default policy.yaml": _l("the default policy")}

# Audit log actions; an action not listed is shown by its code.
AUDIT_ACTIONS = {
    "login": _l("signed in"), "login.failed": _l("sign-in failed"), "logout": _l("signed out"),
    "user.create": _l("user created"), "user.update": _l("user changed"),
    "user.locked": _l("user locked out"), "user.api_token": _l("API token issued"),
    "token.create": _l("enrollment token created"), "agent.approve": _l("agent approved"),
    "agent.revoke": _l("agent revoked"), "agent.run_now": _l("run requested"),
    "agent.reset": _l("agent reset"), "host.profile": _l("host profile changed"),
    "policy.load": _l("policy loaded"), "baseline.approve": _l("baseline approved"),
    "finding.transition": _l("finding state changed"), "finding.assign": _l("finding assigned"),
    "finding.bulk_assign": _l("findings assigned in bulk"),
    "finding.bulk_transition": _l("finding states changed in bulk"),
    "waiver.request": _l("waiver requested"), "waiver.approve": _l("waiver approved"),
    "waiver.reject": _l("waiver rejected"), "incident.record": _l("incident recorded"),
    "report.create": _l("report draft created"), "report.edit": _l("report draft saved"),
    "report.review": _l("report reviewed"), "report.reopen": _l("report sent back to draft"),
    "report.approve": _l("report approved"),
}
# Keys of the audit entries' details.
AUDIT_KEYS = {
    "note": _l("note"), "owner": _l("owner"), "to": _l("to state"), "kind": _l("kind"),
    "items": _l("items"), "role": _l("role"), "groups": _l("groups"), "name": _l("name"),
    "display_name": _l("display name"), "hostname": _l("host name"), "ip": _l("IP address"),
    "until": _l("until"), "expires_at": _l("expires"), "waiver": _l("waiver"),
    "finding": _l("finding"), "ids": _l("findings"), "findings": _l("related findings"),
    "done": _l("done"),
    "refused": _l("refused"), "level": _l("level"), "title": _l("title"),
    "occurred_at": _l("occurred"), "uses": _l("uses"), "group": _l("group"),
    "auto_approve": _l("approve automatically"), "version": _l("version"),
    "sha256": _l("SHA-256"), "source": _l("source"), "period": _l("period"),
    "files": _l("files"), "critical": _l("critical host"), "tags": _l("tags"),
    "previous": _l("previous value"), "prepared_by": _l("prepared by"),
    "reviewed_by": _l("reviewed by"), "approved_by": _l("approved by"),
    "checklist_items": _l("manual checklist items"), "checks": _l("checks"), "status": _l("status"),
    "reason": _l("reason"), "disabled": _l("disabled"), "lang": _l("language"),
}


RULE_KINDS = {
    "threshold": _l("threshold"), "required": _l("required value"),
    "staleness": _l("age limit"), "count": _l("count"), "drift": _l("baseline drift"),
    "checkin": _l("check-in"), "trend": _l("above the host's usual"),
    "crossing": _l("seen across zones"),
}


def rule_kind_label(kind: str) -> str:
    """A rule kind's display name (its key when unknown)."""
    return str(RULE_KINDS[kind]) if kind in RULE_KINDS else kind


def baseline_label(kind: str) -> str:
    """A baseline kind's display name (its key when unknown)."""
    return str(BASELINE_KINDS[kind]) if kind in BASELINE_KINDS else kind


def schedule_label(name: str | None) -> str:
    """A schedule's display name (its name when the agent's config chose another)."""
    if not name:
        return "—"
    return str(SCHEDULES[name]) if name in SCHEDULES else name


def source_label(name: str | None) -> str:
    """How a report arrived."""
    if not name:
        return "—"
    return str(SOURCES[name]) if name in SOURCES else name


def audit_action_label(action: str) -> str:
    """An audit action's display name (its code when unknown)."""
    return str(AUDIT_ACTIONS[action]) if action in AUDIT_ACTIONS else action


def audit_key_label(key: str) -> str:
    """An audit detail's name (its key when unknown)."""
    return str(AUDIT_KEYS[key]) if key in AUDIT_KEYS else key
