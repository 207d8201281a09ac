"""``hostpatrol-agent``: enroll, run checks, deliver signed reports."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from hostpatrol.shared import __version__
from hostpatrol.shared.configfile import ConfigError
from hostpatrol.shared.errors import SharedError

from . import crashlog
from .checks import BUILTIN_CHECKS, by_name
from .config import DEFAULT_STATE_DIR, AgentConfig, load_agent_config
from .errors import ClientError, UsageError
from .spool import Spool
from .state import LockHeld, State, StateError
from .summaries import summarize

EXIT_BY_STATUS = {"ok": 0, "skipped": 0, "warn": 1, "fail": 2, "error": 2}
# sysexits.h codes, apart from the 0/1/2 that `check` gives its results.
EX_USAGE = 64  # a wrong command line: unknown command, flag or check name
EX_SOFTWARE = 70  # `check` could not run (a state or OS error)
EX_CONFIG = 78  # agent.yaml (or --config) is wrong


def _config(args: argparse.Namespace) -> AgentConfig:
    return load_agent_config(Path(args.config) if args.config else None, BUILTIN_CHECKS)


def _selected(config: AgentConfig, names: list[str] | None) -> list[Any]:
    registry = by_name()
    if names:
        unknown = [n for n in names if n not in registry]
        if unknown:
            msg = f"unknown check(s): {', '.join(unknown)}; known: {', '.join(registry)}"
            raise UsageError(msg)
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
        from hostpatrol.shared.keys import key_id, load_private_key

        kid = key_id(load_private_key(state.key_path).public_key())
        print(f"key fingerprint: {kid} (the agents page shows it; approve when they match)")
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

    if args.rsyslog:
        from .install import install_rsyslog

        rsyslog_dest = Path(args.dest or "/etc/rsyslog.d")
        logrotate_dest = Path(args.dest or "/etc/logrotate.d")
        for path in install_rsyslog(rsyslog_dest, logrotate_dest):
            print(f"wrote {path}")
        print("next: systemctl restart rsyslog (the logs check then reads real priorities)")
        return 0
    if args.windows:
        from .wininstall import cli_install

        return cli_install(args.dest, args.exe or installed_exe(), remove=args.remove,
                           register=not args.no_register)
    if args.remove or args.no_register:
        print("error: --remove and --no-register go with --windows", file=sys.stderr)
        return EX_USAGE
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

            settings = config.settings["delivery"]
            deliver_spool(spool, agent.client(config), settings["batch_size"],
                          state=agent.delivery_state,
                          max_body_bytes=settings["max_batch_bytes"])
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
    """Run checks locally and print them; exit 0 ok, 1 warn, 2 fail (64 usage, 78 config)."""
    from .runner import run_checks

    config = _config(args)
    results = run_checks(_selected(config, args.names or None))
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(_table(results))
    return max((EXIT_BY_STATUS[r.status] for r in results), default=0)


def _state_dir(args: argparse.Namespace) -> Path:
    """The state dir even when agent.yaml is broken (the environment, else the default)."""
    try:
        return _config(args).state_dir
    except (ConfigError, OSError, ValueError):
        return Path(os.environ.get("HOSTPATROL_STATE_DIR") or DEFAULT_STATE_DIR).absolute()


def cmd_status(args: argparse.Namespace) -> int:
    """Enrollment, last failed run, last run and delivery, spool, dead letters, policy."""
    from .status import agent_lines, crash_lines

    crash = crash_lines(_state_dir(args))
    try:
        agent = _agent(args)
    except (ConfigError, StateError, SharedError, OSError) as e:
        for line in crash:
            print(line)
        print(f"hostpatrol-agent: error: the agent cannot run: {e}", file=sys.stderr)
        return 1
    for line in agent_lines(agent, crash):
        print(line)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a bad command line: that is `check`'s "fail"; use EX_USAGE."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


CHECK_EPILOG = """exit status: 0 every check ok (or skipped), 1 the worst is warn, 2 the worst is
fail or error; 64 a usage error (unknown check name or flag), 78 a configuration error
(agent.yaml), 70 any other error that kept the checks from running."""


RECORDED = ("run", "daemon")  # commands whose failure is a silent host: recorded


def _failed(args: argparse.Namespace, error: BaseException) -> None:
    if args.command in RECORDED and not isinstance(error, LockHeld):
        root = _state_dir(args)
        if root.is_dir():
            crashlog.record(root, args.command, error)


def build_parser() -> argparse.ArgumentParser:
    """Every command and flag of the public interface."""
    p = _Parser(prog="hostpatrol-agent", description="hostpatrol agent",
                epilog=f"A wrong command line exits {EX_USAGE} (EX_USAGE) for every command.")
    common = _Parser(add_help=False)
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

    s = sub.add_parser("check", parents=[common], help="run checks locally and print them",
                       epilog=CHECK_EPILOG)
    s.add_argument("names", nargs="*", help="checks to run (default: all enabled)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("daemon", parents=[common], help="keep schedules (foreground)")
    s.set_defaults(func=cmd_daemon)
    s = sub.add_parser("install", parents=[common], help="unattended set-up")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--systemd", action="store_true", help="service + timer (run --once)")
    g.add_argument("--cron", action="store_true", help="a cron.d entry (run --once)")
    g.add_argument("--rsyslog", action="store_true",
                   help="an rsyslog drop-in (and logrotate entry) writing errors and logins "
                        "with their priority, for the logs check on hosts without journald")
    g.add_argument("--windows", action="store_true",
                   help="a scheduled task running `run --once` as SYSTEM every 15 minutes")
    s.add_argument("--daemon", action="store_true",
                   help="with --systemd: one long-running `daemon` service, no timer")
    s.add_argument("--remove", action="store_true",
                   help="with --windows: delete the scheduled task")
    s.add_argument("--no-register", action="store_true",
                   help="with --windows: only write the task XML (e.g. for a GPO)")
    s.add_argument("--dest", help="target dir (default /etc/systemd/system, /etc/cron.d, "
                                  "/etc/rsyslog.d and /etc/logrotate.d, or "
                                  "%%ProgramData%%\\hostpatrol for --windows)")
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
    except UsageError as e:
        print(f"hostpatrol-agent: error: {e}", file=sys.stderr)
        return EX_USAGE
    except (ClientError, StateError, SharedError, ConfigError, OSError) as e:
        _failed(args, e)
        print(f"hostpatrol-agent: error: {e}", file=sys.stderr)
        if args.func is cmd_check:  # 1 and 2 are results there, never errors
            return EX_CONFIG if isinstance(e, ConfigError) else EX_SOFTWARE
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug: the traceback for us, the record for the collector
        logging.getLogger("hostpatrol.agent").exception("%s failed", args.command)
        _failed(args, e)
        print(f"hostpatrol-agent: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
