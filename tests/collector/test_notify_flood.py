"""Flood control (notify.flood): no channel is sent more than ``max_per_minute`` messages
in any minute; when more are due they go as one bundle whose counts are the rows naming
it; nothing queued is lost. Through a real webhook receiver, on both backends."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from findings_kit import load_policy
from hostpatrol.collector.notify import flood, messages
from hostpatrol.collector.notify.dispatch import deliver_due
from hostpatrol.collector.notify.flood import LISTED
from hostpatrol.collector.notify.outbox import build_digests, enqueue
from hostpatrol.collector.policy import loader
from hostpatrol.collector.policy.model import LEVEL_NAMES
from hostpatrol.collector.policy.validation import PolicyError
from hostpatrol.collector.store.schema import outbox
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from receivers import Sink

T0 = datetime(2026, 12, 4, 3, 0, 0, tzinfo=UTC)


def _policy(url: str, per_minute: int | None = 3) -> str:
    limit = "" if per_minute is None else f", max_per_minute: {per_minute}"
    channels = f"{{ding: {{type: webhook, format: dingtalk, url: '{url}/ding'{limit}}}}}"
    routes = "[{levels: [I, II, III, IV], channels: [ding]}]"
    return (loader.default_text().replace("  channels: {}", f"  channels: {channels}")
            .replace("  routes: []", f"  routes: {routes}"))


@pytest.fixture
def sink():
    s = Sink()
    url = s.start()
    yield s, url
    s.stop()


class Queue:
    """Queues messages for findings as the rules do (outbox.enqueue), numbering them."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.n = 0
        with engine.connect() as conn:
            self.policy = loader.current(conn)

    def add(self, count: int, at: datetime, level: int = 3, *, digest: bool = False,
            title: str = "finding") -> None:
        with self.engine.begin() as conn:
            for _ in range(count):
                self.n += 1
                lv = level or 1 + self.n % 4
                finding = {"id": self.n, "agent_id": f"host-{self.n}", "rule": "r",
                           "subject": "s", "title": f"{title} {self.n}", "group": None,
                           "level": LEVEL_NAMES[lv], "state": "open", "owner": None,
                           "message": None, "deadline": None}
                enqueue(conn, self.policy, finding=finding, group=None, level=lv,
                        event_id=self.n, action="opened", note=None, digest=digest,
                        escalate=False, now=at)

    def send(self, at: datetime) -> int:
        return deliver_due(self.engine, self.policy, at).sent


def _rows(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.select(outbox).order_by(outbox.c.id)).all()


def _payload(row: sa.Row) -> dict:
    return row.payload


def test_a_flood_goes_as_one_message_that_counts_what_it_carries(engine, sink):
    receiver, url = sink
    load_policy(engine, _policy(url))
    q = Queue(engine)
    q.add(2, T0)
    assert q.send(T0) == 2  # under the limit: one message each
    q.add(12, T0 + timedelta(seconds=5), level=0)  # levels I–IV mixed
    assert q.send(T0 + timedelta(seconds=10)) == 1  # room for 1 more: all 12 in one
    bundle = receiver.bodies[-1]
    assert bundle["msgtype"] == "markdown"
    text = bundle["markdown"]["text"]
    assert "[hostpatrol I] 12 notifications in one message (I 3, II 3, III 3, IV 3)" in text
    assert "more than this channel takes in a minute (3)" in text
    rows = _rows(engine)
    carried = [r for r in rows if r.state == "bundled"]
    made = [r for r in rows if _payload(r)["event"] == "bundle"]
    assert [r.state for r in made] == ["sent"]
    assert [r.bundle_id for r in carried] == [made[0].id] * 12
    p = _payload(made[0])
    assert (p["count"], sum(p["levels"].values())) == (12, 12)
    assert [i["finding"]["level"] for i in p["items"]] == ["I"] * 3 + ["II"] * 3 + \
        ["III"] * 3 + ["IV"] * 3  # most severe first, oldest first within a level

    q.add(5, T0 + timedelta(seconds=20))
    assert q.send(T0 + timedelta(seconds=30)) == 0  # 3 sent this minute: wait
    assert q.send(T0 + timedelta(seconds=59)) == 0
    assert q.send(T0 + timedelta(seconds=60)) == 1  # T0's two a minute old: room for 2 of 5
    assert "5 notifications in one message" in receiver.bodies[-1]["markdown"]["text"]
    q.add(2, T0 + timedelta(seconds=200))
    assert q.send(T0 + timedelta(seconds=200)) == 2  # quiet again: one message each
    assert [b["markdown"]["title"].split("]")[0] for b in receiver.bodies[-2:]] == \
        ["[hostpatrol III"] * 2
    states = Counter(r.state for r in _rows(engine))
    assert states == {"sent": 2 + 1 + 1 + 2, "bundled": 12 + 5}


def test_a_bundle_lists_the_most_severe_and_counts_the_rest(engine, sink):
    receiver, url = sink
    load_policy(engine, _policy(url, per_minute=1))
    q = Queue(engine)
    q.add(LISTED + 30, T0, level=4)
    q.add(2, T0, level=2)
    assert q.send(T0) == 1
    text = receiver.bodies[-1]["markdown"]["text"]
    n = LISTED + 32
    assert f"[hostpatrol II] {n} notifications in one message (II 2, IV {LISTED + 30})" in text
    assert f"… and {n - LISTED} more (the {LISTED} most severe are listed" in text
    assert text.count("\n- New finding: #") == LISTED
    assert "#1 [IV]" in text  # both II, then the oldest IV
    assert f"#{LISTED + 31} [II]" in text
    assert f"#{LISTED} [IV]" not in text


def test_the_daily_digest_counts_every_row_and_lists_some(engine, sink):
    receiver, url = sink
    load_policy(engine, _policy(url, per_minute=None))
    q = Queue(engine)
    q.add(LISTED + 5, T0, level=4, digest=True)
    assert q.send(T0) == 0
    assert build_digests(engine, T0 + timedelta(hours=8)) == 1
    assert build_digests(engine, T0 + timedelta(hours=8)) == 0  # nothing left waiting
    assert q.send(T0 + timedelta(hours=8)) == 1
    text = receiver.bodies[-1]["markdown"]["text"]
    assert f"daily digest 2026-12-04: {LISTED + 5} item(s)" in text
    assert "… and 5 more" in text
    rows = _rows(engine)
    digest = next(r for r in rows if _payload(r)["event"] == "digest")
    assert sum(r.bundle_id == digest.id for r in rows) == LISTED + 5
    assert Counter(r.state for r in rows) == {"digested": LISTED + 5, "sent": 1}


def test_a_digest_queued_before_the_upgrade_still_reads():
    item = {"event": "opened", "finding": {"id": 1, "level": "IV", "title": "t",
                                           "agent_id": "h", "message": None}}
    old = {"event": "digest", "date": "2026-12-01", "items": [item, item]}
    assert messages.subject(old) == "hostpatrol daily digest 2026-12-01: 2 item(s)"
    assert messages.body(old).count("- New finding: #1 [IV] t") == 2


@pytest.mark.parametrize("value", ["0", "-3", "'20'", "true", "2.5"])
def test_max_per_minute_must_be_a_whole_number(value):
    text = _policy("http://127.0.0.1:9", per_minute=None).replace(
        "/ding'", f"/ding', max_per_minute: {value}")
    with pytest.raises(PolicyError, match=r"^policy\.yaml:\d+: notify\.channels\.ding"):
        loader.parse_text(text, source="policy.yaml")


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(1, 5),
       steps=st.lists(st.tuples(st.integers(0, 40), st.integers(1, 45)), min_size=1,
                      max_size=8), most=st.sampled_from([4, flood.BUNDLE_MOST]))
def test_no_minute_holds_more_than_the_limit_and_nothing_is_lost(engine, sink, monkeypatch,
                                                                 limit, steps, most):
    """Queue ``n`` messages, wait ``gap`` seconds, send, over and over; then drain (a
    bundle carrying at most ``most``)."""
    monkeypatch.setattr(flood, "BUNDLE_MOST", most)
    receiver, url = sink
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM outbox"))
    receiver.bodies.clear()
    load_policy(engine, _policy(url, per_minute=limit))
    q = Queue(engine)
    at = T0
    for n, gap in steps:
        q.add(n, at, level=0)
        at += timedelta(seconds=gap)
        q.send(at)
    for _ in range(3 + sum(n for n, _ in steps) // most):  # drain: a minute later, room again
        at += timedelta(seconds=61)
        q.send(at)
    rows = _rows(engine)
    sent = sorted(r.sent_at for r in rows if r.state == "sent")
    for i, t in enumerate(sent):  # every minute-long window up to a send
        assert sum(t - timedelta(minutes=1) < s <= t for s in sent[: i + 1]) <= limit
    assert len(sent) == len(receiver.bodies)
    singles = {r.id for r in rows if _payload(r)["event"] == "opened"}
    assert len(singles) == sum(n for n, _ in steps)
    for r in rows:
        if r.id in singles:  # each queued message went: itself, or in a bundle that went
            assert r.state == "sent" or (r.state == "bundled" and any(
                b.id == r.bundle_id and b.state == "sent" for b in rows))
        else:
            assert _payload(r)["count"] == sum(x.bundle_id == r.id for x in rows)


def test_a_bundle_fits_a_wecom_robot(engine, sink):
    """WeCom takes 4,096 bytes of markdown: the bundle lists what fits, counts the rest."""
    receiver, url = sink
    load_policy(engine, _policy(url, per_minute=1).replace("format: dingtalk", "format: wecom"))
    q = Queue(engine)
    q.add(60, T0, level=0, title="磁盘空间不足 Disk nearly full on the data volume")
    assert q.send(T0) == 1
    content = receiver.bodies[-1]["markdown"]["content"]
    assert len(content.encode()) <= 4096
    listed = content.count("\n- New finding: #")
    assert 10 < listed < LISTED
    assert f"… and {60 - listed} more (the {listed} most severe are listed" in content


@settings(max_examples=60, deadline=None)
@given(titles=st.lists(st.text(min_size=1, max_size=300), min_size=1, max_size=LISTED),
       more=st.integers(0, 10**6), budget=st.integers(1000, 40_000),
       kind=st.sampled_from(["digest", "bundle"]))
def test_a_long_list_fits_its_budget_and_counts_every_item(titles, more, budget, kind):
    items = [{"event": "opened", "finding": {"id": i, "level": "II", "title": t,
                                             "agent_id": "h", "message": None}}
             for i, t in enumerate(titles)]
    n = len(items) + more
    payload = {"event": kind, "date": "2026-12-04", "count": n, "levels": {"II": n},
               "events": {"opened": n}, "items": items, "since": T0.isoformat(),
               "until": T0.isoformat(), "per_minute": 20}
    text = messages.body(payload, budget)
    listed = text.count("\n- New finding: #") + text.startswith("- New finding: #")
    assert listed >= 1
    assert listed == len(items) or len(text.encode()) <= budget
    if listed < n:
        assert f"… and {n - listed} more (the {listed} most severe are listed" in text
    else:
        assert "more (the" not in text


def test_a_bundle_left_half_made_is_finished_and_sent(engine, sink):
    """The sender stopped after marking the first rows of a bundle (state ``building``):
    the next round marks the rest, counts them all and sends it; nothing is sent twice."""
    receiver, url = sink
    load_policy(engine, _policy(url))
    q = Queue(engine)
    q.add(12, T0)
    with engine.begin() as conn:
        last = conn.execute(sa.select(sa.func.max(outbox.c.id))).scalar()
        made = conn.execute(outbox.insert().values(
            dedup_key=f"bundle:ding:{last}", channel="ding", state="building",
            payload={"event": "bundle", "last": last, "per_minute": 3}, created_at=T0,
            next_attempt_at=T0, attempts=0).returning(outbox.c.id)).scalar()
        conn.execute(outbox.update().where(outbox.c.id <= 5)
                     .values(state="bundled", bundle_id=made))
    q.add(2, T0 + timedelta(seconds=1))  # after the half-made bundle: due on their own
    assert q.send(T0 + timedelta(seconds=2)) == 3
    texts = [b["markdown"]["text"] for b in receiver.bodies]
    assert sum("12 notifications in one message" in t for t in texts) == 1
    rows = _rows(engine)
    assert sum(r.bundle_id == made for r in rows) == 12
    assert Counter(r.state for r in rows) == {"bundled": 12, "sent": 3}


def test_a_flood_past_one_bundle_goes_in_several_and_nothing_alone(engine, sink, monkeypatch):
    """A bundle carries at most ``BUNDLE_MOST`` (a round stays short): the rest wait for
    the next bundle instead of going one by one."""
    monkeypatch.setattr(flood, "BUNDLE_MOST", 5)
    receiver, url = sink
    load_policy(engine, _policy(url))
    q = Queue(engine)
    q.add(12, T0)
    assert [q.send(T0 + timedelta(seconds=s)) for s in (0, 1, 2, 3)] == [1, 1, 1, 0]
    texts = [b["markdown"]["text"] for b in receiver.bodies]
    assert [t.split("] ")[1].split(" ")[0] for t in texts] == ["5", "5", "2"]
    rows = _rows(engine)
    assert Counter(r.state for r in rows) == {"bundled": 12, "sent": 3}
