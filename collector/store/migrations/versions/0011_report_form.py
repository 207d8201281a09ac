"""Report form (issue 20): display names, the report's texts, frozen export files,
the incident register, and the compliance rollup the overview reads.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("display_name", sa.String(64)))
    with op.batch_alter_table("self_reports") as batch:
        batch.add_column(sa.Column("addressee", sa.String(255), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("narrative", sa.JSON))
    op.create_table(
        "self_report_files",
        sa.Column("report_id", sa.Integer, sa.ForeignKey("self_reports.id"), primary_key=True),
        sa.Column("fmt", sa.String(8), primary_key=True),
        sa.Column("lang", sa.String(8), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
    )
    op.create_index("ix_incidents_occurred", "incidents", ["occurred_at"])
    op.create_table(
        "rollup_compliance",
        sa.Column("window", sa.String(64), primary_key=True),
        sa.Column("group_name", sa.String(128), primary_key=True),
        sa.Column("area", sa.String(64), primary_key=True),
        sa.Column("hosts", sa.Integer, nullable=False),
        sa.Column("checked", sa.Integer, nullable=False),
        sa.Column("compliant", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rollup_compliance")
    op.drop_index("ix_incidents_occurred", table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("self_report_files")
    with op.batch_alter_table("self_reports") as batch:
        batch.drop_column("narrative")
        batch.drop_column("addressee")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("display_name")
