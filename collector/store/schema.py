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
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("jws", sa.Text, nullable=False),
    sa.UniqueConstraint("agent_id", "report_id", name="uq_reports_agent_report"),
    sa.Index("ix_reports_agent_created", "agent_id", "created_at"),
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
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("error", sa.Text),
    sa.Index("ix_check_results_agent_check", "agent_id", "check_name", "id"),
    sa.Index("ix_check_results_report", "report_pk"),
)

host_latest = sa.Table(
    "host_latest", metadata,
    sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
    sa.Column("check_name", sa.String(64), primary_key=True),
    sa.Column("result_id", BigId, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
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
)
