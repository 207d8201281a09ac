"""Initial tables: agents, enrollment tokens, reports (evidence), check results, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kid", sa.String(64), nullable=False, unique=True),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("machine_id", sa.String(128)),
        sa.Column("group_name", sa.String(128)),
        sa.Column("token_id", sa.Integer),
        sa.Column("agent_version", sa.String(64)),
        sa.Column("os_name", sa.String(255)),
        sa.Column("enrolled_at", TS, nullable=False),
        sa.Column("approved_at", TS),
        sa.Column("revoked_at", TS),
        sa.Column("last_seen_at", TS),
        sa.Column("last_report_at", TS),
        sa.Column("last_seq", sa.BigInteger),
        sa.Column("worst_status", sa.String(16)),
    )
    op.create_index("ix_agents_hostname", "agents", ["hostname"])
    op.create_table(
        "enroll_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("max_uses", sa.Integer, nullable=False),
        sa.Column("uses", sa.Integer, nullable=False, server_default="0"),
        sa.Column("group_name", sa.String(128)),
        sa.Column("auto_approve", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "reports",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), nullable=False),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("schedule", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("jws", sa.Text, nullable=False),
        sa.UniqueConstraint("agent_id", "report_id", name="uq_reports_agent_report"),
    )
    op.create_index("ix_reports_agent_created", "reports", ["agent_id", "created_at"])
    op.create_table(
        "check_results",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("report_pk", BIG, sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("agent_id", sa.String(36), nullable=False),
        sa.Column("check_name", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_check_results_agent_check", "check_results",
                    ["agent_id", "check_name", "id"])
    op.create_index("ix_check_results_report", "check_results", ["report_pk"])
    op.create_table(
        "host_latest",
        sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
        sa.Column("check_name", sa.String(64), primary_key=True),
        sa.Column("result_id", BIG, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("api_token_hash", sa.String(64), unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", TS),
        sa.Column("last_login_at", TS),
    )


def downgrade() -> None:
    for table in ("users", "host_latest", "check_results", "reports", "enroll_tokens",
                  "agents"):
        op.drop_table(table)
