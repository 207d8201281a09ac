"""Messages that stand for many outbox rows: a channel's flood bundle and its daily digest.

A channel is sent at most ``max_per_minute`` messages a minute. When more of its messages
are due than it may still take this minute, they go out as one **bundle**: a message that
counts them by level and by event and lists the most severe by name. DingTalk and WeCom
robots take 20 messages a minute (DingTalk stops a robot that sends more for ten minutes
and asks for a summary when alerts come in numbers); Slack's webhooks one a second. A
fleet's first reports open findings by the hundred thousand: one message each would keep
a robot busy for days and fill a room nobody reads.

Each row a bundle or a digest carries names it (``outbox.bundle_id``), so the count a
message prints is the number of rows naming it.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from ..policy.model import LEVELS, Channel, Policy
from ..store.schema import outbox
from ..store.sql import insert_ignore

PER_MINUTE = {"dingtalk": 20, "wecom": 20, "slack": 60, "generic": 60}
EMAIL_PER_MINUTE = 30
LISTED = 50  # rows a bundle or a digest names at most; the rest are counted
# the largest message each robot takes, in bytes of text: WeCom's markdown content 4,096,
# DingTalk's 20,000; Slack cuts a message's text at 40,000 characters
BODY_BYTES = {"wecom": 4096, "dingtalk": 20_000, "slack": 40_000}
MARKUP = 16  # the bytes a format adds around the subject ("### ", "**", new lines)
MINUTE = timedelta(minutes=1)
CHUNK = 5_000  # rows a bundle marks per transaction
BUNDLE_MOST = 100_000  # rows one bundle carries at most: ~10 s of a round (bench/notify_flood)


def per_minute(channel: Channel) -> int:
    """The most messages ``channel`` is sent in a minute (its setting, else its format's)."""
    if (n := channel.settings.get("max_per_minute")) is not None:
        return int(n)
    if channel.type == "email":
        return EMAIL_PER_MINUTE
    return PER_MINUTE.get(channel.settings.get("format") or "generic", PER_MINUTE["generic"])


def budget(channel: Channel, subject: str) -> int | None:
    """Bytes a message's text may take on ``channel`` beside ``subject`` (None: any)."""
    if channel.type != "webhook" or (most := BODY_BYTES.get(channel.settings.get("format"))) \
            is None:
        return None
    return most - len(subject.encode()) - MARKUP


def due(now: datetime) -> sa.ColumnElement[bool]:
    """Rows a sender may take at ``now`` (a claim expires, so a crashed sender's come back)."""
    return sa.and_(outbox.c.state == "pending", outbox.c.next_attempt_at <= now,
                   sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now))


def sent_last_minute(conn: sa.Connection, channel: str, now: datetime) -> int:
    """Messages ``channel`` was sent in the minute up to ``now``."""
    return conn.execute(sa.select(sa.func.count()).select_from(outbox).where(
        outbox.c.channel == channel, outbox.c.sent_at > now - MINUTE,
        outbox.c.sent_at <= now, outbox.c.state == "sent")).scalar_one()


def _carried(event: str, now: datetime) -> tuple[str, sa.ColumnElement[bool]]:
    """The state rows carried by an ``event`` message take, and which rows it carries."""
    if event == "digest":
        return "digested", outbox.c.state == "digest"
    return "bundled", due(now) & outbox.c.finding_id.is_not(None)


class Room(NamedTuple):
    """What a channel may be sent now: ``n`` messages; ``many_only`` when its due messages
    outnumber that even after a bundle (a flood past ``BUNDLE_MOST``): only messages that
    carry many (bundles, digests), the rest waiting for the next bundle."""

    n: int
    many_only: bool = False


def _due_counts(engine: sa.Engine, now: datetime, *where: sa.ColumnElement[bool]
                ) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(outbox.c.channel, sa.func.count())
                                 .where(due(now), *where).group_by(outbox.c.channel)).all())


def room(engine: sa.Engine, policy: Policy, now: datetime) -> dict[str, Room]:
    """What each channel with due rows may be sent now; a channel with more due than that
    has its due findings' messages folded into one bundle first."""
    with engine.connect() as conn:
        building = conn.execute(sa.select(outbox.c.id).where(outbox.c.state == "building")
                                .order_by(outbox.c.id)).scalars().all()
    for made in building:  # a bundle a stopped sender left half made
        finish(engine, made, now, resumed=True)
    counts = _due_counts(engine, now)
    with engine.connect() as conn:
        sent = {name: sent_last_minute(conn, name, now) for name in counts}
    out: dict[str, Room] = {}
    for name, n in counts.items():
        channel = policy.channels.get(name)
        if channel is None:  # gone from the policy: each is failed with that reason
            out[name] = Room(n)
            continue
        left = per_minute(channel) - sent[name]
        if left <= 0:
            continue  # wait: a bundle made now would be a minute old when it goes
        if n > left and bundle(engine, name, "bundle", now,
                               {"per_minute": per_minute(channel)}) is not None:
            n = _due_counts(engine, now, outbox.c.channel == name).get(name, 0)
        out[name] = Room(left, many_only=n > left)
    return out


def bundle(engine: sa.Engine, channel: str, event: str, now: datetime,
           extra: Mapping[str, Any]) -> int | None:
    """One message for ``channel`` standing for its due findings' messages (``bundle``) or
    its rows waiting for the digest (``digest``), the oldest ``BUNDLE_MOST`` of them; its
    id, or None when there were none."""
    carried = sa.select(outbox.c.id).where(outbox.c.channel == channel,
                                           _carried(event, now)[1]).order_by(outbox.c.id)
    with engine.begin() as conn:
        last = conn.execute(carried.offset(BUNDLE_MOST - 1).limit(1)).scalar() or \
            conn.execute(carried.order_by(None).order_by(outbox.c.id.desc()).limit(1)).scalar()
        if last is None:
            return None
        key = f"{event}:{extra['date']}:{channel}:{last}" if event == "digest" else \
            f"{event}:{channel}:{last}"
        made = insert_ignore(conn, outbox, {
            "dedup_key": key, "channel": channel, "state": "building",
            "payload": {"event": event, "last": last, **extra}, "created_at": now,
            "next_attempt_at": now, "attempts": 0,
        }, conflict=("dedup_key",))
    if made is not None:  # None: made already (a digest built twice the same day)
        finish(engine, made, now)
    return made


def finish(engine: sa.Engine, made: int, now: datetime, *, resumed: bool = False) -> None:
    """Mark the rows message ``made`` carries, ``CHUNK`` a statement (SQLite's one writer is
    held briefly), count them as they are marked (and, ``resumed``, those a stopped sender
    marked), and leave the message ``pending`` to be sent."""
    tally = Tally()
    with engine.connect() as conn:
        row = conn.execute(sa.select(outbox.c.channel, outbox.c.payload)
                           .where(outbox.c.id == made)).one()
        if resumed:
            tally.add(_rows(conn, made))
    event, last = row.payload["event"], row.payload["last"]
    state, where = _carried(event, now)
    after = 0
    while True:
        take = sa.select(outbox.c.id).where(outbox.c.channel == row.channel,
                                            outbox.c.id > after, outbox.c.id <= last, where)
        with engine.begin() as conn:
            marked = conn.execute(
                outbox.update().where(outbox.c.id.in_(take.order_by(outbox.c.id).limit(CHUNK)))
                .values(state=state, bundle_id=made, claimed_until=None,
                        sent_at=now if event == "digest" else None)
                .returning(outbox.c.id, outbox.c.payload, outbox.c.created_at)).all()
        tally.add(marked)
        if len(marked) < CHUNK:
            break
        after = max(r.id for r in marked)
    with engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.id == made, outbox.c.state == "building")
                     .values(state="pending", payload={**row.payload, **tally.payload()}))


def _severity(level: str | None) -> int:
    """1 for level I … 5 for info; after those a level this version does not know."""
    return LEVELS.get(level, len(LEVELS) + 1)


def _rows(conn: sa.Connection, bundle_id: int, page: int = 1000) -> Iterator[sa.Row]:
    after = 0
    while rows := conn.execute(sa.select(outbox.c.id, outbox.c.payload, outbox.c.created_at)
                               .where(outbox.c.bundle_id == bundle_id, outbox.c.id > after)
                               .order_by(outbox.c.id).limit(page)).all():
        yield from rows
        after = rows[-1].id


@dataclass
class Tally:
    """What a bundle carries: how many, by level and by event, the first and last queued,
    and the ``LISTED`` most severe (oldest first within a level), rows fed in any order."""

    levels: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    first: datetime | None = None
    last: datetime | None = None
    listed: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)

    def add(self, rows: Iterable[sa.Row]) -> None:
        """Count rows of (id, payload, created_at)."""
        for r in rows:
            p = dict(r.payload)
            level = p.get("finding", {}).get("level")
            self.levels[level or "-"] += 1
            self.events[p.get("event") or "-"] += 1
            self.first = min(self.first or r.created_at, r.created_at)
            self.last = max(self.last or r.created_at, r.created_at)
            item = (-_severity(level), -r.id, p)  # a min-heap of the most severe, oldest first
            if len(self.listed) < LISTED:
                heapq.heappush(self.listed, item)
            elif item[:2] > self.listed[0][:2]:
                heapq.heapreplace(self.listed, item)

    def payload(self) -> dict[str, Any]:
        """The counts a bundle's or a digest's message prints."""
        return {
            "count": sum(self.levels.values()),
            "levels": {k: self.levels[k] for k in sorted(self.levels, key=_severity)},
            "events": dict(self.events.most_common()),
            "since": self.first.isoformat() if self.first else None,
            "until": self.last.isoformat() if self.last else None,
            "items": [p for _, _, p in sorted(self.listed, key=lambda t: (-t[0], -t[1]))],
        }
