"""``hostpatrol-collector``: set up, serve and administer a collector."""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import sys
from datetime import timedelta
from pathlib import Path

from hostpatrol.shared import __version__
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.configfile import ConfigError
from hostpatrol.shared.errors import SharedError
from hostpatrol.shared.report import format_time

from ..config import CONFIG_NAME, DEFAULT_BIND, load_config, resolve_data_dir
from ..errors import CollectorError
from .context import CliError, cli_actor, config_for, engine_for

DURATION = re.compile(r"^(\d+)([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _duration(text: str) -> timedelta:
    m = DURATION.match(text)
    if not m:
        msg = f"invalid duration {text!r}: use e.g. 30m, 24h, 7d, 2w"
        raise argparse.ArgumentTypeError(msg)
    return timedelta(**{UNITS[m.group(2)]: int(m.group(1))})


def database_line(url: str | None) -> tuple[str | None, str | None]:
    """What ``init`` writes in a new config for a ``HOSTPATROL_DATABASE_URL`` it was given,
    and what it says: the URL itself, so that ``serve`` and every command later find the
    same store without the variable; not one holding a password (a config is not a
    secret), which it names instead."""
    if not url:
        return None, None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as e:
        msg = f"HOSTPATROL_DATABASE_URL is not a database URL: {e}"
        raise CliError(msg) from e
    if parsed.password is None:
        return (f"database_url: {json.dumps(url, ensure_ascii=False)}",
                "database_url written to the config (from HOSTPATROL_DATABASE_URL)")
    return ("# database_url: from HOSTPATROL_DATABASE_URL when init ran; it holds a password,"
            " so it is not written here: give every collector process the variable (or a"
            " password file, ~/.pgpass)",
            "HOSTPATROL_DATABASE_URL holds a password and is not written to the config: set it"
            " for serve, worker and every command too")


def cmd_init(args: argparse.Namespace) -> int:
    """Create the data dir: config, TLS certificate, signing key, database."""
    from ..intake.identity import ensure_secret, ensure_signing_key, fingerprint, make_self_signed
    from ..store.db import make_engine, upgrade

    data_dir = resolve_data_dir(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cfg_path = Path(args.config) if args.config else data_dir / CONFIG_NAME
    said = None
    if not cfg_path.exists():
        lines = ["# hostpatrol collector configuration (see configs/collector.example.yaml)",
                 f"bind: {args.bind}"]
        if args.public_url:
            lines.append(f"public_url: {args.public_url}")
        line, said = database_line(os.environ.get("HOSTPATROL_DATABASE_URL"))
        lines += [line] if line else []
        cfg_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = load_config(data_dir, cfg_path)
    ensure_signing_key(config.signing_key)
    ensure_secret(config.secret_key_file)
    if not config.tls_cert.exists():
        host = config.bind.rsplit(":", 1)[0].strip("[]")
        names = dict.fromkeys([host, "localhost", "127.0.0.1", "::1", socket.gethostname()])
        make_self_signed(config.tls_cert, config.tls_key, [n for n in names if n])
    engine = make_engine(config.database_url)
    upgrade(engine)
    from .policy import load_default_policy

    load_default_policy(engine)
    engine.dispose()
    print(f"collector initialised in {data_dir}")
    print(f"database: {config.database_url.split('@')[-1]}")
    if said:
        print(said)
    print(f"TLS certificate fingerprint: {fingerprint(config.tls_cert)}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the HTTPS server (granian, TLS)."""
    from ..server import serve

    config = config_for(args)
    engine_for(args)
    from .policy import start_worker

    worker = None if args.no_worker else start_worker(args)  # background jobs, lease-guarded
    try:
        serve(config, bind=args.bind or config.bind,
              workers=args.workers or config.settings["workers"],
              threads=config.settings["threads"],
              config_path=Path(args.config).absolute() if args.config else None)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    """Create an enrollment token and print the join line."""
    from .. import audit
    from ..intake.identity import fingerprint
    from ..store import agents

    config = config_for(args)
    engine = engine_for(args)
    token = "hpe_" + secrets.token_urlsafe(24)  # never starts with "-" (argparse)
    now = utcnow()
    with engine.begin() as conn:
        tid = agents.create_token(conn, token, now=now, expires_at=now + args.expires,
                                  max_uses=args.uses, group=args.group,
                                  auto_approve=args.auto_approve)
        audit.record(conn, actor=cli_actor(), action="token.create", target=f"token:{tid}",
                     details={"uses": args.uses, "group": args.group,
                              "auto_approve": args.auto_approve,
                              "expires_at": format_time(now + args.expires)}, now=now)
    approval = ("hosts are approved automatically" if args.auto_approve
                else "hosts wait for `agents approve`")
    print(f"# token valid until {format_time(now + args.expires)} for {args.uses} host(s); "
          f"{approval}", file=sys.stderr)
    args_line = (f"--server {config.public_url} --token {token} "
                 f"--fingerprint {fingerprint(config.tls_cert)}")
    print(f"# Windows (elevated, in the unzipped agent folder): install.cmd {args_line}",
          file=sys.stderr)  # stdout stays the one line scripts run
    print(f"hostpatrol-agent enroll {args_line}")
    return 0


def cmd_agents(args: argparse.Namespace) -> int:
    """List, approve or revoke agents."""
    from .. import audit
    from ..store import agents

    engine = engine_for(args)
    if args.action == "list":
        with engine.connect() as conn:
            rows = agents.list_agents(conn, limit=100000)
        print(f"{'ID':36}  {'STATUS':8}  {'HOSTNAME':30}  LAST REPORT")
        for r in rows:
            last = format_time(r.last_report_at) if r.last_report_at else "never"
            clone = f"  CLONE SUSPECTED: {r.clone_reason}" if r.clone_suspected_at else ""
            print(f"{r.id:36}  {r.status:8}  {r.hostname[:30]:30}  {last}{clone}")
        return 0
    if args.action == "run-now":
        from .agents import run_now

        return run_now(args, engine)
    if not args.id:
        msg = f"agents {args.action} needs an agent ID"
        raise CliError(msg)
    with engine.begin() as conn:
        row = agents.find(conn, args.id)
        if row is None:
            msg = f"no agent matches {args.id!r} (use the full id from `agents list`)"
            raise CliError(msg)
        status = "active" if args.action == "approve" else "revoked"
        if row.status == "revoked" and status == "active":
            msg = f"agent {row.id} is revoked; it must enroll again with a new key"
            raise CliError(msg)
        agents.set_status(conn, row.id, status, utcnow())
        audit.record(conn, actor=cli_actor(), action=f"agent.{args.action}",
                     target=f"agent:{row.id}", details={"hostname": row.hostname}, now=utcnow())
    print(f"agent {row.id} ({row.hostname}) is now {status}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import signed reports exported by air-gapped agents."""
    from .agents import import_reports

    return import_reports(args)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Check the audit log's hash chain: exit 0 intact, 1 broken."""
    from ..audit import verify

    with engine_for(args).connect() as conn:
        result = verify(conn)
    if result.ok:
        print(f"audit log intact: {result.count} rows, head {result.head_hash}")
        return 0
    print(f"audit log BROKEN at row {result.broken_seq}: {result.reason} "
          f"({result.count} rows verified before it)", file=sys.stderr)
    return 1


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Apply database migrations."""
    from ..store.db import current_revision, make_engine, upgrade

    engine = make_engine(config_for(args).database_url)
    upgrade(engine)
    print(f"database at revision {current_revision(engine)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    p = argparse.ArgumentParser(prog="hostpatrol-collector", description="hostpatrol collector")
    common = argparse.ArgumentParser(add_help=False)
    for parser, default in ((p, None), (common, argparse.SUPPRESS)):
        parser.add_argument("--config", default=default,
                            help="path of collector.yaml (default: DATA_DIR/collector.yaml)")
        parser.add_argument("--data-dir", default=default,
                            help="data dir (default: $HOSTPATROL_DATA_DIR or "
                                 "/var/lib/hostpatrol-collector)")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", parents=[common], help="create config, keys, TLS cert and database")
    s.add_argument("--bind", default=DEFAULT_BIND, help="HOST:PORT to serve on")
    s.add_argument("--public-url", help="URL agents use (default https://BIND)")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("serve", parents=[common], help="run the HTTPS server")
    s.add_argument("--bind", help="HOST:PORT (default from config)")
    s.add_argument("--workers", type=int, help="worker processes")
    s.add_argument("--no-worker", action="store_true",
                   help="do not start the background worker (run `worker` elsewhere)")
    s.set_defaults(func=cmd_serve)
    from .policy import add_commands

    add_commands(sub, common)

    from .users import add_commands as add_user_commands

    add_user_commands(sub, common)

    t = sub.add_parser("token", help="enrollment tokens").add_subparsers(dest="token_cmd",
                                                                         required=True)
    s = t.add_parser("create", parents=[common], help="create a token; prints the join line")
    s.add_argument("--uses", type=int, default=1, help="how many hosts may enroll with it")
    s.add_argument("--expires", type=_duration, default=timedelta(hours=24),
                   help="lifetime, e.g. 30m, 24h, 7d (default 24h)")
    s.add_argument("--group", help="group the enrolled hosts join")
    s.add_argument("--auto-approve", action="store_true",
                   help="activate hosts at once instead of waiting for `agents approve`")
    s.set_defaults(func=cmd_token_create)

    s = sub.add_parser("agents", parents=[common],
                       help="list, approve, revoke agents; run-now queues a run")
    s.add_argument("action", choices=["list", "approve", "revoke", "run-now"])
    s.add_argument("id", nargs="?", help="agent id (or unique hostname)")
    s.add_argument("--checks", help="run-now: comma-separated checks (default: all enabled)")
    s.set_defaults(func=cmd_agents)

    s = sub.add_parser("import", parents=[common],
                       help="import signed reports exported by air-gapped agents")
    s.add_argument("file")
    s.add_argument("--horizon-days", type=int, default=365,
                   help="refuse reports created longer ago than this (default 365; the "
                        "network replay horizon does not apply to carried files)")
    s.set_defaults(func=cmd_import)

    from .report import add_command as add_report_command

    add_report_command(sub, common)
    from .incidents import add_commands as add_incident_commands

    add_incident_commands(sub, common)

    d = sub.add_parser("db", help="database").add_subparsers(dest="db_cmd", required=True)
    s = d.add_parser("upgrade", parents=[common], help="apply migrations")
    s.set_defaults(func=cmd_db_upgrade)

    a = sub.add_parser("audit", help="audit log").add_subparsers(dest="audit_cmd", required=True)
    s = a.add_parser("verify", parents=[common], help="check the audit log's hash chain")
    s.set_defaults(func=cmd_audit_verify)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CollectorError, SharedError, ConfigError, OSError) as e:
        print(f"hostpatrol-collector: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        from sqlalchemy.exc import InterfaceError, OperationalError

        if not isinstance(e, (OperationalError, InterfaceError)):
            raise
        why = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        print(f"hostpatrol-collector: error: the database could not be reached: {why}",
              file=sys.stderr)
        return 1

