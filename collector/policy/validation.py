"""Validate a policy document into a :class:`Policy`; every error names file:line and key."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from hostpatrol.shared.configfile import ConfigError, Field, validate
from hostpatrol.shared.schemas import schema_names

from .history_kinds import CROSSING, KIND_CHECKS, TREND
from .model import KINDS, LEVELS, Channel, Group, Policy, Route, Rule, Targets

NUM = (int, float)
OPT_STR = (str, type(None))
LEVEL = tuple(LEVELS)
SCALAR = (bool, int, float, str)

COMMON: dict[str, Field] = {
    "id": Field(str, doc="unique rule id; part of every finding's dedup key"),
    "kind": Field(str, doc="rule kind", choices=KINDS),
    "check": Field(str, doc="the check whose results feed the rule ('*' for any report)"),
    "title": Field(str, "", "short text shown on the finding"),
    "description": Field(str, "", "free text for people"),
    "level": Field(str, "IV", "base level", choices=LEVEL),
    "critical_level": Field(OPT_STR, None, "level on a host marked critical",
                            choices=(*LEVEL, None)),
    "enabled": Field(bool, True, "false turns the rule off (per group too)"),
    "spread": Field(bool, True, "raise one level when widespread (see spread:)"),
    "targets": Field(dict, doc="hosts the rule applies to", children={
        "groups": Field(list, list, "only hosts in these groups"),
        "tags": Field(list, list, "only hosts with one of these tags"),
        "exclude_tags": Field(list, list, "never hosts with one of these tags"),
    }),
    "age_levels": Field(list, list, "[{after_days, level}]: level once the finding is that old"),
}
ITEMS: dict[str, Field] = {
    "items": Field(OPT_STR, None, "dotted path of a list in the data; each item is a subject"),
    "subject": Field(OPT_STR, None, "item field naming the subject (default: the whole item)"),
    "match": Field(dict, dict, "item filter: field → value or glob pattern"),
}
KIND_SPECS: dict[str, dict[str, Field]] = {
    "threshold": {**ITEMS,
                  "value": Field(str, doc="dotted path of the number compared"),
                  "direction": Field(str, "above", "above: value >= at; below: value <= at",
                                     choices=("above", "below")),
                  "steps": Field(list, doc="[{at, level}]; the most severe step reached wins")},
    "required": {**ITEMS,
                 "path": Field(str, doc="dotted path of the value"),
                 "expect": Field(SCALAR, True, "the value required"),
                 "missing": Field(str, "ignore", "when the value is absent or null",
                                  choices=("ignore", "deviation"))},
    "staleness": {**ITEMS,
                  "age": Field(str, doc="dotted path of an age (as the agent measured it)"),
                  "unit": Field(str, "days", "unit of the age", choices=("days", "hours")),
                  "max": Field((*NUM, type(None)), None, "oldest age allowed (unit)"),
                  "max_field": Field(OPT_STR, None, "item field holding the item's own maximum"),
                  "steps": Field(list, list, "[{over, level}]: more severe when older"),
                  "missing": Field(str, "deviation", "when the age is absent or null",
                                   choices=("ignore", "deviation"))},
    "count": {**ITEMS,
              "path": Field(OPT_STR, None, "dotted path of a number or list (without items)"),
              "max": Field(NUM, 0, "deviation when the count is above this"),
              "each": Field(bool, False, "one deviation per matching item (subject: its "
                                         "field, or the item itself)")},
    "drift": {"baseline": Field(str, doc="which baseline set",
                                choices=("ports", "admins", "software", "network", "hardware")),
              "removed": Field(bool, False, "also a deviation when an item disappears")},
    "checkin": {"mode": Field(str, doc="silent | missed | late",
                              choices=("silent", "missed", "late")),
                "interval_hours": Field(NUM, 168, "how often the check is expected"),
                "grace_hours": Field(NUM, 24, "allowance past the interval")},
    "trend": TREND,
    "crossing": CROSSING,
}
STEP = {"threshold": {"at": Field(NUM), "level": Field(str, choices=LEVEL),
                      "critical": Field(bool, False, "step only applies on critical hosts")},
        "staleness": {"over": Field(NUM), "level": Field(str, choices=LEVEL)}}
AGE_STEP = {"after_days": Field(NUM), "level": Field(str, choices=LEVEL)}

TOP: dict[str, Field] = {
    "format": Field(str, "hostpatrol.policy/1", "document format",
                    choices=("hostpatrol.policy/1",)),
    "deadlines_hours": Field(dict, doc="hours to rectify, by level", children={
        "I": Field(NUM, 24), "II": Field(NUM, 72), "III": Field(NUM, 168), "IV": Field(NUM, 720),
        "info": Field((*NUM, type(None)), None)}),
    "remind_before_hours": Field(NUM, 24, "reminder this long before a deadline"),
    "owner": Field(OPT_STR, None, "default owner of findings"),
    "backup_owner": Field(OPT_STR, None, "default backup owner"),
    "spread": Field(dict, doc="fleet spread", children={
        "min_hosts": Field(int, 10, "same deviation on this many hosts raises one level"),
        "min_group_percent": Field(NUM, 20, "… or on this % of a group's hosts"),
    }),
    "groups": Field(dict, dict, "group → {parent, owner, backup_owner, rules: overrides}"),
    "notify": Field(dict, doc="notifications", children={
        "first_notice": Field(dict, doc="level → immediate | digest | none", children={
            k: Field(str, d, choices=("immediate", "digest", "none"))
            for k, d in (("I", "immediate"), ("II", "immediate"), ("III", "immediate"),
                         ("IV", "digest"), ("info", "none"))}),
        "digest_hour": Field(int, 8, "UTC hour of the daily digest"),
        "retry": Field(dict, doc="delivery retries", children={
            "max_attempts": Field(int, 8), "first_delay_seconds": Field(int, 30),
            "max_delay_seconds": Field(int, 3600)}),
        "channels": Field(dict, dict, "name → channel"),
        "routes": Field(list, list, "[{levels, groups, channels}]"),
    }),
    "retention": Field(dict, doc="purge of raw evidence and parsed results", children={
        "evidence_days": Field(int, 400, "signed reports older than this are purged (0 = never)"),
        "results_days": Field(int, 400, "parsed results older than this (0 = never)"),
        "batch": Field(int, 5000, "rows deleted per statement"),
    }),
    "jobs": Field(dict, doc="background work", children={
        "tick_seconds": Field(int, 30, "how often the worker looks for due work"),
        "lease_seconds": Field(int, 90, "how long the background lease lasts"),
        "fleet_seconds": Field(int, 3600, "how often fleet rules (kind crossing) run"),
    }),
    "agents": Field(dict, doc="what agents are told (GET /api/v1/policy)", children={
        "schedules": Field(dict, dict, "schedule name → five-field cron text"),
        "checks": Field(dict, dict, "check → {enabled, schedule, options}"),
        "groups": Field(dict, dict, "group → {schedules, checks}"),
        "tags": Field(dict, dict, "tag → {schedules, checks}"),
        "raised_tags": Field(list, list, "host tags that raise the monitoring level"),
        "raised_groups": Field(list, list, "groups whose monitoring level is raised"),
    }),
    "rules": Field(list, list, "the rules"),
}
GROUP = {"parent": Field(OPT_STR, None), "owner": Field(OPT_STR, None),
         "backup_owner": Field(OPT_STR, None), "rules": Field(dict, dict)}
CHANNEL = {"type": Field(str, choices=("email", "webhook")),
           "format": Field(str, "generic", choices=("generic", "slack", "dingtalk", "wecom")),
           "url": Field(OPT_STR, None), "to": Field(list, list),
           "timeout_seconds": Field(NUM, 10),
           "max_per_minute": Field((int, type(None)), None,
                                   "most messages a minute (notify.flood's default by format)"),
           "smtp": Field(dict, doc="SMTP server", children={
               "host": Field(str, "localhost"), "port": Field(int, 587),
               "starttls": Field(bool, True), "ssl": Field(bool, False),
               "username": Field(OPT_STR, None), "password_file": Field(OPT_STR, None),
               "password_env": Field(OPT_STR, None), "ca_file": Field(OPT_STR, None),
               "from": Field(str, "hostpatrol@localhost")})}
ROUTE = {"levels": Field(list, lambda: list(LEVEL)), "groups": Field(list, list),
         "channels": Field(list)}


class PolicyError(ConfigError):
    """A policy document does not validate."""


def _fail(source: str, lines: Mapping[str, int], path: str, message: str) -> PolicyError:
    line = lines.get(path)
    return PolicyError(f"{source}:{line}: {path}: {message}" if line else
                       f"{source}: {path}: {message}")


def _list_of(items: Any, spec: dict[str, Field], source: str, lines: Mapping[str, int],
             prefix: str) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(items):
        out.append(_strict(item, spec, source, lines, f"{prefix}[{i}]"))
    return out


def _strict(data: Any, spec: dict[str, Field], source: str, lines: Mapping[str, int],
            prefix: str) -> dict[str, Any]:
    """``validate`` plus: keys without a default are required."""
    out = validate(data, spec, source=source, lines=lines, prefix=prefix)
    for key, f in spec.items():
        if out.get(key) is None and f.default is None and type(None) not in (
                f.type if isinstance(f.type, tuple) else (f.type,)):
            raise _fail(source, lines, prefix, f"missing required key {key!r}")
    return out


def _rule(raw: Any, source: str, lines: Mapping[str, int], prefix: str) -> Rule | None:
    if not isinstance(raw, dict) or "kind" not in raw:
        raise _fail(source, lines, prefix, "a rule must be a mapping with a 'kind'")
    kind = raw["kind"]
    if not isinstance(kind, str) or kind not in KIND_SPECS:
        hint = difflib.get_close_matches(str(kind), KINDS, n=1)
        raise _fail(source, lines, f"{prefix}.kind", f"unknown kind {kind!r}" +
                    (f"; did you mean {hint[0]!r}?" if hint else f" (one of {', '.join(KINDS)})"))
    d = _strict(raw, {**COMMON, **KIND_SPECS[kind]}, source, lines, prefix)
    known = set(schema_names())
    if d["check"] != "*" and d["check"] not in known:
        hint = difflib.get_close_matches(d["check"], sorted(known), n=1)
        raise _fail(source, lines, f"{prefix}.check", f"unknown check {d['check']!r}" +
                    (f"; did you mean {hint[0]!r}?" if hint else ""))
    if kind in STEP:
        d["steps"] = _list_of(d["steps"], STEP[kind], source, lines, f"{prefix}.steps")
        if kind == "threshold" and not d["steps"]:
            raise _fail(source, lines, f"{prefix}.steps", "a threshold needs at least one step")
    if kind == "staleness" and d["max"] is None and d["max_field"] is None and not d["steps"]:
        raise _fail(source, lines, prefix, "staleness needs max, max_field or steps")
    if kind in KIND_CHECKS:
        problem = KIND_CHECKS[kind](d)
        if problem is not None:
            raise _fail(source, lines, f"{prefix}.{problem[0]}", problem[1])
    ages = _list_of(d["age_levels"], AGE_STEP, source, lines, f"{prefix}.age_levels")
    if not d["enabled"]:
        return None
    t = d["targets"]
    params = {k: v for k, v in d.items() if k not in COMMON}
    if kind in STEP:
        key = "at" if kind == "threshold" else "over"
        params["steps"] = tuple((s[key], LEVELS[s["level"]], bool(s.get("critical")))
                                for s in d["steps"])
    return Rule(
        id=d["id"], kind=kind, check=d["check"], title=d["title"] or d["id"],
        level=LEVELS[d["level"]],
        critical_level=LEVELS[d["critical_level"]] if d["critical_level"] else None,
        targets=Targets(tuple(t["groups"]), tuple(t["tags"]), tuple(t["exclude_tags"])),
        spread=d["spread"],
        age_levels=tuple(sorted((a["after_days"], LEVELS[a["level"]]) for a in ages)),
        params=MappingProxyType(params))


def _group_rules(raw_rules: dict[str, dict[str, Any]], groups: dict[str, Group],
                 source: str, lines: Mapping[str, int]) -> dict[str, tuple[Rule, ...]]:
    out: dict[str, tuple[Rule, ...]] = {}
    for name in groups:
        chain = []
        g: str | None = name
        while g and g in groups and g not in chain:
            chain.append(g)
            g = groups[g].parent
        rules = []
        for rid, raw in raw_rules.items():
            merged, where = dict(raw), None
            for gname in reversed(chain):
                override = groups[gname].overrides.get(rid)
                if override:
                    merged.update(override)
                    where = f"groups.{gname}.rules.{rid}"
            rule = _rule(merged, source, lines, where or "rules")
            if rule is not None:
                rules.append(rule)
        out[name] = tuple(rules)
    return out


AGENT_CHECK = {"enabled": Field(bool, True), "schedule": Field(OPT_STR, None),
               "options": Field(dict, dict)}
AGENT_LAYER = {"schedules": Field(dict, dict), "checks": Field(dict, dict)}


def _agent_layer(layer: Any, source: str, lines: Mapping[str, int], prefix: str) -> None:
    d = _strict(layer, AGENT_LAYER, source, lines, prefix)
    for name, cron in d["schedules"].items():
        if not isinstance(cron, str):
            raise _fail(source, lines, f"{prefix}.schedules.{name}", "cron text expected")
    for check, spec in d["checks"].items():
        if check not in schema_names():
            raise _fail(source, lines, f"{prefix}.checks.{check}", f"unknown check {check!r}")
        _strict(spec, AGENT_CHECK, source, lines, f"{prefix}.checks.{check}")


def _agents(section: dict[str, Any], source: str, lines: Mapping[str, int]) -> None:
    _agent_layer({"schedules": section["schedules"], "checks": section["checks"]}, source,
                 lines, "agents")
    for kind in ("groups", "tags"):
        for name, layer in section[kind].items():
            _agent_layer(layer, source, lines, f"agents.{kind}.{name}")


def build_policy(data: Any, *, source: str, lines: Mapping[str, int], version: int = 0,
                 sha256: str = "") -> Policy:
    """Validate a loaded YAML document into a Policy; raise PolicyError with file:line."""
    d = validate(data, TOP, source=source, lines=lines)
    raw_rules: dict[str, dict[str, Any]] = {}
    rules: list[Rule] = []
    for i, raw in enumerate(d["rules"]):
        rule = _rule(raw, source, lines, f"rules[{i}]")
        rid = raw["id"]
        if rid in raw_rules:
            raise _fail(source, lines, f"rules[{i}].id", f"duplicate rule id {rid!r}")
        raw_rules[rid] = raw
        if rule is not None:
            rules.append(rule)
    groups: dict[str, Group] = {}
    for name, g in d["groups"].items():
        gd = _strict(g, GROUP, source, lines, f"groups.{name}")
        for rid, override in gd["rules"].items():
            if rid not in raw_rules:
                raise _fail(source, lines, f"groups.{name}.rules.{rid}", f"no rule {rid!r}")
            if not isinstance(override, dict) or {"id", "kind"} & set(override):
                raise _fail(source, lines, f"groups.{name}.rules.{rid}",
                            "an override is a mapping of rule settings (not id or kind)")
        groups[name] = Group(name, gd["parent"], gd["owner"], gd["backup_owner"],
                             MappingProxyType(gd["rules"]))
    for name, g in groups.items():
        if g.parent and g.parent not in groups:
            raise _fail(source, lines, f"groups.{name}.parent", f"unknown group {g.parent!r}")
    n = d["notify"]
    channels = {}
    for name, c in n["channels"].items():
        cd = _strict(c, CHANNEL, source, lines, f"notify.channels.{name}")
        if cd["type"] == "webhook" and not cd["url"]:
            raise _fail(source, lines, f"notify.channels.{name}", "a webhook needs a url")
        if cd["type"] == "email" and not cd["to"]:
            raise _fail(source, lines, f"notify.channels.{name}", "an email channel needs to:")
        if cd["max_per_minute"] is not None and cd["max_per_minute"] < 1:
            raise _fail(source, lines, f"notify.channels.{name}.max_per_minute",
                        "must be a whole number of messages, 1 or more")
        channels[name] = Channel(name, cd["type"], MappingProxyType(cd))
    routes = []
    for i, r in enumerate(_list_of(n["routes"], ROUTE, source, lines, "notify.routes")):
        for lv in r["levels"]:
            if lv not in LEVELS:
                raise _fail(source, lines, f"notify.routes[{i}].levels", f"unknown level {lv!r}")
        for ch in r["channels"]:
            if ch not in channels:
                raise _fail(source, lines, f"notify.routes[{i}].channels",
                            f"unknown channel {ch!r}")
        routes.append(Route(tuple(LEVELS[x] for x in r["levels"]), tuple(r["groups"]),
                            tuple(r["channels"])))
    _agents(d["agents"], source, lines)
    return Policy(
        version=version, sha256=sha256, rules=tuple(rules), groups=MappingProxyType(groups),
        deadlines_hours=MappingProxyType({LEVELS[k]: v for k, v in d["deadlines_hours"].items()
                                          if v is not None}),
        remind_before_hours=d["remind_before_hours"],
        default_owner=d["owner"], default_backup_owner=d["backup_owner"],
        spread_min_hosts=d["spread"]["min_hosts"],
        spread_min_group_percent=d["spread"]["min_group_percent"],
        first_notice=MappingProxyType({LEVELS[k]: v for k, v in n["first_notice"].items()}),
        digest_hour=n["digest_hour"], retry=MappingProxyType(n["retry"]),
        channels=MappingProxyType(channels), routes=tuple(routes),
        retention=MappingProxyType(d["retention"]), jobs=MappingProxyType(d["jobs"]),
        agents=MappingProxyType(d["agents"]),
        group_rules=MappingProxyType(_group_rules(raw_rules, groups, source, lines)),
        raw=MappingProxyType(d))
