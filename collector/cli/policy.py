"""``hostpatrol-collector`` commands for policy, hosts, baselines, findings and the worker."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.report import format_time

from .context import CliError, cli_actor, config_for, engine_for


def cmd_policy(args: argparse.Namespace) -> int:
    """load | check | show | history."""
    from .. import audit
    from ..policy import loader

    if args.action in ("load", "check"):
        if not args.file:
            msg = f"policy {args.action} needs a FILE"
            raise CliError(msg)
        text, policy = loader.load_file(Path(args.file))
        if args.action == "check":
            print(f"{args.file}: valid ({len(policy.rules)} rules)")
            return 0
        now = utcnow()
        with engine_for(args).begin() as conn:
            stored = loader.store(conn, text, source=str(Path(args.file).name),
                                  loaded_by=cli_actor(), now=now)
            if stored.changed:
                audit.record(conn, actor=cli_actor(), action="policy.load",
                             target=f"policy:{stored.version}",
                             details={"sha256": stored.sha256, "source": stored.source}, now=now)
        state = "loaded" if stored.changed else "unchanged, still"
        print(f"policy {state} version {stored.version} (sha256 {stored.sha256[:16]}…, "
              f"{len(policy.rules)} rules)")
        return 0
    with engine_for(args).connect() as conn:
        if args.action == "show":
            version, text = loader.text_of(conn, args.version)
            print(f"# policy version {version}" + (" (packaged default, never loaded)"
                                                   if version == 0 else ""))
            print(text, end="")
            return 0
        rows = loader.history(conn)
    print(f"{'VERSION':>7}  {'LOADED AT':24}  {'BY':16}  {'SHA256':16}  SOURCE")
    for r in rows:
        print(f"{r.version:>7}  {format_time(r.loaded_at):24}  {r.loaded_by[:16]:16}  "
              f"{r.sha256[:16]:16}  {r.source}")
    return 0


def _find_host(conn: Any, ref: str) -> Any:
    from ..store import agents

    row = agents.find(conn, ref)
    if row is None:
        msg = f"no host matches {ref!r} (use the id from `agents list`)"
        raise CliError(msg)
    return row


def cmd_hosts(args: argparse.Namespace) -> int:
    """set | show: criticality, tags, group and owners of a host."""
    from .. import audit
    from ..store import profiles

    now = utcnow()
    with engine_for(args).begin() as conn:
        host = _find_host(conn, args.id)
        if args.action == "set":
            current = profiles.get_profile(conn, host.id)
            tags = set(current.tags) if current else set()
            tags = (tags | set(args.tag or [])) - set(args.untag or [])
            critical = True if args.critical else (False if args.not_critical else None)
            profiles.set_profile(conn, host.id, by=cli_actor(), now=now, critical=critical,
                                 tags=sorted(tags), owner=args.owner,
                                 backup_owner=args.backup_owner, group=args.group)
            audit.record(conn, actor=cli_actor(), action="host.profile",
                         target=f"host:{host.id}",
                         details={"critical": critical, "tags": sorted(tags),
                                  "group": args.group, "owner": args.owner,
                                  "backup_owner": args.backup_owner}, now=now)
        row = profiles.host_row(conn, host.id)
    print(f"host {row.id} ({row.hostname}): group {row.group_name or '-'}, "
          f"critical {'yes' if row.critical else 'no'}, tags {','.join(row.tags or []) or '-'}, "
          f"owner {row.owner or '-'}, backup owner {row.backup_owner or '-'}")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    """show | approve a host's baselines."""
    from .. import audit
    from ..findings import baselines
    from ..store import profiles

    now = utcnow()
    with engine_for(args).begin() as conn:
        host = _find_host(conn, args.id)
        if args.action == "approve":
            if not args.kind:
                msg = "baseline approve needs a KIND (ports, admins, software, network, hardware)"
                raise CliError(msg)
            try:
                items = baselines.approve(conn, host.id, args.kind, cli_actor(), now)
            except Exception as e:  # ApiError: unknown kind, no result yet
                raise CliError(str(e)) from e
            audit.record(conn, actor=cli_actor(), action="baseline.approve",
                         target=f"host:{host.id}", details={"kind": args.kind,
                                                            "items": len(items)}, now=now)
            print(f"{args.kind} baseline of {host.hostname} approved: {len(items)} item(s)")
            return 0
        rows = profiles.get_baselines(conn, host.id)
    for kind, r in sorted(rows.items()):
        print(f"{kind} (taken {format_time(r.taken_at)} by {r.approved_by}):")
        for item in r.items:
            print(f"  {item}")
    return 0


def cmd_findings(args: argparse.Namespace) -> int:
    """List findings of the register."""
    import sqlalchemy as sa

    from ..findings.deadlines import is_overdue
    from ..policy.model import level_name
    from ..store.schema import findings

    q = sa.select(findings).order_by(findings.c.id).limit(args.limit)
    if args.state:
        q = q.where(findings.c.state.in_(args.state.split(",")))
    now = utcnow()
    with engine_for(args).connect() as conn:
        rows = conn.execute(q).all()
    print(f"{'ID':>6}  {'LEVEL':5}  {'STATE':11}  {'HOST':36}  {'RULE':20}  SUBJECT")
    for r in rows:
        late = " OVERDUE" if is_overdue(r.state, r.deadline, now) else ""
        print(f"{r.id:>6}  {level_name(r.level):5}  {r.state:11}  {r.agent_id:36}  "
              f"{r.rule_id[:20]:20}  {r.subject}{late}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run the background worker until SIGTERM/SIGINT."""
    import logging

    from ..background import run_worker

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s [worker] %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = config_for(args).settings
    engine = engine_for(args)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        run_worker(engine, stop, report_zone=settings["report"]["timezone"],
                   trend_weeks=settings["dashboard"]["trend_weeks"])
    finally:
        engine.dispose()
    return 0


def start_worker(args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """``serve`` starts one worker process beside its web workers (same data dir and config)."""
    argv = [sys.executable, "-m", "hostpatrol.collector.cli"]
    if args.config:
        argv += ["--config", args.config]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    return subprocess.Popen([*argv, "worker"])


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the commands on the main parser."""
    s = sub.add_parser("policy", parents=[common], help="load, check, show or list policies")
    s.add_argument("action", choices=["load", "check", "show", "history"])
    s.add_argument("file", nargs="?", help="policy YAML (load, check)")
    s.add_argument("--version", type=int, help="show this version (default: current)")
    s.set_defaults(func=cmd_policy)

    s = sub.add_parser("hosts", parents=[common], help="host criticality, tags, group, owners")
    s.add_argument("action", choices=["set", "show"])
    s.add_argument("id", help="agent id or unique hostname")
    s.add_argument("--critical", action="store_true", help="mark the host critical")
    s.add_argument("--not-critical", action="store_true", help="clear the critical mark")
    s.add_argument("--tag", action="append", help="add a tag (repeatable)")
    s.add_argument("--untag", action="append", help="remove a tag (repeatable)")
    s.add_argument("--group", help="move the host to group G")
    s.add_argument("--owner", help="owner of the host's findings")
    s.add_argument("--backup-owner", help="backup owner")
    s.set_defaults(func=cmd_hosts)

    s = sub.add_parser("baseline", parents=[common], help="show or approve a host's baseline")
    s.add_argument("action", choices=["show", "approve"])
    s.add_argument("id", help="agent id or unique hostname")
    s.add_argument("kind", nargs="?", help="ports | admins | software | network | hardware")
    s.set_defaults(func=cmd_baseline)

    s = sub.add_parser("findings", parents=[common], help="list the findings register")
    s.add_argument("--state", help="comma-separated states")
    s.add_argument("--limit", type=int, default=1000)
    s.set_defaults(func=cmd_findings)

    s = sub.add_parser("worker", parents=[common],
                       help="run background work (serve starts one; a lease keeps it single)")
    s.set_defaults(func=cmd_worker)


def load_default_policy(engine: Any) -> None:
    """``init``: store the packaged default policy as version 1 when none is stored."""
    from .. import audit
    from ..policy import loader

    now = utcnow()
    with engine.begin() as conn:
        if loader.history(conn):
            return
        stored = loader.store(conn, loader.default_text(), source="default policy.yaml",
                              loaded_by=cli_actor(), now=now)
        audit.record(conn, actor=cli_actor(), action="policy.load",
                     target=f"policy:{stored.version}",
                     details={"sha256": stored.sha256, "source": stored.source}, now=now)
    print(f"policy: default loaded as version {stored.version}")
