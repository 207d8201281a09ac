"""Audit log (hash chain + head), viewer groups, sessions, login rate limit, host indexes.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "seq"])
    op.create_index("ix_audit_log_action", "audit_log", ["action", "seq"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    op.create_table(
        "user_groups",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("group_name", sa.String(128), primary_key=True),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("ip", sa.String(64)),
    )
    op.create_index("ix_web_sessions_user", "web_sessions", ["user_id"])
    op.create_table(
        "login_attempts",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_login_attempts_ip_at", "login_attempts", ["ip", "at"])
    op.create_index("ix_agents_group_hostname", "agents", ["group_name", "hostname"])
    op.create_index("ix_agents_os_name", "agents", ["os_name"])
    op.create_index("ix_agents_last_report", "agents", ["last_report_at"])
    op.create_index("ix_agents_status", "agents", ["status"])
    op.create_index("ix_check_results_started", "check_results", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_check_results_started", table_name="check_results")
    for name in ("ix_agents_status", "ix_agents_last_report", "ix_agents_os_name",
                 "ix_agents_group_hostname"):
        op.drop_index(name, table_name="agents")
    op.drop_table("login_attempts")
    op.drop_table("web_sessions")
    op.drop_table("user_groups")
    op.drop_table("audit_head")
    op.drop_table("audit_log")
