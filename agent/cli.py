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
from hostpatrol.shared.report import format_time

from .checks import BUILTIN_CHECKS, by_name
from .config import AgentConfig, load_agent_config
from .errors import ClientError
from .spool import Spool
from .state import State, StateError
from .summaries import summarize

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


def _agent(args: argparse.Namespace) -> Any:
    from .cycle import Agent

    return Agent(_config(args), by_name())


def cmd_run(args: argparse.Namespace) -> int:
    """Run due (or named, or all) checks, sign, spool, deliver, check in."""
    from .cycle import describe_next
    from .priority import lower_priority

    names = args.checks.split(",") if args.checks else None
    config = _config(args)
    if names:
        _selected(config, names)  # unknown names: a clear error before anything runs
    agent = _agent(args)
    lower_priority(config.settings["run"]["nice"], config.settings["run"]["io_idle"])
    result = agent.cycle(names, force_all=args.all)
    for line in result.reports + result.notes:
        print(line)
    done = result.delivery
    print(f"delivered {done.delivered}, duplicates {done.duplicates}, "
          f"rejected {done.dead_lettered}, still spooled {done.remaining}")
    upcoming = describe_next(result.next_due)
    if upcoming:
        print(f"next due: {upcoming[0]}")
    for line in done.rejections:
        print(f"rejected: {line}", file=sys.stderr)
    if result.spool_error:
        print(f"hostpatrol-agent: error: {result.spool_error}", file=sys.stderr)
        return 5
    if done.error:
        print(f"delivery incomplete: {done.error}", file=sys.stderr)
        return 3
    return 0 if not done.dead_lettered else 4


def cmd_daemon(args: argparse.Namespace) -> int:
    """Keep schedules in the foreground until SIGTERM; SIGHUP reloads agent.yaml."""
    from .daemon import Daemon
    from .priority import lower_priority

    if "HOSTPATROL_LOG_LEVEL" not in os.environ:
        logging.getLogger("hostpatrol").setLevel(logging.INFO)
    config = _config(args)
    lower_priority(config.settings["run"]["nice"], config.settings["run"]["io_idle"])
    return Daemon(lambda: _config(args), by_name()).run()


def cmd_install(args: argparse.Namespace) -> int:
    """Write unit files for unattended runs (systemd timer or daemon, cron, Windows task)."""
    from .install import install_cron, install_systemd, installed_exe

    if args.windows:
        from .wininstall import cli_install

        return cli_install(args.dest, args.exe or installed_exe(), remove=args.remove,
                           register=not args.no_register)
    if args.remove or args.no_register:
        print("error: --remove and --no-register go with --windows", file=sys.stderr)
        return 2
    exe = args.exe or installed_exe()
    state_dir = str(_config(args).state_dir)
    if args.systemd:
        dest = Path(args.dest or "/etc/systemd/system")
        paths = install_systemd(dest, exe, state_dir, daemon=args.daemon)
        unit = "hostpatrol-agent.service" if args.daemon else "hostpatrol-agent.timer"
        hint = f"systemctl daemon-reload && systemctl enable --now {unit}"
    else:
        dest = Path(args.dest or "/etc/cron.d")
        paths = install_cron(dest, exe, state_dir)
        hint = "cron picks it up by itself"
    for path in paths:
        print(f"wrote {path}")
    print(f"next: {hint}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write spooled signed reports to FILE (JSON Lines) for an air-gapped transfer."""
    config = _config(args)
    state = State(config.state_dir)
    with state.run_lock():
        count = Spool(state.spool_dir).export(Path(args.file), remove=args.remove)
    print(f"exported {count} report(s) to {args.file}"
          + ("; removed them from the spool" if args.remove and count else ""))
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Replace the agent key; the old key signs the announcement."""
    from .rotation import rotate

    agent = _agent(args)
    config, _ = agent.effective()
    with agent.state.run_lock():
        spool = agent.spool(config)
        if spool.pending():
            from .delivery import deliver_spool

            deliver_spool(spool, agent.client(config), state=agent.delivery_state)
        kid = rotate(agent.state, agent.client(config), agent.enrollment.agent_id,
                     len(spool.pending()))
    print(f"key rotated; new key id {kid}")
    return 0


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
    from .runner import run_checks

    config = _config(args)
    results = run_checks(_selected(config, args.names or None))
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(_table(results))
    return max((EXIT_BY_STATUS[r.status] for r in results), default=0)


def cmd_status(args: argparse.Namespace) -> int:
    """Enrollment, last run and delivery, spool, dead letters, policy, next runs."""
    from .cycle import describe_next
    from .policy import summary

    agent = _agent(args)
    state, ident = agent.state, agent.enrollment
    config, schedules = agent.effective()
    spool = agent.spool(config)
    runs = agent.last_runs.load()
    delivery = agent.delivery_state.load()
    dead = sorted(spool.dead.glob("*.jws")) if spool.dead.exists() else []
    print(f"collector: {ident.server} ({ident.fingerprint})")
    print(f"agent id: {ident.agent_id} (enrollment status: {ident.status})")
    print(f"state dir: {state.root}")
    print(f"last run: {format_time(max(runs.values())) if runs else 'never'}")
    print(f"last successful delivery: {delivery['last_success'] or 'never'}")
    if delivery["last_error"]:
        print(f"last delivery error: {delivery['last_error']}")
    if delivery["not_before"]:
        print(f"collector asked to wait until: {delivery['not_before']}")
    pending = spool.pending()
    print(f"spooled reports: {len(pending)} ({sum(p.path.stat().st_size for p in pending)} "
          f"bytes, cap {spool.max_bytes})")
    print(f"dead letters: {len(dead)}" + (f" (in {spool.dead})" if dead else ""))
    print(f"policy: {summary(agent.policy)}")
    print(f"monitoring level: {schedules.level}; splay {int(schedules.splay.total_seconds())}s")
    print("next scheduled runs:")
    for line in describe_next(agent.next_due()):
        print(f"  {line}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Every command and flag of the public interface."""
    p = argparse.ArgumentParser(prog="hostpatrol-agent", description="hostpatrol agent")
    common = argparse.ArgumentParser(add_help=False)
    for parser, default in ((p, None), (common, argparse.SUPPRESS)):
        parser.add_argument("--config", default=default,
                            help="agent.yaml (default /etc/hostpatrol/agent.yaml, on Windows "
                                 "%%ProgramData%%\\hostpatrol\\agent.yaml, when present)")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("enroll", parents=[common], help="enroll with a collector")
    s.add_argument("--server", required=True, help="https://HOST:PORT of the collector")
    s.add_argument("--token", required=True, help="enrollment token")
    s.add_argument("--fingerprint", required=True, help="sha256:HEX of the collector cert")
    s.add_argument("--force", action="store_true", help="enroll again with a new key")
    s.set_defaults(func=cmd_enroll)

    s = sub.add_parser("run", parents=[common], help="run due checks, sign, spool, deliver")
    s.add_argument("--once", action="store_true",
                   help="one run, then exit (the default; `daemon` keeps running)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--checks", help="comma-separated check names (default: the due ones)")
    g.add_argument("--all", action="store_true", help="every enabled check, due or not")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("check", parents=[common], help="run checks locally and print them")
    s.add_argument("names", nargs="*", help="checks to run (default: all enabled)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("daemon", parents=[common], help="keep schedules (foreground)")
    s.set_defaults(func=cmd_daemon)
    s = sub.add_parser("install", parents=[common], help="unattended set-up")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--systemd", action="store_true", help="service + timer (run --once)")
    g.add_argument("--cron", action="store_true", help="a cron.d entry (run --once)")
    g.add_argument("--windows", action="store_true",
                   help="a scheduled task running `run --once` as SYSTEM every 15 minutes")
    s.add_argument("--daemon", action="store_true",
                   help="with --systemd: one long-running `daemon` service, no timer")
    s.add_argument("--remove", action="store_true",
                   help="with --windows: delete the scheduled task")
    s.add_argument("--no-register", action="store_true",
                   help="with --windows: only write the task XML (e.g. for a GPO)")
    s.add_argument("--dest", help="target dir (default /etc/systemd/system, /etc/cron.d, "
                                  "or %%ProgramData%%\\hostpatrol for --windows)")
    s.add_argument("--exe", help="path of hostpatrol-agent (default: this one)")
    s.set_defaults(func=cmd_install)
    s = sub.add_parser("export", parents=[common],
                       help="write spooled reports to FILE (JSON Lines) for import")
    s.add_argument("file")
    s.add_argument("--remove", action="store_true",
                   help="remove the exported reports from the spool once FILE is written")
    s.set_defaults(func=cmd_export)
    s = sub.add_parser("status", parents=[common], help="enrollment, runs, spool, policy")
    s.set_defaults(func=cmd_status)
    s = sub.add_parser("rotate-key", parents=[common], help="announce a new key")
    s.set_defaults(func=cmd_rotate_key)
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
