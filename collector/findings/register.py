"""Turn an evaluation into the register: open, update, reopen, verify; never duplicate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa

from ..policy.model import Policy, Rule, level_name, raise_level
from ..rules.engine import Evaluation
from ..rules.model import Deviation, HostFacts
from ..rules.severity import Severity, severity
from ..store.schema import agents, findings
from ..store.sql import distinct, insert_ignore
from .deadlines import deadline, owners
from .events import ACTIVE, add_event

ACTOR = "agent"


@dataclass(frozen=True, slots=True)
class Applied:
    """What one evaluation changed in the register."""

    opened: int = 0
    updated: int = 0
    reopened: int = 0
    verified: int = 0
    # the findings it was given (``known``) still say what the register holds of them
    # (state, levels, deadline, ...): the host's next report in a batch may reuse them
    current: bool = True


# the fleet spread counts hosts up to this many times its threshold, then says "or more":
# counting every host with the finding, for each finding opened, grew with the fleet (a
# fleet's first reports opened 400,000 findings, each counting the ones before it)
SPREAD_COUNT_CAP = 10


def _hosts_with(conn: sa.Connection, where: sa.ColumnElement[bool], most: int) -> int:
    """How many hosts have a finding ``where`` (a rule's), counted up to ``most``: one
    probe of ix_findings_rule_agent per host (a DISTINCT read every finding of the rule
    and sorted them first, 23 ms at 7,500 findings)."""
    return len(distinct(conn, findings.c.agent_id, where, limit=most))


def _spread(conn: sa.Connection, policy: Policy, rule: Rule,
            host: HostFacts) -> dict[str, Any] | None:
    """The fleet-spread factor when the same rule deviates widely, else None. Its
    ``hosts`` is exact below ``SPREAD_COUNT_CAP`` times the threshold; at the cap,
    ``at_least`` says the fleet has that many or more."""
    if not rule.spread:
        return None
    active = sa.and_(findings.c.rule_id == rule.id, findings.c.state.in_(ACTIVE),
                     findings.c.agent_id != host.agent_id)
    cap = max(policy.spread_min_hosts, 1) * SPREAD_COUNT_CAP
    hosts = _hosts_with(conn, active, cap - 1) + 1
    if hosts >= policy.spread_min_hosts:
        return {"hosts": hosts, "min_hosts": policy.spread_min_hosts,
                **({"at_least": True} if hosts >= cap else {})}
    if host.group and hosts >= 2:
        in_group = conn.execute(sa.select(sa.func.count(sa.distinct(findings.c.agent_id)))
                                .where(active, findings.c.group_name == host.group)
                                ).scalar_one() + 1
        size = conn.execute(sa.select(sa.func.count()).select_from(agents).where(
            agents.c.group_name == host.group, agents.c.status == "active")).scalar_one()
        percent = 100.0 * in_group / max(size, 1)
        if in_group >= 2 and percent >= policy.spread_min_group_percent:
            return {"group": host.group, "group_hosts": in_group, "group_size": size,
                    "percent": round(percent, 1),
                    "min_group_percent": policy.spread_min_group_percent}
    return None


def _raise_others(conn: sa.Connection, policy: Policy, rule: Rule, spread: dict[str, Any],
                  now: datetime) -> None:
    """The threshold was just crossed: raise the rule's other active findings once."""
    q = sa.select(findings).where(findings.c.rule_id == rule.id,
                                  findings.c.state.in_(ACTIVE), findings.c.spread.is_(False))
    if "group" in spread:
        q = q.where(findings.c.group_name == spread["group"])
    for row in conn.execute(q).all():
        raised = raise_level(row.level)
        factor = {"factor": "fleet_spread", "from": level_name(row.level),
                  "to": level_name(raised), **spread}
        sev = Severity(raised, row.base_level, (*row.factors, factor))
        _set_level(conn, policy, row, sev, now, spread=True)


def level_record(level: int, due: datetime | None) -> dict[str, Any]:
    """What an event keeps of a finding's level and deadline from then on."""
    return {"level": level, "deadline": due.isoformat() if due else None}


def _set_level(conn: sa.Connection, policy: Policy, row: Any, sev: Severity, now: datetime,
               *, spread: bool | None = None) -> None:
    values: dict[str, Any] = {"level": sev.level, "factors": sev.factor_list()}
    if spread is not None:
        values["spread"] = spread
    if sev.level < row.level:
        due = deadline(policy, sev.level, row.opened_at)
        if due is not None and (row.deadline is None or due < row.deadline):
            values["deadline"] = due
    conn.execute(findings.update().where(findings.c.id == row.id).values(**values))
    if sev.level != row.level:  # the timeline keeps every level (reports of past periods)
        due = values.get("deadline", row.deadline)
        add_event(conn, policy, row.id, now=now, actor="policy",
                  action="level_raised" if sev.level < row.level else "level_lowered",
                  note=f"level {level_name(row.level)} → {level_name(sev.level)}",
                  details={"factors": sev.factor_list(), "from_level": level_name(row.level),
                           **level_record(sev.level, due)})


def open_finding(conn: sa.Connection, policy: Policy, host: HostFacts, rule: Rule,
                 dev: Deviation, now: datetime, result_id: int | None) -> bool:
    """Open a finding for a new deviation; False when another process opened it first."""
    spread = _spread(conn, policy, rule, host)
    sev = severity(rule, dev.level, critical=host.critical, first_seen=now, now=now,
                   spread=spread)
    owner, backup = owners(policy, host)
    fid = insert_ignore(conn, findings, {
        "dedup_key": dev.dedup_key(host.agent_id), "agent_id": host.agent_id,
        "rule_id": rule.id, "subject": dev.subject[:512], "check_name": rule.check,
        "title": rule.title[:255], "group_name": host.group, "state": "open",
        "level": sev.level, "base_level": sev.base_level, "factors": sev.factor_list(),
        "spread": spread is not None, "owner": owner, "backup_owner": backup,
        "deadline": deadline(policy, sev.level, now), "first_seen": now, "opened_at": now,
        "last_seen": now, "state_changed_at": now, "repeat_count": 0, "occurrences": 1,
        "evidence": {"message": dev.message, **dev.evidence}, "last_result_id": result_id,
        "policy_version": policy.version,
    }, conflict=("dedup_key",))
    if fid is None:
        return False  # another process opened it first: it is a repeat
    add_event(conn, policy, fid, action="opened", actor=ACTOR, now=now, to_state="open",
              note=dev.message, details={"factors": sev.factor_list(),
                                         "evidence": dict(dev.evidence), **level_record(
                  sev.level, deadline(policy, sev.level, now))})
    if spread is not None:
        _raise_others(conn, policy, rule, spread, now)
    return True


def repeat_finding(conn: sa.Connection, policy: Policy, host: HostFacts, rule: Rule,
                   dev: Deviation, row: Any, now: datetime, result_id: int | None) -> str:
    """Record a deviation seen again; "reopened", "updated" (the register columns of
    ``row`` changed) or "seen" (only last seen, occurrences and evidence did)."""
    base = {"last_seen": now, "occurrences": findings.c.occurrences + 1,
            "evidence": {"message": dev.message, **dev.evidence},
            "last_result_id": result_id, "base_level": dev.level}
    where = findings.c.id == row.id
    if row.state in ("verified", "closed"):
        sev = severity(rule, dev.level, critical=host.critical, first_seen=now, now=now,
                       spread=_spread(conn, policy, rule, host))
        conn.execute(findings.update().where(where).values(
            **base, state="open", level=sev.level, factors=sev.factor_list(),
            repeat_count=findings.c.repeat_count + 1, opened_at=now, state_changed_at=now,
            deadline=deadline(policy, sev.level, now), reminded_at=None, escalated_at=None))
        add_event(conn, policy, row.id, action="reopened", actor=ACTOR, now=now,
                  from_state=row.state, to_state="open", note=dev.message,
                  details={"repeat_count": row.repeat_count + 1,
                           "evidence": dict(dev.evidence), **level_record(
                      sev.level, deadline(policy, sev.level, now))})
        return "reopened"
    if row.state == "fixed":
        conn.execute(findings.update().where(where).values(
            **base, state="in_progress", state_changed_at=now))
        add_event(conn, policy, row.id, action="fix_not_confirmed", actor=ACTOR, now=now,
                  from_state="fixed", to_state="in_progress", note=dev.message,
                  details={"evidence": dict(dev.evidence)})
    else:  # the common case, once per deviating result: a statement built once
        conn.execute(_seen_again(), {"fid": row.id, "last_seen": now,
                                     "evidence": base["evidence"],
                                     "last_result_id": result_id, "base_level": dev.level})
    factor = next((f for f in row.factors or [] if f.get("factor") == "fleet_spread"), None)
    spread = None if factor is None else {k: v for k, v in factor.items()
                                          if k not in ("factor", "from", "to")}
    sev = severity(rule, dev.level, critical=host.critical, first_seen=row.opened_at, now=now,
                   spread=spread)
    if sev.level != row.level or sev.factor_list() != list(row.factors or []):
        _set_level(conn, policy, row, sev, now)
        return "updated"
    return "updated" if row.state == "fixed" or row.base_level != dev.level else "seen"


def _verify(conn: sa.Connection, policy: Policy, row: Any, now: datetime,
            result_id: int | None) -> None:
    conn.execute(_verified(), {"fid": row.id, "now": now, "last_result_id": result_id})
    add_event(conn, policy, row.id, action="verified", actor=ACTOR, now=now,
              from_state=row.state, to_state="verified",
              note="the agent's next result passes", details={"result_id": result_id})


@cache
def _verified() -> sa.Update:  # built once: every fixed deviation comes through here
    return findings.update().where(findings.c.id == sa.bindparam("fid")).values(
        state="verified",
        state_changed_at=sa.bindparam("now", type_=findings.c.state_changed_at.type),
        last_result_id=sa.bindparam("last_result_id", type_=findings.c.last_result_id.type))


@cache
def _seen_again() -> sa.Update:
    # built once: runs for every result that still deviates (the bound values take the
    # columns' types: UTC datetimes, JSON)
    return findings.update().where(findings.c.id == sa.bindparam("fid")).values(
        last_seen=sa.bindparam("last_seen", type_=findings.c.last_seen.type),
        occurrences=findings.c.occurrences + 1,
        evidence=sa.bindparam("evidence", type_=findings.c.evidence.type),
        last_result_id=sa.bindparam("last_result_id", type_=findings.c.last_result_id.type),
        base_level=sa.bindparam("base_level", type_=findings.c.base_level.type))


def _register_columns() -> tuple[sa.Column, ...]:
    """What the register reads of a finding it may update (not its evidence: a JSON
    document only ever replaced, which would be decoded for every report)."""
    c = findings.c
    return (c.id, c.dedup_key, c.agent_id, c.rule_id, c.state, c.level, c.base_level,
            c.factors, c.deadline, c.opened_at, c.repeat_count)


@cache
def _existing_query() -> sa.Select:
    # built once: apply runs for every ingested report. By rule, not by check: a group
    # override may point a rule at another check than its open findings were made from
    return sa.select(*_register_columns()).where(
        findings.c.agent_id == sa.bindparam("agent_id"),
        findings.c.rule_id.in_(sa.bindparam("rules", expanding=True)))


@cache
def _agents_findings_query() -> sa.Select:
    return sa.select(*_register_columns()).where(
        findings.c.agent_id.in_(sa.bindparam("agents", expanding=True)),
        findings.c.rule_id.in_(sa.bindparam("rules", expanding=True)))


def findings_of(conn: sa.Connection, agent_ids: list[str],
                rule_ids: list[str]) -> dict[str, list[Any]]:
    """The findings of ``rule_ids`` of each of ``agent_ids`` (one query for a batch of
    reports; :func:`apply` looks only at the rules it evaluated, so ``rule_ids`` need only
    hold those: :func:`rules.engine.rules_fed_by` the batch's checks)."""
    out: dict[str, list[Any]] = {a: [] for a in agent_ids}
    if agent_ids and rule_ids:
        for row in conn.execute(_agents_findings_query(), {"agents": sorted(set(agent_ids)),
                                                           "rules": rule_ids}):
            out[row.agent_id].append(row)
    return out


def apply(conn: sa.Connection, policy: Policy, host: HostFacts, ev: Evaluation, now: datetime,
          result_ids: dict[str, int] | None = None, *,
          known: list[Any] | None = None) -> Applied:
    """Record an evaluation for one host in the caller's transaction.

    ``known``: the host's findings as they are now (:func:`findings_of`), sparing the read.
    """
    if not ev.rules:
        return Applied()
    result_ids = result_ids or {}
    rules = {r.id: r for r in ev.rules}
    rows = known if known is not None else conn.execute(
        _existing_query(), {"agent_id": host.agent_id, "rules": sorted(rules)})
    existing = {row.dedup_key: row for row in rows if row.rule_id in rules}
    counts = {"opened": 0, "updated": 0, "reopened": 0, "verified": 0}
    current = True
    seen = set()
    for dev in ev.deviations:
        key = dev.dedup_key(host.agent_id)
        seen.add(key)
        rule = rules[dev.rule_id]
        rid = result_ids.get(rule.check)
        row = existing.get(key)
        if row is None and open_finding(conn, policy, host, rule, dev, now, rid):
            counts["opened"] += 1
            continue
        if row is None:  # another process opened it meanwhile
            current = False
            row = conn.execute(sa.select(*_register_columns()).where(
                findings.c.dedup_key == key)).one()
        outcome = repeat_finding(conn, policy, host, rule, dev, row, now, rid)
        current = current and outcome == "seen"
        counts["updated" if outcome == "seen" else outcome] += 1
    for key, row in existing.items():
        if key not in seen and row.state in ACTIVE:
            _verify(conn, policy, row, now, result_ids.get(rules[row.rule_id].check))
            counts["verified"] += 1
    current = current and not (counts["opened"] or counts["verified"])
    return Applied(**counts, current=current)
