"""``hostpatrol-agent``: enroll, run checks, deliver signed reports."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from hostpatrol.shared import __version__
from hostpatrol.shared.configfile import ConfigError
from hostpatrol.shared.errors import SharedError
from hostpatrol.shared.keys import load_private_key

from .checks import BUILTIN_CHECKS, by_name
from .client import ClientError
from .config import AgentConfig, load_agent_config
from .delivery import deliver_spool
from .runner import build_report, run_checks, sign_report
from .spool import Spool
from .state import State, StateError
from .summaries import summarize

NOT_YET = 2
EXIT_BY_STATUS = {"ok": 0, "skipped": 0, "warn": 1, "fail": 2, "error": 2}


def _config(args: argparse.Namespace) -> AgentConfig:
    return load_agent_config(Path(args.config) if args.config else None, BUILTIN_CHECKS)


def _selected(config: AgentConfig, names: list[str] | None) -> list[Any]:
    registry = by_name()
    if names:
        unknown = [n for n in names if n not in registry]
        if unknown:
            msg = f"unknown check(s): {', '.join(unknown)}; known: {', '.join(registry)}"
            raise ConfigError(msg)
        chosen = [registry[n] for n in names]
    else:
        chosen = [c for c in BUILTIN_CHECKS if config.enabled(c.name)]
    state = config.state_dir
    return [c(config.check_options(c.name), state_dir=state) for c in chosen]


def cmd_enroll(args: argparse.Namespace) -> int:
    """Enroll this host with a collector (the join line from `token create`)."""
    from .enrollment import enroll

    config = _config(args)
    state = State(config.state_dir)
    if state.enrollment_path.exists() and not args.force:
        msg = (f"already enrolled ({state.enrollment_path}); pass --force to enroll again "
               f"with a new key")
        raise StateError(msg)
    done = enroll(state, args.server, args.token, args.fingerprint,
                  timeout=config.settings["delivery"]["timeout_seconds"])
    print(f"enrolled as agent {done.agent_id} with {done.server} (status: {done.status})")
    if done.status == "pending":
        print("an admin must approve it: hostpatrol-collector agents approve "
              f"{done.agent_id}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run checks, sign the report, spool it, deliver the spool."""
    if not args.once:
        print("hostpatrol-agent run: only --once is available yet (use a timer or cron);"
              " `daemon` keeps schedules", file=sys.stderr)
        return NOT_YET
    config = _config(args)
    state = State(config.state_dir)
    enrollment = state.enrollment()
    key = load_private_key(state.key_path)
    names = args.checks.split(",") if args.checks else None
    spool = Spool(state.spool_dir, config.settings["spool"]["max_bytes"])
    with state.run_lock():
        checks = _selected(config, names)
        results = run_checks(checks)
        report = build_report(enrollment.agent_id, state.next_seq(),
                              "manual" if names else "once", results)
        item = spool.put(report.seq, report.report_id, sign_report(report, key))
        for check, result in zip(checks, results, strict=True):
            if result.status != "error":
                check.commit()
        print(f"report {report.report_id} (seq {report.seq}) spooled: {item.path.name}")
        from .client import Client

        client = Client(enrollment.server, enrollment.fingerprint,
                        timeout=config.settings["delivery"]["timeout_seconds"])
        done = deliver_spool(spool, client, config.settings["delivery"]["batch_size"])
    print(f"delivered {done.delivered}, duplicates {done.duplicates}, "
          f"rejected {done.dead_lettered}, still spooled {done.remaining}")
    for line in done.rejections:
        print(f"rejected: {line}", file=sys.stderr)
    if done.error:
        print(f"delivery incomplete: {done.error}", file=sys.stderr)
        return 3
    return 0 if not done.dead_lettered else 4


def _table(results: list[Any], width: int = 110) -> str:
    rows = [("CHECK", "STATUS", "TIME", "SUMMARY")]
    for r in results:
        line = summarize(r.check, r.status, r.data, r.error)
        rows.append((r.check, r.status, f"{r.duration_ms} ms",
                     line if len(line) <= width else line[: width - 1] + "…"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        f"{a:{widths[0]}}  {b:{widths[1]}}  {c:>{widths[2]}}  {d}" for a, b, c, d in rows)


def cmd_check(args: argparse.Namespace) -> int:
    """Run checks locally and print them; exit 0 ok, 1 warn, 2 fail."""
    config = _config(args)
    results = run_checks(_selected(config, args.names or None))
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(_table(results))
    return max((EXIT_BY_STATUS[r.status] for r in results), default=0)


def cmd_status(args: argparse.Namespace) -> int:
    """Where this agent is enrolled and what waits in its spool."""
    config = _config(args)
    state = State(config.state_dir)
    enrollment = state.enrollment()
    spool = Spool(state.spool_dir)
    print(f"collector: {enrollment.server} ({enrollment.fingerprint})")
    print(f"agent id: {enrollment.agent_id}")
    print(f"state dir: {state.root}")
    print(f"spooled reports: {len(spool.pending())}")
    return 0


def not_yet(name: str) -> Any:
    """A command that is part of the interface but not built in this version."""
    def run(_args: argparse.Namespace) -> int:
        print(f"hostpatrol-agent {name}: not available yet in this version", file=sys.stderr)
        return NOT_YET
    return run


def build_parser() -> argparse.ArgumentParser:
    """Every command and flag of the public interface."""
    p = argparse.ArgumentParser(prog="hostpatrol-agent", description="hostpatrol agent")
    common = argparse.ArgumentParser(add_help=False)
    for parser, default in ((p, None), (common, argparse.SUPPRESS)):
        parser.add_argument("--config", default=default,
                            help="agent.yaml (default /etc/hostpatrol/agent.yaml when present)")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("enroll", parents=[common], help="enroll with a collector")
    s.add_argument("--server", required=True, help="https://HOST:PORT of the collector")
    s.add_argument("--token", required=True, help="enrollment token")
    s.add_argument("--fingerprint", required=True, help="sha256:HEX of the collector cert")
    s.add_argument("--force", action="store_true", help="enroll again with a new key")
    s.set_defaults(func=cmd_enroll)

    s = sub.add_parser("run", parents=[common], help="run checks, sign, spool, deliver")
    s.add_argument("--once", action="store_true", help="one run, then exit (timers, cron)")
    s.add_argument("--checks", help="comma-separated check names (default: all enabled)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("check", parents=[common], help="run checks locally and print them")
    s.add_argument("names", nargs="*", help="checks to run (default: all enabled)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("daemon", parents=[common], help="keep schedules")
    s.set_defaults(func=not_yet("daemon"))
    s = sub.add_parser("install", parents=[common], help="unattended set-up")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--systemd", action="store_true")
    g.add_argument("--cron", action="store_true")
    s.set_defaults(func=not_yet("install"))
    s = sub.add_parser("export", parents=[common], help="write spooled reports to a file")
    s.add_argument("file")
    s.set_defaults(func=not_yet("export"))
    s = sub.add_parser("status", parents=[common], help="enrollment and spool state")
    s.set_defaults(func=cmd_status)
    s = sub.add_parser("rotate-key", parents=[common], help="announce a new key")
    s.set_defaults(func=not_yet("rotate-key"))
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    logging.basicConfig(level=os.environ.get("HOSTPATROL_LOG_LEVEL", "WARNING"),
                        stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ClientError, StateError, SharedError, ConfigError, OSError) as e:
        print(f"hostpatrol-agent: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
