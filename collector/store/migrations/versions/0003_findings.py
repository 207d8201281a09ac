"""Policy versions, host profiles, baselines, findings register, waivers, outbox, leases.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version", sa.Integer, nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("yaml_text", sa.Text, nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("loaded_by", sa.String(64), nullable=False),
        sa.Column("loaded_at", TS, nullable=False),
    )
    op.create_table(
        "host_profiles",
        sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
        sa.Column("critical", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("owner", sa.String(64)),
        sa.Column("backup_owner", sa.String(64)),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "baselines",
        sa.Column("agent_id", sa.String(36), sa.ForeignKey("agents.id"), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("taken_at", TS, nullable=False),
        sa.Column("approved_by", sa.String(64), nullable=False),
        sa.Column("result_id", sa.BigInteger),
    )
    op.create_table(
        "findings",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
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
        sa.Column("deadline", TS),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("state_changed_at", TS, nullable=False),
        sa.Column("repeat_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("last_result_id", sa.BigInteger),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("reminded_at", TS),
        sa.Column("escalated_at", TS),
    )
    op.create_index("ix_findings_agent_rule", "findings", ["agent_id", "rule_id"])
    op.create_index("ix_findings_rule_state", "findings", ["rule_id", "state"])
    op.create_index("ix_findings_state_deadline", "findings", ["state", "deadline"])
    op.create_table(
        "finding_events",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("finding_id", sa.BigInteger, sa.ForeignKey("findings.id"), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16)),
        sa.Column("note", sa.Text),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_finding_events_finding", "finding_events", ["finding_id", "id"])
    op.create_table(
        "waivers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("finding_id", sa.BigInteger, sa.ForeignKey("findings.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", TS),
    )
    op.create_index("ix_waivers_state_expires", "waivers", ["state", "expires_at"])
    op.create_index("ix_waivers_finding", "waivers", ["finding_id"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_table(
        "job_runs",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("last_run_at", TS, nullable=False),
        sa.Column("runs", sa.Integer, nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("dedup_key", sa.String(200), nullable=False, unique=True),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("finding_id", sa.BigInteger),
        sa.Column("event_id", sa.BigInteger),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_until", TS),
        sa.Column("sent_at", TS),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_outbox_state_next", "outbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    for name in ("outbox", "job_runs", "leases", "waivers", "finding_events", "findings",
                 "baselines", "host_profiles", "policy_versions"):
        op.drop_table(name)
