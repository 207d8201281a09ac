"""Translatable names for finding levels and states, report areas and default rule titles."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

LEVELS = {
    "I": _l("Level I (particularly serious)"), "II": _l("Level II (serious)"),
    "III": _l("Level III (relatively serious)"), "IV": _l("Level IV (general)"),
    "info": _l("informational"),
}

STATES = {
    "open": _l("open"), "assigned": _l("assigned"), "in_progress": _l("in progress"),
    "fixed": _l("fixed"), "verified": _l("verified"), "closed": _l("closed"),
    "waived": _l("waived"), "requested": _l("requested"), "approved": _l("approved"),
    "rejected": _l("rejected"), "expired": _l("expired"), "draft": _l("draft"),
    "reviewed": _l("reviewed"), "preview": _l("preview, not saved"),
}

AREAS = {
    "disk": _l("Disk"), "patches": _l("Patches"), "antivirus": _l("Antivirus"),
    "logs": _l("Logs"), "accounts": _l("Accounts"), "ports": _l("Ports & services"),
    "backups": _l("Backups"), "isolation": _l("Isolation"),
    "software_policy": _l("Unauthorised software"), "time": _l("Time"),
    "firewall": _l("Firewall"), "inventory": _l("Inventory"), "hardware": _l("Hardware"),
    "reporting": _l("Reporting on time (missed / late runs, silent hosts)"),
}

EVENTS = {
    "opened": _l("opened"), "reopened": _l("reopened"), "verified": _l("verified by the agent"),
    "transition": _l("state changed"), "owner_changed": _l("owner changed"),
    "level_raised": _l("level raised"), "level_lowered": _l("level lowered"),
    "fix_not_confirmed": _l("fix not confirmed"),
    "waiver_requested": _l("waiver requested"), "waiver_approved": _l("waiver approved"),
    "waiver_rejected": _l("waiver rejected"), "waiver_expired": _l("waiver expired"),
    "reminder": _l("reminder sent"), "overdue": _l("overdue, escalated"),
}

# The default policy's rule titles; a title changed in the policy is shown as written.
RULE_TITLES = {
    "Disk used": _l("Disk usage too high"), "Inodes used": _l("Inode usage too high"),
    "Security updates pending": _l("Security updates pending"),
    "Security update held back (apt-mark hold)": _l("Security update held back (apt-mark hold)"),
    "Updates pending that may be security fixes":
        _l("Updates pending that may be security fixes"),
    "Reboot required after patching": _l("Reboot required after patching"),
    "Package index is stale": _l("Package index is stale"),
    "No antivirus installed": _l("No antivirus installed"),
    "Antivirus not running": _l("Antivirus not running"),
    "Antivirus real-time protection off": _l("Antivirus real-time protection off"),
    "Antivirus signatures old": _l("Antivirus signatures old"),
    "Antivirus signature age unknown": _l("Antivirus signature age unknown"),
    "Last antivirus scan too old": _l("Last antivirus scan too old"),
    "Antivirus signature updates failing": _l("Antivirus signature updates failing"),
    "Malware detected": _l("Malware detected"),
    "Malware detected and not cleaned": _l("Malware detected and not cleaned"),
    "Failed logins from one source": _l("Failed logins from one source"),
    "Successful login after many failures": _l("Successful login after many failures"),
    "Log errors above the host's weekly baseline":
        _l("Log errors above the host's weekly baseline"),
    "Logging service dead": _l("Logging service dead"),
    "Account with an empty password": _l("Account with an empty password"),
    "Second account with uid 0": _l("Second account with uid 0"),
    "Required service down": _l("Required service down"),
    "Admin account not in baseline": _l("Admin account not in baseline"),
    "Listening port not in baseline": _l("Listening port not in baseline"),
    "Installed software changed since baseline": _l("Installed software changed since baseline"),
    "Network configuration changed": _l("Network configuration changed"),
    "Hardware changed": _l("Hardware changed"),
    "Denied software installed": _l("Denied software installed"),
    "Backup older than its maximum age": _l("Backup older than its maximum age"),
    "Intranet/isolated host reached the internet":
        _l("Intranet/isolated host reached the internet"),
    "USB stick used on isolated and internet hosts":
        _l("USB stick used on isolated and internet hosts"),
    "Clock not synchronised": _l("Clock not synchronised"),
    "Host firewall off": _l("Host firewall off"),
    "Host silent (no heartbeat)": _l("Host silent (no heartbeat)"),
    "Weekly inspection missed (漏报)": _l("Weekly inspection missed"),
    "Weekly inspection arrived late (缓报)": _l("Weekly inspection arrived late"),
}

# Manual checklist items of the report's annex when collector.yaml names none; stored in
# English and translated when shown (an item a user typed is shown as typed).
CHECKLIST = {
    "Physical security of the machine room (access control, locks, visitor log)":
        _l("Physical security of the machine room (access control, locks, visitor log)"),
    "UPS and power supply tested": _l("UPS and power supply tested"),
    "Fire protection and environment (temperature, humidity)":
        _l("Fire protection and environment (temperature, humidity)"),
    "Security awareness training held": _l("Security awareness training held"),
    "Removable media register checked (USB sticks, classified media)":
        _l("Removable media register checked (USB sticks, classified media)"),
    "Emergency response plan reviewed and drilled":
        _l("Emergency response plan reviewed and drilled"),
}

RESULTS = {"pass": _l("meets the requirement"), "fail": _l("does not meet it"),
           "n/a": _l("not applicable"), "": _l("not checked yet")}


def _get(table: dict, key: str | None) -> str:
    if key is None:
        return "—"
    return str(table[key]) if key in table else key


def level_label(name: str | None) -> str:
    """``II`` → ``Level II (serious)`` (translated: Ⅱ级（重大）)."""
    return _get(LEVELS, name)


def state_label(name: str | None) -> str:
    """A finding, waiver or report state (translated)."""
    return _get(STATES, name)


def area_label(name: str | None) -> str:
    """A report area (translated)."""
    return _get(AREAS, name)


def event_label(name: str | None) -> str:
    """A timeline event (translated)."""
    return _get(EVENTS, name)


def rule_title(title: str | None) -> str:
    """A rule title, translated when it is one of the default policy's."""
    return _get(RULE_TITLES, title)


def checklist_label(item: str | None) -> str:
    """A manual checklist item, translated when it is a built-in one."""
    return _get(CHECKLIST, item)


def result_label(name: str | None) -> str:
    """A manual checklist result (translated)."""
    return _get(RESULTS, name or "")
