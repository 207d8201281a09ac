"""``hostpatrol-collector`` commands for agent operations: run-now commands and import."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import CHECK_NAME

from .context import CliError, cli_actor, config_for, engine_for


def run_now(args: argparse.Namespace, engine: Any) -> int:
    """Queue a run_now command; the agent executes it after its next delivery."""
    from .. import audit
    from ..intake.checkin import create_command
    from ..store import agents

    checks = [c.strip() for c in (args.checks or "").split(",") if c.strip()]
    bad = [c for c in checks if not CHECK_NAME.match(c)]
    if bad:
        msg = f"not a check name: {', '.join(bad)}"
        raise CliError(msg)
    now = utcnow()
    with engine.begin() as conn:
        row = agents.find(conn, args.id or "")
        if row is None or row.status != "active":
            msg = f"no active agent matches {args.id!r} (see `agents list`)"
            raise CliError(msg)
        cid = create_command(conn, row.id, checks, now=now, created_by=cli_actor())
        audit.record(conn, actor=cli_actor(), action="agent.run_now", target=f"agent:{row.id}",
                     details={"command": cid, "checks": checks}, now=now)
    print(f"command {cid}: run {', '.join(checks) or 'every enabled check'} on {row.id} "
          f"({row.hostname}) at its next check-in")
    return 0


def import_reports(args: argparse.Namespace) -> int:
    """Import signed reports exported by air-gapped agents; exit 4 if any was rejected."""
    from ..intake.importer import import_file
    from ..intake.trust import Limits

    config = config_for(args)
    done = import_file(engine_for(args), Path(args.file), Limits.from_config(config.ingest),
                       horizon_days=args.horizon_days)
    count = {k: sum(o.outcome == k for _, o in done)
             for k in ("accepted", "duplicate", "rejected")}
    for line, o in done:
        if o.outcome == "rejected":
            print(f"{args.file}:{line.number}: rejected ({o.status} {o.reason}): {o.error}",
                  file=sys.stderr)
    print(f"accepted {count['accepted']}, duplicates {count['duplicate']}, "
          f"rejected {count['rejected']}")
    return 4 if count["rejected"] else 0
