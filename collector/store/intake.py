"""Store a batch of verified reports in a fixed number of statements, whatever its size.

The hot path of ingest. Per batch (one report or hundreds): one read of the newest zstd
dictionary, one multi-row INSERT of the evidence, packed (a report already stored is a
duplicate: ``ON CONFLICT DO NOTHING`` on SQLite; on PostgreSQL, whose partitioned table
cannot hold that unique key, one read of the batch's report ids that are already stored,
after the senders' rows are locked in one statement), one read of the senders and one of
their newest results (with their data's digest), one multi-row INSERT of the data that
changed, one of every result, one upsert of ``host_latest`` and one executemany UPDATE
of the agents. Statements are built once per dialect. The reports are then walked in
order in memory, so each one sees its sender as the previous report left it (clone
signals, ``last_seq`` moving forward) and each result is "newest" exactly when it would
have been had the reports come one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared.report import NOT_RUN, Report
from sqlalchemy.dialects import postgresql, sqlite

from . import hostfacts, packing, resultstore
from .dictionaries import Codecs
from .osfamilies import from_inventory
from .resultdata import FUTURE_LIMIT
from .schema import (
    UTCDateTime,
    agents,
    check_results,
    host_latest,
    host_profiles,
    reports,
    result_data,
)

STATUS_RANK = {"ok": 0, "skipped": 0, "warn": 1, "error": 2, "fail": 3}
# The most a report's seq may move an agent's last_seq forward (see intake.agent_ops): a
# report a minute for about two years that never arrived.
MAX_SEQ_STEP = 1_000_000


def repaired_seq(report: Report) -> bool:
    """Whether ``report`` is an agent's first after it lost its seq file: it says so in
    ``meta.state_repaired`` and its seq is no more than its own time in milliseconds (the
    agent's repair rule) plus a day, so a chosen 2^63-1 never passes for one."""
    repairs = report.meta.get("state_repaired") if isinstance(report.meta, dict) else None
    ceiling = int(report.created_at.timestamp() * 1000) + 86_400_000
    return isinstance(repairs, list) and bool(repairs) and report.seq <= ceiling


def seq_moves_forward(last_seq: int | None, seq: int, repaired: bool = False) -> bool:
    """Whether a new report with ``seq`` becomes its agent's last one."""
    return last_seq is None or 0 < seq - last_seq <= MAX_SEQ_STEP or (
        repaired and seq > last_seq)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A verified report to store: the parsed report and the JWS exactly as received."""

    report: Report
    jws: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Stored:
    """What became of one incoming report.

    ``pk`` is its row id (None: a duplicate, stored before or earlier in the batch);
    ``host`` the sender's columns as they were before this report (None: nothing to
    evaluate); ``newest`` this report's results that were the host's newest of their check
    when it arrived, by check name.
    """

    pk: int | None
    host: dict[str, Any] | None = None
    newest: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class _Statements:
    insert_reports: Any
    lock_senders: Any  # PostgreSQL: None on SQLite, whose unique key refuses duplicates
    stored: Any
    hosts: Any
    latest: Any
    hosts_one: Any  # the same for one agent: "= :id" spares rendering an IN list per call
    latest_one: Any
    insert_results: Any
    upsert_latest: Any
    update_agent: Any


@cache
def _statements(dialect: str) -> _Statements:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    seq = sa.bindparam("seq", type_=sa.BigInteger)
    # :seq is set only when seq_moves_forward (walked in memory, report by report); the
    # comparison guards against a concurrent writer (another collector on PostgreSQL)
    forward = sa.or_(agents.c.last_seq.is_(None), agents.c.last_seq < seq)
    latest = insert(host_latest)
    # the agent's worst status over its newest results; ties go to the first check by name
    rank = sa.case({s: r for s, r in STATUS_RANK.items() if r}, value=host_latest.c.status,
                   else_=0)
    ids = sa.bindparam("ids", expanding=True)
    one = sa.bindparam("id")
    hosts = sa.select(
        agents.c.id, agents.c.hostname, agents.c.group_name, agents.c.last_seen_at,
        agents.c.status, agents.c.machine_id, agents.c.last_seq, host_profiles.c.critical,
        host_profiles.c.tags, host_profiles.c.owner, host_profiles.c.backup_owner,
    ).select_from(agents.outerjoin(host_profiles, host_profiles.c.agent_id == agents.c.id))
    # only the checks the batch brings: a heartbeat (disk) need not read a host's twelve
    # other newest results
    # with the newest result's data row and digest: an unchanged result names the same row
    latest_q = sa.select(host_latest.c.agent_id, host_latest.c.check_name,
                         host_latest.c.started_at, check_results.c.data_id,
                         result_data.c.digest).select_from(
        host_latest.join(check_results, check_results.c.id == host_latest.c.result_id)
        .outerjoin(result_data, result_data.c.id == check_results.c.data_id)).where(
        host_latest.c.check_name.in_(sa.bindparam("checks", expanding=True)))
    pg = dialect == "postgresql"
    insert_reports = insert(reports)
    if not pg:
        insert_reports = insert_reports.on_conflict_do_nothing(
            index_elements=["agent_id", "report_id"])
    return _Statements(
        insert_reports=insert_reports.returning(
            reports.c.id, reports.c.agent_id, reports.c.report_id),
        # the senders' rows, which the batch updates anyway, in id order whatever the batch:
        # two collectors never wait on each other in a circle. Row locks live in the rows,
        # not in PostgreSQL's lock table (which a partitioned store already fills); under
        # REPEATABLE READ a concurrent copy fails to serialize rather than pass the check
        lock_senders=sa.select(agents.c.id).where(
            agents.c.id.in_(sa.bindparam("aids", expanding=True))).order_by(
            agents.c.id).with_for_update() if pg else None,
        stored=sa.select(reports.c.agent_id, reports.c.report_id).where(
            reports.c.agent_id.in_(sa.bindparam("aids", expanding=True)),
            reports.c.report_id.in_(sa.bindparam("rids", expanding=True))) if pg else None,
        hosts=hosts.where(agents.c.id.in_(ids)),
        latest=latest_q.where(host_latest.c.agent_id.in_(ids)),
        hosts_one=hosts.where(agents.c.id == one),
        latest_one=latest_q.where(host_latest.c.agent_id == one),
        # RETURNING matched back by (report, check), unique in a report. Ids must follow
        # arrival order too (a host's previous result is the one with the lower id):
        # PostgreSQL is told so; on SQLite that makes SQLAlchemy insert row by row, and
        # one multi-row INSERT by the single writer numbers its rows in order anyway
        insert_results=check_results.insert().returning(
            check_results.c.id, check_results.c.report_pk, check_results.c.check_name,
            sort_by_parameter_order=dialect == "postgresql"),
        # guarded: a concurrent writer (another collector on PostgreSQL) may have stored
        # a newer result meanwhile
        upsert_latest=latest.on_conflict_do_update(
            index_elements=["agent_id", "check_name"],
            set_={"result_id": latest.excluded.result_id, "status": latest.excluded.status,
                  "started_at": latest.excluded.started_at,
                  "received_at": latest.excluded.received_at},
            # a newest result dated later than any the ingest accepts (stored by an older
            # version) is replaced too: it would otherwise stay the newest for ever
            where=sa.or_(host_latest.c.started_at <= latest.excluded.started_at,
                         host_latest.c.started_at > sa.bindparam("implausible_after",
                                                                 type_=UTCDateTime)),
        ).returning(host_latest.c.agent_id, host_latest.c.check_name),  # what it wrote
        update_agent=agents.update().where(agents.c.id == sa.bindparam("agent_id")).values(
            worst_status=sa.select(host_latest.c.status)
            .where(host_latest.c.agent_id == agents.c.id)
            .order_by(rank.desc(), host_latest.c.check_name).limit(1).scalar_subquery(),
            hostname=sa.func.coalesce(sa.bindparam("hostname", type_=sa.String),
                                      agents.c.hostname),
            agent_version=sa.func.coalesce(sa.bindparam("agent_version", type_=sa.String),
                                           agents.c.agent_version),
            os_name=sa.func.coalesce(sa.bindparam("os_name", type_=sa.String),
                                     agents.c.os_name),
            os_family=sa.func.coalesce(sa.bindparam("os_family", type_=sa.String),
                                       agents.c.os_family),
            os_distro=sa.func.coalesce(sa.bindparam("os_distro", type_=sa.String),
                                       agents.c.os_distro),
            os_desktop=sa.func.coalesce(sa.bindparam("os_desktop", type_=sa.Boolean),
                                        agents.c.os_desktop),
            last_seen_at=sa.bindparam("now", type_=UTCDateTime),
            last_report_at=sa.case(
                (forward, sa.bindparam("created_at", type_=UTCDateTime)),
                else_=agents.c.last_report_at),
            last_seq=sa.case((forward, seq), else_=agents.c.last_seq),
        ),
    )


def _evidence(conn: sa.Connection, st: _Statements, codecs: Codecs, items: list[Incoming],
              received_at: datetime, source: str) -> tuple[dict[tuple[str, str], int],
                                                            dict[tuple[str, str], int]]:
    """Insert the batch's evidence, packed (store.packing: the JWS comes back byte for
    byte); (first position of each report, row id of each new one)."""
    first: dict[tuple[str, str], int] = {}
    rows = []
    dict_id, compressor = codecs.newest()
    for i, it in enumerate(items):
        r = it.report
        key = (r.agent_id, r.report_id)
        if key in first:
            continue  # the same report twice in one batch: the later one is a duplicate
        first[key] = i
        rows.append({"agent_id": r.agent_id, "report_id": r.report_id, "seq": r.seq,
                     "created_at": r.created_at, "received_at": received_at,
                     "schedule": r.schedule, "source": source, "sha256": None,
                     "jws": None, "dict_id": dict_id,
                     "body": packing.compress(*packing.jws_raw(
                         it.jws, (r.agent_id, r.report_id)), compressor)})
    if st.stored is not None and rows:  # PostgreSQL: no unique key refuses a second copy
        aids = sorted({row["agent_id"] for row in rows})
        conn.execute(st.lock_senders, {"aids": aids}).all()
        have = {tuple(found) for found in conn.execute(st.stored, {"aids": aids,
                                            "rids": [row["report_id"] for row in rows]})}
        rows = [row for row in rows if (row["agent_id"], row["report_id"]) not in have]
    # arrival order, not key order: row ids keep the order reports were delivered in
    pks = {(row.agent_id, row.report_id): row.id
           for row in conn.execute(st.insert_reports, rows)} if rows else {}
    return first, pks


class _Sender:
    """One sender's row as the batch's earlier reports left it, and its final update."""

    def __init__(self, row: sa.Row) -> None:
        self.now = dict(row._mapping)
        self.update: dict[str, Any] = {"agent_id": row.id, "hostname": None,
                                       "agent_version": None, "os_name": None, "seq": None,
                                       "created_at": None, "os_family": None,
                                       "os_distro": None, "os_desktop": None}

    def advance(self, report: Report, now: datetime) -> None:
        """Apply ``report`` to the in-memory row the way the UPDATE applies it in SQL."""
        cur, up = self.now, self.update
        mid = report.host.get("machine_id")
        if mid and not cur["machine_id"]:
            cur["machine_id"] = mid[:128]
        if seq_moves_forward(cur["last_seq"], report.seq, repaired_seq(report)):
            cur["last_seq"] = report.seq
            up["seq"], up["created_at"] = report.seq, report.created_at
        for column, key, size in (("hostname", "hostname", 255),
                                  ("agent_version", "agent_version", 64), ("os_name", "os", 255)):
            value = str(report.host.get(key) or "")[:size] or None
            if value:
                up[column] = value
                if column == "hostname":
                    cur["hostname"] = value
        cur["last_seen_at"] = now


def _result_ids(conn: sa.Connection, st: _Statements, results: list[dict[str, Any]]) -> list[int]:
    """Insert the batch's results in one multi-row statement; their ids, in order."""
    if not results:
        return []
    made = {(row.report_pk, row.check_name): row.id
            for row in conn.execute(st.insert_results, results)}
    return [made[(r["report_pk"], r["check_name"])] for r in results]


def store_batch(conn: sa.Connection, items: list[Incoming], *, now: datetime, source: str,
                inspect: Callable[[Report, Any], None] | None = None,
                implausible_after: datetime | None = None) -> list[Stored]:
    """Store ``items`` (verified, in arrival order) in the caller's transaction.

    ``inspect(report, sender)`` is called for each new report with its sender as it was
    before it (``machine_id``, ``last_seq``, ... as attributes), before it is applied.
    A host's newest result dated after ``implausible_after`` (default: a day after
    ``now``) gives way to any new one.
    """
    horizon = implausible_after or now + FUTURE_LIMIT
    st = _statements(conn.dialect.name)
    codecs = Codecs(conn, now)
    first, pks = _evidence(conn, st, codecs, items, now, source)
    out = [Stored(None)] * len(items)
    new = [(i, pks[key]) for key, i in first.items() if key in pks]
    if not new:
        return out
    aids = sorted({items[i].report.agent_id for i, _ in new})
    hosts, latest_q, args = ((st.hosts_one, st.latest_one, {"id": aids[0]}) if len(aids) == 1
                             else (st.hosts, st.latest, {"ids": aids}))
    senders = {row.id: _Sender(row) for row in conn.execute(hosts, args)}
    checks = sorted({r.check for i, _ in new for r in items[i].report.results})
    latest: dict[tuple[str, str], datetime] = {}
    # (agent, check) -> the data of its previous result: (row id, or -1 - index into
    # ``pending`` for one this batch adds; digest)
    previous: dict[tuple[str, str], tuple[int, bytes]] = {}
    for row in (conn.execute(latest_q, {**args, "checks": checks}) if checks else ()):
        latest[(row.agent_id, row.check_name)] = row.started_at
        if row.data_id is not None and row.digest is not None:
            previous[(row.agent_id, row.check_name)] = (row.data_id, bytes(row.digest))
    # the partition key on PostgreSQL; SQLite has no use for it (26 bytes a result as text)
    arrival = now if conn.dialect.name == "postgresql" else None
    pending: list[tuple[bytes, bytes]] = []  # new data rows: (canonical JSON, digest)
    results: list[dict[str, Any]] = []
    sent: list[Any] = []  # each result's data as the agent sent it (the row keeps none)
    final: dict[tuple[str, str], int] = {}  # (agent, check) -> index into results
    plan: list[tuple[int, int, dict[str, Any], dict[str, int]]] = []
    for i, pk in new:
        report = items[i].report
        sender = senders.get(report.agent_id)
        if sender is None:  # removed since it was verified: keep the evidence, judge nothing
            out[i] = Stored(pk)
            continue
        before = dict(sender.now)
        if inspect is not None:
            inspect(report, SimpleNamespace(**before))
        sender.advance(report, now)
        newest: dict[str, int] = {}
        alone = len(report.results) == 1  # its data is read from the evidence itself
        for r in report.results:
            key = (report.agent_id, r.check)
            data_id = None
            if not alone:
                raw = packing.data_raw(r.data)
                d = resultstore.digest(raw)
                same = previous.get(key)
                if same is None or same[1] != d:  # changed (or first): a new data row
                    pending.append((raw, d))
                    same = previous[key] = (-len(pending), d)
                data_id = same[0]
            else:
                previous.pop(key, None)
            results.append({"report_pk": pk, "agent_id": report.agent_id,
                            "check_name": r.check, "status": r.status,
                            "started_at": r.started_at, "duration_ms": r.duration_ms,
                            "data": None, "data_id": data_id, "error": r.error,
                            "received_at": arrival})
            sent.append(r.data)
            if key not in latest or latest[key] <= r.started_at or latest[key] > horizon:
                latest[key] = r.started_at
                final[key] = newest[r.check] = len(results) - 1
                if r.check == "inventory" and (os_columns := from_inventory(r.data)):
                    sender.update.update(os_columns)
        plan.append((i, pk, before, newest))
    data_ids = resultstore.pack_new(conn, codecs, pending)
    for row in results:
        if row["data_id"] is not None and row["data_id"] < 0:
            row["data_id"] = data_ids[-row["data_id"] - 1]
    ids = _result_ids(conn, st, results)
    stale: set[tuple[str, str]] = set()
    if final:
        written = {(row.agent_id, row.check_name) for row in conn.execute(st.upsert_latest, [
            {"agent_id": aid, "check_name": check, "result_id": ids[j],
             "status": results[j]["status"], "started_at": results[j]["started_at"],
             "received_at": now, "implausible_after": horizon}
            for (aid, check), j in sorted(final.items())])}
        # another writer (a second collector on PostgreSQL) stored a newer result of the
        # same check meanwhile: none of this batch's results of it are the newest
        stale = set(final) - written
        hostfacts.store(conn, [(aid, check, sent[j])
                               for (aid, check), j in sorted(final.items())
                               if check in hostfacts.CHECKS and (aid, check) not in stale
                               and results[j]["status"] not in NOT_RUN])
    judged = {items[i].report.agent_id for i, _, _, _ in plan}
    if judged:
        conn.execute(st.update_agent, [{**senders[aid].update, "now": now}
                                       for aid in sorted(judged)])  # key order: no deadlock
    for i, pk, before, newest in plan:
        aid = items[i].report.agent_id
        out[i] = Stored(pk, before, {check: ids[j] for check, j in newest.items()
                                     if (aid, check) not in stale})
    return out
