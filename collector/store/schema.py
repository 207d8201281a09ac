"""Table definitions (SQLAlchemy Core). Migrations in ``migrations/`` create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetime given to the store"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


agents = sa.Table(
    "agents", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kid", sa.String(64), nullable=False, unique=True),
    sa.Column("public_key", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | active | revoked
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("machine_id", sa.String(128)),
    sa.Column("group_name", sa.String(128)),
    sa.Column("token_id", sa.Integer),
    sa.Column("agent_version", sa.String(64)),
    sa.Column("os_name", sa.String(255)),
    sa.Column("enrolled_at", UTCDateTime, nullable=False),
    sa.Column("approved_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("last_seen_at", UTCDateTime),
    sa.Column("last_report_at", UTCDateTime),
    sa.Column("last_seq", sa.BigInteger),
    sa.Column("worst_status", sa.String(16)),
    sa.Column("clone_suspected_at", UTCDateTime),
    sa.Column("clone_reason", sa.String(255)),
    # the last gap marker: reports the agent's full spool dropped (migration 0008)
    sa.Column("evidence_gap", sa.JSON),
    sa.Column("evidence_gap_at", UTCDateTime),
    # the last failed run the agent told of: meta.last_crash (migration 0009)
    sa.Column("last_crash", sa.JSON),
    sa.Column("last_crash_at", UTCDateTime),
    # from the newest inventory (osfamilies.from_inventory; migration 0010)
    sa.Column("os_family", sa.String(16)),
    sa.Column("os_distro", sa.String(64)),
    sa.Column("os_desktop", sa.Boolean),  # a terminal OS (Kylin Desktop, Windows 11, ...)
    sa.Column("enroll_ip", sa.String(64)),  # the address it enrolled from (migration 0014)
)

agent_keys = sa.Table(
    "agent_keys", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("kid", sa.String(64), nullable=False, unique=True),
    sa.Column("public_key", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("retired_at", UTCDateTime),
)

agent_commands = sa.Table(
    "agent_commands", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(64)),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("done_at", UTCDateTime),
)

enroll_tokens = sa.Table(
    "enroll_tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("max_uses", sa.Integer, nullable=False),
    sa.Column("uses", sa.Integer, nullable=False, server_default="0"),
    sa.Column("group_name", sa.String(128)),
    sa.Column("auto_approve", sa.Boolean, nullable=False, server_default=sa.false()),
)

reports = sa.Table(
    "reports", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("report_id", sa.String(36), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("schedule", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # http | import
    # rows stored before migration 0015 hold the JWS as text with its SHA-256; newer ones
    # hold ``body`` (store.packing: zstd, with the dictionary ``dict_id`` when not null)
    # and no SHA-256 (it is the JWS's, computed when shown)
    sa.Column("sha256", sa.String(64)),
    sa.Column("jws", sa.Text),
    sa.Column("body", sa.LargeBinary),
    sa.Column("dict_id", sa.Integer),
    # unique on SQLite; on PostgreSQL (partitioned by received_at since 0017) a hash index
    # of report_id (ix_reports_report_hash), and ingest refuses a second copy while it
    # holds the senders' rows
    sa.UniqueConstraint("agent_id", "report_id", name="uq_reports_agent_report"),
    sa.Index("ix_reports_agent_created", "agent_id", "created_at"),
    sa.Index("ix_reports_received", "received_at",  # late reports for closed weeks (0014)
             postgresql_using="brin"),  # rows appended in time order: BRIN (0020)
)

check_results = sa.Table(
    "check_results", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("report_pk", BigId, sa.ForeignKey("reports.id"), nullable=False),
    sa.Column("agent_id", sa.String(36), nullable=False),
    sa.Column("check_name", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    # before migration 0015 ``data``; since, either nothing (a report of one result: the
    # data is read from its evidence) or ``data_id``, a row of result_data, the same one as
    # the host's previous result of the check when its data did not change (resultstore);
    # "nothing" is SQL NULL, not JSON null, so the downgrade finds the rows to fill
    sa.Column("data", sa.JSON(none_as_null=True)),
    sa.Column("error", sa.Text),
    sa.Column("data_id", BigId),
    # the report's received_at (0017): on PostgreSQL the partition key, as for reports
    # (store.partitions), so a report and its results share a week; NULL on SQLite
    sa.Column("received_at", UTCDateTime),
    sa.Index("ix_check_results_agent_check", "agent_id", "check_name", "id"),
    sa.Index("ix_check_results_report", "report_pk"),
    # retention: is a data row still named (results without one are not indexed)
    sa.Index("ix_check_results_data", "data_id", sqlite_where=sa.text("data_id IS NOT NULL"),
             postgresql_where=sa.text("data_id IS NOT NULL")),
)

# --- Compact storage (migration 0015) ----------------------------------------------------

zstd_dicts = sa.Table(  # trained zstd dictionaries; rows that name one keep it readable
    "zstd_dicts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("samples", sa.Integer, nullable=False),  # reports it was trained from
    sa.Column("sha256", sa.String(64), nullable=False),  # of body
    sa.Column("body", sa.LargeBinary, nullable=False),
)

result_data = sa.Table(  # a check result's data, once per change (store.packing JSON body)
    "result_data", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("digest", sa.LargeBinary(16), nullable=False),  # blake2b-128 of the JSON
    sa.Column("dict_id", sa.Integer),
    sa.Column("body", sa.LargeBinary, nullable=False),
)

result_data_candidates = sa.Table(  # PostgreSQL: rows a dropped week named (partitions)
    "result_data_candidates", metadata,
    sa.Column("data_id", BigId, primary_key=True, autoincrement=False),
)

host_latest = sa.Table(
    "host_latest", metadata,
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
    sa.Column("check_name", sa.String(64), primary_key=True),
    sa.Column("result_id", BigId, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    # the result's received_at (0017): which week's partition holds it on PostgreSQL
    sa.Column("received_at", UTCDateTime),
)

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255)),
    sa.Column("api_token_hash", sa.String(64), unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", UTCDateTime),
    sa.Column("last_login_at", UTCDateTime),
    sa.Column("display_name", sa.String(64)),  # the real name printed on reports (0011)
)

# --- accounts, audit log, dashboard indexes (migration 0004) ---------------------------

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("details", sa.Text, nullable=False),  # canonical JSON, hashed as stored
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_log_actor", "actor", "seq"),
    sa.Index("ix_audit_log_action", "action", "seq"),
    sa.Index("ix_audit_log_at", "at"),
)

audit_head = sa.Table(  # one row (id 1): the chain's newest seq and hash; writers lock it
    "audit_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

user_groups = sa.Table(  # the groups a viewer may see
    "user_groups", metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("group_name", sa.String(128), primary_key=True),
)

web_sessions = sa.Table(  # server-side dashboard sessions; the cookie holds the token
    "web_sessions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # sha256 hex of the cookie's token
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("ip", sa.String(64)),
    sa.Index("ix_web_sessions_user", "user_id"),
)

login_attempts = sa.Table(  # failed logins per client address, for the rate limit
    "login_attempts", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_login_attempts_ip_at", "ip", "at"),
)

sa.Index("ix_agents_group_hostname", agents.c.group_name, agents.c.hostname)
sa.Index("ix_agents_os_name", agents.c.os_name)
sa.Index("ix_agents_last_report", agents.c.last_report_at)
sa.Index("ix_agents_status", agents.c.status)
sa.Index("ix_check_results_started", check_results.c.started_at,
         postgresql_using="brin")  # PostgreSQL: BRIN, rows appended in time order (0020)

# --- Policy, baselines, findings register, notifications, background work (0003) ---

policy_versions = sa.Table(  # every policy ever loaded; the newest version is current
    "policy_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version", sa.Integer, nullable=False, unique=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("yaml_text", sa.Text, nullable=False),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("loaded_by", sa.String(64), nullable=False),
    sa.Column("loaded_at", UTCDateTime, nullable=False),
)

host_profiles = sa.Table(  # criticality, tags and owners of a host
    "host_profiles", metadata,
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
    sa.Column("critical", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("owner", sa.String(64)),
    sa.Column("backup_owner", sa.String(64)),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),  # bumps policy feed
)

host_tags = sa.Table(  # host_profiles.tags one per row, for filtering by tag (index)
    "host_tags", metadata,
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
    sa.Column("tag", sa.String(64), primary_key=True),
    sa.Index("ix_host_tags_tag", "tag", "agent_id"),
)

baselines = sa.Table(  # the approved set per host and kind (ports, admins, …)
    "baselines", metadata,
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("items", sa.JSON, nullable=False),
    sa.Column("taken_at", UTCDateTime, nullable=False),
    sa.Column("approved_by", sa.String(64), nullable=False),
    sa.Column("result_id", sa.BigInteger),
)

findings = sa.Table(  # the rectification register: one row per (host, rule, subject)
    "findings", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("dedup_key", sa.String(64), nullable=False, unique=True),
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), nullable=False),
    sa.Column("rule_id", sa.String(128), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("check_name", sa.String(64), nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("group_name", sa.String(128)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("base_level", sa.Integer, nullable=False),
    sa.Column("factors", sa.JSON, nullable=False),
    sa.Column("spread", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("owner", sa.String(64)),
    sa.Column("backup_owner", sa.String(64)),
    sa.Column("deadline", UTCDateTime),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),  # first seen, or last reopened
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("state_changed_at", UTCDateTime, nullable=False),
    sa.Column("repeat_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("last_result_id", sa.BigInteger),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("reminded_at", UTCDateTime),
    sa.Column("escalated_at", UTCDateTime),
    sa.Index("ix_findings_agent_rule", "agent_id", "rule_id"),
    sa.Index("ix_findings_rule_state", "rule_id", "state"),
    sa.Index("ix_findings_state_deadline", "state", "deadline"),
)

finding_events = sa.Table(  # the timeline of every finding; never purged
    "finding_events", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("finding_id", sa.BigInteger, sa.ForeignKey("findings.id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("from_state", sa.String(16)),
    sa.Column("to_state", sa.String(16)),
    sa.Column("note", sa.Text),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Index("ix_finding_events_finding", "finding_id", "id"),
    sa.Index("ix_finding_events_at", "at"),  # findings opened/rectified per week (0014)
)

waivers = sa.Table(  # exceptions: justification, approver (not the requester), expiry
    "waivers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("finding_id", sa.BigInteger, sa.ForeignKey("findings.id"), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # requested|approved|rejected|expired
    sa.Column("justification", sa.Text, nullable=False),
    sa.Column("requested_by", sa.String(64), nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", UTCDateTime),
    sa.Index("ix_waivers_state_expires", "state", "expires_at"),
    sa.Index("ix_waivers_finding", "finding_id"),
)

leases = sa.Table(  # who does the background work right now
    "leases", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

job_runs = sa.Table(  # when each background job last ran
    "job_runs", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("last_run_at", UTCDateTime, nullable=False),
    sa.Column("runs", sa.Integer, nullable=False),
    sa.Column("holder", sa.String(128), nullable=False),
)

outbox = sa.Table(  # one row per message; the unique key makes a second copy impossible
    "outbox", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("dedup_key", sa.String(200), nullable=False, unique=True),
    sa.Column("channel", sa.String(128), nullable=False),
    sa.Column("finding_id", sa.BigInteger),
    sa.Column("event_id", sa.BigInteger),
    sa.Column("state", sa.String(16), nullable=False),  # pending digest(ed) bundled sent failed
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("claimed_until", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("bundle_id", sa.BigInteger),  # the digest or flood bundle that carried it (0019)
    sa.Index("ix_outbox_state_next", "state", "next_attempt_at"),
    sa.Index("ix_outbox_bundle", "bundle_id", "id"),
    sa.Index("ix_outbox_channel_sent", "channel", "sent_at"),  # a channel's last minute
)

# --- Self-inspection reports (migration 0005) -----------------------------------------

self_reports = sa.Table(  # one per period; frozen (snapshot + sha256) once approved
    "self_reports", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(16), nullable=False, unique=True),  # 2026-W48, 2026-Q4…
    sa.Column("state", sa.String(16), nullable=False),  # draft | reviewed | approved
    sa.Column("unit", sa.String(255), nullable=False),
    sa.Column("basis", sa.Text, nullable=False),
    sa.Column("next_steps", sa.Text, nullable=False),
    sa.Column("checklist", sa.JSON, nullable=False),  # [{item, result, note}]
    sa.Column("prepared_by", sa.String(64), nullable=False),
    sa.Column("prepared_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("reviewed_by", sa.String(64)),
    sa.Column("reviewed_at", UTCDateTime),
    sa.Column("approved_by", sa.String(64)),
    sa.Column("approved_at", UTCDateTime),
    sa.Column("snapshot", sa.Text),   # canonical JSON of the figures, frozen at approval
    sa.Column("sha256", sa.String(64)),  # of the snapshot
    sa.Column("html_en", sa.Text),    # the rendered report as approved, per language
    sa.Column("html_zh", sa.Text),
    # migration 0011: the addressee (主送) and the preparer's texts of sections 一–四
    sa.Column("addressee", sa.String(255), nullable=False, server_default=""),
    sa.Column("narrative", sa.JSON),
)

self_report_files = sa.Table(  # every export of an approved report, frozen at approval
    "self_report_files", metadata,
    sa.Column("report_id", sa.Integer, sa.ForeignKey("self_reports.id"), primary_key=True),
    sa.Column("fmt", sa.String(8), primary_key=True),   # html | pdf | docx | csv
    sa.Column("lang", sa.String(8), primary_key=True),  # en | zh-CN
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
)

incidents = sa.Table(  # security incidents (安全事件) as a person recorded them (0011)
    "incidents", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("level", sa.Integer, nullable=False),  # 1–4: I–IV of the emergency plan
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("findings", sa.JSON, nullable=False),  # ids of linked findings
    sa.Column("recorded_by", sa.String(64), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Index("ix_incidents_occurred", "occurred_at"),
)

sa.Index("ix_findings_owner", findings.c.owner)
sa.Index("ix_findings_group_state", findings.c.group_name, findings.c.state)
sa.Index("ix_findings_level_deadline", findings.c.level, findings.c.deadline)

# --- Performance: overview rollups, host-list indexes (migration 0006) -----------------

rollups = sa.Table(  # when each rollup was last computed ("coverage", "week:2026-11-23")
    "rollups", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("computed_at", UTCDateTime, nullable=False),
)

rollup_week_counts = sa.Table(  # results per ISO week, group ("" = none) and status
    "rollup_week_counts", metadata,
    sa.Column("week_start", UTCDateTime, primary_key=True),
    sa.Column("group_name", sa.String(128), primary_key=True),
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("results", sa.BigInteger, nullable=False),
    sa.Column("hosts", sa.Integer, nullable=False),  # the group's hosts that reported
)

rollup_coverage = sa.Table(  # active hosts per group, check and status of the newest result
    "rollup_coverage", metadata,
    sa.Column("group_name", sa.String(128), primary_key=True),
    sa.Column("check_name", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("hosts", sa.Integer, nullable=False),
)

sa.Index("ix_agents_hostname_id", agents.c.hostname, agents.c.id)
sa.Index("ix_agents_last_seen", agents.c.last_seen_at)
# the register's order (most severe, nearest deadline first): a page reads 50 rows in order
sa.Index("ix_findings_register_order", findings.c.level, findings.c.deadline.is_(None),
         findings.c.deadline, findings.c.id.desc())
# counts by state and level (overdue, open per level) from the index alone
sa.Index("ix_findings_state_level_deadline", findings.c.state, findings.c.level,
         findings.c.deadline)

# --- Compliance rollup (migration 0011) ------------------------------------------------

rollup_compliance = sa.Table(  # per window ("live", "week:…"), group and area; area ""
    "rollup_compliance", metadata,  # counts the hosts that reported anything in the window
    sa.Column("window", sa.String(64), primary_key=True),
    sa.Column("group_name", sa.String(128), primary_key=True),
    sa.Column("area", sa.String(64), primary_key=True),
    sa.Column("hosts", sa.Integer, nullable=False),      # hosts in scope
    sa.Column("checked", sa.Integer, nullable=False),
    sa.Column("compliant", sa.Integer, nullable=False),
)

# --- Per-host facts for search and the software view (migration 0013) -------------------
# Rewritten at ingest from a host's newest inventory, patches and accounts results
# (store.hostfacts), so pages and exports never parse result documents.

host_packages = sa.Table(  # installed packages of the newest inventory
    "host_packages", metadata,
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("version", sa.String(256), primary_key=True),
    sa.Column("arch", sa.String(64), primary_key=True),  # "" when the manager names none
    sa.Index("ix_host_packages_name_version", "name", "version", "agent_id"),
)

host_updates = sa.Table(  # pending updates of the newest patches result
    "host_updates", metadata,
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("arch", sa.String(32), primary_key=True),
    sa.Column("installed", sa.String(256)),
    sa.Column("candidate", sa.String(256)),
    sa.Column("security", sa.Boolean, nullable=False),
    sa.Index("ix_host_updates_name", "name", "security", "agent_id"),
    sa.Index("ix_host_updates_security", "security", "agent_id"),
)

host_addresses = sa.Table(  # the newest inventory's addresses (no loopback, no link-local)
    "host_addresses", metadata,
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("family", sa.String(8), nullable=False),  # ipv4 | ipv6
    sa.Index("ix_host_addresses_address", "address"),
)

host_users = sa.Table(  # local accounts that can log in, or admins, of the newest accounts
    "host_users", metadata,
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("admin", sa.Boolean, nullable=False),
    sa.Index("ix_host_users_name", "name"),
)

host_fact_digests = sa.Table(  # what each host's facts were built from: unchanged, not rewritten
    "host_fact_digests", metadata,
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # packages | updates | addresses | users
    sa.Column("digest", sa.String(64), nullable=False),
)

sa.Index("ix_agents_hostname_lower", sa.func.lower(agents.c.hostname), agents.c.id,
         postgresql_include=["hostname"])  # PostgreSQL: read from the index alone (0018)

# --- Finding counts, overview indexes (migration 0018) ---------------------------------

finding_counts = sa.Table(  # signed deltas per (group, state, level), appended by triggers
    "finding_counts", metadata,  # on findings, folded by findingcounts.compact
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("group_name", sa.String(128)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("n", sa.BigInteger, nullable=False),
)

sa.Index("ix_agents_status_seen", agents.c.status, agents.c.last_seen_at)  # silent hosts
sa.Index("ix_findings_rule_spread", findings.c.rule_id, findings.c.spread, findings.c.state)
sa.Index("ix_findings_rule_agent", findings.c.rule_id, findings.c.agent_id, findings.c.state)
sa.Index("ix_agents_status_os", agents.c.status, agents.c.os_family, agents.c.os_distro,
         agents.c.os_name)  # the overview's OS families, from the index alone
