"""``hostpatrol-collector incident``: record a security incident (安全事件), list them."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from hostpatrol.shared.clock import utcnow

from .context import cli_actor, config_for, engine_for


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as e:
        msg = f"--at {text!r}: use ISO 8601 with a zone, e.g. 2026-11-25T10:00+08:00"
        raise argparse.ArgumentTypeError(msg) from e
    if value.tzinfo is None:
        msg = f"--at {text!r}: give the zone too, e.g. 2026-11-25T10:00+08:00"
        raise argparse.ArgumentTypeError(msg)
    return value


def cmd_incident_add(args: argparse.Namespace) -> int:
    """Record one incident (audited); print its id."""
    from ..reports import incidents

    with engine_for(args).begin() as conn:
        iid = incidents.record(conn, level=args.level, occurred_at=args.at, title=args.title,
                               description=args.description or "",
                               finding_ids=args.finding or [], by=cli_actor(), now=utcnow())
    print(f"incident {iid} recorded (level {args.level.upper()})")
    return 0


def cmd_incident_list(args: argparse.Namespace) -> int:
    """Print the incidents of a period (or all), newest first."""
    from ..reports import incidents
    from ..reports.period import parse

    start = end = None
    if args.period:
        period = parse(args.period, config_for(args).settings["report"]["timezone"])
        start, end = period.start, period.end
    with engine_for(args).connect() as conn:
        rows = incidents.listing(conn, start, end, limit=100000)
    print(f"{'ID':>5}  {'LEVEL':5}  {'OCCURRED (UTC)':25}  TITLE")
    for r in rows:
        print(f"{r['id']:>5}  {r['level']:5}  {r['occurred_at']:25}  {r['title']}")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """``incident add|list``."""
    i = sub.add_parser("incident", help="security incidents (recorded by a person)"
                       ).add_subparsers(dest="incident_cmd", required=True)
    s = i.add_parser("add", parents=[common], help="record a security incident")
    s.add_argument("--level", required=True, help="I | II | III | IV (the emergency plan's)")
    s.add_argument("--at", required=True, type=_when,
                   help="when it occurred, ISO 8601 with zone (2026-11-25T10:00+08:00)")
    s.add_argument("--title", required=True)
    s.add_argument("--description", help="what happened and what was done")
    s.add_argument("--finding", type=int, action="append",
                   help="id of a related finding (repeat for several)")
    s.set_defaults(func=cmd_incident_add)
    s = i.add_parser("list", parents=[common], help="list incidents")
    s.add_argument("--period", help="only those of a period (2026-W48, 2026-11 …)")
    s.set_defaults(func=cmd_incident_list)


