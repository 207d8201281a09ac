"""status: what `hostpatrol-agent status` prints — enrollment, failed runs, delivery, spool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hostpatrol.shared.report import format_time

from . import crashlog
from .cycle import Agent, describe_next
from .policy import summary

GAP_WORDS = {"spool_full": "dropped, spool full", "too_large": "too large",
             "rejected": "refused by the collector"}


def crash_lines(root: Path) -> list[str]:
    """The last failed run and whether a report told the collector (none when none)."""
    crash = crashlog.load(root)
    if crash is None:
        return []
    where = f" [{crash['where']}]" if crash["where"] else ""
    told = (f"carried by report seq {crash['reported_in']}" if crash["reported_in"]
            is not None else "not yet told to the collector: the next report carries it")
    return [f"last failed run: {crash['at']} ({crash['command']}; {crash['count']} in a row "
            f"since {crash['first_at']}): {crash['error']}{where}", f"  {told}"]


def _reasons(reasons: dict[str, int]) -> str:
    return ", ".join(f"{n} {GAP_WORDS.get(k, k)}" for k, n in reasons.items()) \
        or "reason unknown"


def agent_lines(agent: Agent, crash: list[str]) -> list[str]:
    """Everything else `status` says about a working agent."""
    state, ident = agent.state, agent.enrollment
    config, schedules = agent.effective()
    spool = agent.spool(config)
    runs = agent.last_runs.load()
    delivery: dict[str, Any] = agent.delivery_state.load()
    dead = spool.dead_letters()
    out = [f"collector: {ident.server} ({ident.fingerprint})",
           f"agent id: {ident.agent_id} (enrollment status: {ident.status})",
           f"state dir: {state.root}",
           f"last run: {format_time(max(runs.values())) if runs else 'never'}", *crash,
           f"last successful delivery: {delivery['last_success'] or 'never'}"]
    if delivery["last_error"]:
        out.append(f"last delivery error: {delivery['last_error']}")
    if delivery["not_before"]:
        out.append(f"collector asked to wait until: {delivery['not_before']}")
    pending = spool.pending()
    out.append(f"spooled reports: {len(pending)} ({sum(p.path.stat().st_size for p in pending)}"
               f" bytes, cap {spool.max_bytes})")
    out.append(f"dead letters: {len(dead)}" + (f" (in {spool.dead})" if dead else ""))
    gap = spool.gap()
    if gap:
        out.append(f"evidence gap not yet acknowledged: {gap['dropped']} report(s), seq "
                   f"{gap['first_seq']}-{gap['last_seq']} ({_reasons(gap['reasons'])})")
    limits = delivery.get("limits")
    if isinstance(limits, dict) and limits:
        out.append("collector limits: " + ", ".join(f"{k} {v}"
                                                     for k, v in sorted(limits.items())))
    out += [f"policy: {summary(agent.policy)}",
            f"monitoring level: {schedules.level}; "
            f"splay {int(schedules.splay.total_seconds())}s" + "".join(
                f", {name} {int(splay.total_seconds())}s"
                for name, splay in sorted(schedules.splays.items())),
            "next scheduled runs:"]
    out += [f"  {line}" for line in describe_next(agent.next_due())]
    return out
