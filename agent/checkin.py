"""checkin: what a delivery answer brings back — a policy version and signed commands.

A newer ``policy_version`` than the cached one makes the agent fetch ``GET
/api/v1/policy`` and verify it (see :mod:`policy`). Each command is a JWS signed by the
pinned collector key (``hostpatrol.command/1``); refused when another key signed it,
when it names another agent, when it expired, or when its id was already executed
(``commands.json`` remembers ids until they expire). The only kind is ``run_now``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hostpatrol.shared import jws
from hostpatrol.shared.errors import JWSError, KeyFileError, SchemaError
from hostpatrol.shared.keys import public_from_b64
from hostpatrol.shared.report import CHECK_NAME, format_time, parse_time

from .client import ClientError
from .state import write_atomic

log = logging.getLogger("hostpatrol.agent.checkin")
FORMAT = "hostpatrol.command/1"
TYP = "hostpatrol.command+jws"
KINDS = ("run_now",)


class CommandRefused(ClientError):
    """A command that must not be executed; says why."""


@dataclass(frozen=True, slots=True)
class Command:
    """A verified command for this agent."""

    id: str
    kind: str
    checks: tuple[str, ...]
    expires_at: datetime


def verify_command(token: str, collector_key: str, agent_id: str, now: datetime) -> Command:
    """Verify one command JWS; raise CommandRefused."""
    try:
        unverified = jws.parse(token)
        if unverified.header.get("typ") != TYP:
            msg = f"command typ is {unverified.header.get('typ')!r}, expected {TYP}"
            raise CommandRefused(msg)
        doc = jws.loads_strict(jws.verify(unverified, public_from_b64(collector_key)))
    except (JWSError, KeyFileError, ValueError, UnicodeDecodeError) as e:
        msg = f"command refused: not signed by the pinned collector key ({e})"
        raise CommandRefused(msg) from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        msg = f"command refused: format is not {FORMAT}"
        raise CommandRefused(msg)
    if doc.get("agent_id") != agent_id:
        msg = f"command refused: it is for agent {doc.get('agent_id')!r}"
        raise CommandRefused(msg)
    if doc.get("kind") not in KINDS:
        msg = f"command refused: unknown kind {doc.get('kind')!r}"
        raise CommandRefused(msg)
    checks = doc.get("checks")
    if not isinstance(checks, list) or not all(
            isinstance(c, str) and CHECK_NAME.match(c) for c in checks):
        msg = "command refused: checks must be a list of check names"
        raise CommandRefused(msg)
    cid = doc.get("id")
    if not isinstance(cid, str) or not 0 < len(cid) <= 64:
        msg = "command refused: no id"
        raise CommandRefused(msg)
    try:
        expires = parse_time(doc.get("expires_at"), "expires_at")
        parse_time(doc.get("issued_at"), "issued_at")
    except (SchemaError, OverflowError) as e:  # OverflowError: a time at the calendar's end
        msg = f"command refused: {e}"
        raise CommandRefused(msg) from e
    if expires <= now:
        msg = f"command {cid} refused: expired at {format_time(expires)}"
        raise CommandRefused(msg)
    return Command(cid, doc["kind"], tuple(checks), expires)


class CommandLog:
    """Ids of commands already executed (``commands.json``), kept until they expire."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / "commands.json"

    def _load(self) -> dict[str, str]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def seen(self, command_id: str) -> bool:
        """Whether ``command_id`` was executed already."""
        return command_id in self._load()

    def remember(self, command: Command, now: datetime) -> None:
        """Record an executed command; forget those expired."""
        doc = {k: v for k, v in self._load().items()
               if _after(v, now)}
        doc[command.id] = format_time(command.expires_at)
        write_atomic(self.path, json.dumps(doc, indent=1).encode())


def _after(text: str, now: datetime) -> bool:
    try:
        return parse_time(text, "expires_at") > now
    except (SchemaError, OverflowError):
        return False


def accept_commands(tokens: Iterable[str], collector_key: str, agent_id: str,
                    log_: CommandLog, now: datetime) -> list[Command]:
    """The commands to execute now (verified, unexpired, not executed before)."""
    out: list[Command] = []
    for token in tokens:
        try:
            command = verify_command(token, collector_key, agent_id, now)
        except CommandRefused as e:
            log.error("%s", e)
            continue
        if log_.seen(command.id) or any(c.id == command.id for c in out):
            log.info("command already executed, ignored id=%s", command.id)
            continue
        out.append(command)
    return out


def command_meta(commands: list[Command]) -> dict[str, Any]:
    """What a report produced by commands says about them (the collector marks them done)."""
    return {"commands": [c.id for c in commands]}
