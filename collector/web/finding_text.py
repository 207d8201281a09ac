"""A finding's message, its level factors and its timeline notes in the reader's language.

The register stores what a rule found as data (the finding's ``evidence``: value, limit,
path, ...; new rows also name the kind of fact, ``fact``); the sentence is made here at
render time. Rows stored before that carry only the English sentence and the values: the
kind is read from which values they hold, and a row with none shows the rule's title and
subject. Notes the system wrote (levels, deadlines, verification) are rebuilt from the
event; notes a person typed are shown as typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .finding_labels import level_label, rule_title
from .labels import check_label
from .timefmt import date_text, parse_instant

# Values of the agents' results that rules compare (dotted paths); others show as written.
FIELDS = {
    "logging.alive": _l("logging service running"), "active": _l("firewall active"),
    "synchronised": _l("clock synchronised"), "summary.installed": _l("antivirus installed"),
    "summary.running": _l("antivirus running"),
    "summary.realtime_protection": _l("real-time protection on"),
    "running": _l("running"), "reboot_required": _l("reboot required"),
    "enabled": _l("enabled"), "cleaned": _l("cleaned"),
}

FACTORS = {
    "rule": _l("the rule's level"), "age": _l("unrectified for a long time"),
    "critical_host": _l("critical host"), "fleet_spread": _l("same problem on many hosts"),
}


def field_label(path: str | None) -> str:
    """A compared field's name (its path when unknown)."""
    if not path:
        return _("the value")
    return str(FIELDS[path]) if path in FIELDS else path


def number(value: Any) -> str:
    """A figure of a message: whole numbers without decimals, others to two places."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    return format_decimal(value, format="#,##0.##")


def value_text(value: Any) -> str:
    """A compared value: yes/no, absent, a number or the text as written."""
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if value is None:
        return _("absent")
    return number(value) if isinstance(value, int | float) else str(value)


def subject_text(subject: str | None) -> str:
    """A finding's subject for display: "—" for none, a baseline item gone from the host
    (stored as ``removed <item>``) said so in the reader's language."""
    if not subject or subject == "-":
        return "—"
    if subject.startswith("removed "):
        return _("gone: %(item)s", item=subject[8:])
    return subject


def label(title: str | None, subject: str | None) -> str:
    """The rule's title and the finding's subject (when it has one)."""
    if not subject or subject == "-":
        return rule_title(title)
    return _("%(title)s: %(subject)s", title=rule_title(title), subject=subject_text(subject))


def fact_of(evidence: Mapping[str, Any]) -> str | None:
    """The kind of fact ``evidence`` holds: named by new rows, read off the values of old."""
    named = evidence.get("fact")
    if isinstance(named, str):
        return named
    keys, message = set(evidence), str(evidence.get("message") or "")
    guesses = (("gap_hours", "late"), ("window_hours", "trend"), ("other_count", "crossing"),
               ("added", "drift_added"), ("removed", "drift_removed"), ("item", "each"),
               ("expected", "required"), ("unit", "staleness"))
    for key, fact in guesses:
        if key in keys:
            return fact
    if "silent_hours" in keys:
        return "silent" if "nothing heard" in message else "missed"
    if "limit" in keys:
        return "count" if "(allowed" in message else "threshold"
    if keys >= {"value"} and evidence.get("value") is None:
        return "age_unknown"
    return None


def _sentence(fact: str | None, title: str | None, subject: str | None, check: str | None,
              e: Mapping[str, Any]) -> str:
    who = label(title, subject)
    name = rule_title(title)
    if fact == "threshold":
        unit = "%" if str(e.get("path") or "").endswith("percent") else ""
        return _("%(what)s is %(value)s (limit %(limit)s)", what=who,
                 value=number(e.get("value")) + unit, limit=number(e.get("limit")) + unit)
    if fact == "required":
        return _("%(what)s: %(field)s is %(value)s, expected %(expected)s", what=who,
                 field=field_label(e.get("path")), value=value_text(e.get("value")),
                 expected=value_text(e.get("expected")))
    if fact == "staleness":
        hours = e.get("unit") == "hours"
        text = (_("%(what)s is %(age)s hours old (limit %(limit)s hours)") if hours
                else _("%(what)s is %(age)s days old (limit %(limit)s days)"))
        return text % {"what": who, "age": number(e.get("value")),
                       "limit": number(e.get("limit"))}
    if fact == "age_unknown":
        return _("%(what)s: no age known (never done?)", what=who)
    if fact == "count":
        return _("%(what)s: %(value)s (allowed %(limit)s)", what=who,
                 value=number(e.get("value")), limit=number(e.get("limit")))
    if fact == "drift_added":
        return _("%(title)s: %(item)s is not in the baseline", title=name,
                 item=str(e.get("added")))
    if fact == "drift_removed":
        return _("%(title)s: %(item)s is gone from the host", title=name,
                 item=str(e.get("removed")))
    if fact == "late":
        return _("%(title)s: the %(check)s check ran %(gap)s h after its previous run "
                 "(allowed %(allowed)s h)", title=name, check=check_label(check or "?"),
                 gap=number(e.get("gap_hours")), allowed=number(e.get("allowed_hours")))
    if fact == "silent":
        return _("%(title)s: nothing heard from the host for %(hours)s h (allowed "
                 "%(allowed)s h)", title=name, hours=number(e.get("silent_hours")),
                 allowed=number(e.get("allowed_hours")))
    if fact == "missed":
        return _("%(title)s: no %(check)s run for %(hours)s h (allowed %(allowed)s h)",
                 title=name, check=check_label(check or "?"),
                 hours=number(e.get("silent_hours")), allowed=number(e.get("allowed_hours")))
    if fact == "trend":
        return _("%(title)s: %(value)s in %(window)s h, more than %(factor)s× the host's "
                 "usual (%(expected)s expected at %(weekly)s a week over the last %(days)s "
                 "days)", title=name, value=number(e.get("value")),
                 window=number(e.get("window_hours")), factor=number(e.get("factor")),
                 expected=number(e.get("expected")), weekly=number(e.get("weekly_baseline")),
                 days=number(e.get("baseline_days")))
    if fact == "crossing":
        others = [o for o in e.get("other_hosts") or [] if isinstance(o, Mapping)]
        names = ", ".join(f"{o.get('hostname')} ({o.get('zone')})" for o in others)
        more = int(e.get("other_count") or 0) - len(others)
        text = _("%(what)s on this %(zone)s host was also seen on %(hosts)s", what=who,
                 zone=str(e.get("zone")), hosts=names)
        return text + (_(" and %(n)s more hosts", n=more) if more > 0 else "")
    return who


def message(title: str | None, subject: str | None, check: str | None,
            evidence: Mapping[str, Any] | None) -> str:
    """What a finding found, in the current language."""
    e = evidence if isinstance(evidence, Mapping) else {}
    return _sentence(fact_of(e), title, subject, check, e)


def factor_name(factor: Mapping[str, Any]) -> str:
    """A level factor's name."""
    name = str(factor.get("factor", ""))
    return str(FACTORS[name]) if name in FACTORS else name


def factor_detail(factor: Mapping[str, Any]) -> str:
    """What a level factor did, in words."""
    f, name = factor, factor.get("factor")
    step = _("%(from)s → %(to)s", **{"from": level_label(f.get("from")),
                                     "to": level_label(f.get("to"))})
    if name == "rule":
        return _("rule %(rule)s: %(level)s", rule=f.get("rule"), level=level_label(f.get("level")))
    if name == "age":
        return _("open %(days)s days or more: %(step)s", days=number(f.get("after_days")),
                 step=step)
    if name == "critical_host":
        return step
    if name == "fleet_spread" and "group" in f:
        return _("%(n)s of %(size)s hosts of group %(group)s (%(pct)s%%, from %(min)s%%): "
                 "%(step)s", n=number(f.get("group_hosts")), size=number(f.get("group_size")),
                 group=f.get("group"), pct=number(f.get("percent")),
                 min=number(f.get("min_group_percent")), step=step)
    if name == "fleet_spread" and f.get("at_least"):
        return _("%(n)s hosts or more (from %(min)s): %(step)s", n=number(f.get("hosts")),
                 min=number(f.get("min_hosts")), step=step)
    if name == "fleet_spread":
        return _("%(n)s hosts (from %(min)s): %(step)s", n=number(f.get("hosts")),
                 min=number(f.get("min_hosts")), step=step)
    return ", ".join(f"{k}={v}" for k, v in f.items() if k != "factor")


SYSTEM_ACTORS = ("agent", "system", "policy")
ACTORS = {"agent": _l("the agent"), "system": _l("the system"), "policy": _l("the policy")}


def actor_label(actor: str | None) -> str:
    """Who did it: a user's name as stored, the agent, the system or the policy translated."""
    if not actor:
        return "—"
    return str(ACTORS[actor]) if actor in ACTORS else actor
_LEVELS = re.compile(r"level (\S+) → (\S+)")
_DEADLINE = re.compile(r"deadline (\S+)")


def event_note(event: Any, title: str | None, subject: str | None,
               check: str | None) -> str:
    """A timeline note: rebuilt from the event when the system wrote it, else as typed."""
    note, details = event.note or "", event.details if isinstance(event.details, Mapping) else {}
    if event.actor not in SYSTEM_ACTORS:
        return note
    action = event.action
    if action in ("opened", "reopened", "fix_not_confirmed"):
        return message(title, subject, check, details.get("evidence") or {})
    if action == "verified":
        return _("the agent's next result passes")
    if action in ("level_raised", "level_lowered"):
        found = _LEVELS.search(note)
        old = details.get("from_level") or (found.group(1) if found else None)
        new = found.group(2) if found else None
        return _("level %(from)s → %(to)s", **{"from": level_label(old), "to": level_label(new)})
    if action == "waiver_expired":
        return _("waiver %(id)s expired", id=details.get("waiver_id", "?"))
    if action in ("reminder", "overdue"):
        found = _DEADLINE.search(note)
        when = parse_instant(found.group(1).rstrip(";")) if found else None
        day = date_text(when) if isinstance(when, datetime) else "—"
        return (_("deadline %(day)s", day=day) if action == "reminder"
                else _("deadline %(day)s passed; escalated", day=day))
    return note
